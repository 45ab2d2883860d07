"""The columnar posting rules (transform.columnar) make exactly what the document builder
makes, line for line, split for split and total for total, for every document they take; the
documents they leave go through the builder, so a transform's checkpoint is the same either way.

Stores are drawn by hypothesis: composite products under each bundle rule, discounts, several
VAT rates, tax-inclusive prices, credit memos with adjustments, payments off the total and
foreign currencies (those last go the exact way), serialised as Magento sends them and decoded
by the real export code.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import msgspec
import psutil
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sagesync.errors import RecipeError
from sagesync.ledger import Exported, Ledger, RecordKey
from sagesync.magento.entities import PAGE_DECODERS
from sagesync.magento.tables import MagentoTableBuilder
from sagesync.model.money import decimal_of_units
from sagesync.pipeline import export_slices, transform_step, work_pool
from sagesync.pipeline.checkpoint import open_checkpoint
from sagesync.pipeline.export_slices import in_units
from sagesync.pipeline.transform_step import transform
from sagesync.recipe import MappingSettings, load_recipe
from sagesync.sage import products
from sagesync.testing.factory import build_creditmemo, build_invoice, build_order, search_page
from sagesync.transform import columnar
from sagesync.transform.documents import _LINE_FIELDS as LINE_FIELDS
from sagesync.transform.documents import DocumentBuilder, _totals
from sagesync.transform.mapping import ItemMap, NominalMap
from tests.strategies import creditmemo_args, money_order_specs, order_specs
from tests.test_real_corpus import REAL
from tests.test_real_corpus import RECIPE as CORPUS_RECIPE
from tests.workers import pool_workers

TAX_CODES = {Decimal(20): "T1", Decimal(5): "T5", Decimal(0): "T0", Decimal("17.5"): "T3"}
WHEN = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
ITEMS = {"MH01": ("ITEM-MH01", "WH2")}

def exported(entity: str, items: list[dict[str, Any]], currency: str) -> dict[str, pa.Table]:
    """Magento JSON -> the export's tables, as the transform reads them (amounts in units)."""
    body = msgspec.json.encode(search_page(items, 1, 100, len(items)))
    tables = MagentoTableBuilder()
    for item in PAGE_DECODERS[entity].decode(body).items:
        tables.add(entity, item)
    return {name: in_units(pa.Table.from_batches([batch]), currency)
            for name, batch in tables.take().items()}


def make_builder(currency: str, bundle: str, places: int, unmapped: str) -> DocumentBuilder:
    settings = MappingSettings(tax_codes=TAX_CODES, discount="net", bundle=bundle)
    return DocumentBuilder(settings, NominalMap(default="4000", by_prefix=[("MH", "4010")]),
                           ZoneInfo("Europe/London"), currency,
                           items=ItemMap(dict(ITEMS), unmapped, "MISC", "WH1"),
                           unit_price_places=places)


def _grouped(table: pa.Table, key: str) -> dict[int, list[dict[str, Any]]]:
    out: dict[int, list[dict[str, Any]]] = {}
    for row in table.to_pylist():
        out.setdefault(row[key], []).append(row)
    return out


def compare(kind: str, docs: pa.Table, lines: pa.Table | None, orders: pa.Table,
            order_items: pa.Table, builder: DocumentBuilder) -> int:
    """Post `docs` both ways; every document the columnar rules take must come out as the
    builder makes it. Returns how many they took."""
    posted = columnar.post(kind, docs, lines, order_items, orders, builder)
    assert posted is not None
    order_rows = {r["entity_id"]: r for r in orders.to_pylist()}
    items_of = _grouped(order_items, "order_id")
    lines_of = items_of if kind == "order" or lines is None else _grouped(lines, "document_id")
    for position, row in enumerate(docs.to_pylist()):
        if not posted.ok[position]:
            continue
        order = order_rows[row["entity_id"] if kind == "order" else row["order_id"]]
        exact = builder.build(kind, row, lines_of.get(row["entity_id"], []), order,
                              items_of.get(order["entity_id"], []), "W")
        assert exact.hold_reason is None and exact.skip_reason is None and not exact.warnings
        got = posted.lines.filter(pc.equal(posted.lines["position"], position)).to_pylist()
        assert [r["line_no"] for r in got] == list(range(1, len(exact.lines) + 1))
        assert [{column: r[column] for column in LINE_FIELDS} for r in got] == \
            [{column: getattr(line, name) for column, name in LINE_FIELDS.items()}
             for line in exact.lines]
        splits = posted.splits.filter(pc.equal(posted.splits["position"], position))
        assert [(s["split_no"], s["purpose"], s["nominal_code"], s["tax_code"], s["net"],
                 s["tax"]) for s in splits.to_pylist()] == \
            [(n, s.purpose, s.nominal_code, s.tax_code, s.net, s.tax)
             for n, s in enumerate(exact.splits, start=1)]
        assert all(s.transaction_type is None for s in exact.splits)
        [totals] = posted.totals.filter(
            pc.equal(posted.totals["position"], position)).drop_columns(["position"]).to_pylist()
        assert totals == _totals(exact)
    return sum(posted.ok)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data(), st.sampled_from(["base", "order"]), st.sampled_from(["auto", "auto", "children",
                                                                         "parent"]),
       st.sampled_from([0, 2, 4]), st.sampled_from(["sku", "sku", "default", "hold"]))
def test_the_columnar_rules_make_what_the_builder_makes(
        data: st.DataObject, currency: str, bundle: str, places: int, unmapped: str) -> None:
    plain = order_specs(invoiced=True)  # mostly: payments off the total go the exact way
    specs = data.draw(st.lists(st.one_of(plain, plain, plain, money_order_specs()), min_size=1,
                               max_size=4, unique_by=lambda s: s.entity_id))
    orders = [build_order(spec) for spec in specs]
    invoices, memos = [], []
    for n, order in enumerate(orders, start=1):
        invoices.append(build_invoice(order, n, f"{n:09d}", WHEN))
        memos.append(build_creditmemo(order, n, f"{n:09d}", WHEN, invoice_id=n,
                                      **data.draw(creditmemo_args(order))))
        if not data.draw(st.integers(0, 5)):  # an invoice Magento sent without some lines
            invoices[-1]["items"] = invoices[-1]["items"][:1]
    builder = make_builder(currency, bundle, places, unmapped)
    placed = exported("orders", orders, currency)
    for kind, entity, documents in (("invoice", "invoices", invoices),
                                    ("creditmemo", "creditmemos", memos),
                                    ("order", "orders", orders)):
        tables = placed if kind == "order" else exported(entity, documents, currency)
        docs, lines = tables[entity], tables.get(f"{kind}_items")
        if kind != "order" and lines is not None and data.draw(st.booleans()):
            docs, lines = jitter(data, docs, lines, builder.prefix)
        compare(kind, docs, lines, placed["orders"], placed["order_items"], builder)


def jitter(data: st.DataObject, docs: pa.Table, lines: pa.Table, prefix: str
           ) -> tuple[pa.Table, pa.Table]:
    """Magento's four places: each priced line's row total moved by under a cent, and its
    document's grand total by the same, so the lines' cents no longer add up to their split's
    and the cents left over are shared out (documents._post_lines)."""
    column = prefix + "row_total"
    totals = lines[column].to_pylist()
    moved = [value + data.draw(st.integers(-99, 99)) if value else value for value in totals]
    by_document: dict[int, int] = {}
    for document, before, after in zip(lines["document_id"].to_pylist(), totals, moved,
                                       strict=True):
        by_document[document] = by_document.get(document, 0) + (after or 0) - (before or 0)
    lines = lines.set_column(lines.column_names.index(column), column,
                             pa.array(moved, pa.int64()))
    grand = prefix + "grand_total"
    docs = docs.set_column(docs.column_names.index(grand), grand, pa.array(
        [(total or 0) + by_document.get(document, 0) for document, total in
         zip(docs["entity_id"].to_pylist(), docs[grand].to_pylist(), strict=True)], pa.int64()))
    return docs, lines


@given(order_specs(invoiced=True))
@settings(max_examples=25, deadline=None)
def test_a_plain_order_and_its_invoice_are_taken(spec: Any) -> None:
    """The common case goes the columnar way (the property above would pass if nothing did):
    an order without payments off its total, in the base currency, and its invoice."""
    order = build_order(spec)
    invoice = build_invoice(order, 1, "000000001", WHEN)
    builder = make_builder("base", "auto", 0, "sku")
    placed = exported("orders", [order], "base")
    invoices = exported("invoices", [invoice], "base")
    grand = Decimal(str(invoice["base_grand_total"]))
    expected = 1 if grand.quantize(Decimal("0.01")) or \
        Decimal(str(invoice.get("base_tax_amount", 0))).quantize(Decimal("0.01")) else 0
    assert compare("invoice", invoices["invoices"], invoices["invoice_items"],
                   placed["orders"], placed["order_items"], builder) == expected
    assert compare("order", placed["orders"], None, placed["orders"], placed["order_items"],
                   builder) == (1 if Decimal(str(order["base_grand_total"])).quantize(
                       Decimal("0.01")) or Decimal(str(order.get("base_tax_amount", 0))).quantize(
                       Decimal("0.01")) else 0)


def test_a_recipe_whose_rules_have_no_columnar_form_builds_every_document() -> None:
    """Discounts on their own nominal and a locked period go the exact way, whole."""
    assert columnar.usable(make_builder("base", "auto", 0, "sku"))
    nominal = make_builder("base", "auto", 0, "sku")
    nominal.mapping = MappingSettings(tax_codes=TAX_CODES, discount="nominal")
    assert not columnar.usable(nominal)
    locked = make_builder("base", "auto", 0, "sku")
    locked.locked_until = WHEN.date()
    assert not columnar.usable(locked)
    assert decimal_of_units(200_000) == Decimal(20)


TABLES = ("documents", "splits", "lines", "accounts")


def same_checkpoint(got: Path, expected: Path, label: object) -> None:
    """The two transform checkpoints (their folders) hold equal tables."""
    for name in TABLES:
        assert pq.read_table(got / f"{name}.parquet").equals(
            pq.read_table(expected / f"{name}.parquet")), (label, name)


def taken_by_rules(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many documents of each slice the columnar rules take, from now on (so a
    comparison of the two ways is known not to be empty)."""
    taken: list[int] = []
    original = columnar.post

    def counted(*args: Any, **kwargs: Any) -> columnar.Posted | None:
        posted = original(*args, **kwargs)
        taken.append(sum(posted.ok) if posted else 0)
        return posted

    monkeypatch.setattr(columnar, "post", counted)
    return taken


def _spied(method: Any, calls: list[Any]) -> Any:
    def spied(self: Any, *args: Any) -> Any:
        calls.append(args)
        return method(self, *args)
    return spied


def test_a_transform_writes_the_same_checkpoint_every_way(  # type: ignore[no-untyped-def]
        run_cli, demo_copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The whole step on the sample store, through its checkpoint: the same documents,
    splits and lines, in the same order, and the same holds and warnings, whether simple
    documents go the columnar way or not, in slices of a thousand documents or of three,
    read and posted here or in a worker process (export_slices), whose outcomes come back
    through files of the step's folder, removed once read."""
    result = run_cli("-r", str(demo_copy), "export-orders")
    assert result.exit_code == 0, result.output
    export = open_checkpoint(Path(result.output.strip().splitlines()[-1]), "magento-export")
    recipe = load_recipe(demo_copy)
    done = {"whole": transform(recipe, export, None, "whole", workers=0)}
    monkeypatch.setattr(export_slices, "SLICE", 3)
    monkeypatch.setattr(transform_step, "PARALLEL_AFTER_SLICES", 0)  # a worker for so few
    monkeypatch.setattr(work_pool, "SPOOL_AFTER", 0)  # its outcomes through files
    done["exact"] = transform(recipe, export, None, "exact", use_columnar=False, workers=0)
    done["here"] = transform(recipe, export, None, "here", workers=0)
    read_here: list[Any] = []  # with a worker, the caller opens none of the export's tables
    monkeypatch.setattr(export_slices.SliceReader, "read",
                        _spied(export_slices.SliceReader.read, read_here))
    monkeypatch.setattr(transform_step, "SLICES_AHEAD", 2)  # given more as slices are taken
    queued: list[int] = []
    put = work_pool.OrderedPool.put

    def counted(pool: work_pool.OrderedPool[Any, Any, Any], tag: Any, job: Any) -> None:
        put(pool, tag, job)
        queued.append(len(pool.queued))

    monkeypatch.setattr(work_pool.OrderedPool, "put", counted)
    done["worker"] = transform(recipe, export, None, "worker", workers=1)
    assert done["worker"].worker_slices == len(queued) > 2 and read_here == []
    assert max(queued) == 2  # never more than SLICES_AHEAD ahead of the caller
    assert sorted(p.name for p in done["worker"].manifest.parent.iterdir()) == sorted(
        p.name for p in done["here"].manifest.parent.iterdir())  # the worker's outcomes gone
    assert done["here"].worker_slices == done["whole"].worker_slices == 0
    for way, outcome in done.items():
        assert (outcome.documents, outcome.held, outcome.warnings) == (
            done["exact"].documents, done["exact"].held, done["exact"].warnings), way
        assert all(pq.read_table(done["exact"].manifest.parent / f"{name}.parquet").num_rows
                   for name in TABLES)
        same_checkpoint(outcome.manifest.parent, done["exact"].manifest.parent, way)


def test_documents_held_after_the_rules_took_them_are_held_as_the_builder_holds_them(  # type: ignore[no-untyped-def]
        run_cli, demo_copy: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Holds the transform adds once a slice is posted land on documents the columnar rules
    took: accounts awaiting approval (`new_accounts = "review"`), credit notes a product
    cannot import, and a reference another document owns (in the ledger). Each way, in
    slices of three, the checkpoint is the builder's (a held row with its reason and no
    totals, its lines and splits gone) and so are the holds."""
    uk = products.get("sage50_uk")
    monkeypatch.setitem(products.PRODUCTS, "sage50_uk", replace(uk, import_format=replace(
        uk.capabilities, credit_type="", credit_note_advice="enter it as a sales return")))
    result = run_cli("-r", str(demo_copy), "export-orders")
    assert result.exit_code == 0, result.output
    export = open_checkpoint(Path(result.output.strip().splitlines()[-1]), "magento-export")
    loaded = load_recipe(demo_copy)
    recipe = replace(loaded, customers=replace(loaded.customers, new_accounts="review"))
    monkeypatch.setattr(export_slices, "SLICE", 3)
    first = transform(recipe, export, None, "first", use_columnar=False, workers=0)
    rows = pq.read_table(first.manifest.parent / "documents.parquet").to_pylist()
    taken = next(r for r in rows if r["status"] == "ready" and r["entity_type"] == "invoice")
    with Ledger(tmp_path / "owner.sqlite") as lookup:  # another store's invoice claimed it
        owner = RecordKey("invoice", 999_999, 99)
        lookup.register_exported([Exported(owner, "x", 999_999, "x", "h")], "elsewhere")
        lookup.mark_transformed([(owner, "h", f"SI:{taken['reference']}")], [])
        posted = taken_by_rules(monkeypatch)
        done = {fast: transform(recipe, export, None, f"f{fast}", lookup=lookup,
                                use_columnar=fast, workers=0) for fast in (False, True)}
    assert sum(posted)
    causes = {hold.code for hold in done[True].holds.values()}
    assert {"account_awaiting_approval", "no_credit_notes", "reference_collision"} <= causes
    assert (done[True].held, done[True].holds) == (done[False].held, done[False].holds)
    same_checkpoint(done[True].manifest.parent, done[False].manifest.parent, "held")


@pytest.mark.skipif(not REAL.exists(), reason="../shared is absent")
def test_the_real_stores_transform_the_same_either_way(run_cli, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """Real Magento output (../shared's corpus: eight public stores), posting from invoices
    and from orders: the checkpoint is the same either way, and some documents of it did go
    the columnar way (so the comparison is not empty)."""
    taken = taken_by_rules(monkeypatch)
    instances = sorted(path.name for path in (REAL / "instances").iterdir() if path.is_dir())
    assert instances
    for instance in instances:
        for post_from in ("invoices", "orders"):
            folder = tmp_path / f"{instance}-{post_from}"
            folder.mkdir()
            recipe_file = folder / "corpus.toml"
            recipe_file.write_text(CORPUS_RECIPE.format(
                source=(REAL / "instances" / instance).as_posix(), post_from=post_from)
                .replace('state_dir = "state"', f'state_dir = "{(folder / "state").as_posix()}"'),
                encoding="utf-8")
            result = run_cli("-r", str(recipe_file), "export-orders")
            assert result.exit_code == 0, result.output
            export = open_checkpoint(Path(result.output.strip().splitlines()[-1]),
                                     "magento-export")
            written = {fast: transform(load_recipe(recipe_file), export, None, f"f{fast}",
                                       use_columnar=fast).manifest.parent
                       for fast in (False, True)}
            same_checkpoint(written[True], written[False], instance)
    assert sum(taken) > 0


def test_a_worker_killed_mid_transform_costs_nothing_but_time(  # type: ignore[no-untyped-def]
        run_cli, demo_copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The slices' worker killed outright after the first slice: the pool is given up, the
    rest is read and posted here, and the checkpoint is the one a transform without a worker
    writes."""
    import psutil

    from tests.workers import pool_workers, wait_dead

    result = run_cli("-r", str(demo_copy), "export-orders")
    assert result.exit_code == 0, result.output
    export = open_checkpoint(Path(result.output.strip().splitlines()[-1]), "magento-export")
    recipe = load_recipe(demo_copy)
    monkeypatch.setattr(export_slices, "SLICE", 2)
    monkeypatch.setattr(transform_step, "PARALLEL_AFTER_SLICES", 0)
    alone = transform(recipe, export, None, "alone", workers=0)
    killed = []
    real = transform_step._build_slice

    def kill_the_worker(*args: Any) -> Any:
        built = real(*args)
        for worker in [] if killed else pool_workers(psutil.Process()):
            worker.kill()
            wait_dead(worker)
            killed.append(worker.pid)
        return built

    monkeypatch.setattr(transform_step, "_build_slice", kill_the_worker)
    beside = transform(recipe, export, None, "beside", workers=1)
    assert killed and beside.worker_slices > 0
    assert pool_workers(psutil.Process()) == []
    assert (beside.documents, beside.held, beside.warnings) == (
        alone.documents, alone.held, alone.warnings)
    same_checkpoint(beside.manifest.parent, alone.manifest.parent, "worker killed")


def test_a_transform_that_fails_before_its_first_slice_stops_its_worker(  # type: ignore[no-untyped-def]
        run_cli, demo_copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The worker starts with the transform; a recipe mistake found after that (a customer
    account that is no Sage reference) still leaves no worker running in the caller."""
    result = run_cli("-r", str(demo_copy), "export-orders")
    assert result.exit_code == 0, result.output
    export = open_checkpoint(Path(result.output.strip().splitlines()[-1]), "magento-export")
    accounts = demo_copy.parent.parent / "samples" / "mapping" / "customers.csv"
    with accounts.open("a", encoding="utf-8") as file:
        file.write("someone@example.com,NOT-A-SAGE-REFERENCE\n")
    monkeypatch.setattr(export_slices, "SLICE", 3)
    monkeypatch.setattr(transform_step, "PARALLEL_AFTER_SLICES", 0)
    started: list[Any] = []
    start = transform_step.start_transform

    def spied(*args: Any, **kwargs: Any) -> Any:
        started.append(start(*args, **kwargs))
        return started[-1]

    monkeypatch.setattr(transform_step, "start_transform", spied)
    with pytest.raises(RecipeError, match="NOT-A-SAGE-REFERENCE"):
        transform(load_recipe(demo_copy), export, None, "failed", workers=1)
    assert started[0].pool is not None  # a worker was started, and is gone
    assert pool_workers(psutil.Process()) == []


_KEY_TEXT = st.one_of(st.none(), st.sampled_from(["", "4000", "4001", "T1", "T0", "goods"]))


@settings(max_examples=200, deadline=None)
@given(rows=st.lists(st.tuples(st.integers(0, 5), st.sampled_from(["goods", "carriage"]),
                               _KEY_TEXT, _KEY_TEXT), max_size=40))
def test_each_line_finds_its_split_as_a_left_join_on_the_split_keys_would(
        rows: list[tuple[int, str, str | None, str | None]]) -> None:
    """`columnar._split_of` (no join) gives each line the row of its split that a left outer
    join on the split keys gives it, null where a key is null (a join matches no null)."""
    rows.sort(key=lambda r: r[0])  # lines come in document order
    lines = pa.table({
        "position": pa.array([r[0] for r in rows], pa.int64()),
        "purpose": pa.array([r[1] for r in rows], pa.string()),
        "nominal_code": pa.array([r[2] for r in rows], pa.string()),
        "tax_code": pa.array([r[3] for r in rows], pa.string()),
        "index": pa.array(range(len(rows)), pa.int64())})
    groups = lines.group_by(columnar._SPLIT_KEYS, use_threads=False).aggregate(
        [("index", "min")]).sort_by("index_min")
    groups = groups.append_column("group", pa.array(range(groups.num_rows), pa.int64()))
    joined = lines.join(groups.select([*columnar._SPLIT_KEYS, "group"]),
                        keys=columnar._SPLIT_KEYS, join_type="left outer",
                        use_threads=False).sort_by("index")
    assert columnar._split_of(lines, groups).to_pylist() == joined["group"].to_pylist()
