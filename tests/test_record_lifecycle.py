"""Records that change in Magento after export, through the CLI: cancellations before and after
delivery, held records whose source or recipe is fixed, and Sage references two documents share.

The cancellation tests use the real corpus (an order of the OCA store before and after it was
cancelled); they skip only when ../shared is absent.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sagesync.errors import ExitCode
from sagesync.ledger import Ledger, RecordKey
from tests.test_ledger_flows import edit, references, run
from tests.test_real_corpus import REAL, RECIPE

INSTANCES = REAL / "instances"
needs_corpus = pytest.mark.skipif(not REAL.exists(), reason="../shared is absent")


def oca_recipe(tmp_path: Path) -> Path:
    """The OCA store's order 000000013 before it was cancelled, posted from orders."""
    recipe = tmp_path / "oca.toml"
    recipe.write_text(RECIPE.format(source=(INSTANCES / "oca-magento2-t0").as_posix(),
                                    post_from="orders"), encoding="utf-8")
    return recipe


def status_of(run_cli, recipe: Path) -> dict:  # type: ignore[no-untyped-def, type-arg]
    return json.loads(run_cli("-r", str(recipe), "status", "--json").stdout)


@needs_corpus
def test_an_order_cancelled_after_it_was_sent_is_flagged(  # type: ignore[no-untyped-def]
        run_cli, tmp_path: Path) -> None:
    recipe = oca_recipe(tmp_path)
    first = run_cli("run", str(recipe))
    assert first.exit_code == ExitCode.OK, first.output
    assert ("SI", "000000013") in references(tmp_path / "out")

    later = run_cli("run", str(recipe), "--source", str(INSTANCES / "oca-magento2"))
    assert "amended after sending" in later.output and "order:9@1" in later.output
    assert references(tmp_path / "out").count(("SI", "000000013")) == 1
    status = status_of(run_cli, recipe)
    assert status["counts"]["amended"] == 1 and status["counts"]["sent"] >= 1
    [flagged] = status["amended"]
    assert flagged["key"] == "order:9@1"
    assert "cancelled in Magento at 2020-04-24 16:09:35 UTC" in flagged["reason"]
    assert "Sage still has SI 000000013 for 396.87" in flagged["reason"]
    assert "credit note" in flagged["reason"]
    traced = run_cli("-r", str(recipe), "trace", "000000013")
    assert "state: amended" in traced.output and "cancelled in Magento" in traced.output
    check = run_cli("-r", str(recipe), "status", "--check")
    assert check.exit_code == ExitCode.HELD
    assert "1 records changed or cancelled in Magento after they reached Sage" in check.output

    again = run_cli("run", str(recipe), "--source", str(INSTANCES / "oca-magento2"))
    assert "amended after sending" not in again.output  # said once, not every run
    done = run_cli("-r", str(recipe), "resolve", "order:9@1", "--note", "reversed: SC 1043")
    assert done.exit_code == 0, done.output
    after = status_of(run_cli, recipe)
    assert after["counts"]["amended"] == 0 and after["counts"]["resolved"] == 1
    assert "reversed: SC 1043" in run_cli("-r", str(recipe), "trace", "000000013").output


@needs_corpus
def test_an_order_queued_then_cancelled_is_never_delivered(  # type: ignore[no-untyped-def]
        run_cli, tmp_path: Path) -> None:
    """Exported and transformed while Sage was away; cancelled before the next delivery. No
    rerun of an earlier step, nor the queue, may deliver it."""
    recipe = oca_recipe(tmp_path)
    exported = run_cli("export-orders", "-r", str(recipe)).stdout.strip()
    transformed = run_cli("transform", "--from", exported).stdout.strip()

    cancelled = run_cli("export-orders", "-r", str(recipe), "--source",
                        str(INSTANCES / "oca-magento2"))
    assert "void (cancelled in Magento, never delivered): order:9@1" in cancelled.output
    for step in (("import-sage", "--from", transformed),
                 ("import-sage", "--from", run_cli("transform", "--from", exported).stdout
                  .strip()),
                 ("run", str(recipe), "--source", str(INSTANCES / "oca-magento2")),
                 ("run", str(recipe))):
        run_cli(*step)
        assert ("SI", "000000013") not in references(tmp_path / "out"), step
    assert ("SI", "000000019") in references(tmp_path / "out")  # the rest went on
    status = status_of(run_cli, recipe)
    assert status["counts"]["void"] == 1
    traced = run_cli("-r", str(recipe), "trace", "000000013").output
    assert "state: void" in traced and "before it was sent: void, never delivered" in traced


def _page(demo: Path, entity: str) -> tuple[Path, dict]:  # type: ignore[type-arg]
    page = demo.parent.parent / "samples" / "magento" / entity / "page-0001.json"
    return page, json.loads(page.read_text(encoding="utf-8"))


def test_an_invoice_cancelled_in_magento_is_void_and_never_delivered(  # type: ignore[no-untyped-def]
        run_cli, demo_copy: Path, tmp_path: Path) -> None:
    state, out = tmp_path / "s", tmp_path / "out"
    cli = ("--state-dir", str(state))
    exported = run_cli(*cli, "export-orders", "-r", str(demo_copy)).stdout.strip()
    transformed = run_cli(*cli, "transform", "--from", exported).stdout.strip()
    page, data = _page(demo_copy, "invoices")
    data["items"][0]["state"] = 3  # invoice 000000001 cancelled in Magento
    page.write_text(json.dumps(data), encoding="utf-8")
    run_cli(*cli, "export-orders", "-r", str(demo_copy))
    result = run_cli(*cli, "import-sage", "--from", transformed, "--out", str(out))
    assert ("SI", "000000001") not in references(out)
    assert ("SI", "000000002") in references(out)
    assert "invoice:1@1" in result.output  # said, not silently skipped
    status = json.loads(run_cli(*cli, "-r", str(demo_copy), "status", "--json").stdout)
    assert status["counts"]["void"] == 1


def test_a_held_record_is_released_by_a_fixed_recipe_without_being_exported_again(  # type: ignore[no-untyped-def]
        run_cli, demo_copy: Path, tmp_path: Path) -> None:
    """A live store's export window moves on: the held invoice is not in the next export, yet a
    fixed mapping must release it (it is validated again from the checkpoint that holds it)."""
    edit(demo_copy, '"5" = "T5", ', "")
    state, out = tmp_path / "s", tmp_path / "out"
    assert run(run_cli, demo_copy, state, out).exit_code == ExitCode.HELD
    for entity in ("invoices", "creditmemos", "orders"):
        for page in (demo_copy.parent.parent / "samples" / "magento" / entity).glob("*.json"):
            data = json.loads(page.read_text(encoding="utf-8"))
            data["items"], data["total_count"] = [], 0
            page.write_text(json.dumps(data), encoding="utf-8")
    edit(demo_copy, '"0" = "T0"', '"0" = "T0", "5" = "T5"')
    fixed = run(run_cli, demo_copy, state, out)
    assert fixed.exit_code == ExitCode.OK, fixed.output
    assert {("SI", "000000004"), ("SI", "000000005")} <= set(references(out))
    status = json.loads(run_cli("--state-dir", str(state), "-r", str(demo_copy), "status",
                                "--json").stdout)
    assert status["counts"]["held"] == 0


def test_a_held_record_changed_or_cancelled_in_magento_loses_its_old_reason(  # type: ignore[no-untyped-def]
        run_cli, demo_copy: Path, tmp_path: Path) -> None:
    edit(demo_copy, '"5" = "T5", ', "")
    state, out = tmp_path / "s", tmp_path / "out"
    cli = ("--state-dir", str(state), "-r", str(demo_copy))
    run(run_cli, demo_copy, state, out)
    page, data = _page(demo_copy, "invoices")
    [held4] = [i for i in data["items"] if i["increment_id"] == "000000004"]
    [held5] = [i for i in data["items"] if i["increment_id"] == "000000005"]
    held4["created_at"] = held4["created_at"][:-2] + "59"  # edited in Magento
    held5["state"] = 3  # cancelled in Magento
    page.write_text(json.dumps(data), encoding="utf-8")
    run_cli("--state-dir", str(state), "export-orders", "-r", str(demo_copy))
    with Ledger(state / "ledger.sqlite") as ledger:
        four = ledger.find(RecordKey("invoice", held4["entity_id"], 1))
        five = ledger.find(RecordKey("invoice", held5["entity_id"], 1))
    assert four is not None and five is not None
    assert (four.state, four.held_by, four.last_error) == ("exported", None, None)
    assert five.state == "void" and "before it was sent" in (five.last_error or "")
    held = json.loads(run_cli(*cli, "status", "--json").stdout)["held"]
    assert {h["key"] for h in held}.isdisjoint({str(four.key), str(five.key)})


def test_two_stores_sharing_an_increment_id_never_share_a_sage_reference(  # type: ignore[no-untyped-def]
        run_cli, demo_copy: Path, tmp_path: Path) -> None:
    """magento2#40259: store 2 numbers its invoices like store 1. The second is held with a
    reason; a per-store prefix makes the references differ and releases it."""
    page, data = _page(demo_copy, "invoices")
    data["items"][1]["increment_id"] = data["items"][0]["increment_id"]
    data["items"][1]["store_id"] = 2
    page.write_text(json.dumps(data), encoding="utf-8")
    state, out = tmp_path / "s", tmp_path / "out"
    first = run(run_cli, demo_copy, state, out)
    assert first.exit_code == ExitCode.HELD, first.output
    assert references(out).count(("SI", "000000001")) == 1
    assert "is already used by invoice:1@1" in first.output
    assert "reference_prefixes" in first.output

    edit(demo_copy, 'encoding = "cp1252"',
         'encoding = "cp1252"\nreference_prefixes = { "2" = "B" }')
    second = run(run_cli, demo_copy, state, out)
    assert second.exit_code == ExitCode.OK, second.output
    assert references(out).count(("SI", "000000001")) == 1
    assert ("SI", "B000000001") in references(out)


def test_reference_prefixes_are_validated(run_cli, demo_copy: Path) -> None:  # type: ignore[no-untyped-def]
    edit(demo_copy, 'encoding = "cp1252"',
         'encoding = "cp1252"\nreference_prefixes = { "x" = "B" }')
    result = run_cli("-r", str(demo_copy), "status")
    assert result.exit_code == ExitCode.USAGE
    assert "sage.reference_prefixes.x" in result.output and "store id" in result.output


def test_no_rerun_delivers_an_amended_or_resolved_record_again(  # type: ignore[no-untyped-def]
        run_cli, demo_copy: Path, tmp_path: Path) -> None:
    state, out = tmp_path / "s", tmp_path / "out"
    cli = ("--state-dir", str(state))
    exported = run_cli(*cli, "export-orders", "-r", str(demo_copy)).stdout.strip()
    transformed = run_cli(*cli, "transform", "--from", exported).stdout.strip()
    run_cli(*cli, "import-sage", "--from", transformed, "--out", str(out))
    page, data = _page(demo_copy, "invoices")
    data["items"][0]["created_at"] = data["items"][0]["created_at"][:-2] + "59"
    page.write_text(json.dumps(data), encoding="utf-8")
    changed = run(run_cli, demo_copy, state, out)
    assert "amended after sending" in changed.output and "invoice:1@1" in changed.output
    for resolve in (False, True):
        if resolve:
            assert run_cli(*cli, "-r", str(demo_copy), "resolve", "invoice:1@1", "--note",
                           "corrected by hand").exit_code == 0
        run_cli(*cli, "import-sage", "--from", transformed, "--out", str(out))
        assert references(out).count(("SI", "000000001")) == 1, resolve


def test_a_held_record_entered_by_hand_is_resolved_and_never_sent(  # type: ignore[no-untyped-def]
        run_cli, demo_copy: Path, tmp_path: Path) -> None:
    """A document the import cannot take is held (here a rate without a tax code; for Sage 50
    Canada every credit memo), entered in Sage by hand, then closed with `resolve`: it is not
    validated or sent again, even once the recipe could send it."""
    edit(demo_copy, '"5" = "T5", ', "")
    state, out = tmp_path / "s", tmp_path / "out"
    cli = ("--state-dir", str(state))
    assert run(run_cli, demo_copy, state, out).exit_code == ExitCode.HELD
    done = run_cli(*cli, "-r", str(demo_copy), "resolve", "invoice:4@1", "--note",
                   "entered by hand as SI 4")
    assert done.exit_code == 0 and "invoice:4@1" in done.output
    edit(demo_copy, '"0" = "T0"', '"5" = "T5", "0" = "T0"')
    assert run(run_cli, demo_copy, state, out).exit_code == ExitCode.OK
    assert ("SI", "000000004") not in references(out)
    assert ("SI", "000000005") in references(out)  # held for the same cause: now sent
    with Ledger(state / "ledger.sqlite") as ledger:
        assert ledger.find(RecordKey("invoice", 4, 1)).state == "resolved"  # type: ignore[union-attr]


def _orders_page(recipe: Path) -> tuple[Path, dict]:  # type: ignore[type-arg]
    page = recipe.parent.parent / "samples" / "magento" / "orders" / "page-0001.json"
    return page, json.loads(page.read_text(encoding="utf-8"))


def test_an_order_moving_on_in_magento_after_it_was_sent_is_not_amended(  # type: ignore[no-untyped-def]
        run_cli, demo_copy: Path, tmp_path: Path) -> None:
    """Magento completes, closes and re-statuses orders long after Sage has them (and
    `update-orders` sets a status itself): a sent order whose state, status and update time
    change is still the document Sage has. A change to what was posted still flags it."""
    state, out = tmp_path / "s", tmp_path / "out"
    edit(demo_copy, 'post_from = "invoices"', 'post_from = "orders"')
    first = run(run_cli, demo_copy, state, out)
    assert first.exit_code == ExitCode.OK, first.output
    sent = references(out)
    page, data = _orders_page(demo_copy)
    for order in data["items"]:
        if order["state"] == "complete":
            order.update(state="closed", status="sent_to_sage",
                         updated_at="2026-11-30 23:59:59")
    page.write_text(json.dumps(data), encoding="utf-8")
    later = run(run_cli, demo_copy, state, out)
    assert later.exit_code == ExitCode.OK, later.output
    assert "amended" not in later.output and references(out) == sent
    status = json.loads(run_cli("--state-dir", str(state), "-r", str(demo_copy), "status",
                                "--json").stdout)
    assert status["counts"].get("amended", 0) == 0 and status["counts"]["sent"] == len(sent)

    data["items"][0]["created_at"] = "2026-10-25 09:13:00"  # what Sage was given changed
    page.write_text(json.dumps(data), encoding="utf-8")
    changed = run(run_cli, demo_copy, state, out)
    assert "amended after sending" in changed.output and "order:1@1" in changed.output


def test_a_ledger_hashed_with_magento_state_adopts_the_new_hashes_once(  # type: ignore[no-untyped-def]
        run_cli, demo_copy: Path, tmp_path: Path) -> None:
    """A ledger from before hash scheme 2 stored hashes that covered the state: its sent
    records take the new hash on their next export instead of all turning amended, and are
    compared by it from then on."""
    state, out = tmp_path / "s", tmp_path / "out"
    assert run(run_cli, demo_copy, state, out).exit_code == ExitCode.OK
    with Ledger(state / "ledger.sqlite") as ledger, ledger.transaction() as db:
        current = dict(db.execute("SELECT entity_type || entity_id, content_hash FROM records"))
        db.execute("UPDATE records SET hash_scheme = 1, content_hash = 'scheme-1 ' || "
                   "content_hash")
    again = run(run_cli, demo_copy, state, out)
    assert again.exit_code == ExitCode.OK, again.output
    assert "amended" not in again.output
    with Ledger(state / "ledger.sqlite") as ledger:
        rows = ledger.db.execute("SELECT entity_type || entity_id, content_hash, hash_scheme "
                                 "FROM records").fetchall()
    assert {key: digest for key, digest, _ in rows} == current
    assert {scheme for *_, scheme in rows} == {2}
    page = demo_copy.parent.parent / "samples" / "magento" / "invoices" / "page-0001.json"
    data = json.loads(page.read_text(encoding="utf-8"))
    data["items"][0]["created_at"] = "2026-10-26 09:00:00"
    page.write_text(json.dumps(data), encoding="utf-8")
    changed = run(run_cli, demo_copy, state, out)
    assert "amended after sending" in changed.output and "invoice:1@1" in changed.output
