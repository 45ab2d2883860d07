"""The bookkeepers' watched folder (`sagesync watch INBOX --once`) against the catalog
simulator: a pass killed mid-push is finished by the next one, exactly once; a paused writer
is not read half-way; duplicates are skipped only when that cannot hide anything; links and
other non-files are refused without being opened."""

from __future__ import annotations

import json
import os
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from sagesync.errors import ExitCode
from sagesync.ledger import Ledger
from sagesync.magento import push as push_module
from sagesync.ops import watch
from tests.catalog_recipe import catalog_recipe
from tests.magento_sim_catalog import CatalogSimulator
from tests.magento_sim_catalog import make_catalog_sim as make_catalog_sim

pytest.importorskip("sagesync.sage.exports")

SKUS = [f"SKU-{n:03d}" for n in range(1, 7)]


def stock_csv(on_hand: dict[str, int]) -> str:
    rows = "".join(f"{sku},{qty},0,0\r\n" for sku, qty in on_hand.items())
    return "STOCK_CODE,QTY_IN_STOCK,QTY_ALLOCATED,QTY_ON_ORDER\r\n" + rows


def prices_csv(prices: dict[str, str]) -> str:
    return "STOCK_CODE,SALES_PRICE\r\n" + "".join(f"{s},{p}\r\n" for s, p in prices.items())


@pytest.fixture
def shop(tmp_path: Path, make_catalog_sim) -> tuple[Path, Path, CatalogSimulator]:  # type: ignore[no-untyped-def]
    """(recipe, inbox, simulator): no stock buffer, so Magento gets the on-hand figure, and
    chunks of 2 so a six-line file takes three requests."""
    sim = make_catalog_sim(token="tok")
    recipe = tmp_path / "stock.toml"
    recipe.write_text(catalog_recipe("watch", sim.url, 2), encoding="utf-8")
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    return recipe, inbox, sim


def drop(inbox: Path, name: str, text: str) -> Path:
    """A file as a careful writer drops it: written under a temporary name, then renamed."""
    temporary = inbox / (name + ".tmp")
    temporary.write_bytes(text.encode("utf-8"))
    return temporary.replace(inbox / name)


def watch_once(run_cli, recipe: Path, inbox: Path, *extra: str):  # type: ignore[no-untyped-def]
    return run_cli("-r", str(recipe), "watch", str(inbox), "--once", "--settle", "0", *extra)


def sent_items(sim: CatalogSimulator, start: int = 0) -> list[tuple[str, Any]]:
    """(sku, value) of every item the simulator received, in order, from request `start` on."""
    items: list[tuple[str, Any]] = []
    for request in sim.catalog_requests()[start:]:
        body = json.loads(request.body, parse_float=Decimal)
        for item in body.get("sourceItems") or body.get("prices") or []:
            items.append((item["sku"], item.get("quantity", item.get("price"))))
    return items


def decimals(prices: dict[str, str]) -> dict[str, Decimal]:
    return {sku: Decimal(price) for sku, price in prices.items()}


def prices_in(sim: CatalogSimulator) -> dict[str, Decimal]:
    return {sku: price for (sku, _), price in sim.base_prices.items()}


def files_in(folder: Path) -> list[str]:
    """Names in a folder, without the watcher's own lock file."""
    return sorted(p.name for p in folder.iterdir() if p.name != watch.LOCK_NAME)


class Killed(BaseException):
    """Stands for SIGKILL in-process: nothing catches it, nothing after it runs."""


def kill_at_request(monkeypatch: pytest.MonkeyPatch, number: int) -> None:
    """The `number`-th catalog POST of this process dies before it leaves."""
    real = push_module.CatalogPusher._post
    calls = {"n": 0}

    def post(self, endpoint, group, report, **kw):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == number:
            raise Killed
        return real(self, endpoint, group, report, **kw)

    monkeypatch.setattr(push_module.CatalogPusher, "_post", post)


# --------------------------------------------------------------------------- 1: resume


def test_a_pass_killed_mid_push_is_finished_by_the_next_one_sending_only_the_rest(  # type: ignore[no-untyped-def]
        run_cli, shop, monkeypatch: pytest.MonkeyPatch) -> None:
    recipe, inbox, sim = shop
    stock = {sku: 10 * n for n, sku in enumerate(SKUS, start=1)}
    drop(inbox, "stock-monday.csv", stock_csv(stock))
    kill_at_request(monkeypatch, 2)  # the first chunk of two lands, then the process dies
    with pytest.raises(Killed):
        watch_once(run_cli, recipe, inbox)
    monkeypatch.undo()
    assert files_in(inbox / "processing") == ["stock-monday.csv"]  # stranded, as if killed
    assert len(sim.source_items) == 2
    before = len(sim.catalog_requests())
    result = watch_once(run_cli, recipe, inbox)
    assert result.exit_code == 0, result.output
    assert "resumed" in result.output
    assert files_in(inbox / "processing") == []
    assert list((inbox / "archive").rglob("stock-monday.csv"))
    assert sim.source_items == {(sku, "default"): (Decimal(q), 1) for sku, q in stock.items()}
    # exactly the remainder: the two items that landed are not sent again
    assert sorted(s for s, _ in sent_items(sim, before)) == SKUS[2:]
    again = watch_once(run_cli, recipe, inbox)
    assert again.exit_code == 0 and len(sim.catalog_requests()) == before + 2


def test_a_resumed_price_push_is_one_push_for_rollback(  # type: ignore[no-untyped-def]
        run_cli, shop, monkeypatch: pytest.MonkeyPatch) -> None:
    recipe, inbox, sim = shop
    old = {sku: f"{10 + n}.00" for n, sku in enumerate(SKUS)}
    new = {sku: f"{10 + n}.50" for n, sku in enumerate(SKUS)}  # small moves: the guard passes
    drop(inbox, "prices-1.csv", prices_csv(old))
    assert watch_once(run_cli, recipe, inbox).exit_code == 0
    drop(inbox, "prices-2.csv", prices_csv(new))
    kill_at_request(monkeypatch, 3)
    with pytest.raises(Killed):
        watch_once(run_cli, recipe, inbox)
    monkeypatch.undo()
    before = len(sim.catalog_requests())
    assert watch_once(run_cli, recipe, inbox).exit_code == 0
    assert sorted(s for s, _ in sent_items(sim, before)) == SKUS[4:]
    assert prices_in(sim) == decimals(new)
    with Ledger(recipe.parent / "state" / "ledger.sqlite") as ledger:
        last = ledger.last_push("prices")
        assert last is not None
        changes = ledger.push_changes(last.push_id)
    assert {k.split("|")[0]: Decimal(v) for k, (v, _) in changes.items()} == decimals(new)
    assert {k.split("|")[0]: Decimal(p or "") for k, (_, p) in changes.items()} == decimals(old)
    rolled = run_cli("-r", str(recipe), "rollback", "prices")
    assert rolled.exit_code == 0, rolled.output
    assert prices_in(sim) == decimals(old)


def test_a_file_left_in_processing_by_an_old_version_is_pushed(  # type: ignore[no-untyped-def]
        run_cli, shop) -> None:
    recipe, inbox, sim = shop
    (inbox / "processing").mkdir()
    (inbox / "processing" / "stock-x.csv").write_text(stock_csv({"SKU-001": 4}),
                                                      encoding="utf-8")
    result = watch_once(run_cli, recipe, inbox)
    assert result.exit_code == 0, result.output
    assert sim.source_items == {("SKU-001", "default"): (Decimal(4), 1)}
    assert list((inbox / "archive").rglob("stock-x.csv"))


# --------------------------------------------------------------------------- 4: stability


def test_a_writer_that_pauses_mid_line_is_not_read(run_cli, shop) -> None:  # type: ignore[no-untyped-def]
    recipe, inbox, sim = shop
    cut = stock_csv({"SKU-001": 5, "SKU-002": 7})[:-6]  # "SKU-002,7,0,0\r\n" cut after "SKU-00"
    path = inbox / "stock-paused.csv"
    path.write_text(cut, encoding="utf-8", newline="")
    result = watch_once(run_cli, recipe, inbox)
    assert result.exit_code == 0, result.output
    assert path.exists() and "waiting" in result.output and "last line" in result.output
    assert sim.catalog_requests() == []
    # the writer comes back and finishes the line: now it is taken whole
    path.write_text(stock_csv({"SKU-001": 5, "SKU-002": 7}), encoding="utf-8", newline="")
    assert watch_once(run_cli, recipe, inbox).exit_code == 0
    assert sim.source_items[("SKU-002", "default")] == (Decimal(7), 1)


def test_a_file_left_cut_is_taken_after_the_grace_period_and_quarantined(  # type: ignore[no-untyped-def]
        run_cli, shop) -> None:
    """Not left waiting for ever: after the grace period the checks read it, and a last line
    without a line end is refused there as probably cut (exit 65, nothing applied)."""
    recipe, inbox, sim = shop
    path = inbox / "stock-nonl.csv"
    path.write_text(stock_csv({"SKU-001": 5}).rstrip("\r\n"), encoding="utf-8", newline="")
    old = time.time() - watch.INCOMPLETE_GRACE_SECONDS - 5
    os.utime(path, (old, old))
    result = watch_once(run_cli, recipe, inbox)
    assert result.exit_code == ExitCode.BAD_INPUT, result.output
    assert not path.exists() and "waiting" not in result.output
    assert "line 2" in (inbox / "quarantine" / "stock-nonl.csv.error.txt").read_text()
    assert sim.catalog_requests() == []


@pytest.mark.parametrize("name", ["stock.csv.tmp", "stock.csv.partial", "~$stock.csv",
                                  "stock.csv.filepart", "stock.csv.crdownload", ".stock.csv"])
def test_temporary_names_are_left_alone_until_renamed(  # type: ignore[no-untyped-def]
        run_cli, shop, name: str) -> None:
    recipe, inbox, sim = shop
    path = inbox / name
    path.write_text(stock_csv({"SKU-001": 5}), encoding="utf-8")
    result = watch_once(run_cli, recipe, inbox)
    assert result.exit_code == 0 and path.exists() and sim.catalog_requests() == []
    path.replace(inbox / "stock.csv")
    assert watch_once(run_cli, recipe, inbox).exit_code == 0
    assert sim.source_items == {("SKU-001", "default"): (Decimal(5), 1)}


# --------------------------------------------------------------------------- 5: duplicates


def test_a_bad_file_dropped_again_is_quarantined_again(run_cli, shop) -> None:  # type: ignore[no-untyped-def]
    recipe, inbox, sim = shop
    bad = stock_csv({"SKU-001": 5}).replace("SKU-001,5", "SKU-001,-5")
    drop(inbox, "stock-bad.csv", bad)
    first = watch_once(run_cli, recipe, inbox)
    assert first.exit_code == ExitCode.BAD_INPUT
    drop(inbox, "stock-bad.csv", bad)
    second = watch_once(run_cli, recipe, inbox)
    assert second.exit_code == ExitCode.BAD_INPUT, second.output
    assert "already processed" not in second.output
    reports = sorted((inbox / "quarantine").glob("*.error.txt"))
    assert len(reports) == 2 and all("line 2" in r.read_text() for r in reports)
    assert sim.catalog_requests() == []


def test_dropping_an_earlier_file_again_reverts_to_it(run_cli, shop) -> None:  # type: ignore[no-untyped-def]
    recipe, inbox, sim = shop
    monday, tuesday = stock_csv({"SKU-001": 5}), stock_csv({"SKU-001": 9})
    drop(inbox, "stock-monday.csv", monday)
    drop(inbox, "stock-tuesday.csv", tuesday)
    assert watch_once(run_cli, recipe, inbox).exit_code == 0  # monday, then tuesday
    assert sim.source_items == {("SKU-001", "default"): (Decimal(9), 1)}
    drop(inbox, "stock-monday.csv", monday)  # "put Monday's figures back"
    result = watch_once(run_cli, recipe, inbox)
    assert result.exit_code == 0 and "already processed" not in result.output, result.output
    assert sim.source_items == {("SKU-001", "default"): (Decimal(5), 1)}


def test_the_same_file_again_with_nothing_applied_since_is_a_duplicate(  # type: ignore[no-untyped-def]
        run_cli, shop) -> None:
    recipe, inbox, sim = shop
    drop(inbox, "stock-monday.csv", stock_csv({"SKU-001": 5}))
    drop(inbox, "prices-monday.csv", prices_csv({"SKU-001": "3.00"}))
    assert watch_once(run_cli, recipe, inbox).exit_code == 0
    before = len(sim.catalog_requests())
    drop(inbox, "prices-tuesday.csv", prices_csv({"SKU-001": "3.10"}))  # another kind
    drop(inbox, "stock-again.csv", stock_csv({"SKU-001": 5}))
    result = watch_once(run_cli, recipe, inbox)
    assert "already processed, archived without pushing: stock-again.csv" in result.output
    assert len(sim.catalog_requests()) == before + 1  # the price only


def test_a_push_by_hand_since_makes_the_file_new_again(run_cli, shop, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    recipe, inbox, sim = shop
    drop(inbox, "stock-monday.csv", stock_csv({"SKU-001": 5}))
    assert watch_once(run_cli, recipe, inbox).exit_code == 0
    by_hand = tmp_path / "by-hand.csv"
    by_hand.write_text(stock_csv({"SKU-001": 8}), encoding="utf-8")
    parsed = run_cli("-r", str(recipe), "parse-sage", str(by_hand), "--kind", "stock")
    assert run_cli("-r", str(recipe), "push-magento", "--from",
                   parsed.stdout.strip()).exit_code == 0
    drop(inbox, "stock-monday.csv", stock_csv({"SKU-001": 5}))
    assert watch_once(run_cli, recipe, inbox).exit_code == 0
    assert sim.source_items == {("SKU-001", "default"): (Decimal(5), 1)}


def test_a_file_with_items_magento_refused_is_held_and_not_a_duplicate(  # type: ignore[no-untyped-def]
        run_cli, shop) -> None:
    recipe, inbox, _ = shop
    text = stock_csv({"SKU-001": 5, "NOPE-1": 3})
    drop(inbox, "stock-monday.csv", text)
    first = watch_once(run_cli, recipe, inbox)
    assert first.exit_code == ExitCode.HELD, first.output
    assert "NOPE-1" in first.output
    drop(inbox, "stock-monday.csv", text)
    second = watch_once(run_cli, recipe, inbox)
    assert second.exit_code == ExitCode.HELD and "already processed" not in second.output


# --------------------------------------------------------------------------- 13: non-files


posix_only = pytest.mark.skipif(sys.platform == "win32", reason="symlinks and fifos need POSIX "
                                "privileges or calls here")


@posix_only
def test_a_link_is_refused_without_reading_its_target(  # type: ignore[no-untyped-def]
        run_cli, shop, tmp_path: Path) -> None:
    recipe, inbox, sim = shop
    private = tmp_path / "private.txt"
    private.write_text("password=hunter2\n", encoding="utf-8")
    (inbox / "stock-link.csv").symlink_to(private)
    good = tmp_path / "good.csv"
    good.write_text(stock_csv({"SKU-001": 5}), encoding="utf-8")
    (inbox / "stock-good-link.csv").symlink_to(good)
    result = watch_once(run_cli, recipe, inbox)
    assert result.exit_code == ExitCode.BAD_INPUT, result.output
    assert "symbolic link" in result.output
    assert sim.catalog_requests() == []
    assert private.read_text(encoding="utf-8") == "password=hunter2\n" and good.exists()
    for path in inbox.rglob("*"):
        if path.is_file() and not path.is_symlink():
            assert "hunter2" not in path.read_text(encoding="utf-8", errors="replace"), path
    assert (inbox / "quarantine" / "stock-link.csv").is_symlink()
    assert "symbolic link" in (inbox / "quarantine" / "stock-link.csv.error.txt").read_text()


@posix_only
def test_a_link_to_a_fifo_is_refused_without_opening_it(  # type: ignore[no-untyped-def]
        run_cli, shop, tmp_path: Path) -> None:
    recipe, inbox, _ = shop
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)  # opening it for reading would block this test forever
    (inbox / "stock-pipe.csv").symlink_to(fifo)
    os.mkfifo(inbox / "stock-fifo.csv")
    (inbox / "stock-folder.csv").mkdir()
    result = watch_once(run_cli, recipe, inbox)
    assert result.exit_code == ExitCode.BAD_INPUT, result.output
    for name, reason in (("stock-pipe.csv", "symbolic link"), ("stock-fifo.csv", "pipe"),
                         ("stock-folder.csv", "folder")):
        assert f"{name}: refused" in result.output and reason in result.output
        assert (inbox / "quarantine" / f"{name}.error.txt").exists()
        assert not (inbox / name).exists() and not (inbox / name).is_symlink()


# --------------------------------------------------------------------------- the pass itself


def test_files_after_one_magento_could_not_take_wait_so_the_order_holds(  # type: ignore[no-untyped-def]
        run_cli, shop) -> None:
    recipe, inbox, sim = shop
    recipe.write_text(recipe.read_text(encoding="utf-8").replace(
        'token = "tok"\n', 'token = "tok"\nretry_attempts = 1\n'), encoding="utf-8")
    drop(inbox, "stock-1.csv", stock_csv({"SKU-001": 5}))
    drop(inbox, "stock-2.csv", stock_csv({"SKU-001": 9}))
    sim.faults.add("/V1/inventory", status=503, times=1)
    first = watch_once(run_cli, recipe, inbox)
    assert first.exit_code == ExitCode.RETRY_LATER, first.output
    assert files_in(inbox)[-2:] == ["stock-1.csv", "stock-2.csv"]
    assert sim.source_items == {}
    assert watch_once(run_cli, recipe, inbox).exit_code == 0
    assert sim.source_items == {("SKU-001", "default"): (Decimal(9), 1)}  # the newer one


def test_a_dry_run_moves_and_records_nothing(run_cli, shop) -> None:  # type: ignore[no-untyped-def]
    recipe, inbox, sim = shop
    drop(inbox, "stock-monday.csv", stock_csv({"SKU-001": 5}))
    dry = watch_once(run_cli, recipe, inbox, "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert files_in(inbox) == ["stock-monday.csv"] and sim.catalog_requests() == []
    real = watch_once(run_cli, recipe, inbox)
    assert "done: stock-monday.csv" in real.output
    assert sim.source_items == {("SKU-001", "default"): (Decimal(5), 1)}


def test_a_second_watcher_on_the_same_inbox_does_nothing_and_says_retry(  # type: ignore[no-untyped-def]
        run_cli, shop) -> None:
    from filelock import FileLock

    recipe, inbox, sim = shop
    (inbox / "processing").mkdir()
    drop(inbox, "stock-monday.csv", stock_csv({"SKU-001": 5}))
    with FileLock(inbox / "processing" / watch.LOCK_NAME):
        result = watch_once(run_cli, recipe, inbox)
    assert result.exit_code == ExitCode.RETRY_LATER, result.output
    assert "Another watcher" in result.output
    assert files_in(inbox) == ["archive", "processing", "quarantine", "stock-monday.csv"]
    assert sim.catalog_requests() == []


# --------------------------------------------------------------------------- 14: not exports


def test_files_that_are_not_sage_exports_by_name_are_left_alone(run_cli, shop) -> None:  # type: ignore[no-untyped-def]
    """A note, a spreadsheet, a CSV whose name says neither stock nor prices: not read, not
    moved, not quarantined; the stock file beside them goes as usual."""
    recipe, inbox, sim = shop
    for name in ("notes.txt", "stock-count.xlsx", "orders.csv"):
        drop(inbox, name, "anything\r\n")
    drop(inbox, "stock-1.csv", stock_csv({"SKU-001": 4}))
    done = watch_once(run_cli, recipe, inbox)
    assert done.exit_code == ExitCode.OK, done.output
    assert files_in(inbox) == ["archive", "notes.txt", "orders.csv", "processing", "quarantine",
                               "stock-count.xlsx"]
    assert not list((inbox / "quarantine").iterdir())
    assert "not a Sage export by its name, left alone: orders.csv" in done.output
    assert sent_items(sim) == [("SKU-001", 4)]


def test_a_file_applied_with_rows_refused_gets_a_warnings_note(run_cli, shop) -> None:  # type: ignore[no-untyped-def]
    recipe, inbox, _ = shop
    drop(inbox, "stock-2.csv", stock_csv({"SKU-001": 5, "NOPE-1": 3}))
    done = watch_once(run_cli, recipe, inbox)
    assert done.exit_code == ExitCode.HELD
    (day,) = (inbox / "archive").iterdir()
    assert files_in(day) == ["stock-2.csv", "stock-2.csv.warnings.txt"]
    note = (day / "stock-2.csv.warnings.txt").read_text(encoding="utf-8")
    assert note.startswith("stock-2.csv was applied, but 1 of its rows were not:")
    assert "NOPE-1" in note and "SKU-001" not in note
    assert "see stock-2.csv.warnings.txt" in done.output


def test_status_of_a_stock_recipe_shows_pushes_refusals_and_quarantined_files(  # type: ignore[no-untyped-def]
        run_cli, shop) -> None:
    recipe, inbox, _ = shop
    drop(inbox, "stock-1.csv", stock_csv({"SKU-001": 5, "SKU-002": 6}))
    assert watch_once(run_cli, recipe, inbox).exit_code == ExitCode.OK
    drop(inbox, "stock-2.csv", stock_csv({"SKU-001": 7, "NOPE-1": 3}))
    assert watch_once(run_cli, recipe, inbox).exit_code == ExitCode.HELD
    drop(inbox, "stock-3.csv", "STOCK_CODE,QTY_IN_STOCK\r\nSKU-001,lots\r\n")
    assert watch_once(run_cli, recipe, inbox).exit_code == ExitCode.BAD_INPUT
    shown = run_cli("-r", str(recipe), "status")
    assert "last stock push:" in shown.stdout and "(1 item)" in shown.stdout
    assert "refused (watch," in shown.stdout and "NOPE-1" in shown.stdout
    assert "quarantined file stock-3.csv" in shown.stdout
    report = json.loads(run_cli("-r", str(recipe), "status", "--json").stdout)
    assert [p["kind"] for p in report["catalog"]["last_pushes"]] == ["stock"]
    assert [q["name"] for q in report["catalog"]["quarantined"]] == ["stock-3.csv"]
