"""Magento invoices, orders and credit memos -> Sage postings split by nominal and tax code.

Each Sage document is one Magento document. Its splits are grouped by purpose (goods, carriage,
discount, adjustments), nominal code and tax code. Magento's own tax amounts are kept exactly,
never recomputed from a rate. Then the document is balanced: the splits' tax must equal the
document's tax total and net + tax its grand total, to the cent. A rounding difference of at most
a cent per line is absorbed into the largest split (and noted); anything larger holds the
document with the difference spelled out, because it means data sagesync does not understand.
The message names the amounts Magento sent outside the known fields (`extra_amounts`, such as
an extension's cash-on-delivery fee) and how to map one to a nominal.

Money Magento takes off the grand total as a payment (Adobe Commerce gift cards, store credit,
reward points) is not revenue: the goods stay at their full value and the payment is a split on
the recipe's payment nominal, so the document still totals Magento's grand total. A mapped extra
amount (`[mapping] extra_amounts`) is a split of its own.

Sage 50 receives positive amounts only, unless `[sage] negative_amounts = true`: a split that
takes money off its document (a credit memo's adjustment fee, a payment) is then posted as a
document of the other type, `<reference>-FEE` / `-GIFT` / `-CREDIT` / `-REWARD`, right after
its document's rows and in the same ledger record. The document's type total minus the other
type's total is Magento's grand total, to the cent.

A document whose total and tax are zero with nothing else on it (a 100 % coupon on goods and
shipping) is skipped with `skip_reason` under `[mapping] zero_total_documents = "skip"`: Sage
has nothing to book from rows of 0.00. With "post" (discount = "nominal") the goods and their
equal discount are posted.

Posting the order currency of a foreign-currency order (`[sage] currency = "order"`) fills
`exchange_rate` with Magento's `base_to_order_rate` (order-currency units per base unit, the
way Sage 50 states a rate: currency per pound sterling); without a rate the document is held.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
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
    "gift_card": "gift card",
    "store_credit": "store credit",
    "reward_points": "reward points",
    "extra": "extra charge",
}
KIND_LABEL = {"invoice": "Inv", "creditmemo": "Cr", "order": "Ord"}
# Payments Magento takes off the grand total (positive amounts), by [mapping] payment_nominals kind.
PAYMENT_FIELDS = {"gift_card": "gift_cards_amount", "store_credit": "customer_balance_amount",
                  "reward_points": "reward_currency_amount"}
# Splits that take money off their document: with positive amounts only, each becomes a
# document of the other type whose reference is the document's plus this suffix.
CONTRA_SUFFIX = {"adjustment_fee": "FEE", "gift_card": "GIFT", "store_credit": "CREDIT",
                 "reward_points": "REWARD"}
NEGATIVE_PURPOSES = ("discount", *CONTRA_SUFFIX)  # negative only with negative_amounts = true
OTHER_TYPE = {"SI": "SC", "SC": "SI"}
_LOCATIONS = ("extension_attributes.", "items.")


class HoldDocument(Exception):
    """The document cannot be posted as it is; the message says why, for a person."""


@dataclass
class Split:
    purpose: str
    nominal_code: str
    tax_code: str
    net_amount: Decimal = ZERO
    tax_amount: Decimal = ZERO
    # Set when the split posts as its own document of the other type (positive amounts only).
    transaction_type: str | None = None
    reference: str | None = None
    label: str | None = None  # the Details wording, when the purpose alone is too vague


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
    exchange_rate: Decimal | None = None  # order-currency units per base unit, for Sage
    # Nothing for Sage to book (a zero total): never rendered, but accounted for in the ledger.
    skip_reason: str | None = None

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
    reference_prefixes: Mapping[int, str] = field(default_factory=dict)  # store id -> prefix
    negative_amounts: bool = False  # [sage] negative_amounts

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

    def build(self, kind: str, doc: Row, doc_items: Sequence[Row], order: Row,
              order_items: Sequence[Row], account_ref: str) -> SageDocument:
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
            reference=self.reference_prefixes.get(doc.get("store_id") or 0, "") + increment,
            extra_reference=order_increment if kind != "order" else "",
            details=f"Magento {'credit memo' if kind == 'creditmemo' else kind} {increment}",
            currency_code=currency, grand_total=to_cents(self.amount(doc, "grand_total")),
            content_hash=doc.get("content_hash") or "")
        try:
            if created is None:
                raise HoldDocument("no created_at date")
            document.exchange_rate = self._exchange_rate(doc, order, document)
            extras = _Extras.of(doc, self.currency == "base",
                                order.get("base_currency_code") == order.get(
                                    "order_currency_code"))
            if self._zero_total(kind, doc, extras) and \
                    self.mapping.zero_total_documents == "skip":
                return self._skip(document, "its total is zero (a 100 % discount, or free items)"
                                  ' and [mapping] zero_total_documents = "skip"')
            document.splits = self._splits(kind, doc, doc_items, order_items)
            document.splits += self._payments_and_extras(extras)
            self._balance(document, doc, len(doc_items), extras)
            self._signs(document)
            if not document.splits:
                return self._skip(document, "every amount is zero: Sage has nothing to book")
        except HoldDocument as held:
            document.hold_reason = str(held)
        return document

    def _skip(self, document: SageDocument, why: str) -> SageDocument:
        document.splits = []
        document.skip_reason = why
        document.warnings.append(f"not posted: {why}")
        return document

    def _exchange_rate(self, doc: Row, order: Row, document: SageDocument) -> Decimal | None:
        """The rate Sage needs when it gets foreign amounts; never post them without one."""
        base, ordered = order.get("base_currency_code"), order.get("order_currency_code")
        if self.currency != "order" or not base or not ordered or base == ordered:
            return None
        rate = doc.get("base_to_order_rate") or order.get("base_to_order_rate")
        if rate is None or rate <= 0:
            raise HoldDocument(
                f"its amounts are in {ordered} ([sage] currency = \"order\") but Magento gives "
                f"no base_to_order_rate to {base}: Sage would book them as {base}. Export it "
                'again, or post base amounts ([sage] currency = "base")')
        rate = rate.normalize()
        if rate == 1:
            document.warnings.append(f"Magento's exchange rate from {base} to {ordered} is 1: "
                                     "Sage books the amounts at that rate; check the store's "
                                     "currency rates")
        return rate

    def _zero_total(self, kind: str, doc: Row, extras: _Extras) -> bool:
        """Nothing moves: no total, no tax, no adjustment, no payment or extra amount."""
        adjustments = ("adjustment_positive", "adjustment_negative") if kind == "creditmemo" \
            else ()
        return to_cents(self.amount(doc, "grand_total")) == ZERO and \
            to_cents(self.amount(doc, "tax_amount")) == ZERO and \
            all(self.amount(doc, name) == ZERO for name in adjustments) and not extras.found

    def _payments_and_extras(self, extras: _Extras) -> list[Split]:
        """Payments off the total (negative, on their nominal) and the recipe's extra amounts."""
        splits = []
        for kind, name in PAYMENT_FIELDS.items():
            found = extras.take(name)
            if found is None:
                continue
            where, value = found
            nominal = self.mapping.payment_nominals.get(kind)
            if nominal is None:
                raise HoldDocument(
                    f"{PURPOSE_LABEL[kind]} paid {to_cents(value)} of it ({where}): set [mapping] "
                    f'payment_nominals = {{ {kind} = "<nominal>" }} to the nominal that carries '
                    f"{PURPOSE_LABEL[kind]} balances")
            splits.append(Split(kind, nominal, self.mapping.payment_tax_code, -value, ZERO))
        for name, (nominal, code) in self.mapping.extra_amounts.items():
            found = extras.take(name)
            if found is None:
                continue
            where, value = found
            tax_found = extras.take(where.removesuffix("_amount") + "_tax_amount") \
                if where.endswith("_amount") else None
            tax = tax_found[1] if tax_found else ZERO
            code = code or self.tax_code(self._rate_of(value, tax, where), where)
            label = where.split(".")[-1].removesuffix("_amount").replace("_", " ")
            splits.append(Split("extra", nominal, code, value, tax, label=label))
        return splits

    def _splits(self, kind: str, doc: Row, doc_items: Sequence[Row],
                order_items: Sequence[Row]) -> list[Split]:
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
        return [s for s in splits.values() if s.net_amount != ZERO or s.tax_amount != ZERO]

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
        code = self.tax_code(self._rate_of(net, shipping_tax, "shipping"), "shipping")
        if self.mapping.discount == "net" or shipping_discount == ZERO:
            add("carriage", self.mapping.carriage_nominal, code, net, shipping_tax)
        else:
            add("carriage", self.mapping.carriage_nominal, code, shipping, shipping_tax)
            add("discount", self.mapping.discount_nominal, code,
                -(shipping_discount - compensation), ZERO)

    def _rate_of(self, net: Decimal, tax: Decimal, what: str) -> Decimal | None:
        """Magento gives shipping (or an extra's) tax but no rate: find the recipe rate."""
        if tax == ZERO:
            return Decimal(0)
        for rate in sorted(self.mapping.tax_codes, reverse=True):
            if rate and abs(to_cents(net * rate / 100) - tax) <= CENT:
                return rate
        raise HoldDocument(f"{what} tax {tax} on {to_cents(net)} matches no rate in "
                           "[mapping] tax_codes")

    def _balance(self, document: SageDocument, doc: Row, line_count: int,
                 extras: _Extras) -> None:
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
            if abs(difference) > tolerance or not splits:
                have = total(getattr(s, column) for s in splits)
                label = "tax" if column == "tax_amount" else "net"
                raise HoldDocument(
                    f"does not balance: the lines' {label} is {have}, Magento's document says "
                    f"{target} (difference {difference}); grand total {document.grand_total}. "
                    + extras.explain(difference))
            revenue = [s for s in splits if s.purpose in ("goods", "carriage")] or splits
            largest = max(revenue, key=lambda s: (abs(s.net_amount), s.purpose == "goods"))
            setattr(largest, column, getattr(largest, column) + difference)
            document.warnings.append(f"rounding difference {difference} in {column.split('_')[0]} "
                                     f"put on nominal {largest.nominal_code}")

    def _signs(self, document: SageDocument) -> None:
        """Positive amounts only (the default): a split that takes money off its document
        becomes a document of the other type; any other negative split holds the document."""
        for split in document.splits:
            if split.purpose in CONTRA_SUFFIX and not self.negative_amounts \
                    and split.net_amount <= ZERO and split.tax_amount <= ZERO:
                split.net_amount, split.tax_amount = -split.net_amount, -split.tax_amount
                split.transaction_type = OTHER_TYPE[document.transaction_type]
                split.reference = f"{document.reference}-{CONTRA_SUFFIX[split.purpose]}"
        allowed = NEGATIVE_PURPOSES if self.negative_amounts else ()
        for split in document.splits:
            if (split.net_amount < ZERO or split.tax_amount < ZERO) and \
                    split.purpose not in allowed:
                raise HoldDocument(
                    f"the {PURPOSE_LABEL[split.purpose]} split on nominal {split.nominal_code} is "
                    f"negative (net {split.net_amount}, tax {split.tax_amount}): Sage 50 gets "
                    "positive amounts" + ("" if self.negative_amounts else
                                          " unless [sage] negative_amounts = true"))


def split_details(document: SageDocument, split: Split) -> str:
    """The Details text of one split row: short, and traceable back to Magento."""
    return f"{KIND_LABEL[document.entity_type]} {document.increment_id} " \
           f"{split.label or PURPOSE_LABEL[split.purpose]}"


def document_row(d: SageDocument) -> dict[str, Any]:
    """The row of the checkpoint's `documents` table (model.schemas.SAGE_DOCUMENTS)."""
    return {
        "document_key": d.document_key, "entity_type": d.entity_type, "entity_id": d.entity_id,
        "store_id": d.store_id, "order_id": d.order_id,
        "order_increment_id": d.order_increment_id, "increment_id": d.increment_id,
        "transaction_type": d.transaction_type, "account_ref": d.account_ref,
        "posting_date": d.posting_date, "reference": d.reference,
        "extra_reference": d.extra_reference, "details": d.details,
        "currency_code": d.currency_code, "grand_total": d.grand_total,
        "exchange_rate": d.exchange_rate, "content_hash": d.content_hash,
        "status": "held" if d.hold_reason else "skipped" if d.skip_reason else "ready",
        "hold_reason": d.hold_reason, "skip_reason": d.skip_reason,
        "warnings": "\n".join(d.warnings) or None,
    }


def split_rows(d: SageDocument, department: int | None) -> list[dict[str, Any]]:
    """The rows of the checkpoint's `splits` table for one document (none unless ready)."""
    if d.hold_reason or d.skip_reason:
        return []
    return [{"document_key": d.document_key, "split_no": n, "nominal_code": s.nominal_code,
             "tax_code": s.tax_code, "department": department, "details": split_details(d, s),
             "net_amount": s.net_amount, "tax_amount": s.tax_amount, "purpose": s.purpose,
             "transaction_type": s.transaction_type, "reference": s.reference}
            for n, s in enumerate(d.splits, start=1)]


def _location(name: str) -> tuple[str | None, str]:
    """("extension_attributes." or "items." or "" when named, else None; the field name)."""
    for location in _LOCATIONS:
        if name.startswith(location):
            return location, name[len(location):]
    return None, name


def _base_marked(name: str) -> tuple[str, bool]:
    """The name without its base-currency marker (base_x, gw_base_price); whether it had one."""
    if name.startswith("base_"):
        return name[5:], True
    if "_base_" in name:
        return name.replace("_base_", "_", 1), True
    return name, False


@dataclass
class _Extras:
    """A document's amounts outside the posted fields (`extra_amounts`), in the posted currency."""

    found: dict[tuple[str, str], dict[bool, Decimal]]  # (location, field) -> {is_base: amount}
    base: bool  # posting base-currency amounts
    same_currency: bool  # order currency == base currency: either amount will do
    used: set[str] = field(default_factory=set)

    @classmethod
    def of(cls, doc: Row, base: bool, same_currency: bool) -> _Extras:
        found: dict[tuple[str, str], dict[bool, Decimal]] = {}
        for name, text in json.loads(doc.get("extra_amounts") or "{}").items():
            location, field_name = _location(name)
            stem, is_base = _base_marked(field_name)
            found.setdefault((location or "", stem), {})[is_base] = Decimal(text)
        return cls(found, base, same_currency)

    def _value(self, key: tuple[str, str]) -> Decimal | None:
        values = self.found[key]
        value = values.get(self.base)
        if value is None and self.same_currency:
            value = values.get(not self.base)
        return value

    def take(self, name: str) -> tuple[str, Decimal] | None:
        """(where Magento put it, amount) of a field the recipe names, marked as posted."""
        location, field_name = _location(name)
        stem = _base_marked(field_name)[0]
        for key in self.found:
            where = key[0] + key[1]
            if key[1] == stem and location in (None, key[0]) and where not in self.used:
                value = self._value(key)
                if value is None:
                    raise HoldDocument(
                        f"{where} is only given in the {'order' if self.base else 'base'} "
                        "currency: sagesync cannot post it with the other amounts")
                self.used.add(where)
                return where, value
        return None

    def explain(self, difference: Decimal) -> str:
        """What Magento sent that sagesync does not post, and how to map it."""
        unused = [(key[0] + key[1], value) for key in self.found
                  if key[0] + key[1] not in self.used and (value := self._value(key))]
        if not unused:
            return ("Nothing Magento sent outside the posted fields explains it (no extra "
                    "amount in extension_attributes, no gift card, store credit or WEEE): check "
                    "the document in Magento, and map the field of any amount an extension adds "
                    "in [mapping] extra_amounts")
        listed = ", ".join(f"{where} {value.normalize():f}"
                           + (" (the difference)" if to_cents(value) == abs(difference) else "")
                           for where, value in unused)
        example = _location(unused[0][0])[1]
        return (f"Magento sends amounts sagesync does not post: {listed}. Map the one that "
                f'belongs in the total to a nominal: [mapping] extra_amounts = {{ "{example}" = '
                '"<nominal>" }')
