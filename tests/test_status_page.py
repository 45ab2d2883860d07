"""The status page (`sagesync report --html`, `[report] html` after each run), checked in a
real headless chromium: it loads without an error, and shows the exact figures of a state
folder built by real runs of the demo recipe through the CLI.

The known state: the demo recipe without its 5% tax code, so the four documents with a 5%
line are held by validation (`unmapped_tax_rate`); two more put on hold by hand
(`held_by_person`) after the export; `run` sends the other four; Sage confirms two of them
(`ack`). Ten documents exported, four sent, two confirmed, six waiting for a person.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner, Result

from sagesync.cli.main import cli
from sagesync.cli.options import Context
from sagesync.errors import ExitCode
from tests.browser import Browser, chromium_or_skip
from tests.conftest import DEMO_RECIPE, SAMPLES

INJECTED = '<b id="injected">x</b><img src="nowhere" onerror="console.error(1)">'


def invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False,
                              obj=Context(tell_all=True))


def demo_without_5_percent(folder: Path, extra: str = "", sku: str | None = None) -> Path:
    """A copy of the demo (recipe, samples) whose recipe maps no 5% rate; `sku`, when
    given, replaces the SKU HE-LED-10 (a 5% line) in every Magento page."""
    shutil.copytree(SAMPLES, folder / "samples")
    if sku is not None:
        for page in (folder / "samples" / "magento").rglob("*.json"):
            text = page.read_text(encoding="utf-8")
            page.write_text(text.replace('"HE-LED-10"', json.dumps(sku)), encoding="utf-8")
    (folder / "recipes").mkdir()
    recipe = folder / "recipes" / "demo.toml"
    text = DEMO_RECIPE.read_text(encoding="utf-8")
    assert ', "5" = "T5"' in text
    recipe.write_text(text.replace(', "5" = "T5"', "") + extra, encoding="utf-8")
    return recipe


def build_state(folder: Path, sku: str | None = None) -> tuple[Path, Path]:
    """The known state (module docstring) under `folder`: (recipe, state folder)."""
    recipe = demo_without_5_percent(folder, '\n[report]\nhtml = "../after-run.html"\n', sku)
    state = folder / "state"
    cli_args = ("--state-dir", str(state), "-r", str(recipe))
    exported = invoke(*cli_args, "export-orders")
    assert exported.exit_code == 0, exported.output
    held = invoke(*cli_args, "hold", "invoice:2@1", "invoice:3@1")
    assert held.exit_code == 0, held.output
    ran = invoke(*cli_args, "run", "--out", str(folder / "outbox"))
    assert ran.exit_code == ExitCode.HELD, ran.output
    answers = folder / "ack.csv"
    answers.write_text("Type,Reference,Transaction Number\r\nSI,000000001,501\r\n"
                       "SI,000000006,502\r\n", encoding="utf-8")
    acked = invoke(*cli_args, "ack", str(answers))
    assert acked.exit_code == 0, acked.output
    return recipe, state


@pytest.fixture(scope="module")
def known_state(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return build_state(tmp_path_factory.mktemp("known"))


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    chromium_or_skip()
    found = Browser(tmp_path_factory.mktemp("chromium") / "profile")
    try:
        yield found
    finally:
        found.close()


def report_json(recipe: Path, state: Path) -> dict[str, Any]:
    result = invoke("--state-dir", str(state), "-r", str(recipe), "report", "--json")
    assert result.exit_code == 0, result.output
    figures: dict[str, Any] = json.loads(result.stdout)
    return figures


def today_in_london() -> str:
    return datetime.now(UTC).astimezone(ZoneInfo("Europe/London")).strftime("%Y-%m-%d")


def test_the_figures_of_the_known_state(known_state: tuple[Path, Path]) -> None:
    recipe, state = known_state
    figures = report_json(recipe, state)
    assert {k: v for k, v in figures["counts"].items() if v} == \
        {"held": 6, "sent": 2, "confirmed": 2}
    assert (figures["waiting"], figures["with_person"]) == (0, 6)
    assert [(c["code"], c["count"]) for c in figures["holds_by_cause"]] == \
        [("unmapped_tax_rate", 4), ("held_by_person", 2)]
    day = figures["per_day"]
    if len(day) == 1:  # not run across midnight in London
        assert day == [{"day": today_in_london(), "exported": 10, "sent": 4, "confirmed": 2}]
    assert sum(d["exported"] for d in day) == 10
    assert max(p["peak"] for p in figures["queue"]) == 10  # all ten pending after export
    last = figures["queue"][-1]
    assert (last["waiting"], last["with_person"]) == (0, 6)
    assert [(r["command"], r["exit_code"], r["delivered"]) for r in figures["runs"]][:2] == \
        [("ack", 0, None), ("run", 1, 4)]


def test_the_page_shows_the_figures_in_a_browser_without_an_error(
        known_state: tuple[Path, Path], browser: Browser, tmp_path: Path) -> None:
    recipe, state = known_state
    page_file = tmp_path / "status.html"
    written = invoke("--state-dir", str(state), "-r", str(recipe), "report", "--html",
                     str(page_file))
    assert written.exit_code == 0, written.output
    page = browser.open(page_file)
    assert page.errors == []
    assert page.text("[data-figure=waiting]") == "0"
    assert page.text("[data-figure=with_person]") == "6"
    assert page.text("[data-figure=peak_depth]") == "10"
    assert page.text("[data-state=held] td.n") == "6"
    assert page.text("[data-state=sent] td.n") == "2"
    assert page.text("[data-state=confirmed] td.n") == "2"
    assert page.text("[data-cause=unmapped_tax_rate]").split("\t")[2] == "4"
    assert page.text("[data-cause=held_by_person]").split("\t")[2] == "2"
    days = page.evaluate("Array.from(document.querySelectorAll('#per-day tbody tr'))"
                         ".map(r => Array.from(r.cells).map(c => c.innerText))")
    assert sum(int(d[1]) for d in days) == 10 and sum(int(d[2]) for d in days) == 4
    assert sum(int(d[3]) for d in days) == 2
    runs = page.evaluate("Array.from(document.querySelectorAll('#runs tbody tr'))"
                         ".map(r => [r.cells[1].innerText, r.cells[3].innerText])")
    assert runs[:2] == [["ack", "0"], ["run", "1"]]
    # the charts are there, one per figure, drawn inline
    assert page.evaluate("document.querySelectorAll('svg.chart').length") == 5
    assert page.evaluate("document.querySelectorAll('svg.chart polyline').length") >= 3
    # the page asks for nothing outside itself: no element names a URL
    assert page.evaluate("document.querySelectorAll('[src], link[href], [href^=http]')"
                         ".length") == 0


def test_run_writes_the_page_the_recipe_asks_for(known_state: tuple[Path, Path],
                                                  browser: Browser) -> None:
    recipe, _state = known_state
    after_run = recipe.parent.parent / "after-run.html"  # [report] html, relative to the recipe
    page = browser.open(after_run)
    assert page.errors == []
    # written when the run ended, before Sage's answers: four sent, nothing confirmed yet
    assert page.text("[data-state=sent] td.n") == "4"
    assert page.text("[data-state=confirmed] td.n") == "0"
    assert page.text("#runs tbody tr td:nth-child(4)") == "1"  # the run itself, exit 1


def test_a_broken_page_fails_the_check(known_state: tuple[Path, Path], browser: Browser,
                                       tmp_path: Path) -> None:
    """The check is worth something: each way of breaking the page is reported."""
    recipe, state = known_state
    good = tmp_path / "good.html"
    assert invoke("--state-dir", str(state), "-r", str(recipe), "report", "--html",
                  str(good)).exit_code == 0
    text = good.read_text(encoding="utf-8")
    breakages = {
        "a script of its own that throws": text.replace(
            "document.querySelectorAll(", "document.querySelectorAl("),
        "an injected script": text.replace("</body>", "<script>console.error(1)</script></body>"),
        "a stylesheet from the network": text.replace(
            "</head>", '<link rel="stylesheet" href="https://127.0.0.1:9/x.css"></head>'),
    }
    for name, broken in breakages.items():
        path = tmp_path / "broken.html"
        path.write_text(broken, encoding="utf-8")
        assert browser.open(path).errors, f"{name}: not reported"
    plain = tmp_path / "plain.html"  # no policy: the exception itself is what is reported
    plain.write_text("<!DOCTYPE html><title>t</title><script>notDefined()</script>",
                     encoding="utf-8")
    assert any("notDefined" in e for e in browser.open(plain).errors)
    assert browser.open(good).errors == []


def test_values_from_magento_are_shown_as_text(tmp_path: Path, browser: Browser) -> None:
    recipe, state = build_state(tmp_path, sku=INJECTED)
    page_file = tmp_path / "status.html"
    assert invoke("--state-dir", str(state), "-r", str(recipe), "report", "--html",
                  str(page_file)).exit_code == 0
    page = browser.open(page_file)
    assert page.errors == []
    assert page.evaluate("document.getElementById('injected')") is None
    assert page.evaluate("document.querySelectorAll('img').length") == 0
    assert INJECTED in page.text("[data-record='invoice:4@1']")


def test_report_needs_a_target(known_state: tuple[Path, Path], tmp_path: Path) -> None:
    _recipe, state = known_state
    plain = demo_without_5_percent(tmp_path)  # no [report] section
    result = invoke("--state-dir", str(state), "-r", str(plain), "report")
    assert result.exit_code == ExitCode.USAGE
    assert "--html FILE" in result.output and "Traceback" not in result.output


def test_a_page_that_cannot_be_written(known_state: tuple[Path, Path], tmp_path: Path) -> None:
    recipe, state = known_state
    target = tmp_path / "no such folder" / "status.html"
    result = invoke("--state-dir", str(state), "-r", str(recipe), "report", "--html",
                    str(target))
    assert result.exit_code == ExitCode.CANT_CREATE
    assert re.search(r"cannot write the status page .*status\.html", result.output)
    assert "Traceback" not in result.output


def test_after_a_run_an_unwritable_page_is_only_a_warning(tmp_path: Path) -> None:
    recipe = demo_without_5_percent(tmp_path, '\n[report]\nhtml = "../missing/status.html"\n')
    result = invoke("--state-dir", str(tmp_path / "state"), "run", str(recipe))
    assert result.exit_code == ExitCode.HELD  # the run's own outcome: four documents held
    assert "warning: status page not written ([report] html)" in result.output


@pytest.mark.parametrize(("section", "key"), [('html = ""', "report.html"),
                                              ("days = 0", "report.days"),
                                              ("colour = 1", "report.colour")])
def test_a_wrong_report_key_is_named(tmp_path: Path, section: str, key: str) -> None:
    recipe = demo_without_5_percent(tmp_path, f"\n[report]\n{section}\n")
    result = invoke("--state-dir", str(tmp_path / "state"), "-r", str(recipe), "report",
                    "--json")
    assert result.exit_code == ExitCode.USAGE
    assert f"'{key}'" in result.output and "Traceback" not in result.output



def test_a_state_folder_with_no_ledger_yet(tmp_path: Path, browser: Browser) -> None:
    """The page of a fresh install: it says so, and reading creates nothing."""
    recipe = demo_without_5_percent(tmp_path)
    state = tmp_path / "not yet"
    page_file = tmp_path / "status.html"
    result = invoke("--state-dir", str(state), "-r", str(recipe), "report", "--html",
                    str(page_file))
    assert result.exit_code == 0, result.output
    assert not state.exists()
    page = browser.open(page_file)
    assert page.errors == []
    assert page.text("#runs") == "No run yet."
    assert page.text("[data-figure=with_person]") == "0"
    assert page.text("[data-figure=last_success]") == "none yet"
