"""The import's amount checks run per window in Arrow (pipeline.amounts.WindowAmounts) and read
a document into Python only when a check fails: for any window, each document gets exactly the
cause `amount_problem` gives from its Python rows, and the totals per transaction type it
would sum."""

from __future__ import annotations

import csv
import io
import json
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from hypothesis import given, settings
from hypothesis import strategies as st

from sagesync.model.money import ZERO
from sagesync.model.schemas import SAGE_DOCUMENTS, SAGE_SPLITS
from sagesync.pipeline.amounts import WindowAmounts, amount_problem
from sagesync.pipeline.checkpoint import file_sha256
from sagesync.sage import products

PURPOSES = ["goods", "carriage", "discount", "adjustment_fee", "gift_card", None]


def money(low: int, high: int) -> st.SearchStrategy[Decimal]:
    return st.integers(low, high).map(lambda cents: Decimal(cents).scaleb(-2))


@st.composite
def windows(draw: st.DrawFn, limit: Decimal) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Documents and their splits; some amounts a cent or two either side of the product's
    largest, either sign."""
    near = st.integers(-3, 3).map(lambda cents: limit + Decimal(cents).scaleb(-2))
    edge = st.tuples(near, st.booleans()).map(lambda pair: pair[0] if pair[1] else -pair[0])
    documents, splits = [], []
    for n in range(draw(st.integers(1, 6))):
        key = f"invoice:{n}@1"
        own = draw(st.sampled_from(["SI", "SC"]))
        rows = draw(st.lists(st.fixed_dictionaries({
            "purpose": st.sampled_from(PURPOSES),
            "nominal_code": st.sampled_from(["4000", "4009"]),
            "net_amount": money(-5_000, 5_000) | edge,
            "tax_amount": money(-500, 500) | edge,
            "transaction_type": st.sampled_from([None, "", "SI", "SC"])}), max_size=4))
        booked = sum((r["net_amount"] + r["tax_amount"] for r in rows), ZERO)
        grand = draw(st.sampled_from([booked, booked + Decimal("0.01"), None])
                     | money(-1_000, 1_000))
        documents.append({"document_key": key, "transaction_type": own, "grand_total": grand})
        splits += [{"document_key": key, **r} for r in rows]
    return documents, splits


def _table(rows: list[dict[str, Any]], schema: pa.Schema) -> pa.Table:
    return pa.Table.from_pylist([{name: row.get(name) for name in schema.names} for row in rows],
                                schema=schema)


@settings(max_examples=300, deadline=None)
@given(st.data(), st.booleans(), st.booleans(), st.sampled_from(products.posting_keys()))
def test_the_window_checks_give_each_document_its_own_cause_and_totals(
        data: st.DataObject, negative: bool, net_only: bool, product: str) -> None:
    caps = products.get(product).capabilities
    documents, splits = data.draw(windows(caps.max_amount))
    amounts = WindowAmounts(_table(splits, SAGE_SPLITS), _table(documents, SAGE_DOCUMENTS),
                            caps, negative, net_only)
    counts, flagged = amounts.count, amounts.flagged
    booked: dict[str, dict[str, Decimal]] = {}
    for key, kind, cents in zip(*(amounts.booked[n].to_pylist()
                                  for n in ("document_key", "kind", "booked")), strict=True):
        assert kind not in booked.setdefault(key, {}), "a transaction type twice"
        booked[key][kind] = Decimal(cents).scaleb(-2)
    for n, doc in enumerate(documents):
        mine = [s for s in splits if s["document_key"] == doc["document_key"]]
        assert counts[n] == len(mine)
        cause = amount_problem(doc, mine, negative, caps)
        assert flagged[n] or cause is None, "a document Sage would refuse is not flagged"
        assert amounts.problem(doc) == cause
        expected: dict[str, Decimal] = {}
        for s in mine:
            kind = s["transaction_type"] or doc["transaction_type"]
            expected[kind] = expected.get(kind, ZERO) + s["net_amount"] + (
                ZERO if net_only else s["tax_amount"])
        assert booked.get(doc["document_key"], {}) == expected


def test_the_import_holds_a_document_whose_rows_do_not_make_its_total(
        run_cli, demo_copy: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Through the CLI: a documents checkpoint whose invoice total is a cent more than its rows
    (as a transform that got a total wrong would write it) holds that invoice at import, for
    that cause, and delivers the rest. The manifest is resealed with the new table's SHA-256:
    a table changed behind its manifest's back is refused whole (test_checkpoint_damage)."""
    exported = run_cli("-r", str(demo_copy), "export-orders")
    transformed = run_cli("transform", "--from", exported.stdout.strip().splitlines()[-1])
    assert transformed.exit_code == 0, transformed.output
    manifest = Path(transformed.stdout.strip().splitlines()[-1])
    path = manifest.parent / "documents.parquet"
    documents = pq.read_table(path)
    totals = documents["grand_total"].to_pylist()
    first = documents["entity_type"].to_pylist().index("invoice")
    number = documents["increment_id"][first].as_py()
    totals[first] += Decimal("0.01")
    place = documents.schema.get_field_index("grand_total")
    pq.write_table(documents.set_column(place, documents.schema.field(place),
                                        pa.array(totals, documents.schema.field(place).type)),
                   path)
    sealed = json.loads(manifest.read_text(encoding="utf-8"))
    sealed["tables"]["documents"]["sha256"] = file_sha256(path)
    manifest.write_text(json.dumps(sealed), encoding="utf-8")
    imported = run_cli("import-sage", "--from", str(manifest), "--out", str(tmp_path / "out"))
    assert imported.exit_code == 1, imported.output
    assert re.search(rf"held: invoice:\d+@\d+ \({number}\): the rows make (\d+\.\d\d), "
                     r"not the document's total (\d+\.\d\d)", imported.output), imported.output
    audit = next((tmp_path / "out").glob("*audit_trail*.csv")).read_text(encoding="cp1252")
    header, *rows = csv.reader(io.StringIO(audit))
    sales = [r[header.index("Reference")] for r in rows if r[0] == "SI"]
    assert number not in sales and len(sales) > 5
