"""The transform keeps each document's outcome (ready with the Sage reference it claims, or
skipped) on disk, not in lists that grow with the export, and the ledger takes them a chunk at a
time in one transaction (issue 10): a reference claimed in an earlier slice still holds a later
document that wants it, and any chunk size leaves the ledger as one chunk does."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from sagesync.ledger import Exported, Ledger, RecordKey
from sagesync.model import holds
from sagesync.pipeline.transform_step import _Heads, _Outcomes, _References, _Slice
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
        outcomes = _Outcomes()
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


def test_marking_in_chunks_is_marking_in_one(tmp_path: Path) -> None:
    """mark_transformed reads its three inputs once, as they come, `chunk` at a time, in one
    transaction: any chunk size leaves the same states, reasons and events as one chunk."""
    keys = [RecordKey("invoice", n, 1) for n in range(1, 10)]
    outcomes = []
    for chunk in (1, 2, 10_000):
        with Ledger(tmp_path / f"ledger-{chunk}.sqlite") as ledger:
            ledger.register_exported([Exported(k, f"{k.entity_id:09d}", k.entity_id, "",
                                               f"h{k.entity_id}") for k in keys], "x")
            ledger.set_state(keys[8], ("exported",), "held", "hold", "by hand",
                             held_by="person", hold=holds.held_by_person())
            ledger.mark_transformed(
                (x for x in [(k, "h", f"SI:{k.entity_id:09d}") for k in keys[:4]]),
                (x for x in [(keys[4], "h", holds.order_not_exported(order_id=5)),
                             (keys[5], "h", "some words"), (keys[8], "h", "not a person's")]),
                (x for x in [(k, "h", "nothing to post") for k in keys[6:8]]), chunk=chunk)
            outcomes.append((
                ledger.db.execute("SELECT entity_id, state, held_by, last_error, hold_code, "
                                  "sage_reference FROM records ORDER BY entity_id").fetchall(),
                ledger.db.execute("SELECT entity_id, event, detail FROM events WHERE "
                                  "event != 'exported' ORDER BY id").fetchall()))
    assert outcomes[0] == outcomes[1] == outcomes[2]
    records, events = outcomes[0]
    assert [r[1] for r in records] == ["queued"] * 4 + ["held"] * 2 + ["skipped"] * 2 + ["held"]
    assert records[8][2:4] == ("person", "put on hold by a person")
    assert [(e[0], e[1]) for e in events] == [
        (9, "hold"), (7, "skipped"), (8, "skipped"), (1, "queued"), (2, "queued"),
        (3, "queued"), (4, "queued"), (5, "held"), (6, "held")]
