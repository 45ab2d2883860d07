"""The outbound pipeline end to end: golden Sage 50 UK files, pipes versus run, reruns,
and a live export from the Magento simulator over HTTP with a bearer token."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from sagesync.errors import ExitCode
from sagesync.sage import products
from sagesync.sage.products.golden import golden_dir
from tests.conftest import DEMO_RECIPE, ROOT, SAGESYNC, subprocess_env
from tests.magento_sim import MagentoSimulator

GOLDEN = golden_dir(products.get("sage50_uk"))


def delivered(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.glob("*.csv"))}


def test_demo_run_writes_exactly_the_golden_files(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "out"
    result = run_cli("--state-dir", str(tmp_path / "s"), "run", str(DEMO_RECIPE), "--out",
                     str(out))
    assert result.exit_code == ExitCode.OK, result.output
    files = delivered(out)
    assert files == {
        "B000001-1-customers.csv": (GOLDEN / "customers.csv").read_bytes(),
        "B000001-2-audit_trail.csv": (GOLDEN / "audit_trail.csv").read_bytes(),
    }
    manifest = json.loads(Path(result.stdout.strip()).read_text())
    assert manifest["kind"] == "sage-import"
    assert manifest["summary"]["delivered"] == 10
    assert result.stdout.count("\n") == 1  # one line on stdout: the manifest


def test_golden_audit_trail_follows_the_sage_50_file_rules() -> None:
    data = (GOLDEN / "audit_trail.csv").read_bytes()
    assert data.endswith(b"\r\n") and b"\n" not in data.replace(b"\r\n", b"")
    rows = data.decode("cp1252").split("\r\n")[1:-1]
    documents: dict[tuple[str, str], list[list[str]]] = {}
    order: list[tuple[str, str]] = []
    for row in rows:
        cells = row.split(",")
        assert len(cells) == 15
        kind, account, _nominal, _, date, ref = cells[:6]
        assert kind in ("SI", "SC") and account.isalnum() and len(account) <= 8
        assert len(date) == 10 and date[2] == date[5] == "/"
        assert len(ref) <= 30 and cells[8].startswith("T")
        key = (kind, ref)
        if not order or order[-1] != key:
            assert key not in documents, f"rows of {key} are not consecutive"
            order.append(key)
        documents.setdefault(key, []).append(cells)
    for cells_list in documents.values():
        assert len({(c[1], c[4]) for c in cells_list}) == 1  # same account and date


def test_pipes_and_run_write_byte_identical_files(tmp_path: Path) -> None:
    """`export-orders | transform | import-sage` as real processes equals `run`."""
    env = subprocess_env()
    piped_out, run_out = tmp_path / "A", tmp_path / "B"
    export = subprocess.Popen([*SAGESYNC, "--state-dir", str(tmp_path / "s1"), "export-orders",
                               "-r", str(DEMO_RECIPE)], stdout=subprocess.PIPE, env=env)
    transform = subprocess.Popen([*SAGESYNC, "--state-dir", str(tmp_path / "s1"), "transform"],
                                 stdin=export.stdout, stdout=subprocess.PIPE, env=env)
    assert export.stdout is not None and transform.stdout is not None
    export.stdout.close()
    imported = subprocess.run([*SAGESYNC, "--state-dir", str(tmp_path / "s1"), "import-sage",
                               "--out", str(piped_out)], stdin=transform.stdout,
                              capture_output=True, env=env, timeout=120)
    transform.stdout.close()
    assert export.wait(60) == 0 and transform.wait(60) == 0
    assert imported.returncode == 0, imported.stderr.decode()
    assert imported.stdout.decode().strip().endswith("import-sage/manifest.json")
    ran = subprocess.run([*SAGESYNC, "--state-dir", str(tmp_path / "s2"), "run",
                          str(DEMO_RECIPE), "--out", str(run_out)], capture_output=True,
                         env=env, timeout=120)
    assert ran.returncode == 0, ran.stderr.decode()
    assert delivered(piped_out) == delivered(run_out)
    assert len(delivered(piped_out)) == 2


def test_rerun_delivers_nothing_twice(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    state, out = str(tmp_path / "s"), str(tmp_path / "out")
    assert run_cli("--state-dir", state, "run", str(DEMO_RECIPE), "--out", out).exit_code == 0
    again = run_cli("--state-dir", state, "run", str(DEMO_RECIPE), "--out", out)
    assert again.exit_code == 0
    assert "delivered 0 documents" in again.output
    assert "10 already sent earlier" in again.output
    assert len(list(Path(out).glob("*.csv"))) == 2


def test_dry_run_previews_and_changes_nothing(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    state, out = tmp_path / "s", tmp_path / "out"
    result = run_cli("--state-dir", str(state), "run", str(DEMO_RECIPE), "--out", str(out),
                     "--dry-run")
    assert result.exit_code == 0, result.output
    assert not out.exists()
    preview = Path(result.stdout.strip()).parent / "preview"
    assert (preview / "PREVIEW-2-audit_trail.csv").read_bytes() == \
        (GOLDEN / "audit_trail.csv").read_bytes()
    real = run_cli("--state-dir", str(state), "run", str(DEMO_RECIPE), "--out", str(out))
    assert "delivered 10 documents" in real.output  # the dry run consumed nothing


@pytest.fixture
def live_recipe(tmp_path: Path, make_magento_sim) -> tuple[Path, MagentoSimulator]:  # type: ignore[no-untyped-def]
    sim = make_magento_sim(folder=ROOT / "samples" / "magento", token="s3cret-token",
                           max_page_size=300)
    text = DEMO_RECIPE.read_text(encoding="utf-8")
    text = text.replace('source = "../samples/magento"',
                        'base_url = "${MAGENTO_URL}"\ntoken = "${MAGENTO_TOKEN}"\npage_size = 3')
    text = text.replace("../samples/", f"{(ROOT / 'samples').as_posix()}/")
    recipe = tmp_path / "live.toml"
    recipe.write_text(text, encoding="utf-8")
    (tmp_path / ".env").write_text(f"MAGENTO_URL={sim.url}\nMAGENTO_TOKEN=s3cret-token\n")
    return recipe, sim


def test_live_export_pages_by_total_count_and_matches_the_saved_pages(  # type: ignore[no-untyped-def]
        run_cli, tmp_path: Path, live_recipe: tuple[Path, MagentoSimulator]) -> None:
    recipe, sim = live_recipe
    out = tmp_path / "out"
    result = run_cli("--state-dir", str(tmp_path / "s"), "run", str(recipe), "--out", str(out),
                     "--until", "2027-01-01")  # the samples are dated up to 30 Nov 2026
    assert result.exit_code == 0, result.output
    assert delivered(out) == {"B000001-1-customers.csv": (GOLDEN / "customers.csv").read_bytes(),
                              "B000001-2-audit_trail.csv":
                                  (GOLDEN / "audit_trail.csv").read_bytes()}
    orders = [r for r in sim.requests if r.endpoint == "/V1/orders"]
    assert sorted(r.current_page for r in orders) == [1, 2, 3, 4]  # 10 orders, 3 a page
    for request in orders:
        assert request.page_size == 3
        assert request.query["searchCriteria[sortOrders][0][field]"] == "entity_id"
        assert request.header("Authorization") == "Bearer s3cret-token"
    state_text = "".join(p.read_text(errors="ignore") for p in (tmp_path / "s").rglob("*.json"))
    assert "s3cret-token" not in state_text


def test_live_export_stops_on_total_count_when_magento_repeats_the_last_page(  # type: ignore[no-untyped-def]
        run_cli, tmp_path: Path, make_magento_sim) -> None:
    sim = make_magento_sim(folder=ROOT / "samples" / "magento", token="t", past_end="repeat_last")
    text = DEMO_RECIPE.read_text(encoding="utf-8").replace(
        'source = "../samples/magento"', f'base_url = "{sim.url}"\ntoken = "t"\npage_size = 4')
    text = text.replace("../samples/", f"{(ROOT / 'samples').as_posix()}/")
    recipe = tmp_path / "r.toml"
    recipe.write_text(text, encoding="utf-8")
    result = run_cli("--state-dir", str(tmp_path / "s"), "export-orders", "-r", str(recipe),
                     "--until", "2027-01-01")
    assert result.exit_code == 0, result.output
    manifest = json.loads(Path(result.stdout.strip()).read_text())
    assert manifest["tables"]["orders"]["rows"] == 10
    assert manifest["summary"]["duplicates_dropped"] == 0


@pytest.mark.parametrize(("fault", "code"), [(401, ExitCode.AUTH), (503, ExitCode.RETRY_LATER),
                                             (429, ExitCode.RETRY_LATER)])
def test_live_export_failures_map_to_exit_codes(  # type: ignore[no-untyped-def]
        run_cli, tmp_path: Path, live_recipe: tuple[Path, MagentoSimulator], fault: int,
        code: ExitCode) -> None:
    recipe, sim = live_recipe
    if fault == 401:
        (tmp_path / ".env").write_text(f"MAGENTO_URL={sim.url}\nMAGENTO_TOKEN=wrong\n")
    else:
        sim.faults.status(fault, "/V1/invoices", times=None)
    result = run_cli("--state-dir", str(tmp_path / "s"), "export-orders", "-r", str(recipe))
    assert result.exit_code == code, result.output
    assert result.stdout == ""
    if fault == 401:
        assert "Bearer" in result.output and "wrong" not in result.output
