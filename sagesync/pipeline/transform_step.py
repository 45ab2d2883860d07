"""The transform step: a Magento export checkpoint -> a Sage documents checkpoint."""

from __future__ import annotations

import uuid
from collections import defaultdict, deque
from collections.abc import Generator, Iterable
from contextlib import closing
from dataclasses import dataclass, field
from operator import itemgetter
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from sagesync.errors import DamagedCheckpointError, UsageError
from sagesync.ledger import Ledger, RecordKey, TransformOutcomes
from sagesync.model import holds
from sagesync.model.holds import Hold
from sagesync.model.money import cents_of_units
from sagesync.model.schemas import (
    SAGE_ACCOUNTS,
    SAGE_DOCUMENTS,
    SAGE_LINES,
    SAGE_SPLITS,
    SAGE_TABLES,
)
from sagesync.pipeline import export_slices, progress
from sagesync.pipeline.checkpoint import (
    Checkpoint,
    CheckpointWriter,
    in_state_folder,
    open_checkpoint,
)
from sagesync.pipeline.export_slices import (
    LINES,
    POSITION,
    ExportPlan,
    ExportTables,
    Posting,
    ReadSlice,
    SliceJob,
    document_builder,
    read_slice,
    reading,
)
from sagesync.pipeline.postable import POSTED, posted_kinds
from sagesync.pipeline.read_ahead import read_ahead
from sagesync.pipeline.work_pool import OrderedPool, default_workers
from sagesync.recipe import Recipe
from sagesync.sage import products
from sagesync.transform import columnar
from sagesync.transform.accounts import AccountAllocator, customer_key
from sagesync.transform.billing import billing_columns
from sagesync.transform.documents import (
    DOCUMENT_CENTS,
    LINE_CENTS,
    LINE_UNITS,
    PURPOSE_LABEL,
    SPLIT_CENTS,
    TOTALS,
    DocumentBuilder,
    SageDocument,
    document_columns,
    line_columns,
    split_columns,
)
from sagesync.transform.mapping import load_customer_accounts
from sagesync.transform.rows import typed_table

KIND = "sage-documents"


@dataclass
class TransformResult:
    manifest: Path
    documents: int = 0
    held: list[str] = field(default_factory=list)
    holds: dict[RecordKey, Hold] = field(default_factory=dict)  # each held record's cause
    warnings: list[str] = field(default_factory=list)
    new_accounts: int = 0
    worker_slices: int = 0  # slices read and posted in worker processes (work_pool)


@dataclass
class TransformStart:
    """A transform begun: its checkpoint writer, posting rules and the plan of its export's
    slices, which a worker process (`pool`, None when none is worth starting) already reads
    and posts, up to SLICES_AHEAD of them. `run` begins its transform as soon as the export's
    checkpoint is written, so the worker works while the export registers its records in the
    ledger, which would leave the second core idle (some 4 s at 200,000 orders)."""

    token: str  # a worker's key for what it opens of this transform's plans
    writer: CheckpointWriter
    builder: DocumentBuilder
    plan: ExportPlan
    pool: OrderedPool[None, SliceJob, ReadSlice | None] | None
    later: deque[SliceJob]  # jobs not given to the worker yet (or read here, without one)

    def close(self) -> None:
        """Stop the worker, if it still runs (as often as asked: the transform stops it when
        it ends, and `run` when its export fails before the transform goes on)."""
        if self.pool is not None:
            self.pool.close()


def start_transform(recipe: Recipe, export: Checkpoint, run_id: str, *, dry_run: bool,
                    use_columnar: bool = True, workers: int | None = None) -> TransformStart:
    """Open the transform's checkpoint and hand its export's slices to a worker (for more
    than PARALLEL_AFTER_SLICES slices and `workers` not 0); see `transform`."""
    builder = document_builder(recipe)
    writer = CheckpointWriter(recipe.state_dir, run_id, "transform", KIND, recipe, [export.path],
                              dry_run=dry_run)
    for name, schema in SAGE_TABLES.items():
        writer.declare(name, schema)
    fast = columnar.usable(builder) if use_columnar else False
    token = uuid.uuid4().hex
    plan = ExportPlan(f"{token}/0", recipe, _table_files(recipe, export), fast,
                      export_slices.SLICE)
    jobs = deque(_jobs(plan))
    workers = min(default_workers() if workers is None else workers, 1)
    started = TransformStart(token, writer, builder, plan, None, jobs)
    if workers and len(jobs) > PARALLEL_AFTER_SLICES:
        started.pool = OrderedPool(read_slice, workers, start_after=0, backlog=SLICES_AHEAD,
                                   limit=SLICES_AHEAD, folder=writer.folder)
        with reading(plan, builder):  # should the pool break, its job is read here
            _give_worker(started.pool, jobs)
    return started


def _jobs(plan: ExportPlan) -> list[SliceJob]:
    """Every slice of the export's posted documents, kind by kind, in order."""
    return [SliceJob(plan, kind, n) for kind in posted_kinds(plan.recipe)
            for n in range(plan.slices(kind))]


def _give_worker(pool: OrderedPool[None, SliceJob, ReadSlice | None],
                 jobs: deque[SliceJob]) -> None:
    """Hand the worker the next jobs until SLICES_AHEAD are queued (none once its pool is
    broken); inside `reading`, for the job at which it breaks."""
    while jobs and pool.workers and len(pool.queued) < SLICES_AHEAD:
        pool.put(None, jobs.popleft())


def transform(recipe: Recipe, export: Checkpoint, ledger: Ledger | None, run_id: str,
              *, lookup: Ledger | None = None, use_columnar: bool = True,
              workers: int | None = None, started: TransformStart | None = None
              ) -> TransformResult:
    """Build every Sage document of an export, plus the ledger's queued records that earlier
    exports hold, and write the sage-documents checkpoint. Without a ledger (dry run) nothing
    is remembered; `lookup`, a read-only ledger, still tells the accounts already known.
    `use_columnar=False` builds every document one at a time (the tests compare the two).
    `workers`: the most processes reading and posting slices beside this one (default: one
    core fewer, at most one); one starts only for more than PARALLEL_AFTER_SLICES slices.
    `started`: this transform begun already, of this export (start_transform), its worker
    reading."""
    if started is None:
        started = start_transform(recipe, export, run_id, dry_run=ledger is None,
                                  use_columnar=use_columnar, workers=workers)
    with closing(started):  # its worker stopped however this ends (a recipe mistake, say)
        return _transform(recipe, export, ledger, lookup, started)


def _transform(recipe: Recipe, export: Checkpoint, ledger: Ledger | None,
               lookup: Ledger | None, started: TransformStart) -> TransformResult:
    """`transform`, once begun."""
    caps = products.get(recipe.sage.product).capabilities
    builder, writer = started.builder, started.writer
    allocator = AccountAllocator(recipe.mapping,
                                 load_customer_accounts(recipe.mapping.customers_csv, caps),
                                 known.account_refs() if (known := ledger or lookup) else {})
    result = TransformResult(manifest=Path())
    opened: set[str] = set()  # the new accounts whose records are written (outcomes)
    sources: list[tuple[Checkpoint, set[RecordKey] | None]] = [(export, None)]
    if ledger is not None:
        waiting: dict[Path, set[RecordKey]] = {}
        for named, keys in ledger.pending_elsewhere(str(export.path),
                                                    posted_kinds(recipe)).items():
            waiting.setdefault(in_state_folder(Path(named), recipe.state_dir.resolve()),
                               set()).update(keys)
        for path, wanted in sorted(waiting.items()):
            if path == export.path:  # this export, named where its state folder was before
                continue
            try:
                earlier = open_checkpoint(path, "magento-export")
                earlier.check_tables()
                sources.append((earlier, wanted))
            except UsageError:
                result.warnings.append(f"{len(wanted)} queued records point at {path}, which "
                                       "is gone; re-export them (widen --since)")
            except DamagedCheckpointError as error:  # the records of this export go on
                result.warnings.append(f"{len(wanted)} queued records wait in an earlier "
                                       f"export, which is damaged: {error}")
    held: list[tuple[RecordKey, str, Hold | str]] = []
    review = recipe.customers.new_accounts == "review"
    awaiting = (known.unapproved_accounts() if (known := ledger or lookup) and review
                else set())
    with closing(TransformOutcomes(writer.folder)) as outcomes:
        references = _References(ledger or lookup, outcomes)
        for number, (source, only) in enumerate(sources):
            plan = started.plan if number == 0 else ExportPlan(
                f"{started.token}/{number}", recipe, _table_files(recipe, source),
                started.plan.fast, export_slices.SLICE)
            tables = ExportTables(plan.files, recipe.sage.currency)
            slices = _slices(plan, builder, only) if number else \
                _started_slices(started, result)
            with closing(slices) as reads:
                for read in reads:
                    built = _build_slice(read, tables, builder, allocator, opened)
                    _hold_unimportable_credits(built, recipe.sage.product, recipe.sage.region,
                                               recipe.sage.post_from)
                    if review:
                        _hold_unapproved_accounts(
                            built, awaiting | {r for _, r, _ in allocator.new})
                    references.hold_collisions(built)
                    _write_documents(writer, built, recipe.mapping.department)
                    result.documents += built.count
                    progress.advance("transform", built.count, unit="documents")
                    outcomes.add(*_sorted_out(built, result, held), built.accounts)
        if ledger is not None:
            ledger.add_accounts(allocator.new, approved=not review)
            ledger.mark_outcomes(outcomes, held)
        for records in outcomes.accounts():
            writer.write("accounts", pa.Table.from_pylist(records, schema=SAGE_ACCOUNTS))
    result.new_accounts = len(allocator.new)
    result.manifest = writer.finish({"documents": result.documents, "held": len(result.held),
                                     "accounts": len(opened),
                                     "from_earlier_exports": len(sources) - 1})
    return result


def _grouped(table: pa.Table, key: str) -> dict[int, list[dict[str, Any]]]:
    groups: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for row in table.to_pylist():
        groups[row[key]].append(row)
    return groups


# A worker reads and posts slices while this process builds, checks and writes the one before
# (export_slices), for a transform of more slices than this (a worker's start-up, some 0.5 s,
# must pay off). One worker is enough: it reads every slice (the caller's share of a slice
# is the smaller: it only waits for the worker), handing each back through a file of the
# step's folder, so slices it is ahead by wait on disk, not in memory: at most SLICES_AHEAD
# (some 2 MB each at 1,000 documents a slice), which at 200,000 orders it reaches while `run`
# registers the export.
PARALLEL_AFTER_SLICES = 20
SLICES_AHEAD = 64


def _sorted_out(built: _Slice, result: TransformResult,
                held: list[tuple[RecordKey, str, Hold | str]]
                ) -> tuple[list[tuple[RecordKey, str, str]], list[tuple[RecordKey, str, str]]]:
    """The slice's documents ready (with the Sage type:reference each claims) and skipped, in
    slice order; the held ones go to `held` and, with every warning, to the result."""
    ready: list[tuple[int, RecordKey, str, str]] = []
    skipped: list[tuple[RecordKey, str, str]] = []
    stopped: list[tuple[int, RecordKey, str, Hold, str]] = []  # held, and how result says it
    for position, d in zip(built.places, built.docs, strict=True):
        key = RecordKey(d.entity_type, d.entity_id, d.store_id)
        if d.hold_reason:
            stopped.append((position, key, d.content_hash, _hold_of(d),
                            f"{key} ({d.increment_id}): {d.hold_reason}"))
        elif d.skip_reason:
            skipped.append((key, d.content_hash, d.skip_reason))
        else:
            ready.append((position, key, d.content_hash, _reference(d)))
        result.warnings += [f"{key} ({d.increment_id}): {w}" for w in d.warnings]
    heads = built.heads
    for n, (position, key, content_hash, reference) in enumerate(heads.claims):
        hold = heads.holds.get(n)
        if hold is None:
            ready.append((position, key, content_hash, reference))
        else:
            stopped.append((position, key, content_hash, hold,
                            f"{key} ({heads.increment_ids[n]}): {hold.message}"))
    if heads.count and built.docs:  # both kinds in one slice: back in slice order
        ready.sort(key=itemgetter(0))
        stopped.sort(key=itemgetter(0))
    for _, key, content_hash, hold, said in stopped:
        result.holds[key] = hold
        held.append((key, content_hash, hold))
        result.held.append(said)
    return [(key, content_hash, reference) for _, key, content_hash, reference in ready], \
        skipped


def _table_files(recipe: Recipe, export: Checkpoint) -> dict[str, Path]:
    """The export's table files a transform reads, each checked against the manifest once."""
    kinds = posted_kinds(recipe)
    names = {"orders", "order_items", "customers", "invoices",
             *(POSTED[k] for k in kinds), *(LINES[k] for k in kinds)}
    return {name: export.table_file(name) for name in sorted(names)}


def _slices(plan: ExportPlan, builder: DocumentBuilder, only: set[RecordKey] | None,
            jobs: Iterable[SliceJob] | None = None) -> Generator[ReadSlice, None, None]:
    """The slices of an export that hold posted documents (only those of `only`, if given;
    `jobs` of them, if given), read and posted here, a slice ahead on a thread (read_ahead)."""
    kinds = posted_kinds(plan.recipe)
    with reading(plan, builder) as reader:
        wanted = {kind: pa.array(sorted(k.entity_id for k in only if k.entity_type == kind),
                                 pa.int64())
                  for kind in kinds} if only is not None else {}
        made = read_ahead(reader.read(job.kind, job.number, wanted.get(job.kind))
                          for job in (_jobs(plan) if jobs is None else jobs))
        yield from (read for read in made if read is not None)


def _started_slices(started: TransformStart, result: TransformResult
                    ) -> Generator[ReadSlice, None, None]:
    """The slices of a begun transform's export: the worker's, in order, the worker given
    the next job for each one taken (any it cannot give, its pool broken, read here); then
    any it never took, read here."""
    pool = started.pool
    if pool is not None:
        try:
            with reading(started.plan, started.builder):  # for a broken pool's jobs
                while pool.queued:
                    _, read = pool.next()
                    _give_worker(pool, started.later)
                    if read is not None:
                        yield read
        finally:
            result.worker_slices += pool.submitted
            pool.close()
    if started.later:
        yield from _slices(started.plan, started.builder, None, started.later)


class _References:
    """A Sage type + reference belongs to one Magento document: the first one queued with it
    (from the ledger) or built in this run (`outcomes`, and the slice's own). Another document
    with the same one (two stores, or two orders, sharing an increment id: magento2#40259) is
    held, because Sage's grouped import would merge the two or refuse the second."""

    def __init__(self, ledger: Ledger | None, outcomes: TransformOutcomes) -> None:
        self.ledger = ledger
        self.outcomes = outcomes

    def collisions(self, claims: list[tuple[RecordKey, str]]) -> dict[int, RecordKey]:
        """Of `claims` (a document's key and the Sage type:reference it claims, in slice
        order), the ones another document owns, by index, with that owner."""
        wanted = {reference for _, reference in claims}
        claimed = self.outcomes.owners(wanted)
        wanted -= set(claimed)
        owners = self.ledger.reference_owners(wanted) if self.ledger and wanted else {}
        found: dict[int, RecordKey] = {}
        for n, (key, reference) in enumerate(claims):
            owner = claimed.get(reference) or owners.get(reference)
            if owner is None or owner == key:
                claimed[reference] = key
            else:
                found[n] = owner
        return found

    def hold_collisions(self, built: _Slice) -> None:
        """Hold each ready document of a slice (built one at a time, or taken column-wise: in
        slice order) whose reference another document owns."""
        heads = built.heads
        claims: list[tuple[int, RecordKey, str, SageDocument | int]] = [
            (position, RecordKey(d.entity_type, d.entity_id, d.store_id), _reference(d), d)
            for position, d in zip(built.places, built.docs, strict=True) if _ready(d)]
        claims += [(position, key, reference, n)
                   for n, (position, key, _, reference) in enumerate(heads.claims)
                   if n not in heads.holds]
        if built.docs and heads.count:
            claims.sort(key=itemgetter(0))
        found = self.collisions([(key, reference) for _, key, reference, _ in claims])
        for n, owner in found.items():
            which = claims[n][3]
            if isinstance(which, SageDocument):
                _hold(which, holds.reference_collision(
                    reference=which.reference, transaction_type=which.transaction_type,
                    owner=str(owner)))
            else:
                heads.holds[which] = holds.reference_collision(
                    reference=heads.references[which], transaction_type=heads.transaction_type,
                    owner=str(owner))


def _hold_unimportable_credits(built: _Slice, product_key: str,
                               region: str = "", post_from: str = "invoices") -> None:
    """A product whose import has no credit note (Sage 50 Canada's .IMP) holds each credit
    memo with the product's advice on entering it by hand, rather than guessing a format; and
    each sale with a split posted as a credit note of its own (a gift card, store credit or
    reward points taken off an invoice, amounts being positive), which it could not import
    either: the sale alone would not be what the customer was invoiced. A product whose
    credit notes import beside invoices only (Sage 100's A/R invoice entry, not its S/O
    Sales Order Entry) holds them the same way when posting from orders. (The columnar rules
    take no document with such a split.)"""
    product = products.get(product_key, region)
    caps = product.capabilities
    if caps.credit_notes_from(post_from):
        return
    advice = holds.no_credit_notes(product=product.title,
                                   how=caps.credit_note_advice or "enter it by hand")
    if built.kind == "creditmemo":
        for n in range(built.heads.count):
            built.heads.holds.setdefault(n, advice)
    for d in built.docs:
        if d.hold_reason or d.skip_reason:
            continue
        if d.entity_type == "creditmemo":
            _hold(d, advice)
            continue
        # where Sage computes tax the file carries the net goods only (Sage X3's order lines),
        # so a payment taken off the total is not posted at all and holds nothing
        contra = [s for s in d.splits if s.transaction_type is not None] \
            if not caps.sage_computes_tax else []
        if contra:
            taken = " and ".join(f"the {PURPOSE_LABEL[s.purpose]} {s.net_amount + s.tax_amount}"
                                 f" ({s.reference})" for s in contra)
            _hold(d, holds.no_credit_notes(
                product=product.title,
                how=f"{taken} taken off this {d.entity_type} would be posted as one; enter the "
                    f"{d.entity_type} in Sage by hand, with what was taken off as its payment"
                    + (", or set [sage] negative_amounts = true to post it as a negative line "
                       f"of the {d.entity_type}" if caps.negative_amounts else "")))


def _hold_unapproved_accounts(built: _Slice, awaiting: set[str]) -> None:
    """Under `[customers] new_accounts = "review"`, a document posting to a new web
    customer's account waits until a person approves the account (`sagesync accounts
    approve`, or a Sage customer export that lists it)."""
    for d in built.docs:
        if not (d.hold_reason or d.skip_reason) and d.account_ref in awaiting:
            _hold(d, holds.account_awaiting_approval(account_ref=d.account_ref))
    heads = built.heads
    for n, account in enumerate(heads.accounts):
        if n not in heads.holds and account in awaiting:
            heads.holds[n] = holds.account_awaiting_approval(account_ref=account)


def _reference(d: SageDocument) -> str:
    return f"{d.transaction_type}:{d.reference}"


class _Heads:
    """The documents of a slice the columnar rules took, as this process needs them: their
    `documents` columns (Posting.heads, made in the reading process), each one's account
    (`accounts`, allocated here in slice order), and why one is held, where it is (`holds`,
    by row)."""

    def __init__(self, kind: str, table: pa.Table | None) -> None:
        self.table = table
        self.count = table.num_rows if table is not None else 0
        self.transaction_type = "SC" if kind == "creditmemo" else "SI"
        self.accounts: list[str] = []
        self.holds: dict[int, Hold] = {}
        columns = {name: [] if table is None else table[name].to_pylist() for name in (
            "position", "entity_id", "store_id", "content_hash", "reference", "increment_id",
            "order_id", "currency_code")}
        self.references: list[str] = columns["reference"]
        self.increment_ids: list[str] = columns["increment_id"]
        self.order_ids: list[int] = columns["order_id"]
        self.currencies: list[str] = columns["currency_code"]
        claimed = f"{self.transaction_type}:"
        # each one's position, key, content hash and the Sage type:reference it claims
        self.claims = [(position, RecordKey(kind, entity_id, store_id), content_hash,
                        claimed + reference)
                       for position, entity_id, store_id, content_hash, reference in zip(
                           columns["position"], columns["entity_id"], columns["store_id"],
                           columns["content_hash"], self.references, strict=True)]

    def documents(self) -> pa.Table:
        """Their rows of the `documents` table (+ position): a held one with its reason and
        no totals (documents._totals)."""
        table = self.table
        assert table is not None
        count = self.count
        held = self.held()
        reasons = [hold.message if (hold := self.holds.get(n)) else None for n in range(count)]
        columns: dict[str, Any] = {name: table[name] for name in table.column_names}
        columns.update({
            "account_ref": pa.array(self.accounts, pa.string()),
            "status": pc.if_else(held, pa.scalar("held"), pa.scalar("ready")),
            "hold_reason": pa.array(reasons, pa.string()),
            "skip_reason": pa.nulls(count, pa.string()),
            "warnings": pa.nulls(count, pa.string()),
            "exchange_rate": pa.nulls(count, SAGE_DOCUMENTS.field("exchange_rate").type)})
        if self.holds:
            for name in TOTALS:
                columns[name] = pc.if_else(held, pa.scalar(None, table[name].type),
                                           table[name])
        return typed_table(SAGE_DOCUMENTS, columns, DOCUMENT_CENTS, ("carriage_tax_rate",)) \
            .append_column(POSITION, table["position"])

    def held(self) -> pa.Array:
        """True for each row that is held."""
        return pa.array([n in self.holds for n in range(self.count)], pa.bool_())


@dataclass
class _Slice:
    """A slice's documents: those built one at a time (`docs`, at `places` in the slice) and
    those the columnar rules took (`heads`, with their lines and splits in `posting`), the
    documents' orders, and the records of the accounts first opened in it."""

    kind: str
    docs: list[SageDocument]
    places: list[int]
    heads: _Heads
    orders: pa.Table
    posting: Posting | None = None
    accounts: list[dict[str, Any]] = field(default_factory=list)  # records of new accounts

    @property
    def count(self) -> int:
        return len(self.docs) + self.heads.count


# What allocating a document's account reads of its order (AccountAllocator, customer_key).
_ACCOUNT_COLUMNS = ("entity_id", "customer_is_guest", "customer_id", "customer_email",
                    "customer_firstname", "customer_lastname", "billing_company")


def _order_rows(orders: pa.Table, ids: set[int], columns: tuple[str, ...] | None = None
                ) -> dict[int, dict[str, Any]]:
    """The rows of `orders` whose entity ids are `ids` (`columns` only, where given)."""
    if not ids:
        return {}
    if columns is not None:
        orders = orders.select([c for c in columns if c in orders.column_names])
    if len(ids) < orders.num_rows:
        orders = orders.filter(pc.is_in(orders["entity_id"],
                                        value_set=pa.array(sorted(ids), pa.int64())))
    return {r["entity_id"]: r for r in orders.to_pylist()}


def _build_slice(read: ReadSlice, tables: ExportTables, builder: DocumentBuilder,
                 allocator: AccountAllocator, opened: set[str]) -> _Slice:
    """The slice's documents built, each with its account, in slice order: whole where the
    columnar rules did not take them, else only the account (the rest came column-wise);
    and the records of the accounts first opened in it (added to `opened`)."""
    kind, rows = read.kind, read.rows
    heads = _Heads(kind, read.posting.heads if read.posting is not None else None)
    orders = _order_rows(read.orders, {row["entity_id"] if kind == "order" else row["order_id"]
                                       for row in rows if row is not None})
    payers = _order_rows(read.orders, set(heads.order_ids), _ACCOUNT_COLUMNS)
    # the documents built one at a time, from Python rows of their own lines only
    order_items = _grouped(read.order_items, "order_id") if orders else {}
    lines = order_items if kind == "order" or read.lines is None else \
        _grouped(read.lines, "document_id")
    new: list[tuple[str, str, int, str]] = []  # accounts new in this slice, their orders
    docs: list[SageDocument] = []
    places: list[int] = []
    head = 0
    for position, row in enumerate(rows):
        if row is None:  # taken column-wise: its account only
            order = payers[heads.order_ids[head]]
            ref, origin = allocator.account_for(order)
            heads.accounts.append(ref)
            currency = heads.currencies[head]
            head += 1
        else:
            places.append(position)
            found = orders.get(row["entity_id"] if kind == "order" else row["order_id"])
            if found is None:
                docs.append(_orphan(kind, row))
                continue
            order = found
            ref, origin = allocator.account_for(order)
            document = builder.build(kind, row, lines.get(row["entity_id"], []), order,
                                     order_items.get(order["entity_id"], []), ref)
            docs.append(document)
            currency = document.currency_code
        key = customer_key(order)
        if origin == "generated" and key and ref not in opened:
            opened.add(ref)  # claimed here; its record is made below, from the customer's
            new.append((ref, key, order["entity_id"], currency))
    whole = _order_rows(read.orders, {order_id for _, _, order_id, _ in new})
    customers = tables.customers_of({whole[order_id].get("customer_id")
                                     for _, _, order_id, _ in new})
    accounts = [_account_row(ref, key, whole[order_id],
                             customers.get(whole[order_id].get("customer_id") or 0),
                             currency, builder.mapping.customer_group)
                for ref, key, order_id, currency in new]
    if kind == "creditmemo" and docs:  # what each credit note is applied to, where known
        numbers = tables.invoice_numbers(sorted({d.invoice_id for d in docs
                                                 if d.invoice_id is not None}))
        for d in docs:
            d.invoice_increment_id = numbers.get(d.invoice_id) if d.invoice_id else None
    return _Slice(kind, docs, places, heads, read.orders, read.posting, accounts)


def _ready(d: SageDocument) -> bool:
    return not (d.hold_reason or d.skip_reason)


def _in_order(exact: pa.Table, positions: list[int], posted: pa.Table | None) -> pa.Table:
    """The builder's rows and the columnar rows of one table, in document order."""
    if posted is None or not posted.num_rows:
        return exact
    if not exact.num_rows:
        return posted.drop_columns(["position"])
    both = pa.concat_tables([exact.append_column("position", pa.array(positions, pa.int64())),
                             posted])
    return both.take(pc.sort_indices(both["position"])).drop_columns(["position"])


def _write_documents(writer: CheckpointWriter, built: _Slice, department: int | None) -> None:
    docs, places, heads = built.docs, built.places, built.heads
    columns: dict[str, Any] = document_columns(docs)
    columns.update(billing_columns(built.orders, [d.order_id for d in docs]))
    writer.write("documents", _in_order(
        typed_table(SAGE_DOCUMENTS, columns, DOCUMENT_CENTS, ("carriage_tax_rate",)), places,
        heads.documents() if heads.count else None))
    splits = typed_table(SAGE_SPLITS, split_columns(docs, department), SPLIT_CENTS)
    lines = typed_table(SAGE_LINES, line_columns(docs), LINE_CENTS, LINE_UNITS)
    posted_splits = posted_lines = None
    if built.posting is not None and heads.count:
        ready = pc.invert(heads.held())
        posted_splits = _posted_splits(built.posting.splits, heads, ready, department)
        posted_lines = _posted_lines(built.posting.lines, heads, ready)
    kept = [(p, d) for p, d in zip(places, docs, strict=True) if _ready(d)]
    writer.write("splits", _in_order(splits, [p for p, d in kept for _ in d.splits],
                                     posted_splits))
    writer.write("lines", _in_order(lines, [p for p, d in kept for _ in d.lines], posted_lines))


def _posted_splits(splits: pa.Table, heads: _Heads, ready: pa.Array,
                   department: int | None) -> pa.Table:
    """The columnar splits of the documents still ready, as the `splits` table (+ position)."""
    table = heads.table
    assert table is not None
    splits, at = _of_ready(splits, table, ready)
    return _completed(SAGE_SPLITS, splits, {
        "document_key": pc.take(table["document_key"], at),
        "department": pa.array([department] * splits.num_rows, pa.int32()),
        # a goods or carriage split's label is its purpose (PURPOSE_LABEL)
        "details": pc.binary_join_element_wise(pc.take(table["label"], at),
                                               splits["purpose"], " ")})


def _posted_lines(lines: pa.Table, heads: _Heads, ready: pa.Array) -> pa.Table:
    """The columnar lines of the documents still ready, as the `lines` table (+ position)."""
    table = heads.table
    assert table is not None
    lines, at = _of_ready(lines, table, ready)
    return _completed(SAGE_LINES, lines, {"document_key": pc.take(table["document_key"], at)})


def _of_ready(rows: pa.Table, heads: pa.Table, ready: pa.Array) -> tuple[pa.Table, pa.Array]:
    """The rows (lines or splits, by `position`) of the head rows still `ready`, and the head
    row of each."""
    at = pc.index_in(rows["position"], value_set=heads["position"])
    kept = pc.take(ready, at)
    return rows.filter(kept), at.filter(kept)


def _completed(schema: pa.Schema, posted: pa.Table, added: dict[str, Any]) -> pa.Table:
    """Columnar lines or splits (+ position) as `schema`'s table (+ position): their typed
    columns, the `added` ones, and null for the rest (the transaction type and reference of a
    split posted as a document of its own, which never goes the columnar way)."""
    count = posted.num_rows
    return pa.Table.from_arrays(
        [added[f.name] if f.name in added else posted[f.name] if f.name in posted.column_names
         else pa.nulls(count, f.type) for f in schema] + [posted["position"]],
        schema=schema.append(POSITION))


def _orphan(kind: str, row: dict[str, Any]) -> SageDocument:
    document = SageDocument(
        entity_type=kind, entity_id=row["entity_id"], store_id=row.get("store_id") or 0,
        order_id=row["order_id"], order_increment_id="", increment_id=row.get("increment_id") or "",
        transaction_type="SC" if kind == "creditmemo" else "SI", account_ref="",
        posting_date=None, reference="", extra_reference="", details="", currency_code="",
        total_cents=cents_of_units(row.get("base_grand_total") or row.get("grand_total") or 0),
        content_hash=row.get("content_hash") or "")
    return _hold(document, holds.order_not_exported(order_id=row["order_id"]))


def _hold(document: SageDocument, hold: Hold) -> SageDocument:
    """Hold a document for a cause: its reason is the cause's message."""
    document.hold, document.hold_reason = hold, hold.message
    return document


def _hold_of(document: SageDocument) -> Hold:
    """A held document's cause (every hold of the transform carries one)."""
    return document.hold or holds.unspecified(document.hold_reason or "")


def _account_row(ref: str, key: str, order: dict[str, Any],
                 customer: dict[str, Any] | None, currency: str,
                 group: str | None = None) -> dict[str, Any]:
    """A Sage customer record from the customer's default billing address, else the order's;
    in the currency its first document posts in."""
    src = customer if customer and customer.get("billing_street") else order
    street = (src.get("billing_street") or "").split("\n")
    first = src.get("billing_firstname") or order.get("customer_firstname") or ""
    last = src.get("billing_lastname") or order.get("customer_lastname") or ""
    person = f"{first} {last}".strip()
    return {
        "account_ref": ref, "customer_key": key,
        "name": src.get("billing_company") or person, "street1": street[0],
        "street2": street[1] if len(street) > 1 else "", "town": src.get("billing_city"),
        "county": src.get("billing_region"), "postcode": src.get("billing_postcode"),
        "contact_name": person, "telephone": src.get("billing_telephone"),
        "email": order.get("customer_email"),
        "vat_number": src.get("billing_vat_id") or order.get("customer_taxvat"),
        "country_code": src.get("billing_country_id"),
        "currency_code": currency or None, "customer_group": group,
    }
