"""Build internally consistent Magento 2.4 REST payloads, computed the way Magento computes them.

Why this exists: the committed samples, the 200,000-order benchmark and the property tests all
need Magento JSON whose totals add up *exactly* (to the cent) the way a real store's do, so that a
Sage transform that does not balance is our bug and never the fixture's. Real payloads are not
available (magento-rest.md §2, §9), so they are computed here from small declarative specs.

Shape
-----
* `LineSpec` / `OrderSpec` / `CustomerSpec` / `AddressSpec` describe what a shopper bought.
* `build_order(spec)` → one item of `GET /V1/orders` (`sales-data-order-interface`).
* `build_invoice(order, ...)` → one item of `GET /V1/invoices`.
* `build_creditmemo(order, ...)` → one item of `GET /V1/creditmemos`;
  `record_refund(order, memo)` adds the memo's amounts to the order's `*_refunded` fields.
* `build_customer(spec, ...)` → one item of `GET /V1/customers/search`.
* `search_page(...)` wraps items in the searchCriteria envelope (§3.2).
* `random_order_spec(rng, entity_id)` / `customer_spec(customer_id)` generate varied data for the
  benchmark, deterministically from a seed.

Money rules (UK defaults, "round per row", magento-rest.md §6)
-------------------------------------------------------------
Every amount is a `Decimal` rounded half-up to 2 places; floats appear only in the returned JSON
dicts (Magento casts money to PHP float, §3.7). Per money-bearing row, with rate r (percent):

* prices exclude tax: ``row_total = round(price*qty)``; ``tax_before = round(row_total*r)``;
  ``discount = round(row_total*pct)``; ``tax = round((row_total-discount)*r)``;
  ``row_total_incl_tax = row_total + tax_before``; ``discount_tax_compensation = 0``.
* prices include tax ("apply discount on prices including tax", "tax after discount"):
  ``row_total_incl_tax = round(price*qty)``; ``tax_before = round(incl*r/(1+r))``;
  ``row_total = incl - tax_before`` (Magento rounds the tax and derives the net, so net + tax is
  always the gross); ``discount = round(incl*pct)`` (a gross amount);
  ``tax = round((incl-discount)*r/(1+r))``; ``discount_tax_compensation = tax_before - tax``,
  hence ``row_total - discount + dtc + tax == row_total_incl_tax - discount`` exactly.
* shipping follows the same two rules with its own rate and discount percent.

Totals identities (checked by tests/test_samples_schema.py) — note they differ per document:

* order:   grand = subtotal + shipping + tax + discount(<0) + dtc + shipping_dtc
  (order ``discount_tax_compensation_amount`` covers items only);
* invoice: grand = subtotal + shipping + tax + discount(<0) + dtc — Magento's invoice tax
  collector folds the shipping compensation into the header ``discount_tax_compensation_amount``
  *and* still copies it to ``shipping_discount_tax_compensation_amount``, so adding the latter
  again double-counts;
* credit memo: grand = subtotal + shipping + tax + discount(<0) + dtc + adj_positive - adj_negative
  (the shipping compensation is folded into ``dtc``; the memo has no shipping-dtc value).

Composite products (§6.2): a configurable parent carries the money and its simple child is a zero
"dummy"; a dynamic bundle's children carry the money and the parent has a price but no
row_total/tax/discount keys (Magento omits nulls); a fixed bundle's parent carries the money and
its children are zero dummies. Keys whose value would be null are omitted, except the payment's
``account_status`` / ``cc_last4``, which Magento emits as null because their getters are
"required" (see the reference GET /V1/orders/3 sample).

Money outside the core fields (sagesync.transform.documents posts it): ``OrderSpec`` can add
Adobe Commerce payments (gift cards, store credit, reward points, in ``extension_attributes``
under Adobe's names) and a third-party cash-on-delivery surcharge (only in
``extension_attributes``, as strings such as ``"5.3300"``, like the real store in
shared/reference/magento/real). Payments come off the grand total (grand = ... - payments +
surcharge); the first full invoice takes the payments and the surcharge, a credit memo gives the
payments back first (Adobe's collectors), never the surcharge.

Foreign currency: with ``order_currency`` and ``base_to_order_rate`` the spec's prices are in
the base currency and the order-currency prices are ``round(price * rate)``, as Magento converts
them; the document is computed once in each currency (so every identity holds in both) and the
``base_*`` amounts are taken from the base computation. Invoices and credit memos of such an
order are built the same way from each currency's view of the order.

Ids: order item ids are ``entity_id * 100 + n``, invoice/memo item ids ``document_id * 100 + n``,
order addresses ``2*entity_id`` (billing) and ``2*entity_id - 1`` (shipping), customer addresses
``customer_id * 10 + 1`` (+2 for a separate shipping address) — unique, stable and cheap.
"""

from __future__ import annotations

import functools
import random
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Literal, NamedTuple

Json = dict[str, Any]
LineKind = Literal["simple", "configurable", "bundle_dynamic", "bundle_fixed"]

ZERO = Decimal(0)
ONE = Decimal(1)
HUNDRED = Decimal(100)
CENT = Decimal("0.01")
ITEM_ID_STRIDE = 100  # order item ids are entity_id * 100 + n: at most 99 rows per document

STORE_VIEWS: dict[int, str] = {1: "Default Store View", 2: "French Store View"}
PAYMENT_TITLES: dict[str, str] = {
    "checkmo": "Check / Money order",
    "banktransfer": "Bank Transfer Payment",
    "cashondelivery": "Cash On Delivery",
    "purchaseorder": "Purchase Order",
}
_PRODUCT_TYPES: dict[str, str] = {
    "simple": "simple",
    "configurable": "configurable",
    "bundle_dynamic": "bundle",
    "bundle_fixed": "bundle",
}
_STATUS_FOR_STATE: dict[str, str] = {"new": "pending", "canceled": "canceled"}


# --------------------------------------------------------------------------- small helpers


def round2(value: Decimal) -> Decimal:
    """Half-up to the penny, as PHP's round() in Magento's PriceCurrency does."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


@functools.lru_cache(maxsize=8192)
def money_json(value: Decimal) -> int | float:
    """A Decimal as Magento prints it: `12` for whole amounts, else the shortest float (41.67).

    Cached: the benchmark emits millions of amounts drawn from a few thousand distinct values.
    """
    number = float(value)
    return int(number) if number.is_integer() else number


def to_decimal(value: Any) -> Decimal:
    """A JSON number (int/float) or Decimal back to an exact Decimal (via its shortest repr)."""
    if isinstance(value, Decimal):
        return value
    if value is None:
        return ZERO
    return Decimal(str(value))


def magento_time(moment: datetime) -> str:
    """`YYYY-MM-DD HH:MM:SS` in UTC, no offset — Magento's REST timestamp format (§3.6)."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def store_name(store_id: int) -> str:
    """Magento's newline-joined "Website\\nStore\\nView" label."""
    view = STORE_VIEWS.get(store_id, f"Store View {store_id}")
    return f"Main Website\nMain Website Store\n{view}"


def product_id_for(sku: str) -> int:
    """A stable fake catalogue id for a SKU (crc32, so it is the same in every process)."""
    return zlib.crc32(sku.encode()) % 90_000 + 1_000


def _twin(target: Json, key: str, value: Decimal) -> None:
    """Set `key` and `base_key` (rate 1: the order currency is the base currency)."""
    number = money_json(value)
    target["base_" + key] = number
    target[key] = number


# --------------------------------------------------------------------------- specs


@dataclass(frozen=True, slots=True)
class LineSpec:
    """One cart row as the shopper chose it.

    `qty` of a top-level line is the quantity ordered; a child's `qty` is per one parent (the
    bundle option quantity), so the child row's qty_ordered is parent qty x child qty.
    `unit_price` is the catalogue price as entered (gross when the order's prices include tax).
    Kinds: "simple"; "configurable" (money on this row, `sku` is the chosen variant's SKU and the
    single child — auto-created when `children` is empty — is the simple variant, emitted with the
    same SKU); "bundle_dynamic" (children carry price/tax/discount, the parent's own price fields
    are ignored); "bundle_fixed" (money on this row, children are zero-priced components).
    """

    sku: str
    name: str
    qty: Decimal | int = 1
    unit_price: Decimal = ZERO
    tax_percent: Decimal = Decimal(20)
    discount_percent: Decimal = ZERO
    kind: LineKind = "simple"
    children: Sequence[LineSpec] = ()
    product_id: int | None = None


@dataclass(frozen=True, slots=True)
class AddressSpec:
    """A postal address; `region` is free text (UK counties have no Magento region id)."""

    firstname: str
    lastname: str
    street: Sequence[str]
    city: str
    postcode: str
    telephone: str
    country_id: str = "GB"
    company: str | None = None
    region: str | None = None
    vat_id: str | None = None


@dataclass(frozen=True, slots=True)
class CustomerSpec:
    """Who ordered: `customer_id=None` means a guest (group 0, NOT LOGGED IN)."""

    email: str
    firstname: str
    lastname: str
    billing: AddressSpec
    customer_id: int | None = None
    group_id: int = 1
    shipping: AddressSpec | None = None  # None: ship to the billing address

    @property
    def is_guest(self) -> bool:
        """Magento's `customer_is_guest`."""
        return self.customer_id is None


@dataclass(frozen=True, slots=True)
class OrderSpec:
    """One order. Currency is one currency at rate 1 (GBP base = order = global).

    `shipping_amount` is as entered (gross when `prices_include_tax`, Magento's "shipping prices
    include tax" setting is assumed to follow the catalogue setting). A cart-rule discount on
    shipping needs `discount_applies_to_shipping`; its percent defaults to the largest line
    discount. `invoiced`/`shipped` default from `state` ("complete"/"closed" are both).
    """

    entity_id: int
    increment_id: str
    created_at: datetime
    customer: CustomerSpec
    lines: Sequence[LineSpec]
    store_id: int = 1
    shipping_amount: Decimal = ZERO
    shipping_tax_percent: Decimal = Decimal(20)
    shipping_method: str = "flatrate_flatrate"
    shipping_description: str = "Flat Rate - Fixed"
    coupon_code: str | None = None
    discount_description: str | None = None
    discount_applies_to_shipping: bool = False
    shipping_discount_percent: Decimal | None = None
    prices_include_tax: bool = False
    state: str = "complete"
    status: str | None = None
    invoiced: bool | None = None
    shipped: bool | None = None
    payment_method: str = "checkmo"
    updated_at: datetime | None = None
    currency: str = "GBP"
    extra: Mapping[str, Any] = field(default_factory=dict)  # merged last into the order dict
    order_currency: str | None = None  # None: the base `currency`
    base_to_order_rate: Decimal = ONE  # order-currency units per base unit
    # Adobe Commerce payments taken off the total, and a third-party COD surcharge (base amounts)
    gift_card_amount: Decimal = ZERO
    store_credit_amount: Decimal = ZERO
    reward_amount: Decimal = ZERO
    cod_fee: Decimal = ZERO


# Payment -> the extension attribute Adobe Commerce sends it in; in the order payments are taken.
PAYMENT_ATTRIBUTES = (("gift_card_amount", "gift_cards_amount"),
                      ("store_credit_amount", "customer_balance_amount"),
                      ("reward_amount", "reward_currency_amount"))
SURCHARGE = "payment_surcharge_amount"  # the real COD module's attribute (strings "5.3300")


# --------------------------------------------------------------------------- money


class LineAmounts(NamedTuple):
    """The money of one money-bearing row; all 2-dp Decimals, discount positive."""

    price: Decimal
    price_incl_tax: Decimal
    row_total: Decimal
    row_total_incl_tax: Decimal
    tax: Decimal
    discount: Decimal
    discount_tax_compensation: Decimal


def line_amounts(
    unit_price: Decimal, qty: Decimal, tax_percent: Decimal, discount_percent: Decimal,
    prices_include_tax: bool,
) -> LineAmounts:
    """Magento's row-based tax and discount for one row (rules in the module docstring)."""
    if qty <= 0:
        raise ValueError("qty must be positive")
    if prices_include_tax:
        gross = round2(unit_price * qty)
        tax_before = round2(gross * tax_percent / (HUNDRED + tax_percent))
        net = gross - tax_before
        discount = round2(gross * discount_percent / HUNDRED)
        tax = round2((gross - discount) * tax_percent / (HUNDRED + tax_percent))
        return LineAmounts(round2(net / qty), unit_price, net, gross, tax, discount,
                           tax_before - tax)
    net = round2(unit_price * qty)
    tax_before = round2(net * tax_percent / HUNDRED)
    discount = round2(net * discount_percent / HUNDRED)
    tax = round2((net - discount) * tax_percent / HUNDRED)
    gross = net + tax_before
    return LineAmounts(unit_price, round2(gross / qty), net, gross, tax, discount, ZERO)


class ShippingAmounts(NamedTuple):
    """Order shipping money: `amount` is net, `discount` positive (gross when tax-inclusive)."""

    amount: Decimal
    incl_tax: Decimal
    tax: Decimal
    discount: Decimal
    discount_tax_compensation: Decimal


def shipping_amounts(
    entered: Decimal, tax_percent: Decimal, discount_percent: Decimal, prices_include_tax: bool,
) -> ShippingAmounts:
    """The shipping row, computed with the same rules as a product row with qty 1."""
    if entered == 0:
        return ShippingAmounts(ZERO, ZERO, ZERO, ZERO, ZERO)
    row = line_amounts(entered, ONE, tax_percent, discount_percent, prices_include_tax)
    return ShippingAmounts(row.row_total, row.row_total_incl_tax, row.tax, row.discount,
                           row.discount_tax_compensation)


# --------------------------------------------------------------------------- orders


def _order_address(
    address: AddressSpec, kind: str, entity_id: int, order_id: int, email: str,
    customer_id: int | None, customer_address_id: int | None,
) -> Json:
    out: Json = {"address_type": kind, "city": address.city}
    if address.company:
        out["company"] = address.company
    out["country_id"] = address.country_id
    if customer_address_id is not None:
        out["customer_address_id"] = customer_address_id
    if customer_id is not None:
        out["customer_id"] = customer_id
    out["email"] = email
    out["entity_id"] = entity_id
    out["firstname"] = address.firstname
    out["lastname"] = address.lastname
    out["parent_id"] = order_id
    out["postcode"] = address.postcode
    if address.region:
        out["region"] = address.region
    out["street"] = list(address.street)
    out["telephone"] = address.telephone
    if address.vat_id:
        out["vat_id"] = address.vat_id
    return out


class _ItemContext(NamedTuple):
    order_id: int
    store_id: int
    created: str
    updated: str
    invoiced: bool
    shipped: bool
    canceled: bool


def _base_item(
    ctx: _ItemContext, item_id: int, sku: str, name: str, product_type: str, product_id: int,
    qty: Decimal,
) -> Json:
    qty_n = money_json(qty)
    return {
        "amount_refunded": 0,
        "base_amount_refunded": 0,
        "created_at": ctx.created,
        "is_qty_decimal": 0 if qty == int(qty) else 1,
        "is_virtual": 0,
        "item_id": item_id,
        "name": name,
        "no_discount": 0,
        "order_id": ctx.order_id,
        "product_id": product_id,
        "product_type": product_type,
        "qty_canceled": qty_n if ctx.canceled else 0,
        "qty_invoiced": qty_n if ctx.invoiced else 0,
        "qty_ordered": qty_n,
        "qty_refunded": 0,
        "qty_shipped": qty_n if ctx.shipped else 0,
        "sku": sku,
        "store_id": ctx.store_id,
        "updated_at": ctx.updated,
    }


def _money_item(
    ctx: _ItemContext, item_id: int, sku: str, name: str, product_type: str, product_id: int,
    qty: Decimal, money: LineAmounts, tax_percent: Decimal, discount_percent: Decimal,
    original_price: Decimal,
) -> Json:
    item = _base_item(ctx, item_id, sku, name, product_type, product_id, qty)
    if money.discount:
        item["applied_rule_ids"] = "1"
    _twin(item, "discount_amount", money.discount)
    item["discount_percent"] = money_json(discount_percent)
    _twin(item, "discount_tax_compensation_amount", money.discount_tax_compensation)
    _twin(item, "original_price", original_price)
    _twin(item, "price", money.price)
    _twin(item, "price_incl_tax", money.price_incl_tax)
    _twin(item, "row_total", money.row_total)
    _twin(item, "row_total_incl_tax", money.row_total_incl_tax)
    _twin(item, "tax_amount", money.tax)
    item["tax_percent"] = money_json(tax_percent)
    invoiced = ctx.invoiced
    _twin(item, "discount_invoiced", money.discount if invoiced else ZERO)
    _twin(item, "discount_tax_compensation_invoiced",
          money.discount_tax_compensation if invoiced else ZERO)
    _twin(item, "row_invoiced", money.row_total if invoiced else ZERO)
    _twin(item, "tax_invoiced", money.tax if invoiced else ZERO)
    return item


_ZERO_MONEY = LineAmounts(ZERO, ZERO, ZERO, ZERO, ZERO, ZERO, ZERO)


def _dummy_item(
    ctx: _ItemContext, item_id: int, sku: str, name: str, product_id: int, qty: Decimal,
) -> Json:
    """A zero-priced simple row under a configurable or fixed bundle (Magento stores zeros)."""
    return _money_item(ctx, item_id, sku, name, "simple", product_id, qty, _ZERO_MONEY, ZERO,
                       ZERO, ZERO)


def _converted(spec: OrderSpec) -> OrderSpec:
    """The spec in the order currency: every base price times the rate, rounded per price."""
    rate = spec.base_to_order_rate

    def line(item: LineSpec) -> LineSpec:
        return replace(item, unit_price=round2(Decimal(item.unit_price) * rate),
                       children=tuple(line(child) for child in item.children))

    return replace(spec, lines=tuple(line(item) for item in spec.lines),
                   shipping_amount=round2(Decimal(spec.shipping_amount) * rate),
                   gift_card_amount=round2(spec.gift_card_amount * rate),
                   store_credit_amount=round2(spec.store_credit_amount * rate),
                   reward_amount=round2(spec.reward_amount * rate),
                   cod_fee=round2(spec.cod_fee * rate), currency=spec.order_currency or "")


def _merge_currencies(base: Any, foreign: Any) -> Any:
    """`foreign` with every `base_*` value taken from `base`: the same document built twice."""
    if isinstance(foreign, dict) and isinstance(base, dict | None):
        base = base or {}
        # a base amount the base build did not make (a payment too small to survive the
        # conversion) is left out, not copied from the foreign build
        return {k: base[k] if k.startswith("base_") and k in base
                else _merge_currencies(base.get(k), v) for k, v in foreign.items()
                if not (k.startswith("base_") and k not in base and k[5:] in foreign)}
    if isinstance(foreign, list) and isinstance(base, list):
        return [_merge_currencies(b, f) for b, f in zip(base, foreign, strict=True)]
    return foreign


_BASE_TWIN = {"shipping_discount_tax_compensation_amount":
              "base_shipping_discount_tax_compensation_amnt"}


def _currency_view(value: Any) -> Any:
    """A document as if its base amounts were its amounts (to build invoices in base)."""
    if isinstance(value, dict):
        return {k: value[_BASE_TWIN.get(k, "base_" + k)]
                if _BASE_TWIN.get(k, "base_" + k) in value and not isinstance(v, dict | list)
                else _currency_view(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_currency_view(v) for v in value]
    return value


def _is_foreign(order: Json) -> bool:
    return order.get("base_currency_code") != order.get("order_currency_code") or \
        to_decimal(order.get("base_to_order_rate", 1)) != ONE


def build_order(
    spec: OrderSpec, *, include_parent_item: bool = True, include_shipping_items: bool = True,
) -> Json:
    """One `GET /V1/orders` item whose totals satisfy Magento's order identity exactly.

    With `order_currency`, the order is built in each currency and merged (module docstring).
    """
    if spec.order_currency is None or (spec.order_currency == spec.currency
                                       and spec.base_to_order_rate == ONE):
        return _build_order(spec, include_parent_item, include_shipping_items)
    base = _build_order(replace(spec, order_currency=None, base_to_order_rate=ONE),
                        include_parent_item, include_shipping_items)
    order = _merge_currencies(base, _build_order(_converted(spec), include_parent_item,
                                                 include_shipping_items))
    order["base_to_order_rate"] = money_json(spec.base_to_order_rate)
    for key in ("global_currency_code", "store_currency_code"):
        order[key] = spec.currency
    return order


def _build_order(
    spec: OrderSpec, include_parent_item: bool, include_shipping_items: bool,
) -> Json:
    """One order in one currency (rate 1); see `build_order`.

    `include_parent_item` nests the parent row in each child row (`parent_item`, as Magento
    does; the same dict object, so it serialises as a copy). `include_shipping_items` repeats the
    items under `extension_attributes.shipping_assignments[0].items` (again the same list); turn
    both off to keep benchmark payloads smaller.
    """
    incl = spec.prices_include_tax
    canceled = spec.state == "canceled"
    invoiced = spec.invoiced if spec.invoiced is not None else spec.state in ("complete", "closed")
    shipped = spec.shipped if spec.shipped is not None else spec.state in ("complete", "closed")
    if canceled and invoiced:
        raise ValueError("a canceled order cannot be invoiced")
    created = magento_time(spec.created_at)
    updated = magento_time(spec.updated_at or spec.created_at + timedelta(seconds=1))
    ctx = _ItemContext(spec.entity_id, spec.store_id, created, updated, invoiced, shipped, canceled)

    items: list[Json] = []
    subtotal = subtotal_incl = tax = discount = dtc = ZERO
    total_qty = ZERO
    leaf_count = 0
    max_discount = ZERO
    next_id = spec.entity_id * ITEM_ID_STRIDE

    def add(money: LineAmounts) -> None:
        nonlocal subtotal, subtotal_incl, tax, discount, dtc
        subtotal += money.row_total
        subtotal_incl += money.row_total_incl_tax
        tax += money.tax
        discount += money.discount
        dtc += money.discount_tax_compensation

    for line in spec.lines:
        qty = Decimal(line.qty)
        total_qty += qty
        next_id += 1
        parent_id = next_id
        product_id = line.product_id or product_id_for(line.sku)
        if line.kind == "bundle_dynamic":
            if not line.children:
                raise ValueError(f"bundle {line.sku} has no children")
            child_rows = []
            price = price_incl = ZERO
            for child in line.children:
                per_bundle = Decimal(child.qty)
                money = line_amounts(Decimal(child.unit_price), qty * per_bundle,
                                     Decimal(child.tax_percent), Decimal(child.discount_percent),
                                     incl)
                price += money.price * per_bundle
                price_incl += money.price_incl_tax * per_bundle
                max_discount = max(max_discount, Decimal(child.discount_percent))
                child_rows.append((child, qty * per_bundle, money))
            parent = _base_item(ctx, parent_id, line.sku, line.name, "bundle", product_id, qty)
            _twin(parent, "original_price", price)
            _twin(parent, "price", price)
            _twin(parent, "price_incl_tax", price_incl)
            items.append(parent)
            for child, child_qty, money in child_rows:
                next_id += 1
                row = _money_item(ctx, next_id, child.sku, child.name, "simple",
                                  child.product_id or product_id_for(child.sku), child_qty, money,
                                  Decimal(child.tax_percent), Decimal(child.discount_percent),
                                  Decimal(child.unit_price))
                row["parent_item_id"] = parent_id
                if include_parent_item:
                    row["parent_item"] = parent
                items.append(row)
                add(money)
                leaf_count += 1
            continue

        unit_price = Decimal(line.unit_price)
        tax_percent = Decimal(line.tax_percent)
        discount_percent = Decimal(line.discount_percent)
        max_discount = max(max_discount, discount_percent)
        money = line_amounts(unit_price, qty, tax_percent, discount_percent, incl)
        parent = _money_item(ctx, parent_id, line.sku, line.name, _PRODUCT_TYPES[line.kind],
                             product_id, qty, money, tax_percent, discount_percent, unit_price)
        items.append(parent)
        add(money)
        if line.kind == "simple":
            leaf_count += 1
            continue
        children: Sequence[LineSpec] = line.children
        if line.kind == "configurable":
            children = children[:1] or (LineSpec(line.sku, f"{line.name}-{line.sku}"),)
        elif not children:
            raise ValueError(f"fixed bundle {line.sku} has no children")
        for child in children:
            next_id += 1
            sku = line.sku if line.kind == "configurable" else child.sku
            child_qty = qty if line.kind == "configurable" else qty * Decimal(child.qty)
            product = child.product_id or product_id_for(
                child.name if line.kind == "configurable" else child.sku)
            row = _dummy_item(ctx, next_id, sku, child.name, product, child_qty)
            row["parent_item_id"] = parent_id
            if include_parent_item:
                row["parent_item"] = parent
            items.append(row)
            leaf_count += 1

    ship_discount_pct = ZERO
    if spec.discount_applies_to_shipping:
        ship_discount_pct = (spec.shipping_discount_percent
                             if spec.shipping_discount_percent is not None else max_discount)
    ship = shipping_amounts(Decimal(spec.shipping_amount), Decimal(spec.shipping_tax_percent),
                            Decimal(ship_discount_pct), incl)
    tax_total = tax + ship.tax
    discount_total = -(discount + ship.discount)
    grand = (subtotal + ship.amount + tax_total + discount_total + dtc
             + ship.discount_tax_compensation) + spec.cod_fee
    extension: Json = {}
    for attribute, name in PAYMENT_ATTRIBUTES:
        paid = Decimal(getattr(spec, attribute))
        if paid:
            if paid > grand:
                raise ValueError(f"{attribute} {paid} is more than the order's total {grand}")
            _twin(extension, name, paid)
            grand -= paid
    if spec.cod_fee:
        _surcharge(extension, spec.cod_fee)

    customer = spec.customer
    email = customer.email
    billing_id = 2 * spec.entity_id
    shipping_id = billing_id - 1
    cust_id = customer.customer_id
    bill_addr_ref = cust_id * 10 + 1 if cust_id is not None else None
    ship_addr_ref = (bill_addr_ref if customer.shipping is None or bill_addr_ref is None
                     else bill_addr_ref + 1)

    order: Json = {"applied_rule_ids": "1"} if (discount or ship.discount) else {}
    order["base_currency_code"] = spec.currency
    _twin(order, "discount_amount", discount_total)
    _twin(order, "grand_total", grand)
    _twin(order, "discount_tax_compensation_amount", dtc)
    _twin(order, "shipping_amount", ship.amount)
    _twin(order, "shipping_discount_amount", ship.discount)
    order["base_shipping_discount_tax_compensation_amnt"] = money_json(
        ship.discount_tax_compensation)
    order["shipping_discount_tax_compensation_amount"] = money_json(ship.discount_tax_compensation)
    _twin(order, "shipping_incl_tax", ship.incl_tax)
    _twin(order, "shipping_tax_amount", ship.tax)
    _twin(order, "subtotal", subtotal)
    _twin(order, "subtotal_incl_tax", subtotal_incl)
    _twin(order, "tax_amount", tax_total)
    order["base_to_global_rate"] = 1
    order["base_to_order_rate"] = 1
    _twin(order, "total_qty_ordered", total_qty)
    order["billing_address_id"] = billing_id
    if spec.coupon_code:
        order["coupon_code"] = spec.coupon_code
    order["created_at"] = created
    order["customer_email"] = email
    order["customer_firstname"] = customer.firstname
    order["customer_group_id"] = 0 if cust_id is None else customer.group_id
    if cust_id is not None:
        order["customer_id"] = cust_id
    order["customer_is_guest"] = 1 if cust_id is None else 0
    order["customer_lastname"] = customer.lastname
    order["customer_note_notify"] = 1
    description = spec.discount_description or spec.coupon_code
    if description and (discount or ship.discount):
        order["discount_description"] = description
    order["email_sent"] = 1
    order["entity_id"] = spec.entity_id
    order["global_currency_code"] = spec.currency
    order["increment_id"] = spec.increment_id
    order["is_virtual"] = 0
    order["order_currency_code"] = spec.currency
    order["shipping_description"] = spec.shipping_description
    order["state"] = spec.state
    order["status"] = spec.status or _STATUS_FOR_STATE.get(spec.state, spec.state)
    order["store_currency_code"] = spec.currency
    order["store_id"] = spec.store_id
    order["store_name"] = store_name(spec.store_id)
    order["store_to_base_rate"] = 0
    order["store_to_order_rate"] = 0
    order["total_item_count"] = leaf_count
    order["updated_at"] = updated
    if canceled:
        _twin(order, "discount_canceled", discount + ship.discount)
        _twin(order, "shipping_canceled", ship.amount)
        _twin(order, "subtotal_canceled", subtotal)
        _twin(order, "tax_canceled", tax_total)
        _twin(order, "total_canceled", grand)
    else:
        _twin(order, "total_due", ZERO if invoiced else grand)
    if invoiced:
        _twin(order, "discount_invoiced", discount_total)
        _twin(order, "discount_tax_compensation_invoiced", dtc)
        _twin(order, "shipping_invoiced", ship.amount)
        _twin(order, "subtotal_invoiced", subtotal)
        _twin(order, "tax_invoiced", tax_total)
        _twin(order, "total_invoiced", grand)
        _twin(order, "total_paid", grand)
    order["items"] = items

    billing = _order_address(customer.billing, "billing", billing_id, spec.entity_id, email,
                             cust_id, bill_addr_ref)
    order["billing_address"] = billing
    title = PAYMENT_TITLES.get(spec.payment_method, spec.payment_method)
    payment: Json = {
        "account_status": None,
        "additional_information": [title],
        "amount_ordered": money_json(grand),
        "base_amount_ordered": money_json(grand),
        "base_shipping_amount": money_json(ship.amount),
        "cc_last4": None,
        "entity_id": spec.entity_id,
        "method": spec.payment_method,
        "parent_id": spec.entity_id,
        "shipping_amount": money_json(ship.amount),
    }
    if invoiced:
        _twin(payment, "amount_paid", grand)
        _twin(payment, "shipping_captured", ship.amount)
    if canceled:
        _twin(payment, "amount_canceled", grand)
    order["payment"] = payment
    order["status_histories"] = []

    shipping_address = _order_address(customer.shipping or customer.billing, "shipping",
                                      shipping_id, spec.entity_id, email, cust_id, ship_addr_ref)
    total: Json = {}
    _twin(total, "shipping_amount", ship.amount)
    _twin(total, "shipping_discount_amount", ship.discount)
    total["base_shipping_discount_tax_compensation_amnt"] = money_json(
        ship.discount_tax_compensation)
    total["shipping_discount_tax_compensation_amount"] = money_json(
        ship.discount_tax_compensation)
    _twin(total, "shipping_incl_tax", ship.incl_tax)
    _twin(total, "shipping_tax_amount", ship.tax)
    if invoiced:
        _twin(total, "shipping_invoiced", ship.amount)
    order["extension_attributes"] = {
        "shipping_assignments": [{
            "shipping": {
                "address": shipping_address,
                "method": spec.shipping_method,
                "total": total,
            },
            "items": items if include_shipping_items else [],
        }],
        "payment_additional_info": [{"key": "method_title", "value": title}],
        **extension,
    }
    if spec.extra:
        order.update(spec.extra)
    return order


def _surcharge(target: Json, amount: Decimal) -> None:
    """The third-party COD surcharge as the real module sends it: strings, four places."""
    text = f"{amount:.4f}"
    target.update({SURCHARGE: text, "base_" + SURCHARGE: text,
                   "payment_surcharge_tax_amount": "0.0000",
                   "base_payment_surcharge_tax_amount": "0.0000",
                   "payment_surcharge_description": "Cash On Delivery Charges"})


def _take_payments(order: Json, total: Decimal, target: Json) -> Decimal:
    """Put the order's payments (in order, each up to what is left) on a document; the rest."""
    extension = order.get("extension_attributes", {})
    for _, name in PAYMENT_ATTRIBUTES:
        paid = min(to_decimal(extension.get(name)), total)
        if paid > 0:
            _twin(target, name, paid)
            total -= paid
    return total


# --------------------------------------------------------------------------- invoices, memos


def _money_rows(items: Sequence[Json]) -> tuple[dict[int, Json], set[int]]:
    """Index the order rows and find the ones that carry money (not Magento "dummies")."""
    by_id = {item["item_id"]: item for item in items}
    money: set[int] = set()
    for item in items:
        parent_id = item.get("parent_item_id")
        if parent_id is None:
            if "row_total" in item:  # a dynamic bundle parent has no row_total key
                money.add(item["item_id"])
            continue
        parent = by_id[parent_id]
        if parent.get("product_type") == "bundle" and "row_total" not in parent:
            money.add(item["item_id"])
    return by_id, money


def _portion(value: Any, qty: Decimal, ordered: Decimal) -> Decimal:
    """A row amount for `qty` of `ordered`: exact when whole, else pro rata rounded to 2 dp."""
    amount = to_decimal(value)
    if qty == ordered:
        return amount
    return round2(amount * qty / ordered)


def _document_rows(
    order: Json, qty_by_top: Mapping[int, Any] | None, doc_id: int, *, with_cost: bool,
) -> tuple[list[Json], dict[str, Decimal]]:
    """Invoice / memo rows for the chosen top-level quantities, plus the summed row money."""
    items: list[Json] = order["items"]
    by_id, money_ids = _money_rows(items)
    sums = dict.fromkeys(("row_total", "row_total_incl_tax", "tax", "discount", "dtc", "qty"),
                         ZERO)
    rows: list[Json] = []
    next_id = doc_id * ITEM_ID_STRIDE
    for item in items:
        parent_id = item.get("parent_item_id")
        top = item if parent_id is None else by_id[parent_id]
        top_ordered = to_decimal(top["qty_ordered"])
        top_qty = (top_ordered if qty_by_top is None
                   else to_decimal(qty_by_top.get(top["item_id"], ZERO)))
        if top_qty <= 0:
            continue
        if top_qty > top_ordered:
            raise ValueError(f"item {top['item_id']}: qty {top_qty} > ordered {top_ordered}")
        ordered = to_decimal(item["qty_ordered"])
        qty = ordered if top_qty == top_ordered else ordered * top_qty / top_ordered
        next_id += 1
        row: Json = {}
        if with_cost:
            row["base_cost"] = 0
        if item["item_id"] in money_ids:
            row_total = _portion(item["row_total"], qty, ordered)
            incl = _portion(item["row_total_incl_tax"], qty, ordered)
            tax = _portion(item["tax_amount"], qty, ordered)
            discount = _portion(item["discount_amount"], qty, ordered)
            dtc = _portion(item["discount_tax_compensation_amount"], qty, ordered)
            _twin(row, "discount_amount", discount)
            _twin(row, "discount_tax_compensation_amount", dtc)
            row["base_price"] = row["price"] = item["price"]
            row["base_price_incl_tax"] = row["price_incl_tax"] = item["price_incl_tax"]
            _twin(row, "row_total", row_total)
            _twin(row, "row_total_incl_tax", incl)
            _twin(row, "tax_amount", tax)
            sums["row_total"] += row_total
            sums["row_total_incl_tax"] += incl
            sums["tax"] += tax
            sums["discount"] += discount
            sums["dtc"] += dtc
        else:
            row["base_price"] = row["price"] = item.get("price", 0)
            if "row_total" not in item and "price_incl_tax" in item:  # dynamic bundle parent
                row["base_price_incl_tax"] = row["price_incl_tax"] = item["price_incl_tax"]
        row["entity_id"] = next_id
        row["name"] = item["name"]
        row["order_item_id"] = item["item_id"]
        row["parent_id"] = doc_id
        row["product_id"] = item["product_id"]
        row["qty"] = money_json(qty)
        row["sku"] = item["sku"]
        sums["qty"] += qty
        rows.append(row)
    if not rows:
        raise ValueError("no rows selected")
    return rows, sums


def _document_header(order: Json, entity_id: int, increment_id: str, created_at: datetime) -> Json:
    currency = order["base_currency_code"]
    return {
        "base_currency_code": currency,
        "base_to_global_rate": order.get("base_to_global_rate", 1),
        "base_to_order_rate": order.get("base_to_order_rate", 1),
        "billing_address_id": order["billing_address_id"],
        "created_at": magento_time(created_at),
        "email_sent": 1,
        "entity_id": entity_id,
        "global_currency_code": order.get("global_currency_code", currency),
        "increment_id": increment_id,
        "order_currency_code": order.get("order_currency_code", currency),
        "order_id": order["entity_id"],
        "shipping_address_id": order["billing_address_id"] - 1,
        "store_currency_code": order.get("store_currency_code", currency),
        "store_id": order["store_id"],
        "store_to_base_rate": 0,
        "store_to_order_rate": 0,
    }


def build_invoice(
    order: Json, invoice_entity_id: int, increment_id: str, created_at: datetime,
    line_qty: Mapping[int, Any] | None = None, include_shipping: bool = True,
) -> Json:
    """One `GET /V1/invoices` item for `order`; see `_build_invoice`."""
    args = (invoice_entity_id, increment_id, created_at, line_qty, include_shipping)
    if not _is_foreign(order):
        return _build_invoice(order, *args)
    return _merge_currencies(_build_invoice(_currency_view(order), *args),
                             _build_invoice(order, *args))


def _build_invoice(
    order: Json, invoice_entity_id: int, increment_id: str, created_at: datetime,
    line_qty: Mapping[int, Any] | None = None, include_shipping: bool = True,
) -> Json:
    """One `GET /V1/invoices` item for `order` (by default all of it, shipping included).

    `line_qty` maps top-level order `item_id` → qty to invoice (children follow their parent);
    a part-quantity row is pro-rated and rounded, as Magento does for a first partial invoice.
    The header discount is negative and includes the shipping discount (invoices have no
    `shipping_discount_amount`); the header discount-tax-compensation includes the shipping one
    (see the module docstring for the resulting identity).
    """
    if order.get("state") == "canceled":
        raise ValueError("a canceled order cannot be invoiced")
    rows, sums = _document_rows(order, line_qty, invoice_entity_id, with_cost=False)
    ship = ship_tax = ship_incl = ship_discount = ship_dtc = ZERO
    if include_shipping:
        ship = to_decimal(order.get("shipping_amount"))
        ship_tax = to_decimal(order.get("shipping_tax_amount"))
        ship_incl = to_decimal(order.get("shipping_incl_tax"))
        ship_discount = to_decimal(order.get("shipping_discount_amount"))
        ship_dtc = to_decimal(order.get("shipping_discount_tax_compensation_amount"))
    tax = sums["tax"] + ship_tax
    discount = -(sums["discount"] + ship_discount)
    dtc = sums["dtc"] + ship_dtc
    grand = sums["row_total"] + ship + tax + discount + dtc
    extension: Json = {}
    surcharge = to_decimal(order.get("extension_attributes", {}).get(SURCHARGE))
    if surcharge and line_qty is None and include_shipping:  # the first, full invoice
        _surcharge(extension, surcharge)
        grand += surcharge
    grand = _take_payments(order, grand, extension)

    invoice = _document_header(order, invoice_entity_id, increment_id, created_at)
    invoice["can_void_flag"] = 0
    _twin(invoice, "discount_amount", discount)
    if "discount_description" in order:
        invoice["discount_description"] = order["discount_description"]
    _twin(invoice, "discount_tax_compensation_amount", dtc)
    _twin(invoice, "grand_total", grand)
    _twin(invoice, "shipping_amount", ship)
    invoice["base_shipping_discount_tax_compensation_amnt"] = money_json(ship_dtc)
    invoice["shipping_discount_tax_compensation_amount"] = money_json(ship_dtc)
    _twin(invoice, "shipping_incl_tax", ship_incl)
    _twin(invoice, "shipping_tax_amount", ship_tax)
    invoice["state"] = 2
    _twin(invoice, "subtotal", sums["row_total"])
    _twin(invoice, "subtotal_incl_tax", sums["row_total_incl_tax"])
    _twin(invoice, "tax_amount", tax)
    invoice["total_qty"] = money_json(sums["qty"])
    invoice["updated_at"] = magento_time(created_at + timedelta(seconds=1))
    invoice["items"] = rows
    invoice["comments"] = []
    if extension:
        invoice["extension_attributes"] = extension
    return invoice


def build_creditmemo(
    order: Json, entity_id: int, increment_id: str, created_at: datetime,
    invoice_id: int | None = None, lines: Mapping[int, Any] | None = None,
    refund_shipping: Decimal | None = None, adjustment_positive: Decimal | int = 0,
    adjustment_negative: Decimal | int = 0, creditmemo_status: int | None = None,
) -> Json:
    """One `GET /V1/creditmemos` item refunding (part of) a fully invoiced order.

    `lines` maps top-level order `item_id` → qty to refund (default: every row, fully).
    `refund_shipping` is the net shipping to refund (the memo's `shipping_amount`; None/0 = none);
    its tax, discount and discount-tax-compensation are pro-rated from the order. Adjustments
    are positive numbers: `adjustment_positive` is an extra refund, `adjustment_negative` a fee
    kept back. `creditmemo_status` is left out unless given: core Magento does not set it, so
    consumers must read `state` (2 = refunded).
    """
    args = (entity_id, increment_id, created_at, invoice_id, lines, refund_shipping,
            adjustment_positive, adjustment_negative, creditmemo_status)
    if not _is_foreign(order):
        return _build_creditmemo(order, *args)
    rate = to_decimal(order.get("base_to_order_rate", 1))
    ship = to_decimal(refund_shipping)
    base_ship = (to_decimal(order.get("base_shipping_amount"))
                 if ship == to_decimal(order.get("shipping_amount"))
                 else min(round2(ship / rate), to_decimal(order.get("base_shipping_amount"))))
    base_args = (entity_id, increment_id, created_at, invoice_id, lines, base_ship,
                 round2(Decimal(adjustment_positive) / rate),
                 round2(Decimal(adjustment_negative) / rate), creditmemo_status)
    return _merge_currencies(_build_creditmemo(_currency_view(order), *base_args),
                             _build_creditmemo(order, *args))


def _build_creditmemo(
    order: Json, entity_id: int, increment_id: str, created_at: datetime,
    invoice_id: int | None = None, lines: Mapping[int, Any] | None = None,
    refund_shipping: Decimal | None = None, adjustment_positive: Decimal | int = 0,
    adjustment_negative: Decimal | int = 0, creditmemo_status: int | None = None,
) -> Json:
    """One credit memo in one currency; see `build_creditmemo`."""
    if not any(to_decimal(item.get("qty_invoiced")) for item in order["items"]):
        raise ValueError("Magento only refunds invoiced orders")
    rows, sums = _document_rows(order, lines, entity_id, with_cost=True)
    ship = to_decimal(refund_shipping)
    order_ship = to_decimal(order.get("shipping_amount"))
    if ship < 0 or ship > order_ship:
        raise ValueError(f"refund_shipping {ship} outside 0..{order_ship}")
    ship_tax = ship_incl = ship_discount = ship_dtc = ZERO
    if ship:
        ship_tax = _portion(order.get("shipping_tax_amount"), ship, order_ship)
        ship_incl = _portion(order.get("shipping_incl_tax"), ship, order_ship)
        ship_discount = _portion(order.get("shipping_discount_amount"), ship, order_ship)
        ship_dtc = _portion(order.get("shipping_discount_tax_compensation_amount"), ship,
                            order_ship)
    positive = Decimal(adjustment_positive)
    negative = Decimal(adjustment_negative)
    if positive < 0 or negative < 0:
        raise ValueError("adjustments are positive numbers")
    tax = sums["tax"] + ship_tax
    discount = -(sums["discount"] + ship_discount)
    dtc = sums["dtc"] + ship_dtc
    grand = sums["row_total"] + ship + tax + discount + dtc + positive - negative
    extension: Json = {}
    grand = _take_payments(order, grand, extension)  # Adobe refunds the payments first

    memo = _document_header(order, entity_id, increment_id, created_at)
    _twin(memo, "adjustment", positive - negative)
    _twin(memo, "adjustment_negative", negative)
    _twin(memo, "adjustment_positive", positive)
    if creditmemo_status is not None:
        memo["creditmemo_status"] = creditmemo_status
    _twin(memo, "discount_amount", discount)
    if "discount_description" in order:
        memo["discount_description"] = order["discount_description"]
    _twin(memo, "discount_tax_compensation_amount", dtc)
    _twin(memo, "grand_total", grand)
    if invoice_id is not None:
        memo["invoice_id"] = invoice_id
    _twin(memo, "shipping_amount", ship)
    _twin(memo, "shipping_incl_tax", ship_incl)
    _twin(memo, "shipping_tax_amount", ship_tax)
    memo["state"] = 2
    _twin(memo, "subtotal", sums["row_total"])
    _twin(memo, "subtotal_incl_tax", sums["row_total_incl_tax"])
    _twin(memo, "tax_amount", tax)
    memo["updated_at"] = magento_time(created_at + timedelta(seconds=1))
    memo["items"] = rows
    memo["comments"] = []
    if extension:
        memo["extension_attributes"] = extension
    return memo


def record_refund(order: Json, memo: Json) -> None:
    """Add a credit memo's amounts to the order's `*_refunded` fields, as Magento does on save.

    Only the fields a reconciler reads are maintained; state/status are the caller's choice.
    """
    def bump(target: Json, key: str, amount: Decimal) -> None:
        _twin(target, key, to_decimal(target.get(key)) + amount)

    by_id = {item["item_id"]: item for item in order["items"]}
    for row in memo["items"]:
        item = by_id[row["order_item_id"]]
        item["qty_refunded"] = money_json(to_decimal(item.get("qty_refunded")) + to_decimal(
            row["qty"]))
        if "row_total" in row:
            bump(item, "amount_refunded", to_decimal(row["row_total"]))
            bump(item, "tax_refunded", to_decimal(row["tax_amount"]))
            bump(item, "discount_refunded", to_decimal(row["discount_amount"]))
            bump(item, "discount_tax_compensation_refunded",
                 to_decimal(row["discount_tax_compensation_amount"]))
    grand = to_decimal(memo["grand_total"])
    bump(order, "adjustment_negative", to_decimal(memo.get("adjustment_negative")))
    bump(order, "adjustment_positive", to_decimal(memo.get("adjustment_positive")))
    bump(order, "discount_refunded", to_decimal(memo.get("discount_amount")))
    bump(order, "discount_tax_compensation_refunded",
         to_decimal(memo.get("discount_tax_compensation_amount")))
    bump(order, "shipping_refunded", to_decimal(memo.get("shipping_amount")))
    bump(order, "shipping_tax_refunded", to_decimal(memo.get("shipping_tax_amount")))
    bump(order, "subtotal_refunded", to_decimal(memo.get("subtotal")))
    bump(order, "tax_refunded", to_decimal(memo.get("tax_amount")))
    bump(order, "total_offline_refunded", grand)
    bump(order, "total_refunded", grand)
    bump(order["payment"], "amount_refunded", grand)


# --------------------------------------------------------------------------- customers, pages


def customer_address_ids(customer_id: int, has_shipping: bool) -> tuple[int, int]:
    """(default billing id, default shipping id) of a customer built by `build_customer`."""
    billing = customer_id * 10 + 1
    return billing, billing + 1 if has_shipping else billing


def build_customer(
    spec: CustomerSpec, *, created_at: datetime, updated_at: datetime | None = None,
    store_id: int = 1, website_id: int = 1, created_in: str | None = None,
    is_subscribed: bool = False,
) -> Json:
    """One `GET /V1/customers/search` item for a registered `spec` (ids as in `build_order`)."""
    if spec.customer_id is None:
        raise ValueError("guests are not customers")
    cid = spec.customer_id
    billing_id, shipping_id = customer_address_ids(cid, spec.shipping is not None)
    addresses = [_customer_address(spec.billing, billing_id, cid, True, spec.shipping is None)]
    if spec.shipping is not None:
        addresses.append(_customer_address(spec.shipping, shipping_id, cid, False, True))
    return {
        "id": cid,
        "group_id": spec.group_id,
        "default_billing": str(billing_id),
        "default_shipping": str(shipping_id),
        "created_at": magento_time(created_at),
        "updated_at": magento_time(updated_at or created_at),
        "created_in": created_in or STORE_VIEWS.get(store_id, f"Store View {store_id}"),
        "email": spec.email,
        "firstname": spec.firstname,
        "lastname": spec.lastname,
        "store_id": store_id,
        "website_id": website_id,
        "addresses": addresses,
        "disable_auto_group_change": 0,
        "extension_attributes": {"is_subscribed": is_subscribed},
    }


def _customer_address(
    address: AddressSpec, address_id: int, customer_id: int, default_billing: bool,
    default_shipping: bool,
) -> Json:
    """A customer address; a free-text region comes back as code = name, id 0 (Magento)."""
    out: Json = {"id": address_id, "customer_id": customer_id}
    if address.region:
        out["region"] = {"region_code": address.region, "region": address.region, "region_id": 0}
        out["region_id"] = 0
    out["country_id"] = address.country_id
    out["street"] = list(address.street)
    if address.company:
        out["company"] = address.company
    out["telephone"] = address.telephone
    out["postcode"] = address.postcode
    out["city"] = address.city
    out["firstname"] = address.firstname
    out["lastname"] = address.lastname
    if address.vat_id:
        out["vat_id"] = address.vat_id
    out["default_shipping"] = default_shipping
    out["default_billing"] = default_billing
    return out


def search_page(
    items: list[Json], page: int, page_size: int, total_count: int,
    filter_groups: list[Json] | None = None, sort_field: str = "entity_id",
) -> Json:
    """The searchCriteria response envelope; `total_count` is the full match count (§3.2)."""
    return {
        "items": items,
        "search_criteria": {
            "filter_groups": filter_groups or [],
            "sort_orders": [{"field": sort_field, "direction": "ASC"}],
            "page_size": page_size,
            "current_page": page,
        },
        "total_count": total_count,
    }


def paginate(items: Sequence[Json], page_size: int) -> list[list[Json]]:
    """Split `items` into consecutive pages of `page_size` (the last one may be shorter)."""
    return [list(items[i:i + page_size]) for i in range(0, len(items), page_size)] or [[]]


# --------------------------------------------------------------------------- random data


def _d(text: str | int) -> Decimal:
    return Decimal(text)


# (sku, name, price, tax %): a small Luma-flavoured UK catalogue with zero- and reduced-rate goods.
SIMPLE_PRODUCTS: tuple[tuple[str, str, Decimal, Decimal], ...] = (
    ("24-WG084", "Sprite Foam Yoga Brick", _d("5.00"), _d(20)),
    ("24-WG088", "Sprite Foam Roller", _d("19.00"), _d(20)),
    ("24-MB01", "Joust Duffle Bag", _d("34.00"), _d(20)),
    ("24-UG06", "Affirm Water Bottle", _d("7.00"), _d(20)),
    ("24-WB03", "Driven Backpack", _d("36.00"), _d(20)),
    ("MS-TEE-CLASSIC-M", 'Tee "Classic" Fit', _d("15.00"), _d(20)),
    ("HE-LED-10", "Energy Saving LED Bulb, 10W", _d("4.99"), _d(5)),
    ("HE-INS-ROLL", "Loft Insulation Roll, 200mm", _d("24.50"), _d(5)),
    ("BK-1001", "The Complete Yoga Handbook, 2nd Edition", _d("12.99"), _d(0)),
    ("KD-TEE-7", "Kids' Organic Tee (Age 7)", _d("8.50"), _d(0)),
)
# (variant sku, product name, variant name, price)
CONFIGURABLE_PRODUCTS: tuple[tuple[str, str, str, Decimal], ...] = (
    ("MH01-S-Gray", "Chaz Kangeroo Hoodie", "Chaz Kangeroo Hoodie-S-Gray", _d("52.00")),
    ("MH01-M-Black", "Chaz Kangeroo Hoodie", "Chaz Kangeroo Hoodie-M-Black", _d("52.00")),
    ("WSH12-28-Red", "Erika Running Short", "Erika Running Short-28-Red", _d("45.00")),
    ("WS12-M-Orange", "Radiant Tee", "Radiant Tee-M-Orange", _d("22.00")),
    ("WS03-XS-Red", "Iris Workout Top", "Iris Workout Top-XS-Red", _d("29.00")),
)
_KIT_CHILDREN = (("24-WG084", "Sprite Foam Yoga Brick", _d("5.00")),
                 ("24-WG088", "Sprite Foam Roller", _d("19.00")),
                 ("24-WG082-blue", "Sprite Stasis Ball 65 cm", _d("27.00")),
                 ("24-WG086", "Sprite Yoga Strap 8 foot", _d("17.00")))
_FIRST = ("Jane", "Oliver", "Amelia", "Harry", "Isla", "Jack", "Zoë", "Siobhán", "Rhys", "Priya",
          "Mohammed", "Chloé", "Niamh", "Tomasz", "Aoife", "Kwame")
_LAST = ("Whitfield", "O'Neill", "Smith", "Jones", "Patel", "Ní Bhriain", "Davies", "Evans",
         "Nowak", "Ahmed", "Fitzgerald-Hughes", "MacLeod", "Okafor", "Brontë", "Wright", "Lee")
_TOWNS = (("London", "Greater London", "SW1A 1AA"), ("Manchester", "Greater Manchester", "M1 1AE"),
          ("Leeds", "West Yorkshire", "LS1 4AP"), ("Cardiff", "South Glamorgan", "CF10 1EP"),
          ("Edinburgh", "Midlothian", "EH1 1YZ"), ("Belfast", "County Antrim", "BT1 5GS"),
          ("Bristol", "Bristol", "BS1 4DJ"), ("Norwich", "Norfolk", "NR2 1NH"))
_STREETS = ("High Street", "Station Road", "Church Lane", "Victoria Road", "Mill Lane",
            "Park Avenue", "King's Road", "The Green")
_COMPANIES = (None, None, None, "Acme Widgets Ltd", "Smith & Sons, Builders",
              'The "Yoga" Studio LLP', "Ó Briain Consulting")
DEFAULT_START = datetime(2026, 11, 1, tzinfo=UTC)


def _random_address(rng: random.Random, first: str, last: str) -> AddressSpec:
    town, county, postcode = rng.choice(_TOWNS)
    street = [f"{rng.randint(1, 240)} {rng.choice(_STREETS)}"]
    if rng.random() < 0.3:
        street.insert(0, f"Flat {rng.randint(1, 40)}")
    return AddressSpec(first, last, tuple(street), town, postcode,
                       f"0{rng.choice(('20 7946', '161 496', '113 496', '29 2018'))} "
                       f"{rng.randint(0, 999):03d}{rng.randint(0, 9)}",
                       company=rng.choice(_COMPANIES), region=county)


@functools.lru_cache(maxsize=65_536)
def customer_spec(customer_id: int) -> CustomerSpec:
    """The registered customer with this id, the same every time (seeded by the id)."""
    rng = random.Random(customer_id * 7919)
    first, last = rng.choice(_FIRST), rng.choice(_LAST)
    return CustomerSpec(f"customer{customer_id}@example.co.uk", first, last,
                        _random_address(rng, first, last), customer_id=customer_id)


def _random_line(rng: random.Random, discount: Decimal) -> LineSpec:
    roll = rng.random()
    qty = rng.choice((1, 1, 1, 1, 2, 2, 3, 5))
    if roll < 0.55:
        sku, name, price, rate = rng.choice(SIMPLE_PRODUCTS)
        return LineSpec(sku, name, qty, price, rate, discount)
    if roll < 0.8:
        sku, name, child_name, price = rng.choice(CONFIGURABLE_PRODUCTS)
        return LineSpec(sku, name, qty, price, _d(20), discount, "configurable",
                        (LineSpec(sku, child_name),))
    if roll < 0.92:
        picks = rng.sample(_KIT_CHILDREN, rng.randint(2, 4))
        children = tuple(LineSpec(sku, name, rng.choice((1, 1, 2)), price, _d(20), discount)
                         for sku, name, price in picks)
        return LineSpec("24-WG080-" + "-".join(c.sku for c in children),
                        "Sprite Yoga Companion Kit", qty, kind="bundle_dynamic",
                        children=children)
    picks = rng.sample(_KIT_CHILDREN, 2)
    return LineSpec("YS-KIT-01", "Home Yoga Starter Set", qty, _d("39.99"), _d(20), discount,
                    "bundle_fixed", tuple(LineSpec(sku, name, 1) for sku, name, _ in picks))


def random_order_spec(
    rng: random.Random, entity_id: int, *, start: datetime = DEFAULT_START,
    span: timedelta = timedelta(days=30), customer_count: int = 5_000,
    guest_share: float = 0.35,
) -> OrderSpec:
    """A varied, valid order spec drawn from `rng` (all line kinds, 20/5/0 % VAT, discounts,
    tax-inclusive prices, guests and registered customers, free shipping, stores 1 and 2)."""
    store_id = 2 if rng.random() < 0.15 else 1
    increment_id = (f"2{entity_id:08d}" if store_id == 2 else f"{entity_id:09d}")
    created = start + timedelta(seconds=rng.randrange(int(span.total_seconds())))
    if rng.random() < guest_share:
        first, last = rng.choice(_FIRST), rng.choice(_LAST)
        customer = CustomerSpec(f"guest{entity_id}@example.com", first, last,
                                _random_address(rng, first, last))
    else:
        customer = customer_spec(rng.randint(1, customer_count))
    coupon = rng.random() < 0.2
    discount = rng.choice((_d(5), _d(10), _d(15), _d("12.5"), _d(20))) if coupon else ZERO
    lines = tuple(_random_line(rng, discount) for _ in range(rng.choice((1, 1, 2, 2, 3, 4, 6))))
    free = rng.random() < 0.15
    shipping = ZERO if free else rng.choice((_d("3.95"), _d("4.99"), _d("5.00"), _d("9.99")))
    roll = rng.random()
    state, invoiced = (("complete", True) if roll < 0.8 else ("processing", True) if roll < 0.88
                       else ("processing", False) if roll < 0.95 else ("canceled", False))
    return OrderSpec(
        entity_id=entity_id,
        increment_id=increment_id,
        created_at=created,
        customer=customer,
        lines=lines,
        store_id=store_id,
        shipping_amount=shipping,
        shipping_method="freeshipping_freeshipping" if free else "flatrate_flatrate",
        shipping_description="Free Shipping - Free" if free else "Flat Rate - Fixed",
        coupon_code=f"SAVE{discount}" if coupon else None,
        discount_applies_to_shipping=coupon and rng.random() < 0.5,
        prices_include_tax=rng.random() < 0.25,
        state=state,
        invoiced=invoiced,
        payment_method=rng.choice(("checkmo", "banktransfer", "cashondelivery")),
        updated_at=created + timedelta(minutes=rng.randint(1, 600)),
    )
