"""Sage products as plug-ins: the registry, capabilities as data, templates as package data,
and the golden-file commands."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
import zipfile
from dataclasses import FrozenInstanceError, replace
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner

from sagesync.cli.main import cli
from sagesync.errors import RecipeError
from sagesync.model.schemas import SAGE_TABLES
from sagesync.recipe import SAGE_PRODUCTS, load_recipe
from sagesync.render import load_spec
from sagesync.sage import products
from sagesync.sage.products import golden
from tests.conftest import DEMO_RECIPE, ROOT, subprocess_env

UK = products.get("sage50_uk")


def test_the_registry_is_the_one_list_of_products() -> None:
    assert products.keys() == tuple(products.PRODUCTS) == SAGE_PRODUCTS
    assert all(key == product.key for key, product in products.PRODUCTS.items())


def test_an_unknown_product_names_the_registered_ones(tmp_path: Path) -> None:
    with pytest.raises(RecipeError, match="sage50_uk"):
        products.get("sage51_mars")
    recipe = tmp_path / "r.toml"
    recipe.write_text('name = "t"\nstate_dir = "s"\n[magento]\nsource = "m"\n[sage]\n'
                      'product = "sage51_mars"\n',
                      encoding="utf-8")
    (tmp_path / "m").mkdir()
    with pytest.raises(RecipeError, match=r"sage\.product.*sage50_uk"):
        load_recipe(recipe)


@pytest.mark.parametrize("product", list(products.PRODUCTS.values()), ids=products.keys())
def test_every_product_ships_its_templates_readme_and_golden_files(
        product: products.SageProduct) -> None:
    folder = product.folder()
    assert (folder / "README.md").is_file()
    for name in product.templates:
        assert product.template_file(name).is_file()
        spec = load_spec(product.key, name)
        assert spec.date_format == product.capabilities.date_format
        assert spec.delimiter == product.capabilities.delimiter
        assert spec.line_ending == product.capabilities.line_ending
    folder = golden.golden_dir(product)
    post_from = load_recipe(ROOT / product.demo_recipe).sage.post_from if product.posts else ""
    assert (sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []) == \
        sorted(f"{name}.{spec.extension}" for name in product.templates
               if (spec := load_spec(product.key, name)).serves(post_from))


@pytest.mark.parametrize("product", [products.get(k) for k in products.posting_keys()],
                         ids=products.posting_keys())
def test_code_lengths_and_patterns_stated_as_data_are_the_ones_rendered(
        product: products.SageProduct) -> None:
    caps = product.capabilities
    seen: set[str] = set()
    for name in product.templates:
        for column in load_spec(product.key, name).columns:
            if column.kind != "code" or column.field not in caps.code_lengths:
                continue
            seen.add(column.field)
            assert column.max_length == caps.code_lengths[column.field], (name, column.name)
            if column.field in caps.code_patterns:
                assert column.pattern is not None, (name, column.name)
                assert column.pattern.pattern == caps.code_patterns[column.field]
    assert seen == set(caps.code_lengths)


def test_sage50_uk_states_the_kb_facts() -> None:
    caps = UK.capabilities
    assert caps.transaction_types == ("SI", "SC") and caps.credit_notes
    assert caps.max_amount == Decimal("99999999.99") and not caps.sage_computes_tax
    assert caps.code_lengths["account_ref"] == 8 and caps.code_lengths["reference"] == 30


def test_capabilities_cannot_be_changed_after_registration() -> None:
    with pytest.raises(FrozenInstanceError):
        UK.capabilities.max_amount = Decimal(1)  # type: ignore[misc]
    with pytest.raises(TypeError):
        UK.capabilities.code_lengths["reference"] = 99  # type: ignore[index]


def test_a_recipe_template_folder_still_wins_over_the_shipped_one(tmp_path: Path) -> None:
    shipped = UK.template_file("customers").read_text(encoding="utf-8")
    (tmp_path / "customers.toml").write_text(
        shipped.replace('description = "Customer records (new web accounts)"',
                        'description = "site layout"'), encoding="utf-8")
    assert load_spec("sage50_uk", "customers", tmp_path).description == "site layout"
    assert load_spec("sage50_uk", "audit_trail", tmp_path).description.startswith("Audit trail")


# The golden check command itself runs per product in tests/conformance/test_golden.py.
def test_the_golden_check_finds_one_changed_byte(tmp_path: Path) -> None:
    for path in golden.golden_dir(UK).glob("*.csv"):
        shutil.copy(path, tmp_path / path.name)
    audit = tmp_path / "audit_trail.csv"
    audit.write_bytes(audit.read_bytes().replace(b"\r\n", b"\n", 1))
    (tmp_path / "stale.csv").write_bytes(b"x\r\n")
    problems = golden.check(UK, tmp_path)
    assert len(problems) == 2
    assert "stale.csv is golden but was not written" in problems[0]
    assert "audit_trail.csv differs" in problems[1] and "line 1" in problems[1]


def _built_wheel(tmp_path: Path) -> Path:
    """A wheel built from a copy of the sources, so the build leaves nothing in the tree."""
    source = tmp_path / "src"
    shutil.copytree(ROOT / "sagesync", source / "sagesync",
                    ignore=shutil.ignore_patterns("__pycache__", "golden"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w",
                            str(tmp_path / "dist"), str(source)],
                           capture_output=True, text=True, timeout=180)
    assert built.returncode == 0, built.stderr[-3000:]
    return next((tmp_path / "dist").glob("sagesync-*.whl"))


def test_a_plain_install_renders_the_demo_byte_for_byte(tmp_path: Path) -> None:
    """Not editable: the wheel alone must carry the templates (it once failed with
    "No template")."""
    wheel = _built_wheel(tmp_path)
    names = zipfile.ZipFile(wheel).namelist()
    for product in products.PRODUCTS.values():
        folder = product.package.replace(".", "/")
        assert f"{folder}/README.md" in names
        assert {f"{folder}/{t}.toml" for t in product.templates} <= set(names)
    assert not [n for n in names if "/golden/" in n]  # tests only, not package data

    site = tmp_path / "site"
    installed = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q",
                                "--target", str(site), str(wheel)],
                               capture_output=True, text=True, timeout=120)
    assert installed.returncode == 0, installed.stderr[-3000:]
    env = subprocess_env()
    env["PYTHONPATH"] = str(site)  # before the editable install's finder on sys.path
    where = subprocess.run([sys.executable, "-c", "import sagesync; print(sagesync.__file__)"],
                           capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60)
    assert Path(where.stdout.strip()).is_relative_to(site), where.stdout + where.stderr
    out = tmp_path / "out"
    ran = subprocess.run([sys.executable, "-m", "sagesync", "--state-dir", str(tmp_path / "s"),
                          "run", str(DEMO_RECIPE), "--out", str(out)],
                         capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert ran.returncode == 0, ran.stderr[-3000:]
    expected = golden.golden_dir(UK)
    assert {p.name: p.read_bytes() for p in sorted(out.glob("*.csv"))} == {
        "B000001-1-customers.csv": (expected / "customers.csv").read_bytes(),
        "B000001-2-audit_trail.csv": (expected / "audit_trail.csv").read_bytes(),
    }


def test_a_region_reads_its_own_rules_and_templates(monkeypatch: pytest.MonkeyPatch,
                                                    tmp_path: Path) -> None:
    """`[sage] region` picks a regional edition: its capabilities everywhere the recipe and
    the import read them, and the shipped file it names for a template (here the customers
    layout standing in for the audit trail, so the redirection shows)."""
    edition = replace(UK.capabilities, date_format="%m/%d/%Y", encoding="utf-8")
    regional = replace(UK, regions={"xx": products.Region("Elsewhere", edition,
                                                          {"audit_trail": "customers"})})
    monkeypatch.setitem(products.PRODUCTS, "sage50_uk", regional)
    there = products.get("sage50_uk", "xx")
    assert there.title == "Sage 50 Accounts UK/IE, Elsewhere"
    assert there.capabilities is edition and products.get("sage50_uk").capabilities is \
        UK.capabilities
    assert load_spec("sage50_uk", "audit_trail", region="xx").rows == "accounts"
    assert load_spec("sage50_uk", "audit_trail").rows == "splits"
    recipe = tmp_path / "r.toml"
    recipe.write_text(DEMO_RECIPE.read_text(encoding="utf-8").replace(
        'encoding = "cp1252"', 'region = "xx"').replace('"../', f'"{ROOT.as_posix()}/'),
        encoding="utf-8")
    loaded = load_recipe(recipe)
    assert (loaded.sage.region, loaded.sage.encoding) == ("xx", "utf-8")
    recipe.write_text(recipe.read_text(encoding="utf-8").replace('"xx"', '"yy"'),
                      encoding="utf-8")
    with pytest.raises(RecipeError, match=r"sage\.region.*'xx'"):
        load_recipe(recipe)


def test_a_product_of_one_edition_refuses_a_region(tmp_path: Path) -> None:
    with pytest.raises(RecipeError, match=r"has no region 'us'.*one edition"):
        products.get("sage50_uk", "us")
    recipe = tmp_path / "r.toml"
    recipe.write_text(DEMO_RECIPE.read_text(encoding="utf-8").replace(
        'encoding = "cp1252"', 'region = "us"').replace('"../', f'"{ROOT.as_posix()}/'),
        encoding="utf-8")
    with pytest.raises(RecipeError, match=r"sage\.region.*one edition"):
        load_recipe(recipe)


def test_a_region_may_only_replace_the_products_own_templates() -> None:
    with pytest.raises(ValueError, match="a region replaces the product's own templates"):
        replace(UK, regions={"xx": products.Region("X", UK.capabilities, {"invoices": "x"})})


@pytest.mark.parametrize("product", list(products.PRODUCTS.values()), ids=products.keys())
def test_template_fields_never_hide_a_field_the_transform_computes(
        product: products.SageProduct) -> None:
    if not product.posts:
        return
    taken = {name for schema in SAGE_TABLES.values() for name in schema.names}
    assert not taken & set(product.capabilities.template_fields)


def test_a_recipe_sets_the_constant_fields_a_products_templates_name(
        monkeypatch: pytest.MonkeyPatch, demo_copy: Path, tmp_path: Path) -> None:
    """`[sage] fields` over the product's defaults, as a column of every row: here Sage 50
    UK's User Name column made a field, in a template folder of the recipe's."""
    caps = replace(UK.capabilities, template_fields={"user_name": "sagesync"})
    monkeypatch.setitem(products.PRODUCTS, "sage50_uk", replace(UK, import_format=caps))
    templates = tmp_path / "templates"
    templates.mkdir()
    shipped = UK.template_file("audit_trail").read_text(encoding="utf-8")
    assert 'value = "sagesync"' in shipped
    (templates / "audit_trail.toml").write_text(
        shipped.replace('value = "sagesync"', 'field = "user_name"'), encoding="utf-8")
    base = demo_copy.read_text(encoding="utf-8").replace(
        'encoding = "cp1252"', f'encoding = "cp1252"\ntemplates = "{templates.as_posix()}"')

    def user_names(extra: str, name: str) -> set[str]:
        recipe = demo_copy.with_name(f"{name}.toml")
        recipe.write_text(base.replace('post_from = "invoices"', f'post_from = "invoices"\n'
                                       f'{extra}'), encoding="utf-8")
        out = tmp_path / name
        done = CliRunner().invoke(cli, ["--state-dir", str(tmp_path / f"s-{name}"), "run",
                                        str(recipe), "--out", str(out)],
                                  catch_exceptions=False)
        assert done.exit_code == 0, done.output
        audit = next(out.glob("*audit_trail.csv")).read_text(encoding="cp1252")
        return {line.split(",")[12] for line in audit.splitlines()[1:]}

    assert user_names("", "default") == {"sagesync"}
    assert user_names('fields = { user_name = "SHOP1" }', "set") == {"SHOP1"}
    wrong = demo_copy.with_name("wrong.toml")
    wrong.write_text(base.replace('timezone =', 'fields = { username = "X" }\ntimezone ='),
                     encoding="utf-8")
    with pytest.raises(RecipeError, match=r"sage\.fields\.username.*one of user_name"):
        load_recipe(wrong)


def test_a_product_whose_templates_name_no_constant_refuses_any(demo_copy: Path) -> None:
    demo_copy.write_text(demo_copy.read_text(encoding="utf-8").replace(
        'timezone =', 'fields = { site = "FR011" }\ntimezone ='), encoding="utf-8")
    with pytest.raises(RecipeError, match=r"sage\.fields\.site.*templates name none"):
        load_recipe(demo_copy)


def test_where_sage_computes_the_tax_the_summary_totals_are_net(
        monkeypatch: pytest.MonkeyPatch, demo_copy: Path, tmp_path: Path) -> None:
    """The files carry no tax to reconcile, so the run's totals per type are the net the
    files book, and say so (table, manifest and `run --json`)."""
    caps = replace(UK.capabilities, sage_computes_tax=True)
    monkeypatch.setitem(products.PRODUCTS, "sage50_uk", replace(UK, import_format=caps))
    done = CliRunner().invoke(cli, ["--state-dir", str(tmp_path / "s"), "run", str(demo_copy),
                                    "--out", str(tmp_path / "out"), "--json"],
                              catch_exceptions=False)
    step = json.loads(done.stdout)["steps"][2]
    audit = next((tmp_path / "out").glob("*audit_trail.csv")).read_text(encoding="cp1252")
    net: dict[str, Decimal] = {}
    for row in csv.reader(audit.splitlines()[1:]):
        net[row[0]] = net.get(row[0], Decimal(0)) + Decimal(row[7])
    assert step["totals_basis"] == "net (Sage computes the tax)"
    assert {k: Decimal(v) for k, v in step["totals"].items()} == net
    manifest = json.loads(Path(step["manifest"]).read_text(encoding="utf-8"))
    assert manifest["summary"]["totals_basis"] == "net (Sage computes the tax)"
    table = CliRunner().invoke(cli, ["--state-dir", str(tmp_path / "s2"), "run", "-v",
                                     str(demo_copy), "--out", str(tmp_path / "out2")],
                               catch_exceptions=False)
    assert "SI net (Sage computes the tax)" in table.output


def test_a_golden_run_may_hold_only_the_credit_memos_a_product_cannot_import() -> None:
    """Sage X3's demo holds the samples' two credit memos (no X3 template takes them), so it
    exits 1; any other hold, or a product that takes credit notes, still fails the run."""
    def ran(code: int, *causes: str) -> subprocess.CompletedProcess[bytes]:
        body = {"holds_by_cause": [{"code": c, "count": 1} for c in causes]}
        return subprocess.CompletedProcess([], code, json.dumps(body).encode(), b"")

    no_credits = replace(UK, import_format=replace(UK.capabilities, credit_type=""))
    assert golden._held_by_design(no_credits, ran(1, "no_credit_notes"))
    assert not golden._held_by_design(no_credits, ran(1, "no_credit_notes", "unmapped_item"))
    assert not golden._held_by_design(no_credits, ran(2))
    assert not golden._held_by_design(UK, ran(1, "no_credit_notes"))
