"""SFTP delivery against a real OpenSSH sshd on 127.0.0.1 (tests/fixtures_sshd.py).

The exact bytes land under their final names and nowhere else; an unknown or changed host key
is refused with its SHA256 fingerprint; refused credentials halt (77); an unreachable server is
retried next cycle (75); a dry run never connects; and a connection cut mid-upload, while a file
is renamed, or a crash at any named point, followed by a rerun, delivers each document exactly
once: the randomized trials below (a handful by default, 200 under `-m slow`) check that nothing
is lost or doubled, whether or not Sage collected the files in between.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from click.testing import CliRunner, Result

from sagesync.cli.main import cli
from sagesync.delivery.sftp import DeliveryUncertainError, SftpDelivery
from sagesync.errors import ExitCode, TransientError
from sagesync.ledger import Ledger
from sagesync.pipeline import import_step
from sagesync.pipeline.checkpoint import new_run_id, open_checkpoint
from sagesync.pipeline.import_step import import_sage
from sagesync.pipeline.lock import run_lock
from sagesync.pipeline.run import run_recipe
from sagesync.recipe import Recipe, load_recipe
from sagesync.testing.dataset import write_store
from tests.conftest import subprocess_env
from tests.fixtures_sshd import Sshd, sshd  # noqa: F401 - the fixture

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="the sshd fixture is POSIX")

CRASH_POINTS = ("after-plan", "before-rename", "after-rename", "after-file", "before-finish",
                "after-finish")
UNCERTAIN = "may have reached Sage"


#: The store and Sage settings of every recipe here; each adds its [delivery].
BASE_RECIPE = """
name = "sftp"
state_dir = "state"
[magento]
source = "pages"
[sage]
product = "sage50_uk"
max_lines_per_file = 40
[mapping]
tax_codes = { "20" = "T1", "5" = "T5", "0" = "T0" }
"""


def recipe_text(server: Sshd, remote: Path, *, auth: str | None = None,
                known_hosts: Path | None = None, port: int | None = None) -> str:
    auth = auth or f'key_file = "{server.client_key}"'
    return BASE_RECIPE + f"""[delivery]
kind = "sftp"
host = "127.0.0.1"
port = {port or server.port}
username = "{server.username}"
{auth}
known_hosts = "{known_hosts or server.known_hosts}"
path = "{remote}"
timeout_seconds = 10
"""


def delivered(*folders: Path) -> Counter[tuple[str, str, str]]:
    """(type, reference, file) of each delivered document (its rows grouped)."""
    found: Counter[tuple[str, str, str]] = Counter()
    for path in sorted(p for folder in folders if folder.exists()
                       for p in folder.glob("*audit_trail*.csv")):
        rows = path.read_bytes().decode("cp1252").split("\r\n")[1:]
        for kind, ref in {tuple(r.split(",")[0:6:5]) for r in rows if r}:
            found[(kind, ref, path.name)] += 1
    return found


@dataclass(frozen=True)
class Store:
    root: Path
    expected: frozenset[tuple[str, str]]
    baseline: dict[str, bytes]  # what a folder delivery writes, by file name
    prepared: Path  # a state folder holding a transformed (not yet imported) export
    documents: Path  # its sage-documents manifest, relative to `prepared`


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    root = tmp_path_factory.mktemp("sftp-store")
    write_store(root / "pages", 120, seed=11, page_size=50)
    base = root / "base-out"
    recipe = folder_recipe(root)
    run_id = new_run_id()
    with Ledger(root / "base-state" / "ledger.sqlite", run_id) as ledger:
        result = run_recipe(replace(recipe, state_dir=root / "base-state"), ledger, run_id,
                            out_dir=base)
    assert not result.imported.held
    baseline = {p.name: p.read_bytes() for p in base.iterdir()}
    counted = delivered(base)
    expected = frozenset((k, r) for k, r, _ in counted)
    assert len(expected) == sum(counted.values()) > 100 and len(baseline) > 3
    env = subprocess_env()
    prepared = root / "prepared"
    recipe_path = root / "folder.toml"
    exported = subprocess.run([sys.executable, "-m", "sagesync", "--state-dir", str(prepared),
                               "export-orders", "-r", str(recipe_path)],
                              check=True, capture_output=True, env=env)
    transformed = subprocess.run([sys.executable, "-m", "sagesync", "--state-dir",
                                  str(prepared), "transform"], input=exported.stdout,
                                 check=True, capture_output=True, env=env)
    manifest = Path(transformed.stdout.decode().strip())
    return Store(root, expected, baseline, prepared, manifest.relative_to(prepared))


def folder_recipe(root: Path) -> Recipe:
    path = root / "folder.toml"
    path.write_text(BASE_RECIPE + '[delivery]\npath = "out"\n', encoding="utf-8")
    return load_recipe(path)


def sftp_recipe(store: Store, server: Sshd, folder: Path, **options: Any) -> Path:
    """A recipe beside the store's pages delivering into `folder/remote` over SFTP."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "recipe.toml"
    text = recipe_text(server, folder / "remote", **options).replace(
        'source = "pages"', f'source = "{store.root / "pages"}"')
    path.write_text(text, encoding="utf-8")
    return path


def invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


# -- a whole run through the CLI ---------------------------------------------------------------

def test_a_run_delivers_the_exact_bytes_under_their_final_names(
        store: Store, sshd: Sshd, tmp_path: Path) -> None:  # noqa: F811
    recipe = sftp_recipe(store, sshd, tmp_path)
    result = invoke("--state-dir", str(tmp_path / "state"), "run", str(recipe), "--json")
    assert result.exit_code == 0, result.output
    remote = tmp_path / "remote"
    assert {p.name: p.read_bytes() for p in remote.iterdir()} == store.baseline
    report = json.loads(result.stdout)
    files = report["steps"][2]["files"]
    assert files and all(f.startswith(f"sftp://{sshd.username}@127.0.0.1:{sshd.port}/")
                         for f in files)
    manifest = json.loads(Path(report["manifest"]).read_text())
    for name, entry in manifest["files"].items():
        assert entry["sha256"] == hashlib.sha256((remote / name).read_bytes()).hexdigest()
        assert entry["path"].endswith(f"{remote}/{name}")
    again = invoke("--state-dir", str(tmp_path / "state"), "run", str(recipe))
    assert again.exit_code == 0 and sorted(p.name for p in remote.iterdir()) == \
        sorted(store.baseline)  # nothing delivered twice


def test_import_sage_with_out_delivers_to_a_local_folder_not_the_server(
        store: Store, sshd: Sshd, tmp_path: Path) -> None:  # noqa: F811
    recipe = sftp_recipe(store, sshd, tmp_path, port=1)  # the server is never asked
    state = tmp_path / "state"
    shutil.copytree(store.prepared, state)
    result = invoke("--state-dir", str(state), "import-sage", "-r", str(recipe), "--from",
                    str(state / store.documents), "--out", str(tmp_path / "local"))
    assert result.exit_code == 0, result.output
    assert {p.name: p.read_bytes() for p in (tmp_path / "local").iterdir()} == store.baseline


def test_a_dry_run_never_connects(store: Store, sshd: Sshd, tmp_path: Path) -> None:  # noqa: F811
    recipe = sftp_recipe(store, sshd, tmp_path, port=1)  # nothing listens there
    result = invoke("--state-dir", str(tmp_path / "state"), "run", str(recipe), "--dry-run")
    assert result.exit_code == 0, result.output
    assert not (tmp_path / "remote").exists()


# -- refusals ----------------------------------------------------------------------------------

def queued_untouched(state: Path, remote: Path) -> None:
    assert not remote.exists() or not list(remote.iterdir())
    with Ledger(state / "ledger.sqlite") as ledger:
        assert not ledger.counts_by_state().get("sent")
        assert not ledger.unfinished_batches()


def test_a_changed_host_key_is_refused_with_the_servers_fingerprint(
        store: Store, sshd: Sshd, tmp_path: Path) -> None:  # noqa: F811
    recipe = sftp_recipe(store, sshd, tmp_path, known_hosts=sshd.wrong_known_hosts)
    known = sshd.wrong_known_hosts.read_text()
    result = invoke("--state-dir", str(tmp_path / "state"), "run", str(recipe))
    assert result.exit_code == ExitCode.AUTH, result.output
    assert sshd.host_fingerprint in result.stderr and "does not match" in result.stderr
    assert "Traceback" not in result.output
    queued_untouched(tmp_path / "state", tmp_path / "remote")
    # the halt holds on the next cycle too: nothing is accepted behind the operator's back
    assert invoke("--state-dir", str(tmp_path / "state"), "run", str(recipe)).exit_code == 77
    assert sshd.wrong_known_hosts.read_text() == known  # never "fixed" by sagesync


def test_an_unknown_host_is_refused_with_its_fingerprint(
        store: Store, sshd: Sshd, tmp_path: Path) -> None:  # noqa: F811
    empty = tmp_path / "known_hosts"
    empty.write_text("# nothing known yet\n")
    recipe = sftp_recipe(store, sshd, tmp_path, known_hosts=empty)
    result = invoke("--state-dir", str(tmp_path / "state"), "run", str(recipe))
    assert result.exit_code == ExitCode.AUTH, result.output
    assert sshd.host_fingerprint in result.stderr and "unknown host" in result.stderr
    assert empty.read_text() == "# nothing known yet\n"  # never added
    queued_untouched(tmp_path / "state", tmp_path / "remote")


def test_a_known_key_of_another_type_is_refused_too(store: Store, sshd: Sshd,  # noqa: F811
                                                   tmp_path: Path) -> None:
    """known_hosts holds an ECDSA key for the server, which offers only Ed25519: refused as a
    changed key, never accepted and never a retry-later."""
    import paramiko

    other = paramiko.ECDSAKey.generate()
    known = tmp_path / "known_hosts"
    known.write_text(f"[127.0.0.1]:{sshd.port} {other.get_name()} {other.get_base64()}\n")
    recipe = sftp_recipe(store, sshd, tmp_path, known_hosts=known)
    result = invoke("--state-dir", str(tmp_path / "state"), "run", str(recipe))
    assert result.exit_code == ExitCode.AUTH, result.output
    assert "none of the host key types" in result.stderr
    queued_untouched(tmp_path / "state", tmp_path / "remote")


def test_a_refused_key_halts_with_the_auth_code(store: Store, sshd: Sshd,  # noqa: F811
                                                tmp_path: Path) -> None:
    recipe = sftp_recipe(store, sshd, tmp_path, auth=f'key_file = "{sshd.other_key}"')
    result = invoke("--state-dir", str(tmp_path / "state"), "run", str(recipe))
    assert result.exit_code == ExitCode.AUTH, result.output
    assert "refused" in result.stderr and "Traceback" not in result.output
    queued_untouched(tmp_path / "state", tmp_path / "remote")


def test_a_refused_password_from_env_halts_and_is_never_written_anywhere(
        store: Store, sshd: Sshd, tmp_path: Path) -> None:  # noqa: F811
    secret = "not-the-Passw0rd-7d1c"
    recipe = sftp_recipe(store, sshd, tmp_path, auth='password = "${SFTP_PASSWORD}"')
    (tmp_path / ".env").write_text(f"SFTP_PASSWORD={secret}\n")
    result = invoke("--state-dir", str(tmp_path / "state"), "run", str(recipe), "-v")
    assert result.exit_code == ExitCode.AUTH, result.output
    assert "refused" in result.stderr and "password" in result.stderr
    assert secret not in result.output
    for path in (tmp_path / "state").rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            if path.suffix == ".gz":
                import gzip

                data = gzip.decompress(data)
            assert secret.encode() not in data, path


def test_an_unreachable_server_is_retried_next_cycle(store: Store, sshd: Sshd,  # noqa: F811
                                                     tmp_path: Path) -> None:
    import socket

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    recipe = sftp_recipe(store, sshd, tmp_path, port=port)
    result = invoke("--state-dir", str(tmp_path / "state"), "run", str(recipe))
    assert result.exit_code == ExitCode.RETRY_LATER, result.output
    assert "Cannot reach the SFTP server" in result.stderr
    with Ledger(tmp_path / "state" / "ledger.sqlite") as ledger:
        assert ledger.counts_by_state().get("queued") == len(store.expected)


# -- cuts and crashes --------------------------------------------------------------------------

class _Crash(BaseException):
    """Stands for the process dying at a crash point (nothing after it runs)."""


class CuttingDelivery(SftpDelivery):
    """The recipe's SFTP delivery, but the sshd serving it is killed while file `file_no` is
    uploaded (after `chunk_no` chunks) or between its upload and its rename (`at` "rename");
    `remote` is checked the moment the connection is gone."""

    def __init__(self, recipe: Recipe, server: Sshd, file_no: int, chunk_no: int, at: str,
                 remote: Path) -> None:
        super().__init__(recipe.delivery)
        self.sshd, self.file_no, self.chunk_no, self.at = server, file_no, chunk_no, at
        self.remote, self.count, self.cut_name = remote, 0, ""

    def _cut(self, name: str) -> None:
        self.sshd.cut()
        self.cut_name = name
        assert not (self.remote / name).exists(), "a partial file under its final name"

    def deliver(self, name: str, data: bytes | Iterable[bytes],
                ready: Callable[[], None] | None = None) -> str:
        self.count += 1
        if self.count == self.file_no and self.at == "upload":
            data = self._cutting(name, data)
        elif self.count == self.file_no and self.at == "rename":
            inner = ready

            def ready() -> None:
                if inner is not None:
                    inner()
                self._cut(name)
        return super().deliver(name, data, ready)

    def _rename(self, sftp: Any, temporary: str, final: str) -> None:
        """At "reply": the server renames the file, then the connection dies before its
        answer arrives, so the client cannot know the rename happened."""
        super()._rename(sftp, temporary, final)
        if self.count == self.file_no and self.at == "reply":
            self.sshd.cut()
            self.cut_name = final
            raise EOFError("the connection closed before the server answered")

    def _cutting(self, name: str, data: bytes | Iterable[bytes]) -> Iterator[bytes]:
        for n, chunk in enumerate((data,) if isinstance(data, bytes) else data):
            if n == self.chunk_no:
                self._cut(name)
            yield chunk
        if self.chunk_no >= n + 1:
            self._cut(name)


def run_import(recipe: Recipe, state: Path, manifest: Path,
               delivery: SftpDelivery | None = None) -> import_step.ImportResult:
    run_id = new_run_id()
    with run_lock(state, "test"), Ledger(state / "ledger.sqlite", run_id) as ledger:
        return import_sage(recipe, open_checkpoint(manifest), ledger, run_id, out_dir=None,
                           dry_run=False, delivery=delivery)


def complete(recipe: Recipe, state: Path) -> None:
    run_id = new_run_id()
    with run_lock(state, "complete"), Ledger(state / "ledger.sqlite", run_id) as ledger:
        result = run_recipe(recipe, ledger, run_id)
    assert not result.imported.held


def check_invariants(store: Store, state: Path, remote: Path, collected: Path | None) -> int:
    """Nothing lost, nothing doubled, no temporary left, the ledger agrees with the files;
    returns how many documents wait for a person (their file may have reached Sage)."""
    folders = (remote,) if collected is None else (remote, collected)
    documents = delivered(*folders)
    per_document = Counter((k, r) for k, r, _ in documents)
    assert not [d for d, n in per_document.items() if n > 1], "delivered twice"
    assert set(per_document) <= store.expected
    assert not [p.name for p in remote.iterdir() if p.name.startswith(".")], "temporaries left"
    with Ledger(state / "ledger.sqlite") as ledger:
        rows = ledger.rows()
        assert len(rows) == len(store.expected)
        assert {r.state for r in rows} <= {"sent", "needs_attention"}
        held = [r for r in rows if r.state == "needs_attention"]
        assert not held or collected is not None
        for row in held:
            assert UNCERTAIN in (row.last_error or "")
        lost = store.expected - set(per_document) - {
            ("SC" if r.key.entity_type == "creditmemo" else "SI", r.increment_id) for r in held}
        assert not lost, f"documents lost: {sorted(lost)[:5]}"
        assert not ledger.unfinished_batches()
    return len(held)


def trial(store: Store, server: Sshd, folder: Path, number: int) -> str:
    """One interrupted import (a cut connection or a crash at a named point), Sage
    collecting the folder every other time, then a run to the end; returns what happened."""
    rng = random.Random(number)
    state, remote = folder / "state", folder / "remote"
    shutil.copytree(store.prepared, state)
    recipe = replace(load_recipe(sftp_recipe(store, server, folder)), state_dir=state)
    files = len(store.baseline)
    style = rng.choice(("upload", "rename", "reply", "crash"))
    point, detail = "", style
    delivery: SftpDelivery | None = None
    if style == "crash":
        point = rng.choice(CRASH_POINTS)
        nth = rng.randint(1, files) if point in ("before-rename", "after-rename",
                                                 "after-file") else 1
        detail = f"crash at {point}:{nth}"
    else:
        delivery = CuttingDelivery(recipe, server, rng.randint(1, files), rng.randint(0, 3),
                                   style, remote)
        detail = f"cut at file {delivery.file_no} ({style}, chunk {delivery.chunk_no})"
    passed: Counter[str] = Counter()

    def crash_point(name: str) -> None:
        passed[name] += 1
        if name == point and passed[name] == nth:
            raise _Crash(name)

    try:
        with mock.patch.object(import_step, "crash_point", crash_point):
            run_import(recipe, state, state / store.documents, delivery)
    except _Crash:
        pass
    except DeliveryUncertainError:
        assert style in ("rename", "reply"), detail
    except TransientError:
        assert style == "upload", detail
    collected = folder / "collected" if number % 2 else None
    if collected is not None:  # Sage takes what landed before the rerun
        collected.mkdir()
        for path in remote.glob("B*"):
            path.rename(collected / path.name)
    complete(recipe, state)
    try:
        check_invariants(store, state, remote, collected)
    except AssertionError as failure:
        raise AssertionError(f"trial {number} ({detail}, "
                             f"{'collected' if collected else 'not collected'}): {failure}"
                             ) from None
    shutil.rmtree(folder)
    return detail


def test_a_cut_mid_upload_leaves_nothing_under_the_final_name_and_the_rerun_sends_once(
        store: Store, sshd: Sshd, tmp_path: Path) -> None:  # noqa: F811
    state, remote = tmp_path / "state", tmp_path / "remote"
    shutil.copytree(store.prepared, state)
    recipe = replace(load_recipe(sftp_recipe(store, sshd, tmp_path)), state_dir=state)
    cutting = CuttingDelivery(recipe, sshd, 2, 1, "upload", remote)
    with pytest.raises(TransientError) as failure:
        run_import(recipe, state, state / store.documents, cutting)
    assert not failure.value.uncertain and cutting.cut_name
    assert "next run retries" in str(failure.value)
    landed = sorted(p.name for p in remote.iterdir() if not p.name.startswith("."))
    assert len(landed) == 1 and cutting.cut_name not in landed  # the first file only
    with Ledger(state / "ledger.sqlite") as ledger:
        assert not ledger.unfinished_batches()  # what landed is recorded; the rest queued
        assert ledger.counts_by_state().get("queued")
    complete(recipe, state)
    assert check_invariants(store, state, remote, None) == 0


def test_a_cut_during_the_rename_is_settled_by_the_next_runs_recovery(
        store: Store, sshd: Sshd, tmp_path: Path) -> None:  # noqa: F811
    state, remote = tmp_path / "state", tmp_path / "remote"
    shutil.copytree(store.prepared, state)
    recipe = replace(load_recipe(sftp_recipe(store, sshd, tmp_path)), state_dir=state)
    cutting = CuttingDelivery(recipe, sshd, 1, 0, "rename", remote)
    with pytest.raises(DeliveryUncertainError):
        run_import(recipe, state, state / store.documents, cutting)
    assert (remote / f".{cutting.cut_name}.tmp").exists()  # complete, never renamed
    with Ledger(state / "ledger.sqlite") as ledger:
        assert ledger.unfinished_batches()  # left for recovery to ask the server
    complete(recipe, state)
    assert check_invariants(store, state, remote, None) == 0
    assert sorted(p.name for p in remote.iterdir()) != []


def test_a_cut_before_the_renames_answer_never_sends_the_file_again(
        store: Store, sshd: Sshd, tmp_path: Path) -> None:  # noqa: F811
    """The server renamed the file but the answer was lost: recovery finds it in place and
    counts it delivered (or, collected already, holds its documents for a person)."""
    state, remote = tmp_path / "state", tmp_path / "remote"
    shutil.copytree(store.prepared, state)
    recipe = replace(load_recipe(sftp_recipe(store, sshd, tmp_path)), state_dir=state)
    cutting = CuttingDelivery(recipe, sshd, 2, 0, "reply", remote)
    with pytest.raises(DeliveryUncertainError):
        run_import(recipe, state, state / store.documents, cutting)
    assert len(list(remote.glob("B*"))) == 2
    complete(recipe, state)
    assert check_invariants(store, state, remote, None) == 0


def test_a_real_process_killed_before_a_rename_is_finished_exactly_once(
        store: Store, sshd: Sshd, tmp_path: Path) -> None:  # noqa: F811
    state, remote = tmp_path / "state", tmp_path / "remote"
    shutil.copytree(store.prepared, state)
    recipe_path = sftp_recipe(store, sshd, tmp_path)
    env = {**subprocess_env(), "SAGESYNC_CRASH_AT": "before-rename:2"}
    killed = subprocess.run([sys.executable, "-m", "sagesync", "--state-dir", str(state),
                             "import-sage", "-r", str(recipe_path), "--from",
                             str(state / store.documents)], env=env, capture_output=True,
                            timeout=120)
    assert killed.returncode == 137, killed.stderr.decode()
    assert len([p for p in remote.iterdir() if p.name.startswith(".")]) == 1
    assert len([p for p in remote.iterdir() if not p.name.startswith(".")]) == 1
    complete(replace(load_recipe(recipe_path), state_dir=state), state)
    assert check_invariants(store, state, remote, None) == 0


def test_a_few_random_cuts_and_crashes_lose_and_double_nothing(
        store: Store, sshd: Sshd, tmp_path: Path) -> None:  # noqa: F811
    for number in range(4):
        trial(store, sshd, tmp_path / f"trial-{number}", number)


@pytest.mark.slow
def test_200_random_cuts_and_crashes_lose_and_double_nothing(
        store: Store, sshd: Sshd, tmp_path: Path) -> None:  # noqa: F811
    seen = Counter(trial(store, sshd, tmp_path / f"trial-{n}", n).split(" ")[0]
                   for n in range(100, 300))
    assert seen["cut"] and seen["crash"]


# -- the recipe --------------------------------------------------------------------------------

@pytest.mark.parametrize(("delivery", "says"), [
    ('kind = "sftp"\nusername = "u"\nknown_hosts = "kh"\npath = "/in"\npassword = "p"',
     "needs 'delivery.host'"),
    ('kind = "sftp"\nhost = "h"\nusername = "u"\nknown_hosts = "kh"\npath = "/in"',
     "exactly one of 'delivery.key_file'"),
    ('kind = "sftp"\nhost = "h"\nusername = "u"\nknown_hosts = "missing"\npath = "/in"\n'
     'password = "p"', "delivery.known_hosts"),
    ('kind = "sftp"\nhost = "h"\nusername = "u"\nknown_hosts = "kh"\npath = "/in"\n'
     'password = "p"\nport = 70000', "delivery.port"),
    ('path = "out"\nhost = "h"', 'kind = "sftp"'),
])
def test_an_sftp_recipe_names_what_is_missing_or_wrong(tmp_path: Path, delivery: str,
                                                       says: str) -> None:
    from sagesync.errors import RecipeError

    (tmp_path / "kh").write_text("")
    path = tmp_path / "r.toml"
    path.write_text(f'name = "x"\nstate_dir = "s"\n[magento]\nsource = "p"\n[sage]\n'
                    f'product = "sage50_uk"\n[delivery]\n{delivery}\n')
    with pytest.raises(RecipeError, match=re.escape(says)):
        load_recipe(path)


def test_a_password_stays_out_of_the_recipes_repr(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "kh").write_text("")
    monkeypatch.setenv("SFTP_PASSWORD", "s3cret-value-xyz")
    path = tmp_path / "r.toml"
    path.write_text('name = "x"\nstate_dir = "s"\n[magento]\nsource = "p"\n[sage]\n'
                    'product = "sage50_uk"\n[delivery]\nkind = "sftp"\nhost = "h"\n'
                    'username = "u"\nknown_hosts = "kh"\npath = "in"\n'
                    'password = "${SFTP_PASSWORD}"\n')
    recipe = load_recipe(path)
    assert recipe.delivery.password == "s3cret-value-xyz"
    assert "s3cret" not in repr(recipe)
    assert SftpDelivery(recipe.delivery).location("B1.csv") == "sftp://u@h:22/~/in/B1.csv"
