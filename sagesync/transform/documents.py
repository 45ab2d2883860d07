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
from datetime import date, datetime, timedelta
from decimal import Decimal
from operator import attrgetter
from typing import Any
from zoneinfo import ZoneInfo

from sagesync.model import holds
from sagesync.model.holds import Held, Hold
from sagesync.model.money import (
    UNITS,
    cents_of_units,
    decimal_of_cents,
    decimal_of_units,
    divide_half_up,
    shown,
    to_cents,
    units_of,
)
from sagesync.recipe import MappingSettings
from sagesync.transform.dates import local_date
from sagesync.transform.lines import money_item_ids, rate_of
from sagesync.transform.mapping import ItemMap, NominalMap

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
# Lines of these purposes are summed into one split per (purpose, nominal, tax code); a payment
# or a mapped extra amount is a split of its own.
_MERGED = frozenset(("goods", "discount", "carriage", "adjustment_refund", "adjustment_fee"))
_LOCATIONS = ("extension_attributes.", "items.")
_HALF_CENT = UNITS // 200  # 0.005 in units


class HoldDocument(Held):
    """The document cannot be posted as it is: a cause from the catalogue (model.holds), whose
    message says why, for a person."""


@dataclass(slots=True)
class PostingLine:
    """One line of a posting, in units (1/10,000): an item as Magento sold it, or shipping, a
    discount kept on its own nominal, an adjustment, a payment or a mapped extra amount.

    `net` is what the line adds to its split's net (signed); `split_no` the split it is in
    (0 when its split sums to nothing and is not posted).
    """

    purpose: str
    nominal_code: str
    tax_code: str
    net: int
    tax: int = 0
    rate: int | None = None  # percent, in units (20 % = 200000)
    sku: str | None = None
    name: str | None = None
    order_item_id: int | None = None
    quantity: int | None = None  # units (Magento's quantities have four places too)
    unit_price: int | None = None
    row_total: int | None = None
    discount: int | None = None  # what the discount takes off the row (positive)
    label: str | None = None  # the Details wording, when the purpose alone is too vague
    split_no: int = 0
    item_code: str | None = None  # the Sage item of a goods line ([mapping] items_csv)
    warehouse: str | None = None
    # The line's share of its split, in cents, as posted: the lines of a split sum to it
    # exactly (its rounding, the balance and the sign all included), see `_post_lines`.
    posted_net: int = 0
    posted_tax: int = 0
    posted_price: int = 0  # posted_net per unit, in units (see `_price_lines`)


@dataclass(slots=True)
class Split:
    """One row of the Sage 50 view: lines summed by purpose, nominal and tax code, in cents."""

    purpose: str
    nominal_code: str
    tax_code: str
    net: int = 0
    tax: int = 0
    # Set when the split posts as its own document of the other type (positive amounts only).
    transaction_type: str | None = None
    reference: str | None = None
    label: str | None = None  # the Details wording, when the purpose alone is too vague

    @property
    def net_amount(self) -> Decimal:
        return decimal_of_cents(self.net)

    @property
    def tax_amount(self) -> Decimal:
        return decimal_of_cents(self.tax)


@dataclass
class SageDocument:
    """One posting: header facts, its lines and their split view, or the reason it is held."""

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
    total_cents: int
    content_hash: str
    lines: list[PostingLine] = field(default_factory=list)
    splits: list[Split] = field(default_factory=list)
    hold_reason: str | None = None
    hold: Hold | None = None  # the cause of hold_reason (model.holds), when held
    warnings: list[str] = field(default_factory=list)
    exchange_rate: Decimal | None = None  # order-currency units per base unit, for Sage
    # Nothing for Sage to book (a zero total): never rendered, but accounted for in the ledger.
    skip_reason: str | None = None
    company: str = ""  # [sage] companies: the Sage company, entity or site of its store
    # a credit memo's invoice: its entity id, and its increment id where the export has it
    invoice_id: int | None = None
    invoice_increment_id: str | None = None

    @property
    def document_key(self) -> str:
        return f"{self.entity_type}:{self.entity_id}@{self.store_id}"

    @property
    def grand_total(self) -> Decimal:
        return decimal_of_cents(self.total_cents)


@dataclass
class DocumentBuilder:
    """Holds the recipe's mapping so each document is built the same way.

    It reads rows whose Magento amounts are integer units (sagesync.transform.rows)."""

    mapping: MappingSettings
    nominals: NominalMap
    zone: ZoneInfo
    currency: str  # "base" or "order"
    reference_prefixes: Mapping[int, str] = field(default_factory=dict)  # store id -> prefix
    companies: Mapping[int, str] = field(default_factory=dict)  # store id -> Sage company
    negative_amounts: bool = False  # [sage] negative_amounts
    items: ItemMap = field(default_factory=ItemMap)
    unit_price_places: int = 0  # the product's (Capabilities.unit_price_places)
    # the product's purposes kept as negative lines of their document (negative_purposes)
    negative_purposes: tuple[str, ...] = ()
    # [sage] period_locked_until and locked_period: Sage takes nothing dated on or before it
    locked_until: date | None = None
    locked_period: str = "hold"

    def __post_init__(self) -> None:
        self._prefix = "base_" if self.currency == "base" else ""
        self._codes = {units_of(rate): code for rate, code in self.mapping.tax_codes.items()}

    def amount(self, row: Row, name: str) -> int:
        return row.get(self._prefix + name) or 0

    def tax_code(self, rate: int | None, where: str) -> str:
        if rate is None:
            raise HoldDocument(holds.missing_tax_rate(where=where))
        code = self._codes.get(rate)
        if code is None:
            raise HoldDocument(holds.unmapped_tax_rate(where=where, rate=shown(rate),
                                                       known=self.mapping.tax_codes))
        return code

    @property
    def prefix(self) -> str:
        """The column prefix of the posted currency's amounts ("base_" or "")."""
        return self._prefix

    @property
    def rate_codes(self) -> dict[int, str]:
        """The recipe's tax codes by rate (percent, in units)."""
        return self._codes

    def build(self, kind: str, doc: Row, doc_items: Sequence[Row], order: Row,
              order_items: Sequence[Row], account_ref: str) -> SageDocument:
        """Make the Sage document; a problem holds it instead of raising."""
        document = self.header(kind, doc, order, account_ref)
        try:
            if document.posting_date is None:
                raise HoldDocument(holds.no_created_at())
            self._open_period(document)
            document.exchange_rate = self._exchange_rate(doc, order, document)
            extras = _Extras.of(doc, self.currency == "base",
                                order.get("base_currency_code") == order.get(
                                    "order_currency_code"))
            if self._zero_total(kind, doc, extras) and \
                    self.mapping.zero_total_documents == "skip":
                return self._skip(document, "its total is zero (a 100 % discount, or free items)"
                                  ' and [mapping] zero_total_documents = "skip"')
            lines, discounts, compensation = self._item_lines(kind, doc_items, order_items)
            lines += self._carriage(doc, discounts, compensation)
            lines += self._adjustments(kind, doc)
            lines += self._payments_and_extras(extras)
            document.lines = lines
            document.splits = _split_view(lines)
            self._balance(document, doc, len(doc_items), extras)
            self._signs(document)
            _post_lines(lines, document.splits)
            _price_lines(lines, self.unit_price_places)
            if not document.splits:
                return self._skip(document, "every amount is zero: Sage has nothing to book")
        except HoldDocument as held:
            document.hold, document.hold_reason = held.hold, held.hold.message
        return document

    def header(self, kind: str, doc: Row, order: Row, account_ref: str) -> SageDocument:
        """The document's header facts, with no lines yet (the columnar rules fill in the
        rest of a simple document: transform.columnar)."""
        increment = doc.get("increment_id") or str(doc["entity_id"])
        order_increment = order.get("increment_id") or ""
        currency = order.get("base_currency_code" if self.currency == "base"
                             else "order_currency_code") or ""
        return SageDocument(
            entity_type=kind, entity_id=doc["entity_id"], store_id=doc.get("store_id") or 0,
            order_id=order["entity_id"], order_increment_id=order_increment,
            increment_id=increment, transaction_type="SC" if kind == "creditmemo" else "SI",
            account_ref=account_ref,
            posting_date=self.posting_date(doc),
            reference=self.reference_prefixes.get(doc.get("store_id") or 0, "") + increment,
            extra_reference=order_increment if kind != "order" else "",
            details=f"Magento {'credit memo' if kind == 'creditmemo' else kind} {increment}",
            currency_code=currency, total_cents=cents_of_units(self.amount(doc, "grand_total")),
            content_hash=doc.get("content_hash") or "",
            company=self.companies.get(doc.get("store_id") or 0, ""),
            invoice_id=doc.get("invoice_id") if kind == "creditmemo" else None)

    def posting_date(self, doc: Row) -> date | None:
        """The day the document was made where the store is: the row's `posting_date` where
        the transform has worked it out column-wise (dates.local_dates), else from its
        `created_at`; None when Magento gave no time."""
        if "posting_date" in doc:
            given: date | None = doc["posting_date"]
            return given
        created: datetime | None = doc.get("created_at")
        return local_date(created, self.zone) if created else None

    def _open_period(self, document: SageDocument) -> None:
        """A document dated in Sage's locked period is held, or moved to the day after the
        lock (the first day Sage still posts to), saying so in its warnings."""
        dated, locked = document.posting_date, self.locked_until
        if locked is None or dated is None or dated > locked:
            return
        if self.locked_period != "redate":
            raise HoldDocument(holds.period_locked(posting_date=dated.isoformat(),
                                                   locked_until=locked.isoformat()))
        document.posting_date = locked + timedelta(days=1)
        document.warnings.append(
            f"posting date moved from {dated.isoformat()} to {document.posting_date.isoformat()}"
            f": Sage's period is locked up to {locked.isoformat()} ([sage] period_locked_until, "
            'locked_period = "redate")')

    def _skip(self, document: SageDocument, why: str) -> SageDocument:
        document.lines = []
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
            raise HoldDocument(holds.no_exchange_rate(currency=ordered, base=base))
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
        return cents_of_units(self.amount(doc, "grand_total")) == 0 and \
            cents_of_units(self.amount(doc, "tax_amount")) == 0 and \
            all(self.amount(doc, name) == 0 for name in adjustments) and not extras.found

    def _payments_and_extras(self, extras: _Extras) -> list[PostingLine]:
        """Payments off the total (negative, on their nominal) and the recipe's extra amounts."""
        lines = []
        for kind, name in PAYMENT_FIELDS.items():
            found = extras.take(name)
            if found is None:
                continue
            where, value = found
            nominal = self.mapping.payment_nominals.get(kind)
            if nominal is None:
                raise HoldDocument(holds.unmapped_payment_nominal(
                    kind=kind, amount=_cents_text(value), where=where))
            lines.append(PostingLine(kind, nominal, self.mapping.payment_tax_code, -value))
        for name, (nominal, code) in self.mapping.extra_amounts.items():
            found = extras.take(name)
            if found is None:
                continue
            where, value = found
            tax_found = extras.take(where.removesuffix("_amount") + "_tax_amount") \
                if where.endswith("_amount") else None
            tax = tax_found[1] if tax_found else 0
            rate = None if code else self._rate_of(value, tax, where)
            code = code or self.tax_code(rate, where)
            label = where.split(".")[-1].removesuffix("_amount").replace("_", " ")
            lines.append(PostingLine("extra", nominal, code, value, tax, rate, label=label))
        return lines

    def _item_lines(self, kind: str, doc_items: Sequence[Row], order_items: Sequence[Row]
                    ) -> tuple[list[PostingLine], int, int]:
        """The lines that carry money (a composite product counted once), with the sum of
        their discounts and discount tax compensations (shipping's share is the rest)."""
        order_item_by_id = {item["item_id"]: item for item in order_items}
        counted = money_item_ids(order_items, self.mapping.bundle)
        netted = self.mapping.discount == "net"
        lines: list[PostingLine] = []
        discounts = compensations = 0
        for line in doc_items:
            item_id = line["item_id"] if kind == "order" else line["order_item_id"]
            order_item = order_item_by_id.get(item_id)
            if order_item is None:
                raise HoldDocument(holds.unknown_order_item(sku=line.get("sku"),
                                                            item_id=item_id))
            if item_id not in counted:
                continue
            row_total = self.amount(line, "row_total")
            discount = self.amount(line, "discount_amount")
            compensation = self.amount(line, "discount_tax_compensation_amount")
            tax = self.amount(line, "tax_amount")
            discounts += discount
            compensations += compensation
            rate = rate_of(order_item)
            if rate is None and tax == 0:
                rate = 0
            code = self.tax_code(rate, f"line {line.get('sku')!r}")
            sku = order_item.get("sku") or line.get("sku")
            nominal = self.nominals.nominal_for(sku)
            net = row_total - discount + compensation if netted else row_total
            quantity = line.get("qty_ordered" if kind == "order" else "qty")
            item = self.items.item_for(sku)
            if item is None:
                raise HoldDocument(holds.unmapped_item(sku=sku))
            lines.append(PostingLine(
                "goods", nominal, code, net, tax, rate, sku, line.get("name") or
                order_item.get("name"), item_id, quantity, _unit_price(row_total, quantity),
                row_total, discount, item_code=item[0], warehouse=item[1]))
            if not netted and discount != 0:
                lines.append(PostingLine("discount", self.mapping.discount_nominal, code,
                                         -(discount - compensation), 0, rate, sku,
                                         order_item_id=item_id))
        return lines, discounts, compensations

    def _carriage(self, doc: Row, line_discounts: int, line_compensation: int
                  ) -> list[PostingLine]:
        """Shipping as its own line on the carriage nominal, with its own tax code.

        Invoices and credit memos have no shipping-discount field: the header discount
        (negative) covers lines and shipping, so the shipping share is what the lines do not
        explain. Likewise their header discount tax compensation includes shipping's (Magento's
        Invoice/Creditmemo Total/Tax collectors), while an order's covers the lines only.
        """
        shipping = self.amount(doc, "shipping_amount")
        shipping_tax = self.amount(doc, "shipping_tax_amount")
        header_discount = -self.amount(doc, "discount_amount")
        shipping_discount = header_discount - line_discounts
        if abs(shipping_discount) <= _HALF_CENT:
            shipping_discount = 0
        compensation = self.amount(doc, "discount_tax_compensation_amount") - line_compensation
        if compensation == 0:
            compensation = self.amount(doc, "shipping_discount_tax_compensation_amount")
        net = shipping - shipping_discount + compensation
        if net == 0 and shipping_tax == 0:
            return []
        rate = self._rate_of(net, shipping_tax, "shipping")
        code = self.tax_code(rate, "shipping")
        nominal = self.mapping.carriage_nominal
        if self.mapping.discount == "net" or shipping_discount == 0:
            return [PostingLine("carriage", nominal, code, net, shipping_tax, rate,
                                row_total=shipping, discount=shipping_discount)]
        return [PostingLine("carriage", nominal, code, shipping, shipping_tax, rate,
                            row_total=shipping, discount=shipping_discount),
                PostingLine("discount", self.mapping.discount_nominal, code,
                            -(shipping_discount - compensation), 0, rate)]

    def _adjustments(self, kind: str, doc: Row) -> list[PostingLine]:
        """A credit memo's adjustment refund (adds to the refund) and fee (takes off it)."""
        if kind != "creditmemo":
            return []
        mapping = self.mapping
        refund = self.amount(doc, "adjustment_positive")
        fee = self.amount(doc, "adjustment_negative")
        return [PostingLine(purpose, mapping.adjustment_nominal, mapping.adjustment_tax_code,
                            value) for purpose, value in
                (("adjustment_refund", refund), ("adjustment_fee", -fee)) if value != 0]

    def _rate_of(self, net: int, tax: int, what: str) -> int:
        """Magento gives shipping (or an extra's) tax but no rate: find the recipe rate whose
        tax on the net, rounded to cents, is within a cent of Magento's."""
        if tax == 0:
            return 0
        for rate in sorted(self._codes, reverse=True):
            # net (units) x rate (percent in units) / 100 is the tax; in cents, over 10**8
            if rate and abs(divide_half_up(net * rate, 10 ** 8) * 100 - tax) <= 100:
                return rate
        raise HoldDocument(holds.tax_matches_no_rate(what=what, tax=decimal_of_units(tax),
                                                     net=_cents_text(net)))

    def _balance(self, document: SageDocument, doc: Row, line_count: int,
                 extras: _Extras) -> None:
        """The splits' tax must make the document's tax and net + tax its grand total, to the
        cent; up to a cent per line is rounding, put on the largest revenue split."""
        splits = document.splits
        tolerance = max(1, line_count)
        tax_target = cents_of_units(self.amount(doc, "tax_amount"))
        net_target = document.total_cents - tax_target
        for column, target in (("tax", tax_target), ("net", net_target)):
            have = sum(getattr(s, column) for s in splits)
            difference = target - have
            if difference == 0:
                continue
            if abs(difference) > tolerance or not splits:
                raise HoldDocument(holds.does_not_balance(
                    column=column, have=decimal_of_cents(have), target=decimal_of_cents(target),
                    difference=decimal_of_cents(difference), grand_total=document.grand_total,
                    explanation=extras.explain(difference)))
            revenue = [s for s in splits if s.purpose in ("goods", "carriage")] or splits
            largest = max(revenue, key=lambda s: (abs(s.net), s.purpose == "goods"))
            setattr(largest, column, getattr(largest, column) + difference)
            document.warnings.append(f"rounding difference {decimal_of_cents(difference)} in "
                                     f"{column} put on nominal {largest.nominal_code}")

    def _signs(self, document: SageDocument) -> None:
        """Positive amounts only (the default): a split that takes money off its document
        becomes a document of the other type, unless the product takes it as a negative line
        (its negative_purposes); any other negative split holds the document."""
        for split in document.splits:
            if split.purpose in CONTRA_SUFFIX and not self.negative_amounts \
                    and split.purpose not in self.negative_purposes \
                    and split.net <= 0 and split.tax <= 0:
                split.net, split.tax = -split.net, -split.tax
                split.transaction_type = OTHER_TYPE[document.transaction_type]
                split.reference = f"{document.reference}-{CONTRA_SUFFIX[split.purpose]}"
        allowed = NEGATIVE_PURPOSES if self.negative_amounts else self.negative_purposes
        for split in document.splits:
            if (split.net < 0 or split.tax < 0) and split.purpose not in allowed:
                raise HoldDocument(holds.negative_split(
                    split=PURPOSE_LABEL[split.purpose], nominal=split.nominal_code,
                    net=split.net_amount, tax=split.tax_amount,
                    negative_amounts=self.negative_amounts))


def _unit_price(row_total: int, quantity: int | None) -> int | None:
    """The price of one unit, net of tax and before discount: Magento makes the row total as
    price x quantity, so it is the row total over the quantity, half up to four places. (Not
    Magento's own `price` field: decoding one more field would change every document's content
    hash, and so flag every record already sent as amended.)"""
    if not quantity:
        return None
    return divide_half_up(row_total * UNITS, quantity)


def _cents_text(units: int) -> Decimal:
    return decimal_of_cents(cents_of_units(units))


def _split_view(lines: list[PostingLine]) -> list[Split]:
    """The Sage 50 view of the lines: goods, discounts, carriage and adjustments summed by
    (purpose, nominal, tax code) in the order first seen, dropping sums of nothing; then each
    payment and extra on its own. Each sum is rounded to cents once, here (half up)."""
    sums: dict[tuple[str, str, str], list[Any]] = {}
    own: list[PostingLine] = []
    for line in lines:
        if line.purpose in _MERGED:
            entry = sums.setdefault((line.purpose, line.nominal_code, line.tax_code),
                                    [0, 0, []])
            entry[0] += line.net
            entry[1] += line.tax
            entry[2].append(line)
        else:
            own.append(line)
    groups = [(key, net, tax, members) for key, (net, tax, members) in sums.items()
              if net != 0 or tax != 0]
    groups += [((line.purpose, line.nominal_code, line.tax_code), line.net, line.tax, [line])
               for line in own]
    splits = []
    for number, ((purpose, nominal, code), net, tax, members) in enumerate(groups, start=1):
        for line in members:
            line.split_no = number
        splits.append(Split(purpose, nominal, code, cents_of_units(net), cents_of_units(tax),
                            label=members[0].label if purpose == "extra" else None))
    return splits


def _post_lines(lines: list[PostingLine], splits: list[Split]) -> None:
    """Give each line its share of its split in cents (`posted_net`, `posted_tax`), so a
    product that writes lines at two places still makes each split, and so the document,
    exactly: each line rounded half up, then the cents the split still differs by (its own
    rounding, the balance's, the sign a contra split was turned to) go one at a time to the
    lines with the largest amounts, first in line order among equals."""
    members: dict[int, list[PostingLine]] = {}
    for line in lines:
        if line.split_no:
            members.setdefault(line.split_no, []).append(line)
    for number, split in enumerate(splits, start=1):
        group = members.get(number, [])
        if not group:
            continue
        flipped = split.transaction_type is not None  # posted as the other type, positive
        for column, units, target in (("posted_net", "net", split.net),
                                      ("posted_tax", "tax", split.tax)):
            values = [-getattr(line, units) if flipped else getattr(line, units)
                      for line in group]
            cents = [cents_of_units(v) for v in values]
            difference = target - sum(cents)
            step = 1 if difference > 0 else -1
            ranked = sorted(range(len(group)), key=lambda i: -abs(values[i]))
            for n in range(abs(difference)):
                cents[ranked[n % len(ranked)]] += step
            for line, value in zip(group, cents, strict=True):
                setattr(line, column, value)


def _price_lines(lines: list[PostingLine], places: int) -> None:
    """Each posted line's net per unit (`posted_price`): its posted net over its quantity (one
    when it has none), half up to `places` (four when 0). A product that computes a line's
    amount as quantity x price, rounded to cents (`places` > 0), would book a line no such
    price makes a cent or more off its net (a large quantity), so its document is held."""
    scale = 10 ** (places or 4)  # the price is an integer of 1/scale
    for line in lines:
        if not line.split_no:
            continue
        quantity = abs(line.quantity) if line.quantity else UNITS
        price = divide_half_up(line.posted_net * scale * UNITS, 100 * quantity)
        line.posted_price = price * (UNITS // scale)
        amount = divide_half_up(price * quantity * 100, scale * UNITS)
        if places and amount != line.posted_net:
            raise HoldDocument(holds.unit_price_not_exact(
                line=repr(line.sku) if line.sku else PURPOSE_LABEL[line.purpose],
                quantity=decimal_of_units(quantity).normalize(),
                net=decimal_of_cents(line.posted_net), places=places,
                price=Decimal(price).scaleb(-places), amount=decimal_of_cents(amount)))


def split_details(document: SageDocument, split: Split) -> str:
    """The Details text of one split row: short, and traceable back to Magento."""
    return f"{KIND_LABEL[document.entity_type]} {document.increment_id} " \
           f"{split.label or PURPOSE_LABEL[split.purpose]}"


_DOCUMENT_FIELDS = ("entity_type", "entity_id", "store_id", "order_id", "order_increment_id",
                    "increment_id", "transaction_type", "account_ref", "posting_date",
                    "reference", "extra_reference", "details", "currency_code",
                    "exchange_rate", "content_hash", "hold_reason", "skip_reason",
                    "invoice_id", "invoice_increment_id")
TOTALS = ("net_total", "tax_total", "carriage_net", "carriage_tax", "carriage_tax_code",
          "carriage_tax_rate")
#: The `documents` columns `document_columns` gives in cents (the carriage rate is in units).
DOCUMENT_CENTS = ("grand_total", "net_total", "tax_total", "carriage_net", "carriage_tax")


def document_columns(docs: Sequence[SageDocument]) -> dict[str, list[Any]]:
    """The checkpoint's `documents` table (model.schemas.SAGE_DOCUMENTS), column by column,
    but for who each document bills (transform.billing, from the orders): amounts in cents
    (`grand_total` and the totals) and the carriage rate in units, which the caller turns into
    decimal columns in one operation each."""
    out: dict[str, list[Any]] = {name: list(map(attrgetter(name), docs))
                                 for name in _DOCUMENT_FIELDS}
    out["document_key"] = [d.document_key for d in docs]
    out["grand_total"] = [d.total_cents for d in docs]
    out["status"] = ["held" if d.hold_reason else "skipped" if d.skip_reason else "ready"
                     for d in docs]
    out["warnings"] = ["\n".join(d.warnings) or None for d in docs]
    out["company"] = [d.company or None for d in docs]
    totals = [_totals(d) for d in docs]
    for name in TOTALS:
        out[name] = [t[name] for t in totals]
    return out


def _totals(d: SageDocument) -> dict[str, int | str | None]:
    """Header sums of the posted splits in cents, for formats that carry them on the document
    (Sage 50 Canada's Freight and its tax, a header's net and tax totals); None unless the
    document is ready. The carriage tax code and rate (in units) are its first carriage
    split's (None without one)."""
    if d.hold_reason or d.skip_reason:
        return dict.fromkeys(TOTALS)
    own = [s for s in d.splits if s.transaction_type is None]
    carriage = [s for s in own if s.purpose == "carriage"]
    rate = next((line.rate for line in d.lines if line.purpose == "carriage"), None)
    return {"net_total": sum(s.net for s in own), "tax_total": sum(s.tax for s in own),
            "carriage_net": sum(s.net for s in carriage),
            "carriage_tax": sum(s.tax for s in carriage),
            "carriage_tax_code": carriage[0].tax_code if carriage else None,
            "carriage_tax_rate": rate if carriage else None}


def split_rows(d: SageDocument, department: int | None) -> list[dict[str, Any]]:
    """The rows of the checkpoint's `splits` table for one document (none unless ready)."""
    if d.hold_reason or d.skip_reason:
        return []
    return [{"document_key": d.document_key, "split_no": n, "nominal_code": s.nominal_code,
             "tax_code": s.tax_code, "department": department, "details": split_details(d, s),
             "net_amount": s.net_amount, "tax_amount": s.tax_amount, "purpose": s.purpose,
             "transaction_type": s.transaction_type, "reference": s.reference}
            for n, s in enumerate(d.splits, start=1)]


def split_columns(docs: Sequence[SageDocument], department: int | None
                  ) -> dict[str, list[Any]]:
    """The checkpoint's `splits` table for ready documents, column by column (amounts in
    cents; the caller turns them into decimal columns in one operation each), as
    `split_rows` gives it row by row."""
    ready = [d for d in docs if not (d.hold_reason or d.skip_reason)]
    splits = [split for d in ready for split in d.splits]
    return {
        "document_key": [d.document_key for d in ready for _ in d.splits],
        "split_no": [n for d in ready for n in range(1, len(d.splits) + 1)],
        "nominal_code": [split.nominal_code for split in splits],
        "tax_code": [split.tax_code for split in splits],
        "department": [department] * len(splits),
        "details": [split_details(d, split) for d in ready for split in d.splits],
        "net_amount": [split.net for split in splits],
        "tax_amount": [split.tax for split in splits],
        "purpose": [split.purpose for split in splits],
        "transaction_type": [split.transaction_type for split in splits],
        "reference": [split.reference for split in splits]}


LINE_UNITS = ("quantity", "unit_price", "row_total", "discount_amount", "net_amount",
              "tax_amount", "tax_rate", "posted_price")  # columns held in units until written
LINE_CENTS = ("posted_net", "posted_tax")  # the `lines` columns held in cents until written
SPLIT_CENTS = ("net_amount", "tax_amount")  # the `splits` columns held in cents until written
# checkpoint column -> PostingLine attribute
_LINE_FIELDS = {"purpose": "purpose", "sku": "sku", "name": "name",
                "order_item_id": "order_item_id", "quantity": "quantity",
                "unit_price": "unit_price", "row_total": "row_total",
                "discount_amount": "discount", "net_amount": "net", "tax_amount": "tax",
                "tax_rate": "rate", "tax_code": "tax_code", "nominal_code": "nominal_code",
                "split_no": "split_no", "item_code": "item_code", "warehouse": "warehouse",
                "posted_net": "posted_net", "posted_tax": "posted_tax",
                "posted_price": "posted_price"}


def line_columns(docs: Sequence[SageDocument]) -> dict[str, list[Any]]:
    """The checkpoint's `lines` table for ready documents, column by column (amounts in
    units; the caller turns them into decimal columns in one operation each)."""
    ready = [d for d in docs if not (d.hold_reason or d.skip_reason)]
    lines = [line for d in ready for line in d.lines]
    out: dict[str, list[Any]] = {
        "document_key": [d.document_key for d in ready for _ in d.lines],
        "line_no": [n for d in ready for n in range(1, len(d.lines) + 1)]}
    for column, name in _LINE_FIELDS.items():
        out[column] = list(map(attrgetter(name), lines))
    # a line of a split posted as its own document of the other type (a credit memo's fee
    # under positive amounts) is written with that split's type and reference, as the split is
    contra = [d.splits[line.split_no - 1] if line.split_no else None
              for d in ready for line in d.lines]
    out["transaction_type"] = [s.transaction_type if s else None for s in contra]
    out["reference"] = [s.reference if s else None for s in contra]
    return out


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

    def take(self, name: str) -> tuple[str, int] | None:
        """(where Magento put it, amount in units) of a field the recipe names, marked as
        posted. An amount with more than Magento's four places is rounded to four, half up."""
        location, field_name = _location(name)
        stem = _base_marked(field_name)[0]
        for key in self.found:
            where = key[0] + key[1]
            if key[1] == stem and location in (None, key[0]) and where not in self.used:
                value = self._value(key)
                if value is None:
                    raise HoldDocument(holds.extra_amount_other_currency(
                        where=where, currency="order" if self.base else "base"))
                self.used.add(where)
                return where, units_of(value)
        return None

    def explain(self, difference: int) -> str:
        """What Magento sent that sagesync does not post, and how to map it (difference in
        cents)."""
        unused = [(key[0] + key[1], value) for key in self.found
                  if key[0] + key[1] not in self.used and (value := self._value(key))]
        if not unused:
            return ("Nothing Magento sent outside the posted fields explains it (no extra "
                    "amount in extension_attributes, no gift card, store credit or WEEE): check "
                    "the document in Magento, and map the field of any amount an extension adds "
                    "in [mapping] extra_amounts")
        listed = ", ".join(f"{where} {value.normalize():f}"
                           + (" (the difference)"
                              if to_cents(value) == decimal_of_cents(abs(difference)) else "")
                           for where, value in unused)
        example = _location(unused[0][0])[1]
        return (f"Magento sends amounts sagesync does not post: {listed}. Map the one that "
                f'belongs in the total to a nominal: [mapping] extra_amounts = {{ "{example}" = '
                '"<nominal>" }')
