"""`sagesync reconcile` (issue 13 §5): Magento, the ledger and Sage, three ways, to the cent."""

from __future__ import annotations

import csv
import io
import json
import shutil
from dataclasses import replace
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from sagesync.cli.main import cli
from sagesync.cli.options import Context
from sagesync.errors import ExitCode
from sagesync.ledger import Ledger
from sagesync.ops.reconcile import reconcile
from sagesync.recipe import load_recipe
from tests.conftest import DEMO_RECIPE, SAMPLES

NOVEMBER = ("--from", "2026-11-01", "--to", "2026-11-30")
ACK = '\n[ack]\namount_column = "Amount"\n'


def invoke(*args: str) -> tuple[int, str, str]:
    done = CliRunner().invoke(cli, list(args), obj=Context(tell_all=True))
    return done.exit_code, done.stdout, done.stderr


@pytest.fixture(scope="module")
def delivered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo, delivered once, with an [ack] layout that reads amounts: its recipe."""
    folder = tmp_path_factory.mktemp("reconcile")
    shutil.copytree(SAMPLES, folder / "samples")
    (folder / "recipes").mkdir()
    recipe = folder / "recipes" / "demo.toml"
    recipe.write_text(DEMO_RECIPE.read_text(encoding="utf-8") + ACK, encoding="utf-8")
    code, _, err = invoke("run", str(recipe), "--out", str(folder / "out"))
    assert code == 0, err
    return recipe


def _november(recipe: Path) -> list[dict[str, str]]:
    """What reconcile sees in November without Sage: one row per Magento document."""
    code, out, _ = invoke("-r", str(recipe), "reconcile", *NOVEMBER, "--json")
    assert code == 0
    report = json.loads(out)
    assert report["counts"] == {"in_sync": 9, "missing_in_sage": 0, "duplicated": 0,
                                "amount_mismatch": 0, "orphan": 0}
    with Ledger(recipe.parent.parent / "demo-state" / "ledger.sqlite", "t") as ledger:
        result = reconcile(load_recipe(recipe), ledger, date(2026, 11, 1), date(2026, 11, 30))
    return [{"type": line.sage_type, "reference": line.reference,
             "amount": str(line.magento_total)} for line in result.lines]


def _sage_file(folder: Path, rows: list[tuple[str, str, str, str]]) -> Path:
    path = folder / "sage.csv"
    buffer = io.StringIO()
    out = csv.writer(buffer, lineterminator="\r\n")
    out.writerow(["Type", "Reference", "Transaction Number", "Amount"])
    out.writerows(rows)
    path.write_text(buffer.getvalue(), encoding="utf-8")
    return path


def test_totals_side_by_side_from_the_ledger_and_the_checkpoints(delivered: Path) -> None:
    code, out, _ = invoke("-r", str(delivered), "reconcile", *NOVEMBER, "--json")
    report = json.loads(out)
    assert code == 0 and report["out_of_step"] == []
    by_type: dict[str, Decimal] = {}
    for total in report["totals"]:
        assert total["magento_total"] == total["ledger_total"]
        by_type[total["sage_type"]] = by_type.get(total["sage_type"], Decimal(0)) + \
            Decimal(total["magento_total"])
    # the demo's invoices and credit memos created in November, to the cent
    assert by_type == {"SI": Decimal("901.06"), "SC": Decimal("96.19")}


def test_each_kind_of_disagreement_is_named(delivered: Path, tmp_path: Path) -> None:
    documents = _november(delivered)
    (missing, doubled, wrong, *rest) = documents
    rows = [(d["type"], d["reference"], f"{n + 1}", d["amount"]) for n, d in enumerate(rest)]
    rows += [(doubled["type"], doubled["reference"], "501", doubled["amount"]),
             (doubled["type"], doubled["reference"], "502", doubled["amount"]),
             (wrong["type"], wrong["reference"], "601", str(Decimal(wrong["amount"]) + 1)),
             ("SI", "ZZ-NOT-OURS", "701", "12.00")]
    sage = _sage_file(tmp_path, rows)
    report_csv = tmp_path / "november.csv"
    code, _, err = invoke("-r", str(delivered), "reconcile", *NOVEMBER, "--sage", str(sage),
                            "--csv", str(report_csv))
    assert code == ExitCode.HELD
    assert "out of step: 1 document missing_in_sage, 1 document duplicated, " \
        "1 document amount_mismatch, 1 document orphan" in err
    lines = list(csv.DictReader(io.StringIO(report_csv.read_text(encoding="utf-8"))))
    verdicts = {(r["sage_type"], r["reference"]): r["class"] for r in lines}
    assert verdicts[(missing["type"], missing["reference"])] == "missing_in_sage"
    assert verdicts[(doubled["type"], doubled["reference"])] == "duplicated"
    assert verdicts[(wrong["type"], wrong["reference"])] == "amount_mismatch"
    assert verdicts[("SI", "ZZ-NOT-OURS")] == "orphan"
    assert sum(v == "in_sync" for v in verdicts.values()) == len(rest)
    missing_row = next(r for r in lines if r["class"] == "missing_in_sage")
    assert "the ledger says it was delivered" in missing_row["detail"]


def test_a_held_document_is_missing_in_sage_with_its_reason(demo_copy: Path) -> None:
    state = demo_copy.parent.parent / "s"
    _, manifest, _ = invoke("--state-dir", str(state), "export-orders", "-r", str(demo_copy))
    invoke("transform", "--from", manifest.strip())
    invoke("--state-dir", str(state), "-r", str(demo_copy), "hold", "invoice:2@1")
    invoke("--state-dir", str(state), "run", str(demo_copy), "--out", str(state / "out"))
    code, out, _ = invoke("--state-dir", str(state), "-r", str(demo_copy), "reconcile",
                          *NOVEMBER, "--json")
    assert code == ExitCode.HELD
    (line,) = json.loads(out)["out_of_step"]
    assert (line["reference"], line["verdict"]) == ("000000002", "missing_in_sage")
    assert line["detail"].startswith("not delivered (held")


@settings(max_examples=25, deadline=None)
@given(st.data())
def test_the_classes_count_what_was_done_to_sages_copy(delivered: Path, tmp_path_factory,  # type: ignore[no-untyped-def]
                                                      data) -> None:
    """Drop, double or alter any documents of Sage's copy: reconcile names each, and the
    in-sync ones are exactly the untouched ones."""
    documents = _november(delivered)
    fate = data.draw(st.lists(st.sampled_from(["keep", "drop", "double", "alter"]),
                              min_size=len(documents), max_size=len(documents)))
    rows: list[tuple[str, str, str, str]] = []
    for n, (doc, what) in enumerate(zip(documents, fate, strict=True)):
        if what == "drop":
            continue
        amount = Decimal(doc["amount"]) + (Decimal("0.01") if what == "alter" else 0)
        rows.append((doc["type"], doc["reference"], f"{n}", str(amount)))
        if what == "double":
            rows.append((doc["type"], doc["reference"], f"{n}-again", str(amount)))
    sage = _sage_file(tmp_path_factory.mktemp("sage"), rows)
    recipe = load_recipe(delivered)
    with Ledger.read_only(recipe.state_dir / "ledger.sqlite", "t") as ledger:
        result = reconcile(replace(recipe), ledger, date(2026, 11, 1), date(2026, 11, 30),
                           sage_file=sage)
    expected = {"keep": "in_sync", "drop": "missing_in_sage", "double": "duplicated",
                "alter": "amount_mismatch"}
    assert [line.verdict for line in result.lines] == [expected[f] for f in fate]


def test_fresh_reads_the_store_now_and_changes_nothing(delivered: Path) -> None:
    recipe = load_recipe(delivered)
    ledger_file = recipe.state_dir / "ledger.sqlite"
    before = ledger_file.read_bytes()
    code, out, _ = invoke("-r", str(delivered), "reconcile", *NOVEMBER, "--fresh", "--json")
    assert code == 0 and json.loads(out)["counts"]["in_sync"] == 9
    assert ledger_file.read_bytes() == before
