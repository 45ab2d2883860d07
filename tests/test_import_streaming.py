"""import-sage streams its files: documents are rendered a window at a time, encoded once into a
spool, and each file is written from its documents' spooled bytes (issue 10). These tests hold
the streamed bytes to write_file's, whole-file rendering being the definition of right."""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sagesync.errors import ExitCode
from sagesync.pipeline import import_step
from sagesync.pipeline.import_step import _Chosen, _split, _streamed, _Tables
from sagesync.render import FileSpec, load_spec, write_file
from sagesync.render.writers import DocumentEncoder, file_ends, running_cell
from sagesync.sage import products
from sagesync.sage.products.golden import golden_dir
from tests.conftest import DEMO_RECIPE

SPECS = [load_spec(key, name) for key in products.PRODUCTS
         for name in products.get(key).templates]
# Cells the renderer could give: separators, quotes, line breaks, accents, plain numbers.
CELLS = st.one_of(st.sampled_from(["", "O'Neill", "Smith, Jones & Co", 'Tee "Classic" Fit',
                                   "line\nbreak", "tab\there", "Zoë Brontë", "-5.00", "12.34"]),
                  st.text(alphabet="abcXYZ019 ,;\"'|é", max_size=8))
DOCUMENTS = st.lists(st.lists(st.lists(CELLS, min_size=1, max_size=5), min_size=1, max_size=4),
                     min_size=1, max_size=12)
ENCODINGS = st.sampled_from(["cp1252", "utf-8", "utf-8-sig", "utf-16"])


def spooled(spec: FileSpec, documents: list[list[list[str]]], encoding: str
            ) -> tuple[io.BytesIO, list[_Chosen]]:
    """The documents encoded into a spool, as import_sage does."""
    spool, chosen = io.BytesIO(), []
    encoder = DocumentEncoder(spec, encoding)
    for n, rows in enumerate(documents):
        data = encoder.encode(rows)
        chosen.append(_Chosen({"n": n}, spool.tell(), len(data), len(rows), {}, None))
        spool.write(data)
    return spool, chosen


@settings(max_examples=150, deadline=None)
@given(spec=st.sampled_from(SPECS), documents=DOCUMENTS, header=st.booleans(),
       encoding=ENCODINGS, limit=st.integers(0, 10))
def test_streamed_files_equal_write_file_for_any_documents_and_limit(
        spec: FileSpec, documents: list[list[list[str]]], header: bool, encoding: str,
        limit: int) -> None:
    spool, chosen = spooled(spec, documents, encoding)
    head, tail = file_ends(spec, header=header, encoding=encoding)
    parts = _split(chosen, limit)
    # the split the whole-file code made: at the limit, never inside a document
    expected: list[list[int]] = [[]]
    lines = 0
    for n, rows in enumerate(documents):
        if limit and expected[-1] and lines + len(rows) > limit:
            expected.append([])
            lines = 0
        expected[-1].append(n)
        lines += len(rows)
    assert [[c.doc["n"] for c in part] for part in parts] == expected
    for part in parts:
        streamed = b"".join(_streamed(head, part, tail, spool))
        whole = write_file(spec, [documents[c.doc["n"]] for c in part], header=header,
                           encoding=encoding)
        assert streamed == whole


@given(documents=DOCUMENTS)
def test_streaming_skips_documents_dropped_after_spooling(
        documents: list[list[list[str]]]) -> None:
    """Documents held after they were spooled (their account cannot be written) leave gaps."""
    spec = SPECS[0]
    spool, chosen = spooled(spec, documents, "cp1252")
    kept = chosen[::2]
    head, tail = file_ends(spec, header=True, encoding="cp1252")
    assert b"".join(_streamed(head, kept, tail, spool)) == write_file(
        spec, [documents[c.doc["n"]] for c in kept], header=True, encoding="cp1252")


@pytest.mark.parametrize(("rows", "found"), [
    ([["a", "1"], ["b", "-5"]], None),
    ([["a", "1"], ["b", "=1+1"], ["@x", "c"]], (1, "=1+1")),
])
def test_running_cell_finds_what_write_file_refuses(rows: Sequence[Sequence[str]],
                                                    found: tuple[int, str] | None) -> None:
    assert running_cell(rows) == found
    if found is not None:
        with pytest.raises(ValueError, match=rf"row {found[0] + 1}: cell '=1\+1' would run"):
            write_file(SPECS[0], [rows], header=False, encoding="cp1252")


class _Checkpoint:
    """Just what _Tables reads of a checkpoint."""

    def __init__(self, tables: dict[str, pa.Table]) -> None:
        self.tables = tables
        self.manifest = {"tables": dict.fromkeys(tables)}

    def table(self, name: str) -> pa.Table:
        return self.tables[name]


@settings(max_examples=100, deadline=None)
@given(data=st.data(), count=st.integers(1, 12), window=st.integers(1, 5))
def test_a_window_gets_exactly_its_documents_children_in_order(
        data: st.DataObject, count: int, window: int) -> None:
    """Documents and child rows in any stored order, read in any delivery order and window:
    each window's splits and lines are its documents', in their stored order, as the whole
    table would give them."""
    keys = data.draw(st.permutations([f"d{n}" for n in range(count)]))
    owners = data.draw(st.lists(st.sampled_from([*keys, "orphan"]), max_size=30))
    owned = pa.array(owners, pa.string())
    children = pa.table({"document_key": owned, "row": list(range(len(owners)))})
    splits = pa.table({"document_key": owned, "net_amount": list(range(len(owners)))})
    tables = _Tables(_Checkpoint({"documents": pa.table({"document_key": keys}),
                                  "splits": splits, "lines": children}), {"lines"})
    order = data.draw(st.permutations(range(count)))
    tables.arrange(order)
    for first in range(0, count, window):
        end = min(first + window, count)
        places = order[first:end]
        picked = data.draw(st.lists(st.sampled_from(places), unique=True))
        documents, found = tables.batch(picked, first, end)
        assert documents.column("document_key").to_pylist() == [keys[p] for p in picked]
        expected = [(g, r) for g, p in enumerate(picked)
                    for r, owner in enumerate(owners) if owner == keys[p]]
        assert list(zip(found["lines"].group, found["lines"].table.column("row").to_pylist(),
                        strict=True)) == expected
        got = tables.splits(first, end)
        assert {k: [s["net_amount"] for s in v] for k, v in got.items()} == {
            keys[p]: [r for r, owner in enumerate(owners) if owner == keys[p]]
            for p in places if keys[p] in owners}


def delivered(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.glob("*.csv"))}


@pytest.mark.parametrize("window", [1, 3, 4])
def test_window_boundaries_inside_the_documents_change_nothing(
        run_cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, window: int) -> None:  # type: ignore[no-untyped-def]
    """The demo's 10 documents read 1, 3 or 4 at a time: the golden files, the same summary."""
    monkeypatch.setattr(import_step, "WINDOW", window)
    out = tmp_path / "out"
    result = run_cli("--state-dir", str(tmp_path / "s"), "run", str(DEMO_RECIPE), "--out",
                     str(out))
    assert result.exit_code == ExitCode.OK, result.output
    golden = golden_dir(products.get("sage50_uk"))
    assert delivered(out) == {
        "B000001-1-customers.csv": (golden / "customers.csv").read_bytes(),
        "B000001-2-audit_trail.csv": (golden / "audit_trail.csv").read_bytes(),
    }
    summary = json.loads(Path(result.stdout.strip()).read_text())["summary"]
    assert summary["delivered"] == 10
    assert not list((tmp_path / "s").rglob(import_step.SPOOL))  # the spool is cleaned up


def test_split_files_are_the_same_whatever_the_window(
        run_cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, demo_copy: Path) -> None:  # type: ignore[no-untyped-def]
    """With files split at 7 lines, windows of 1 and of everything write the same files."""
    text = demo_copy.read_text()
    demo_copy.write_text(text.replace("[sage]\n", "[sage]\nmax_lines_per_file = 7\n", 1))
    files = []
    for window in (1, 2000):
        monkeypatch.setattr(import_step, "WINDOW", window)
        out = tmp_path / f"out{window}"
        result = run_cli("--state-dir", str(tmp_path / f"s{window}"), "run", str(demo_copy),
                         "--out", str(out))
        assert result.exit_code == ExitCode.OK, result.output
        files.append(delivered(out))
    assert len(files[0]) > 2  # the audit trail was split
    assert files[0] == files[1]
