"""Magento invoices, orders and credit memos -> Sage postings split by nominal and tax code.

Each Sage document is one Magento document. Its splits are grouped by purpose (goods, carriage,
discount, adjustments), nominal code and tax code. Magento's own tax amounts are kept exactly,
never recomputed from a rate. Then the document is balanced: the splits' tax must equal the
document's tax total and net + tax its grand total, to the cent. A rounding difference of at most
a cent per line is absorbed into the largest split (and noted); anything larger holds the
document with the difference spelled out, because it means data sagesync does not understand.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sagesync.model.money import CENT, ZERO, to_cents, total
from sagesync.recipe import MappingSettings
from sagesync.transform.lines import money_item_ids, rate_of
from sagesync.transform.mapping import NominalMap

Row = Mapping[str, Any]

PURPOSE_LABEL = {
    "goods": "goods",
    "carriage": "carriage",
    "discount": "discount",
    "adjustment_refund": "adjustment refund",
    "adjustment_fee": "adjustment fee",
}
KIND_LABEL = {"invoice": "Inv", "creditmemo": "Cr", "order": "Ord"}


class HoldDocument(Exception):
    """The document cannot be posted as it is; the message says why, for a person."""


@dataclass
class Split:
    purpose: str
    nominal_code: str
    tax_code: str
    net_amount: Decimal = ZERO
    tax_amount: Decimal = ZERO


@dataclass
class SageDocument:
    """One posting: header facts plus its splits, or the reason it is held."""

    entity_type: str
    entity_id: int
    store_id: int
    order_id: int
    order_increment_id: str
    increment_id: str
    transaction_type: str
    account_ref: str
    posting_date: date | None
    reference: str
    extra_reference: str
    details: str
    currency_code: str
    grand_total: Decimal
    content_hash: str
    splits: list[Split] = field(default_factory=list)
    hold_reason: str | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def document_key(self) -> str:
        return f"{self.entity_type}:{self.entity_id}@{self.store_id}"


@dataclass
class DocumentBuilder:
    """Holds the recipe's mapping so each document is built the same way."""

    mapping: MappingSettings
    nominals: NominalMap
    zone: ZoneInfo
    currency: str  # "base" or "order"

    def amount(self, row: Row, name: str) -> Decimal:
        value = row.get(("base_" if self.currency == "base" else "") + name)
        return ZERO if value is None else value

    def tax_code(self, rate: Decimal | None, where: str) -> str:
        if rate is None:
            raise HoldDocument(f"{where} has tax but no tax rate")
        code = self.mapping.tax_codes.get(rate.normalize())
        if code is None:
            known = ", ".join(f"{r.normalize():f}%" for r in sorted(self.mapping.tax_codes))
            raise HoldDocument(f"{where}: no Sage tax code for a {rate.normalize():f}% rate "
                               f"(add it to [mapping] tax_codes; known: {known})")
        return code

    def build(self, kind: str, doc: Row, doc_items: list[Row], order: Row,
              order_items: list[Row], account_ref: str) -> SageDocument:
        """Make the Sage document; a problem holds it instead of raising."""
        increment = doc.get("increment_id") or str(doc["entity_id"])
        order_increment = order.get("increment_id") or ""
        currency = order.get("base_currency_code" if self.currency == "base"
                             else "order_currency_code") or ""
        created: datetime | None = doc.get("created_at")
        document = SageDocument(
            entity_type=kind, entity_id=doc["entity_id"], store_id=doc.get("store_id") or 0,
            order_id=order["entity_id"], order_increment_id=order_increment,
            increment_id=increment, transaction_type="SC" if kind == "creditmemo" else "SI",
            account_ref=account_ref,
            posting_date=created.astimezone(self.zone).date() if created else None,
            reference=increment,
            extra_reference=order_increment if kind != "order" else "",
            details=f"Magento {'credit memo' if kind == 'creditmemo' else kind} {increment}",
            currency_code=currency, grand_total=to_cents(self.amount(doc, "grand_total")),
            content_hash=doc.get("content_hash") or "")
        try:
            if created is None:
                raise HoldDocument("no created_at date")
            document.splits = self._splits(kind, doc, doc_items, order_items)
            self._balance(document, doc, len(doc_items))
        except HoldDocument as held:
            document.hold_reason = str(held)
        return document

    def _splits(self, kind: str, doc: Row, doc_items: list[Row],
                order_items: list[Row]) -> list[Split]:
        splits: dict[tuple[str, str, str], Split] = {}

        def add(purpose: str, nominal: str, code: str, net: Decimal, tax: Decimal) -> None:
            split = splits.setdefault((purpose, nominal, code), Split(purpose, nominal, code))
            split.net_amount += net
            split.tax_amount += tax

        order_item_by_id = {item["item_id"]: item for item in order_items}
        counted = money_item_ids(order_items, self.mapping.bundle)
        netted = self.mapping.discount == "net"
        line_discounts = ZERO
        line_compensation = ZERO
        for line in doc_items:
            item_id = line["item_id"] if kind == "order" else line["order_item_id"]
            order_item = order_item_by_id.get(item_id)
            if order_item is None:
                raise HoldDocument(f"line {line.get('sku')!r} points at order item {item_id}, "
                                   "which is not in the order")
            if item_id not in counted:
                continue
            row_total = self.amount(line, "row_total")
            discount = self.amount(line, "discount_amount")
            compensation = self.amount(line, "discount_tax_compensation_amount")
            tax = self.amount(line, "tax_amount")
            line_discounts += discount
            line_compensation += compensation
            rate = rate_of(order_item)
            if rate is None and tax == ZERO:
                rate = Decimal(0)
            code = self.tax_code(rate, f"line {line.get('sku')!r}")
            nominal = self.nominals.nominal_for(order_item.get("sku") or line.get("sku"))
            if netted:
                add("goods", nominal, code, row_total - discount + compensation, tax)
            else:
                add("goods", nominal, code, row_total, tax)
                if discount != ZERO:
                    add("discount", self.mapping.discount_nominal, code,
                        -(discount - compensation), ZERO)

        self._carriage(doc, line_discounts, line_compensation, add)
        if kind == "creditmemo":
            refund = self.amount(doc, "adjustment_positive")
            fee = self.amount(doc, "adjustment_negative")
            if refund != ZERO:
                add("adjustment_refund", self.mapping.adjustment_nominal,
                    self.mapping.adjustment_tax_code, refund, ZERO)
            if fee != ZERO:
                add("adjustment_fee", self.mapping.adjustment_nominal,
                    self.mapping.adjustment_tax_code, -fee, ZERO)
        result = [s for s in splits.values() if s.net_amount != ZERO or s.tax_amount != ZERO]
        return result or [Split("goods", self.mapping.default_sales_nominal,
                                self.tax_code(Decimal(0), "an empty document"))]

    def _carriage(self, doc: Row, line_discounts: Decimal, line_compensation: Decimal,
                  add: Any) -> None:
        """Shipping as its own split on the carriage nominal, with its own tax code.

        Invoices and credit memos have no shipping-discount field: the header discount
        (negative) covers lines and shipping, so the shipping share is what the lines do not
        explain. Likewise their header discount tax compensation includes shipping's (Magento's
        Invoice/Creditmemo Total/Tax collectors), while an order's covers the lines only.
        """
        shipping = self.amount(doc, "shipping_amount")
        shipping_tax = self.amount(doc, "shipping_tax_amount")
        header_discount = -self.amount(doc, "discount_amount")
        shipping_discount = header_discount - line_discounts
        if abs(shipping_discount) <= CENT / 2:
            shipping_discount = ZERO
        compensation = self.amount(doc, "discount_tax_compensation_amount") - line_compensation
        if compensation == ZERO:
            compensation = self.amount(doc, "shipping_discount_tax_compensation_amount")
        net = shipping - shipping_discount + compensation
        if net == ZERO and shipping_tax == ZERO:
            return
        code = self.tax_code(self._shipping_rate(net, shipping_tax), "shipping")
        if self.mapping.discount == "net" or shipping_discount == ZERO:
            add("carriage", self.mapping.carriage_nominal, code, net, shipping_tax)
        else:
            add("carriage", self.mapping.carriage_nominal, code, shipping, shipping_tax)
            add("discount", self.mapping.discount_nominal, code,
                -(shipping_discount - compensation), ZERO)

    def _shipping_rate(self, net: Decimal, tax: Decimal) -> Decimal | None:
        """Magento gives shipping tax but no rate: find the recipe rate that explains it."""
        if tax == ZERO:
            return Decimal(0)
        for rate in sorted(self.mapping.tax_codes, reverse=True):
            if rate and abs(to_cents(net * rate / 100) - tax) <= CENT:
                return rate
        raise HoldDocument(f"shipping tax {tax} on {to_cents(net)} matches no rate in "
                           "[mapping] tax_codes")

    def _balance(self, document: SageDocument, doc: Row, line_count: int) -> None:
        splits = document.splits
        for split in splits:
            split.net_amount = to_cents(split.net_amount)
            split.tax_amount = to_cents(split.tax_amount)
        tolerance = CENT * max(1, line_count)
        tax_target = to_cents(self.amount(doc, "tax_amount"))
        net_target = document.grand_total - tax_target
        for column, target in (("tax_amount", tax_target), ("net_amount", net_target)):
            difference = target - total(getattr(s, column) for s in splits)
            if difference == ZERO:
                continue
            if abs(difference) > tolerance:
                have = total(getattr(s, column) for s in splits)
                label = "tax" if column == "tax_amount" else "net"
                raise HoldDocument(
                    f"does not balance: the lines' {label} is {have}, Magento's document says "
                    f"{target} (difference {difference}); grand total {document.grand_total}")
            largest = max(splits, key=lambda s: (abs(s.net_amount), s.purpose == "goods"))
            setattr(largest, column, getattr(largest, column) + difference)
            document.warnings.append(f"rounding difference {difference} in {column.split('_')[0]} "
                                     f"put on nominal {largest.nominal_code}")


def split_details(document: SageDocument, split: Split) -> str:
    """The Details text of one split row: short, and traceable back to Magento."""
    return f"{KIND_LABEL[document.entity_type]} {document.increment_id} " \
           f"{PURPOSE_LABEL[split.purpose]}"
