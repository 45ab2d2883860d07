"""The import-sage step: a Sage documents checkpoint -> Sage import files, delivered once.

Every ready document not yet delivered is rendered through the product's templates. A document
that breaks a template rule is held (with its reason in the ledger) and the rest go on. Files
are split at `max_lines_per_file` without splitting a document. The customers file sorts first,
because Sage needs an account before it can post to it.
"""

from __future__ import annotations

from collections import defaultdict
from contextlib import suppress
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from sagesync.delivery.base import Delivery
from sagesync.delivery.folder import FolderDelivery
from sagesync.errors import TransientError, UsageError
from sagesync.ledger import DONE, BatchPlan, Ledger, RecordKey
from sagesync.model.money import ZERO
from sagesync.pipeline.checkpoint import Checkpoint, CheckpointWriter
from sagesync.pipeline.faults import crash_point
from sagesync.recipe import Recipe, SageSettings
from sagesync.render import RowRejected, RowRenderer, load_spec, write_csv
from sagesync.sage import products
from sagesync.sage.products import Capabilities
from sagesync.transform.documents import NEGATIVE_PURPOSES

KIND = "sage-import"
# Split purposes that may be negative, and only under [sage] negative_amounts = true: discounts
# (discount = "nominal"), a credit memo's fee and payments kept inside their document.
NEGATIVE_ALLOWED = NEGATIVE_PURPOSES


@dataclass
class ImportResult:
    manifest: Path
    files: list[Path] = field(default_factory=list)
    delivered: int = 0
    already_sent: int = 0
    held: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # nothing to post (zero total)
    needs_attention: list[str] = field(default_factory=list)
    stale: list[str] = field(default_factory=list)
    void: list[str] = field(default_factory=list)  # cancelled in Magento: never delivered
    warnings: list[str] = field(default_factory=list)
    recovered: list[str] = field(default_factory=list)
    totals: dict[str, Decimal] = field(default_factory=dict)


def _key(doc: dict[str, Any]) -> RecordKey:
    return RecordKey(doc["entity_type"], doc["entity_id"], doc["store_id"])


def recover(ledger: Ledger, delivery: Delivery) -> list[str]:
    """Finish a batch a crash interrupted, from its delivery journal and the folder: a file
    journaled as renamed, or still in the folder, was delivered (even if collected since); one
    never journaled, or still under its temporary name, was not (its documents stay queued);
    one journaled complete whose temporary name is gone, and not in the folder, was renamed and
    collected before the journal knew: it may be in Sage, so its documents wait for a person
    rather than risk posting them twice. Temporary files are removed afterwards."""
    notes = []
    for batch_id, plan in ledger.unfinished_batches():
        files = [str(f) for f in plan.get("files", [])]
        journal = ledger.file_journal(batch_id)
        delivered = {f for f in files if journal.get(f) == "renamed" or delivery.landed(f)}
        uncertain = {f for f in files if f not in delivered and journal.get(f) == "ready"
                     and not delivery.pending(f)}
        sent = ledger.finish_batch(batch_id, delivered, uncertain)
        collected = sum(1 for f in delivered if not delivery.landed(f))
        notes.append(f"batch {batch_id} was interrupted: {len(delivered)} of {len(files)} files "
                     f"had been delivered ({sent} documents recorded as sent"
                     + (f", {collected} files already collected" if collected else "")
                     + "); the rest stays queued")
        for file in sorted(uncertain):
            held = sum(1 for *_, f in plan.get("records", []) if f == file)
            accounts = (" and the customer accounts in it count as delivered (check Sage has "
                        "them)" if file == plan.get("accounts_file") else "")
            notes.append(f"batch {batch_id} file {Path(file).name} may have reached Sage: it was "
                         "renamed into place and collected before the ledger recorded it; its "
                         f"{held} documents need attention (see `sagesync status`){accounts}")
        for file in files:  # only now: a temporary name is evidence until the batch is closed
            with suppress(OSError):  # a leftover one is hidden and harmless
                delivery.discard_pending(file)
    delivery.remove_temporaries()
    return notes


def _select(docs: list[dict[str, Any]], splits: dict[str, list[dict[str, Any]]],
            ledger: Ledger, audit: RowRenderer, result: ImportResult, dry_run: bool,
            negative_amounts: bool = False, capabilities: Capabilities | None = None
            ) -> list[tuple[dict[str, Any], list[list[str]]]]:
    """The documents to deliver now, rendered; the rest are counted and explained."""
    states = ledger.states_of(_key(d) for d in docs)
    if not dry_run:
        ledger.ensure_records([(_key(d), d["content_hash"], d["increment_id"], d["order_id"],
                                d["order_increment_id"]) for d in docs
                               if _key(d) not in states and not d["hold_reason"]
                               and not d.get("skip_reason")])
    chosen: list[tuple[dict[str, Any], list[list[str]]]] = []
    for doc in docs:
        key = _key(doc)
        label = f"{key} ({doc['increment_id']})"
        state, known_hash = states.get(key, ("queued", doc["content_hash"]))
        if state in DONE:
            result.already_sent += 1
            continue
        if state == "needs_attention":
            result.needs_attention.append(label)
            continue
        if state == "void":
            result.void.append(label)
            continue
        if doc["hold_reason"] or state == "held":
            result.held.append(f"{label}: {doc['hold_reason'] or 'on hold in the ledger'}")
            continue
        if doc.get("skip_reason") or state == "skipped" or not splits[doc["document_key"]]:
            result.skipped.append(f"{label}: {doc.get('skip_reason') or 'nothing to post'}")
            continue
        if known_hash != doc["content_hash"]:
            result.stale.append(label)
            continue
        reason = _amount_problem(doc, splits[doc["document_key"]], negative_amounts,
                                 capabilities)
        rows: list[list[str]] = []
        if reason is None:
            try:  # a split's own type/reference (a credit memo's fee SI) wins over the document's
                rows = [audit.render({**doc, **{k: v for k, v in s.items() if v is not None}})
                        for s in splits[doc["document_key"]]]
            except RowRejected as rejected:
                reason = str(rejected)
        if reason is not None:
            result.held.append(f"{label}: {reason}")
            if not dry_run:
                ledger.hold_for_validation(key, reason)
            continue
        chosen.append((doc, rows))
    return chosen


def import_sage(recipe: Recipe, documents: Checkpoint, ledger: Ledger, run_id: str, *,
                out_dir: Path | None, dry_run: bool) -> ImportResult:
    folder = out_dir or recipe.delivery.path
    if folder is None:
        raise UsageError("No delivery folder: set [delivery] path in the recipe or pass --out.")
    writer = CheckpointWriter(recipe.state_dir, run_id, "import-sage", KIND, recipe,
                              [documents.path], dry_run=dry_run)
    result = ImportResult(manifest=Path())
    if not dry_run:
        destination = FolderDelivery(folder)
        destination.prepare()
        result.recovered = recover(ledger, destination)
    capabilities = products.get(recipe.sage.product).capabilities
    docs = sorted(documents.table("documents").to_pylist(),
                  key=lambda d: (d["transaction_type"] != capabilities.sale_type,
                                 d["entity_type"], d["entity_id"]))
    splits: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for split in documents.table("splits").to_pylist():
        splits[split["document_key"]].append(split)
    accounts = {a["account_ref"]: a for a in documents.table("accounts").to_pylist()}

    templates = recipe.sage.templates
    audit = RowRenderer(load_spec(recipe.sage.product, "audit_trail", templates),
                        recipe.sage.encoding)
    chosen = _select(docs, splits, ledger, audit, result, dry_run, recipe.sage.negative_amounts,
                     capabilities)
    result.warnings.extend(audit.warnings)

    delivered_accounts = ledger.delivered_accounts()
    new_accounts = sorted({d["account_ref"] for d, _ in chosen if d["account_ref"] in accounts
                           and accounts[d["account_ref"]]["customer_key"]
                           not in delivered_accounts})
    customer_renderer = RowRenderer(load_spec(recipe.sage.product, "customers", templates),
                                    recipe.sage.encoding)
    account_rows: list[list[str]] = []
    for ref in list(new_accounts):
        try:
            account_rows.append(customer_renderer.render(accounts[ref]))
        except RowRejected as rejected:  # its documents wait: Sage needs the account first
            new_accounts.remove(ref)
            reason = f"its new Sage account {ref} cannot be written: {rejected}"
            for doc, _ in [c for c in chosen if c[0]["account_ref"] == ref]:
                result.held.append(f"{_key(doc)} ({doc['increment_id']}): {reason}")
                if not dry_run:
                    ledger.hold_for_validation(_key(doc), reason)
            chosen = [c for c in chosen if c[0]["account_ref"] != ref]
    result.warnings.extend(customer_renderer.warnings)

    if chosen:
        batch_id = 0 if dry_run else ledger.begin_batch()
        stem = "PREVIEW" if dry_run else f"B{batch_id:06d}"
        plan_files = _plan_files(recipe, stem, audit.spec, chosen, account_rows,
                                 customer_renderer.spec)
        target = writer.folder / "preview" if dry_run else folder
        delivery: Delivery = FolderDelivery(target)
        plan = BatchPlan(
            files=[delivery.location(name) for name, _, _ in plan_files],
            records=[(_key(d), d["content_hash"], delivery.location(name))
                     for name, _, group in plan_files for d in group],
            accounts=[accounts[r]["customer_key"] for r in new_accounts],
            accounts_file=delivery.location(plan_files[0][0]) if account_rows else None)
        if dry_run:
            target.mkdir(parents=True, exist_ok=True)
        else:
            ledger.set_plan(batch_id, plan)
            crash_point("after-plan")
        try:
            for name, data, _ in plan_files:
                file = delivery.location(name)

                def ready(file: str = file) -> None:  # complete, not yet renamed into place
                    if not dry_run:
                        ledger.journal_file(batch_id, file, "ready")
                    crash_point("before-rename")

                result.files.append(delivery.deliver(name, data, ready))
                if not dry_run:
                    crash_point("after-rename")  # the one window the journal cannot close
                    ledger.journal_file(batch_id, file, "renamed")
                crash_point("after-file")
        except TransientError:
            if not dry_run:  # record what did land, so the rest is simply queued again
                ledger.finish_batch(batch_id, {str(p) for p in result.files})
            raise
        if not dry_run:
            crash_point("before-finish")
            ledger.finish_batch(batch_id, {str(p) for p in result.files})
            crash_point("after-finish")
        result.delivered = len(chosen)
    result.totals = _totals(chosen, splits)
    result.manifest = writer.finish(
        summary={"delivered": result.delivered, "already_sent": result.already_sent,
                 "held": len(result.held), "needs_attention": len(result.needs_attention),
                 "skipped": len(result.skipped),
                 "dry_run": dry_run, "new_accounts": len(account_rows),
                 "totals": {k: str(v) for k, v in result.totals.items()}},
        files={p.name: p for p in result.files})
    return result


def _amount_problem(doc: dict[str, Any], splits: list[dict[str, Any]],
                    negative_amounts: bool, capabilities: Capabilities | None = None
                    ) -> str | None:
    """Why Sage would refuse or misbook these rows, or None: an amount too large, a negative
    amount the recipe or the product does not allow, a negative document total, or rows that
    do not make the total. The limits are the product's capabilities (default: the recipe's
    default product)."""
    caps = capabilities or products.get(SageSettings.product).capabilities
    max_amount = caps.max_amount
    negative_ok = negative_amounts and caps.negative_amounts
    allowed = NEGATIVE_ALLOWED if negative_ok else ()
    totals: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for split in splits:
        for column in ("net_amount", "tax_amount"):
            value: Decimal = split[column]
            if abs(value) > max_amount:
                return f"{column.split('_')[0]} {value} is more than Sage holds ({max_amount})"
            if value < ZERO and split.get("purpose") not in allowed:
                return (f"{column.split('_')[0]} {value} on nominal {split['nominal_code']} is "
                        "negative: Sage gets positive amounts"
                        + ("" if negative_ok or not caps.negative_amounts
                           else " unless [sage] negative_amounts = true"))
        totals[split.get("transaction_type") or doc["transaction_type"]] += \
            split["net_amount"] + split["tax_amount"]
    for kind, amount in sorted(totals.items()):
        if amount < ZERO:
            return (f"the {kind} rows total {amount}: a Sage "
                    f"{'/'.join(caps.transaction_types)} total cannot be negative")
    own = totals.pop(doc["transaction_type"], ZERO)
    posted = own - sum(totals.values(), ZERO)
    if doc.get("grand_total") is not None and posted != doc["grand_total"]:
        return f"the rows make {posted}, not the document's total {doc['grand_total']}"
    return None


def _plan_files(recipe: Recipe, stem: str, spec: Any,
                chosen: list[tuple[dict[str, Any], list[list[str]]]],
                account_rows: list[list[str]], customer_spec: Any
                ) -> list[tuple[str, bytes, list[dict[str, Any]]]]:
    """(file name, bytes, documents in it); audit-trail files split without splitting a document."""
    header, encoding = recipe.sage.header_row, recipe.sage.encoding
    planned: list[tuple[str, bytes, list[dict[str, Any]]]] = []
    if account_rows:
        planned.append((f"{stem}-1-customers.csv",
                        write_csv(customer_spec, account_rows, header=header, encoding=encoding),
                        []))
    limit = recipe.sage.max_lines_per_file
    parts: list[list[tuple[dict[str, Any], list[list[str]]]]] = [[]]
    lines = 0
    for doc, rows in chosen:
        if limit and parts[-1] and lines + len(rows) > limit:
            parts.append([])
            lines = 0
        parts[-1].append((doc, rows))
        lines += len(rows)
    for n, part in enumerate(p for p in parts if p):
        suffix = "" if len(parts) == 1 else f"-{n + 1:03d}"
        data = write_csv(spec, [r for _, rows in part for r in rows], header=header,
                         encoding=encoding)
        planned.append((f"{stem}-2-audit_trail{suffix}.csv", data, [d for d, _ in part]))
    return planned


def _totals(chosen: list[tuple[dict[str, Any], list[list[str]]]],
            splits: dict[str, list[dict[str, Any]]]) -> dict[str, Decimal]:
    """Net + tax per transaction type, for the summary a bookkeeper checks against Magento."""
    totals: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for doc, _ in chosen:
        for split in splits[doc["document_key"]]:
            kind = split.get("transaction_type") or doc["transaction_type"]  # a fee SI is an SI
            totals[kind] += split["net_amount"] + split["tax_amount"]
    return dict(totals)
