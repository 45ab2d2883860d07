"""The import-sage step: a Sage documents checkpoint -> Sage import files, delivered once.

Every ready document not yet delivered is rendered through the product's templates. A document
that breaks a template rule is held (with its reason in the ledger) and the rest go on. Files
are split at `max_lines_per_file` without splitting a document. The customers file sorts first,
because Sage needs an account before it can post to it.

Rendered rows and file bytes never sit in memory whole (only the checkpoint's columnar Arrow
tables do): documents become Python values, are judged and rendered WINDOW at a time (in
delivery order), each one's rows are encoded once and appended to a spool in the step's folder,
and only (key, hash, spool offset, length, row count) is kept per document. The files are
planned from the row counts and set in the ledger before the first is written, as before;
each is then streamed from its documents' spooled bytes.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, BinaryIO

import pyarrow as pa
import pyarrow.compute as pc

from sagesync.delivery.base import Delivery
from sagesync.delivery.folder import FolderDelivery
from sagesync.errors import TransientError, UsageError
from sagesync.ledger import DONE, BatchPlan, Ledger, RecordKey
from sagesync.model import holds
from sagesync.model.holds import Hold
from sagesync.model.money import ZERO
from sagesync.model.schemas import SAGE_MONEY, SAGE_TABLES
from sagesync.pipeline.checkpoint import Checkpoint, CheckpointWriter
from sagesync.pipeline.faults import crash_point
from sagesync.recipe import Recipe, SageSettings
from sagesync.render import Children, ColumnRenderer, FileSpec, Rendered, load_spec, write_file
from sagesync.render.writers import DocumentEncoder, file_ends, formula_error, running_cell
from sagesync.sage import products
from sagesync.sage.products import Capabilities
from sagesync.transform.documents import NEGATIVE_PURPOSES

KIND = "sage-import"
# Split purposes that may be negative, and only under [sage] negative_amounts = true: discounts
# (discount = "nominal"), a credit memo's fee and payments kept inside their document.
NEGATIVE_ALLOWED = NEGATIVE_PURPOSES
# What the amount checks and the totals read of each split (the renderer reads the columns).
_SPLIT_FIELDS = ("document_key", "net_amount", "tax_amount", "purpose", "nominal_code",
                 "transaction_type")
# Document fields only the renderer reads, from Arrow: left out of the documents' Python dicts.
_RENDERED_ONLY = ("details", "posting_date", "reference", "extra_reference", "currency_code",
                  "exchange_rate", "warnings", "status")
Rows = list[Sequence[str]]
# What is kept of a document to deliver, until its batch is planned (the ledger's record, the
# summary lines, its account).
_KEPT = ("entity_type", "entity_id", "store_id", "content_hash", "increment_id", "account_ref")
# Documents read, rendered and spooled at a time: memory grows with this, not the checkpoint.
WINDOW = 2000
# The spool of encoded document rows, in the step's checkpoint folder (removed at the end).
SPOOL = "documents.spool"
# Bytes read from the spool at a time when streaming a file.
_CHUNK = 1 << 20


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
            ledger: Ledger, render: Callable[[list[int]], Rendered], result: ImportResult,
            dry_run: bool, negative_amounts: bool = False, capabilities: Capabilities | None = None
            ) -> list[tuple[dict[str, Any], Rows]]:
    """The documents to deliver now, rendered; the rest are counted and explained.

    `render(indices)` renders the documents at those indices of `docs` at once (column-wise)
    and gives, per document, its rows or the reason it is held; every outcome is reported in
    document order.
    """
    states = ledger.states_of(_key(d) for d in docs)
    if not dry_run:
        ledger.ensure_records([(_key(d), d["content_hash"], d["increment_id"], d["order_id"],
                                d["order_increment_id"]) for d in docs
                               if _key(d) not in states and not d["hold_reason"]
                               and not d.get("skip_reason")])
    decisions: list[tuple[str, Hold | str | None]] = []  # (outcome, reason), one per document
    for doc in docs:
        key = _key(doc)
        state, known_hash = states.get(key, ("queued", doc["content_hash"]))
        if state in DONE:
            decisions.append(("sent", None))
        elif state in ("needs_attention", "void"):
            decisions.append((state, None))
        elif doc["hold_reason"] or state == "held":
            decisions.append(("held", doc["hold_reason"] or "on hold in the ledger"))
        elif doc.get("skip_reason") or state == "skipped" or not splits[doc["document_key"]]:
            decisions.append(("skipped", doc.get("skip_reason") or "nothing to post"))
        elif known_hash != doc["content_hash"]:
            decisions.append(("stale", None))
        else:
            problem = _amount_problem(doc, splits[doc["document_key"]], negative_amounts,
                                      capabilities)
            decisions.append(("render", None) if problem is None else ("invalid", problem))
    batch = [i for i, (outcome, _) in enumerate(decisions) if outcome == "render"]
    rendered: Rendered = render(batch)
    rows = iter(zip(rendered.rows, range(len(batch)), strict=True))
    chosen: list[tuple[dict[str, Any], Rows]] = []
    for doc, (outcome, reason) in zip(docs, decisions, strict=True):
        label = f"{_key(doc)} ({doc['increment_id']})"
        if outcome == "sent":
            result.already_sent += 1
        elif outcome == "needs_attention":
            result.needs_attention.append(label)
        elif outcome == "void":
            result.void.append(label)
        elif outcome == "held":
            result.held.append(f"{label}: {reason}")
        elif outcome == "skipped":
            result.skipped.append(f"{label}: {reason}")
        elif outcome == "stale":
            result.stale.append(label)
        else:
            if outcome == "render":
                own, position = next(rows)
                if own is not None:
                    chosen.append((doc, own))
                    continue
                reason = holds.recognise(rendered.held[position])  # a template rule
            result.held.append(f"{label}: {reason}")
            if not dry_run:
                ledger.hold_for_validation(_key(doc), reason or "")
    result.warnings.extend(rendered.warnings)
    return chosen


class _Tables:
    """The sage-documents checkpoint, column-wise in Arrow, read a window of documents at a
    time: the few fields the ledger and the amount checks need become Python values per window
    only, the rest stays in Arrow for the renderer. `arrange` puts every child table in the
    documents' delivery order, so a window's splits and lines are one slice."""

    def __init__(self, checkpoint: Checkpoint, needs: set[str]) -> None:
        self.documents = checkpoint.table("documents").combine_chunks()
        self.needs = sorted(needs)
        self.children = {name: _table_or_empty(checkpoint, name).combine_chunks()
                         for name in {*needs, "splits"} - {"taxes"}}
        if "taxes" in needs:
            self.children["taxes"] = _taxes(self.children["splits"])
        self._starts: dict[str, list[int]] = {}

    def arrange(self, order: list[int]) -> None:
        """Sort each child table by its document's place in `order` (rows of one document keep
        their order) and note where each document's rows start."""
        rank = [0] * len(order)
        for place, position in enumerate(order):
            rank[position] = place
        places = pa.array(rank, pa.int64())
        keys = self.documents.column("document_key")
        for name, table in self.children.items():
            place = places.take(pc.index_in(table.column("document_key"), value_set=keys))
            rows = pa.array(range(table.num_rows), pa.int64())
            ordered = pa.table({"place": place, "row": rows}).filter(place.is_valid()) \
                .sort_by([("place", "ascending"), ("row", "ascending")])
            taken = ordered.column("row")
            if len(taken) != table.num_rows or not _ascending(taken):  # else already in order
                self.children[name] = table.take(taken)
            starts = [0] * (len(order) + 1)
            for p in ordered.column("place").to_pylist():
                starts[p + 1] += 1
            for n in range(len(order)):
                starts[n + 1] += starts[n]
            self._starts[name] = starts

    def _slice(self, name: str, first: int, end: int) -> pa.Table:
        """The rows of `name` of the documents at places first..end-1."""
        starts = self._starts[name]
        return self.children[name].slice(starts[first], starts[end] - starts[first])

    def splits(self, first: int, end: int) -> dict[str, list[dict[str, Any]]]:
        """The splits of the documents at places first..end-1, as Python values per document."""
        table = self._slice("splits", first, end)
        found: dict[str, list[dict[str, Any]]] = defaultdict(list)
        names = [n for n in _SPLIT_FIELDS if n in table.column_names]
        for fields in zip(*(table.column(n).to_pylist() for n in names), strict=True):
            split = dict(zip(names, fields, strict=True))
            found[split["document_key"]].append(split)
        return found

    def batch(self, positions: list[int], first: int, end: int
              ) -> tuple[pa.Table, dict[str, Children]]:
        """The documents at `positions` (in that order, all within places first..end-1) and
        their split and line rows."""
        documents = self.documents.take(pa.array(positions, pa.int64()))
        keys = documents.column("document_key")
        children = {}
        for name in self.needs:
            table = self._slice(name, first, end)
            group = pc.index_in(table.column("document_key"), value_set=keys)
            rows = pa.array(range(table.num_rows), pa.int64())
            ordered = pa.table({"group": group, "row": rows}).filter(group.is_valid()) \
                .sort_by([("group", "ascending"), ("row", "ascending")])
            children[name] = Children(table.take(ordered.column("row")),
                                      ordered.column("group").to_pylist())
        return documents, children


@dataclass(slots=True)
class _Chosen:
    """A document to deliver: its fields, where its encoded rows sit in the spool, how many
    rows, its totals per transaction type, and the first cell that would run as a formula."""

    doc: dict[str, Any]
    offset: int
    length: int
    rows: int
    totals: dict[str, Decimal]
    running: tuple[int, str] | None


def _taxes(splits: pa.Table) -> pa.Table:
    """The `taxes` rows of the documents: per document, one row per tax code its own splits
    carry tax under (a split posted as the other type is not the document's), with the net
    and the tax summed in cents, in the order the codes first appear (Sage 50 US writes sales
    tax as one distribution per agency)."""
    own = splits.filter(pc.is_null(splits.column("transaction_type")))
    summed = own.group_by(["document_key", "tax_code"], use_threads=False).aggregate(
        [("split_no", "min"), ("net_amount", "sum"), ("tax_amount", "sum")])
    summed = summed.filter(pc.not_equal(summed.column("tax_amount_sum"),
                                        pa.scalar(ZERO, summed.column("tax_amount_sum").type)))
    ordered = summed.sort_by([("document_key", "ascending"), ("split_no_min", "ascending")])
    return pa.table({"document_key": ordered.column("document_key"),
                     "tax_code": ordered.column("tax_code"),
                     "net_amount": ordered.column("net_amount_sum").cast(SAGE_MONEY),
                     "tax_amount": ordered.column("tax_amount_sum").cast(SAGE_MONEY)})


def _ascending(rows: pa.ChunkedArray) -> bool:
    """`rows` is 0, 1, 2, ... (a table already in that order need not be copied)."""
    return bool(pc.all(pc.equal(rows, pa.array(range(len(rows)), pa.int64()))).as_py()
                is not False)


def _delivery_order(documents: pa.Table, sale_type: str) -> list[int]:
    """Document positions in delivery order: sales first, then by entity type and id."""
    kinds, types, ids = (documents.column(n).to_pylist()
                         for n in ("transaction_type", "entity_type", "entity_id"))
    return sorted(range(len(ids)), key=lambda i: (kinds[i] != sale_type, types[i], ids[i]))


def _table_or_empty(checkpoint: Checkpoint, name: str) -> pa.Table:
    """A table of the checkpoint; empty when an older checkpoint does not have it (`lines`)."""
    if name in checkpoint.manifest.get("tables", {}):
        return checkpoint.table(name)
    return SAGE_TABLES[name].empty_table()


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
    product = products.get(recipe.sage.product)
    capabilities = product.capabilities
    specs = {name: spec for name in product.templates
             if (spec := load_spec(product.key, name, recipe.sage.templates))
             .serves(recipe.sage.post_from)}
    numbers = {name: n for n, name in enumerate(product.templates, start=1)}
    account_spec = next((spec for spec in specs.values() if spec.for_accounts), None)
    document_spec = _document_spec(product.key, specs)
    tables = _Tables(documents, {r.rows for r in document_spec.records if not r.per_document})
    order = _delivery_order(tables.documents, capabilities.sale_type)
    tables.arrange(order)
    renderer = ColumnRenderer(document_spec, recipe.sage.encoding,
                              capabilities.max_lines_per_document)
    encoder = DocumentEncoder(document_spec, recipe.sage.encoding)
    fields = [c for c in tables.documents.column_names if c not in _RENDERED_ONLY]
    spool = (writer.folder / SPOOL).open("w+b")
    try:
        chosen: list[_Chosen] = []
        for first in range(0, len(order), WINDOW):
            end = min(first + WINDOW, len(order))
            window = order[first:end]
            docs = tables.documents.select(fields).take(pa.array(window, pa.int64())).to_pylist()
            splits = tables.splits(first, end)

            def render(batch: list[int], window: list[int] = window, first: int = first,
                       end: int = end) -> Rendered:
                return renderer.render(*tables.batch([window[i] for i in batch], first, end))

            for doc, rows in _select(docs, splits, ledger, render, result, dry_run,
                                     recipe.sage.negative_amounts, capabilities):
                data = encoder.encode(rows)
                chosen.append(_Chosen({k: doc[k] for k in _KEPT}, spool.tell(), len(data),
                                      len(rows),
                                      _totals([(doc, rows)], splits), running_cell(rows)))
                spool.write(data)
        spool.flush()
        new_accounts = _deliver(recipe, ledger, writer, folder, documents, result, chosen,
                                spool, dry_run,
                                (numbers[document_spec.name], document_spec),
                                (numbers[account_spec.name], account_spec) if account_spec
                                else None)
    finally:
        spool.close()
        (writer.folder / SPOOL).unlink(missing_ok=True)
    result.manifest = writer.finish(
        summary={"delivered": result.delivered, "already_sent": result.already_sent,
                 "held": len(result.held), "needs_attention": len(result.needs_attention),
                 "skipped": len(result.skipped),
                 "dry_run": dry_run, "new_accounts": new_accounts,
                 "totals": {k: str(v) for k, v in result.totals.items()}},
        files={p.name: p for p in result.files})
    return result


def _deliver(recipe: Recipe, ledger: Ledger, writer: CheckpointWriter, folder: Path,
             documents: Checkpoint, result: ImportResult, chosen: list[_Chosen],
             spool: BinaryIO, dry_run: bool, document_spec: tuple[int, FileSpec],
             account_spec: tuple[int, FileSpec] | None) -> int:
    """The new accounts, then the batch: planned in the ledger before any file is written,
    each file streamed from the spool. Returns how many new accounts were written."""
    account_rows: list[Rows] = []
    new_accounts: list[str] = []
    accounts = documents.table("accounts")
    customer_keys = dict(zip(accounts.column("account_ref").to_pylist(),
                             accounts.column("customer_key").to_pylist(), strict=True))
    if account_spec is not None:
        delivered_accounts = ledger.delivered_accounts()
        positions = {ref: i for i, ref in enumerate(accounts.column("account_ref").to_pylist())}
        new_accounts = sorted({c.doc["account_ref"] for c in chosen if c.doc["account_ref"] in
                               customer_keys and customer_keys[c.doc["account_ref"]]
                               not in delivered_accounts})
        written = ColumnRenderer(account_spec[1], recipe.sage.encoding).render(
            accounts.take(pa.array([positions[r] for r in new_accounts], pa.int64())))
        for n, ref in enumerate(list(new_accounts)):
            rows = written.rows[n]
            if rows is not None:
                account_rows.append(rows)
                continue
            # its documents wait: Sage needs the account first
            new_accounts.remove(ref)
            reason = holds.account_not_writable(account_ref=ref, problem=written.held[n])
            for doc in [c.doc for c in chosen if c.doc["account_ref"] == ref]:
                result.held.append(f"{_key(doc)} ({doc['increment_id']}): {reason}")
                if not dry_run:
                    ledger.hold_for_validation(_key(doc), reason)
            chosen = [c for c in chosen if c.doc["account_ref"] != ref]
        result.warnings.extend(written.warnings)

    if chosen:
        batch_id = 0 if dry_run else ledger.begin_batch()
        stem = "PREVIEW" if dry_run else f"B{batch_id:06d}"
        plan_files = _plan_files(recipe, stem, document_spec, chosen, account_rows,
                                 account_spec, spool)
        target = writer.folder / "preview" if dry_run else folder
        delivery: Delivery = FolderDelivery(target)
        locations = {name: delivery.location(name) for name, _, _ in plan_files}
        plan = BatchPlan(
            files=list(locations.values()),
            records=[(_key(c.doc), c.doc["content_hash"], locations[name])
                     for name, _, group in plan_files for c in group],
            accounts=[customer_keys[r] for r in new_accounts],
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
    totals: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for c in chosen:
        for kind, amount in c.totals.items():
            totals[kind] += amount
    result.totals = dict(totals)
    return len(account_rows)


def _amount_problem(doc: dict[str, Any], splits: list[dict[str, Any]],
                    negative_amounts: bool, capabilities: Capabilities | None = None
                    ) -> Hold | None:
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
                return holds.amount_too_large(column=column.split("_")[0], amount=value,
                                              max_amount=max_amount)
            if value < ZERO and split.get("purpose") not in allowed:
                return holds.negative_amount(
                    column=column.split("_")[0], amount=value, nominal=split["nominal_code"],
                    recipe_can_allow=caps.negative_amounts and not negative_ok)
        totals[split.get("transaction_type") or doc["transaction_type"]] += \
            split["net_amount"] + split["tax_amount"]
    for kind, amount in sorted(totals.items()):
        if amount < ZERO:
            return holds.negative_total(transaction_type=kind, total=amount,
                                        types=caps.transaction_types)
    own = totals.pop(doc["transaction_type"], ZERO)
    posted = own - sum(totals.values(), ZERO)
    if doc.get("grand_total") is not None and posted != doc["grand_total"]:
        return holds.rows_do_not_make_total(rows_total=posted, total=doc["grand_total"])
    return None


def _line_limit(recipe_limit: int, product_limit: int) -> int:
    """Lines per file: the recipe's limit within the product's (0 is no limit)."""
    return min((n for n in (recipe_limit, product_limit) if n), default=0)


def _document_spec(product: str, specs: dict[str, FileSpec]) -> FileSpec:
    """The product's one documents template written for the recipe's post_from (the ledger
    plans one file per document)."""
    found = [spec for spec in specs.values() if not spec.for_accounts]
    if len(found) != 1:
        raise UsageError(f"{product}: expected one documents template among "
                         f"{', '.join(specs)}, found {len(found)}.")
    return found[0]


def _plan_files(recipe: Recipe, stem: str, documents: tuple[int, FileSpec],
                chosen: list[_Chosen], account_rows: list[Rows],
                accounts: tuple[int, FileSpec] | None, spool: BinaryIO
                ) -> list[tuple[str, bytes | Iterable[bytes], list[_Chosen]]]:
    """(file name, bytes or the chunks streamed from the spool, documents in it); the accounts
    file first, then the documents files, split at max_lines_per_file without splitting a
    document. Each file is numbered by its template's place in the product
    (B000001-1-customers.csv, -2-audit_trail.csv). A cell that would run as a formula stops
    the batch here, before the ledger plans it, as write_file would."""
    header, encoding = recipe.sage.header_row, recipe.sage.encoding
    planned: list[tuple[str, bytes | Iterable[bytes], list[_Chosen]]] = []
    if account_rows and accounts is not None:
        number, spec = accounts
        planned.append((f"{stem}-{number}-{spec.name}.{spec.extension}",
                        write_file(spec, account_rows, header=header, encoding=encoding), []))
    number, spec = documents
    limit = _line_limit(recipe.sage.max_lines_per_file,
                        products.get(recipe.sage.product).capabilities.max_lines_per_file)
    parts = _split(chosen, limit)
    for part in parts:
        row = 0
        for c in part:
            if c.running is not None:
                raise formula_error(spec, row + c.running[0] + 1, c.running[1])
            row += c.rows
    head, tail = file_ends(spec, header=header, encoding=encoding)
    for n, part in enumerate(parts):
        suffix = "" if len(parts) == 1 else f"-{n + 1:03d}"
        planned.append((f"{stem}-{number}-{spec.name}{suffix}.{spec.extension}",
                        _streamed(head, part, tail, spool), part))
    return planned


def _split(chosen: list[_Chosen], limit: int) -> list[list[_Chosen]]:
    """The documents in files of at most `limit` rows (0: one file); a document is never
    split, so one longer than the limit has a file of its own."""
    parts: list[list[_Chosen]] = [[]]
    lines = 0
    for c in chosen:
        if limit and parts[-1] and lines + c.rows > limit:
            parts.append([])
            lines = 0
        parts[-1].append(c)
        lines += c.rows
    return [p for p in parts if p]


def _streamed(head: bytes, part: list[_Chosen], tail: bytes, spool: BinaryIO
              ) -> Iterator[bytes]:
    """A file's bytes in chunks: its head, its documents' spooled bytes (neighbours read
    together, up to _CHUNK at a time), its tail."""
    yield head
    n = 0
    while n < len(part):
        offset, length = part[n].offset, part[n].length
        n += 1
        while n < len(part) and part[n].offset == offset + length and length < _CHUNK:
            length += part[n].length
            n += 1
        spool.seek(offset)
        yield spool.read(length)
    yield tail


def _totals(chosen: list[tuple[dict[str, Any], Rows]],
            splits: dict[str, list[dict[str, Any]]]) -> dict[str, Decimal]:
    """Net + tax per transaction type, for the summary a bookkeeper checks against Magento."""
    totals: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for doc, _ in chosen:
        for split in splits[doc["document_key"]]:
            kind = split.get("transaction_type") or doc["transaction_type"]  # a fee SI is an SI
            totals[kind] += split["net_amount"] + split["tax_amount"]
    return dict(totals)
