"""Alerts of the Sage -> Magento direction, against the catalog simulator: a price push the
guard refuses, and a file the watched folder quarantines (cleared once a person takes it out
of the inbox's quarantine/, noticed by `alerts check` without being told the inbox)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sagesync.errors import ExitCode
from tests.fixtures_alerts import HttpReceiver, http_receiver  # noqa: F401
from tests.magento_sim_catalog import CatalogSimulator
from tests.magento_sim_catalog import make_catalog_sim as make_catalog_sim
from tests.test_rollback import FIRST, push

pytest.importorskip("sagesync.sage.exports")


@pytest.fixture
def setup(tmp_path: Path, make_catalog_sim, http_receiver: HttpReceiver  # type: ignore[no-untyped-def]  # noqa: F811
          ) -> tuple[Path, CatalogSimulator]:
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
[alerts]
webhook_url = "{http_receiver.url}/hook"
triggers = ["price_guard", "quarantine", "auth"]
""", encoding="utf-8")
    return recipe, sim


def told(receiver: HttpReceiver) -> list[tuple[str, str]]:
    return [(a["status"], a["cause"]) for p in receiver.posts for a in p["sagesync"]["alerts"]]


def test_a_refused_price_push_alerts_until_a_push_goes_through(  # type: ignore[no-untyped-def]
        run_cli, setup, http_receiver: HttpReceiver) -> None:  # noqa: F811
    recipe, _sim = setup
    assert push(run_cli, recipe, FIRST)[0].exit_code == 0
    assert http_receiver.posts == []
    shifted = {"SKU-001": "0.19", "SKU-002": "0.05", "SKU-003": "0.12"}
    refused, _ = push(run_cli, recipe, shifted)
    assert refused.exit_code == ExitCode.HELD
    assert told(http_receiver) == [("raised", "price_guard")]
    detail = http_receiver.posts[0]["sagesync"]["alerts"][0]["detail"]
    assert "3 of 3 prices would change by more than 25% or become zero" in detail
    assert push(run_cli, recipe, shifted)[0].exit_code == ExitCode.HELD
    assert len(http_receiver.posts) == 1  # refused again: the same cause, no new message
    assert push(run_cli, recipe, shifted, "--force")[0].exit_code == 0
    assert told(http_receiver) == [("raised", "price_guard"), ("resolved", "price_guard")]


def test_a_file_quarantined_by_the_watcher_alerts_and_clears(  # type: ignore[no-untyped-def]
        run_cli, setup, tmp_path: Path, http_receiver: HttpReceiver) -> None:  # noqa: F811
    recipe, _sim = setup
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "prices-monday.csv").write_text("this is not,a price export\r\n1,2\r\n",
                                             encoding="utf-8")
    result = run_cli("-r", str(recipe), "watch", str(inbox), "--once", "--settle", "0")
    assert result.exit_code == ExitCode.BAD_INPUT, result.output
    assert [s for s, _ in told(http_receiver)] == ["raised"]
    alert = http_receiver.posts[0]["sagesync"]["alerts"][0]
    assert alert["cause"].startswith("quarantine:")
    assert alert["title"] == "A file was quarantined: prices-monday.csv"
    # the state folder keeps a copy too; once that is gone, cron's check (not told the
    # inbox) keeps the alert open while the inbox's copy is there
    kept = list((tmp_path / "state" / "quarantine").rglob("prices-monday*"))
    assert len(kept) == 2
    for path in kept:
        path.unlink()
    assert run_cli("-r", str(recipe), "alerts", "check").exit_code == 1
    assert len(http_receiver.posts) == 1
    for path in (inbox / "quarantine").iterdir():
        path.unlink()
    assert run_cli("-r", str(recipe), "alerts", "check").exit_code == 0
    assert told(http_receiver)[-1] == ("resolved", alert["cause"])
