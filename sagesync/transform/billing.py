"""Who each document bills, column-wise: the `documents` columns taken from its order.

Formats that name the customer on each document (Sage 50 Canada keys customers by name and
prints this address) read it from the document, since the account record is written once and
only for new accounts. A slice's columns are made from its orders table in a few Arrow
operations, not from a dict per document (a tenth of the transform's own time when it was).
"""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa
import pyarrow.compute as pc

#: The documents columns of who a document bills.
BILLING_FIELDS = ("customer_name", "billing_street1", "billing_street2", "billing_city",
                  "billing_region", "billing_postcode", "billing_country_id",
                  "billing_telephone", "customer_email")
# taken as they are from the order (an empty text stays empty)
_AS_SENT = BILLING_FIELDS[3:]
# Arrow scalars made once: a Python value given to a compute function costs a search for
# NumPy on every call (transform.columnar._lit)
_EMPTY = pa.scalar("", pa.string())
_NO_TEXT = pa.scalar(None, pa.string())
_SPACE = pa.scalar(" ", pa.string())
_COMMA = pa.scalar(", ", pa.string())
_FALSE = pa.scalar(False)
_NOTHING = pa.array([], pa.string())


def billing_columns(orders: pa.Table,
                    order_ids: pa.Array | pa.ChunkedArray | Sequence[int | None]
                    ) -> dict[str, pa.Array]:
    """The billing columns of documents whose orders are `order_ids`, from `orders` (the
    slice's orders table; a document whose order it lacks, or a column an older export lacks,
    bills nobody: null):

    - customer_name: the billing company, else the billing first and last names (each the
      customer's where the address has none), else null;
    - billing_street1 and billing_street2: the street's first line, and the others joined
      with ", " (null where empty);
    - the rest as the order has them."""
    if not len(order_ids):  # a slice taken column-wise: its heads carry their own
        return {name: _NOTHING for name in BILLING_FIELDS}
    if not isinstance(order_ids, pa.Array | pa.ChunkedArray):
        order_ids = pa.array(order_ids, pa.int64())
    at = pc.index_in(order_ids, value_set=orders["entity_id"])
    count = len(at)

    def taken(name: str) -> pa.Array:
        if name not in orders.column_names:
            return pa.nulls(count, pa.string())
        column = orders[name]  # one array (a table with no chunk takes nothing)
        return pc.take(column.chunk(0) if column.num_chunks == 1 else column.combine_chunks(),
                       at)

    first = _given(_or(taken("billing_firstname"), taken("customer_firstname")))
    last = _given(_or(taken("billing_lastname"), taken("customer_lastname")))
    # both names, else the one given, else none (null_handling="skip" would say so in one
    # call, but pyarrow 26 leaves out the rows where both are null)
    person = pc.coalesce(pc.binary_join_element_wise(first, last, _SPACE), first, last, _EMPTY)
    lines = pc.split_pattern(pc.fill_null(taken("billing_street"), _EMPTY), "\n")
    columns = {
        "customer_name": _given(_or(taken("billing_company"), person)),
        "billing_street1": _given(pc.list_element(lines, 0)),
        "billing_street2": _given(pc.binary_join(pc.list_slice(lines, 1), _COMMA)),
    }
    columns.update({name: taken(name) for name in _AS_SENT})
    return columns


def _or(first: pa.Array, second: pa.Array) -> pa.Array:
    """Python's `first or second` for texts: the first unless null or empty."""
    return pc.if_else(pc.fill_null(pc.not_equal(first, _EMPTY), _FALSE), first, second)


def _given(text: pa.Array) -> pa.Array:
    """Null for an empty text (Python's `text or None`)."""
    return pc.if_else(pc.equal(text, _EMPTY), _NO_TEXT, text)
