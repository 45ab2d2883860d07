"""`sagesync rollback prices` through the CLI against the catalog simulator: it undoes the last
price push once (a second rollback finds nothing to undo and sends nothing), only the prices
that push changed, behind the price guard (`--force` as for push), and a rerun after a partial
failure sends only what did not go back."""

from __future__ import annotations

import json
import sqlite3
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from sagesync.errors import ExitCode
from sagesync.ledger import MIGRATIONS, Ledger
from tests.magento_sim_catalog import CatalogSimulator
from tests.magento_sim_catalog import make_catalog_sim as make_catalog_sim

pytest.importorskip("sagesync.sage.exports")

FIRST = {"SKU-001": "19.99", "SKU-002": "5.00", "SKU-003": "12.50"}


@pytest.fixture
def setup(tmp_path: Path, make_catalog_sim) -> tuple[Path, CatalogSimulator]:  # type: ignore[no-untyped-def]
    sim = make_catalog_sim(token="tok")
    recipe = tmp_path / "prices.toml"
    recipe.write_text(f"""
name = "prices"
state_dir = "state"
[magento]
base_url = "{sim.url}"
token = "tok"
[sage]
product = "sage50_uk"
[prices]
base_price_list = "BASE"
customer_groups = {{ "TRADE" = "Wholesale" }}
""", encoding="utf-8")
    return recipe, sim


def push(run_cli, recipe: Path, prices: dict[str, str], *options: str,  # type: ignore[no-untyped-def]
         trade: dict[str, str] | None = None):
    """A Sage 50 UK price export (PRICE table: BASE list, and TRADE tier prices) pushed."""
    lines = ["TYPE,PRICING_REF,STOCK_CODE,STORED_PRICE"]
    lines += [f"P,BASE,{sku},{price}" for sku, price in prices.items()]
    lines += [f"P,TRADE,{sku},{price}" for sku, price in (trade or {}).items()]
    path = recipe.parent / f"prices-{len(list(recipe.parent.glob('prices-*.csv')))}.csv"
    path.write_text("\r\n".join(lines) + "\r\n", encoding="utf-8")
    parsed = run_cli("-r", str(recipe), "parse-sage", str(path), "--kind", "prices")
    assert parsed.exit_code == 0, parsed.output
    result = run_cli("-r", str(recipe), "push-magento", "--from", parsed.stdout.strip(),
                     *options)
    return result, parsed.stdout.strip()


def rollback(run_cli, recipe: Path, *options: str):  # type: ignore[no-untyped-def]
    return run_cli("-r", str(recipe), "rollback", "prices", *options)


def base(sim: CatalogSimulator) -> dict[str, Decimal]:
    return {sku: price for (sku, _store), price in sim.base_prices.items()}


def sent_since(sim: CatalogSimulator, count: int) -> list[dict[str, Any]]:
    return [row for r in sim.catalog_requests()[count:] for row in json.loads(r.body)["prices"]]


def test_a_second_rollback_has_nothing_to_undo(run_cli, setup) -> None:  # type: ignore[no-untyped-def]
    recipe, sim = setup
    assert push(run_cli, recipe, FIRST)[0].exit_code == 0
    assert push(run_cli, recipe, {**FIRST, "SKU-001": "20.99"})[0].exit_code == 0
    first = rollback(run_cli, recipe)
    assert first.exit_code == 0, first.output
    assert base(sim)["SKU-001"] == Decimal("19.99")

    before = len(sim.catalog_requests())
    second = rollback(run_cli, recipe)
    assert second.exit_code == 0, second.output
    assert "nothing to roll back" in second.output.lower()
    assert "already rolled back" in second.output
    assert len(sim.catalog_requests()) == before  # nothing sent: the undone price stays undone
    assert base(sim)["SKU-001"] == Decimal("19.99")

    # a new push is a new snapshot: rolling it back goes to the price the rollback restored
    assert push(run_cli, recipe, {**FIRST, "SKU-001": "21.50"})[0].exit_code == 0
    assert rollback(run_cli, recipe).exit_code == 0
    assert base(sim)["SKU-001"] == Decimal("19.99")


def test_rollback_undoes_only_the_last_push(run_cli, setup) -> None:  # type: ignore[no-untyped-def]
    recipe, sim = setup
    push(run_cli, recipe, FIRST)
    push(run_cli, recipe, {**FIRST, "SKU-001": "20.99"})
    push(run_cli, recipe, {**FIRST, "SKU-001": "20.99", "SKU-002": "5.50"})
    before = len(sim.catalog_requests())
    result = rollback(run_cli, recipe)
    assert result.exit_code == 0, result.output
    assert [row["sku"] for row in sent_since(sim, before)] == ["SKU-002"]
    assert base(sim) == {"SKU-001": Decimal("20.99"), "SKU-002": Decimal("5.00"),
                         "SKU-003": Decimal("12.50")}


def test_the_guard_applies_to_a_rollback(run_cli, setup) -> None:  # type: ignore[no-untyped-def]
    recipe, sim = setup
    push(run_cli, recipe, FIRST)
    shifted = {"SKU-001": "0.19", "SKU-002": "0.05", "SKU-003": "0.12"}
    assert push(run_cli, recipe, shifted)[0].exit_code == ExitCode.HELD
    assert push(run_cli, recipe, shifted, "--force")[0].exit_code == 0

    before = len(sim.catalog_requests())
    refused = rollback(run_cli, recipe)
    assert refused.exit_code == ExitCode.HELD, refused.output
    assert "REFUSED by the price guard" in refused.output and "--force" in refused.output
    assert len(sim.catalog_requests()) == before and base(sim)["SKU-001"] == Decimal("0.19")

    forced = rollback(run_cli, recipe, "--force")
    assert forced.exit_code == 0, forced.output
    assert base(sim) == {sku: Decimal(p) for sku, p in FIRST.items()}
    again = rollback(run_cli, recipe, "--force")
    assert again.exit_code == 0 and "nothing to roll back" in again.output.lower()
    assert base(sim)["SKU-001"] == Decimal("19.99")


def test_a_rerun_after_a_partial_failure_sends_only_what_did_not_go_back(  # type: ignore[no-untyped-def]
        run_cli, setup) -> None:
    recipe, sim = setup
    push(run_cli, recipe, FIRST, trade={"SKU-001": "15.00"})
    push(run_cli, recipe, {"SKU-001": "20.99", "SKU-002": "5.50", "SKU-003": "13.00"},
         trade={"SKU-001": "16.00"})
    sim.known_skus.discard("SKU-002")  # Magento refuses this row of the rollback
    partial = rollback(run_cli, recipe)
    assert partial.exit_code == ExitCode.HELD, partial.output
    assert "SKU-002|store 0" in partial.output
    assert base(sim) == {"SKU-001": Decimal("19.99"), "SKU-002": Decimal("5.50"),
                         "SKU-003": Decimal("12.50")}
    assert sim.tier_prices[("SKU-001", 0, "Wholesale", Decimal(1))] == Decimal("15.00")

    sim.known_skus.add("SKU-002")
    before = len(sim.catalog_requests())
    rerun = rollback(run_cli, recipe)
    assert rerun.exit_code == 0, rerun.output
    assert [(row["sku"], row["price"]) for row in sent_since(sim, before)] == [("SKU-002", 5)]
    assert base(sim)["SKU-002"] == Decimal("5.00")
    before = len(sim.catalog_requests())
    done = rollback(run_cli, recipe)
    assert done.exit_code == 0 and "nothing to roll back" in done.output.lower()
    assert len(sim.catalog_requests()) == before


def test_a_rerun_of_the_same_payload_is_the_same_push(run_cli, setup) -> None:  # type: ignore[no-untyped-def]
    recipe, sim = setup
    push(run_cli, recipe, FIRST)
    sim.known_skus.discard("SKU-003")
    changed = {"SKU-001": "20.99", "SKU-002": "5.50", "SKU-003": "13.00"}
    failed, manifest = push(run_cli, recipe, changed)
    assert failed.exit_code == ExitCode.HELD
    sim.known_skus.add("SKU-003")
    retried = run_cli("-r", str(recipe), "push-magento", "--from", manifest)
    assert retried.exit_code == 0 and "1 changed since the last push" in retried.output
    assert rollback(run_cli, recipe).exit_code == 0
    assert base(sim) == {sku: Decimal(p) for sku, p in FIRST.items()}


def test_dry_run_rollback_changes_nothing(run_cli, setup) -> None:  # type: ignore[no-untyped-def]
    recipe, sim = setup
    push(run_cli, recipe, FIRST)
    push(run_cli, recipe, {**FIRST, "SKU-003": "13.00"})
    before = len(sim.catalog_requests())
    dry = rollback(run_cli, recipe, "--dry-run")
    assert dry.exit_code == 0 and "would send 1" in dry.output
    manifest = json.loads(Path(dry.stdout.strip()).read_text(encoding="utf-8"))
    preview = (Path(dry.stdout.strip()).parent / "preview.csv").read_text(encoding="utf-8")
    assert manifest["summary"]["dry_run"] is True
    assert "SKU-003|store 0,13,12.5" in preview
    assert len(sim.catalog_requests()) == before
    assert rollback(run_cli, recipe).exit_code == 0
    assert base(sim)["SKU-003"] == Decimal("12.50")


def test_nothing_pushed_or_only_first_prices_is_nothing_to_roll_back(  # type: ignore[no-untyped-def]
        run_cli, setup) -> None:
    recipe, sim = setup
    empty = rollback(run_cli, recipe)
    assert empty.exit_code == 0 and "nothing to roll back" in empty.output.lower()
    push(run_cli, recipe, FIRST)
    first = rollback(run_cli, recipe)
    assert first.exit_code == 0 and "nothing to roll back" in first.output.lower()
    assert "no earlier price" in first.output
    assert base(sim)["SKU-001"] == Decimal("19.99")


def _ledger_before_pushes(path: Path, rows: list[tuple[str, str, str | None, str, str]],
                          runs: list[tuple[str, str]]) -> None:
    """A ledger as the version before push snapshots left it."""
    db = sqlite3.connect(path, isolation_level=None)
    before = next(i for i, script in enumerate(MIGRATIONS) if "CREATE TABLE pushes" in script)
    for number, script in enumerate(MIGRATIONS[:before], start=1):
        for statement in script.split(";"):
            if statement.strip():
                db.execute(statement)
        db.execute(f"PRAGMA user_version = {number}")
    db.executemany("INSERT INTO runs (run_id, command, flow, started_at) VALUES (?,?,'x','t')",
                   runs)
    db.executemany("INSERT INTO pushed VALUES ('prices', ?, ?, ?, ?, ?)", rows)
    db.close()


def test_an_older_ledger_keeps_its_last_push_for_rollback(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    _ledger_before_pushes(path, [
        ("A|store 0", "11", "10", "2026-01-01T10:00:00Z", "run-1"),
        ("B|store 0", "21", "20", "2026-01-02T10:00:00Z", "run-2"),
        ("C|store 0", "30", None, "2026-01-02T10:00:00Z", "run-2"),
    ], [("run-1", "push-magento"), ("run-2", "push-magento")])
    with Ledger(path) as ledger:
        last = ledger.last_push("prices")
        assert last is not None and last.run_id == "run-2" and last.rolled_back_at is None
        assert ledger.push_changes(last.push_id) == {"B|store 0": ("21", "20"),
                                                     "C|store 0": ("30", None)}


def test_an_older_ledger_whose_last_change_was_a_rollback_has_nothing_to_undo(
        tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    _ledger_before_pushes(path, [
        ("A|store 0", "10", "11", "2026-01-02T10:00:00Z", "run-back"),
    ], [("run-1", "push-magento"), ("run-back", "rollback")])
    with Ledger(path) as ledger:
        assert ledger.last_push("prices") is None
