"""The transform keeps each document's outcome (ready with the Sage reference it claims, or
skipped) on disk, not in lists that grow with the export, and the ledger takes them a chunk at a
time in one transaction (issue 10): a reference claimed in an earlier slice still holds a later
document that wants it, and any chunk size leaves the ledger as one chunk does."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sagesync.ledger import Exported, Ledger, RecordKey, TransformOutcomes
from sagesync.model import holds
from sagesync.pipeline.transform_step import _Heads, _References, _Slice
from sagesync.transform.documents import SageDocument


def _document(entity_id: int, store_id: int, reference: str) -> SageDocument:
    return SageDocument(entity_type="invoice", entity_id=entity_id, store_id=store_id,
                        order_id=entity_id, order_increment_id=reference,
                        increment_id=reference, transaction_type="SI", account_ref="A",
                        posting_date=None, reference=reference, extra_reference="",
                        details="", currency_code="GBP", total_cents=100,
                        content_hash=f"h{entity_id}")


def _slice(docs: list[SageDocument]) -> _Slice:
    """A slice of documents built one at a time (none taken column-wise)."""
    return _Slice("invoice", docs, list(range(len(docs))), _Heads("invoice", None),
                  pa.table({"entity_id": pa.array([], pa.int64())}))


def test_a_reference_claimed_in_an_earlier_slice_holds_a_later_document(
        tmp_path: Path) -> None:
    """Slice 1 claims SI:000000001 (kept on disk once the slice is done); in slice 2 another
    store's invoice with that number is held naming the first, while the first one seen again
    (the same key) keeps its claim, and a reference the ledger knows is its owner's."""
    with Ledger(tmp_path / "ledger.sqlite") as ledger:
        owner = RecordKey("invoice", 50, 1)
        ledger.register_exported([Exported(owner, "000000050", 50, "000000050", "h50")], "x")
        ledger.mark_transformed([(owner, "h50", "SI:000000050")], [])
        outcomes = TransformOutcomes()
        try:
            references = _References(ledger, outcomes)
            first = [_document(1, 1, "000000001"), _document(2, 1, "000000002")]
            references.hold_collisions(_slice(first))
            outcomes.add([(RecordKey("invoice", d.entity_id, 1), d.content_hash,
                           f"SI:{d.reference}") for d in first], [])
            second = [_document(1, 2, "000000001"), _document(1, 1, "000000001"),
                      _document(51, 1, "000000050"), _document(3, 1, "000000003")]
            references.hold_collisions(_slice(second))
            assert [d.hold for d in second] == [
                holds.reference_collision(reference="000000001", transaction_type="SI",
                                          owner="invoice:1@1"),
                None,
                holds.reference_collision(reference="000000050", transaction_type="SI",
                                          owner="invoice:50@1"),
                None]
            assert [(str(k), h, r) for k, h, r in outcomes.ready()] == [
                ("invoice:1@1", "h1", "SI:000000001"), ("invoice:2@1", "h2", "SI:000000002")]
        finally:
            outcomes.close()


def _marked(ledger: Ledger) -> tuple[list[Any], list[Any]]:
    """The records' states, holders, reasons, causes and references, and the events after
    the export's, in order."""
    return (ledger.db.execute("SELECT entity_id, state, held_by, last_error, hold_code, "
                              "sage_reference FROM records ORDER BY entity_id").fetchall(),
            ledger.db.execute("SELECT entity_id, event, detail FROM events WHERE "
                              "event != 'exported' ORDER BY id").fetchall())


def _marking(ledger: Ledger, keys: list[RecordKey]
             ) -> tuple[list[Any], list[Any], list[Any]]:
    """Registered records (the ninth put on hold by a person) and what to mark them: four
    ready (one claiming no reference), three held, two skipped."""
    ledger.register_exported([Exported(k, f"{k.entity_id:09d}", k.entity_id, "",
                                       f"h{k.entity_id}") for k in keys], "x")
    ledger.set_state(keys[8], ("exported",), "held", "hold", "by hand",
                     held_by="person", hold=holds.held_by_person())
    ready = [(k, "h", f"SI:{k.entity_id:09d}" if k.entity_id != 3 else "") for k in keys[:4]]
    held = [(keys[4], "h", holds.order_not_exported(order_id=5)), (keys[5], "h", "some words"),
            (keys[8], "h", "not a person's")]
    return ready, held, [(k, "h", "nothing to post") for k in keys[6:8]]


def test_marking_in_chunks_is_marking_in_one(tmp_path: Path) -> None:
    """mark_transformed reads its three inputs once, as they come, `chunk` at a time, in one
    transaction: any chunk size leaves the same states, reasons and events as one chunk."""
    keys = [RecordKey("invoice", n, 1) for n in range(1, 10)]
    outcomes = []
    for chunk in (1, 2, 10_000):
        with Ledger(tmp_path / f"ledger-{chunk}.sqlite") as ledger:
            ready, held, skipped = _marking(ledger, keys)
            ledger.mark_transformed((x for x in ready), (x for x in held),
                                    (x for x in skipped), chunk=chunk)
            outcomes.append(_marked(ledger))
    assert outcomes[0] == outcomes[1] == outcomes[2]
    records, events = outcomes[0]
    assert [r[1] for r in records] == ["queued"] * 4 + ["held"] * 2 + ["skipped"] * 2 + ["held"]
    assert records[8][2:4] == ("person", "put on hold by a person")
    assert [r[5] for r in records[:4]] == ["SI:000000001", "SI:000000002", None, "SI:000000004"]
    assert [(e[0], e[1]) for e in events] == [
        (9, "hold"), (7, "skipped"), (8, "skipped"), (1, "queued"), (2, "queued"),
        (3, "queued"), (4, "queued"), (5, "held"), (6, "held")]


def test_marking_from_the_outcomes_file_is_marking_from_lists(tmp_path: Path) -> None:
    """The ledger reads a transform's ready records from its outcomes file itself (attached
    for the transaction): the same states, reasons, references and events, in the same order,
    as from lists; the file is detached after, and removed when closed."""
    keys = [RecordKey("invoice", n, 1) for n in range(1, 10)]
    with Ledger(tmp_path / "lists.sqlite") as ledger:
        ready, held, skipped = _marking(ledger, keys)
        ledger.mark_transformed(ready, held, skipped)
        expected = _marked(ledger)
    outcomes = TransformOutcomes(tmp_path)  # the step's folder: cleared if the step is killed
    assert outcomes.folder.parent == tmp_path
    try:
        with Ledger(tmp_path / "file.sqlite") as ledger:
            ready, held, skipped = _marking(ledger, keys)
            outcomes.add(ready[:2], skipped[:1])
            outcomes.add(ready[2:], skipped[1:])
            ledger.mark_outcomes(outcomes, held)
            assert _marked(ledger) == expected
            assert [name for _, name, _ in ledger.db.execute("PRAGMA database_list")] == [
                "main", "temp"]
    finally:
        outcomes.close()
    assert not outcomes.folder.exists()


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(refs=st.lists(st.text(min_size=1, max_size=8), unique=True, max_size=30),
       cuts=st.lists(st.integers(0, 30), max_size=4), batch=st.integers(1, 7))
def test_new_accounts_come_back_from_disk_in_the_order_of_their_references(
        tmp_path_factory: pytest.TempPathFactory, refs: list[str], cuts: list[int],
        batch: int) -> None:
    """The new accounts' records wait on disk, not in a dict that grows with the customers,
    and come back whole, in the order Python sorts their references (the order the accounts
    table was written in from the dict), whatever the slices they were opened in."""
    records = [{"account_ref": ref, "name": f"Customer {n}", "street2": "", "town": None,
                "postcode": "LS1 4AP" if n % 2 else None} for n, ref in enumerate(refs)]
    outcomes = TransformOutcomes(tmp_path_factory.mktemp("accounts"))
    try:
        bounds = [0, *sorted(min(c, len(records)) for c in cuts), len(records)]
        for start, end in pairwise(bounds):
            outcomes.add([], [], records[start:end])
        back = list(outcomes.accounts(batch))
    finally:
        outcomes.close()
    assert all(0 < len(part) <= batch for part in back)
    assert [r for part in back for r in part] == sorted(records, key=lambda r: r["account_ref"])
