"""A damaged state folder is the operator's to fix, so it is never an internal error (DESIGN.md
§5): a checkpoint table that is missing or not the file its step wrote, or a ledger SQLite finds
damaged, stops the command with exit 65 and a message saying what to do, with no traceback or
crash log."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sagesync.errors import DamagedCheckpointError
from sagesync.pipeline.checkpoint import open_checkpoint


def _export(run_cli, demo_copy: Path) -> Path:  # type: ignore[no-untyped-def]
    exported = run_cli("-r", str(demo_copy), "export-orders")
    assert exported.exit_code == 0, exported.output
    return Path(exported.stdout.strip().splitlines()[-1])


def _assert_refused(result, file: Path, says: str, demo_copy: Path) -> None:  # type: ignore[no-untyped-def]
    """Exit 65, naming the file and what to do (`says`), with no traceback or crash log."""
    assert result.exit_code == 65, result.output
    assert str(file) in result.output and says in result.output, result.output
    assert "Traceback" not in result.output and "internal error" not in result.output
    logs = demo_copy.parent.parent / "demo-state" / "logs"
    assert not any(logs.glob("crash-*")) if logs.exists() else True


@pytest.mark.parametrize("damage", ["garbage", "cut short"])
def test_a_damaged_ledger_stops_with_how_to_restore_it_and_is_left_as_it_is(
        run_cli, demo_copy: Path, damage: str) -> None:  # type: ignore[no-untyped-def]
    assert run_cli("run", str(demo_copy)).exit_code == 0
    ledger = demo_copy.parent.parent / "demo-state" / "ledger.sqlite"
    whole = ledger.read_bytes()
    ledger.write_bytes(b"not a database" * 100 if damage == "garbage" else whole[:6000])
    damaged = ledger.read_bytes()
    for args in (["-r", str(demo_copy), "status"], ["run", str(demo_copy)]):
        result = run_cli(*args)
        _assert_refused(result, ledger, " .recover | sqlite3 recovered.sqlite", demo_copy)
        assert "is damaged (SQLite:" in result.output
        assert ledger.read_bytes() == damaged


def test_an_overwritten_export_table_stops_the_transform_and_a_new_export_goes_on(
        run_cli, demo_copy: Path) -> None:  # type: ignore[no-untyped-def]
    manifest = _export(run_cli, demo_copy)
    orders = manifest.parent / "orders.parquet"
    orders.write_bytes(b"garbage")
    refused = run_cli("transform", "--from", str(manifest))
    _assert_refused(refused, orders, "Rerun `sagesync export-orders` (from a live", demo_copy)
    assert "SHA-256 differs" in refused.output
    again = _export(run_cli, demo_copy)
    transformed = run_cli("transform", "--from", str(again))
    assert transformed.exit_code == 0, transformed.output


def test_a_missing_documents_table_stops_the_import(
        run_cli, demo_copy: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    transformed = run_cli("transform", "--from", str(_export(run_cli, demo_copy)))
    manifest = Path(transformed.stdout.strip().splitlines()[-1])
    documents = manifest.parent / "documents.parquet"
    documents.unlink()
    refused = run_cli("import-sage", "--from", str(manifest), "--out", str(tmp_path / "out"))
    _assert_refused(refused, documents, "Rerun `sagesync transform` to write", demo_copy)
    assert "is missing" in refused.output
    assert not list((tmp_path / "out").glob("*")) if (tmp_path / "out").exists() else True


@pytest.fixture(scope="module")
def sealed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A one-table checkpoint whose manifest holds the table's SHA-256."""
    from sagesync.pipeline.checkpoint import SCHEMA_VERSION, file_sha256

    folder = tmp_path_factory.mktemp("sealed")
    table = folder / "t.parquet"
    table.write_bytes(bytes(range(256)) * 8)
    (folder / "manifest.json").write_text(json.dumps({
        "kind": "k", "schema_version": SCHEMA_VERSION, "run_id": "r", "step": "export-orders",
        "tables": {"t": {"file": "t.parquet", "rows": 1, "sha256": file_sha256(table)}}}))
    return folder


@settings(max_examples=40, deadline=None)
@given(place=st.integers(0, 2047), flip=st.integers(1, 255))
def test_any_changed_byte_is_found_even_when_the_size_stays(
        sealed: Path, place: int, flip: int) -> None:
    """Same-size damage (a byte changed in place) is what a size or footer check would miss."""
    table = sealed / "t.parquet"
    whole = table.read_bytes()
    checkpoint = open_checkpoint(sealed)
    try:
        table.write_bytes(whole[:place] + bytes([whole[place] ^ flip]) + whole[place + 1:])
        with pytest.raises(DamagedCheckpointError, match="export-orders"):
            checkpoint.table_file("t")
    finally:
        table.write_bytes(whole)
    assert checkpoint.table_file("t") == table


def test_a_damaged_earlier_export_is_named_and_the_new_one_goes_on(
        run_cli, demo_copy: Path) -> None:  # type: ignore[no-untyped-def]
    """Records still queued in an earlier export whose table is damaged wait, named in a
    warning; the later export's own records are transformed as usual."""
    earlier = run_cli("-r", str(demo_copy), "export-orders", "--until", "2026-11-09")
    assert earlier.exit_code == 0, earlier.output
    damaged = Path(earlier.stdout.strip().splitlines()[-1]).parent / "order_items.parquet"
    damaged.write_bytes(b"damaged")
    later = run_cli("-r", str(demo_copy), "export-orders", "--since", "2026-11-10")
    assert later.exit_code == 0, later.output
    transformed = run_cli("transform", "--from", later.stdout.strip().splitlines()[-1])
    assert transformed.exit_code == 0, transformed.output
    assert "queued records wait in an earlier export, which is damaged" in transformed.output
    assert str(damaged) in transformed.output and "--since" in transformed.output
    manifest = json.loads(Path(transformed.stdout.strip().splitlines()[-1]).read_text())
    assert manifest["summary"]["documents"] > 0
    assert manifest["summary"]["from_earlier_exports"] == 0


@pytest.mark.parametrize("cut", ["tables", "file"])
def test_a_manifest_without_its_tables_is_not_a_manifest(
        run_cli, demo_copy: Path, cut: str) -> None:  # type: ignore[no-untyped-def]
    manifest = _export(run_cli, demo_copy)
    written = json.loads(manifest.read_text(encoding="utf-8"))
    if cut == "tables":
        del written["tables"]
    else:
        del written["tables"]["orders"]["file"]
    manifest.write_text(json.dumps(written), encoding="utf-8")
    refused = run_cli("transform", "--from", str(manifest))
    assert refused.exit_code == 2, refused.output
    assert f"{manifest} is not a sagesync manifest" in refused.output
