"""Nominal codes by SKU, SKU prefix, category and attribute set, in that order of precedence;
errors in the user's mapping files name the file, line and column."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from sagesync.errors import RecipeError
from sagesync.sage.products.base import Capabilities
from sagesync.transform.mapping import NominalMap, load_customer_accounts

PRODUCTS = ("sku,attribute_set_code,categories,name\r\n"
            "BAG-1,Bag,\"Default Category/Gear/Bags,Default Category/Sale\",Tote\r\n"
            "TEE-1,Top,Default Category/Men/Tops,Tee\r\n"
            "TEE-2,Top,,Tee two\r\n"
            "MUG-1,Default,Default Category/Home,Mug\r\n")
RULES = ("kind,value,nominal\r\n"
         "sku,TEE-1,4100\r\n"
         "sku_prefix,MUG,4200\r\n"
         "category,Default Category/Gear,4300\r\n"
         "category,Sale,4310\r\n"
         "attribute_set,Top,4400\r\n")


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_precedence_sku_prefix_category_attribute_set_default(tmp_path: Path) -> None:
    nominals = NominalMap.load(write(tmp_path, "n.csv", RULES), "4000",
                               write(tmp_path, "p.csv", PRODUCTS))
    assert nominals.nominal_for("TEE-1") == "4100"  # sku beats its attribute set
    assert nominals.nominal_for("MUG-1") == "4200"  # prefix beats nothing else
    assert nominals.nominal_for("BAG-1") == "4300"  # category path prefix, first rule wins
    assert nominals.nominal_for("TEE-2") == "4400"  # attribute set
    assert nominals.nominal_for("OTHER") == "4000"  # default


def test_category_rules_need_the_product_export(tmp_path: Path) -> None:
    with pytest.raises(RecipeError, match="products_csv"):
        NominalMap.load(write(tmp_path, "n.csv", RULES), "4000")


def test_bad_rows_name_line_and_column(tmp_path: Path) -> None:
    path = write(tmp_path, "n.csv", "kind,value,nominal\r\nsku,A,4000\r\nskew,B,4000\r\n")
    with pytest.raises(RecipeError, match=r"line 3, column kind: 'skew'"):
        NominalMap.load(path, "4000")
    path = write(tmp_path, "n.csv", "kind,value,nominal\r\nsku,A,TOO-LONG-CODE\r\n")
    with pytest.raises(RecipeError, match="line 2, column nominal"):
        NominalMap.load(path, "4000")


def test_customer_accounts_are_checked_by_the_products_own_rule(tmp_path: Path) -> None:
    """Sage 50 UK's references are upper-cased and 1 to 8 letters or digits; a product that
    keys customers by name (Sage 50 Canada) takes the name as written, to its length."""
    path = write(tmp_path, "c.csv", "email,account_ref\r\nA@x.com,osulliva\r\n"
                                    "b@x.com,O'Sullivan-Fitzgerald Trading\r\n")
    names = Capabilities(("SI",), (), "SI", "", False, False, Decimal(1),
                         code_lengths={"account_ref": 52})
    assert load_customer_accounts(path, names) == {
        "a@x.com": "osulliva", "b@x.com": "O'Sullivan-Fitzgerald Trading"}
    with pytest.raises(RecipeError, match=r"line 3, column account_ref: 'O'Sullivan-"
                                          r"Fitzgerald Trading' is not a Sage account "
                                          r"reference \(1 to 8 letters or digits\)"):
        load_customer_accounts(path)
    assert load_customer_accounts(write(tmp_path, "u.csv", "email,account_ref\r\n"
                                                           "a@x.com,osulliva\r\n")) == \
        {"a@x.com": "OSULLIVA"}
