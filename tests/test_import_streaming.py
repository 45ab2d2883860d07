"""import-sage streams its files: documents are read and rendered a window at a time in delivery
order, from the row groups that hold them, encoded once into a spool indexed on disk, and each
file is written from its documents' spooled bytes (issue 10). These tests hold the streamed
bytes to write_file's, whole-file rendering being the definition of right, and the windows to
what a sort of the whole checkpoint gives."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sagesync.errors import ExitCode
from sagesync.pipeline import import_step
from sagesync.pipeline.checkpoint import Checkpoint
from sagesync.pipeline.import_step import _parts, _planned, _Spool, _streamed, _Tables
from sagesync.pipeline.tables import _Groups
from sagesync.render import FileSpec, load_spec, write_file
from sagesync.render.encoded import EncodedDocument
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


def spooled(spec: FileSpec, documents: list[list[list[str]]], encoding: str, folder: Path,
            accounts: Sequence[str] = ()) -> _Spool:
    """The documents encoded into a spool, as import_sage does (document n is entity id n, of
    account accounts[n] when given), sealed for reading."""
    folder.mkdir(exist_ok=True)
    spool = _Spool(folder, set())
    encoder = DocumentEncoder(spec, encoding)
    chosen = pa.table({"entity_type": ["invoice"] * len(documents),
                       "entity_id": list(range(len(documents))), "store_id": [1] * len(documents),
                       "content_hash": ["h"] * len(documents),
                       "increment_id": [str(n) for n in range(len(documents))],
                       "account_ref": [accounts[n] if accounts else "A"
                                       for n in range(len(documents))],
                       "document_key": [str(n) for n in range(len(documents))]})
    encoded = [EncodedDocument(encoder.encode(rows), len(rows), running_cell(rows))
               for rows in documents]
    booked = pa.table({"document_key": pa.array([], pa.string()),
                       "kind": pa.array([], pa.string()), "booked": pa.array([], pa.int64())})
    for first in range(0, len(documents), 3):  # an index batch per window: windows of three
        spool.add(chosen.slice(first, 3), encoded[first:first + 3], booked)
        spool.flush()
    spool.seal()
    return spool


@settings(max_examples=150, deadline=None)
@given(spec=st.sampled_from(SPECS), documents=DOCUMENTS, header=st.booleans(),
       encoding=ENCODINGS, limit=st.integers(0, 10))
def test_streamed_files_equal_write_file_for_any_documents_and_limit(
        spec: FileSpec, documents: list[list[list[str]]], header: bool, encoding: str,
        limit: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        spool = spooled(spec, documents, encoding, Path(folder))
        try:
            head, tail = file_ends(spec, header=header, encoding=encoding)
            parts = _parts(spool, limit, set(), spec)
            # the split the whole-file code made: at the limit, never inside a document
            expected: list[list[int]] = [[]]
            lines = 0
            for n, rows in enumerate(documents):
                if limit and expected[-1] and lines + len(rows) > limit:
                    expected.append([])
                    lines = 0
                expected[-1].append(n)
                lines += len(rows)
            assert [list(range(first, end)) for first, end in parts] == expected
            for first, end in parts:
                streamed = b"".join(_streamed(head, spool.spans(first, end, set()), tail,
                                              spool.bytes))
                whole = write_file(spec, documents[first:end], header=header,
                                   encoding=encoding)
                assert streamed == whole
        finally:
            spool.close()


@given(documents=DOCUMENTS, dropped=st.sets(st.sampled_from(["A", "B", "C"])),
       limit=st.integers(0, 6))
def test_the_documents_of_a_dropped_account_are_left_out_of_every_file(
        documents: list[list[list[str]]], dropped: set[str], limit: int) -> None:
    """Documents held after they were spooled (their new account cannot be written) leave
    gaps: the files are what the remaining documents make, split as they would be alone, and
    the plan lists exactly those."""
    spec = SPECS[0]
    accounts = ["ABC"[n % 3] for n in range(len(documents))]
    with tempfile.TemporaryDirectory() as folder:
        spool = spooled(spec, documents, "cp1252", Path(folder), accounts)
        try:
            kept = [n for n in range(len(documents)) if accounts[n] not in dropped]
            head, tail = file_ends(spec, header=True, encoding="cp1252")
            parts = _parts(spool, limit, dropped, spec)
            files = [b"".join(_streamed(head, spool.spans(first, end, dropped), tail,
                                        spool.bytes)) for first, end in parts]
            alone = spooled(spec, [documents[n] for n in kept], "cp1252",
                            Path(folder) / "alone")
            try:
                assert files == [b"".join(_streamed(head, alone.spans(first, end, set()), tail,
                                                    alone.bytes))
                                 for first, end in _parts(alone, limit, set(), spec)]
            finally:
                alone.close()
            names = [f"f{n}" for n in range(len(parts))]
            planned = [(k.entity_id, f) for k, _, f in _planned(spool, parts, names, dropped)]
            assert [n for n, _ in planned] == kept
            assert sorted({f for _, f in planned}) == sorted(names)
        finally:
            spool.close()


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


def _checkpoint(folder: Path, tables: dict[str, pa.Table], group: int) -> Checkpoint:
    """A checkpoint of these tables, each written in row groups of `group` rows."""
    for name, table in tables.items():
        pq.write_table(table, folder / f"{name}.parquet", row_group_size=group)
    return Checkpoint(folder / "manifest.json",
                      {"tables": {name: {"file": f"{name}.parquet"} for name in tables}})


def _expected_taxes(splits: list[tuple[str, int, str, int, int, str | None]], key: str
                    ) -> list[tuple[str, int, int]]:
    """A document's taxes rows, by hand: per tax code its own splits carry tax under, net and
    tax summed, in the order the codes first appear."""
    sums: dict[str, list[int]] = {}
    for owner, _, code, net, tax, kind in splits:
        if owner == key and kind is None:
            sums.setdefault(code, [0, 0])
            sums[code][0] += net
            sums[code][1] += tax
    return [(code, net, tax) for code, (net, tax) in sums.items() if tax]


MONEY = pa.decimal128(18, 2)


@settings(max_examples=100, deadline=None)
@given(data=st.data(), count=st.integers(0, 12), window=st.integers(1, 5),
       group=st.integers(1, 7))
def test_a_window_gets_exactly_its_documents_and_their_rows_in_delivery_order(
        data: st.DataObject, count: int, window: int, group: int) -> None:
    """Documents and child rows stored in any order and any row groups, read a window at a
    time: the windows give the documents in delivery order (sales first, then by entity type
    and id, stored order breaking ties, as a Python sort gives it) and with each one its
    splits, lines and taxes, a document's rows in stored order."""
    docs = data.draw(st.lists(st.tuples(st.sampled_from(["SI", "SC", None]),
                                        st.sampled_from(["invoice", "creditmemo", "order"]),
                                        st.integers(1, 4)), min_size=count, max_size=count))
    keys = [f"d{n}" for n in range(count)]
    owners = data.draw(st.lists(st.sampled_from([*keys, "orphan"]), max_size=30))
    splits = [(owner, n, data.draw(st.sampled_from(["T1", "T0", "T9"])),
               data.draw(st.integers(-500, 500)), data.draw(st.sampled_from([0, 1, 20, -3])),
               data.draw(st.sampled_from([None, None, "SC"])))
              for n, owner in enumerate(data.draw(st.lists(st.sampled_from([*keys, "orphan"]),
                                                          max_size=30)))]
    columns = list(zip(*splits, strict=True)) or [[]] * 6
    with tempfile.TemporaryDirectory() as folder:
        checkpoint = _checkpoint(Path(folder), {
            "documents": pa.table({"document_key": pa.array(keys, pa.string()),
                                   "transaction_type": pa.array([d[0] for d in docs],
                                                                pa.string()),
                                   "entity_type": pa.array([d[1] for d in docs], pa.string()),
                                   "entity_id": pa.array([d[2] for d in docs], pa.int64())}),
            "lines": pa.table({"document_key": pa.array(owners, pa.string()),
                               "row": pa.array(range(len(owners)), pa.int64())}),
            "splits": pa.table({
                "document_key": pa.array(columns[0], pa.string()),
                "split_no": pa.array(columns[1], pa.int32()),
                "tax_code": pa.array(columns[2], pa.string()),
                "net_amount": pa.array([Decimal(c) / 100 for c in columns[3]], MONEY),
                "tax_amount": pa.array([Decimal(c) / 100 for c in columns[4]], MONEY),
                "transaction_type": pa.array(columns[5], pa.string())})}, group)
        tables = _Tables(checkpoint, {"lines", "splits", "taxes"}, "SI")
        order = sorted(range(count), key=lambda i: (docs[i][0] != "SI", docs[i][1], docs[i][2]))
        assert tables.count == count
        for first in range(0, count, window):
            end = min(first + window, count)
            found = tables.window(first, end)
            places = order[first:end]
            assert found.documents.column("document_key").to_pylist() == \
                [keys[p] for p in places]
            assert found.children["lines"].column("row").to_pylist() == \
                [r for p in places for r, owner in enumerate(owners) if owner == keys[p]]
            assert found.children["splits"].column("split_no").to_pylist() == \
                [s[1] for p in places for s in splits if s[0] == keys[p]]
            taxes = found.children["taxes"]
            assert list(zip(taxes.column("document_key").to_pylist(),
                            taxes.column("tax_code").to_pylist(),
                            [int(v * 100) for v in taxes.column("net_amount").to_pylist()],
                            [int(v * 100) for v in taxes.column("tax_amount").to_pylist()],
                            strict=True)) == \
                [(keys[p], *row) for p in places for row in _expected_taxes(splits, keys[p])]
            assert found.children["splits"].column("net_amount").to_pylist() == \
                [Decimal(s[3]) / 100 for p in places for s in splits if s[0] == keys[p]]
            picked = data.draw(st.lists(st.sampled_from(range(end - first)), unique=True))
            documents, children = found.batch(picked)
            assert documents.column("document_key").to_pylist() == \
                [keys[places[i]] for i in picked]
            expected = [(g, r) for g, i in enumerate(picked)
                        for r, owner in enumerate(owners) if owner == keys[places[i]]]
            assert list(zip(children["lines"].group,
                            children["lines"].table.column("row").to_pylist(),
                            strict=True)) == expected


def test_a_window_reads_only_the_row_groups_that_hold_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Stored in delivery order (as the transform writes), 100 documents in row groups of 10:
    the documents at places 20..29 are read from row group 2 alone, their lines (three each)
    from the three row groups that hold them, and a whole pass keeps few groups decoded."""
    count = 100
    keys = [f"d{n:03d}" for n in range(count)]
    checkpoint = _checkpoint(tmp_path, {
        "documents": pa.table({"document_key": keys, "transaction_type": ["SI"] * count,
                               "entity_type": ["invoice"] * count,
                               "entity_id": pa.array(range(count), pa.int64())}),
        "splits": pa.table({"document_key": pa.array([], pa.string())}),
        "lines": pa.table({"document_key": [k for k in keys for _ in range(3)]})}, 10)
    tables = _Tables(checkpoint, {"lines"}, "SI")
    decoded: list[tuple[str, int]] = []
    for name, table in (("documents", tables.documents), ("lines", tables.children["lines"])):
        assert table.groups is not None
        read = table.groups.file.read_row_group

        def spy(number: int, *args: Any, name: str = name, read: Any = read,
                **kwargs: Any) -> Any:
            decoded.append((name, number))
            return read(number, *args, **kwargs)

        monkeypatch.setattr(table.groups.file, "read_row_group", spy)
    found = tables.window(20, 30)
    assert found.documents.column("document_key").to_pylist() == keys[20:30]
    assert found.children["lines"].num_rows == 30
    # rows 20..29 of the documents, 60..89 of the lines, in groups of 10
    assert sorted(decoded) == [("documents", 2), ("lines", 6), ("lines", 7), ("lines", 8)]
    for first in range(0, count, 7):
        tables.window(first, min(first + 7, count))
    assert len(tables.documents.cache) <= _Groups.CACHED
    assert len(tables.children["lines"].cache) <= _Groups.CACHED


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
    assert not list((tmp_path / "s").rglob(import_step.INDEX))


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
