"""What real stores and real disks do to an export, each against the simulator on loopback or
the saved-page source: absurd values and wrongly typed records (quarantined alone, exit 65),
bodies cut mid-answer, HTML where JSON was due, TLS failures, a Retry-After of an hour, and a
full state folder (exit 75). Every test names the exit code an operator sees."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
import requests

import sagesync.pipeline.export_step as export_step
from sagesync.errors import ExitCode, SageSyncError, TransientError, exit_code_of
from sagesync.ledger import Ledger
from sagesync.magento.http import RetryPolicy, send_with_retries
from sagesync.pipeline.checkpoint import new_run_id
from sagesync.pipeline.export_step import export_orders
from sagesync.testing.dataset import documents
from tests.conftest import ROOT, SAGESYNC, subprocess_env
from tests.magento_sim import MagentoSimulator
from tests.test_magento_export import NOW, exported, make_recipe

STORE = documents(1, 25, seed=5)
LOGIN_PAGE = ("<!DOCTYPE html><html><head><title>Customer Login</title></head><body>"
              "<form action=\"/customer/account/loginPost/\">...</form></body></html>")
MAINTENANCE_PAGE = ("<!doctype html><html><head><title>Service Temporarily Unavailable</title>"
                    "</head><body><h1>We're down for maintenance</h1></body></html>")


@pytest.fixture
def sim(make_magento_sim) -> MagentoSimulator:  # type: ignore[no-untyped-def]
    return make_magento_sim({k: [dict(i) for i in v] for k, v in STORE.items()}, token="tok")


def run_export(recipe: Any, ledger: Ledger | None = None, **kw: Any) -> export_step.ExportResult:
    return export_orders(recipe, new_run_id(), ledger, now=kw.pop("now", NOW), **kw)


def error_reports(state: Path) -> list[str]:
    found = sorted((state / "quarantine").rglob("*.error.txt"))
    return [p.read_text(encoding="utf-8") for p in found]


# 6, 7: one bad record ----------------------------------------------------------------------

ABSURD = {
    "1e400": ("base_grand_total", "1e400"),
    "5000 digits": ("base_grand_total", "9" * 5000),
    "entity_id 2^70": ("entity_id", str(2 ** 70)),
    "NaN string": ("grand_total", '"NaN"'),
    "wrong type": ("base_grand_total", '"abc"'),
    "line amount 1e30": ("items.0.row_total", "1e30"),
}


def _mark(item: dict[str, Any], path: str) -> str:
    """Put a unique marker where `path` points; the caller splices the raw JSON in for it."""
    *parents, last = path.split(".")
    node: Any = item
    for part in parents:
        node = node[int(part)] if part.isdigit() else node[part]
    node[last] = marker = f"@@{path}@@"
    return marker


def break_saved_invoice(demo_copy: Path, index: int, field: str, raw: str) -> Path:
    page = demo_copy.parent.parent / "samples" / "magento" / "invoices" / "page-0001.json"
    data = json.loads(page.read_text(encoding="utf-8"))
    marker = _mark(data["items"][index], field)
    text = json.dumps(data, indent=1).replace(json.dumps(marker), raw)
    assert "@@" not in text
    page.write_text(text, encoding="utf-8")
    return page


@pytest.mark.parametrize("case", list(ABSURD))
def test_one_absurd_record_is_quarantined_and_the_rest_is_exported(
        run_cli, demo_copy: Path, tmp_path: Path, case: str) -> None:  # type: ignore[no-untyped-def]
    field, raw = ABSURD[case]
    break_saved_invoice(demo_copy, 2, field, raw)
    state = tmp_path / "s"
    result = run_cli("--state-dir", str(state), "export-orders", "-r", str(demo_copy))
    assert result.exit_code == ExitCode.BAD_INPUT, result.output
    assert "internal error" not in result.output and "Traceback" not in result.output
    manifest = Path(result.stdout.strip())
    invoices = pq.read_table(manifest.parent / "invoices.parquet").column("entity_id")
    assert sorted(invoices.to_pylist()) == [1, 2, 4, 5, 6, 7, 8]  # all but the third record
    assert len(pq.read_table(manifest.parent / "orders.parquet")) == 10
    [report] = error_reports(state)
    assert "invoices/page-0001.json" in report
    assert "record 3" in report  # the record's position on the page
    assert field.rsplit(".", 1)[-1] in report  # and the field
    if case != "entity_id 2^70":
        assert "entity_id 3" in report


def test_saved_page_with_a_count_but_no_items_is_malformed(
        run_cli, demo_copy: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    page = demo_copy.parent.parent / "samples" / "magento" / "invoices" / "page-0002.json"
    for body in ({"total_count": 5}, {"total_count": 5, "items": None}):
        page.write_text(json.dumps(body), encoding="utf-8")
        state = tmp_path / f"s{len(body)}"
        result = run_cli("--state-dir", str(state), "export-orders", "-r", str(demo_copy))
        assert result.exit_code == ExitCode.BAD_INPUT, result.output
        [report] = error_reports(state)
        assert "items" in report


def test_a_bad_live_record_goes_alone_and_is_fetched_again_until_fixed(
        tmp_path: Path, sim: MagentoSimulator) -> None:
    bad_id = STORE["invoices"][4]["entity_id"]
    sim.upsert("invoices", {"entity_id": bad_id, "base_grand_total": "abc"}, touch=False)
    recipe = make_recipe(tmp_path, sim)
    with Ledger(recipe.state_dir / "ledger.sqlite") as ledger:
        first = run_export(recipe, ledger)
        assert len(first.bad_pages) == 1 and f"entity_id {bad_id}" in first.bad_pages[0]
        assert set(exported(first.manifest, "invoices")) == \
            {i["entity_id"] for i in STORE["invoices"]} - {bad_id}
        assert len(exported(first.manifest)) == len(STORE["orders"])  # the good ones went on
        assert ledger.bookmark("export:invoices") is not None  # the bookmark moved ...
        assert ledger.pending_triggers() == {"invoices": {bad_id}}  # ... the bad one is due
        # The store fixes the record without touching updated_at: the next run still gets it.
        sim.upsert("invoices", {"entity_id": bad_id, "base_grand_total":
                                STORE["invoices"][4]["base_grand_total"]}, touch=False)
        second = run_export(recipe, ledger, now=NOW.replace(year=2028))
        assert second.bad_pages == []
        assert set(exported(second.manifest, "invoices")) == {bad_id}
        assert ledger.pending_triggers() == {}


def test_an_unreadable_store_list_is_quarantined_and_the_rest_goes_on(
        tmp_path: Path, sim: MagentoSimulator) -> None:
    sim.STORE_VIEWS = [{"id": "one", "code": "default"}]  # type: ignore[misc]
    result = run_export(make_recipe(tmp_path, sim))
    assert len(result.bad_pages) == 1 and "/V1/store/storeViews" in result.bad_pages[0]
    assert len(exported(result.manifest)) == len(STORE["orders"])
    [report] = error_reports(make_recipe(tmp_path, sim).state_dir)
    assert "Expected: a JSON list of Magento store views" in report


# 8: cut bodies, HTML, TLS ----------------------------------------------------------------------

@pytest.mark.parametrize("how", ["length", "chunked", "truncated json"])
def test_a_body_cut_mid_answer_is_retried(tmp_path: Path, sim: MagentoSimulator,
                                          slept: list[float], how: str) -> None:
    if how == "truncated json":
        sim.faults.add("/V1/orders", status=200, body=b'{"items":[{"entity_id":1,"incr',
                       content_type="application/json", current_page=2)
    else:
        sim.faults.cut_body("/V1/orders", how=how, current_page=2)  # type: ignore[arg-type]
    result = run_export(make_recipe(tmp_path, sim))
    assert set(exported(result.manifest)) == {o["entity_id"] for o in STORE["orders"]}
    assert len(slept) == 1


def test_a_body_cut_every_time_is_75_naming_the_page(tmp_path: Path, sim: MagentoSimulator,
                                                      slept: list[float]) -> None:
    sim.faults.cut_body("/V1/invoices", current_page=2, times=None)
    recipe = make_recipe(tmp_path, sim, retry_attempts=3)
    with Ledger(recipe.state_dir / "ledger.sqlite") as ledger:
        with pytest.raises(TransientError) as caught:
            run_export(recipe, ledger)
        assert ledger.bookmark("export:invoices") is None
    assert "/V1/invoices page 2" in str(caught.value) and "cut off" in str(caught.value)
    assert exit_code_of(caught.value) == ExitCode.RETRY_LATER


def test_an_html_login_page_is_a_setup_error_with_what_to_check(
        tmp_path: Path, sim: MagentoSimulator, slept: list[float]) -> None:
    sim.faults.html_200(LOGIN_PAGE, "/V1/orders", times=None)
    with pytest.raises(SageSyncError) as caught:
        run_export(make_recipe(tmp_path, sim))
    message = str(caught.value)
    assert exit_code_of(caught.value) == ExitCode.USAGE
    assert "<!DOCTYPE html><html><head><title>Customer Login" in message  # first bytes
    assert f"{sim.url}/V1/orders" in message and "base_url" in message
    assert slept == []  # not retried: it will not change by itself


def test_an_html_maintenance_page_is_retried_then_75(tmp_path: Path, sim: MagentoSimulator,
                                                     slept: list[float]) -> None:
    sim.faults.html_200(MAINTENANCE_PAGE, "/V1/orders", times=1)
    result = run_export(make_recipe(tmp_path, sim))
    assert len(exported(result.manifest)) == len(STORE["orders"])
    sim.faults.html_200(MAINTENANCE_PAGE, "/V1/orders", times=None)
    with pytest.raises(TransientError) as caught:
        run_export(make_recipe(tmp_path / "b", sim, retry_attempts=2))
    assert "maintenance" in str(caught.value)


def _self_signed(folder: Path) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a self-signed certificate")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    return cert, key


@pytest.mark.parametrize("auth", ["bearer", "admin"])
def test_an_untrusted_certificate_fails_fast_with_the_host_and_the_ca_hint(
        tmp_path: Path, make_magento_sim, slept: list[float],  # type: ignore[no-untyped-def]
        monkeypatch: pytest.MonkeyPatch, auth: str) -> None:
    """Bearer meets the certificate on the first page, admin on its token endpoint."""
    import ssl

    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    cert, key = _self_signed(tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    options: dict[str, Any] = {"token": "tok"} if auth == "bearer" else \
        {"token": None, "admin": ("sync", "pw-123")}
    sim = make_magento_sim({k: [dict(i) for i in v] for k, v in STORE.items()}, start=False,
                           **options).start(tls=context)
    settings = {} if auth == "bearer" else {"auth": "admin", "username": "sync",
                                            "password": "pw-123"}
    with pytest.raises(SageSyncError) as caught:
        run_export(make_recipe(tmp_path, sim, **settings))
    message = str(caught.value)
    assert exit_code_of(caught.value) == ExitCode.USAGE
    assert "certificate verify failed" in message and "127.0.0.1" in message
    assert "REQUESTS_CA_BUNDLE" in message
    assert slept == []  # a configuration problem: never retried as if it were transient
    # Trusting the certificate (the hint) is the fix; verification itself stays on.
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(cert))
    result = run_export(make_recipe(tmp_path / "b", sim, **settings))
    assert len(exported(result.manifest)) == len(STORE["orders"])


# 9: Retry-After ---------------------------------------------------------------------------------

def test_a_retry_after_past_the_cap_stops_at_once_saying_when(
        tmp_path: Path, sim: MagentoSimulator, slept: list[float]) -> None:
    sim.faults.too_many_requests("/V1/orders", retry_after=3600, current_page=2)
    started = time.monotonic()
    with pytest.raises(TransientError) as caught:
        run_export(make_recipe(tmp_path, sim))
    assert time.monotonic() - started < 20 and 3600.0 not in slept
    message = str(caught.value)
    assert "3600 s" in message and "max_retry_after_seconds" in message and "UTC" in message
    assert sum(1 for r in sim.requests if r.endpoint == "/V1/orders"
               and r.current_page == 2) == 1


def test_the_retry_after_cap_is_a_recipe_setting(tmp_path: Path, sim: MagentoSimulator,
                                                 slept: list[float]) -> None:
    sim.faults.too_many_requests("/V1/orders", retry_after=30, current_page=2)
    result = run_export(make_recipe(tmp_path, sim))  # 30 s is under the default 120 s cap
    assert 30.0 in slept and len(exported(result.manifest)) == len(STORE["orders"])
    sim.faults.too_many_requests("/V1/orders", retry_after=30, current_page=2)
    with pytest.raises(TransientError, match="30 s"):
        run_export(make_recipe(tmp_path / "b", sim, max_retry_after_seconds=10))


def test_the_retry_after_cap_applies_to_pushes(sim: MagentoSimulator) -> None:
    sim.faults.too_many_requests("/V1/products/base-prices", retry_after=3600, method="POST")
    waits: list[float] = []
    with pytest.raises(TransientError, match="3600 s"):
        send_with_retries(requests.Session(), "POST", sim.url + "/V1/products/base-prices",
                          retry=RetryPolicy(sleep=waits.append), timeout=5,
                          describe="POST /V1/products/base-prices", body=b"{}")
    assert waits == []


# 11: a full state folder -------------------------------------------------------------------------

@pytest.mark.parametrize("point", ["export.raw-page:2=ENOSPC", "export.finish=EDQUOT",
                                   "export.ledger=SQLITE_FULL"])
def test_a_full_state_folder_is_75_and_nothing_is_lost(tmp_path: Path, point: str) -> None:
    shutil.copytree(ROOT / "samples", tmp_path / "samples")
    (tmp_path / "recipes").mkdir()
    recipe = tmp_path / "recipes" / "demo.toml"
    shutil.copy(ROOT / "recipes" / "demo.toml", recipe)
    state = tmp_path / "state"
    command = [*SAGESYNC, "--state-dir", str(state), "export-orders", "-r", str(recipe)]
    env = {**subprocess_env(), "SAGESYNC_FAULT_AT": point}
    failed = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert failed.returncode == ExitCode.RETRY_LATER, failed.stderr
    assert "Traceback" not in failed.stderr and "internal error" not in failed.stderr
    assert "full" in failed.stderr.lower() and str(state) in failed.stderr
    assert "Nothing was lost" in failed.stderr
    assert failed.stdout == ""
    if "ledger" not in point:  # no half checkpoint kept
        assert not list((state / "runs").rglob("manifest.json"))
    else:  # the checkpoint was whole, but the ledger never took it: nothing registered
        with Ledger.read_only(state / "ledger.sqlite", "check") as ledger:
            assert sum(ledger.counts_by_state().values()) == 0
    again = subprocess.run(command, env=subprocess_env(), capture_output=True, text=True,
                           timeout=120)
    assert again.returncode == ExitCode.OK, again.stderr
    assert Path(again.stdout.strip()).is_file()


def test_a_fault_point_name_that_is_unknown_kind_is_refused() -> None:
    code = ("import os; os.environ['SAGESYNC_FAULT_AT'] = 'x=NOPE'\n"
            "from sagesync.pipeline.faults import fault_point\n"
            "try:\n    fault_point('x')\nexcept ValueError as e:\n    print('refused', e)\n")
    out = subprocess.run([sys.executable, "-c", code], env=subprocess_env(),
                         capture_output=True, text=True, timeout=60)
    assert "refused" in out.stdout, out.stderr
