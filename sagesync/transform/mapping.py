"""Recipe mapping tables read from the user's CSV files: nominal codes and customer accounts.

Nominal rules (`[mapping] nominals_csv`), header `kind,value,nominal`, first match wins in this
order: `sku` (exact), `sku_prefix` (longest prefix), `category`, `attribute_set`, then the
default sales nominal. Categories and attribute sets come from `[mapping] products_csv`: the
file Magento's System > Data Transfer > Export writes for products (columns `sku`,
`attribute_set_code`, `categories`, the latter a comma-separated list of paths such as
`Default Category/Gear/Bags`). A `category` rule matches a path, a path prefix, or a name.
Customer accounts (`[mapping] customers_csv`), header `email,account_ref`: web customers who
already have a Sage account. Both files' codes are checked by the posting product's own rules
(`Capabilities.code_rule`); without a product, by Sage 50 UK's.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from pathlib import Path

from sagesync.errors import RecipeError
from sagesync.model.words import nouns
from sagesync.sage.products.base import Capabilities

NOMINAL_KINDS = ("sku", "sku_prefix", "category", "attribute_set")
_NOMINAL = re.compile(r"[A-Za-z0-9]{1,8}")
_ACCOUNT = re.compile(r"[A-Z0-9]{1,8}")


def read_csv_rows(path: Path, required: tuple[str, ...]) -> list[tuple[int, dict[str, str]]]:
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            missing = [c for c in required if c not in (reader.fieldnames or [])]
            if missing:
                raise RecipeError(f"{path}: line 1: missing {nouns(len(missing), 'column')} "
                                  f"{', '.join(missing)}; "
                                  f"the header must be {','.join(required)}.")
            return [(n, {k: (v or "").strip() for k, v in row.items() if k})
                    for n, row in enumerate(reader, start=2)]
    except UnicodeDecodeError as exc:
        raise RecipeError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start}).") \
            from None
    except OSError as exc:
        raise RecipeError(f"Cannot read {path}: {exc.strerror}") from None


@dataclass
class NominalMap:
    """SKU -> Sage nominal code."""

    default: str
    by_sku: dict[str, str] = field(default_factory=dict)
    by_prefix: list[tuple[str, str]] = field(default_factory=list)  # longest prefix first
    by_category: list[tuple[str, str]] = field(default_factory=list)  # file order
    by_attribute_set: dict[str, str] = field(default_factory=dict)
    products: dict[str, tuple[str, tuple[str, ...]]] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path | None, default: str, products_csv: Path | None = None,
             capabilities: Capabilities | None = None) -> NominalMap:
        nominal_map = cls(default=default)
        if products_csv is not None:
            nominal_map.products = load_products(products_csv)
        if path is None:
            return nominal_map
        for line, row in read_csv_rows(path, ("kind", "value", "nominal")):
            kind, value, nominal = row["kind"], row["value"], row["nominal"]
            if kind not in NOMINAL_KINDS:
                raise RecipeError(f"{path}: line {line}, column kind: '{kind}' is not one of "
                                  f"{', '.join(NOMINAL_KINDS)}.")
            if not value:
                raise RecipeError(f"{path}: line {line}, column value: empty.")
            if not _fits(capabilities, "nominal_code", nominal, _NOMINAL):
                raise RecipeError(f"{path}: line {line}, column nominal: '{nominal}' is not a "
                                  "Sage nominal code ("
                                  + _rule_text(capabilities, "nominal_code",
                                               "1 to 8 letters or digits") + ").")
            if kind == "sku":
                nominal_map.by_sku[value] = nominal
            elif kind == "sku_prefix":
                nominal_map.by_prefix.append((value, nominal))
            elif kind == "category":
                nominal_map.by_category.append((value.strip("/"), nominal))
            else:
                nominal_map.by_attribute_set[value] = nominal
        if (nominal_map.by_category or nominal_map.by_attribute_set) and not products_csv:
            raise RecipeError(f"{path}: category and attribute_set rules need [mapping] "
                              "products_csv (Magento's product export CSV).")
        nominal_map.by_prefix.sort(key=lambda pair: -len(pair[0]))
        return nominal_map

    def nominal_for(self, sku: str | None) -> str:
        if sku:
            found = self.by_sku.get(sku)
            if found:
                return found
            for prefix, nominal in self.by_prefix:
                if sku.startswith(prefix):
                    return nominal
            attribute_set, categories = self.products.get(sku, ("", ()))
            for value, nominal in self.by_category:
                for category in categories:
                    if category == value or category.startswith(value + "/") \
                            or category.rsplit("/", 1)[-1] == value:
                        return nominal
            if attribute_set in self.by_attribute_set:
                return self.by_attribute_set[attribute_set]
        return self.default


def load_products(path: Path) -> dict[str, tuple[str, tuple[str, ...]]]:
    """sku -> (attribute set code, category paths) from Magento's product export CSV."""
    products = {}
    for _line, row in read_csv_rows(path, ("sku", "attribute_set_code", "categories")):
        categories = tuple(c.strip().strip("/") for c in row["categories"].split(",")
                           if c.strip())
        products[row["sku"]] = (row["attribute_set_code"], categories)
    return products


def load_customer_accounts(path: Path | None, capabilities: Capabilities | None = None
                           ) -> dict[str, str]:
    """Email (lower case) -> existing Sage account reference: as written when the product's
    rule takes it (Sage 50 US Customer IDs are case-sensitive), else upper-cased (a Sage 50 UK
    reference typed in lower case)."""
    if path is None:
        return {}
    accounts: dict[str, str] = {}
    for line, row in read_csv_rows(path, ("email", "account_ref")):
        ref = next((r for r in (row["account_ref"], row["account_ref"].upper())
                    if _fits(capabilities, "account_ref", r, _ACCOUNT)), None)
        if ref is None:
            raise RecipeError(f"{path}: line {line}, column account_ref: '{row['account_ref']}' "
                              "is not a Sage account reference ("
                              + _rule_text(capabilities, "account_ref", "1 to 8 letters or digits")
                              + ").")
        accounts[row["email"].lower()] = ref
    return accounts


def _fits(capabilities: Capabilities | None, name: str, value: str,
          default: re.Pattern[str]) -> bool:
    """Does a code keep the product's rule for field `name` (else `default`, Sage 50 UK's)?"""
    if capabilities is None:
        return bool(default.fullmatch(value))
    return capabilities.code_fits(name, value)


def _rule_text(capabilities: Capabilities | None, name: str, default: str) -> str:
    return default if capabilities is None else capabilities.code_rule(name)[1]


@dataclass(frozen=True)
class ItemMap:
    """SKU -> (Sage item code, warehouse) for products that post item lines (`[mapping]
    items_csv`, header `sku,item_code` and optionally `warehouse`). `item_for` gives None for
    an unmapped SKU when the recipe holds those (`unmapped_items = "hold"`)."""

    items: dict[str, tuple[str, str | None]] = field(default_factory=dict)
    unmapped: str = "sku"  # "sku": the SKU itself; "default": default_item; "hold": None
    default_item: str | None = None
    default_warehouse: str | None = None  # where items_csv gives none ([mapping])

    @classmethod
    def load(cls, path: Path | None, unmapped: str = "sku",
             default_item: str | None = None, default_warehouse: str | None = None
             ) -> ItemMap:
        items: dict[str, tuple[str, str | None]] = {}
        if path is not None:
            for line, row in read_csv_rows(path, ("sku", "item_code")):
                if not row["sku"] or not row["item_code"]:
                    empty = "sku" if not row["sku"] else "item_code"
                    raise RecipeError(f"{path}: line {line}, column {empty}: empty.")
                if row["sku"] in items:
                    raise RecipeError(f"{path}: line {line}, column sku: '{row['sku']}' is "
                                      "mapped twice.")
                items[row["sku"]] = (row["item_code"], row.get("warehouse") or None)
        return cls(items, unmapped, default_item, default_warehouse)

    def item_for(self, sku: str | None) -> tuple[str, str | None] | None:
        """(item code, warehouse) of a SKU; None when it is unmapped and must hold. The
        warehouse is the recipe's default_warehouse where items_csv gives none."""
        found = self.items.get(sku or "")
        if found is not None:
            return found[0], found[1] or self.default_warehouse
        if self.unmapped == "default":
            return self.default_item or "", self.default_warehouse
        if self.unmapped == "hold":
            return None
        return sku or "", self.default_warehouse
