"""The operator's tools must not lie: a piped run stays in one state folder, the run history
holds each command's real exit code, a dry run leaves the ledger as it was, and an unwritable
state folder, a wrong Magento URL or an interrupted step each say plainly what happened."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from sagesync.errors import ExitCode
from tests.conftest import DEMO_RECIPE, ROOT, SAGESYNC, subprocess_env


def no_traceback(text: str) -> bool:
    return "Traceback" not in text and 'File "' not in text


def edit(recipe: Path, old: str, new: str) -> None:
    text = recipe.read_text(encoding="utf-8")
    assert old in text
    recipe.write_text(text.replace(old, new), encoding="utf-8")


def ledger_dump(state: Path) -> dict[str, list[str]]:
    """Every row of every ledger table (an absent ledger is an empty dump)."""
    path = state / "ledger.sqlite"
    if not path.exists():
        return {}
    db = sqlite3.connect(path)
    try:
        tables = [r[0] for r in db.execute(
            "SELECT name FROM sqlite_master WHERE type='table' ORDER BY name")]
        return {t: sorted(repr(row) for row in db.execute(f'SELECT * FROM "{t}"'))
                for t in tables}
    finally:
        db.close()


def runs(state: Path) -> list[tuple[str, int | None]]:
    db = sqlite3.connect(state / "ledger.sqlite")
    try:
        return list(db.execute("SELECT command, exit_code FROM runs ORDER BY seq"))
    finally:
        db.close()


def unfinished_folders(state: Path) -> list[Path]:
    """Checkpoint folders without a manifest, and run folders with nothing in them."""
    found = [p for p in (state / "runs").glob("*/*") if p.is_dir()
             and not (p / "manifest.json").exists()]
    found += [p for p in (state / "runs").glob("*") if p.is_dir() and not any(p.iterdir())]
    return found


@pytest.fixture
def live(tmp_path: Path, make_magento_sim):  # type: ignore[no-untyped-def]
    """A recipe reading the samples from the Magento simulator over HTTP (token t0k)."""
    sim = make_magento_sim(folder=ROOT / "samples" / "magento", token="t0k")

    def recipe(base_url: str | None = None, token: str = "t0k") -> Path:
        text = DEMO_RECIPE.read_text(encoding="utf-8").replace(
            'source = "../samples/magento"',
            f'base_url = "{base_url or sim.url}"\ntoken = "{token}"\npage_size = 4')
        text = text.replace("../samples/", f"{(ROOT / 'samples').as_posix()}/")
        path = tmp_path / "live.toml"
        path.write_text(text, encoding="utf-8")
        return path

    return sim, recipe


# 8. A piped run stays in one state folder ---------------------------------------------------

def test_a_piped_run_stays_in_the_state_folder_it_started_in(  # type: ignore[no-untyped-def]
        demo_copy: Path, tmp_path: Path) -> None:
    """Only the first step names --state-dir; the later ones follow the manifest they read."""
    env = subprocess_env()
    state, out = tmp_path / "X", tmp_path / "out"
    recipes_own_state = tmp_path / "demo-state"  # the recipe's state_dir
    export = subprocess.Popen([*SAGESYNC, "--state-dir", str(state), "export-orders", "-r",
                               str(demo_copy)], stdout=subprocess.PIPE, env=env)
    transform = subprocess.Popen([*SAGESYNC, "transform"], stdin=export.stdout,
                                 stdout=subprocess.PIPE, env=env)
    assert export.stdout is not None and transform.stdout is not None
    export.stdout.close()
    imported = subprocess.run([*SAGESYNC, "import-sage", "--out", str(out)],
                              stdin=transform.stdout, capture_output=True, env=env, timeout=120)
    transform.stdout.close()
    assert export.wait(60) == 0 and transform.wait(60) == 0
    assert imported.returncode == 0, imported.stderr.decode()
    manifest = Path(imported.stdout.decode().strip())
    assert manifest.is_relative_to(state.resolve())
    assert not recipes_own_state.exists()
    assert json.loads(manifest.read_text())["state_dir"] == str(state.resolve())
    assert runs(state) == [("export-orders", 0), ("transform", 0), ("import-sage", 0)]
    db = sqlite3.connect(state / "ledger.sqlite")
    try:
        assert db.execute("SELECT count(*) FROM records WHERE state='sent'").fetchone()[0] == 10
    finally:
        db.close()


@pytest.mark.parametrize("override", ["--state-dir", "-r"])
def test_an_explicit_state_folder_or_recipe_on_a_later_step_wins(  # type: ignore[no-untyped-def]
        run_cli, demo_copy: Path, tmp_path: Path, override: str) -> None:
    exported = run_cli("--state-dir", str(tmp_path / "X"), "export-orders", "-r", str(demo_copy))
    assert exported.exit_code == 0, exported.output
    if override == "--state-dir":
        args, expected = ["--state-dir", str(tmp_path / "Y")], tmp_path / "Y"
    else:
        args, expected = ["-r", str(demo_copy)], tmp_path / "demo-state"
    result = run_cli("transform", "--from", exported.stdout.strip(), *args)
    assert result.exit_code == 0, result.output
    assert Path(result.stdout.strip()).is_relative_to(expected.resolve())


# 12. The run history tells the truth; a dry run changes nothing ------------------------------

def _held(run_cli, recipe: Path, tmp_path: Path, monkeypatch: Any) -> Any:  # type: ignore[no-untyped-def]
    edit(recipe, '"5" = "T5", ', "")  # 5 % VAT has no Sage code: some records are held
    return run_cli("--state-dir", str(tmp_path / "s"), "run", str(recipe), "--out",
                   str(tmp_path / "out"))


def _usage(run_cli, recipe: Path, tmp_path: Path, monkeypatch: Any) -> Any:  # type: ignore[no-untyped-def]
    edit(recipe, 'path = "../demo-state/outbox"', "")  # no delivery folder, no --out
    return run_cli("--state-dir", str(tmp_path / "s"), "run", str(recipe))


def _raises(error: BaseException):  # type: ignore[no-untyped-def]
    def step(run_cli, recipe: Path, tmp_path: Path, monkeypatch: Any) -> Any:  # type: ignore[no-untyped-def]
        import sagesync.pipeline.run as run_module

        def boom(*args: object, **kwargs: object) -> None:
            raise error

        monkeypatch.setattr(run_module, "transform", boom)
        return run_cli("--state-dir", str(tmp_path / "s"), "run", str(recipe), "--out",
                       str(tmp_path / "out"))
    return step


@pytest.mark.parametrize(("make", "code"), [
    (_held, ExitCode.HELD),
    (_usage, ExitCode.USAGE),
    (_raises(ZeroDivisionError("simulated bug")), ExitCode.BUG),
    (_raises(KeyboardInterrupt()), ExitCode.RETRY_LATER),
], ids=["held", "usage", "bug", "interrupted"])
def test_the_run_history_records_the_exit_code_the_command_returned(  # type: ignore[no-untyped-def]
        run_cli, demo_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        make: Any, code: ExitCode) -> None:
    result = make(run_cli, demo_copy, tmp_path, monkeypatch)
    assert result.exit_code == code, result.output
    assert runs(tmp_path / "s") == [("run", int(code))]


def test_refused_credentials_are_recorded_as_77(  # type: ignore[no-untyped-def]
        run_cli, tmp_path: Path, live) -> None:
    _sim, recipe = live
    result = run_cli("--state-dir", str(tmp_path / "s"), "export-orders", "-r",
                     str(recipe(token="wrong")))
    assert result.exit_code == ExitCode.AUTH, result.output
    assert runs(tmp_path / "s") == [("export-orders", int(ExitCode.AUTH))]


def stock_recipe(tmp_path: Path, base_url: str) -> Path:
    recipe = tmp_path / "stock.toml"
    recipe.write_text(f'name = "stock"\nstate_dir = "state"\n[magento]\nbase_url = "{base_url}"\n'
                      'token = "tok"\n[sage]\nproduct = "sage50_uk"\n[stock]\n'
                      'default_source = "default"\n', encoding="utf-8")
    return recipe


def test_a_malformed_file_is_recorded_as_65(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    pytest.importorskip("sagesync.sage.exports")
    recipe = stock_recipe(tmp_path, "http://127.0.0.1:9")
    broken = tmp_path / "stock.csv"
    broken.write_text("STOCK_CODE,QTY_IN_STOCK\r\nSKU-001,lots\r\n", encoding="utf-8")
    result = run_cli("-r", str(recipe), "parse-sage", str(broken), "--kind", "stock")
    assert result.exit_code == ExitCode.BAD_INPUT, result.output
    assert runs(tmp_path / "state") == [("parse-sage", int(ExitCode.BAD_INPUT))]


def test_dry_runs_leave_every_ledger_table_as_it_was(  # type: ignore[no-untyped-def]
        run_cli, demo_copy: Path, tmp_path: Path) -> None:
    state, out = tmp_path / "s", tmp_path / "out"
    exported = run_cli("--state-dir", str(state), "export-orders", "-r", str(demo_copy))
    assert exported.exit_code == 0, exported.output
    before = ledger_dump(state)
    assert before["records"]  # there is work a dry run could wrongly take
    transformed = run_cli("transform", "--from", exported.stdout.strip(), "--dry-run")
    assert transformed.exit_code == 0, transformed.output
    previewed = run_cli("import-sage", "--from", transformed.stdout.strip(), "--out", str(out),
                        "--dry-run")
    assert previewed.exit_code == 0, previewed.output
    assert "would deliver 10 documents" in previewed.output
    ran = run_cli("--state-dir", str(state), "run", str(demo_copy), "--out", str(out),
                  "--dry-run")
    assert ran.exit_code == 0, ran.output
    assert ledger_dump(state) == before
    assert not out.exists()


def test_a_dry_run_is_never_the_last_successful_run(  # type: ignore[no-untyped-def]
        run_cli, demo_copy: Path, tmp_path: Path) -> None:
    state = tmp_path / "s"
    ran = run_cli("--state-dir", str(state), "run", str(demo_copy), "--dry-run")
    assert ran.exit_code == 0, ran.output
    shown = run_cli("--state-dir", str(state), "-r", str(demo_copy), "status", "--json")
    assert json.loads(shown.stdout)["last_success"] is None
    check = run_cli("--state-dir", str(state), "-r", str(demo_copy), "status", "--check")
    assert check.exit_code == ExitCode.HELD
    assert "no successful run yet" in check.output


def test_a_dry_run_checkpoint_cannot_be_delivered(  # type: ignore[no-untyped-def]
        run_cli, demo_copy: Path, tmp_path: Path) -> None:
    state, out = tmp_path / "s", tmp_path / "out"
    exported = run_cli("--state-dir", str(state), "export-orders", "-r", str(demo_copy))
    dry = run_cli("transform", "--from", exported.stdout.strip(), "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert json.loads(Path(dry.stdout.strip()).read_text())["dry_run"] is True
    result = run_cli("import-sage", "--from", dry.stdout.strip(), "--out", str(out))
    assert result.exit_code == ExitCode.USAGE, result.output
    assert "dry run" in result.output and no_traceback(result.output)
    assert f"sagesync transform --from {exported.stdout.strip()}" in result.output
    assert result.stdout == "" and not out.exists()


def test_transform_dry_run_knows_the_accounts_the_ledger_holds(  # type: ignore[no-untyped-def]
        run_cli, demo_copy: Path, tmp_path: Path) -> None:
    state, out = tmp_path / "s", tmp_path / "out"
    first = run_cli("--state-dir", str(state), "run", str(demo_copy), "--out", str(out))
    assert first.exit_code == 0, first.output
    assert "(0 held, 0 new accounts)" not in first.output  # the demo generates accounts
    exported = run_cli("--state-dir", str(state), "export-orders", "-r", str(demo_copy))
    dry = run_cli("transform", "--from", exported.stdout.strip(), "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "(0 held, 0 new accounts)" in dry.output


# 13. Plain messages for a bad state folder, a wrong URL, an interrupted step ------------------

@pytest.mark.parametrize("given", ["--state-dir", "recipe"])
@pytest.mark.parametrize("where", ["a file", "under a file"])
@pytest.mark.parametrize("command", ["export-orders", "run", "status"])
def test_a_state_folder_that_cannot_be_created_is_exit_73(  # type: ignore[no-untyped-def]
        run_cli, demo_copy: Path, tmp_path: Path, where: str, command: str, given: str) -> None:
    """Root ignores permission bits, so the folder is made impossible: a file is in its place
    or in its path."""
    blocker = tmp_path / "blocker"
    blocker.write_text("not a folder")
    state = blocker if where == "a file" else blocker / "state"
    args = {"export-orders": ["export-orders", "-r", str(demo_copy)],
            "run": ["run", str(demo_copy), "--out", str(tmp_path / "out")],
            "status": ["-r", str(demo_copy), "status"]}[command]
    if given == "recipe":
        edit(demo_copy, 'state_dir = "../demo-state"', f'state_dir = "{state.as_posix()}"')
    else:
        args = ["--state-dir", str(state), *args]
    result = run_cli(*args)
    assert result.exit_code == ExitCode.CANT_CREATE, result.output
    assert f"{blocker} is a file, not a folder" in result.output
    assert "state folder" in result.output and no_traceback(result.output)
    assert result.stdout == "" and blocker.read_text() == "not a folder"


def test_a_file_where_a_folder_of_the_state_folder_belongs_is_exit_73(  # type: ignore[no-untyped-def]
        run_cli, demo_copy: Path, tmp_path: Path) -> None:
    """A file named `quarantine` in the state folder: the first bad page cannot be kept, so
    the run stops (nothing recorded) naming that file, and is no internal error."""
    state = demo_copy.parent.parent / "demo-state"
    state.mkdir()
    (state / "quarantine").write_text("not a folder")
    (demo_copy.parent.parent / "samples" / "magento" / "orders" / "page-0099.json").write_text(
        "{bad")
    result = run_cli("run", str(demo_copy), "--out", str(tmp_path / "out"))
    assert result.exit_code == ExitCode.CANT_CREATE, result.output
    assert f"{state / 'quarantine'} is a file, not a folder" in result.output
    assert no_traceback(result.output) and not (state / "logs").exists()
    assert (state / "quarantine").read_text() == "not a folder"


def test_a_wrong_magento_base_url_is_a_configuration_error(  # type: ignore[no-untyped-def]
        run_cli, tmp_path: Path, live) -> None:
    sim, recipe = live
    wrong = f"http://127.0.0.1:{sim.port}/shop"
    state = tmp_path / "s"
    result = run_cli("--state-dir", str(state), "export-orders", "-r", str(recipe(wrong)))
    assert result.exit_code == ExitCode.USAGE, result.output
    assert f"{wrong}/V1/orders" in result.output and "base_url" in result.output
    assert "/rest/" in result.output and no_traceback(result.output)
    assert len(sim.requests) == 1  # a 404 is not retried
    assert result.stdout == "" and unfinished_folders(state) == []


STOCK = "STOCK_CODE,QTY_IN_STOCK,QTY_ALLOCATED,QTY_ON_ORDER\r\nSKU-001,100,10,0\r\n"


def test_msi_disabled_is_a_configuration_error(  # type: ignore[no-untyped-def]
        run_cli, tmp_path: Path, make_magento_sim) -> None:
    pytest.importorskip("sagesync.sage.exports")
    sim = make_magento_sim(token="tok")  # no Inventory routes: POST source-items is a 404
    recipe = stock_recipe(tmp_path, sim.url)
    stock = tmp_path / "stock.csv"
    stock.write_text(STOCK, encoding="utf-8")
    parsed = run_cli("-r", str(recipe), "parse-sage", str(stock), "--kind", "stock")
    assert parsed.exit_code == 0, parsed.output
    result = run_cli("-r", str(recipe), "push-magento", "--from", parsed.stdout.strip())
    assert result.exit_code == ExitCode.USAGE, result.output
    assert f"{sim.url}/V1/inventory/source-items" in result.output
    assert "Inventory (MSI)" in result.output and no_traceback(result.output)
    assert runs(tmp_path / "state")[-1] == ("push-magento", int(ExitCode.USAGE))


@pytest.mark.parametrize(("target", "error", "code"), [
    ("sagesync.pipeline.export_step._stores", KeyboardInterrupt(), ExitCode.RETRY_LATER),
    ("sagesync.pipeline.export_step._stores", OSError("simulated"), ExitCode.BUG),
    ("sagesync.pipeline.transform_step._write_documents", KeyboardInterrupt(),
     ExitCode.RETRY_LATER),
    ("sagesync.pipeline.transform_step._write_documents", ZeroDivisionError("bug"),
     ExitCode.BUG),
], ids=["export-ctrl-c", "export-error", "transform-ctrl-c", "transform-bug"])
def test_an_interrupted_step_leaves_no_partial_checkpoint(  # type: ignore[no-untyped-def]
        run_cli, demo_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        target: str, error: BaseException, code: ExitCode) -> None:
    def boom(*args: object, **kwargs: object) -> None:
        raise error

    monkeypatch.setattr(target, boom)
    state = tmp_path / "s"
    result = run_cli("--state-dir", str(state), "run", str(demo_copy), "--out",
                     str(tmp_path / "out"))
    assert result.exit_code == code, result.output
    assert (state / "runs").is_dir()
    assert unfinished_folders(state) == []


def test_a_killed_step_is_never_read_and_is_cleared_by_the_next(  # type: ignore[no-untyped-def]
        run_cli, demo_copy: Path, tmp_path: Path) -> None:
    state = tmp_path / "s"
    exported = run_cli("--state-dir", str(state), "export-orders", "-r", str(demo_copy))
    manifest = exported.stdout.strip()
    env = {**subprocess_env(), "SAGESYNC_CRASH_AT": "before-rename"}  # dies like SIGKILL
    killed = subprocess.run([*SAGESYNC, "transform", "--from", manifest], env=env,
                            capture_output=True, timeout=120)
    assert killed.returncode == 137
    leftover = Path(manifest).parent.parent / "transform"
    assert leftover.is_dir() and not (leftover / "manifest.json").exists()
    for given in (leftover, leftover.parent):
        refused = run_cli("import-sage", "--from", str(given))
        assert refused.exit_code == ExitCode.USAGE, refused.output
        assert no_traceback(refused.output) and refused.stdout == ""
    run_folder = run_cli("import-sage", "--from", str(leftover.parent))
    assert f"{Path(manifest)}" in run_folder.output  # it names the finished step inside
    again = run_cli("transform", "--from", manifest)
    assert again.exit_code == 0, again.output
    assert Path(again.stdout.strip()).parent == leftover
    assert unfinished_folders(state) == []


def _last_line(result) -> Path:  # type: ignore[no-untyped-def]
    assert result.exit_code in (0, 1), result.output
    return Path(result.stdout.strip().splitlines()[-1])


def test_a_copied_state_folder_posts_each_record_once(  # type: ignore[no-untyped-def]
        run_cli, demo_copy: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    """The ledger names checkpoints by absolute path; a transform of the copy's export must
    not also read the original's (still there) as an earlier export of the same records."""
    site = demo_copy.parent.parent
    exported = _last_line(run_cli("-r", str(demo_copy), "export-orders"))
    copy = tmp_path_factory.mktemp("copied")
    shutil.copytree(site, copy, dirs_exist_ok=True)
    transformed = _last_line(run_cli("transform", "--from",
                                     str(copy / exported.relative_to(site))))
    assert copy in transformed.parents
    manifest = json.loads(transformed.read_text(encoding="utf-8"))
    keys = pq.read_table(transformed.parent / "documents.parquet")["document_key"].to_pylist()
    assert keys and len(keys) == len(set(keys))
    assert manifest["summary"]["from_earlier_exports"] == 0


def test_a_moved_state_folder_finds_its_earlier_exports_where_it_now_is(  # type: ignore[no-untyped-def]
        run_cli, demo_copy: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Records still queued in an export made before the folder moved are read from the
    folder's new place; the old one is gone."""
    site = demo_copy.parent.parent
    _last_line(run_cli("-r", str(demo_copy), "export-orders", "--until", "2026-11-09"))
    moved = tmp_path_factory.mktemp("moved")
    shutil.copytree(site, moved, dirs_exist_ok=True)
    shutil.rmtree(site)
    recipe = moved / demo_copy.relative_to(site)
    later = _last_line(run_cli("-r", str(recipe), "export-orders", "--since", "2026-11-10"))
    transformed = run_cli("transform", "--from", str(later))
    assert "gone" not in transformed.output, transformed.output
    manifest = json.loads(_last_line(transformed).read_text(encoding="utf-8"))
    assert manifest["summary"]["from_earlier_exports"] == 1


def test_trace_finds_the_sage_document_in_a_moved_state_folder(  # type: ignore[no-untyped-def]
        run_cli, demo_copy: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    site = demo_copy.parent.parent
    assert run_cli("run", str(demo_copy)).exit_code in (0, 1)
    moved = tmp_path_factory.mktemp("moved")
    shutil.copytree(site, moved, dirs_exist_ok=True)
    shutil.rmtree(site)
    traced = run_cli("-r", str(moved / demo_copy.relative_to(site)), "trace", "000000001")
    assert traced.exit_code == 0, traced.output
    assert "Sage document: SI 000000001, account WHITFI01, 26.40 GBP" in traced.output
