"""Each Sage product's export layouts and ack layout live in its folder, reached through the one
registry: recipe validation, parse-sage and ack ask it, so adding a product is a folder and one
registry line, and a product that cannot post yet is refused for posting only."""

from __future__ import annotations

import importlib
import json
import re
import sys
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest

from sagesync.errors import ExitCode, RecipeError, UsageError
from sagesync.recipe import load_recipe
from sagesync.sage import LAYOUTS, PRODUCTS, ParseOptions, parse_bytes, products
from sagesync.sage.layouts import (
    KINDS,
    export_products,
    layout_for,
    normalize_header,
    registered_layouts,
)
from sagesync.sage.products import AckLayout, SageProduct
from tests.conftest import fresh_python
from tests.test_ack import error_file, record, sent_demo

#: Registered products that only export: none since Sage 100 posts (the `acme` fixture below
#: stands in for one)
EXPORT_ONLY: tuple[str, ...] = ()
UK = products.get("sage50_uk")
#: how recipe validation names the products that post
POSTING_CHOICES = "expected one of " + ", ".join(f"'{k}'" for k in products.posting_keys())


def test_the_registry_lists_every_product_once_posting_or_not() -> None:
    keys = products.keys()
    assert {"sage50_uk", "sage100", *EXPORT_ONLY} <= set(keys) and len(set(keys)) == len(keys)
    # the views of the one list: products that post (templates), and whose exports are read
    assert products.posting_keys() == tuple(k for k in keys if products.get(k).templates)
    assert {"sage50_uk", "sage100"} <= set(products.posting_keys())
    assert set(products.posting_keys()) == set(keys) - set(EXPORT_ONLY)
    assert not set(EXPORT_ONLY) & set(products.posting_keys())
    assert products.export_keys() == export_products() == PRODUCTS == \
        tuple(k for k in keys if products.get(k).layouts)
    assert {"sage50_uk", *EXPORT_ONLY} <= set(products.export_keys())
    assert registered_layouts() == LAYOUTS
    assert sorted(LAYOUTS) == sorted((key, layout.kind) for key in products.export_keys()
                                     for layout in products.get(key).layouts)
    for key in products.export_keys():  # stock and prices always; shipments where known
        kinds = [layout.kind for layout in products.get(key).layouts]
        assert kinds[:2] == ["stock", "prices"] and set(kinds) <= set(KINDS), key



@pytest.mark.parametrize("key", sorted(LAYOUTS), ids=lambda k: f"{k[0]}-{k[1]}")
def test_a_header_names_one_field_of_a_layout(key: tuple[str, str]) -> None:
    """A header two fields answer to would be read as both (a balance read as the total)."""
    owner: dict[str, str] = {}
    for name, names in LAYOUTS[key].aliases.items():
        for alias, _ in names:
            assert owner.setdefault(normalize_header(alias), name) == name, (alias, name)


@pytest.mark.parametrize("key", products.export_keys())
def test_every_registered_products_layouts_are_reached_through_the_registry(key: str) -> None:
    product = products.get(key)
    in_folder = importlib.import_module(f"{product.package}.exports").LAYOUTS
    assert product.package == f"sagesync.sage.products.{key}"
    assert in_folder == product.layouts and {"stock", "prices"} <= {
        layout.kind for layout in product.layouts}
    for layout in product.layouts:
        assert layout_for(key, layout.kind) is layout
        assert registered_layouts()[(key, layout.kind)] is layout
    readme = (product.folder() / "README.md").read_text(encoding="utf-8")
    assert f"(`{key}`)" in readme.splitlines()[0]


def test_a_product_with_layouts_only_cannot_post(acme: SageProduct) -> None:
    key = acme.key
    product = products.get(key)
    assert not product.posts and product.templates == () and product.ack is None
    with pytest.raises(UsageError, match=f"\\({key}\\) cannot post documents yet"):
        _ = product.capabilities
    assert UK.posts and UK.capabilities.sale_type == "SI"


def write_recipe(folder: Path, sage: str, sage_export: str | None = None) -> Path:
    recipe = folder / "r.toml"
    export = f'[sage_export]\nproduct = "{sage_export}"\n' if sage_export else ""
    recipe.write_text(f'name = "t"\nstate_dir = "state"\n[magento]\n'
                      f'base_url = "http://127.0.0.1:9/rest/default"\ntoken = "never-used"\n'
                      f'[sage]\nproduct = "{sage}"\n{export}', encoding="utf-8")
    return recipe


def test_posting_refuses_a_product_with_layouts_only_and_the_catalog_accepts_it(
        tmp_path: Path, acme: SageProduct) -> None:
    key = acme.key
    with pytest.raises(RecipeError) as refused:
        load_recipe(write_recipe(tmp_path, key))
    said = str(refused.value)
    assert "key 'sage.product'" in said and f"('{key}') cannot post documents yet" in said
    assert "expected one of " + ", ".join(f"'{k}'" for k in products.posting_keys()) + "." \
        in said
    assert f'[sage_export] product = "{key}"' in said
    assert load_recipe(write_recipe(tmp_path, "sage50_uk", key)).sage_export.product == key


def test_an_unknown_export_product_fails_at_recipe_load_naming_every_one(tmp_path: Path) -> None:
    with pytest.raises(RecipeError) as refused:
        load_recipe(write_recipe(tmp_path, "sage50_uk", "sage201"))
    said = str(refused.value)
    assert "key 'sage_export.product'" in said and "'sage201'" in said
    assert all(f"'{key}'" in said for key in products.export_keys())
    with pytest.raises(RecipeError) as refused:
        load_recipe(write_recipe(tmp_path, "sage201"))
    assert "key 'sage.product': expected one of " + ", ".join(
        f"'{k}'" for k in products.posting_keys()) + " (got 'sage201')" in str(refused.value)


def test_a_registration_that_contradicts_itself_fails_at_import() -> None:
    with pytest.raises(ValueError, match="templates and import_format go together"):
        SageProduct("x", "X", "x", templates=("audit_trail",))
    with pytest.raises(ValueError, match="layouts must be this product's"):
        SageProduct("x", "X", "x", layouts=UK.layouts)
    with pytest.raises(ValueError, match="ack layout answers postings"):
        SageProduct("x", "X", "x", ack=UK.ack)


ACME_INIT = '''"""Acme ERP: a throw-away product, exports only."""

from acme_erp.exports import LAYOUTS

from sagesync.sage.products.base import SageProduct

PRODUCT = SageProduct(key="acme", title="Acme ERP", package=__name__, layouts=LAYOUTS)
'''
ACME_EXPORTS = '''"""Acme ERP stock levels: Part, Depot, Free (all assumed)."""

from sagesync.sage.layouts import ASSUMED, Layout, aliases

LAYOUTS = (Layout("acme", "stock", "Acme ERP, free stock per depot", {
    "sku": aliases(ASSUMED, "Part"),
    "warehouse": aliases(ASSUMED, "Depot"),
    "on_hand": aliases(ASSUMED, "Free"),
}, date_format="%Y-%m-%d"),)
'''


@pytest.fixture
def acme(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> SageProduct:
    """A product folder written from scratch, plus the one registry line."""
    folder = tmp_path / "pkgs" / "acme_erp"
    folder.mkdir(parents=True)
    (folder / "__init__.py").write_text(ACME_INIT, encoding="utf-8")
    (folder / "exports.py").write_text(ACME_EXPORTS, encoding="utf-8")
    (folder / "README.md").write_text("# Acme ERP (`acme`)\n", encoding="utf-8")
    monkeypatch.syspath_prepend(str(folder.parent))
    monkeypatch.delitem(sys.modules, "acme_erp", raising=False)
    monkeypatch.delitem(sys.modules, "acme_erp.exports", raising=False)
    product: SageProduct = importlib.import_module("acme_erp").PRODUCT
    monkeypatch.setitem(products.PRODUCTS, "acme", product)  # the registry line
    return product


def test_a_product_folder_and_one_registry_line_is_all_it_takes(  # type: ignore[no-untyped-def]
        acme: SageProduct, run_cli, tmp_path: Path) -> None:
    data = b"Part,Depot,Free\r\nA-1,MAIN,5\r\nA-2,EAST,0.5\r\n"
    parsed = parse_bytes(data, product="acme", kind="stock", options=ParseOptions())
    assert parsed.ok, parsed.problems
    assert [(r["sku"], r["warehouse"], r["on_hand"]) for r in parsed.table.to_pylist()] == [
        ("A-1", "MAIN", Decimal(5)), ("A-2", "EAST", Decimal("0.5"))]
    assert "acme" in export_products() and "acme" not in products.posting_keys()
    with pytest.raises(UsageError) as no_prices:
        layout_for("acme", "prices")
    assert "Acme ERP (acme) has no prices export layout" in str(no_prices.value)
    assert "acme" not in str(no_prices.value).split("Allowed for prices:")[1]
    with pytest.raises(UsageError, match=r"Allowed: .*intacct, acme\."):
        layout_for("acme2", "stock")

    # the catalog flow takes it from the recipe; posting refuses it
    with pytest.raises(RecipeError, match=r"Acme ERP \('acme'\) cannot post"):
        load_recipe(write_recipe(tmp_path, "acme"))
    export = tmp_path / "stock.csv"
    export.write_bytes(data)
    result = run_cli("-r", str(write_recipe(tmp_path, "sage50_uk", "acme")), "parse-sage",
                     str(export), "--kind", "stock")
    assert result.exit_code == ExitCode.OK, result.output
    manifest = json.loads(Path(result.stdout.strip()).read_text(encoding="utf-8"))
    summary = manifest["summary"]
    assert (summary["product"], summary["rows"]) == ("acme", 2), summary


def test_the_ack_reads_its_types_from_the_recipes_product(  # type: ignore[no-untyped-def]
        run_cli, demo_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With a product whose ack answers credit notes only, an SI row is another product's
    type: ignored, not a confirmation (the old hard-coded SI/SC table confirmed it)."""
    ack, state = sent_demo(run_cli, demo_copy, tmp_path)
    rows = [line.split(",") for path in (tmp_path / "o").glob("*audit_trail*.csv")
            for line in path.read_bytes().decode("cp1252").split("\r\n")[1:] if line]
    memo = next(r[5] for r in rows if r[0] == "SC")
    credit_only = AckLayout(types={"SC": ("creditmemo",)}, expected="the Acme audit export")
    monkeypatch.setitem(products.PRODUCTS, "sage50_uk", replace(UK, ack=credit_only))

    result = ack("SI,000000003,205", f"SC,{memo},900", header="Type,Reference,Transaction Number")
    assert result.exit_code == ExitCode.OK, result.output
    assert (record(state, "000000003").state, record(state, "000000003").sage_ref) == ("sent",
                                                                                      None)
    assert (record(state, memo, "creditmemo").state,
            record(state, memo, "creditmemo").sage_ref) == ("confirmed", "900")
    assert "1 confirmed" in result.output and "1 row of other transaction types ignored" \
        in result.output

    broken = ack("SC,,901", name="broken.csv", header="Type,Reference,Transaction Number")
    assert broken.exit_code == ExitCode.BAD_INPUT, broken.output
    assert "\nExpected: the Acme audit export.\n" in error_file(state, "broken.csv")

    monkeypatch.setitem(products.PRODUCTS, "sage50_uk", replace(UK, ack=None))
    refused = ack(f"SC,{memo},900", name="again.csv", header="Type,Reference,Transaction Number")
    assert refused.exit_code == ExitCode.USAGE
    assert re.search(r"Sage 50 Accounts UK/IE \(sage50_uk\) has no ack layout", refused.output)


def test_the_parsers_load_on_first_use_and_every_name_resolves() -> None:
    """Reading a recipe asks the product registry only: the Sage export parsers (and pyarrow's
    compute functions) load when a parser is first asked for, by any of the package's names."""
    code = (
        "import sys, json\n"
        "import sagesync.recipe\n"
        "early = [m for m in ('sagesync.sage.exports', 'pyarrow.compute') if m in sys.modules]\n"
        "import sagesync.sage as sage\n"
        "missing = [n for n in sage.__all__ if getattr(sage, n, None) is None]\n"
        "print(json.dumps([early, missing, len(sage.LAYOUTS), list(sage.PRODUCTS)]))\n"
    )
    early, missing, layouts, exported = json.loads(fresh_python(code))
    assert early == [] and missing == []
    assert layouts == len(LAYOUTS) and tuple(exported) == PRODUCTS
