"""Encoding and formula neutralisation, judged on the delivered bytes.

Customers with names and addresses outside the product's encoding and starting with = + - @
or a full-width ＝; invoices whose reference (a code) starts with one. Every delivered byte
decodes in the product's encoding, no text cell can start a spreadsheet formula (judged in the
compatibility form a spreadsheet may fold it to, after blanks), money cells are plain numbers,
and a code that would start a formula holds its document instead of reaching Sage altered.
"""

from __future__ import annotations

import random
import unicodedata
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sagesync.sage.products import SageProduct
from sagesync.testing.factory import (
    AddressSpec,
    CustomerSpec,
    build_invoice,
    build_order,
    random_order_spec,
)
from tests.conformance.harness import (
    Delivered,
    MagentoStore,
    document_specs,
    few,
    occurrences,
    read_delivered,
    run_recipe_cli,
    write_magento,
    write_recipe,
)
from tests.strategies import texts

#: What a spreadsheet runs when a cell starts with it (OWASP CSV injection).
FORMULA = ("=", "+", "-", "@", "\t", "\r", "\n")
NUMERIC = ("money", "signed_money", "decimal", "quantity", "integer")
SIGNS = ("=", "+", "-", "@", "\uff1d")  # the last: full-width ＝, folds to =
#: Letters from scripts a single-byte Windows code page lacks (which ones are outside depends
#: on the product's encoding; a UTF-8 product has none outside).
FOREIGN = ("Łukasz Żółć", "Дмитрий", "عبدالله", "王芳", "Ngọc Ánh", "Ōtsuka", "🙂 Smile")
#: Non-ASCII names one of which the product's encoding holds: they must arrive verbatim (a file
#: written in another encoding still decodes, as mojibake, so decoding alone proves little).
KEPT = ("Zoë Brontë", "Siobhán Ní Bhriain", "Ærøskøbing", "Jürgen Groß", "Ζωή", "Дарья")


def formula_cells(product: SageProduct, delivered: Delivered) -> list[str]:
    """Every cell a spreadsheet would run, as `file row n column: cell`."""
    found = []
    for row in delivered.rows:
        for column, cell in zip(row.columns, row.cells, strict=True):
            if column.kind in NUMERIC and cell:
                Decimal(cell)  # a plain number, which no spreadsheet runs
                continue
            folded = unicodedata.normalize("NFKC", cell)
            if cell.startswith(FORMULA) or folded.lstrip().startswith(FORMULA):
                found.append(f"{row.file} row {row.number} {column.name}: {cell!r}")
    return found


def store_with(folder: Path, names: list[tuple[str, str, str, str, str]],
               references: dict[int, str]) -> MagentoStore:
    """One registered customer per name tuple (first, last, street, town, company), each with
    an invoiced order; `references` gives some orders and their invoices their own increment
    id (the one posted, whichever the product posts a sale from)."""
    orders, invoices = [], []
    for n, (first, last, street, town, company) in enumerate(names, start=1):
        spec = random_order_spec(random.Random(n), n, guest_share=0)
        spec = replace(spec, increment_id=references.get(n, spec.increment_id))
        address = AddressSpec(first, last, (street,), town, "LS1 4AP", "+44 113 496 0000",
                              company=company or None, region=town)
        customer = CustomerSpec(f"c{n}@example.com", first, last, address, customer_id=500 + n)
        order = build_order(replace(spec, customer=customer, state="complete", invoiced=True),
                            include_parent_item=False)
        orders.append(order)
        invoices.append(build_invoice(order, n, spec.increment_id,
                                      spec.created_at + timedelta(minutes=5)))
    return write_magento(folder, orders, invoices, [])


def test_text_outside_the_encoding_or_starting_a_formula_reaches_sage_inert(
        product: SageProduct, tmp_path: Path) -> None:
    caps = product.capabilities
    outside = [t for t in FOREIGN if not _encodable(t, caps.encoding)]
    names = [(f"{sign}cmd|' /C calc'!A0", foreign, f"{sign}SUM(A1) Road", foreign,
              f"{sign}HYPERLINK(\"http://x\")") for sign, foreign in
             zip(SIGNS, outside + list(FOREIGN), strict=False)]
    kept = next((t for t in KEPT if _encodable(t, caps.encoding)), KEPT[0])
    # a 7-bit encoding (Sage X3's ASCII) holds none of them: their folded form must arrive
    arrives = kept if _encodable(kept, caps.encoding) else unicodedata.normalize(
        "NFKD", kept).encode(caps.encoding, "ignore").decode(caps.encoding)
    names.append((kept, "Lee", "1 Road", kept, ""))
    held = {n: f"{sign}0000009{n:02d}" for n, sign in enumerate(SIGNS, start=len(names) + 1)}
    names += [("Ann", "Lee", "1 Road", "Leeds", "")] * len(held)
    store = store_with(tmp_path / "pages", names, held)
    outcome = run_recipe_cli(product, write_recipe(product, tmp_path, store.source))

    delivered = read_delivered(product, tmp_path / "out")  # decodes strictly, or fails
    for data in delivered.files.values():
        data.decode(caps.encoding)  # every byte, header and all
    assert not formula_cells(product, delivered)
    assert arrives in {c for r in delivered.rows for c in r.cells}, f"{arrives!r} did not arrive"
    assert any(c.startswith("'") for r in delivered.rows for c in r.cells), \
        "no text needed neutralising: the store does not test what it should"
    # the text did not hold anything: each customer's invoice is there, balanced
    postings = store.postings(product)
    rows = delivered.of(document_specs(product))
    plain = {k for k in postings if k[1] not in held.values()}
    assert set(occurrences(product, rows, postings)) == plain
    # a code (the reference) that would start a formula holds its document, never altered
    for code in held.values():
        key = (caps.sale_type, code)
        assert outcome.states.get(key) == "held", (code, outcome.states.get(key))
        assert "formula" in outcome.reasons[key].lower(), outcome.reasons[key]
        digits = code.lstrip("".join(SIGNS))
        assert not [r for r in rows if digits in r.fields[caps.reference_field]], code


def _encodable(text: str, encoding: str) -> bool:
    try:
        text.encode(encoding)
    except UnicodeEncodeError:
        return False
    return True


@few(5)
@given(st.lists(st.tuples(texts(), texts(), texts(), texts(), texts()), min_size=1,
                max_size=4))
def test_any_customer_text_is_delivered_decodable_and_inert(
        product: SageProduct, tmp_path_factory: pytest.TempPathFactory,
        names: list[tuple[str, ...]]) -> None:
    folder = tmp_path_factory.mktemp(f"text-{product.key}")
    store = store_with(folder / "pages", [(a, b, c, d, e) for a, b, c, d, e in names], {})
    outcome = run_recipe_cli(product, write_recipe(product, folder, store.source))
    delivered = read_delivered(product, folder / "out")
    assert not formula_cells(product, delivered)
    assert not outcome.reasons, "customer text held a document"
    postings = store.postings(product)
    assert set(occurrences(product, delivered.of(document_specs(product)), postings)) == \
        set(postings)
