"""What import-sage decides for each document of a window (render it, or why not) is read as
columns against the ledger; these tests hold it to the rule written one document at a time, for
any mix of ledger states, reasons, hashes, empty documents and amounts Sage would refuse, and
check that a record the ledger never saw joins it (unless the run is dry)."""

from __future__ import annotations

import tempfile
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from sagesync.ledger import DONE, Ledger, RecordKey
from sagesync.model.schemas import SAGE_DOCUMENTS, SAGE_SPLITS
from sagesync.pipeline.amounts import WindowAmounts, amount_problem
from sagesync.pipeline.import_step import _decide
from sagesync.sage import products

STATES = [None, "queued", "held", "skipped", "needs_attention", "void", "sent", "confirmed",
          "exported", "rejected"]
CAPS = products.get("sage50_uk").capabilities


def expected(doc: dict[str, Any], state: str | None, known: str | None,
             splits: list[dict[str, Any]]) -> tuple[str, Any]:
    """The rule, one document at a time, as the import has always applied it."""
    if state is None:
        state, known = "queued", doc["content_hash"]
    if state in DONE:
        return ("sent", None)
    if state in ("needs_attention", "void"):
        return (state, None)
    if doc["hold_reason"] or state == "held":
        return ("held", doc["hold_reason"] or "on hold in the ledger")
    if doc["skip_reason"] or state == "skipped" or not splits:
        return ("skipped", doc["skip_reason"] or "nothing to post")
    if known != doc["content_hash"]:
        return ("stale", None)
    problem = amount_problem(doc, splits, False, CAPS)
    return ("render", None) if problem is None else ("invalid", problem)


DOCUMENT = st.fixed_dictionaries({
    "state": st.sampled_from(STATES),
    "same_hash": st.booleans(),
    "hold_reason": st.sampled_from([None, "", "account awaiting approval"]),
    "skip_reason": st.sampled_from([None, "", "zero total"]),
    "splits": st.lists(st.integers(-300, 300), max_size=3),  # net cents, a split each
    "off_by": st.sampled_from([0, 0, 1]),  # cents the total misses its rows by
})


@settings(max_examples=60, deadline=None)
@given(st.lists(DOCUMENT, min_size=1, max_size=12), st.booleans(), st.data())
def test_each_document_gets_the_outcome_and_reason_of_the_rule(
        drawn: list[dict[str, Any]], dry_run: bool, data: st.DataObject) -> None:
    documents, splits = [], []
    for n, d in enumerate(drawn):
        key = f"invoice:{n}@1"
        nets = [Decimal(c).scaleb(-2) for c in d["splits"]]
        documents.append({
            "document_key": key, "entity_type": "invoice", "entity_id": n, "store_id": 1,
            "order_id": 100 + n, "order_increment_id": f"O{n}", "increment_id": f"I{n}",
            "transaction_type": "SI", "account_ref": "WEB", "content_hash": f"h{n}",
            "grand_total": sum(nets, Decimal(0)) + Decimal(d["off_by"]).scaleb(-2),
            "hold_reason": d["hold_reason"], "skip_reason": d["skip_reason"]})
        splits += [{"document_key": key, "split_no": i, "nominal_code": "4000",
                    "tax_code": "T1", "net_amount": net, "tax_amount": Decimal("0.00"),
                    "purpose": "goods"} for i, net in enumerate(nets)]
    table = pa.Table.from_pylist([{n: d.get(n) for n in SAGE_DOCUMENTS.names}
                                  for d in documents], schema=SAGE_DOCUMENTS)
    split_table = pa.Table.from_pylist([{n: s.get(n) for n in SAGE_SPLITS.names}
                                        for s in splits], schema=SAGE_SPLITS)
    amounts = WindowAmounts(split_table, table, CAPS, False, False)
    # the documents of one file: any subset of the window, in order
    picked = sorted(data.draw(st.sets(st.integers(0, len(drawn) - 1), min_size=1)))
    with tempfile.TemporaryDirectory() as folder, \
            Ledger(Path(folder) / "ledger.sqlite") as ledger:
        known = [(n, d) for n, d in enumerate(drawn) if d["state"] is not None]
        ledger.ensure_records([(RecordKey("invoice", n, 1), f"h{n}", f"I{n}", 100 + n, f"O{n}")
                               for n, _ in known])
        ledger.db.executemany(
            "UPDATE records SET state=?, content_hash=? WHERE entity_id=?",
            [(d["state"], f"h{n}" if d["same_hash"] else "older", n) for n, d in known])
        decisions = _decide(table.take(pa.array(picked, pa.int64())), amounts, picked, ledger,
                            dry_run)
        assert decisions == [expected(
            documents[n], drawn[n]["state"], f"h{n}" if drawn[n]["same_hash"] else "older",
            [s for s in splits if s["document_key"] == documents[n]["document_key"]])
            for n in picked]
        joined = {r.key.entity_id for r in ledger.rows() if r.state == "queued"}
    # a record the ledger never saw (a checkpoint from a dry transform) joins it as queued,
    # unless held or skipped by the transform, or the import is dry
    assert joined == {n for n, d in enumerate(drawn) if d["state"] == "queued"} | (
        set() if dry_run else {n for n in picked if drawn[n]["state"] is None
                               and not drawn[n]["hold_reason"] and not drawn[n]["skip_reason"]})
