"""Typed views of the Magento REST entities sagesync reads.

Only the fields the pipeline uses are declared: msgspec skips every other key while decoding,
which is what makes parsing large exports cheap (the order JSON is mostly fields nobody books).
Money is declared as Decimal, so JSON numbers are decoded exactly (no float on the way).
Magento omits null keys (magento-rest.md §3.7), so every field has a default of None.
Field names and types follow the 2.4.8 REST schema (`sales-data-order-interface` and friends).

Amounts that only some stores send (the exchange rate, Adobe Commerce gift cards, store credit
and reward points, WEEE, and whatever an extension adds under `extension_attributes`) default to
`msgspec.UNSET`, which is never encoded: a document without them hashes exactly as it did before
they were decoded (see sagesync.magento.tables.content_hash). `extension_attributes` is kept as
raw JSON per key, unparsed: only its money-like scalars are read, and only once per document.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Generic, TypeVar

import msgspec
from msgspec import UNSET, Raw, UnsetType

Money = Decimal | None
Extra = Decimal | None | UnsetType  # sent by some stores only: UNSET when absent
T = TypeVar("T")


class Address(msgspec.Struct, kw_only=True):
    """`sales-data-order-address-interface` / customer address (the fields a Sage account needs)."""

    firstname: str | None = None
    lastname: str | None = None
    company: str | None = None
    street: list[str] | None = None
    city: str | None = None
    region: str | None = None
    postcode: str | None = None
    country_id: str | None = None
    telephone: str | None = None
    email: str | None = None
    vat_id: str | None = None


class LineAmounts(msgspec.Struct, kw_only=True):
    """The amounts every order, invoice and credit-memo line carries, in both currencies."""

    row_total: Money = None
    base_row_total: Money = None
    tax_amount: Money = None
    base_tax_amount: Money = None
    discount_amount: Money = None
    base_discount_amount: Money = None
    discount_tax_compensation_amount: Money = None
    base_discount_tax_compensation_amount: Money = None
    # Fixed product tax (WEEE): on order and credit-memo lines only (not on invoice lines in REST).
    weee_tax_applied_row_amount: Extra = UNSET
    base_weee_tax_applied_row_amnt: Extra = UNSET


class DocumentAmounts(msgspec.Struct, kw_only=True):
    """The header amounts of orders, invoices and credit memos, in both currencies."""

    grand_total: Money = None
    base_grand_total: Money = None
    subtotal: Money = None
    base_subtotal: Money = None
    tax_amount: Money = None
    base_tax_amount: Money = None
    discount_amount: Money = None
    base_discount_amount: Money = None
    discount_tax_compensation_amount: Money = None
    base_discount_tax_compensation_amount: Money = None
    shipping_amount: Money = None
    base_shipping_amount: Money = None
    shipping_tax_amount: Money = None
    base_shipping_tax_amount: Money = None
    base_to_order_rate: Extra = UNSET  # order-currency units per base-currency unit
    # Adobe Commerce payments that reduce the grand total, when a store sends them top-level;
    # usually they are in extension_attributes under the same names.
    gift_cards_amount: Extra = UNSET
    base_gift_cards_amount: Extra = UNSET
    customer_balance_amount: Extra = UNSET
    base_customer_balance_amount: Extra = UNSET
    reward_currency_amount: Extra = UNSET
    base_reward_currency_amount: Extra = UNSET
    extension_attributes: dict[str, Raw] | UnsetType | None = UNSET


class OrderItem(LineAmounts, kw_only=True):
    """`sales-data-order-item-interface`."""

    item_id: int | None = None
    parent_item_id: int | None = None
    product_type: str | None = None
    sku: str
    name: str | None = None
    qty_ordered: Money = None
    tax_percent: Money = None


class Order(DocumentAmounts, kw_only=True):
    """`sales-data-order-interface`: one element of `GET /V1/orders` items."""

    entity_id: int
    increment_id: str | None = None
    store_id: int | None = None
    state: str | None = None
    status: str | None = None
    created_at: str | None = None
    updated_at: str | None = None
    customer_id: int | None = None
    customer_is_guest: int | None = None
    customer_email: str | None = None
    customer_firstname: str | None = None
    customer_lastname: str | None = None
    customer_taxvat: str | None = None
    base_currency_code: str | None = None
    order_currency_code: str | None = None
    shipping_discount_amount: Money = None
    base_shipping_discount_amount: Money = None
    shipping_discount_tax_compensation_amount: Money = None
    base_shipping_discount_tax_compensation_amnt: Money = None
    billing_address: Address | None = None
    items: list[OrderItem] = msgspec.field(default_factory=list)


class DocumentItem(LineAmounts, kw_only=True):
    """An invoice or credit-memo line (`sales-data-invoice-item-interface` and the memo twin)."""

    order_item_id: int
    sku: str | None = None
    name: str | None = None
    qty: Money = None


class Invoice(DocumentAmounts, kw_only=True):
    """`sales-data-invoice-interface`: header discount is negative (magento-rest.md §6.1)."""

    entity_id: int
    increment_id: str | None = None
    order_id: int
    store_id: int | None = None
    state: int | None = None
    created_at: str | None = None
    updated_at: str | None = None
    shipping_discount_tax_compensation_amount: Money = None
    base_shipping_discount_tax_compensation_amnt: Money = None
    items: list[DocumentItem] = msgspec.field(default_factory=list)


class Creditmemo(Invoice, kw_only=True):
    """`sales-data-creditmemo-interface`: adjustments are positive numbers (§6.1)."""

    invoice_id: int | None = None
    adjustment_positive: Money = None
    base_adjustment_positive: Money = None
    adjustment_negative: Money = None
    base_adjustment_negative: Money = None


class CustomerAddress(Address, kw_only=True):
    """`customer-data-address-interface`: `region` is an object there, and ids mark defaults."""

    id: int | None = None
    region: dict[str, object] | None = None  # type: ignore[assignment]
    default_billing: bool | None = None


class Customer(msgspec.Struct, kw_only=True):
    """`customer-data-customer-interface`: one element of `GET /V1/customers/search` items."""

    id: int
    email: str
    firstname: str | None = None
    lastname: str | None = None
    group_id: int | None = None
    website_id: int | None = None
    store_id: int | None = None
    taxvat: str | None = None
    default_billing: str | None = None
    created_at: str | None = None
    updated_at: str | None = None
    addresses: list[CustomerAddress] = msgspec.field(default_factory=list)


class SearchPage(msgspec.Struct, Generic[T], kw_only=True):
    """The searchCriteria envelope: `total_count` is the full match count (§3.2)."""

    items: list[T] = msgspec.field(default_factory=list)
    total_count: int = 0


ENTITY_TYPES: dict[str, type[msgspec.Struct]] = {
    "orders": Order,
    "invoices": Invoice,
    "creditmemos": Creditmemo,
    "customers": Customer,
}

# One decoder per entity, built once: decoders are reusable and hold the compiled type info.
PAGE_DECODERS: dict[str, msgspec.json.Decoder] = {
    name: msgspec.json.Decoder(SearchPage[cls])  # type: ignore[valid-type]
    for name, cls in ENTITY_TYPES.items()
}
