"""Who a document bills, column-wise, against the rule written one order at a time."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
from hypothesis import given
from hypothesis import strategies as st

from sagesync.transform.billing import BILLING_FIELDS, billing_columns

_TEXT = st.one_of(st.none(), st.just(""), st.just(" "), st.text("ab \n,", max_size=6))
_NAMES = ("billing_company", "billing_firstname", "billing_lastname", "customer_firstname",
          "customer_lastname", "billing_street", "billing_city", "billing_region",
          "billing_postcode", "billing_country_id", "billing_telephone", "customer_email")


def billed(order: dict[str, Any] | None) -> dict[str, str | None]:
    """The rule, one order at a time: what each column must hold."""
    if order is None:
        return dict.fromkeys(BILLING_FIELDS)
    street = (order.get("billing_street") or "").split("\n")
    person = " ".join(filter(None, (order.get("billing_firstname")
                                    or order.get("customer_firstname"),
                                    order.get("billing_lastname")
                                    or order.get("customer_lastname"))))
    return {"customer_name": order.get("billing_company") or person or None,
            "billing_street1": street[0] or None,
            "billing_street2": ", ".join(street[1:]) or None,
            **{name: order.get(name) for name in BILLING_FIELDS[3:]}}


@given(st.lists(st.fixed_dictionaries({name: _TEXT for name in _NAMES}), max_size=6),
       st.lists(st.integers(0, 8), max_size=10), st.sets(st.sampled_from(_NAMES)))
def test_each_column_is_the_rule_for_its_order(orders: list[dict[str, Any]],
                                               wanted: list[int], lacking: set[str]) -> None:
    """Any mix of null, empty and multi-line texts, documents whose order is not in the slice
    (ids past the orders), columns an older export lacks, and chunked or empty tables."""
    rows = [{"entity_id": n, **{k: v for k, v in order.items() if k not in lacking}}
            for n, order in enumerate(orders)]
    names = ["entity_id", *(n for n in _NAMES if n not in lacking)]
    schema = pa.schema([("entity_id", pa.int64()), *((n, pa.string()) for n in names[1:])])
    half = len(rows) // 2
    table = pa.concat_tables([pa.Table.from_pylist(part, schema=schema)
                              for part in (rows[:half], rows[half:])])
    columns = billing_columns(table, wanted)
    expected = [billed(rows[n] if n < len(rows) else None) for n in wanted]
    assert {name: columns[name].to_pylist() for name in BILLING_FIELDS} == \
        {name: [e[name] for e in expected] for name in BILLING_FIELDS}
