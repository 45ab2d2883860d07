"""Sage receivables told to Magento (issue 15 §4), through the CLI against the simulator: each
order hears once what Sage says is owed on its invoice (paid, part paid, unpaid) and on its
credit memo, a rerun or a crash at any point never doubles or loses a comment, and rows that
are not sagesync's documents are left alone."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sagesync.errors import ExitCode
from sagesync.ledger import Ledger
from tests.conftest import ROOT
from tests.magento_sim import MagentoSimulator
from tests.test_order_updates import ours, sagesync, shop

SAMPLE = ROOT / "samples" / "sage" / "sage50_uk" / "receivables.csv"
HEADER = SAMPLE.read_text(encoding="cp1252").splitlines()[0]


def delivered(tmp_path: Path, sim: MagentoSimulator, **updates: object) -> Path:
    recipe = shop(tmp_path, sim, **updates)
    done = sagesync(recipe, "run", "--until", "2027-01-01")
    assert done.returncode == 0, done.stderr
    return recipe


def from_sent(sent: Path, tmp_path: Path, sim: MagentoSimulator, **updates: object) -> Path:
    """A recipe on a copy of the state folder that has already sent the demo's documents."""
    shutil.copytree(sent, tmp_path / "state")
    return shop(tmp_path, sim, **updates)


def push(recipe: Path, export: Path, *extra: str, crash_at: str | None = None
         ) -> tuple[int, dict, str]:  # type: ignore[type-arg]
    parsed = sagesync(recipe, "parse-sage", str(export), "--kind", "receivables")
    assert parsed.returncode == 0, parsed.stderr
    pushed = sagesync(recipe, "push-magento", "-v", "--from", parsed.stdout.strip(), "--json",
                      *extra,
                      crash_at=crash_at)
    report = json.loads(pushed.stdout) if pushed.stdout.strip() else {}
    return pushed.returncode, report, pushed.stderr


def comment_texts(sim: MagentoSimulator) -> list[str]:
    return sorted(c.rsplit(" [sagesync #", 1)[0] for cs in ours(sim).values() for c in cs)


def order_of(sim: MagentoSimulator, entity: str, increment: str) -> int:
    return next(int(r["order_id"]) for r in sim.rows(entity) if r["increment_id"] == increment)


def test_each_order_hears_what_sage_says_is_owed_once(tmp_path: Path,  # type: ignore[no-untyped-def]
                                                     make_magento_sim, sent_state: Path) -> None:
    sim = make_magento_sim(folder=ROOT / "samples" / "magento", token="t")
    recipe = from_sent(sent_state, tmp_path, sim, paid_status="paid_in_sage")
    code, preview, _ = push(recipe, SAMPLE, "--dry-run")
    assert code == 0 and ours(sim) == {} and len(preview["changed"]) == 4
    code, report, err = push(recipe, SAMPLE)
    assert code == ExitCode.OK and report["told"] and not report["unknown"], err
    assert "1 row about documents sagesync did not post" in err and "INV-7001" in err
    assert comment_texts(sim) == [
        "Sage: credit memo 000000001 (SC 000000001) is allocated on 2026-11-12 "
        "(0.00 of 15.50 outstanding; Sage invoice 104)",
        "Sage: invoice 000000001 (SI 000000001) is paid on 2026-11-03 (0.00 of 26.40 "
        "outstanding; Sage invoice 101)",
        "Sage: invoice 000000002 (SI 000000002) is part paid, due 2026-12-10 (40.00 of 104.40 "
        "outstanding; Sage invoice 102)",
        "Sage: invoice 000000003 (SI 000000003) is unpaid, due 2026-12-04 (181.43 of 181.43 "
        "outstanding; Sage invoice 103)"]
    paid = ours(sim)[order_of(sim, "invoices", "000000001")]
    assert len(paid) == 1 and "paid on 2026-11-03" in paid[0]
    histories = [h for o in sim.rows("orders") for h in o.get("status_histories") or []
                 if "[sagesync #" in str(h["comment"])]
    assert {(h["is_visible_on_front"], h["is_customer_notified"]) for h in histories} == {(1, 0)}
    # only a paid invoice moves its order to the recipe's status
    moved = {h["comment"].split(" (")[0]: h.get("status") for h in histories}
    assert moved == {"Sage: credit memo 000000001": None, "Sage: invoice 000000001":
                     "paid_in_sage", "Sage: invoice 000000002": None,
                     "Sage: invoice 000000003": None}
    assert next(o for o in sim.rows("orders") if o["entity_id"] == order_of(
        sim, "invoices", "000000001"))["status"] == "paid_in_sage"

    code, again, _ = push(recipe, SAMPLE)  # the same export: nothing new to tell
    assert code == 0 and again["changed"] == [] and again["unchanged"] == 4
    assert len(comment_texts(sim)) == 4

    later = tmp_path / "receivables-later.csv"
    later.write_text(SAMPLE.read_text(encoding="cp1252").replace(
        "104.40,40.00,10/12/2026,", "104.40,0.00,10/12/2026,20/11/2026"), encoding="cp1252")
    code, paid_now, _ = push(recipe, later)
    assert code == 0 and len(paid_now["changed"]) == 1
    assert "invoice 000000002 (SI 000000002) is paid on 2026-11-20" in " ".join(
        comment_texts(sim))
    traced = sagesync(recipe, "trace", "000000002")
    assert "receivable" in traced.stdout and "paid on 2026-11-20" in traced.stdout
    with Ledger(tmp_path / "state" / "ledger.sqlite") as ledger:
        stored = ledger.db.execute("SELECT entity_type, entity_id, status, outstanding, "
                                   "paid_date FROM receivables ORDER BY 1, 2").fetchall()
    assert stored == [("creditmemo", 1, "allocated", "0.00", "2026-11-12"),
                      ("invoice", 1, "paid", "0.00", "2026-11-03"),
                      ("invoice", 2, "paid", "0.00", "2026-11-20"),
                      ("invoice", 3, "unpaid", "181.43", None)]


@pytest.mark.parametrize("crash_at", ["receivables-recorded", "comment-sending",
                                      "comment-posted"])
def test_a_crash_anywhere_in_the_push_neither_loses_nor_doubles_a_comment(  # type: ignore[no-untyped-def]
        tmp_path: Path, crash_at: str, make_magento_sim, sent_state: Path) -> None:
    sim = make_magento_sim(folder=ROOT / "samples" / "magento", token="t")
    recipe = from_sent(sent_state, tmp_path, sim)
    code, _, _ = push(recipe, SAMPLE, crash_at=crash_at)
    assert code == 137
    told_before = len(comment_texts(sim))
    assert told_before == (1 if crash_at == "comment-posted" else 0)
    code, _, err = push(recipe, SAMPLE)  # the export again, as cron would
    assert code == 0, err
    texts = comment_texts(sim)
    assert len(texts) == len(set(texts)) == 4
    markers = [c.rsplit("[sagesync #", 1)[1] for cs in ours(sim).values() for c in cs]
    assert len(set(markers)) == 4


POINTS = ("receivables-recorded", "comment-sending", "comment-posted")
KILLS = st.lists(st.tuples(st.sampled_from(POINTS), st.integers(1, 4)), min_size=1, max_size=4)


@pytest.fixture(scope="module")
def sent_state(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A state folder whose ledger has sent the samples' documents (made once)."""
    folder = tmp_path_factory.mktemp("sent")
    sim = MagentoSimulator.from_folder(ROOT / "samples" / "magento", token="t")
    sim.start()
    try:
        delivered(folder, sim)
    finally:
        sim.stop()
    return folder / "state"


def _killed_and_rerun(sent: Path, kills: list[tuple[str, int]]) -> None:
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        shutil.copytree(sent, folder / "state")
        sim = MagentoSimulator.from_folder(ROOT / "samples" / "magento", token="t")
        sim.start()
        try:
            recipe = shop(folder, sim)
            for point, nth in kills:  # cron starting again after each power cut
                code, _, err = push(recipe, SAMPLE, crash_at=f"{point}:{nth}")
                assert code in (0, 137), err
            code, _, err = push(recipe, SAMPLE)
            assert code == 0, err
            texts = comment_texts(sim)
            assert len(texts) == len(set(texts)) == 4, texts
            markers = [c.rsplit("[sagesync #", 1)[1] for cs in ours(sim).values() for c in cs]
            assert len(markers) == len(set(markers)) == 4
        finally:
            sim.stop()


@settings(max_examples=2, deadline=None, suppress_health_check=[
    HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(kills=KILLS)
def test_pushes_killed_at_random_points_tell_each_change_exactly_once(
        sent_state: Path, kills: list[tuple[str, int]]) -> None:
    _killed_and_rerun(sent_state, kills)


@pytest.mark.slow
@settings(max_examples=40, deadline=None, suppress_health_check=[
    HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(kills=KILLS)
def test_many_random_kill_sequences_tell_each_change_exactly_once(
        sent_state: Path, kills: list[tuple[str, int]]) -> None:
    _killed_and_rerun(sent_state, kills)


def test_an_export_that_is_not_this_stores_is_refused_and_a_clash_is_reported(  # type: ignore[no-untyped-def]
        tmp_path: Path, make_magento_sim, sent_state: Path) -> None:
    sim = make_magento_sim(folder=ROOT / "samples" / "magento", token="t")
    recipe = from_sent(sent_state, tmp_path, sim)
    other = tmp_path / "other-receivables.csv"
    other.write_text(HEADER + "\r\nSMITHJ,SI,05/11/2026,INV-7001,106,Phone,60.00,60.00,,\r\n",
                     encoding="cp1252")
    code, report, err = push(recipe, other)
    assert code == ExitCode.HELD and "none of the 1 rows is a document sagesync posted" in err
    assert ours(sim) == {}
    # Without its type, 000000001 is both an invoice and a credit memo: never guessed.
    untyped = tmp_path / "untyped-receivables.csv"
    untyped.write_text("INV_REF,OUTSTANDING\r\n000000001,0.00\r\n000000003,5.00\r\n",
                       encoding="cp1252")
    code, report, err = push(recipe, untyped)
    assert code == ExitCode.HELD and report["unknown"] == [
        "line 2: document 000000001: more than one Magento document has this reference: map "
        "the Sage type column ([sage_export] columns.type)"]
    assert comment_texts(sim) == ["Sage: invoice 000000003 (SI 000000003) is unpaid "
                                  "(5.00 outstanding)"]


def test_a_receivables_file_dropped_in_the_watched_folder_is_told_and_archived(  # type: ignore[no-untyped-def]
        tmp_path: Path, make_magento_sim, sent_state: Path) -> None:
    sim = make_magento_sim(folder=ROOT / "samples" / "magento", token="t")
    recipe = from_sent(sent_state, tmp_path, sim)
    inbox = tmp_path / "drop"
    inbox.mkdir()
    (inbox / "aged-debtors-2026-11-23.csv").write_bytes(SAMPLE.read_bytes())
    watched = sagesync(recipe, "watch", str(inbox), "--once", "--settle", "0")
    assert watched.returncode == 0, watched.stderr
    assert len(comment_texts(sim)) == 4
    assert [p.name for p in (inbox / "archive").rglob("*.csv")] == [
        "aged-debtors-2026-11-23.csv"]
    (inbox / "receivables-again.csv").write_bytes(SAMPLE.read_bytes())
    assert sagesync(recipe, "watch", str(inbox), "--once", "--settle", "0").returncode == 0
    assert len(comment_texts(sim)) == 4  # the same figures again: nothing new to tell


def test_two_rows_about_one_document_are_reported_not_both_told(  # type: ignore[no-untyped-def]
        tmp_path: Path, make_magento_sim, sent_state: Path) -> None:
    sim = make_magento_sim(folder=ROOT / "samples" / "magento", token="t")
    recipe = from_sent(sent_state, tmp_path, sim)
    twice = tmp_path / "receivables-twice.csv"
    twice.write_text(HEADER + "\r\nWEBSALES,SI,04/11/2026,000000003,103,Inv,181.43,0.00,,\r\n"
                     "WEBSALES,SI,04/11/2026,103,,Inv,181.43,181.43,,\r\n", encoding="cp1252")
    with Ledger(tmp_path / "state" / "ledger.sqlite") as ledger, ledger.transaction() as db:
        db.execute("UPDATE records SET sage_ref = '103' WHERE increment_id = '000000003' "
                   "AND entity_type = 'invoice'")  # as `ack` records Sage's own number
    code, report, _ = push(recipe, twice)
    assert code == ExitCode.HELD and report["unknown"] == [
        "line 3: SI 103: line 2 is about the same document; which one is right is unclear"]
    assert comment_texts(sim) == ["Sage: invoice 000000003 (SI 000000003) is paid "
                                  "(0.00 of 181.43 outstanding; Sage invoice 103)"]


def test_paid_invoices_turning_unpaid_in_bulk_are_refused_unless_forced(  # type: ignore[no-untyped-def]
        tmp_path: Path, make_magento_sim, sent_state: Path) -> None:
    """A report whose columns moved (the amount read as what is outstanding) would tell every
    customer a paid invoice is due again: the guard refuses it, --force sends it."""
    sim = make_magento_sim(folder=ROOT / "samples" / "magento", token="t")
    recipe = from_sent(sent_state, tmp_path, sim)
    paid = [f"WEBSALES,SI,01/11/2026,{n},,Inv,10.00,0.00,," for n in (
        "000000001", "000000002", "000000003", "000000004", "000000005")]
    first = tmp_path / "receivables-paid.csv"
    first.write_text("\r\n".join([HEADER, *paid, ""]), encoding="cp1252")
    assert push(recipe, first)[0] == 0 and len(comment_texts(sim)) == 5
    shifted = tmp_path / "receivables-shifted.csv"
    shifted.write_text("\r\n".join([HEADER, *(r.replace(",0.00,", ",10.00,") for r in paid),
                                    ""]), encoding="cp1252")
    code, report, err = push(recipe, shifted)
    assert code == ExitCode.HELD and "REFUSED by the receivables guard" in err
    assert report["refused"].startswith("5 of the 5 documents Sage had paid would be unpaid")
    assert len(comment_texts(sim)) == 5  # nothing recorded, nothing told
    code, forced, _ = push(recipe, shifted, "--force")
    assert code == 0 and len(forced["told"]) == 5 and len(comment_texts(sim)) == 10
    assert push(recipe, first)[0] == 0  # paid again: never refused
    one = tmp_path / "receivables-one-reversed.csv"  # a single reversed payment is real
    one.write_text("\r\n".join([HEADER, *paid[:4], paid[4].replace(",0.00,", ",10.00,"), ""]),
                   encoding="cp1252")
    code, reversed_, _ = push(recipe, one)
    assert code == 0 and reversed_["refused"] is None and len(reversed_["told"]) == 1


SAMPLES = {"sage50_uk": "sage50_uk/receivables.csv",
           "sage50_us": "sage50_us/aged_receivables.csv",
           "sage200": "sage200/outstanding_transactions.csv",
           "sage100": "sage100/AR_OpenInvoice.csv", "sage300": "sage300/AROBL.csv",
           "intacct": "intacct/ar_invoices_open.csv"}


@pytest.mark.parametrize("product", sorted(SAMPLES))
def test_each_products_sample_export_tells_the_same_three_invoices(  # type: ignore[no-untyped-def]
        product: str, sent_state: Path, tmp_path: Path, make_magento_sim) -> None:
    """Every product's receivables layout, through the CLI on its sample: the demo's invoices
    000000001-3 come out paid, part paid and unpaid, whatever the product calls its columns."""
    sim = make_magento_sim(folder=ROOT / "samples" / "magento", token="t")
    recipe = from_sent(sent_state, tmp_path, sim)
    recipe.write_text(recipe.read_text(encoding="utf-8")
                      + f'\n[sage_export]\nproduct = "{product}"\n', encoding="utf-8")
    code, report, err = push(recipe, ROOT / "samples" / "sage" / SAMPLES[product])
    assert code == 0, err
    said = {c.split(" (")[0].removeprefix("Sage: invoice "):
            c.split(") is ")[1].split(" ")[0].rstrip(",")
            for c in comment_texts(sim) if c.startswith("Sage: invoice ")}
    assert said == {"000000001": "paid", "000000002": "part", "000000003": "unpaid"}, report
