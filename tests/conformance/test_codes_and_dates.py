"""Codes within the product's lengths and patterns, dates in its date format, in every row.

The limits are the product's capabilities (`code_lengths`, `code_patterns`, `date_format`),
checked on the delivered cells of every file (documents and accounts). A reference exactly at
its limit is delivered; one a character longer holds its document rather than reach Sage cut.
Each document's date is its Magento creation time on the recipe's calendar.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sagesync.recipe import load_recipe
from sagesync.render.cells import format_date
from sagesync.sage.products import SageProduct
from tests.conformance.harness import (
    Delivered,
    MagentoStore,
    document_specs,
    few,
    owner_of,
    parse_date,
    read_delivered,
    require,
    run_recipe_cli,
    synthetic_store,
    write_magento,
    write_recipe,
)


def code_problems(product: SageProduct, delivered: Delivered) -> list[str]:
    """Every code cell longer than the product allows or not matching its pattern, and every
    date cell not in its date format."""
    caps = product.capabilities
    problems = []
    for row in delivered.rows:
        where = f"{row.file} row {row.number}"
        for column, cell in zip(row.columns, row.cells, strict=True):
            limit = caps.code_lengths.get(column.field or "")
            pattern = caps.code_patterns.get(column.field or "")
            if limit is not None and len(cell) > limit:
                problems.append(f"{where} {column.name}: {cell!r} is over {limit}")
            if pattern is not None and cell and not re.fullmatch(pattern, cell):
                problems.append(f"{where} {column.name}: {cell!r} does not match {pattern}")
            if column.kind == "date" and cell and parse_date(cell, caps.date_format) is None:
                problems.append(f"{where} {column.name}: {cell!r} not {caps.date_format}")
    return problems


def assert_dates_are_magentos(product: SageProduct, store: MagentoStore, recipe: Path,
                              delivered: Delivered) -> None:
    """Each date cell of a document's rows (of any record: a header's only, or every row's)
    is its Magento creation day on the recipe's calendar."""
    caps = product.capabilities
    zone = ZoneInfo(load_recipe(recipe).sage.timezone)
    created = store.created(product)
    rows = delivered.of(document_specs(product))
    assert rows, "no document rows"
    assert all(any(c.kind == "date" for r in spec.records for c in r.columns)
               for spec in document_specs(product)), "a documents file without a date column"
    for row in rows:
        when = created[owner_of(product, row, created)]
        moment = datetime.strptime(when, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
        day = format_date(moment.astimezone(zone), caps.date_format)
        # a first-only date (Intacct's) is its document's, written on its first row only
        dates = [row.fields.get(c.field or "", "") if c.first_only else cell
                 for c, cell in zip(row.columns, row.cells, strict=True) if c.kind == "date"]
        assert dates == [day] * len(dates), (row.file, row.number, when)


@few(4)
@given(first=st.integers(1, 10_000), count=st.integers(1, 8), seed=st.integers(0, 2**32))
def test_every_code_fits_and_every_date_is_in_the_products_format(
        product: SageProduct, tmp_path_factory: pytest.TempPathFactory, first: int,
        count: int, seed: int) -> None:
    folder = tmp_path_factory.mktemp(f"codes-{product.key}")
    store = synthetic_store(folder / "pages", first, count, seed,
                            credit_notes=product.capabilities.credit_notes)
    recipe = write_recipe(product, folder, store.source)
    run_recipe_cli(product, recipe)
    delivered = read_delivered(product, folder / "out")
    assert not code_problems(product, delivered)
    assert_dates_are_magentos(product, store, recipe, delivered)


def test_a_reference_at_its_limit_is_delivered_and_one_over_it_is_held(
        product: SageProduct, tmp_path: Path) -> None:
    require(product, "code_lengths", "no code length is documented")
    caps = product.capabilities
    limit = caps.code_lengths.get(caps.reference_field)
    if not limit:
        pytest.skip(f"{product.key}: capability code_lengths has no {caps.reference_field}")
    pattern = caps.code_patterns.get(caps.reference_field)
    at, over = "7" * limit, "8" * (limit + 1)
    if pattern and not re.fullmatch(pattern, at):
        pytest.skip(f"{product.key}: capability code_patterns[{caps.reference_field}] "
                    "takes no all-digit reference")
    made = synthetic_store(tmp_path / "made", 1, 2, seed=9, credit_notes=False)
    sales = made.sales(product)  # the documents posted as sales: invoices, or orders
    assert len(sales) == 2
    renamed = {id(sales[0]): at, id(sales[1]): over}
    store = write_magento(
        tmp_path / "pages",
        *([{**d, "increment_id": renamed.get(id(d), d["increment_id"])} for d in documents]
          for documents in (made.orders, made.invoices)), [])
    outcome = run_recipe_cli(product, write_recipe(product, tmp_path, store.source))
    delivered = read_delivered(product, tmp_path / "out")
    assert not code_problems(product, delivered)
    references = {r.fields[caps.reference_field] for r in delivered.of(document_specs(product))}
    assert references == {at}, "the reference at the limit, whole, and nothing cut"
    assert outcome.states[(caps.sale_type, over)] == "held"
    assert str(limit) in outcome.reasons[(caps.sale_type, over)]
