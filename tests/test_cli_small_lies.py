"""The CLI's small lies, fixed (issue 14 §4 and §6): parse-sage reads stdin, rollback says what
it cannot undo, trace shows the Sage document and explains an order not invoiced yet, and
trace, ack and push-magento speak JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq

from sagesync.errors import ExitCode
from sagesync.pipeline.checkpoint import open_checkpoint
from tests.conftest import ROOT

STOCK = ROOT / "samples" / "sage" / "sage50_uk" / "stock.csv"


def stock_recipe(folder: Path) -> Path:
    recipe = folder / "stock.toml"
    recipe.write_text('name = "stock"\nstate_dir = "state"\n[magento]\n'
                      'base_url = "http://127.0.0.1:9/rest/default"\ntoken = "never-used"\n'
                      '[sage]\nproduct = "sage50_uk"\n[stock]\ndefault_source = "default"\n',
                      encoding="utf-8")
    return recipe


def _payload(manifest: str) -> list[dict[str, object]]:
    checkpoint = open_checkpoint(manifest.strip())
    return pq.read_table(checkpoint.table_file("source_items")).to_pylist()


def test_parse_sage_dash_reads_stdin_as_the_file_would(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    recipe = stock_recipe(tmp_path)
    from_file = run_cli("-r", str(recipe), "parse-sage", str(STOCK), "--kind", "stock")
    assert from_file.exit_code == 0, from_file.output
    piped = run_cli("-r", str(recipe), "parse-sage", "-", "--kind", "stock",
                    input=STOCK.read_bytes())  # bytes: the cp1252 file as Sage wrote it
    assert piped.exit_code == 0, piped.output
    assert _payload(piped.stdout) == _payload(from_file.stdout) != []
    kept = list((tmp_path / "state" / "incoming").glob("stdin-*.csv"))
    assert len(kept) == 1 and kept[0].read_bytes() == STOCK.read_bytes()
    empty = run_cli("-r", str(recipe), "parse-sage", "-", "--kind", "stock", input="")
    assert empty.exit_code == ExitCode.USAGE and "nothing came in" in empty.output


def test_rollback_stock_says_why_not(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    said = run_cli("-r", str(stock_recipe(tmp_path)), "rollback", "stock")
    assert said.exit_code == ExitCode.USAGE
    assert "Stock is not rolled back: Sage owns stock" in said.output
    helped = run_cli("rollback", "--help")
    assert "Stock is not rolled back" in helped.output


def test_push_magento_json_is_one_object(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    recipe = stock_recipe(tmp_path)
    parsed = run_cli("-r", str(recipe), "parse-sage", str(STOCK), "--kind", "stock")
    pushed = run_cli("push-magento", "--from", parsed.stdout.strip(), "--dry-run", "--json")
    assert pushed.exit_code == 0, pushed.output
    report = json.loads(pushed.stdout)
    assert report["kind"] == "stock" and report["dry_run"] is True
    assert report["changed"] == len(_payload(parsed.stdout)) and report["sent"] == 0
    assert Path(report["manifest"]).is_file()


def test_trace_shows_the_sage_document_and_explains_a_missing_order(  # type: ignore[no-untyped-def]
        run_cli, demo_copy: Path, tmp_path: Path) -> None:
    state = str(tmp_path / "s")
    assert run_cli("--state-dir", state, "run", str(demo_copy), "--out",
                   str(tmp_path / "out")).exit_code == 0
    shown = run_cli("--state-dir", state, "-r", str(demo_copy), "trace", "000000002")
    assert "Sage document: SI 000000002, account WEBSALES, 104.40 GBP" in shown.stdout
    assert "Sage document: SC 000000001, account WEBSALES, 15.50 GBP" in shown.stdout
    traced = json.loads(run_cli("--state-dir", state, "-r", str(demo_copy), "trace",
                                "000000002", "--json").stdout)
    assert {(t["key"], t["state"], t["document"]["amount"]) for t in traced} == \
        {("invoice:2@1", "sent", "104.40"), ("creditmemo:1@1", "sent", "15.50")}
    missing = run_cli("--state-dir", state, "-r", str(demo_copy), "trace", "000000099")
    assert missing.exit_code == ExitCode.USAGE
    assert "an order reaches the ledger with its first invoice" in missing.output


def test_ack_json_lists_each_outcome(run_cli, demo_copy: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    with demo_copy.open("a", encoding="utf-8") as handle:
        handle.write('\n[ack]\nstatus_column = "Status"\nerror_column = "Error"\n')
    state = str(tmp_path / "s")
    run_cli("--state-dir", state, "run", str(demo_copy), "--out", str(tmp_path / "out"))
    answer = tmp_path / "ack.csv"
    answer.write_text("Type,Reference,Transaction Number,Status,Error\r\n"
                      "SI,000000002,101,OK,\r\nSI,000000777,102,OK,\r\n", encoding="utf-8")
    acked = run_cli("--state-dir", state, "-r", str(demo_copy), "ack", str(answer), "--json")
    report = json.loads(acked.stdout)
    assert report["exit_code"] == acked.exit_code == ExitCode.HELD  # one row matches nothing
    assert len(report["confirmed"]) == 1 and len(report["unmatched"]) == 1
