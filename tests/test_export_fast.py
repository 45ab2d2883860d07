"""The export's fast path (issue 10): content hashes pinned to the values ledgers store (a
changed hash would flag every sent record as amended; a new scheme needs a ledger migration),
money and every other column exactly as the plain decoder builds them, and pages decoded in
worker processes giving the same checkpoint as pages decoded in-process, quarantine and all."""

from __future__ import annotations

import errno
import hashlib
import json
import re
import shutil
import subprocess
import sys
import typing
from collections import Counter
from concurrent.futures import Future
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec
import psutil
import pyarrow.parquet as pq
import pytest
from blake3 import blake3
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from msgspec import Raw

import sagesync.pipeline.export_step as export_step
from sagesync.ledger import Exported, Ledger, RecordKey
from sagesync.magento import page_tables
from sagesync.magento.entities import ENTITY_TYPES, PAGE_DECODERS, Money
from sagesync.magento.page_tables import PageJob, PageOutcome, decode_page
from sagesync.magento.tables import content_hash
from sagesync.pipeline import faults
from sagesync.pipeline.checkpoint import CheckpointWriter, new_run_id, open_checkpoint
from sagesync.pipeline.export_step import ExportResult, export_orders
from sagesync.pipeline.postable import exported_records
from sagesync.pipeline.work_pool import SPOOL_AFTER, OrderedPool
from sagesync.recipe import Recipe, load_recipe
from sagesync.testing.dataset import documents, write_store
from tests.conftest import ROOT, subprocess_env
from tests.test_magento_export import NOW, make_recipe, raw_pages
from tests.workers import pool_workers, wait_dead

LIVE_STORE = documents(1, 45, seed=8)

# Written as JSON text, so numbers keep the exact form Magento (or an extension) sent.
ORDER_PLAIN = rb"""{"entity_id": 101, "increment_id": "000000101", "store_id": 1,
 "state": "complete", "status": "complete", "created_at": "2026-03-01 09:15:00",
 "updated_at": "2026-03-02 10:00:00",
 "customer_id": 7, "customer_is_guest": 0, "customer_email": "ann@example.com",
 "customer_firstname": "Ann", "customer_lastname": "Lee", "base_currency_code": "GBP",
 "order_currency_code": "GBP", "grand_total": 129.99, "base_grand_total": 129.99,
 "subtotal": 100.00, "base_subtotal": 100, "tax_amount": 21.66, "base_tax_amount": 21.66,
 "discount_amount": -5, "base_discount_amount": -5, "shipping_amount": 8.33,
 "base_shipping_amount": 8.33, "shipping_tax_amount": 1.67, "base_shipping_tax_amount": 1.67,
 "base_to_order_rate": 1, "base_shipping_discount_tax_compensation_amnt": 0,
 "billing_address": {"firstname": "Ann", "lastname": "Lee", "company": "Lee & Co",
  "street": ["1 High St", "Flat 2"], "city": "Leeds", "region": "West Yorkshire",
  "postcode": "LS1 1AA", "country_id": "GB", "telephone": "0113 000", "vat_id": "GB123"},
 "extension_attributes": {"shipping_assignments": [{"items": [{"sku": "X", "price": 9}]}],
  "payment_surcharge_amount": "5.3300", "gw_price": "0.0000"},
 "items": [{"item_id": 1001, "product_type": "simple", "sku": "SKU-1", "name": "Thing \u00e9",
   "qty_ordered": 2, "tax_percent": 20, "row_total": 60.0, "base_row_total": 60.0,
   "tax_amount": 12.0, "base_tax_amount": 12.0, "discount_amount": 5, "base_discount_amount": 5},
  {"item_id": 1002, "parent_item_id": 1001, "product_type": "simple", "sku": "SKU-2",
   "qty_ordered": 1.5, "row_total": 40.0, "base_row_total": 40.0}]}"""
ORDER_ODD = rb"""{"entity_id": 102, "increment_id": "000000102", "store_id": 2,
 "state": "processing",
 "created_at": "2026-03-03 11:00:00", "updated_at": "2026-03-03 12:00:00",
 "customer_is_guest": 1, "customer_email": "guest@example.com", "base_currency_code": "GBP",
 "order_currency_code": "EUR", "grand_total": "118.3000", "base_grand_total": 1E+2,
 "subtotal": 0.0000001, "tax_amount": 0.00000000, "base_tax_amount": 0.000001,
 "discount_amount": -0, "shipping_amount": 1e1, "base_to_order_rate": 1.183,
 "gift_cards_amount": 0, "base_gift_cards_amount": 2.5, "reward_currency_amount": null,
 "extension_attributes": {"cod_fee": 1.5, "base_customer_balance_amount": "3.00",
  "amount_refunded": 4},
 "items": [{"item_id": 2001, "sku": "W-1", "qty_ordered": 1, "row_total": 50,
   "weee_tax_applied_row_amount": 0, "base_weee_tax_applied_row_amnt": 1.25},
  {"item_id": 2002, "sku": "W-2", "qty_ordered": 3, "row_total": 12.345678,
   "weee_tax_applied_row_amount": null}]}"""
INVOICE = rb"""{"entity_id": 201, "increment_id": "000000201", "order_id": 101, "store_id": 1,
 "state": 2, "created_at": "2026-03-01 09:20:00", "updated_at": "2026-03-01 09:20:00",
 "grand_total": 129.99, "base_grand_total": 129.99, "subtotal": 100, "tax_amount": 21.66,
 "discount_amount": -5, "shipping_amount": 8.33, "base_to_order_rate": 1,
 "items": [{"order_item_id": 1001, "sku": "SKU-1", "name": "Thing", "qty": 2, "row_total": 60,
   "tax_amount": 12, "discount_amount": 5}]}"""
CREDITMEMO = rb"""{"entity_id": 301, "increment_id": "000000301", "order_id": 101,
 "invoice_id": 201,
 "store_id": 1, "state": 2, "created_at": "2026-03-05 09:00:00",
 "updated_at": "2026-03-05 09:00:00", "grand_total": 35.0, "base_grand_total": 35.0,
 "adjustment_positive": 5, "adjustment_negative": 2.5, "base_adjustment_positive": 5,
 "items": [{"order_item_id": 1002, "sku": "SKU-2", "qty": 1, "row_total": 26.67,
   "weee_tax_applied_row_amount": 0.5}]}"""
CUSTOMER = rb"""{"id": 7, "email": "ann@example.com", "firstname": "Ann", "lastname": "Lee",
 "group_id": 1, "website_id": 1, "store_id": 1, "taxvat": "GB123", "default_billing": "71",
 "created_at": "2025-01-01 00:00:00", "updated_at": "2026-01-01 00:00:00",
 "addresses": [{"id": 70, "firstname": "Ann", "street": ["Old Road"], "city": "York",
   "region": {"region": "North Yorkshire", "region_id": 0}, "country_id": "GB"},
  {"id": 71, "firstname": "Ann", "lastname": "Lee", "company": "Lee & Co",
   "street": ["1 High St"], "city": "Leeds",
   "region": {"region": "West Yorkshire", "region_code": "WY"},
   "postcode": "LS1 1AA", "country_id": "GB", "telephone": "0113 000"}]}"""

PINNED = [  # hash scheme 2: the scheme-1 values (commit 879dd17) hashed state and updated_at
    ("orders", ORDER_PLAIN, "beaa3763a063d5ad89c51685553afc27"),
    ("orders", ORDER_ODD, "872948f072a0506154f99ebcd4b2a1dc"),
    ("invoices", INVOICE, "f37fa4002884cbf377286a0b026fc8c0"),
    ("creditmemos", CREDITMEMO, "790841b98e0fbd9dd1a57004a415b6cc"),
    ("customers", CUSTOMER, "b893989bd9b33b58695c2e723e52d400"),
]
SAMPLES_DIGEST = "a96703739f18aa22aad5b943676de151701f1bb46c9d50b5a12249d14a7d8300"


@pytest.mark.parametrize(("entity", "body", "expected"), PINNED,
                         ids=["order", "order-odd-numbers", "invoice", "creditmemo", "customer"])
def test_content_hashes_are_the_values_stored_in_ledgers(entity: str, body: bytes,
                                                         expected: str) -> None:
    assert content_hash(msgspec.json.decode(body, type=ENTITY_TYPES[entity])) == expected


def test_the_sample_pages_hash_as_they_always_did() -> None:
    lines = []
    for entity in ("orders", "invoices", "creditmemos", "customers"):
        for page in sorted((ROOT / "samples" / "magento" / entity).glob("*.json")):
            for item in PAGE_DECODERS[entity].decode(page.read_bytes()).items:
                key = item.id if entity == "customers" else item.entity_id
                lines.append(f"{entity}:{key}:{content_hash(item)}")
    assert len(lines) == 24
    assert hashlib.sha256("\n".join(lines).encode()).hexdigest() == SAMPLES_DIGEST


# The fast way gives exactly the exact way's rows ----------------------------------------------

def _page(entity: str, *records: bytes) -> bytes:
    return b'{"items": [' + b", ".join(records) + b'], "total_count": %d}' % len(records)


def _same(fast: PageOutcome, exact: PageOutcome) -> None:
    assert fast.records == exact.records
    assert fast.lines == exact.lines
    assert (fast.bad_page, fast.bad_records, fast.rejected) == \
        (exact.bad_page, exact.bad_records, exact.rejected)
    assert fast.tables.keys() == exact.tables.keys()
    for name, batch in fast.tables.items():
        for column in batch.schema.names:  # column by column, so a failure names it
            assert batch.column(column).equals(exact.tables[name].column(column)), \
                (name, column, batch.column(column), exact.tables[name].column(column))


@pytest.mark.parametrize(("entity", "body", "expected"), PINNED[:4],
                         ids=["order", "order-odd-numbers", "invoice", "creditmemo"])
def test_the_fast_way_hashes_as_content_hash(entity: str, body: bytes, expected: str) -> None:
    job = PageJob(entity, "pinned", body=_page(entity, body))
    outcome = decode_page(job)
    _same(outcome, decode_page(job, fast=False))
    assert outcome.tables[entity].column("content_hash").to_pylist() == [expected]
    # Strings, exponents and 0.0000001 would not encode as their Decimal does: exact way.
    assert outcome.fast == (body is not ORDER_ODD)


LIFECYCLE = st.fixed_dictionaries({}, optional={
    "state": st.one_of(st.sampled_from(["processing", "complete", "closed"]), st.integers(1, 3)),
    "status": st.sampled_from(["complete", "sent_to_sage", "closed"]),
    "updated_at": st.sampled_from(["2026-11-30 23:59:59", "2027-01-01 00:00:00"])})


@settings(max_examples=40, deadline=None)
@given(pinned=st.sampled_from(PINNED[:4]), lifecycle=LIFECYCLE)
def test_where_a_document_is_in_its_life_leaves_its_hash_alone(
        pinned: tuple[str, bytes, str], lifecycle: dict[str, object]) -> None:
    """Magento completing an order, paying an invoice or setting a status is not an
    amendment: both ways hash such a document as before. Its date is part of it."""
    entity, body, expected = pinned
    if entity != "orders":
        lifecycle.pop("status", None)  # invoices and credit memos have a numeric state only
    if isinstance(lifecycle.get("state"), str) != (entity == "orders"):
        lifecycle.pop("state", None)
    changed = body  # edited as text: a JSON round trip would respell the amounts
    for name, value in lifecycle.items():
        changed = re.sub(rb'"%s": ("[^"]*"|\d+)' % name.encode(),
                         b'"%s": %s' % (name.encode(), json.dumps(value).encode()), changed)
    for fast in (True, False):
        outcome = decode_page(PageJob(entity, "moved on", body=_page(entity, changed)), fast=fast)
        assert outcome.tables[entity].column("content_hash").to_pylist() == [expected]
    redated = re.sub(rb'"created_at": "[^"]*"', b'"created_at": "2020-01-01 00:00:00"', body)
    dated = decode_page(PageJob(entity, "redated", body=_page(entity, redated)))
    assert dated.tables[entity].column("content_hash").to_pylist() != [expected]


def test_saved_and_generated_pages_take_the_fast_way(tmp_path: Path) -> None:
    write_store(tmp_path, 30, seed=11, page_size=10)
    folders = [(ROOT / "samples" / "magento", "page-*.json"), (tmp_path, "page-*.json")]
    for folder, pattern in folders:
        for entity in ("orders", "invoices", "creditmemos"):
            for path in sorted((folder / entity).glob(pattern)):
                job = PageJob(entity, str(path), path=str(path))
                outcome = decode_page(job)
                assert outcome.fast, path  # else the export is slow again, silently
                _same(outcome, decode_page(job, fast=False))


ODD_AMOUNTS = [
    "0", "-0", "0.0", "-0.00", "1E+2", "1e2", "1.5e-3", "0.0000001", "0.00000000", "0.000000",
    "0.000001", "0.0000010", "29.949999999999999", "0.00005", "0.00015", "9" * 19, "9" * 40,
    "9" * 5000, "1e400", "-1e400", "12345678901234567890.5", "99999999999999.9999",
    "-99999999999999.9999", "100000000000000", "null", '"5.3300"', '"NaN"', '"Infinity"',
    '"abc"', "true", "[]", "{}", '"1,5"', '{"a": 1, "b": 2}', "1.0000000",
]
AMOUNT = st.one_of(
    st.integers(0, 6).flatmap(lambda places: st.decimals(
        min_value=-10 ** 15, max_value=10 ** 15, places=places)).map(lambda d: format(d, "f")),
    st.integers(-(10 ** 20), 10 ** 20).map(str),
    st.sampled_from(ODD_AMOUNTS),
)
DOCUMENT_MONEY = ["grand_total", "base_grand_total", "subtotal", "tax_amount",
                  "discount_amount", "shipping_amount", "base_shipping_tax_amount",
                  "base_shipping_discount_tax_compensation_amnt", "base_to_order_rate",
                  "gift_cards_amount", "base_reward_currency_amount"]
LINE_MONEY = ["row_total", "base_row_total", "tax_amount", "discount_amount",
              "weee_tax_applied_row_amount", "base_weee_tax_applied_row_amnt"]


@st.composite
def documents_page(draw: st.DrawFn) -> tuple[str, bytes]:
    """A page of orders, invoices or credit memos whose amounts are any JSON Magento, an
    extension or a broken store may send, each with an amount or none at all."""
    entity = draw(st.sampled_from(["orders", "invoices", "creditmemos"]))
    records = []
    for number in range(draw(st.integers(1, 4))):
        fields = {"entity_id": str(draw(st.sampled_from([number + 1, 1, 2 ** 70]))),
                  "updated_at": draw(st.sampled_from(['"2026-05-01 10:00:00"',
                                                      '"2026-06-01 10:00:00"']))}
        if entity != "orders":
            fields["order_id"] = "7"
        for name in draw(st.lists(st.sampled_from(DOCUMENT_MONEY), unique=True)):
            fields[name] = draw(AMOUNT)
        if draw(st.booleans()):
            fields["extension_attributes"] = '{"cod_fee": ' + draw(AMOUNT) + '}'
        lines = []
        for line in range(draw(st.integers(0, 3))):
            item = {"sku": '"S"', "item_id": str(line)} if entity == "orders" else \
                {"order_item_id": str(line)}
            for name in draw(st.lists(st.sampled_from(LINE_MONEY), unique=True)):
                item[name] = draw(AMOUNT)
            lines.append("{" + ", ".join(f'"{k}": {v}' for k, v in item.items()) + "}")
        fields["items"] = "[" + ", ".join(lines) + "]"
        records.append("{" + ", ".join(f'"{k}": {v}' for k, v in fields.items()) + "}")
    return entity, _page(entity, *(r.encode() for r in records))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents_page(), st.booleans())
def test_any_amount_gives_the_exact_ways_rows_hashes_and_rejections(
        page: tuple[str, bytes], windowed: bool) -> None:
    """Inside a saved page's window or out of it (a record outside is not built, but one
    the entities cannot decode is still reported)."""
    entity, body = page
    job = PageJob(entity, "generated", body=body, filter_locally=windowed,
                  since="2026-05-15 00:00:00")
    _same(decode_page(job), decode_page(job, fast=False))


def test_every_amount_the_entities_hold_is_checked_by_the_fast_way() -> None:
    """The fast way's hash is exact because every amount it encodes is a column whose text
    it checks (or an extra it checks alone): a new Money field must be a column too."""
    for entity, twin in page_tables._TWINS.items():
        amounts = {f for f, kind in typing.get_type_hints(ENTITY_TYPES[entity]).items()
                   if kind == Money}
        checked = {page_tables._ALIASES.get(n, n) for n in page_tables._TABLES[entity].money}
        assert amounts == checked, entity
        line = typing.get_args(typing.get_type_hints(twin)["items"])[0]
        line_amounts = {f for f, kind in typing.get_type_hints(line).items() if kind is Raw}
        assert line_amounts == set(page_tables._LINES[entity].money), entity


# Pages decoded in worker processes: the same checkpoint --------------------------------------

BAD_RECORD = rb'{"entity_id": 9001, "order_id": 1, "base_grand_total": "abc", "items": []}'
ABSURD_RECORD = rb'{"entity_id": 9002, "order_id": 2, "base_grand_total": 1e400, "items": []}'


def _store(folder: Path) -> Path:
    """A saved store of 40 orders over many small pages, with what real stores add: a record
    repeated on a later page, a page cut short, a record of the wrong shape and one with an
    amount no column holds, and the sample customers (decoded the exact way)."""
    write_store(folder, 40, seed=5, page_size=4)
    first = json.loads((folder / "orders" / "page-000001.json").read_text(encoding="utf-8"))
    repeat = {**first, "items": first["items"][:2]}
    (folder / "orders" / "page-000090.json").write_text(json.dumps(repeat), encoding="utf-8")
    (folder / "invoices" / "page-000090.json").write_bytes(b'{"items": [{"entity_id": 1, "in')
    (folder / "invoices" / "page-000091.json").write_bytes(
        _page("invoices", BAD_RECORD, ABSURD_RECORD))
    shutil.copytree(ROOT / "samples" / "magento" / "customers", folder / "customers")
    return folder


def _recipe(tmp_path: Path, source: Path) -> Recipe:
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "r.toml").write_text(
        f'name = "fast"\nstate_dir = "state"\n[magento]\nsource = "{source.as_posix()}"\n'
        '[sage]\nproduct = "sage50_uk"\n', encoding="utf-8")
    return load_recipe(tmp_path / "r.toml")


def _checkpoint(result: ExportResult, state: Path) -> dict[str, Any]:
    """Everything an export leaves, with its state folder and run id taken out of the text."""
    folder = result.manifest.parent
    manifest = json.loads(result.manifest.read_text(encoding="utf-8"))
    run_id = manifest["run_id"]

    def text(value: str) -> str:
        return value.replace(str(state.resolve()), "STATE").replace(str(state), "STATE") \
            .replace(run_id, "RUN")

    quarantine = state / "quarantine" / run_id
    return {
        "tables": {p.name: pq.read_table(p) for p in sorted(folder.glob("*.parquet"))},
        "raw": json.loads((folder / "raw" / "index.json").read_text(encoding="utf-8")),
        "summary": json.loads(text(json.dumps(manifest["summary"]))),
        "quarantine": {p.name: text(p.read_text(encoding="utf-8"))
                       for p in sorted(quarantine.glob("*"))} if quarantine.exists() else {},
        "bad_records": result.bad_records,
    }


@pytest.fixture
def parallel(monkeypatch: pytest.MonkeyPatch) -> None:
    """Workers from the first page on (an export this small would otherwise not start any)."""
    monkeypatch.setattr(export_step, "PARALLEL_AFTER_PAGES", 0)


@pytest.mark.parametrize("window", [None, (5, 30)], ids=["everything", "a window"])
def test_pages_decoded_in_workers_give_the_same_checkpoint(
        tmp_path: Path, parallel: None, window: tuple[int, int] | None) -> None:
    source = _store(tmp_path / "pages")
    stamps = sorted(o["updated_at"] for p in (source / "orders").glob("*.json")
                    for o in json.loads(p.read_text(encoding="utf-8"))["items"])
    since = until = None
    if window is not None:
        since, until = (datetime.strptime(stamps[i], "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
                        for i in window)
    found = []
    switch_interval = sys.getswitchinterval()
    for workers in (0, 1, 2):
        recipe = _recipe(tmp_path / f"w{workers}", source)
        result = export_orders(recipe, new_run_id(), None, since=since, until=until,
                               workers=workers)
        assert (result.worker_pages > 0) == (workers > 0)
        assert sys.getswitchinterval() == switch_interval  # handed back with the workers
        found.append(_checkpoint(result, recipe.state_dir))
    assert found[0]["summary"]["pages"] == len(list(source.rglob("*.json")))
    # The cut page and the record of the wrong shape always; the absurd amount only inside
    # the window (it has no updated_at). Repeats: those of the window.
    assert len(found[0]["quarantine"]) == (6 if window is None else 4)
    assert found[0]["summary"]["duplicates_dropped"] == (2 if window is None else 1)
    assert found[1] == found[0]
    assert found[2] == found[0]


def test_a_full_disk_in_the_parallel_path_stops_the_workers(
        tmp_path: Path, parallel: None, monkeypatch: pytest.MonkeyPatch) -> None:
    recipe = _recipe(tmp_path, _store(tmp_path / "pages"))
    monkeypatch.setattr(faults, "_faulted", Counter())
    monkeypatch.setenv("SAGESYNC_FAULT_AT", "export.raw-page:20=ENOSPC")
    with pytest.raises(OSError) as caught:
        export_orders(recipe, new_run_id(), None, workers=2)
    assert caught.value.errno == errno.ENOSPC
    assert pool_workers(psutil.Process()) == []  # none left behind
    assert not list((recipe.state_dir / "runs").rglob("manifest.json"))


def test_a_worker_killed_mid_export_costs_nothing_but_time(tmp_path: Path) -> None:
    write_store(tmp_path, 12, seed=3, page_size=2)
    jobs = [PageJob("orders", str(p), path=str(p), digest=True)
            for p in sorted((tmp_path / "orders").glob("*.json"))]
    decoder = OrderedPool(decode_page, 1, start_after=0)
    try:
        decoder.put("first", jobs[0])
        assert [tag for tag, _ in decoder.drain()] == ["first"]
        for worker in pool_workers(psutil.Process()):
            worker.kill()
            wait_dead(worker)
        for number, job in enumerate(jobs):
            decoder.put(number, job)
        outcomes = decoder.drain()
    finally:
        decoder.close()
    assert decoder.workers == 0  # given up: the rest was decoded here
    assert [tag for tag, _ in outcomes] == list(range(len(jobs)))
    for (_, outcome), job in zip(outcomes, jobs, strict=True):
        _same(outcome, decode_page(job))
        assert outcome.digest == blake3(Path(job.origin).read_bytes()).hexdigest()


@pytest.mark.parametrize("spool_after", [0, SPOOL_AFTER])
def test_large_outcomes_come_back_through_files_that_do_not_outlive_the_pool(
        tmp_path: Path, spool_after: int) -> None:
    """A worker hands a large outcome back through a file of the pool's temporary folder, not
    the pipe (a small one, as these pages are, through the pipe); a file gone before it is
    read (a cleaner of temporary files) costs that job done again here, nothing else; and the
    folder, made in the step's own, goes with the pool."""
    write_store(tmp_path, 4, seed=5, page_size=2)
    jobs = [PageJob("orders", str(p), path=str(p), digest=True)
            for p in sorted((tmp_path / "orders").glob("*.json"))]
    step = tmp_path / "step"  # the step's checkpoint folder
    step.mkdir()
    decoder = OrderedPool(decode_page, 1, start_after=0, spool_after=spool_after, folder=step)
    try:
        for number, job in enumerate(jobs[:2]):
            decoder.put(number, job)
        assert decoder.folder is not None
        folder = Path(decoder.folder)
        assert folder.parent == step
        for queued in decoder.queued:  # both done in the worker, neither read yet
            assert isinstance(queued.outcome, Future)
            queued.outcome.result()
        spooled = sorted(folder.iterdir(), key=lambda f: f.stat().st_mtime_ns)
        assert len(spooled) == (2 if spool_after == 0 else 0)
        if spooled:
            spooled[1].unlink()
        outcomes = decoder.drain()
        assert not any(folder.iterdir())  # each file removed once read
    finally:
        decoder.close()
    assert not any(step.iterdir())  # its folder goes with the pool
    assert [tag for tag, _ in outcomes] == [0, 1]
    for (_, outcome), job in zip(outcomes, jobs, strict=True):
        _same(outcome, decode_page(job))


KILL_SCRIPT = """
import sys
import sagesync.pipeline.export_step as export_step
from sagesync.cli.main import main
export_step.PARALLEL_AFTER_PAGES = 0
sys.argv = ["sagesync", *sys.argv[1:]]
main()
"""


def test_workers_exit_when_the_export_is_killed_outright(tmp_path: Path) -> None:
    """A power cut or SIGKILL gives the workers no word: they watch their parent instead."""
    source = tmp_path / "pages"
    write_store(source, 2000, seed=9, page_size=5)  # long enough to be killed mid-way
    recipe = _recipe(tmp_path, source)
    script = tmp_path / "export.py"
    script.write_text(KILL_SCRIPT, encoding="utf-8")
    export = subprocess.Popen([sys.executable, str(script), "export-orders", "-r",
                               str(recipe.path)], env=subprocess_env(),
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    parent = psutil.Process(export.pid)
    workers: list[psutil.Process] = []
    while not workers and export.poll() is None:  # until the pool has started
        workers = pool_workers(parent)
    export.kill()
    export.wait()
    assert workers, "the export ended before its workers started"
    _, alive = psutil.wait_procs(workers, timeout=60)
    assert alive == []


def test_rows_are_written_in_row_groups_and_read_back_the_same(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = tmp_path / "pages"
    write_store(source, 30, seed=2, page_size=3)
    whole = export_orders(_recipe(tmp_path / "a", source), new_run_id(), None, workers=0)
    monkeypatch.setattr(CheckpointWriter, "ROW_GROUP_ROWS", 7)  # memory: a few pages at a time
    flushed = export_orders(_recipe(tmp_path / "b", source), new_run_id(), None, workers=0)
    for name in ("orders", "order_items", "invoices", "invoice_items"):
        small = pq.ParquetFile(flushed.manifest.parent / f"{name}.parquet")
        assert small.metadata.num_row_groups > 1
        assert small.read().equals(pq.read_table(whole.manifest.parent / f"{name}.parquet"))


def test_the_ledger_is_told_what_it_always_was(tmp_path: Path) -> None:
    """exported_records reads eight columns and formats times in Arrow: the same records."""
    source = tmp_path / "pages"
    cancelled = INVOICE.replace(b'"entity_id": 201', b'"entity_id": 202') \
        .replace(b'"state": 2', b'"state": 3').replace(b'"000000201"', b'null') \
        .replace(b'"updated_at": "2026-03-01 09:20:00"', b'"updated_at": null')
    for entity, records in (("orders", [ORDER_PLAIN, ORDER_ODD]),
                            ("invoices", [INVOICE, cancelled]), ("creditmemos", [CREDITMEMO])):
        (source / entity).mkdir(parents=True)
        (source / entity / "page-1.json").write_bytes(_page(entity, *records))
    recipe = _recipe(tmp_path, source)
    export = open_checkpoint(export_orders(recipe, new_run_id(), None).manifest)
    assert exported_records(recipe, export) == [
        Exported(RecordKey("invoice", 201, 1), "000000201", 101, "000000101",
                 "f37fa4002884cbf377286a0b026fc8c0", grand_total="129.99", magento_state="2",
                 changed_at="2026-03-01 09:20:00"),
        Exported(RecordKey("invoice", 202, 1), "", 101, "000000101",
                 exported_hash(export, "invoices", 202), grand_total="129.99",
                 magento_state="3", cancelled=True, changed_at=""),
        Exported(RecordKey("creditmemo", 301, 1), "000000301", 101, "000000101",
                 "790841b98e0fbd9dd1a57004a415b6cc", grand_total="35.00", magento_state="2",
                 changed_at="2026-03-05 09:00:00"),
    ]


def exported_hash(export: Any, table: str, entity_id: int) -> str:
    rows = export.table(table).to_pydict()
    return str(dict(zip(rows["entity_id"], rows["content_hash"], strict=True))[entity_id])


UNGUARDED_SCRIPT = """
import sys
from pathlib import Path
import sagesync.pipeline.export_step as export_step
from sagesync.pipeline.checkpoint import new_run_id
from sagesync.recipe import load_recipe
print("script run", flush=True)  # no `if __name__ == "__main__"` guard, on purpose
export_step.PARALLEL_AFTER_PAGES = 0
result = export_step.export_orders(load_recipe(Path(sys.argv[1])), new_run_id(), None,
                                   workers=2)
print("worker pages", result.worker_pages, flush=True)
"""


def test_a_script_without_a_main_guard_is_not_run_again_by_the_workers(tmp_path: Path) -> None:
    """A worker never runs the caller's __main__ (multiprocessing's "spawn" would, as
    `__mp_main__`, and a script without a main guard would export again in each worker)."""
    source = tmp_path / "pages"
    write_store(source, 40, seed=4, page_size=2)
    recipe = _recipe(tmp_path, source)
    script = tmp_path / "unguarded.py"
    script.write_text(UNGUARDED_SCRIPT, encoding="utf-8")
    done = subprocess.run([sys.executable, str(script), str(recipe.path)], env=subprocess_env(),
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("script run") == 1
    assert "worker pages 0" not in done.stdout


def test_a_live_store_decoded_in_workers_gives_the_same_checkpoint_and_ledger(
        tmp_path: Path, parallel: None, make_magento_sim) -> None:  # type: ignore[no-untyped-def]
    """Bodies travel to the workers; the raw copies, the linked orders fetched from outside
    the window, a bad record made a trigger and the bookmarks are the same as in-process."""
    entities = {k: [dict(i) for i in v] for k, v in LIVE_STORE.items()}
    for order in entities["orders"][::2]:
        order["updated_at"] = "2026-01-01 00:00:00"  # outside the window: fetched as linked
    bad_id = entities["invoices"][3]["entity_id"]
    entities["invoices"][3]["base_grand_total"] = "abc"
    sim = make_magento_sim(entities, token="tok")
    found = []
    for workers in (0, 2):
        recipe = make_recipe(tmp_path / f"w{workers}", sim, page_size=4)
        recipe = replace(recipe, magento=replace(
            recipe.magento, start_from=datetime(2026, 6, 1, tzinfo=UTC)))
        with Ledger(recipe.state_dir / "ledger.sqlite") as ledger:
            result = export_orders(recipe, new_run_id(), ledger, now=NOW, workers=workers)
            assert (result.worker_pages > 0) == (workers > 0)
            ledgered = (ledger.pending_triggers(), ledger.bookmark("export:orders"),
                        ledger.bookmark("export:invoices"), ledger.counts_by_state())
        checkpoint = _checkpoint(result, recipe.state_dir)
        checkpoint["raw"] = raw_pages(result.manifest)  # verbatim, checked against its digest
        checkpoint["summary"].pop("source")
        found.append((checkpoint, ledgered))
    assert found[0][1][0] == {"invoices": {bad_id}}
    assert found[0][0]["summary"]["linked_orders"] > 0
    assert found[1] == found[0]


@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(),
                    lambda inner: st.lists(inner, max_size=3)
                    | st.dictionaries(st.text(max_size=5), inner, max_size=3), max_leaves=5))
def test_a_customer_address_region_of_any_shape_is_text_or_none(region: object) -> None:
    """`"region": {"region": true}` (found by tests/test_magento_fuzz.py) once crashed the
    export with exit 70: the billing region column takes text or nothing."""
    from sagesync.magento.entities import CustomerAddress
    from sagesync.magento.tables import _billing

    found = _billing(CustomerAddress(region={"region": region}), "region")
    assert found == (region if isinstance(region, str) else None)
