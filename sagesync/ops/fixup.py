"""The fix-up commands: retry, hold, release, and the record lookups they and trace share."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from sagesync.errors import UsageError
from sagesync.ledger import Ledger, RecordKey, RecordRow
from sagesync.ledger.shipment_book import ShipmentBook, ShipmentRow, lines_text
from sagesync.model import holds
from sagesync.pipeline.checkpoint import MANIFEST, in_state_folder, open_checkpoint

PENDING_FOR_HOLD = ("exported", "queued", "rejected", "needs_attention", "held")


def _parse(text: str) -> RecordKey | None:
    try:
        return RecordKey.parse(text)
    except ValueError:
        return None


def resolve(ledger: Ledger, text: str) -> RecordRow:
    """A record from `invoice:12@1`, `invoice:12`, or a Magento increment id (if unique)."""
    key = _parse(text)
    if key is None:
        matches = ledger.rows(increment_id=text)
        if len(matches) == 1:
            return matches[0]
        if not matches:
            raise UsageError(f"No record '{text}' in the ledger (use a key such as "
                             "invoice:12@1, as `sagesync status` prints, or an increment id).")
        raise UsageError(f"'{text}' is the increment id of several records: "
                         + ", ".join(str(r.key) for r in matches) + ". Name one by its key.")
    row = ledger.find(key)
    if row is None:
        raise UsageError(f"No record {text} in the ledger (or several in different stores: "
                         "add @STORE).")
    return row


@dataclass
class FixupResult:
    changed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)


def retry(ledger: Ledger, keys: list[str], *, all_held: bool, all_rejected: bool
          ) -> FixupResult:
    """Send again: held, rejected, needs-attention and skipped records go back to the start
    of the queue (re-validated by the next transform); attempts restart for needs_attention."""
    rows = [resolve(ledger, k) for k in keys]
    if all_held:
        rows += ledger.rows(["held"])
    if all_rejected:
        rows += ledger.rows(["rejected", "needs_attention"])
    result = FixupResult()
    for row in rows:
        ok = ledger.set_state(row.key, ("held", "rejected", "needs_attention", "skipped"),
                              "exported",
                              "retry", "a person asked to retry",
                              reset_attempts=row.state == "needs_attention")
        (result.changed if ok else result.unchanged).append(f"{row.key} ({row.state})")
    return result


def hold(ledger: Ledger, keys: list[str]) -> FixupResult:
    result = FixupResult()
    for row in (resolve(ledger, k) for k in keys):
        ok = ledger.set_state(row.key, PENDING_FOR_HOLD, "held", "held",
                              "put on hold by a person", held_by="person",
                              hold=holds.held_by_person())
        (result.changed if ok else result.unchanged).append(f"{row.key} ({row.state})")
    return result


def release(ledger: Ledger, keys: list[str]) -> FixupResult:
    result = FixupResult()
    for row in (resolve(ledger, k) for k in keys):
        ok = row.held_by == "person" and ledger.set_state(
            row.key, ("held",), "exported", "released", "released by a person")
        (result.changed if ok else result.unchanged).append(f"{row.key} ({row.state})")
    return result


def settle(ledger: Ledger, keys: list[str], note: str) -> FixupResult:
    """A record a person has settled in Sage by hand: amended (Sage corrected), needing
    attention because Sage may already hold it (it does), or held because the import cannot
    take it (a credit memo Sage 50 Canada has no import for, a document over the lines Sage
    takes: entered by hand, as its hold says). Closed with their note, never sent again."""
    result = FixupResult()
    for row in (resolve(ledger, k) for k in keys):
        ok = ledger.set_state(row.key, ("amended", "needs_attention", "held"), "resolved",
                              "resolved",
                              f"corrected in Sage by a person: {note}")
        (result.changed if ok else result.unchanged).append(f"{row.key} ({row.state})")
    return result


@dataclass
class TraceEntry:
    row: RecordRow
    events: list[tuple[str, str, str]]
    #: the Sage document: type, reference, account, amount and currency, as the transform
    #: made it (empty when its checkpoint was pruned; type, reference and Magento's total
    #: still come from the ledger)
    document: dict[str, str] = field(default_factory=dict)
    #: the Sage account the document posts to, as the ledger knows it: approved or awaiting
    #: approval, and what the last customer push from Sage set (empty: not a ledger account)
    account: dict[str, object] = field(default_factory=dict)
    #: the consignments of its order that Sage's despatch files shipped in Magento (the same
    #: list on each document of one order): tracking number, carrier, state, lines, shipment
    shipments: list[ShipmentRow] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        r = self.row
        return {"key": str(r.key), "increment_id": r.increment_id,
                "order": r.order_increment_id, "state": r.state, "attempts": r.attempts,
                "reason": r.last_error, "batch_id": r.batch_id, "file": r.file,
                "sage_ref": r.sage_ref, "sage_invoice_ref": r.sage_invoice_ref,
                "document": self.document, "account": self.account,
                "shipments": [_shipment(s) for s in self.shipments],
                "events": [{"at": at, "event": e, "detail": d} for at, e, d in self.events]}


def _document(ledger: Ledger, key: RecordKey) -> dict[str, str]:
    """The Sage document a record became: from the ledger its type, reference and Magento's
    total; from the transform checkpoint of its export's run (if still kept) its account,
    amount and currency."""
    checkpoint, reference, total = ledger.document_of(key)
    found: dict[str, str] = {}
    if reference:
        found["type"], _, found["reference"] = reference.partition(":")
    if total:
        found["magento_total"] = total
    manifest = (in_state_folder(Path(checkpoint), ledger.path.parent).parent.parent
                / "transform" / MANIFEST) if checkpoint else None
    if manifest is None or not manifest.is_file():
        return found
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    try:
        documents = open_checkpoint(manifest, "sage-documents").table_file("documents")
    except UsageError:
        return found
    table = pq.read_table(documents, columns=["entity_type", "entity_id", "store_id",
                                             "transaction_type", "account_ref", "grand_total",
                                             "currency_code"])
    mine = table.filter(pc.and_(pc.and_(pc.equal(table["entity_type"], key.entity_type),
                                        pc.equal(table["entity_id"], key.entity_id)),
                                pc.equal(table["store_id"], key.store_id))).to_pylist()
    if mine:
        doc = mine[-1]
        found.update(type=doc["transaction_type"] or found.get("type", ""),
                     account=doc["account_ref"] or "",
                     amount=f"{doc['grand_total']}" if doc["grand_total"] is not None else "",
                     currency=doc["currency_code"] or "")
    return found


def trace(ledger: Ledger, order: str, post_from: str = "invoices") -> list[TraceEntry]:
    """Magento order -> its invoices and credit memos -> batch and file -> Sage numbers and
    documents (type, account, amount)."""
    rows = ledger.rows(order_increment=order)
    if not rows:
        key = _parse(order)
        found = ledger.find(key) if key else None
        if found and found.order_increment_id:
            rows = ledger.rows(order_increment=found.order_increment_id)
    if not rows:
        waiting = ("With [sage] post_from = \"invoices\" an order reaches the ledger with its "
                   "first invoice: if Magento has not invoiced it yet, nothing is owed in Sage "
                   "yet, and the run after its invoice takes it. "
                   if post_from == "invoices" else "")
        raise UsageError(f"No record of Magento order '{order}' in the ledger. {waiting}"
                         "Otherwise check the number (the order's increment id, e.g. "
                         "000000123, or a record key) and that an export since the order was "
                         "placed covered it (export-orders --since)."
                         + _shipped_only(ShipmentBook(ledger).of_order(order)))
    entries = [TraceEntry(r, ledger.events(r.key), _document(ledger, r.key)) for r in rows]
    for entry in entries:
        ref = entry.document.get("account")
        accounts = ledger.accounts_overview(ref=ref) if ref else []
        entry.account = accounts[0] if accounts else {}
    book = ShipmentBook(ledger)
    shipped = {number: book.of_order(number)
               for number in {e.row.order_increment_id for e in entries} if number}
    for entry in entries:
        entry.shipments = shipped.get(entry.row.order_increment_id or "", [])
    return entries


def _shipped_only(shipments: list[ShipmentRow]) -> str:
    """What Sage's despatch files said of an order the ledger has no document of (shipped
    before Magento invoiced it, or a number Magento does not know)."""
    if not shipments:
        return ""
    told = "; ".join(f"{s.tracking_number} ({s.carrier_code}): {s.state}"
                     + (f", {s.detail}" if s.detail else "") for s in shipments)
    return f" Sage's despatch files name it: {told}."


def _shipment(row: ShipmentRow) -> dict[str, object]:
    return {"tracking_number": row.tracking_number, "carrier": row.carrier_code,
            "state": row.state, "shipment_id": row.shipment_id, "at": row.at,
            "detail": row.detail,
            "lines": lines_text(row.lines)}
