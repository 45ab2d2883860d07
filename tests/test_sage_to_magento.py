"""Sage -> Magento through the CLI, against the catalog simulator on loopback: stock with a
buffer, prices with the guard, dry run, rollback, and the bookkeepers' watched folder with
files appearing while the watcher runs."""

from __future__ import annotations

import threading
import time
from decimal import Decimal
from pathlib import Path

import pytest

from sagesync.errors import ExitCode
from sagesync.magento.auth import BearerToken
from sagesync.magento.push import CatalogPusher, TierPrice
from sagesync.recipe import load_recipe
from tests.magento_sim_catalog import CatalogSimulator
from tests.magento_sim_catalog import make_catalog_sim as make_catalog_sim

pytest.importorskip("sagesync.sage.exports")

ROOT = Path(__file__).resolve().parent.parent

STOCK = ("STOCK_CODE,QTY_IN_STOCK,QTY_ALLOCATED,QTY_ON_ORDER\r\n"
         "SKU-001,100,10,0\r\nSKU-002,5,0,20\r\nSKU-003,3,3,0\r\nSKU-004,0,0,0\r\n")
PRICES = "STOCK_CODE,SALES_PRICE\r\nSKU-001,19.99\r\nSKU-002,5.00\r\nSKU-003,12.50\r\n"


@pytest.fixture
def setup(tmp_path: Path, make_catalog_sim) -> tuple[Path, CatalogSimulator]:  # type: ignore[no-untyped-def]
    sim = make_catalog_sim(token="tok")
    recipe = tmp_path / "stock.toml"
    recipe.write_text(f"""
name = "stock"
state_dir = "state"
[magento]
base_url = "{sim.url}"
token = "${{SHOP_TOKEN}}"
[sage]
product = "sage50_uk"
[stock]
buffer_percent = 10
buffer_units = 1
default_source = "default"
[prices]
base_price_list = "BASE"
""", encoding="utf-8")
    (tmp_path / ".env").write_text("SHOP_TOKEN=tok\n", encoding="utf-8")
    return recipe, sim


def pipe(run_cli, recipe: Path, path: Path, kind: str, *push: str):  # type: ignore[no-untyped-def]
    parsed = run_cli("-r", str(recipe), "parse-sage", str(path), "--kind", kind)
    assert parsed.exit_code == 0, parsed.output
    return run_cli("-r", str(recipe), "push-magento", "--from", parsed.stdout.strip(), *push)


def test_stock_available_to_web_and_only_changes_are_sent(  # type: ignore[no-untyped-def]
        run_cli, tmp_path: Path, setup) -> None:
    recipe, sim = setup
    stock = tmp_path / "stock.csv"
    stock.write_text(STOCK, encoding="utf-8")
    dry = pipe(run_cli, recipe, stock, "stock", "--dry-run")
    assert dry.exit_code == 0 and sim.source_items == {}
    pushed = pipe(run_cli, recipe, stock, "stock")
    assert pushed.exit_code == 0, pushed.output
    # 100 - 10 allocated - max(ceil(10%), 1) = 80; 5 - 1 = 4; 3 - 3 - 1 < 0 -> 0 out of stock
    assert sim.source_items == {("SKU-001", "default"): (Decimal(80), 1),
                                ("SKU-002", "default"): (Decimal(4), 1),
                                ("SKU-003", "default"): (Decimal(0), 0),
                                ("SKU-004", "default"): (Decimal(0), 0)}
    stock.write_text(STOCK.replace("SKU-002,5,0,20", "SKU-002,9,0,20"), encoding="utf-8")
    before = len(sim.catalog_requests())
    again = pipe(run_cli, recipe, stock, "stock")
    assert "1 changed since the last push, 3 unchanged" in again.output
    assert len(sim.catalog_requests()) == before + 1
    assert sim.source_items[("SKU-002", "default")] == (Decimal(8), 1)


def test_price_guard_force_and_rollback(run_cli, tmp_path: Path, setup) -> None:  # type: ignore[no-untyped-def]
    recipe, sim = setup
    prices = tmp_path / "prices.csv"
    prices.write_text(PRICES, encoding="utf-8")
    assert pipe(run_cli, recipe, prices, "prices").exit_code == 0
    assert sim.base_prices[("SKU-001", 0)] == Decimal("19.99")
    shifted = tmp_path / "shifted.csv"  # a shifted column: every price collapses
    shifted.write_text(PRICES.replace("19.99", "0.19").replace("5.00", "0.05")
                       .replace("12.50", "0.12"), encoding="utf-8")
    refused = pipe(run_cli, recipe, shifted, "prices")
    assert refused.exit_code == ExitCode.HELD and "REFUSED by the price guard" in refused.output
    assert sim.base_prices[("SKU-001", 0)] == Decimal("19.99")
    forced = pipe(run_cli, recipe, shifted, "prices", "--force")
    assert forced.exit_code == 0 and sim.base_prices[("SKU-001", 0)] == Decimal("0.19")
    # undoing the forced push is as big a move: the guard asks for --force again
    guarded = run_cli("-r", str(recipe), "rollback", "prices")
    assert guarded.exit_code == ExitCode.HELD and "REFUSED by the price guard" in guarded.output
    assert sim.base_prices[("SKU-001", 0)] == Decimal("0.19")
    rolled = run_cli("-r", str(recipe), "rollback", "prices", "--force")
    assert rolled.exit_code == 0, rolled.output
    assert sim.base_prices[("SKU-001", 0)] == Decimal("19.99")
    assert sim.base_prices[("SKU-003", 0)] == Decimal("12.50")


def test_a_broken_export_is_quarantined_and_nothing_is_pushed(  # type: ignore[no-untyped-def]
        run_cli, tmp_path: Path, setup) -> None:
    recipe, sim = setup
    broken = tmp_path / "stock.csv"
    broken.write_text(STOCK.replace("SKU-002", "1.23E+11"), encoding="utf-8")
    result = run_cli("-r", str(recipe), "parse-sage", str(broken), "--kind", "stock")
    assert result.exit_code == ExitCode.BAD_INPUT
    assert "Traceback" not in result.output and result.stdout == ""
    reports = list((tmp_path / "state" / "quarantine").rglob("*.error.txt"))
    assert reports and "line 3" in reports[0].read_text()
    assert sim.source_items == {}


def test_watched_folder_end_to_end(run_cli, tmp_path: Path, setup) -> None:  # type: ignore[no-untyped-def]
    recipe, sim = setup
    inbox = tmp_path / "inbox"
    inbox.mkdir()

    def drop_files() -> None:  # a bookkeeper copying files in while the watcher runs
        time.sleep(0.3)
        partial = inbox / "stock-monday.csv"
        with partial.open("w", encoding="utf-8", newline="") as handle:
            handle.write(STOCK[:40])
            handle.flush()
            time.sleep(0.6)  # still being written during the first look
            handle.write(STOCK[40:])
        (inbox / "prices-monday.csv").write_text(PRICES.replace("12.50", "x"),
                                                 encoding="utf-8")
        (inbox / "~$stock-monday.csv").write_text("excel lock file", encoding="utf-8")

    writer = threading.Thread(target=drop_files)
    writer.start()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not list((inbox / "archive").rglob("stock-*")):
        run_cli("-r", str(recipe), "watch", str(inbox), "--once", "--settle", "1.0")
    writer.join()
    run_cli("-r", str(recipe), "watch", str(inbox), "--once", "--settle", "0.2")
    assert list((inbox / "archive").rglob("stock-monday.csv"))
    assert sim.source_items[("SKU-001", "default")] == (Decimal(80), 1)
    quarantined = inbox / "quarantine" / "prices-monday.csv"
    assert quarantined.exists()
    assert "line 4" in (inbox / "quarantine" / "prices-monday.csv.error.txt").read_text()
    assert sim.base_prices == {}
    assert (inbox / "~$stock-monday.csv").exists()  # lock files are left alone
    # the same content again is archived, not pushed twice
    (inbox / "stock-tuesday.csv").write_text(STOCK, encoding="utf-8")
    before = len(sim.catalog_requests())
    again = run_cli("-r", str(recipe), "watch", str(inbox), "--once", "--settle", "0.1")
    assert "already processed" in again.output
    assert len(sim.catalog_requests()) == before


TIERS = ("TYPE,PRICING_REF,STOCK_CODE,STORED_PRICE\r\n"
         "P,BASE,SKU-001,19.99\r\nP,TRADE,SKU-001,15.00\r\nP,RETAIL,SKU-001,18.00\r\n")


def with_groups(recipe: Path, groups: str) -> None:
    text = recipe.read_text(encoding="utf-8")
    recipe.write_text(text.replace('base_price_list = "BASE"\n',
                                   f'base_price_list = "BASE"\ncustomer_groups = {groups}\n'),
                      encoding="utf-8")


def test_tier_prices_go_to_magento_by_customer_group_code(  # type: ignore[no-untyped-def]
        run_cli, tmp_path: Path, setup) -> None:
    recipe, sim = setup
    with_groups(recipe, '{ "TRADE" = "Wholesale", "RETAIL" = "retailer" }')
    prices = tmp_path / "prices.csv"
    prices.write_text(TIERS, encoding="utf-8")
    result = pipe(run_cli, recipe, prices, "prices")
    assert result.exit_code == 0, result.output
    assert sim.tier_prices == {("SKU-001", 0, "Wholesale", Decimal(1)): Decimal("15.00"),
                               ("SKU-001", 0, "Retailer", Decimal(1)): Decimal("18.00")}


@pytest.mark.parametrize("groups", ['{ "TRADE" = "2" }', '{ "TRADE" = 2 }'])
def test_a_customer_group_id_is_a_recipe_error_naming_the_key(  # type: ignore[no-untyped-def]
        run_cli, tmp_path: Path, setup, groups: str) -> None:
    recipe, sim = setup
    with_groups(recipe, groups)
    prices = tmp_path / "prices.csv"
    prices.write_text(TIERS, encoding="utf-8")
    result = run_cli("-r", str(recipe), "parse-sage", str(prices), "--kind", "prices")
    assert result.exit_code == ExitCode.USAGE, result.output
    assert "prices.customer_groups.TRADE" in result.output
    assert "group code" in result.output and "Wholesale" in result.output
    assert "Traceback" not in result.output and result.stdout == ""
    assert sim.catalog_requests() == []


def test_the_shipped_recipe_names_groups_magento_knows(  # type: ignore[no-untyped-def]
        monkeypatch: pytest.MonkeyPatch, make_catalog_sim) -> None:
    sim = make_catalog_sim()
    monkeypatch.setenv("MAGENTO_URL", sim.url)
    monkeypatch.setenv("MAGENTO_TOKEN", "sim-token")
    recipe = load_recipe(ROOT / "recipes" / "stock-prices.toml")
    groups = sorted(set(recipe.prices.customer_groups.values()))
    assert groups
    items = [TierPrice("SKU-001", Decimal(10), 0, group, Decimal(n + 2))
             for n, group in enumerate(groups)]
    report = CatalogPusher(sim.url, BearerToken("sim-token")).push_tier_prices(items)
    assert report.failed == [] and report.sent == items
