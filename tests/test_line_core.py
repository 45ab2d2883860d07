"""The core that products with item lines stand on: SKU -> Sage item mapping, the lines'
posted cents and the tax rows that make each document's total, a product's own code rules and
mapping defaults, companies per store, and credit memos held where a product imports none.

Each runs the demo store through the CLI with a template override (the shapes of products to
come) or a product whose capabilities differ from Sage 50 UK's, registered for the test only.
"""

from __future__ import annotations

import csv
import io
import json
from collections import defaultdict
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from sagesync.errors import ExitCode, RecipeError
from sagesync.recipe import load_recipe
from sagesync.sage.products import PRODUCTS
from sagesync.transform.mapping import ItemMap

LINES_AND_TAXES = """
[file]
description = "Item lines then tax rows"

[[records]]
name = "item"
rows = "lines"
columns = [
  { name = "Reference", field = "reference", kind = "code", max_length = 30 },
  { name = "Type", field = "transaction_type", kind = "code", map = { SI = "Inv", SC = "Cr" } },
  { name = "Company", field = "company", kind = "code", max_length = 8 },
  { name = "Item", field = "item_code", kind = "code", max_length = 30 },
  { name = "Warehouse", field = "warehouse", kind = "code", max_length = 8 },
  { name = "Amount", field = "posted_net", kind = "money" },
  { name = "Rows", field = "document_rows", kind = "integer" },
]

[[records]]
name = "tax"
rows = "taxes"
columns = [
  { name = "Reference", field = "reference", kind = "code", max_length = 30 },
  { name = "Type", field = "transaction_type", kind = "code", map = { SI = "Inv", SC = "Cr" } },
  { name = "Company", field = "company", kind = "code", max_length = 8 },
  { name = "Item", field = "tax_code", kind = "code", max_length = 30 },
  { name = "Warehouse", value = "" },
  { name = "Amount", field = "tax_amount", kind = "money" },
  { name = "Rows", field = "document_rows", kind = "integer" },
]
"""


def _recipe(demo_copy: Path, mapping: str = "", sage: str = "") -> Path:
    """The demo recipe writing LINES_AND_TAXES, with extra [mapping] and [sage] keys."""
    templates = demo_copy.parent.parent / "templates"
    templates.mkdir(exist_ok=True)
    (templates / "audit_trail.toml").write_text(LINES_AND_TAXES, encoding="utf-8")
    text = demo_copy.read_text(encoding="utf-8")
    text = text.replace("[sage]\n", f'[sage]\ntemplates = "../templates"\n{sage}', 1)
    text = text.replace("[mapping]\n", f"[mapping]\n{mapping}", 1)
    demo_copy.write_text(text, encoding="utf-8")
    return demo_copy


def _items_csv(demo_copy: Path) -> str:
    path = demo_copy.parent.parent / "samples" / "mapping" / "items.csv"
    path.write_text("sku,item_code,warehouse\nBK-1001,BOOK-1,WH2\n24-WG084,YOGA-84,\n",
                    encoding="utf-8")
    return 'items_csv = "../samples/mapping/items.csv"\n'


def _run(run_cli: Any, recipe: Path, tmp_path: Path) -> tuple[Any, list[list[str]]]:
    result = run_cli("--state-dir", str(tmp_path / "s"), "run", str(recipe), "--out",
                     str(tmp_path / "out"), "--json")
    files = sorted((tmp_path / "out").glob("*audit_trail*.csv"))
    rows = [row for f in files for row in csv.reader(io.StringIO(
        f.read_bytes().decode("cp1252"), newline=""))][1:]
    return result, [r for r in rows if r[0] != "Reference"]


def _documents(tmp_path: Path) -> list[dict[str, Any]]:
    manifest = next((tmp_path / "s").glob("runs/*/transform/manifest.json"))
    return pq.read_table(manifest.parent / "documents.parquet").to_pylist()


def test_lines_carry_mapped_items_and_with_the_tax_rows_make_each_grand_total(
        run_cli: Any, demo_copy: Path, tmp_path: Path) -> None:
    recipe = _recipe(demo_copy, _items_csv(demo_copy) + 'unmapped_items = "default"\n'
                     'default_item = "WEBITEM"\n', 'companies = { "1" = "UK01", "2" = "EU01" }\n')
    result, rows = _run(run_cli, recipe, tmp_path)
    assert result.exit_code == 0, result.output
    kinds = {"SI": "Inv", "SC": "Cr"}
    documents = {(kinds[d["transaction_type"]], d["reference"]): d
                 for d in _documents(tmp_path) if d["status"] == "ready"}
    books: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    per_document: dict[tuple[str, str], list[list[str]]] = defaultdict(list)
    other = {"Inv": "Cr", "Cr": "Inv"}
    for row in rows:
        key, sign = (row[1], row[0]), 1
        if row[0].endswith("-FEE"):  # a credit memo's fee, posted as an invoice of its own
            key, sign = (other[row[1]], row[0].removesuffix("-FEE")), -1
        books[key] += sign * Decimal(row[5])
        per_document[key].append(row)
    assert set(books) == set(documents) and len(documents) == 10
    assert any(r[0].endswith("-FEE") for r in rows)
    for key, doc in documents.items():
        assert books[key] == doc["grand_total"], key  # to the cent
        own = per_document[key]
        assert {r[6] for r in own} == {str(len(own))}  # every row counts all its rows
        assert {r[2] for r in own} == {{1: "UK01", 2: "EU01"}[doc["store_id"]]}
    items = {(r[3], r[4]) for r in rows if r[4] or r[3].isupper()}
    assert ("BOOK-1", "WH2") in items and ("YOGA-84", "") in items
    assert ("WEBITEM", "") in items  # an unmapped SKU takes the default item


#: The demo store's SKUs but HE-LED-10 (on invoices 000000002 and 000000004 and a credit memo)
MOST_SKUS = ["24-MB01", "24-UG06", "24-WG082-blue", "24-WG084", "24-WG086", "24-WG088",
             "BK-1001", "HE-INS-ROLL", "KD-TEE-7", "MH01-M-Black", "MH01-S-Gray",
             "MS-TEE-CLASSIC-M", "WS03-XS-Red", "WSH12-28-Red", "YS-KIT-01"]


def test_an_unmapped_sku_holds_its_document_when_the_recipe_says_hold(
        run_cli: Any, demo_copy: Path, tmp_path: Path) -> None:
    mapping = _items_csv(demo_copy)
    path = demo_copy.parent.parent / "samples" / "mapping" / "items.csv"
    path.write_text("sku,item_code,warehouse\n" + "".join(
        f"{sku},{'BOOK-1,WH2' if sku == 'BK-1001' else sku.upper() + ','}\n"
        for sku in MOST_SKUS), encoding="utf-8")
    recipe = _recipe(demo_copy, mapping + 'unmapped_items = "hold"\n')
    result, rows = _run(run_cli, recipe, tmp_path)
    assert result.exit_code == ExitCode.HELD, result.output
    report = json.loads(result.stdout)
    groups = {g["code"]: g for g in report["holds_by_cause"]}
    assert set(groups) == {"unmapped_item"}
    assert {r["params"]["sku"] for r in groups["unmapped_item"]["records"]} == {"HE-LED-10"}
    kinds = {"SI": "Inv", "SC": "Cr"}
    sent = {(kinds[d["transaction_type"]], d["reference"]) for d in _documents(tmp_path)
            if d["status"] == "ready"}
    written = {(r[1], r[0]) for r in rows if not r[0].endswith("-FEE")}
    assert sent and written == sent  # the documents of mapped SKUs went on
    assert {r[3] for r in rows if r[4] == "WH2"} == {"BOOK-1"}


def test_a_product_without_credit_notes_holds_credit_memos_with_its_advice(
        run_cli: Any, demo_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    uk = PRODUCTS["sage50_uk"]
    caps = replace(uk.capabilities, credit_type="",
                   credit_note_advice="enter it as a sales return in the Sales Journal")
    monkeypatch.setitem(PRODUCTS, "sage50_uk", replace(uk, import_format=caps))
    result, rows = _run(run_cli, _recipe(demo_copy), tmp_path)
    assert result.exit_code == ExitCode.HELD, result.output
    groups = {g["code"]: g for g in json.loads(result.stdout)["holds_by_cause"]}
    records = groups["no_credit_notes"]["records"]
    assert records and all(r["key"].startswith("creditmemo:") for r in records)
    assert records[0]["message"] == ("Sage 50 Accounts UK/IE cannot import a credit note: enter "
                                     "it as a sales return in the Sales Journal")
    assert rows and {r[1] for r in rows} == {"Inv"}


def _recipe_text(tmp_path: Path, product: str, mapping: str) -> Path:
    path = tmp_path / "r.toml"
    path.write_text(f'name = "t"\nstate_dir = "s"\n[magento]\nsource = "."\n'
                    f'[sage]\nproduct = "{product}"\n[mapping]\n{mapping}', encoding="utf-8")
    return path


def test_recipe_codes_follow_the_products_rules_and_defaults(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(RecipeError, match=r"mapping\.tax_codes\.20.*Sage 50 Accounts UK/IE tax "
                                          r"code \(3 characters at most, matching T\[0-9\]"):
        load_recipe(_recipe_text(tmp_path, "sage50_uk", 'tax_codes = { "20" = "Standard" }'))
    uk = PRODUCTS["sage50_uk"]
    caps = replace(uk.capabilities, code_lengths={**uk.capabilities.code_lengths,
                                                  "tax_code": 10},
                   code_patterns={"tax_code": "[A-Za-z ]{1,10}"}, encoding="utf-8",
                   mapping_defaults={"tax_codes": {"20": "Standard", "0": "Zero Rated"},
                                     "adjustment_tax_code": "No VAT",
                                     "payment_tax_code": "No VAT"})
    monkeypatch.setitem(PRODUCTS, "sage50_uk", replace(uk, import_format=caps))
    recipe = load_recipe(_recipe_text(tmp_path, "sage50_uk", ""))
    assert recipe.mapping.tax_codes == {Decimal("20"): "Standard", Decimal("0"): "Zero Rated"}
    assert recipe.mapping.adjustment_tax_code == "No VAT"
    assert recipe.sage.encoding == "utf-8"  # the product's, when the recipe names none
    assert load_recipe(_recipe_text(tmp_path, "sage50_uk", 'tax_codes = { "5" = "Lower Rate" }'
                                    )).mapping.tax_codes == {Decimal("5"): "Lower Rate"}
    with pytest.raises(RecipeError, match="matching"):
        load_recipe(_recipe_text(tmp_path, "sage50_uk", 'tax_codes = { "20" = "T1" }'))


def test_item_and_company_settings_are_checked_at_load(tmp_path: Path) -> None:
    with pytest.raises(RecipeError, match="default_item"):
        load_recipe(_recipe_text(tmp_path, "sage50_uk", 'unmapped_items = "default"'))
    with pytest.raises(RecipeError, match="unmapped_items"):
        load_recipe(_recipe_text(tmp_path, "sage50_uk", 'unmapped_items = "skip"'))
    path = _recipe_text(tmp_path, "sage50_uk", "")
    path.write_text(path.read_text().replace('[sage]\n', '[sage]\ncompanies = { "x" = "A" }\n'))
    with pytest.raises(RecipeError, match=r"sage\.companies\.x"):
        load_recipe(path)


def test_an_item_map_refuses_a_sku_mapped_twice_or_an_empty_code(tmp_path: Path) -> None:
    path = tmp_path / "items.csv"
    path.write_text("sku,item_code\nA,1\nA,2\n", encoding="utf-8")
    with pytest.raises(RecipeError, match=r"line 3, column sku: 'A' is mapped twice"):
        ItemMap.load(path)
    path.write_text("sku,item_code\nA,\n", encoding="utf-8")
    with pytest.raises(RecipeError, match="line 2, column item_code: empty"):
        ItemMap.load(path)
    path.write_text("sku,item_code,warehouse\nA,I-1,W1\n", encoding="utf-8")
    items = ItemMap.load(path, "hold")
    assert items.item_for("A") == ("I-1", "W1") and items.item_for("B") is None
    assert ItemMap.load(path).item_for("B") == ("B", None)
    assert ItemMap.load(path, "default", "WEB").item_for("B") == ("WEB", None)
