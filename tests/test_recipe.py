"""Recipes: substitution from the environment and .env, and errors that name the key."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest

from sagesync.errors import ExitCode, RecipeError
from sagesync.recipe import load_recipe
from sagesync.sage import products

MINIMAL = """
name = "t"
state_dir = "state"
[magento]
source = "pages"
[sage]
product = "sage50_uk"
"""


def write(tmp_path: Path, text: str, env: str | None = None) -> Path:
    path = tmp_path / "r.toml"
    path.write_text(text, encoding="utf-8")
    if env is not None:
        (tmp_path / ".env").write_text(env, encoding="utf-8")
    return path


def test_minimal_recipe_has_documented_defaults(tmp_path: Path) -> None:
    recipe = load_recipe(write(tmp_path, MINIMAL))
    assert recipe.state_dir == (tmp_path / "state").resolve()
    assert recipe.magento.source == (tmp_path / "pages").resolve()
    assert recipe.sage.post_from == "invoices"
    assert recipe.sage.encoding == "cp1252"
    assert recipe.mapping.tax_codes[Decimal("20")] == "T1"
    assert len(recipe.sha256) == 64


def test_dotenv_beside_recipe_fills_variables_and_environment_wins(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = MINIMAL.replace('source = "pages"',
                           'base_url = "https://${HOST}/rest/default"\ntoken = "${TOKEN}"')
    path = write(tmp_path, text, env="HOST=shop.example.com\nTOKEN=from-dotenv\n")
    monkeypatch.setenv("TOKEN", "from-environment")
    recipe = load_recipe(path)
    assert recipe.magento.base_url == "https://shop.example.com/rest/default"
    assert recipe.magento.token == "from-environment"
    assert "from-environment" not in repr(recipe.magento)


def test_unset_variable_names_variable_key_and_env_file(tmp_path: Path) -> None:
    text = MINIMAL.replace('source = "pages"', 'base_url = "https://x"\ntoken = "${NOPE}"')
    with pytest.raises(RecipeError) as caught:
        load_recipe(write(tmp_path, text))
    message = str(caught.value)
    assert "NOPE" in message and "magento.token" in message and ".env" in message
    assert caught.value.exit_code == ExitCode.USAGE


@pytest.mark.parametrize(("snippet", "expected"), [
    ("[sage]\nproduct = \"sage50_uk\"\npostfrom = \"orders\"", "unknown key 'sage.postfrom'"),
    ("[sage]\nproduct = \"sage51\"", "key 'sage.product'"),
    ("[sage]\nproduct = \"sage50_uk\"\ntimezone = \"Mars/Olympus\"", "key 'sage.timezone'"),
    ("[sage]\nproduct = \"sage50_uk\"\n[mapping]\nguest_account = \"web sales\"",
     "key 'mapping.guest_account'"),
    ("[sage]\nproduct = \"sage50_uk\"\n[mapping]\ntax_codes = { \"20\" = \"VAT\" }",
     "key 'mapping.tax_codes.20'"),
    ("[sage]\nproduct = \"sage50_uk\"\n[magento]\npage_size = 1000", "key 'magento.page_size'"),
])
def test_invalid_keys_are_named_with_what_is_allowed(tmp_path: Path, snippet: str,
                                                     expected: str) -> None:
    base = 'name = "t"\nstate_dir = "s"\n'
    if "[magento]" not in snippet:
        base += '[magento]\nsource = "p"\n'
    else:
        snippet = snippet.replace("[magento]\n", '[magento]\nsource = "p"\n')
    path = write(tmp_path, base + snippet)
    with pytest.raises(RecipeError) as caught:
        load_recipe(path)
    assert expected in str(caught.value)
    assert str(path) in str(caught.value)


def test_missing_required_keys_say_what_they_are_for(tmp_path: Path) -> None:
    with pytest.raises(RecipeError, match="missing key 'state_dir'"):
        load_recipe(write(tmp_path, 'name = "t"\n[magento]\nsource = "p"\n'))
    with pytest.raises(RecipeError, match="exactly one of 'source'"):
        load_recipe(write(tmp_path, 'name = "t"\nstate_dir = "s"\n[sage]\nproduct="sage50_uk"'))


def test_mapping_csv_must_exist(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL + '[mapping]\nnominals_csv = "missing.csv"\n')
    with pytest.raises(RecipeError, match=r"mapping\.nominals_csv"):
        load_recipe(path)


def test_every_shipped_recipe_is_valid(monkeypatch: pytest.MonkeyPatch) -> None:
    """What CI pipelines do first with a recipe: load it (variables from the environment)."""
    root = Path(__file__).resolve().parent.parent / "recipes"
    for name in ("MAGENTO_URL", "MAGENTO_TOKEN", "MAGENTO_CONSUMER_KEY",
                 "MAGENTO_CONSUMER_SECRET", "MAGENTO_ACCESS_TOKEN",
                 "MAGENTO_ACCESS_TOKEN_SECRET", "SMTP_USER", "SMTP_PASSWORD",
                 "ALERT_WEBHOOK_URL"):
        monkeypatch.setenv(name, "https://shop.example.com/rest/default" if "URL" in name
                           else "x" * 32)
    recipes = sorted(root.glob("*.toml"))
    assert len(recipes) >= 3
    for path in recipes:
        assert load_recipe(path).name


def test_a_home_currency_product_refuses_posting_the_order_currency(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A product whose import takes home-currency amounts only (Sage 50 Canada) refuses
    `[sage] currency = "order"`, naming the key; "base" still loads."""
    uk = products.get("sage50_uk")
    monkeypatch.setitem(products.PRODUCTS, "sage50_uk", replace(uk, import_format=replace(
        uk.capabilities, foreign_currency=False)))
    order = MINIMAL + 'currency = "order"\n'
    with pytest.raises(RecipeError, match=r"key 'sage\.currency': expected \"base\": Sage 50 "
                                          r"Accounts UK/IE imports amounts in the company's "
                                          "home currency only"):
        load_recipe(write(tmp_path, order))
    assert load_recipe(write(tmp_path, MINIMAL + 'currency = "base"\n')).sage.currency == "base"


def test_an_ack_export_without_a_type_column_is_said_with_an_empty_name(tmp_path: Path) -> None:
    """Sage 50 Canada's Sales Journal has no type column: `type_column = ""` says so (the
    default stays "Type"); any other empty name is still refused."""
    assert load_recipe(write(tmp_path, MINIMAL)).ack.type_column == "Type"
    recipe = load_recipe(write(tmp_path, MINIMAL + '[ack]\ntype_column = ""\n'))
    assert recipe.ack.type_column is None
    with pytest.raises(RecipeError, match=r"key 'ack\.sage_number_column'"):
        load_recipe(write(tmp_path, MINIMAL + '[ack]\nsage_number_column = ""\n'))


def test_post_from_is_among_what_the_product_imports_and_defaults_to_its_first(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A product that imports sales orders only (Sage X3) posts from orders by default and
    refuses invoices at load, before anything is exported."""
    uk = products.get("sage50_uk")
    orders_only = replace(uk, import_format=replace(uk.capabilities, post_from=("orders",)))
    monkeypatch.setitem(products.PRODUCTS, "sage50_uk", orders_only)
    assert load_recipe(write(tmp_path, MINIMAL)).sage.post_from == "orders"
    with pytest.raises(RecipeError) as refused:
        load_recipe(write(tmp_path, MINIMAL + 'post_from = "invoices"\n'))
    assert "key 'sage.post_from'" in str(refused.value)
    assert "cannot post a sale from Magento's invoices" in str(refused.value)


def test_an_ack_export_without_a_type_column_is_named_by_an_empty_type_column(
        tmp_path: Path) -> None:
    """Sage X3's order export has no type column: every row answers an order."""
    assert load_recipe(write(tmp_path, MINIMAL)).ack.type_column == "Type"
    recipe = load_recipe(write(tmp_path, MINIMAL + '[ack]\ntype_column = ""\n'))
    assert recipe.ack.type_column is None
