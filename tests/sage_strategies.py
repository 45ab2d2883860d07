"""Hypothesis strategies for Sage stock and price exports, with the rows they must parse to.

Why: the parsers promise that any well-formed export round-trips exactly, whatever the
delimiter, encoding, BOM, quoting, line ends, column order, extra columns, header spelling or
blank lines around the data. `exports()` draws such a file (as bytes) together with the exact
rows (and source lines) the parser must return.

    @given(exports())
    def test_x(drawn): result = parse_bytes(drawn.data, product=drawn.product, ...)

To damage one row on purpose (cut its cells, add some, change its SKU), `rewrite_row` re-writes
it from the drawn text (`DrawnExport.spans` says where each data row is, `columns` where each
field is) and says how far the lines after it moved.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from hypothesis import strategies as st

from sagesync.sage import LAYOUTS
from sagesync.sage.layouts import DEFAULT_WAREHOUSE, Layout, normalize_header
from sagesync.sage.tables import FIELDS

# Long-format layouts (sage50_us is wide or needs a mapped quantity: tested by example).
ROUND_TRIP = sorted(key for key in LAYOUTS if key[0] != "sage50_us"
                    and key[1] in ("stock", "prices"))  # shipments: tests/test_shipments.py
DELIMITERS = (",", ";", "\t")
ENCODINGS = ("utf-8", "utf-8-sig", "cp1252", "utf-16")
QUOTING = (csv.QUOTE_MINIMAL, csv.QUOTE_ALL, csv.QUOTE_NONNUMERIC)
# Non-ASCII letters whose cp1252 bytes are all UTF-8 lead bytes (>= 0xC0): a cp1252 file made
# of them can never be valid UTF-8, so sniffing cannot mistake it (€ and £ could, in rare runs).
ACCENTS = "éüñÖ"
CODE_CHARS = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz0123456789-_./" + ACCENTS
FREE_TEXT = st.text(alphabet=st.characters(
    codec="cp1252", exclude_characters="#\r", exclude_categories=("Cc", "Cs")) | st.just("\n"),
    max_size=12)

STOCK_QTY = ("on_hand", "allocated", "on_order")


def codes(max_size: int = 12) -> st.SearchStrategy[str]:
    """Codes that start with a letter (never a number Excel could mangle), no edge spaces."""
    return st.builds(lambda a, b, c: a + b + c,
                     st.sampled_from("ABCDEFGHKLMNPRSTWXYZ" + ACCENTS),
                     st.text(alphabet=CODE_CHARS + " ", max_size=max_size),
                     st.sampled_from(CODE_CHARS)).map(lambda s: s.strip())


def amounts(places: int = 4, high: int = 10**9) -> st.SearchStrategy[Decimal]:
    return st.decimals(min_value=0, max_value=high, places=places, allow_nan=False,
                       allow_infinity=False)


def spell(decimal: Decimal, style: int) -> str:
    """The same number as different exporters write it."""
    if style == 0:
        return str(decimal)
    if style == 1:
        return format(decimal.normalize(), "f")
    return f"{decimal:.4f}"


@dataclass
class DrawnExport:
    product: str
    kind: str
    data: bytes
    expected: list[dict[str, Any]]
    encoding: str
    delimiter: str
    headers: list[str] = field(default_factory=list)
    # The file as text, each data row's (start, end) offsets in it (end after its line end),
    # and the 1-based column of each logical field: to damage one row or cell on purpose.
    text: str = ""
    spans: list[tuple[int, int]] = field(default_factory=list)
    columns: dict[str, int] = field(default_factory=dict)
    quoting: int = csv.QUOTE_MINIMAL
    eol: str = "\n"


def _spellings(name: str) -> list[str]:
    return [name, name.upper(), name.lower(), name.replace(" ", "_"), f" {name} "]


@st.composite
def exports(draw: st.DrawFn, layouts: list[tuple[str, str]] | None = None) -> DrawnExport:
    """A valid export of a random long-format layout, and its exact expected rows."""
    product, kind = draw(st.sampled_from(layouts or ROUND_TRIP))
    layout = LAYOUTS[(product, kind)]
    fields = _fields(draw, layout)
    headers = {name: draw(st.sampled_from(_spellings(draw(st.sampled_from(
        [a for a, _ in layout.aliases[name]]))))) for name in fields}
    taken = _all_aliases(layout)
    extras = draw(st.lists(st.text(alphabet=CODE_CHARS + " ", min_size=1, max_size=10)
                           .filter(lambda h: normalize_header(h) not in taken
                                   and normalize_header(h) != ""),
                           max_size=3, unique_by=normalize_header))
    order = draw(st.permutations([*fields, *(f"extra{i}" for i in range(len(extras)))]))
    names = {**headers, **{f"extra{i}": h for i, h in enumerate(extras)}}

    rows = draw(_rows(layout, fields))
    style = draw(st.integers(0, 2))
    delimiter = draw(st.sampled_from(DELIMITERS))
    encoding = draw(st.sampled_from(ENCODINGS))
    quoting = draw(st.sampled_from(QUOTING))
    eol = draw(st.sampled_from(("\r\n", "\n")))
    leading = draw(st.integers(0, 2))
    trailing = draw(st.lists(st.sampled_from(["", delimiter * (len(order) - 1), "  "]),
                             max_size=3))

    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, quoting=quoting, lineterminator=eol)
    out.write(eol * leading)
    writer.writerow([names[c] for c in order])
    line = leading + 1 + 1
    expected = []
    spans = []
    for row in rows:
        cells = {c: (spell(v, style) if isinstance(v, Decimal) else v) for c, v in row.items()}
        for i in range(len(extras)):
            cells[f"extra{i}"] = draw(FREE_TEXT)
        before = out.tell()
        writer.writerow([cells[c] for c in order])
        spans.append((before, out.tell()))
        expected.append(_expect(layout, row, line))
        line += out.getvalue()[before:].count("\n")
    for blank in trailing:
        out.write(blank + eol)
    text = out.getvalue()
    data = text.encode(encoding)
    return DrawnExport(product, kind, data, expected, encoding, delimiter,
                       [names[c] for c in order], text, spans,
                       {name: order.index(name) + 1 for name in fields}, quoting, eol)


def rewrite_row(drawn: DrawnExport, index: int, edit: Callable[[list[str]], list[str]]
                ) -> tuple[str, int]:
    """The export's text with data row `index` re-written as `edit(its cells)`, and how many
    lines the rows after it moved up (cells with line breaks may have been dropped)."""
    start, end = drawn.spans[index]
    old = drawn.text[start:end]
    [cells] = list(csv.reader(io.StringIO(old, newline=""), delimiter=drawn.delimiter))
    out = io.StringIO()
    csv.writer(out, delimiter=drawn.delimiter, quoting=drawn.quoting,
               lineterminator=drawn.eol).writerow(edit(cells))
    new = out.getvalue()
    return drawn.text[:start] + new + drawn.text[end:], old.count("\n") - new.count("\n")


def _fields(draw: st.DrawFn, layout: Layout) -> list[str]:
    """Required fields of the layout plus a random choice of its optional ones."""
    wanted = ("sku", "warehouse", *STOCK_QTY) if layout.kind == "stock" else (
        "sku", "price_list", "price", "min_qty", "currency")
    fields = []
    for spec in FIELDS[layout.kind]:
        if spec.name not in wanted or spec.name not in layout.aliases:
            continue
        optional = (not spec.required or (spec.name == "price_list"
                                           and layout.default_price_list is not None))
        if not optional or draw(st.booleans()):
            fields.append(spec.name)
    return fields


def _all_aliases(layout: Layout) -> set[str]:
    names = {normalize_header(a) for aliases in layout.aliases.values() for a, _ in aliases}
    names |= {normalize_header(a) for rule in layout.rules for a, _ in rule.aliases}
    return names | {"salesprice1"}


def _rows(layout: Layout, fields: list[str]) -> st.SearchStrategy[list[dict[str, Any]]]:
    row: dict[str, st.SearchStrategy[Any]] = {}
    for name in fields:
        if name in ("sku", "price_list"):
            row[name] = codes()
        elif name == "warehouse":
            row[name] = codes(6)
        elif name == "currency":
            row[name] = st.sampled_from(["GBP", "EUR", "USD", "", "cad"])
        elif name in ("on_hand", "price"):
            row[name] = amounts()
        else:  # optional quantities: blank means 0 (or 1 for min_qty)
            row[name] = amounts() | st.just("")

    def key(r: dict[str, Any]) -> tuple[Any, ...]:
        e = _expect(layout, r, 0)
        if layout.kind == "stock":
            return e["sku"], e["warehouse"]
        return e["sku"], e["price_list"], e["min_qty"], e["currency"]

    return st.lists(st.fixed_dictionaries(row), max_size=12, unique_by=key)


def _expect(layout: Layout, row: dict[str, Any], line: int) -> dict[str, Any]:
    """The parsed row: blanks replaced by the documented defaults, 4 decimal places."""
    q = Decimal("0.0001")

    def qty(name: str, blank: int) -> Decimal:
        value = row.get(name, "")
        return (Decimal(blank) if value == "" else value).quantize(q)

    if layout.kind == "stock":
        return {"sku": row["sku"], "warehouse": row.get("warehouse", DEFAULT_WAREHOUSE),
                "on_hand": qty("on_hand", 0), "allocated": qty("allocated", 0),
                "on_order": qty("on_order", 0), "date": None, "source_line": line}
    return {"sku": row["sku"], "price_list": row.get("price_list") or layout.default_price_list,
            "min_qty": qty("min_qty", 1), "currency": (row.get("currency") or "GBP").upper(),
            "price": qty("price", 0), "date": None, "source_line": line}
