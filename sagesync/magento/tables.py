"""Decoded Magento entities -> Arrow record batches of the export checkpoint's tables.

Rows are gathered column-wise in Python lists and turned into Arrow arrays once per batch, so
memory stays flat however many pages an export has: the caller flushes every few pages.

`extra_amounts` (orders, invoices, credit memos) is a JSON object of the money Magento sends
outside the fields sagesync posts from: Adobe Commerce gift cards, store credit and reward
points, the lines' fixed product tax (WEEE) and every money-like number or numeric string in
`extension_attributes` (a cash-on-delivery fee, gift wrapping...), keyed by where it was found
(`extension_attributes.payment_surcharge_amount`, `items.weee_tax_applied_row_amount`) and kept
as exact decimal text. Only non-zero amounts are kept, so most documents have none (null).
"""

from __future__ import annotations

import hashlib
import json
import operator
import re
from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

import msgspec
import pyarrow as pa
import pyarrow.compute as pc
from msgspec import UNSET

from sagesync.magento.entities import Address, Customer
from sagesync.model.money import MAGENTO_PLACES
from sagesync.model.schemas import EXCHANGE_RATE, MAGENTO_MONEY, MAGENTO_TABLES, UTC_TIME

_encode = msgspec.json.Encoder(decimal_format="number").encode
RATE_PLACES = Decimal("0.00000001")
# Payments Adobe Commerce takes off the grand total, top-level or in extension_attributes.
PAYMENT_FIELDS = ("gift_cards_amount", "base_gift_cards_amount", "customer_balance_amount",
                  "base_customer_balance_amount", "reward_currency_amount",
                  "base_reward_currency_amount")
_WEEE = (("weee_tax_applied_row_amount", "items.weee_tax_applied_row_amount"),
         ("base_weee_tax_applied_row_amnt", "items.base_weee_tax_applied_row_amount"))
# A money-like extension attribute: named like an amount, and not a running total of what was
# invoiced, refunded or paid (those describe the order's history, not this document's total).
_MONEY_KEY = ("amount", "amnt", "fee", "fees", "price", "total", "surcharge", "charge", "cost")
_HISTORY_KEY = ("_invoiced", "_refunded", "_canceled", "_cancelled", "_paid", "_due", "_incl_tax")
_NUMBER = re.compile(rb"-?[0-9]+(\.[0-9]+)?")


def _known(value: Any) -> Any:
    """None for a field Magento did not send (UNSET), else the value."""
    return None if value is UNSET else value


def _number(raw: msgspec.Raw) -> Decimal | None:
    """A JSON number or numeric string ("5.3300", as some extensions send money) as Decimal."""
    text = bytes(raw)
    if text[:1] == b'"':
        text = text[1:-1]
    return Decimal(text.decode()) if _NUMBER.fullmatch(text) else None


def extension_money(entity: Any) -> dict[str, Decimal]:
    """Non-zero money-like scalars of `extension_attributes`, by attribute name."""
    attributes = getattr(entity, "extension_attributes", UNSET)
    if not attributes:  # UNSET, None or {}
        return {}
    found = {}
    for name, raw in attributes.items():
        if name.endswith(_MONEY_KEY) and not name.endswith(_HISTORY_KEY):
            value = _number(raw)
            if value:
                found[name] = value
    return found


def extra_amounts(entity: Any) -> dict[str, Decimal]:
    """Every non-zero amount outside the posted fields, keyed by where Magento put it."""
    found = {name: value for name in PAYMENT_FIELDS
             if (value := _known(getattr(entity, name, UNSET)))}
    found.update({f"extension_attributes.{k}": v for k, v in extension_money(entity).items()})
    if _has_weee(entity):
        for field, key in _WEEE:
            weee = sum((v for item in entity.items
                        if (v := _known(getattr(item, field, UNSET)))), Decimal(0))
            if weee:
                found[key] = weee
    return found


def _has_weee(entity: Any) -> bool:
    """Whether any line was sent with a WEEE amount (most stores send none: a quick no)."""
    for item in getattr(entity, "items", ()):
        if item.weee_tax_applied_row_amount is not UNSET or \
                item.base_weee_tax_applied_row_amnt is not UNSET:
            return True
    return False


def _extra_amounts_json(entity: Any) -> str | None:
    found = extra_amounts(entity)
    return json.dumps({k: str(v) for k, v in sorted(found.items())}) if found else None


def _neutral(name: str, value: Any) -> bool:
    """A decoded extra that says nothing (absent, null, zero, or an exchange rate of 1)."""
    if value is UNSET:
        return False
    if name == "extension_attributes":
        return True  # never hashed raw: its money is hashed through extension_money
    return value is None or value == (1 if name == "base_to_order_rate" else 0)


_HASH_NEUTRAL_FIELDS = ("base_to_order_rate", *PAYMENT_FIELDS, "extension_attributes")
# Where a document is in its life, not what it says: Magento moves an order from processing to
# complete, an invoice from open to paid, and `update-orders` sets a status, long after Sage
# has the document. Hashing them flagged every order sent from `post_from = "orders"` as
# amended once Magento shipped it. A cancellation is still seen: it is read from the state.
LIFECYCLE_FIELDS = ("state", "status", "updated_at")


_UNHASHED: dict[type, dict[str, Any]] = {}


def unhashed(struct: type) -> dict[str, Any]:
    """The lifecycle fields of a struct type, blanked (UNSET is left out when encoding)."""
    found = _UNHASHED.get(struct)
    if found is None:
        found = _UNHASHED[struct] = {name: UNSET for name in LIFECYCLE_FIELDS
                                     if name in getattr(struct, "__struct_fields__", ())}
    return found


def content_hash(entity: msgspec.Struct) -> str:
    """A hash of the fields sagesync uses: a change elsewhere in Magento is not a change here.

    Extras that say nothing (see `_neutral`) are left out, so a document hashes the same as it
    did before sagesync decoded them: records already in Sage are not flagged as amended.
    """
    changes = dict(unhashed(type(entity)))
    for name in _HASH_NEUTRAL_FIELDS:
        if _neutral(name, getattr(entity, name, UNSET)):
            changes[name] = UNSET
    if _has_weee(entity):
        changes["items"] = [msgspec.structs.replace(item, **{
            f: UNSET for f, _ in _WEEE if _neutral("weee", getattr(item, f))})
            for item in entity.items]  # type: ignore[attr-defined]
    digest = hashlib.blake2b(_encode(msgspec.structs.replace(entity, **changes)),
                             digest_size=16)
    money = extension_money(entity)
    if money:
        digest.update(_encode(sorted(money.items())))
    return digest.hexdigest()


def _billing(address: Address | None, field: str) -> Any:
    if address is None:
        return None
    value = getattr(address, field)
    if field == "street" and value is not None:
        return "\n".join(value)
    if field == "region" and isinstance(value, dict):
        # a customer address's region is an object; its name must be text (a store's
        # extension can put anything there: anything else is no region, never a crash)
        found = value.get("region")
        return found if isinstance(found, str) else None
    return value


def _getters(schema: pa.Schema, address_attr: str | None) -> list[Callable[[Any], Any]]:
    getters: list[Callable[[Any], Any]] = []
    for name in schema.names:
        if name.startswith("billing_") and address_attr is not None:
            field = name.removeprefix("billing_")
            getters.append(lambda e, f=field: _billing(getattr(e, address_attr), f))  # type: ignore[misc]
        elif name == "content_hash":
            getters.append(lambda e: content_hash(getattr(e, "_customer", e)))
        elif name == "customer_is_guest":
            getters.append(lambda e: None if e.customer_is_guest is None
                           else bool(e.customer_is_guest))
        elif name == "base_shipping_discount_tax_compensation_amount":
            getters.append(operator.attrgetter("base_shipping_discount_tax_compensation_amnt"))
        elif name == "base_to_order_rate":
            getters.append(lambda e: _known(e.base_to_order_rate))
        elif name == "extra_amounts":
            getters.append(_extra_amounts_json)
        else:
            getters.append(operator.attrgetter(name))
    return getters


def _default_billing(customer: Customer) -> Address | None:
    """A customer's default billing address, or the first one."""
    for address in customer.addresses:
        if address.default_billing or (customer.default_billing is not None
                                       and str(address.id) == customer.default_billing):
            return address
    return customer.addresses[0] if customer.addresses else None


class _Rows:
    """Entities gathered for one table; `take()` builds each column in one pass over them.

    Column-wise extraction (`map(getter, rows)`) runs at C speed for plain attributes, which
    is several times faster than appending value by value per row."""

    def __init__(self, schema: pa.Schema, getters: list[Callable[[Any], Any] | None]) -> None:
        self.schema = schema
        self.getters = getters  # None: the parent id column
        self.rows: list[Any] = []
        self.parent_ids: list[int] = []

    def add(self, entity: Any, parent_id: int | None = None) -> None:
        self.rows.append(entity)
        if parent_id is not None:
            self.parent_ids.append(parent_id)

    def __len__(self) -> int:
        return len(self.rows)

    def take(self) -> pa.RecordBatch:
        columns = [self.parent_ids if g is None else list(map(g, self.rows))
                   for g in self.getters]
        arrays = [_to_array(values, field.type) for values, field in
                  zip(columns, self.schema, strict=True)]
        self.rows, self.parent_ids = [], []
        return pa.RecordBatch.from_arrays(arrays, schema=self.schema)


def _to_array(values: list[Any], type_: pa.DataType) -> pa.Array:
    if type_ == MAGENTO_MONEY:
        try:
            return pa.array(values, type_)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            # Float artefacts such as 29.949999999999999: round to Magento's four places.
            return pa.array([None if v is None else v.quantize(MAGENTO_PLACES, ROUND_HALF_UP)
                             for v in values], type_)
    if type_ == EXCHANGE_RATE:
        return pa.array([None if v is None else v.quantize(RATE_PLACES, ROUND_HALF_UP)
                         for v in values], type_)
    if type_ == UTC_TIME:
        text = pa.array(values, pa.string())
        return pc.strptime(text, format="%Y-%m-%d %H:%M:%S", unit="s", error_is_null=True) \
            .cast(UTC_TIME)
    return pa.array(values, type_)


class MagentoTableBuilder:
    """Turns decoded entities into rows of the export tables (see model.schemas)."""

    def __init__(self) -> None:
        s = MAGENTO_TABLES
        items: list[Callable[[Any], Any] | None] = [None]
        self.tables = {
            "orders": _Rows(s["orders"], list(_getters(s["orders"], "billing_address"))),
            "order_items": _Rows(s["order_items"], [*items, *_getters(s["order_items"], None)[1:]]),
            "invoices": _Rows(s["invoices"], list(_getters(s["invoices"], None))),
            "invoice_items": _Rows(s["invoice_items"],
                                   [*items, *_getters(s["invoice_items"], None)[1:]]),
            "creditmemos": _Rows(s["creditmemos"], list(_getters(s["creditmemos"], None))),
            "creditmemo_items": _Rows(s["creditmemo_items"],
                                      [*items, *_getters(s["creditmemo_items"], None)[1:]]),
            "customers": _Rows(s["customers"], list(_getters(s["customers"], "_billing"))),
        }
        # Entities since the last take, with the caller's tag (where each came from), so a
        # batch that one absurd value breaks can be rebuilt without it; and what was left out.
        self.entities: list[tuple[str, Any, object]] = []
        self.rejected: list[tuple[object, str, Any, str]] = []  # tag, type, entity, problem

    def add(self, entity_type: str, entity: Any, tag: object = None) -> None:
        self.entities.append((entity_type, entity, tag))
        self._add(entity_type, entity)

    def _add(self, entity_type: str, entity: Any) -> None:
        if entity_type == "customers":
            self.tables["customers"].add(_CustomerView(entity))
            return
        table = {"orders": "orders", "invoices": "invoices",
                 "creditmemos": "creditmemos"}[entity_type]
        self.tables[table].add(entity)
        lines = self.tables["order_items" if table == "orders" else f"{table[:-1]}_items"]
        for item in entity.items:
            lines.add(item, entity.entity_id)

    def pending_rows(self) -> int:
        return max(len(c) for c in self.tables.values())

    def problem(self, entity_type: str, entity: Any) -> str | None:
        """Why this record's values cannot go into its tables (an amount of 1e400, an id past
        int64, a NaN), naming the field; None when they fit. Only asked when a batch fails, so
        the common case pays nothing for it."""
        table = {"orders": "orders", "invoices": "invoices", "creditmemos": "creditmemos",
                 "customers": "customers"}[entity_type]
        row = _CustomerView(entity) if entity_type == "customers" else entity
        found = _row_problem(self.tables[table], row, "")
        if found or entity_type == "customers":
            return found
        lines = self.tables["order_items" if table == "orders" else f"{table[:-1]}_items"]
        for index, item in enumerate(entity.items):
            found = _row_problem(lines, item, f"items[{index}].")
            if found:
                return found
        for where, value in extra_amounts(entity).items():
            if not _fits(value, MAGENTO_MONEY):
                return f"{where} {_shown(value)} {_RANGE[MAGENTO_MONEY]}"
        return None

    def take(self) -> dict[str, pa.RecordBatch]:
        """Everything gathered so far as record batches; empty tables are left out.

        When a value breaks a batch (Arrow cannot hold it), every entity since the last take
        is checked, the ones with a `problem` go to `rejected` (a record and its lines go
        together), and the batch is built again from the rest."""
        try:
            batches = {name: rows.take() for name, rows in self.tables.items() if len(rows)}
        except (ArithmeticError, ValueError, TypeError, OverflowError, pa.ArrowException):
            entities = self.entities
            for rows in self.tables.values():
                rows.rows, rows.parent_ids = [], []
            for entity_type, entity, tag in entities:
                problem = self.problem(entity_type, entity)
                if problem is None:
                    self._add(entity_type, entity)
                else:
                    self.rejected.append((tag, entity_type, entity, problem))
            batches = {name: rows.take() for name, rows in self.tables.items() if len(rows)}
        self.entities = []
        return batches


class _CustomerView:
    """A customer seen with its default billing address as `_billing` (for the getters)."""

    def __init__(self, customer: Customer) -> None:
        self._customer = customer
        self._billing = _default_billing(customer)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._customer, name)


# Values that can break a batch -----------------------------------------------------------------
_INT64 = 2 ** 63
_RANGE = {MAGENTO_MONEY: "is not an amount (at most 14 digits before the point)",
          EXCHANGE_RATE: "is not an exchange rate (at most 12 digits before the point)",
          pa.int64(): "is not an id or number Magento can hold (64-bit)"}


def _fits(value: Any, type_: pa.DataType) -> bool:
    if value is None:
        return True
    if type_ in (MAGENTO_MONEY, EXCHANGE_RATE):
        places, digits = (MAGENTO_PLACES, 14) if type_ == MAGENTO_MONEY else (RATE_PLACES, 12)
        if not isinstance(value, Decimal) or not value.is_finite():
            return False
        try:
            rounded = value.quantize(places, ROUND_HALF_UP)
        except InvalidOperation:
            return False
        return not rounded or rounded.adjusted() < digits
    if type_ == pa.int64():
        return isinstance(value, int) and -_INT64 <= value < _INT64
    return True


def _shown(value: Any) -> str:
    text = str(value)
    return text if len(text) <= 40 else f"{text[:20]}…({len(text)} characters)"


def _row_problem(rows: _Rows, entity: Any, prefix: str) -> str | None:
    """The first column value of one row that its Arrow type cannot hold; the content hash
    last, so a NaN amount is named by its field rather than by the hash it breaks."""
    pairs = [(g, c) for g, c in zip(rows.getters, rows.schema, strict=True) if g is not None]
    pairs.sort(key=lambda pair: pair[1].name == "content_hash")
    for getter, column in pairs:
        try:
            value = getter(entity)
        except (ArithmeticError, ValueError, TypeError, OverflowError) as exc:
            return f"{prefix}{column.name} cannot be read ({exc})"
        if not _fits(value, column.type):
            return f"{prefix}{column.name} {_shown(value)} {_RANGE[column.type]}"
    return None
