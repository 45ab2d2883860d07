"""What the import checks of a document's amounts before Sage sees them, and the totals it
reports: per window of documents, in Arrow.

Sage refuses or misbooks rows with an amount too large for it, a negative amount the recipe or
the product does not allow, a negative total of one transaction type, or rows that do not make
the document's total. A window's splits are checked column-wise; only a document that fails a
check is read into Python, for `amount_problem` to name the cause (the two are held equal by
tests/test_amount_checks.py).
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from sagesync.model import holds
from sagesync.model.holds import Hold
from sagesync.model.money import ZERO
from sagesync.recipe import SageSettings
from sagesync.sage import products
from sagesync.sage.products import Capabilities
from sagesync.transform.documents import NEGATIVE_PURPOSES
from sagesync.transform.rows import cents_of_money

# What the amount checks read of each split (the renderer reads the columns).
SPLIT_FIELDS = ("document_key", "net_amount", "tax_amount", "purpose", "nominal_code",
                "transaction_type")
# Arrow scalars made once, typed: pyarrow infers an untyped one's type, which took some 100 µs
# a call (it tries to import dateutil, each time), per window.
_ZERO = pa.scalar(0, pa.int64())
_FALSE = pa.scalar(False, pa.bool_())
_NO_TYPE = pa.scalar("", pa.string())


def amount_problem(doc: dict[str, Any], splits: list[dict[str, Any]],
                   negative_amounts: bool, capabilities: Capabilities | None = None
                   ) -> Hold | None:
    """Why Sage would refuse or misbook these rows, or None: an amount too large, a negative
    amount the recipe or the product does not allow, a negative document total, or rows that
    do not make the total. The limits are the product's capabilities (default: the recipe's
    default product)."""
    caps = capabilities or products.get(SageSettings.product).capabilities
    max_amount = caps.max_amount
    negative_ok = negative_amounts and caps.negative_amounts
    allowed = _allowed(caps, negative_amounts)
    totals: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for split in splits:
        for column in ("net_amount", "tax_amount"):
            value: Decimal = split[column]
            if abs(value) > max_amount:
                return holds.amount_too_large(column=column.split("_")[0], amount=value,
                                              max_amount=max_amount)
            if value < ZERO and split.get("purpose") not in allowed:
                return holds.negative_amount(
                    column=column.split("_")[0], amount=value, nominal=split["nominal_code"],
                    recipe_can_allow=caps.negative_amounts and not negative_ok)
        totals[split.get("transaction_type") or doc["transaction_type"]] += \
            split["net_amount"] + split["tax_amount"]
    for kind, amount in sorted(totals.items()):
        if amount < ZERO:
            return holds.negative_total(transaction_type=kind, total=amount,
                                        types=caps.transaction_types)
    own = totals.pop(doc["transaction_type"], ZERO)
    posted = own - sum(totals.values(), ZERO)
    if doc.get("grand_total") is not None and posted != doc["grand_total"]:
        return holds.rows_do_not_make_total(rows_total=posted, total=doc["grand_total"])
    return None


def _allowed(caps: Capabilities, negative_amounts: bool) -> tuple[str, ...]:
    """Split purposes that may be negative: only under [sage] negative_amounts = true, where
    the product allows it, discounts (discount = "nominal"), a credit memo's fee and payments
    kept inside their document (NEGATIVE_PURPOSES); else what the product always allows."""
    return NEGATIVE_PURPOSES if negative_amounts and caps.negative_amounts \
        else caps.negative_purposes


class WindowAmounts:
    """A window's splits as the import reads them, checked column-wise: how many splits each
    document has and whether one of its amounts fails a check, in the documents' order (only
    such a document is read into Python, for `problem` to name the cause), and what each adds
    to the totals per transaction type (`booked`)."""

    def __init__(self, splits: pa.Table, documents: pa.Table, caps: Capabilities,
                 negative_amounts: bool, net_only: bool) -> None:
        self.splits, self.caps, self.negative_amounts = splits, caps, negative_amounts
        own_type = pc.take(documents["transaction_type"], pc.index_in(
            splits["document_key"], value_set=documents["document_key"]))
        given = splits["transaction_type"]
        kind = pc.if_else(pc.fill_null(pc.not_equal(given, _NO_TYPE), _FALSE), given, own_type)
        net, tax = cents_of_money(splits["net_amount"]), cents_of_money(splits["tax_amount"])
        limit = pa.scalar(int(caps.max_amount * 100), pa.int64())  # floor: flags a superset
        negative = pc.or_(pc.less(net, _ZERO), pc.less(tax, _ZERO))
        odd = pc.or_(pc.or_(pc.greater(pc.abs(net), limit), pc.greater(pc.abs(tax), limit)),
                     pc.and_(negative, pc.invert(pc.fill_null(pc.is_in(
                         splits["purpose"], value_set=pa.array(
                             _allowed(caps, negative_amounts), pa.string())), _FALSE))))
        own = pc.fill_null(pc.equal(kind, own_type), _FALSE)
        by_kind = pa.table({"document_key": splits["document_key"], "kind": kind, "own": own,
                            "total": pc.add(net, tax),
                            "booked": net if net_only else pc.add(net, tax),
                            "odd": odd}).group_by(
            ["document_key", "kind", "own"], use_threads=False).aggregate(
            [("total", "sum"), ("booked", "sum"), ("odd", "any"), ([], "count_all")])
        #: document_key, kind, booked (cents): a document's rows per transaction type
        self.booked = pa.table({"document_key": by_kind["document_key"],
                                "kind": by_kind["kind"], "booked": by_kind["booked_sum"]})
        total = by_kind["total_sum"]
        by_document = pa.table({
            "document_key": by_kind["document_key"], "count": by_kind["count_all"],
            "posted": pc.if_else(by_kind["own"], total, pc.negate(total)),
            "odd": pc.or_(by_kind["odd_any"], pc.less(total, _ZERO))}).group_by(
            "document_key", use_threads=False).aggregate(
            [("count", "sum"), ("posted", "sum"), ("odd", "any")])
        at = pc.index_in(documents["document_key"], value_set=by_document["document_key"])
        #: how many splits each document has
        self.count: list[int] = pc.fill_null(pc.take(by_document["count_sum"], at),
                                             _ZERO).to_pylist()
        grand = cents_of_money(documents["grand_total"])
        posted = pc.fill_null(pc.take(by_document["posted_sum"], at), _ZERO)
        #: whether a document fails a check: an amount Sage refuses, or rows that do not
        #: make its total
        self.flagged: list[bool] = pc.or_(
            pc.fill_null(pc.take(by_document["odd_any"], at), _FALSE),
            pc.fill_null(pc.not_equal(posted, grand), _FALSE)).to_pylist()

    def problem(self, doc: dict[str, Any]) -> Hold | None:
        """The cause Sage would refuse this flagged document's rows for, or None."""
        key = doc["document_key"]
        mine = self.splits.filter(pc.equal(self.splits["document_key"],
                                           pa.scalar(key, pa.string())))
        names = [n for n in SPLIT_FIELDS if n in mine.column_names]
        return amount_problem(doc, mine.select(names).to_pylist(), self.negative_amounts,
                              self.caps)
