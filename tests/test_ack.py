"""`sagesync ack` through the CLI: only a clear answer from Sage changes a record.

A row confirms a record only with a Sage number and, when the recipe names a status column, an
ok status; a rejection is always recorded in the ledger (never dropped); anything unclear is
reported with its line and exit 1; a file that cannot be read is quarantined (exit 65) and
nothing of it is applied. The encoding is sniffed like parse-sage does (Sage 50 UK: cp1252).
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

from sagesync.errors import ExitCode
from sagesync.ledger import Ledger, RecordRow

STATUS = 'status_column = "Status"\nerror_column = "Error"\n'
HEADER = "Type,Reference,Transaction Number,Status,Error"


def sent_demo(run_cli, demo_copy: Path, tmp_path: Path, ack: str = ""):  # type: ignore[no-untyped-def]
    """The demo delivered (every document `sent`), with `ack` as the recipe's [ack] section;
    returns a function that runs `ack FILE` and the state folder."""
    if ack:
        with demo_copy.open("a", encoding="utf-8") as handle:
            handle.write("\n[ack]\n" + ack)
    state = tmp_path / "s"
    ran = run_cli("--state-dir", str(state), "run", str(demo_copy), "--out", str(tmp_path / "o"))
    assert ran.exit_code == 0, ran.output
    cli = ("--state-dir", str(state), "-r", str(demo_copy))

    def ack_cli(*lines: str, name: str = "ack.csv", encoding: str = "utf-8",
                header: str = HEADER):  # type: ignore[no-untyped-def]
        path = tmp_path / name
        path.write_bytes("\r\n".join([header, *lines, ""]).encode(encoding))
        return run_cli(*cli, "ack", str(path))

    return ack_cli, state


def record(state: Path, increment_id: str, kind: str = "invoice") -> RecordRow:
    with Ledger(state / "ledger.sqlite") as ledger:
        rows = [r for r in ledger.rows(increment_id=increment_id) if r.key.entity_type == kind]
    assert len(rows) == 1
    return rows[0]


def test_a_row_without_a_sage_number_confirms_nothing_and_is_reported(  # type: ignore[no-untyped-def]
        run_cli, demo_copy: Path, tmp_path: Path) -> None:
    ack, state = sent_demo(run_cli, demo_copy, tmp_path)  # no status column: the default
    result = ack("SI,000000002,", "SI,000000003,205", header="Type,Reference,Transaction Number")
    assert result.exit_code == ExitCode.HELD, result.output
    assert record(state, "000000002").state == "sent"
    assert record(state, "000000002").sage_ref is None
    assert record(state, "000000003").state == "confirmed"
    assert re.search(r"line 2\b.*000000002.*no Sage number", result.output), result.output


def test_an_export_without_a_type_column_answers_by_reference(  # type: ignore[no-untyped-def]
        run_cli, demo_copy: Path, tmp_path: Path) -> None:
    """A list export of one kind of document (Intacct's AR invoices) has no type column."""
    ack, state = sent_demo(run_cli, demo_copy, tmp_path, 'type_column = ""\n')
    result = ack("000000003,205", header="Reference,Transaction Number")
    assert result.exit_code == ExitCode.OK, result.output
    assert (record(state, "000000003").state, record(state, "000000003").sage_ref) == \
        ("confirmed", "205")


def test_an_ok_status_without_a_sage_number_or_a_blank_status_confirms_nothing(  # type: ignore[no-untyped-def]
        run_cli, demo_copy: Path, tmp_path: Path) -> None:
    ack, state = sent_demo(run_cli, demo_copy, tmp_path, STATUS)
    result = ack("SI,000000002,,OK,", "SI,000000003,,,", "SI,000000005,77,,",
                 "SI,000000006,78,ok,")
    assert result.exit_code == ExitCode.HELD, result.output
    for reference in ("000000002", "000000003", "000000005"):
        row = record(state, reference)
        assert (row.state, row.attempts) == ("sent", 0), (reference, row)
    assert record(state, "000000006").state == "confirmed"  # ok values ignore case
    assert re.search(r"line 2\b.*no Sage number", result.output), result.output
    assert re.search(r"line 3\b.*no status", result.output), result.output
    assert re.search(r"line 4\b.*no status", result.output), result.output


def test_an_error_on_any_row_of_a_document_stops_its_confirmation(  # type: ignore[no-untyped-def]
        run_cli, demo_copy: Path, tmp_path: Path) -> None:
    """The old rule "the document's first row decides" let a failed split confirm."""
    ack, state = sent_demo(run_cli, demo_copy, tmp_path, STATUS)
    result = ack("SI,000000003,301,OK,", "SI,000000003,301,Failed,Nominal 9999 does not exist")
    assert result.exit_code == ExitCode.HELD, result.output
    row = record(state, "000000003")
    assert row.state == "needs_attention" and row.sage_ref is None
    assert row.attempts == 1 and "Nominal 9999 does not exist" in (row.last_error or "")
    assert "Nominal 9999 does not exist" in result.output


def test_an_error_text_is_a_rejection_even_without_a_status_column(  # type: ignore[no-untyped-def]
        run_cli, demo_copy: Path, tmp_path: Path) -> None:
    ack, state = sent_demo(run_cli, demo_copy, tmp_path, 'error_column = "Error"\n')
    result = ack("SI,000000002,,Account OSULLIVA is on hold", "SI,000000003,310,",
                 header="Type,Reference,Transaction Number,Error")
    assert result.exit_code == ExitCode.OK, result.output
    row = record(state, "000000002")
    assert (row.state, row.attempts, row.last_error) == ("rejected", 1,
                                                         "Account OSULLIVA is on hold")
    assert record(state, "000000003").state == "confirmed"
    assert "queued for the next run" in result.output


def test_a_rejection_of_a_confirmed_record_is_recorded_not_dropped(  # type: ignore[no-untyped-def]
        run_cli, demo_copy: Path, tmp_path: Path) -> None:
    ack, state = sent_demo(run_cli, demo_copy, tmp_path, STATUS)
    assert ack("SI,000000002,101,OK,").exit_code == 0
    assert record(state, "000000002").state == "confirmed"
    result = ack("SI,000000002,,Failed,Duplicate reference", name="later.csv")
    assert result.exit_code == ExitCode.HELD, result.output
    row = record(state, "000000002")
    assert row.state == "needs_attention" and row.attempts == 1
    assert "Duplicate reference" in (row.last_error or "") and "101" in (row.last_error or "")
    assert "Duplicate reference" in result.output
    status = run_cli("--state-dir", str(state), "-r", str(demo_copy), "status", "--json")
    assert '"needs_attention": 1' in status.stdout


def test_rejections_count_up_to_needs_attention(  # type: ignore[no-untyped-def]
        run_cli, demo_copy: Path, tmp_path: Path) -> None:
    edit_max = demo_copy.read_text(encoding="utf-8") + "\n[ledger]\nmax_attempts = 1\n"
    demo_copy.write_text(edit_max, encoding="utf-8")
    ack, state = sent_demo(run_cli, demo_copy, tmp_path, STATUS)
    result = ack("SC,000000001,,Rejected,Period is closed")
    assert result.exit_code == ExitCode.HELD and "NEEDS ATTENTION" in result.output
    row = record(state, "000000001", "creditmemo")
    assert (row.state, row.attempts, row.last_error) == ("needs_attention", 1,
                                                         "Period is closed")


def test_a_cp1252_file_is_read_without_naming_its_encoding(  # type: ignore[no-untyped-def]
        run_cli, demo_copy: Path, tmp_path: Path) -> None:
    ack, state = sent_demo(run_cli, demo_copy, tmp_path, STATUS)
    result = ack("SI,000000002,,Failed,Credit limit £500 exceeded for Café Noir",
                 encoding="cp1252")
    assert result.exit_code == ExitCode.OK, result.output
    row = record(state, "000000002")
    assert (row.state, row.last_error) == ("rejected", "Credit limit £500 exceeded for Café Noir")
    assert "Credit limit £500 exceeded for Café Noir" in result.output
    bom = ack("SI,000000003,330,Posted,", name="bom.csv", encoding="utf-8-sig")
    assert bom.exit_code == ExitCode.OK, bom.output
    assert record(state, "000000003").sage_ref == "330"


def error_file(state: Path, name: str) -> str:
    reports = list((state / "quarantine").rglob(f"{name}.error.txt"))
    assert len(reports) == 1, reports
    return reports[0].read_text(encoding="utf-8")


def test_a_malformed_file_is_quarantined_with_every_problem_and_applies_nothing(  # type: ignore[no-untyped-def]
        run_cli, demo_copy: Path, tmp_path: Path) -> None:
    ack, state = sent_demo(run_cli, demo_copy, tmp_path, STATUS)
    result = ack("SI,000000002,101,OK,", "SI,,102,OK,", "SI,000000004", name="rows.csv")
    assert result.exit_code == ExitCode.BAD_INPUT, result.output
    assert record(state, "000000002").state == "sent"
    report = error_file(state, "rows.csv")
    assert "2 problems" in report and "1 problem" not in report
    assert re.search(r"line 3, column 2 \(Reference\)", report), report
    assert re.search(r"line 4\b.*2 columns", report), report
    assert "2 problems" in result.output and "line 3, column 2" in result.output

    binary = ack("SI,000000002,101,OK,\x00\x00", name="binary.csv")
    assert binary.exit_code == ExitCode.BAD_INPUT, binary.output
    assert "line 2, column" in error_file(state, "binary.csv")
    missing = ack("SI,000000002,101", name="cols.csv",
                  header="Type,Reference,Transaction Number")
    assert missing.exit_code == ExitCode.BAD_INPUT
    assert "'Status', 'Error'" in error_file(state, "cols.csv")
    assert record(state, "000000002").state == "sent"
    assert "Traceback" not in result.output + binary.output + missing.output


def test_a_wrong_encoding_named_in_the_recipe_says_where(  # type: ignore[no-untyped-def]
        run_cli, demo_copy: Path, tmp_path: Path) -> None:
    ack, state = sent_demo(run_cli, demo_copy, tmp_path, STATUS + 'encoding = "utf-8"\n')
    result = ack("SI,000000002,101,OK,", "SI,000000003,,Failed,£ limit", encoding="cp1252")
    assert result.exit_code == ExitCode.BAD_INPUT, result.output
    assert "line 3" in result.output and "utf-8" in result.output
    assert record(state, "000000002").state == "sent"


def test_a_fee_row_confirms_its_credit_memo_and_prefixed_references_match(  # type: ignore[no-untyped-def]
        run_cli, demo_copy: Path, tmp_path: Path) -> None:
    """Sage lists what was imported: the credit memo's fee as its own `SI ...-FEE` (posted beside
    the SC, one record) and a store's references with their prefix."""
    text = demo_copy.read_text(encoding="utf-8")
    demo_copy.write_text(text.replace('encoding = "cp1252"',
                                      'encoding = "cp1252"\nreference_prefixes = { "2" = "B" }'),
                         encoding="utf-8")
    ack, state = sent_demo(run_cli, demo_copy, tmp_path)
    out = (tmp_path / "o").glob("*audit_trail*.csv")
    rows = [line.split(",") for path in out
            for line in path.read_bytes().decode("cp1252").split("\r\n")[1:] if line]
    fee = next(r[5] for r in rows if r[0] == "SI" and r[5].endswith("-FEE"))
    prefixed = next(r[5] for r in rows if r[5].startswith("B"))
    memo = fee.removesuffix("-FEE")
    result = ack(f"SI,{fee},901", f"SC,{memo},900", f"SI,{prefixed},902",
                 header="Type,Reference,Transaction Number")
    assert result.exit_code == ExitCode.OK, result.output
    confirmed = record(state, memo, "creditmemo")
    assert (confirmed.state, confirmed.sage_ref) == ("confirmed", "900")  # the SC's number
    with Ledger(state / "ledger.sqlite") as ledger:
        [store2] = [r for r in ledger.rows(increment_id=prefixed[1:])
                    if r.key.store_id == 2 and r.key.entity_type == "invoice"]
    assert (store2.state, store2.sage_ref) == ("confirmed", "902")


def events_of(state: Path, increment_id: str, event: str) -> int:
    row = record(state, increment_id)
    with Ledger(state / "ledger.sqlite") as ledger:
        return sum(1 for _, name, _ in ledger.events(row.key) if name == event)


def test_an_answer_applied_again_counts_once(  # type: ignore[no-untyped-def]
        run_cli, demo_copy: Path, tmp_path: Path) -> None:
    """The same file three times used to send a record to a person with no resend at all."""
    ack, state = sent_demo(run_cli, demo_copy, tmp_path, STATUS)
    for _ in range(3):
        result = ack("SI,000000002,,Failed,Period is closed", "SI,000000003,301,OK,")
        assert result.exit_code == ExitCode.OK, result.output
    row = record(state, "000000002")
    assert (row.state, row.attempts) == ("rejected", 1)
    # A re-export holding the same answers (other lines, another order): the same answer for
    # the same delivery, so still counted once.
    again = ack("SI,000000005,,,", "SI,000000003,301,OK,", "SI,000000002,,Failed,Period is closed",
                name="re-export.csv")
    assert again.exit_code == ExitCode.HELD, again.output  # 000000005 is unclear
    assert (record(state, "000000002").attempts, record(state, "000000002").state) == \
        (1, "rejected")
    assert events_of(state, "000000003", "confirmed") == 1
    assert events_of(state, "000000002", "rejected") == 1


def test_a_rejection_after_a_resend_counts_but_the_old_file_read_again_does_not(  # type: ignore[no-untyped-def]
        run_cli, demo_copy: Path, tmp_path: Path) -> None:
    """`ack` from cron on an export left in place: between two reads the rejected record was
    sent again, and the old rejection must not count against the new delivery."""
    ack, state = sent_demo(run_cli, demo_copy, tmp_path, STATUS)
    assert ack("SI,000000002,,Failed,Period is closed", name="first.csv").exit_code == 0
    first = tmp_path / "first.csv"
    an_hour_ago = time.time() - 3600  # Sage wrote it before the resend below
    os.utime(first, (an_hour_ago, an_hour_ago))
    assert record(state, "000000002").state == "rejected"
    rerun = run_cli("--state-dir", str(state), "run", str(demo_copy), "--out",
                    str(tmp_path / "o"))
    assert rerun.exit_code == 0, rerun.output
    resent = record(state, "000000002")
    assert (resent.state, resent.attempts) == ("sent", 1)
    cli = ("--state-dir", str(state), "-r", str(demo_copy))
    assert run_cli(*cli, "ack", str(first)).exit_code == 0  # the same file, read again
    assert (record(state, "000000002").state, record(state, "000000002").attempts) == \
        ("sent", 1)
    # Sage refuses the new delivery too, in a new export with the very same content: counted.
    assert ack("SI,000000002,,Failed,Period is closed", name="second.csv").exit_code == 0
    assert (record(state, "000000002").state, record(state, "000000002").attempts) == \
        ("rejected", 2)
    assert events_of(state, "000000002", "rejected") == 2
