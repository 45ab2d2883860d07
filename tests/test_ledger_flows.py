"""The ledger through the CLI: held records, confirmation, retries, amendments, the queue
across runs, file splitting and the one-run-at-a-time lock."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from sagesync.errors import ExitCode
from sagesync.ledger import Exported, Ledger, RecordKey
from sagesync.pipeline.lock import run_lock
from sagesync.transform.documents import CONTRA_SUFFIX
from tests.conftest import ROOT, subprocess_env


def edit(recipe: Path, old: str, new: str) -> None:
    text = recipe.read_text(encoding="utf-8")
    assert old in text
    recipe.write_text(text.replace(old, new), encoding="utf-8")


def run(run_cli, recipe: Path, state: Path, out: Path, *extra: str):  # type: ignore[no-untyped-def]
    return run_cli("--state-dir", str(state), "run", str(recipe), "--out", str(out), *extra)


def audit_rows(out: Path) -> list[list[str]]:
    rows = []
    for path in sorted(out.glob("*audit_trail*.csv")):
        text = path.read_bytes().decode("cp1252")
        rows += [line.split(",") for line in text.split("\r\n")[1:] if line]
    return rows


def references(out: Path) -> list[tuple[str, str]]:
    """(type, reference) of each document delivered, once per file that holds it (so a
    document delivered twice is listed twice); a fee or payment posted beside its document
    (`SI 000000001-FEE` beside `SC 000000001`) is part of it."""
    found: list[tuple[str, str]] = []
    for path in sorted(out.glob("*audit_trail*.csv")):
        text = path.read_bytes().decode("cp1252")
        in_file = dict.fromkeys((cells[0], cells[5]) for line in text.split("\r\n")[1:]
                                if line and (cells := line.split(",")))
        found += [ref for ref in in_file if ref[1].rpartition("-")[2]
                  not in CONTRA_SUFFIX.values()]
    return found


def test_one_invalid_record_is_held_and_the_rest_delivered(  # type: ignore[no-untyped-def]
        run_cli, demo_copy: Path, tmp_path: Path) -> None:
    edit(demo_copy, '"5" = "T5", ', "")  # 5 % VAT has no Sage code now
    state, out = tmp_path / "s", tmp_path / "out"
    result = run(run_cli, demo_copy, state, out)
    assert result.exit_code == ExitCode.HELD, result.output
    held = {ref for ref in ("000000004", "000000005", "000000008")}
    delivered = {ref for _, ref in references(out) if _ == "SI"}
    assert delivered.isdisjoint(held) and len(delivered) == 5
    assert "no Sage tax code for a 5% rate" in result.output
    status = json.loads(run_cli("--state-dir", str(state), "-r", str(demo_copy), "status",
                                "--json").stdout)
    assert status["counts"]["held"] == 4  # invoices 4, 5, 8 and credit memo 2
    assert any("5% rate" in h["reason"] for h in status["held"])
    traced = run_cli("--state-dir", str(state), "-r", str(demo_copy), "trace", "000000004")
    assert "state: held" in traced.output and "5% rate" in traced.output
    check = run_cli("--state-dir", str(state), "-r", str(demo_copy), "status", "--check")
    assert check.exit_code == 1 and "4 records held" in check.output

    edit(demo_copy, '"0" = "T0"', '"0" = "T0", "5" = "T5"')  # the bookkeeper fixes the mapping
    fixed = run(run_cli, demo_copy, state, out)
    assert fixed.exit_code == ExitCode.OK, fixed.output
    assert "delivered 4 documents" in fixed.output
    refs = references(out)
    assert len(refs) == len(set(refs)) == 10  # every document once, none twice


def ack_file(path: Path, rows: list[tuple[str, str, str]]) -> Path:
    lines = ["Type,Reference,Transaction Number,Status,Error"]
    lines += [f"{t},{ref},{num},{status}" for t, ref, num, status in
              ((r[0], r[1], r[2], "OK,") if len(r) == 3 else r for r in rows)]  # type: ignore[misc]
    path.write_text("\r\n".join(lines) + "\r\n", encoding="utf-8")
    return path


def test_ack_confirms_and_rejections_reach_a_person_after_three_tries(  # type: ignore[no-untyped-def]
        run_cli, demo_copy: Path, tmp_path: Path) -> None:
    with demo_copy.open("a", encoding="utf-8") as handle:
        handle.write('\n[ack]\nstatus_column = "Status"\nerror_column = "Error"\n')
    state, out = tmp_path / "s", tmp_path / "out"
    assert run(run_cli, demo_copy, state, out).exit_code == 0
    cli = ("--state-dir", str(state), "-r", str(demo_copy))
    confirm = ack_file(tmp_path / "ack1.csv", [("SI", "000000002", "101"),
                                                ("SC", "000000001", "102")])
    result = run_cli(*cli, "ack", str(confirm))
    assert result.exit_code == 0, result.output
    traced = run_cli(*cli, "trace", "000000002").output
    assert traced.count("state: confirmed") == 2 and "Sage 101" in traced and "Sage 102" in traced

    for attempt in (1, 2, 3):
        reject = tmp_path / f"rej{attempt}.csv"
        reject.write_text("Type,Reference,Transaction Number,Status,Error\r\n"
                          "SI,000000003,,Failed,Account OSULLIVA is on hold\r\n",
                          encoding="utf-8")
        result = run_cli(*cli, "ack", str(reject))
        if attempt < 3:
            assert "queued for the next run" in result.output
            again = run(run_cli, demo_copy, state, out)  # the next cycle resends it
            assert "delivered 1 document " in again.output, again.output
        else:
            assert result.exit_code == ExitCode.HELD
            assert "NEEDS ATTENTION" in result.output
    status = json.loads(run_cli(*cli, "status", "--json").stdout)
    assert status["counts"]["needs_attention"] == 1
    assert status["needs_attention"][0]["reason"] == "Account OSULLIVA is on hold"
    assert "delivered 0 documents" in run(run_cli, demo_copy, state, out).output
    assert run_cli(*cli, "retry", "000000003").exit_code == 0
    assert "delivered 1 document " in run(run_cli, demo_copy, state, out).output
    sends = [r for r in references(out) if r == ("SI", "000000003")]
    with Ledger(state / "ledger.sqlite") as ledger:
        events = [e for _, e, _ in ledger.events(ledger.rows(increment_id="000000003")[0].key)]
    # sent once, then once after each rejection and once after the retry: one file each time
    assert len(sends) == events.count("sent") == 4
    assert "needs_attention" in events and "retry" in events


def test_broken_ack_file_is_quarantined_and_applies_nothing(  # type: ignore[no-untyped-def]
        run_cli, demo_copy: Path, tmp_path: Path) -> None:
    state, out = tmp_path / "s", tmp_path / "out"
    run(run_cli, demo_copy, state, out)
    bad = tmp_path / "bad.csv"
    bad.write_text("Kind,Ref\r\nSI,000000002\r\n", encoding="utf-8")
    result = run_cli("--state-dir", str(state), "-r", str(demo_copy), "ack", str(bad))
    assert result.exit_code == ExitCode.BAD_INPUT
    assert "missing columns 'Reference', 'Transaction Number'" in result.output
    reports = list((state / "quarantine").rglob("bad.csv.error.txt"))
    assert reports and "line 1" in reports[0].read_text()
    assert bad.exists()


def test_hold_and_release(run_cli, demo_copy: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    state, out = tmp_path / "s", tmp_path / "out"
    cli = ("--state-dir", str(state), "-r", str(demo_copy))
    exported = run_cli(*cli, "export-orders")
    assert exported.exit_code == 0
    assert run_cli(*cli, "hold", "invoice:3@1").exit_code == 0
    first = run(run_cli, demo_copy, state, out)
    assert ("SI", "000000003") not in references(out) and "delivered 9" in first.output
    assert run_cli(*cli, "release", "invoice:3").exit_code == 0
    second = run(run_cli, demo_copy, state, out)
    assert "delivered 1 document " in second.output
    assert references(out).count(("SI", "000000003")) == 1
    unknown = run_cli(*cli, "hold", "invoice:999")
    assert unknown.exit_code == ExitCode.USAGE and "No record" in unknown.output


def test_changed_after_sending_is_amended_not_resent(  # type: ignore[no-untyped-def]
        run_cli, demo_copy: Path, tmp_path: Path) -> None:
    state, out = tmp_path / "s", tmp_path / "out"
    run(run_cli, demo_copy, state, out)
    page = demo_copy.parent.parent / "samples" / "magento" / "invoices" / "page-0001.json"
    data = json.loads(page.read_text(encoding="utf-8"))
    data["items"][0]["created_at"] = "2026-10-26 09:00:00"
    page.write_text(json.dumps(data, indent=2), encoding="utf-8")
    again = run(run_cli, demo_copy, state, out)
    assert "amended after sending" in again.output and "invoice:1@1" in again.output
    assert "delivered 0 documents" in again.output
    status = json.loads(run_cli("--state-dir", str(state), "-r", str(demo_copy), "status",
                                "--json").stdout)
    assert status["counts"]["amended"] == 1


def test_queued_records_wait_for_sage_across_runs(  # type: ignore[no-untyped-def]
        run_cli, demo_copy: Path, tmp_path: Path) -> None:
    """Exported while the delivery folder is unreachable; delivered by a later run whose
    export window no longer includes them."""
    state, out = tmp_path / "s", tmp_path / "out"
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the folder should be")
    first = run(run_cli, demo_copy, state, blocked / "inbox")
    assert first.exit_code == ExitCode.RETRY_LATER, first.output
    assert "Nothing was sent" in first.output
    later = run(run_cli, demo_copy, state, out, "--since", "2030-01-01")
    assert later.exit_code == 0, later.output
    assert len(references(out)) == 10


def test_large_batches_split_without_splitting_a_document(  # type: ignore[no-untyped-def]
        run_cli, demo_copy: Path, tmp_path: Path) -> None:
    edit(demo_copy, 'encoding = "cp1252"', 'encoding = "cp1252"\nmax_lines_per_file = 4')
    out = tmp_path / "out"
    assert run(run_cli, demo_copy, tmp_path / "s", out).exit_code == 0
    files = sorted(out.glob("*audit_trail*.csv"))
    assert len(files) > 3
    seen: dict[tuple[str, str], Path] = {}
    for path in files:
        rows = [r.split(",") for r in path.read_bytes().decode("cp1252").split("\r\n")[1:] if r]
        assert 1 <= len(rows) <= 4 or len({(r[0], r[5]) for r in rows}) == 1
        for row in rows:
            assert seen.setdefault((row[0], row[5]), path) == path  # a document in one file
    assert len(seen) == 11  # 10 documents and the credit memo's fee, posted as its own SI
    assert seen[("SI", "000000001-FEE")] == seen[("SC", "000000001")]  # one record, one file


def test_a_second_run_on_the_same_state_folder_exits_75_at_once(  # type: ignore[no-untyped-def]
        run_cli, tmp_path: Path) -> None:
    state = tmp_path / "s"
    with run_lock(state, "run demo"):
        started = time.perf_counter()
        result = run_cli("--state-dir", str(state), "run", str(ROOT / "recipes" / "demo.toml"),
                         "--out", str(tmp_path / "out"))
        assert time.perf_counter() - started < 30
    assert result.exit_code == ExitCode.RETRY_LATER
    assert "Another sagesync run holds" in result.output and "'run demo'" in result.output
    assert not (tmp_path / "out").exists()


def test_two_concurrent_processes_exactly_one_works(tmp_path: Path) -> None:
    state = tmp_path / "s"
    command = [sys.executable, "-m", "sagesync", "--state-dir", str(state), "run",
               str(ROOT / "recipes" / "demo.toml"), "--out", str(tmp_path / "out")]
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from pathlib import Path; "
         "from sagesync.pipeline.lock import run_lock\n"
         "with run_lock(Path(sys.argv[1]), 'run demo'):\n"
         "    print('locked', flush=True); time.sleep(30)", str(state)],
        stdout=subprocess.PIPE, text=True, env=subprocess_env())
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        second = subprocess.run(command, capture_output=True, text=True, timeout=60,
                                env=subprocess_env())
    finally:
        holder.kill()
        holder.wait()
    assert second.returncode == ExitCode.RETRY_LATER
    assert "Another sagesync run holds" in second.stderr and "Traceback" not in second.stderr
    third = subprocess.run(command, capture_output=True, text=True, timeout=120,
                           env=subprocess_env())
    assert third.returncode == 0, third.stderr  # the lock died with its holder


def test_a_new_account_that_cannot_be_written_holds_only_its_documents(  # type: ignore[no-untyped-def]
        run_cli, demo_copy: Path, tmp_path: Path) -> None:
    """A site's customers template rejects the generated account rows (here: names longer
    than 2 characters as a code): their documents wait with the reason, the rest go on."""
    templates = tmp_path / "templates"
    templates.mkdir()
    shipped = (ROOT / "sagesync" / "sage" / "products" / "sage50_uk" / "customers.toml"
               ).read_text(encoding="utf-8")
    (templates / "customers.toml").write_text(shipped.replace(
        'name = "Account Name"\nfield = "name"\nkind = "text"\nmax_length = 60',
        'name = "Account Name"\nfield = "name"\nkind = "code"\nmax_length = 2'),
        encoding="utf-8")
    edit(demo_copy, 'encoding = "cp1252"', f'encoding = "cp1252"\ntemplates = '
                                           f'"{templates.as_posix()}"')
    state, out = tmp_path / "s", tmp_path / "out"
    result = run(run_cli, demo_copy, state, out)
    assert result.exit_code == ExitCode.HELD, result.output
    assert "cannot be written" in result.output and "Traceback" not in result.output
    assert not list(out.glob("*customers*.csv"))
    delivered = {ref for _, ref in references(out)}
    assert delivered and "WEBSALES" in {row[1] for row in audit_rows(out)}
    status = json.loads(run_cli("--state-dir", str(state), "-r", str(demo_copy), "status",
                                "--json").stdout)
    assert status["counts"]["held"] >= 1
    assert all("cannot be written" in h["reason"] for h in status["held"])


def test_registration_in_chunks_is_registration_in_one(tmp_path: Path) -> None:
    """register_exported takes its records a chunk at a time (flat memory) in one transaction:
    any chunk size leaves the same records, states and events as one chunk."""

    def exported(n: int, content: str, cancelled: int = -1) -> list[Exported]:
        return [Exported(RecordKey("invoice", i, 1), f"{i:09d}", i, f"{i:09d}", f"{content}{i}",
                         grand_total="1.00", magento_state="3" if i == cancelled else "2",
                         cancelled=i == cancelled) for i in range(1, n + 1)]

    states = []
    for chunk in (1, 3, 10_000):
        ledger = Ledger(tmp_path / f"ledger-{chunk}.sqlite")
        ledger.register_exported(exported(7, "a"), "one", chunk=chunk)
        ledger.register_exported(exported(9, "b", cancelled=4), "two", chunk=chunk)
        states.append((
            ledger.db.execute("SELECT entity_id, state, content_hash, export_checkpoint, "
                              "last_error FROM records ORDER BY entity_id").fetchall(),
            ledger.db.execute("SELECT COUNT(*) FROM events").fetchall()))
    assert states[0] == states[1] == states[2]
    assert [row[1] for row in states[0][0]] == ["exported"] * 3 + ["void"] + ["exported"] * 5
