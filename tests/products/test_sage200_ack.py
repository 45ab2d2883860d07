"""Sage 200's confirmation: `ack` reads an export of the posted customer transactions, found
by its headings in any column order, so `trace` shows Sage's URN for each Magento invoice and
credit memo; unreadable exports are refused with their line and column, never a traceback.

The demo recipe runs on the committed samples and its transactions are answered by the sample
export `samples/sage/sage200/posted_transactions.csv` (made by `make_samples.py`).
"""

from __future__ import annotations

import csv
import io
import json
import string
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from sagesync.cli.main import cli
from sagesync.errors import ExitCode
from sagesync.ledger import Ledger
from sagesync.ops.ack import AckFileError, read_ack_file
from sagesync.recipe import AckSettings, load_recipe
from sagesync.sage import products
from tests.conformance.harness import few, run_recipe_cli, write_recipe
from tests.conftest import ROOT

SAGE200 = products.get("sage200")
LAYOUT = SAGE200.ack
assert LAYOUT is not None
SAMPLE = ROOT / "samples" / "sage" / "sage200" / "posted_transactions.csv"


def demo(folder: Path, ack: dict[str, str] | None = None) -> Path:
    """The demo recipe on the committed samples, run once: every document sent."""
    recipe = write_recipe(SAGE200, folder, ROOT / "samples" / "magento")
    if ack:
        recipe.write_text(recipe.read_text(encoding="utf-8") + "\n[ack]\n" + "".join(
            f'{k} = "{v}"\n' for k, v in ack.items()), encoding="utf-8")
    outcome = run_recipe_cli(SAGE200, recipe)
    assert outcome.exit_code == ExitCode.OK, outcome.output
    return recipe


def cli_json(recipe: Path, *args: str) -> tuple[int, Any]:
    result = CliRunner().invoke(cli, ["-r", str(recipe), *args, "--json"],
                                catch_exceptions=False)
    return result.exit_code, json.loads(result.stdout) if result.stdout.strip() else {}


def sage_refs(recipe: Path) -> dict[str, tuple[str, str | None]]:
    with Ledger(load_recipe(recipe).state_dir / "ledger.sqlite") as ledger:
        return {str(r.key): (r.state, r.sage_ref) for r in ledger.rows()}


def test_the_sample_export_confirms_every_document_and_trace_shows_the_urn(
        tmp_path: Path) -> None:
    recipe = demo(tmp_path)
    code, said = cli_json(recipe, "ack", str(SAMPLE))
    assert code == ExitCode.OK, said
    assert said["ignored"] == 1  # the receipt (type 6)
    assert sage_refs(recipe) == {
        "invoice:1@1": ("confirmed", "4101"), "invoice:2@1": ("confirmed", "4102"),
        "invoice:3@1": ("confirmed", "4103"), "invoice:4@1": ("confirmed", "4104"),
        "invoice:5@1": ("confirmed", "4105"), "invoice:6@1": ("confirmed", "4106"),
        "invoice:7@2": ("confirmed", "4107"), "invoice:8@1": ("confirmed", "4108"),
        # the credit memo's own row (type 5), not its fee's (type 4, -FEE: URN 4110)
        "creditmemo:1@1": ("confirmed", "4109"), "creditmemo:2@1": ("confirmed", "4111")}
    code, traced = cli_json(recipe, "trace", "000000002")
    assert code == ExitCode.OK
    seen = {(e["key"], e["document"]["type"], e["document"]["reference"], e["sage_ref"])
            for e in traced}
    assert seen == {("invoice:2@1", "SI", "000000002", "4102"),
                    ("creditmemo:1@1", "SC", "000000001", "4109")}


def test_reconcile_nets_the_fee_posted_beside_its_credit_note(tmp_path: Path) -> None:
    """Sage holds the credit note at 20.50 and its fee as an invoice of 5.00: Magento's
    15.50, in sync (the export's amount column is found by its heading)."""
    recipe = demo(tmp_path)
    result = CliRunner().invoke(cli, ["-r", str(recipe), "reconcile", "--from", "2026-10-01",
                                      "--to", "2026-11-30", "--sage", str(SAMPLE), "--json"],
                                catch_exceptions=False)
    assert result.exit_code == ExitCode.OK, result.output
    said = json.loads(result.stdout)
    assert said["counts"]["in_sync"] == 10 and not said["out_of_step"]
    credits = [t for t in said["totals"] if t["sage_type"] == "SC"]
    assert sorted(t["sage_total"] for t in credits) == ["15.50", "80.69"]


def test_other_headings_in_any_order_and_no_urn(tmp_path: Path) -> None:
    """An enquiry export worded its own way: Type as Invoice / Credit Note, Reference, no
    URN column (the reference then stands for Sage's number)."""
    recipe = demo(tmp_path)
    export = tmp_path / "enquiry.csv"
    export.write_text("Value,Type,Reference,Account\r\n"
                      "104.40,Invoice,000000002,WEBSALES\r\n"
                      "20.50,Credit Note,000000001,WEBSALES\r\n"
                      "5.00,Invoice,000000001-FEE,WEBSALES\r\n", encoding="utf-8")
    code, said = cli_json(recipe, "ack", str(export))
    assert code == ExitCode.OK, said
    refs = sage_refs(recipe)
    assert refs["invoice:2@1"] == ("confirmed", "000000002")
    assert refs["creditmemo:1@1"] == ("confirmed", "000000001")
    assert refs["invoice:3@1"] == ("sent", None)


def test_the_recipe_names_a_column_the_product_does_not_know(tmp_path: Path) -> None:
    recipe = demo(tmp_path, {"reference_column": "Our Ref", "sage_number_column": "Doc No"})
    assert load_recipe(recipe).ack.named == frozenset({"reference_column",
                                                      "sage_number_column"})
    export = tmp_path / "custom.csv"
    export.write_text("Doc No,SYSTraderTranType,Our Ref\r\n77,4,000000003\r\n",
                      encoding="utf-8")
    code, said = cli_json(recipe, "ack", str(export))
    assert code == ExitCode.OK, said
    assert sage_refs(recipe)["invoice:3@1"] == ("confirmed", "77")


def test_an_export_without_the_reference_is_refused_naming_what_was_looked_for(
        tmp_path: Path) -> None:
    recipe = demo(tmp_path)
    export = tmp_path / "wrong.csv"
    export.write_text("URN,AccountNumber,SYSTraderTranType\r\n4101,WHITFI01,4\r\n",
                      encoding="utf-8")
    result = CliRunner().invoke(cli, ["-r", str(recipe), "ack", str(export)],
                                catch_exceptions=False)
    assert result.exit_code == ExitCode.BAD_INPUT
    assert "line 1: no reference column: expected one of 'TransactionReference'" in \
        result.output and "[ack] reference_column" in result.output
    assert "Traceback" not in result.output
    assert {state for state, _ in sage_refs(recipe).values()} == {"sent"}


def test_a_row_without_a_reference_is_reported_with_its_line_and_column(
        tmp_path: Path) -> None:
    export = tmp_path / "blank.csv"
    export.write_text("URN,SYSTraderTranType,TransactionReference\r\n"
                      "4101,4,000000001\r\n4102,4,\r\n", encoding="utf-8")
    with pytest.raises(AckFileError) as raised:
        read_ack_file(export, AckSettings(), LAYOUT)
    assert raised.value.problems == [
        "line 3, column 3 (TransactionReference): empty; every row needs the Magento "
        "document number sagesync wrote"]
    assert str(export) in raised.value.message


# --------------------------------------------------------------------------- the parser

HEADINGS = ["URN", "AccountNumber", "SYSTraderTranType", "TransactionReference",
            "GoodsValueInAccountCurrency", "TransactionDate"]
references = st.text(string.digits, min_size=1, max_size=9)
types = st.sampled_from(["4", "5", "6", "Invoice", "Credit Note", "CRN", "Jnl"])


def export_text(order: list[int], rows: list[tuple[str, str, str]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([HEADINGS[i] for i in order])
    for urn, kind, ref in rows:
        cells = {"URN": urn, "AccountNumber": "WEBSALES", "SYSTraderTranType": kind,
                 "TransactionReference": ref, "GoodsValueInAccountCurrency": "1.00",
                 "TransactionDate": "01/11/2026"}
        writer.writerow([cells[HEADINGS[i]] for i in order])
    return out.getvalue()


@few(60)
@given(order=st.permutations(range(len(HEADINGS))),
       rows=st.lists(st.tuples(st.text(string.digits, min_size=1, max_size=6), types,
                               references), max_size=6))
def test_rows_read_the_same_whatever_the_column_order(
        tmp_path_factory: pytest.TempPathFactory, order: list[int],
        rows: list[tuple[str, str, str]]) -> None:
    folder = tmp_path_factory.mktemp("order")
    plain, shuffled = folder / "plain.csv", folder / "shuffled.csv"
    plain.write_text(export_text(list(range(len(HEADINGS))), rows), encoding="utf-8")
    shuffled.write_text(export_text(list(order), rows), encoding="utf-8")
    read, ignored = read_ack_file(plain, AckSettings(), LAYOUT)
    assert (read, ignored) == read_ack_file(shuffled, AckSettings(), LAYOUT)
    ours = [(u, k, r) for u, k, r in rows if k not in ("6", "Jnl")]
    assert ignored == len(rows) - len(ours)
    assert [(a.sage_number, a.sage_type, a.reference, a.amount) for a in read] == [
        (u, "SC" if k in ("5", "Credit Note", "CRN") else "SI", r, "1.00") for u, k, r in ours]


# pieces of a CSV export: real headings and types among separators, quotes and junk
odd = st.lists(st.sampled_from(["a", "4", "5", ",", '"', "\r\n", "\n", " ", "\t", ";", "\x00",
                                "é", "URN", "TransactionReference", "SYSTraderTranType",
                                "Credit Note", "000000001"]), max_size=60).map("".join)


@few(150)
@given(text=odd, encoding=st.sampled_from(["utf-8", "cp1252", "utf-16"]))
def test_odd_input_never_crashes_and_every_problem_says_where(
        tmp_path_factory: pytest.TempPathFactory, text: str, encoding: str) -> None:
    path = tmp_path_factory.mktemp("odd") / "export.csv"
    path.write_bytes(text.encode(encoding, errors="replace"))
    try:
        rows, _ = read_ack_file(path, AckSettings(), LAYOUT)
    except AckFileError as error:
        assert error.problems and str(path) in error.message
        assert all(p.startswith("line ") for p in error.problems), error.problems
        return
    assert all(row.reference and row.sage_type in ("SI", "SC") for row in rows)
