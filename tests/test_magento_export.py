"""The live export against the Magento simulator: every fault, both past-the-end behaviours,
page-size limits, rows changing while paging, bookmarks and reruns. Each test compares the
exported set of entity ids (and content hashes) with what the store holds."""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from blake3 import blake3

from sagesync.errors import TransientError
from sagesync.ledger import Ledger
from sagesync.pipeline.checkpoint import new_run_id, open_checkpoint
from sagesync.pipeline.export_step import export_orders, read_raw_page
from sagesync.recipe import load_recipe
from sagesync.testing.dataset import documents
from tests.magento_sim import MagentoSimulator

NOW = datetime(2027, 1, 1, tzinfo=UTC)  # after every generated document
STORE = documents(1, 45, seed=3)


def make_recipe(tmp_path: Path, sim: MagentoSimulator, **magento: Any) -> Any:
    tmp_path.mkdir(parents=True, exist_ok=True)
    magento = {"page_size": 10, **magento}
    extra = "\n".join(f"{k} = {v!r}".replace("'", '"') for k, v in magento.items())
    (tmp_path / "r.toml").write_text(f"""
name = "live"
state_dir = "state"
[magento]
base_url = "{sim.url}"
token = "tok"
{extra}
[sage]
product = "sage50_uk"
""", encoding="utf-8")
    return load_recipe(tmp_path / "r.toml")


def exported(manifest: Path, table: str = "orders") -> dict[int, str]:
    data = pq.read_table(manifest.parent / f"{table}.parquet").to_pydict()
    return dict(zip(data["entity_id"], data["content_hash"], strict=True))


def export(recipe: Any, ledger: Ledger | None = None, now: datetime = NOW) -> Path:
    return export_orders(recipe, new_run_id(), ledger, now=now).manifest


def raw_pages(manifest: Path) -> dict[tuple[str, int], bytes]:
    """Every kept verbatim page, read through raw/index.json (checked against its digest)."""
    index = manifest.parent / "raw" / "index.json"
    return {(e["entity"], e["page"]): read_raw_page(index, e)
            for e in json.loads(index.read_text("utf-8"))["pages"]}


@pytest.fixture
def sim(make_magento_sim) -> MagentoSimulator:  # type: ignore[no-untyped-def]
    return make_magento_sim({k: [dict(i) for i in v] for k, v in STORE.items()}, token="tok")


def test_reference_export_has_every_row(tmp_path: Path, sim: MagentoSimulator) -> None:
    manifest = export(make_recipe(tmp_path, sim))
    assert set(exported(manifest)) == {o["entity_id"] for o in STORE["orders"]}
    assert set(exported(manifest, "invoices")) == {i["entity_id"] for i in STORE["invoices"]}


@pytest.mark.parametrize("fault", ["429", "500", "502", "503", "504", "drop", "timeout"])
def test_every_transient_fault_is_retried_and_nothing_is_lost(
        tmp_path: Path, sim: MagentoSimulator, slept: list[float], fault: str) -> None:
    reference = exported(export(make_recipe(tmp_path / "a", sim)))
    sim.requests.clear()
    if fault == "429":
        sim.faults.too_many_requests("/V1/orders", retry_after=7, current_page=3, times=2)
    elif fault == "drop":
        sim.faults.drop("/V1/orders", current_page=2)
    elif fault == "timeout":
        sim.faults.delay(1.5, "/V1/orders", current_page=4)
    else:
        sim.faults.status(int(fault), "/V1/orders", current_page=2, times=2)
    recipe = make_recipe(tmp_path / "b", sim, timeout_seconds=1)
    assert exported(export(recipe)) == reference  # same ids, same content hashes
    if fault == "429":
        assert slept.count(7.0) == 2  # Retry-After honoured
    assert len(slept) >= 1


def test_a_page_that_keeps_failing_ends_the_export_naming_it(
        tmp_path: Path, sim: MagentoSimulator, slept: list[float]) -> None:
    recipe = make_recipe(tmp_path, sim, retry_attempts=3)
    sim.faults.status(503, "/V1/invoices", current_page=2, times=None)
    with Ledger(recipe.state_dir / "ledger.sqlite") as ledger:
        with pytest.raises(TransientError) as caught:
            export(recipe, ledger)
        assert ledger.bookmark("export:orders") is None  # nothing moved
    message = str(caught.value)
    assert "/V1/invoices page 2" in message and "after 3 attempts" in message
    assert "updated_at lteq" in message and "HTTP 503" in message


def test_duplicate_id_500_is_explained(tmp_path: Path, sim: MagentoSimulator,
                                       slept: list[float]) -> None:
    sim.faults.duplicate_id_500("/V1/orders", times=None)
    with pytest.raises(TransientError, match="magento2#32306"):
        export(make_recipe(tmp_path, sim))


@pytest.mark.parametrize("past_end", ["empty", "repeat_last"])
def test_both_past_the_end_behaviours_give_the_same_rows(
        tmp_path: Path, make_magento_sim, past_end: str) -> None:  # type: ignore[no-untyped-def]
    sim = make_magento_sim({k: [dict(i) for i in v] for k, v in STORE.items()}, token="tok",
                           past_end=past_end)
    manifest = export(make_recipe(tmp_path, sim, page_size=9))
    assert sorted(exported(manifest)) == sorted(o["entity_id"] for o in STORE["orders"])
    pages = [r.current_page for r in sim.requests if r.endpoint == "/V1/orders"]
    assert max(pages) == 5  # 45 orders / 9: never a page past the end


def test_too_large_page_size_is_lowered_and_the_export_goes_on(
        tmp_path: Path, make_magento_sim) -> None:  # type: ignore[no-untyped-def]
    sim = make_magento_sim({k: [dict(i) for i in v] for k, v in STORE.items()}, token="tok",
                           max_page_size=8)
    manifest = export(make_recipe(tmp_path, sim, page_size=20))
    assert len(exported(manifest)) == 45
    assert {r.page_size for r in sim.requests if r.endpoint == "/V1/orders"} == {20, 8}


def test_rows_updated_while_paging_are_never_lost(tmp_path: Path, sim: MagentoSimulator) -> None:
    """A row updated mid-export leaves the frozen window (offset paging would skip its
    neighbour); the keyset sweep recovers the neighbour, the next run takes the row."""
    recipe = make_recipe(tmp_path, sim, concurrency=1, settle_seconds=0, overlap_seconds=0)
    touched: list[int] = []

    def update_a_passed_row(request: Any) -> None:
        if request.endpoint == "/V1/orders" and request.current_page == 3 and not touched:
            touched.append(5)
            sim.upsert("orders", {"entity_id": 5, "customer_note": "changed"})

    sim.on_request(update_a_passed_row)
    first_now = datetime.now(UTC) - timedelta(seconds=5)  # the update lands after `until`
    with Ledger(recipe.state_dir / "ledger.sqlite") as ledger:
        first = exported(export(recipe, ledger, now=first_now))
        second = exported(export(recipe, ledger, now=datetime(2030, 1, 1, tzinfo=UTC)))
    everything = {o["entity_id"] for o in STORE["orders"]}
    assert set(first) | set(second) == everything
    assert touched and 5 in second
    assert any("gt" in r.query.values() for r in sim.requests)  # the keyset sweep ran


def test_bookmarks_make_reruns_incremental_and_idempotent(tmp_path: Path,
                                                          sim: MagentoSimulator) -> None:
    recipe = make_recipe(tmp_path, sim)
    with Ledger(recipe.state_dir / "ledger.sqlite") as ledger:
        first = export(recipe, ledger)
        assert ledger.bookmark("export:orders") == "2026-12-31 23:59:00"
        sim.requests.clear()
        second = export(recipe, ledger, now=datetime(2027, 1, 2, tzinfo=UTC))
        counts = ledger.counts_by_state()
    since = next(r.query for r in sim.requests if r.endpoint == "/V1/orders")
    assert "2026-12-31 23:54:00" in since.values()  # bookmark minus the 5 minutes overlap
    assert len(exported(first)) == 45 and exported(second) == {}
    assert sum(counts.values()) == len(STORE["invoices"]) + len(STORE["creditmemos"])


def test_invoices_bring_their_orders_from_outside_the_window(
        tmp_path: Path, make_magento_sim) -> None:  # type: ignore[no-untyped-def]
    entities = {k: [dict(i) for i in v] for k, v in STORE.items()}
    for order in entities["orders"]:
        order["updated_at"] = "2026-01-01 00:00:00"  # orders untouched for months
    sim = make_magento_sim(entities, token="tok")
    recipe = replace(make_recipe(tmp_path, sim), magento=replace(
        make_recipe(tmp_path, sim).magento, start_from=datetime(2026, 6, 1, tzinfo=UTC)))
    manifest = export(recipe)
    invoice_orders = {i["order_id"] for i in entities["invoices"]}
    assert set(exported(manifest)) == invoice_orders
    checkpoint = open_checkpoint(manifest)
    assert checkpoint.manifest["summary"]["linked_orders"] == len(invoice_orders)


def test_store_and_status_filters_use_in(tmp_path: Path, sim: MagentoSimulator) -> None:
    recipe = make_recipe(tmp_path, sim, store_ids=[2], order_statuses=["complete"])
    manifest = export(recipe)
    expected = {o["entity_id"] for o in STORE["orders"]
                if o["store_id"] == 2 and o["status"] == "complete"}
    linked = {i["order_id"] for i in STORE["invoices"] if i["store_id"] == 2}
    assert expected <= set(exported(manifest)) <= expected | linked
    query = next(r.query for r in sim.requests if r.endpoint == "/V1/orders")
    assert {"store_id", "status"} <= set(query.values())
    assert list(query.values()).count("in") == 2


@pytest.mark.parametrize("mode", ["bearer", "oauth1", "admin", "ims"])
def test_every_auth_mode_exports_the_same_rows(tmp_path: Path, make_magento_sim,  # type: ignore[no-untyped-def]
                                               monkeypatch: pytest.MonkeyPatch,
                                               mode: str) -> None:
    entities = {k: [dict(i) for i in v] for k, v in STORE.items()}
    secrets = {"bearer": {"token": "tok"},
               "oauth1": {"consumer_key": "c" * 32, "consumer_secret": "s" * 32,
                          "access_token": "a" * 32, "access_token_secret": "t" * 32},
               "admin": {"username": "sync", "password": "pw-123"},
               "ims": {"client_id": "cid", "client_secret": "csecret", "org_id": "ORG@Adobe"}}
    options: dict[str, Any] = {"token": "tok" if mode == "bearer" else None}
    if mode == "oauth1":
        options["oauth"] = tuple(secrets["oauth1"].values())
    elif mode == "admin":
        options["admin"] = ("sync", "pw-123")
    elif mode == "ims":
        options.update(ims=("cid", "csecret", "ORG@Adobe"), accs=True)
    sim = make_magento_sim(entities, **options)
    for key, value in secrets[mode].items():
        monkeypatch.setenv(f"M_{key.upper()}", value)
    settings = "\n".join(f'{k} = "${{M_{k.upper()}}}"' for k in secrets[mode])
    if mode == "ims":
        settings += f'\nims_url = "{sim.ims_url}"'
    (tmp_path / "r.toml").write_text(f"""
name = "auth"
state_dir = "state"
[magento]
base_url = "{sim.url}"
auth = "{mode}"
{settings}
[sage]
product = "sage50_uk"
""", encoding="utf-8")
    recipe = load_recipe(tmp_path / "r.toml")
    manifest = export(recipe)
    assert set(exported(manifest)) == {o["entity_id"] for o in STORE["orders"]}
    stored = "".join(p.read_text(errors="ignore") for p in tmp_path.rglob("*.json"))
    stored += "".join(page.decode(errors="ignore") for page in raw_pages(manifest).values())
    for secret in secrets[mode].values():
        assert secret not in stored or len(secret) < 4


def test_store_views_and_websites_are_exported_for_company_mapping(
        tmp_path: Path, sim: MagentoSimulator) -> None:
    manifest = export(make_recipe(tmp_path, sim))
    stores = pq.read_table(manifest.parent / "stores.parquet").to_pylist()
    assert {(s["store_id"], s["code"], s["website_code"]) for s in stores} == {
        (v["id"], v["code"], next(w["code"] for w in sim.WEBSITES if w["id"] == v["website_id"]))
        for v in sim.STORE_VIEWS if v["id"] != 0}


def test_live_pages_are_kept_verbatim_as_zstd_and_indexed(tmp_path: Path,
                                                          sim: MagentoSimulator) -> None:
    manifest = export(make_recipe(tmp_path, sim))
    raw = manifest.parent / "raw"
    index = json.loads((raw / "index.json").read_text("utf-8"))["pages"]
    assert json.loads(manifest.read_text("utf-8"))["files"]["raw_index"]["sha256"] == \
        hashlib.sha256((raw / "index.json").read_bytes()).hexdigest()
    assert {e["file"] for e in index} == {p.relative_to(raw).as_posix()
                                          for p in raw.rglob("page-*.json.zst")}
    assert all(e["origin"].startswith("GET /V1/") for e in index)
    pages = raw_pages(manifest)  # decompressed and checked against size and BLAKE3
    ids = {item["entity_id"] for (entity, _), body in pages.items() if entity == "orders"
           for item in json.loads(body)["items"]}
    assert ids == set(exported(manifest))
    assert b"Bearer" not in b"".join(pages.values())  # bodies only, never headers


def test_saved_pages_are_indexed_not_copied_and_a_changed_file_is_caught(
        tmp_path: Path, sim: MagentoSimulator) -> None:
    source = tmp_path / "pages"
    shutil.copytree(Path(__file__).resolve().parent.parent / "samples" / "magento", source)
    result = export_orders(make_recipe(tmp_path, sim), new_run_id(), None, source=str(source),
                           now=NOW)
    raw = result.manifest.parent / "raw"
    assert [p.name for p in raw.iterdir()] == ["index.json"]  # nothing copied or compressed
    index = json.loads((raw / "index.json").read_text("utf-8"))["pages"]
    saved = sorted(source.glob("*/*.json"))
    assert sorted(Path(e["source"]) for e in index) == [p.resolve() for p in saved]
    for entry in index:
        body = Path(entry["source"]).read_bytes()
        assert (entry["size"], entry["blake3"]) == (len(body), blake3(body).hexdigest())
    assert raw_pages(result.manifest)  # every page reads back as exported
    # an index from before BLAKE3 gives SHA-256: its pages are still checked
    earlier = {k: v for k, v in index[0].items() if k != "blake3"}
    earlier["sha256"] = hashlib.sha256(Path(earlier["source"]).read_bytes()).hexdigest()
    assert read_raw_page(raw / "index.json", earlier) == Path(earlier["source"]).read_bytes()
    changed = Path(index[0]["source"])
    changed.write_bytes(changed.read_bytes().replace(b"}", b"} ", 1))
    for entry in (index[0], earlier):
        with pytest.raises(ValueError, match="not the page exported"):
            read_raw_page(raw / "index.json", entry)
