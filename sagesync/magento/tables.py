"""Decoded Magento entities -> Arrow record batches of the export checkpoint's tables.

Rows are gathered column-wise in Python lists and turned into Arrow arrays once per batch, so
memory stays flat however many pages an export has: the caller flushes every few pages.
"""

from __future__ import annotations

import hashlib
import operator
from collections.abc import Callable, Iterable
from decimal import ROUND_HALF_UP
from typing import Any

import msgspec
import pyarrow as pa
import pyarrow.compute as pc

from sagesync.magento.entities import Address, Creditmemo, Customer, Invoice, Order
from sagesync.model.money import MAGENTO_PLACES
from sagesync.model.schemas import MAGENTO_MONEY, MAGENTO_TABLES, UTC_TIME

_encode = msgspec.json.Encoder(decimal_format="number").encode


def content_hash(entity: msgspec.Struct) -> str:
    """A hash of the fields sagesync uses: a change elsewhere in Magento is not a change here."""
    return hashlib.blake2b(_encode(entity), digest_size=16).hexdigest()


def _billing(address: Address | None, field: str) -> Any:
    if address is None:
        return None
    value = getattr(address, field)
    if field == "street" and value is not None:
        return "\n".join(value)
    if field == "region" and isinstance(value, dict):
        return value.get("region")
    return value


def _getters(schema: pa.Schema, address_attr: str | None) -> list[Callable[[Any], Any]]:
    getters: list[Callable[[Any], Any]] = []
    for name in schema.names:
        if name.startswith("billing_") and address_attr is not None:
            field = name.removeprefix("billing_")
            getters.append(lambda e, f=field: _billing(getattr(e, address_attr), f))
        elif name == "content_hash":
            getters.append(lambda e: content_hash(getattr(e, "_customer", e)))
        elif name == "customer_is_guest":
            getters.append(lambda e: None if e.customer_is_guest is None
                           else bool(e.customer_is_guest))
        elif name == "base_shipping_discount_tax_compensation_amount":
            getters.append(operator.attrgetter("base_shipping_discount_tax_compensation_amnt"))
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


class _Columns:
    """Columns of one table being filled; `take()` returns them as a record batch and resets."""

    def __init__(self, schema: pa.Schema) -> None:
        self.schema = schema
        self.columns: list[list[Any]] = [[] for _ in schema.names]

    def add(self, values: Iterable[Any]) -> None:
        for column, value in zip(self.columns, values, strict=True):
            column.append(value)

    def __len__(self) -> int:
        return len(self.columns[0])

    def take(self) -> pa.RecordBatch:
        arrays = [_to_array(values, field.type) for values, field in
                  zip(self.columns, self.schema, strict=True)]
        self.columns = [[] for _ in self.schema.names]
        return pa.RecordBatch.from_arrays(arrays, schema=self.schema)


def _to_array(values: list[Any], type_: pa.DataType) -> pa.Array:
    if type_ == MAGENTO_MONEY:
        try:
            return pa.array(values, type_)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            # Float artefacts such as 29.949999999999999: round to Magento's four places.
            return pa.array([None if v is None else v.quantize(MAGENTO_PLACES, ROUND_HALF_UP)
                             for v in values], type_)
    if type_ == UTC_TIME:
        text = pa.array(values, pa.string())
        return pc.strptime(text, format="%Y-%m-%d %H:%M:%S", unit="s", error_is_null=True) \
            .cast(UTC_TIME)
    return pa.array(values, type_)


class MagentoTableBuilder:
    """Turns decoded entities into rows of the export tables (see model.schemas)."""

    def __init__(self) -> None:
        self.tables = {name: _Columns(schema) for name, schema in MAGENTO_TABLES.items()}
        s = MAGENTO_TABLES
        self._order = _getters(s["orders"], "billing_address")
        self._order_item = _getters(s["order_items"], None)[1:]
        self._invoice = _getters(s["invoices"], None)
        self._creditmemo = _getters(s["creditmemos"], None)
        self._doc_item = _getters(s["invoice_items"], None)[1:]
        self._customer = _getters(s["customers"], "_billing")

    def add(self, entity_type: str, entity: Any) -> None:
        if entity_type == "orders":
            self._add_order(entity)
        elif entity_type == "invoices":
            self._add_document(entity, "invoices", "invoice_items", self._invoice)
        elif entity_type == "creditmemos":
            self._add_document(entity, "creditmemos", "creditmemo_items", self._creditmemo)
        elif entity_type == "customers":
            self._add_customer(entity)
        else:  # pragma: no cover - guarded by ENTITY_TYPES
            raise ValueError(entity_type)

    def _add_order(self, order: Order) -> None:
        self.tables["orders"].add(g(order) for g in self._order)
        items = self.tables["order_items"]
        for item in order.items:
            items.add([order.entity_id, *(g(item) for g in self._order_item)])

    def _add_document(self, doc: Invoice | Creditmemo, table: str, item_table: str,
                      getters: list[Callable[[Any], Any]]) -> None:
        self.tables[table].add(g(doc) for g in getters)
        items = self.tables[item_table]
        for item in doc.items:
            items.add([doc.entity_id, *(g(item) for g in self._doc_item)])

    def _add_customer(self, customer: Customer) -> None:
        row = _CustomerView(customer)
        self.tables["customers"].add(g(row) for g in self._customer)

    def pending_rows(self) -> int:
        return max(len(c) for c in self.tables.values())

    def take(self) -> dict[str, pa.RecordBatch]:
        """Everything gathered so far as record batches; empty tables are left out."""
        return {name: cols.take() for name, cols in self.tables.items() if len(cols)}


class _CustomerView:
    """A customer seen with its default billing address as `_billing` (for the getters)."""

    def __init__(self, customer: Customer) -> None:
        self._customer = customer
        self._billing = _default_billing(customer)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._customer, name)

