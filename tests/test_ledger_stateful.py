"""Hypothesis drives random sequences of export / transform / import (with crashes) / ack /
retry / hold / release / changed and cancelled records / reruns of earlier steps against the
ledger's invariants:

* a document is in a delivered file exactly as many times as the ledger recorded it sent;
* it is sent again only after Sage rejected it (never twice otherwise);
* an ack file applied again, at once or much later (after a resend), changes nothing;
* every file the ledger names holds the document;
* a document cancelled in Magento before it was sent is never delivered (void), one cancelled
  after it was sent is flagged (amended), whatever the order of events and crashes;
* once the queue is drained, every document is delivered unless held, amended or void.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from sagesync.delivery.folder import FolderDelivery
from sagesync.errors import TransientError
from sagesync.ledger import Ledger, RecordKey
from sagesync.ops.ack import apply_ack
from sagesync.pipeline.checkpoint import new_run_id, open_checkpoint
from sagesync.pipeline.export_step import export_orders
from sagesync.pipeline.import_step import import_sage
from sagesync.pipeline.transform_step import transform
from sagesync.recipe import load_recipe
from sagesync.testing.dataset import documents, write_pages

RECIPE = """
name = "stateful"
state_dir = "state"
[magento]
source = "pages"
[sage]
product = "sage50_uk"
max_lines_per_file = 6
[mapping]
tax_codes = { "20" = "T1", "5" = "T5", "0" = "T0" }
[delivery]
path = "out"
[ack]
error_column = "Error"
"""


class LedgerMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.root = Path(tempfile.mkdtemp(prefix="sagesync-stateful-"))
        self.store = documents(1, 12, seed=5)
        self.write_store()
        (self.root / "recipe.toml").write_text(RECIPE, encoding="utf-8")
        self.recipe = load_recipe(self.root / "recipe.toml")
        self.out = self.root / "out"
        self.ledger = Ledger(self.recipe.state_dir / "ledger.sqlite", new_run_id())
        self.export_manifest: Path | None = None
        self.documents_manifest: Path | None = None
        self.exports: list[Path] = []
        self.transforms: list[Path] = []
        self.cancelled: set[int] = set()  # invoice entity ids cancelled in the store
        self.cancel_exported: set[int] = set()  # ... and seen so by an export since
        self.ack_files: list[Path] = []  # every Sage answer applied, to replay

    def teardown(self) -> None:
        self.ledger.close()
        shutil.rmtree(self.root, ignore_errors=True)

    def write_store(self) -> None:
        shutil.rmtree(self.root / "pages", ignore_errors=True)
        for entity, items in self.store.items():
            write_pages(self.root / "pages", entity, items, 5)

    # Rules ------------------------------------------------------------------------------
    def export(self) -> None:
        self.export_manifest = export_orders(self.recipe, new_run_id(), self.ledger).manifest
        self.exports.append(self.export_manifest)
        self.cancel_exported |= self.cancelled

    def transform(self) -> None:
        assert self.export_manifest is not None
        self.documents_manifest = transform(self.recipe, open_checkpoint(self.export_manifest),
                                            self.ledger, new_run_id()).manifest
        self.transforms.append(self.documents_manifest)

    def import_files(self, crash_after: int | None) -> None:
        """import-sage, dying (as a lost share would make it) after `crash_after` files."""
        assert self.documents_manifest is not None
        real = FolderDelivery.deliver
        written = 0

        def deliver(self: FolderDelivery, name: str, data: bytes, ready: Any = None) -> Path:
            nonlocal written
            if crash_after is not None and written >= crash_after:
                raise TransientError("simulated: the share went away mid-batch")
            written += 1
            return real(self, name, data, ready)

        FolderDelivery.deliver = deliver  # type: ignore[method-assign]
        try:
            import_sage(self.recipe, open_checkpoint(self.documents_manifest), self.ledger,
                        new_run_id(), out_dir=self.out, dry_run=False)
        except TransientError:
            pass
        finally:
            FolderDelivery.deliver = real  # type: ignore[method-assign]

    @rule(crash_after=st.one_of(st.none(), st.integers(0, 5)))
    def cycle(self, crash_after: int | None) -> None:
        """A scheduled run: export, transform, import."""
        self.export()
        self.transform()
        self.import_files(crash_after)

    @precondition(lambda self: self.documents_manifest is not None)
    @rule(crash_after=st.one_of(st.none(), st.integers(0, 5)))
    def import_again(self, crash_after: int | None) -> None:
        """An operator reruns import-sage on the last checkpoint."""
        self.import_files(crash_after)

    @precondition(lambda self: len(self.transforms) > 1)
    @rule(data=st.data())
    def import_an_earlier_transform(self, data: st.DataObject) -> None:
        """An operator reruns import-sage on an old documents checkpoint."""
        self.documents_manifest = data.draw(st.sampled_from(self.transforms[:-1]))
        self.import_files(None)

    @precondition(lambda self: len(self.exports) > 1)
    @rule(data=st.data())
    def transform_an_earlier_export(self, data: st.DataObject) -> None:
        """An operator reruns transform on an old export checkpoint (maybe from before a
        cancellation)."""
        self.export_manifest = data.draw(st.sampled_from(self.exports[:-1]))
        self.transform()

    @rule(data=st.data())
    def magento_cancels_an_invoice(self, data: st.DataObject) -> None:
        invoice = data.draw(st.sampled_from(self.store["invoices"]))
        invoice["state"] = 3
        invoice["updated_at"] = "2026-11-30 12:00:00"
        self.cancelled.add(invoice["entity_id"])
        self.write_store()

    def snapshot(self) -> tuple[list[tuple[str, str, int]], int]:
        rows = [(str(r.key), r.state, r.attempts) for r in self.ledger.rows()]
        events = self.ledger.db.execute("SELECT count(*) FROM events").fetchone()[0]
        return rows, int(events)

    @rule(data=st.data(), ok=st.booleans(), again=st.booleans())
    def ack(self, data: st.DataObject, ok: bool, again: bool) -> None:
        """Sage's answer for a sent record, through `ack` and a file (a new export each time:
        a journal row makes it unique); applied `again` at once, it changes nothing."""
        sent = self.ledger.rows(["sent"])
        if not sent:
            return
        row = data.draw(st.sampled_from(sent))
        kind = "SC" if row.key.entity_type == "creditmemo" else "SI"
        answer = f"{kind},{row.increment_id},SAGE1," if ok else \
            f"{kind},{row.increment_id},,Sage said no"
        path = self.root / f"ack-{len(self.ack_files)}.csv"
        path.write_text(f"Type,Reference,Transaction Number,Error\r\n{answer}\r\n"
                        f"JD,J{len(self.ack_files)},1,\r\n", encoding="utf-8")
        earlier = time.time() - 3600  # exported before any later resend, as in real life
        os.utime(path, (earlier, earlier))
        self.ack_files.append(path)
        apply_ack(self.recipe, self.ledger, path)
        answered = self.ledger.find(row.key)
        assert answered is not None and answered.state != "sent"  # the first time, it counts
        if again:
            self.replay_an_ack(data)

    @precondition(lambda self: self.ack_files)
    @rule(data=st.data())
    def replay_an_ack(self, data: st.DataObject) -> None:
        """A bookkeeper applies an old ack file again (or `ack` was killed and rerun)."""
        before = self.snapshot()
        apply_ack(self.recipe, self.ledger, data.draw(st.sampled_from(self.ack_files)))
        assert self.snapshot() == before

    @rule()
    def resolve_amended(self) -> None:
        """A person corrected Sage by hand; a rerun must still never deliver these again."""
        for row in self.ledger.rows(["amended"]):
            self.ledger.set_state(row.key, ("amended",), "resolved", "resolved", "test")

    @rule()
    def retry_everything(self) -> None:
        for row in self.ledger.rows(["rejected", "needs_attention"]):
            self.ledger.set_state(row.key, ("rejected", "needs_attention"), "exported", "retry",
                                  "test", reset_attempts=True)

    @rule(data=st.data(), hold=st.booleans())
    def hold_or_release(self, data: st.DataObject, hold: bool) -> None:
        rows = self.ledger.rows()
        if not rows:
            return
        row = data.draw(st.sampled_from(rows))
        if hold:
            self.ledger.set_state(row.key, ("exported", "queued", "rejected"), "held", "held",
                                  "test", held_by="person")
        elif row.held_by == "person":
            self.ledger.set_state(row.key, ("held",), "exported", "released", "test")

    @rule(data=st.data())
    def magento_changes_a_document(self, data: st.DataObject) -> None:
        invoices = self.store["invoices"]
        invoice = data.draw(st.sampled_from(invoices))
        invoice["created_at"] = invoice["created_at"][:-2] + "59"
        self.write_store()

    # Invariants -------------------------------------------------------------------------
    def deliveries(self) -> Counter[tuple[str, str]]:
        found: Counter[tuple[str, str]] = Counter()
        if not self.out.exists():
            return found
        for path in self.out.glob("*audit_trail*.csv"):
            rows = path.read_bytes().decode("cp1252").split("\r\n")[1:]
            found.update({tuple(r.split(",")[0:6:5]) for r in rows if r})  # type: ignore[misc]
        return found

    def events(self, key: RecordKey) -> Counter[str]:
        return Counter(event for _, event, _ in self.ledger.events(key))

    @invariant()
    def files_and_ledger_agree(self) -> None:
        delivered = self.deliveries()
        rows = {("SC" if r.key.entity_type == "creditmemo" else "SI", r.increment_id): r
                for r in self.ledger.rows()}
        assert set(delivered) <= set(rows), "a file holds a document the ledger does not know"
        for reference, row in rows.items():
            events = self.events(row.key)
            assert delivered[reference] == events["sent"], (reference, delivered, events)
            assert events["sent"] <= 1 + events["rejected"] + events["needs_attention"]
            if row.state in ("sent", "confirmed"):
                assert row.file and Path(row.file).exists()
            if row.key.entity_type == "invoice" and row.key.entity_id in self.cancel_exported:
                assert row.state in ("void", "amended", "resolved", "needs_attention"), \
                    (reference, row.state)
                # void only when Sage holds no delivery of it: never sent, or refused each time
                assert row.state != "void" or events["sent"] <= events["rejected"] + \
                    events["needs_attention"], (reference, events)
                assert row.last_error and "cancelled in Magento" in row.last_error
        assert not [p for p in self.out.glob(".*")] or self.ledger.unfinished_batches()

    @rule()
    def drain_the_queue(self) -> None:
        """Release holds, retry failures, and run cleanly: everything ends up delivered."""
        for row in self.ledger.rows(["held"]):
            self.ledger.set_state(row.key, ("held",), "exported", "released", "test")
        self.retry_everything()
        self.export()
        self.transform()
        self.import_files(None)
        pending = self.ledger.rows(["exported", "queued", "held", "rejected"])
        assert not pending, [str(r.key) for r in pending]
        manifest = json.loads((self.documents_manifest or Path()).read_text())
        assert manifest["summary"]["held"] == 0


TestLedgerMachine = LedgerMachine.TestCase
TestLedgerMachine.settings = settings(max_examples=30, stateful_step_count=10, deadline=None,
                                      suppress_health_check=[HealthCheck.too_slow])
