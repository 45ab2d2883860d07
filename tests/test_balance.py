"""Every Sage document balances to its Magento grand total, to the cent, for any order.

Orders, invoices and credit memos are drawn by hypothesis (composite products, discounts,
several VAT rates, tax-inclusive prices, adjustments), serialised as Magento would serve them,
decoded by the real export code and transformed by the real document builder.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

import msgspec
import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sagesync.magento.entities import PAGE_DECODERS
from sagesync.magento.tables import MagentoTableBuilder
from sagesync.model.money import ZERO
from sagesync.recipe import MappingSettings
from sagesync.testing.factory import build_creditmemo, build_invoice, build_order, search_page
from sagesync.transform.documents import DocumentBuilder, SageDocument
from sagesync.transform.mapping import NominalMap
from sagesync.transform.rows import posting_rows
from tests.strategies import creditmemo_args, order_specs

TAX_CODES = {Decimal(20): "T1", Decimal(5): "T5", Decimal(0): "T0", Decimal("17.5"): "T3"}
WHEN = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def tables_of(entity: str, items: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Items -> the export tables' rows, through the JSON bytes Magento would send."""
    body = msgspec.json.encode(search_page(items, 1, 100, len(items)))
    builder = MagentoTableBuilder()
    for item in PAGE_DECODERS[entity].decode(body).items:
        builder.add(entity, item)
    return {name: posting_rows(pa.Table.from_batches([batch]))
            for name, batch in builder.take().items()}


def make_builder(discount: str, currency: str = "base", **mapping: Any) -> DocumentBuilder:
    """Discounts as their own splits are negative: that mode needs negative amounts allowed."""
    settings = MappingSettings(tax_codes=TAX_CODES, discount=discount, **mapping)
    return DocumentBuilder(settings, NominalMap(default="4000", by_prefix=[("MH", "4010")]),
                           ZoneInfo("Europe/London"), currency,
                           negative_amounts=discount == "nominal")


def signed(document: SageDocument, column: str) -> Decimal:
    """What Sage books for the document: its own rows minus rows posted as the other type."""
    return sum((getattr(s, column) * (-1 if s.transaction_type not in (
        None, document.transaction_type) else 1) for s in document.splits), ZERO)


def assert_balanced(document: SageDocument, magento: dict[str, Any], prefix: str = "base_"
                    ) -> None:
    assert document.hold_reason is None, document.hold_reason
    splits = document.splits
    grand = Decimal(str(magento[f"{prefix}grand_total"])).quantize(Decimal("0.01"))
    tax = Decimal(str(magento.get(f"{prefix}tax_amount", 0))).quantize(Decimal("0.01"))
    assert signed(document, "net_amount") + signed(document, "tax_amount") == grand
    assert signed(document, "tax_amount") == tax
    assert all(s.net_amount == s.net_amount.quantize(Decimal("0.01")) for s in splits)
    assert all(s.net_amount >= 0 for s in splits if s.purpose in ("goods", "carriage"))
    # Magento's own arithmetic is reproduced: no penny had to be moved to make it balance.
    assert not [w for w in document.warnings if w.startswith("rounding")]


class Built(NamedTuple):
    kind: str
    document: SageDocument
    magento: dict[str, Any]  # the Magento JSON it was built from
    lines: list[dict[str, Any]]  # its export rows (amounts in units)
    order_items: list[dict[str, Any]]


def build_drawn(data: st.DataObject, discount: str) -> list[Built]:
    """A drawn order, its invoice and a drawn credit memo, each built as a Sage document."""
    order = build_order(data.draw(order_specs(invoiced=True)))
    invoice = build_invoice(order, 1, "000000001", WHEN)
    memo = build_creditmemo(order, 1, "000000001", WHEN, invoice_id=1,
                            **data.draw(creditmemo_args(order)))
    builder = make_builder(discount)
    exported = tables_of("orders", [order])
    order_row, items = exported["orders"][0], exported["order_items"]
    built = []
    for kind, entity, magento in (("invoice", "invoices", invoice),
                                  ("creditmemo", "creditmemos", memo), ("order", "orders", order)):
        rows = tables_of(entity, [magento]) if kind != "order" else exported
        lines = items if kind == "order" else rows.get(f"{kind}_items", [])
        document = builder.build(kind, rows[entity][0], lines, order_row, items, "WEBSALES")
        built.append(Built(kind, document, magento, lines, items))
    return built


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data(), st.sampled_from(["net", "nominal"]))
def test_invoice_order_and_creditmemo_balance(data: st.DataObject, discount: str) -> None:
    for kind, document, magento, _, _ in build_drawn(data, discount):
        assert_balanced(document, magento)
        assert document.transaction_type == ("SC" if kind == "creditmemo" else "SI")


@settings(max_examples=10, deadline=None)
@given(order_specs(invoiced=True))
def test_a_document_that_cannot_balance_is_held_with_the_difference(spec: Any) -> None:
    order = build_order(spec)
    invoice = build_invoice(order, 1, "000000001", WHEN)
    invoice["base_grand_total"] = float(Decimal(str(invoice["base_grand_total"])) + 1)
    exported = tables_of("orders", [order])
    rows = tables_of("invoices", [invoice])
    document = make_builder("net").build("invoice", rows["invoices"][0], rows["invoice_items"],
                                         exported["orders"][0], exported["order_items"], "W")
    assert document.hold is not None and document.hold.code == "does_not_balance"
    assert document.hold.params["column"] == "net" and document.hold.params["difference"] == \
        "1.00"
    assert document.hold_reason == document.hold.message
