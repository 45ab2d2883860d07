"""Template specs -> Sage-native file bytes: validation, neutralising, encoding, splitting.

A template (`sagesync/sage/products/<product>/<file>.toml`, package data) is a declarative
record layout; see the comment at the top of `sage/products/sage50_uk/audit_trail.toml` and
docs/adding-a-sage-product.md. One job per module:

- `spec`: read and check a template (records, columns, file rules);
- `cells`: every cell kind's rules, and the formula defence;
- `rows`: the row-by-row renderer, the reference;
- `columns` and `layouts`: the column-wise renderer for whole batches of documents;
- `writers`: rows -> bytes (heading rows, tagged blocks, quoting, the last formula check).

A document that breaks a rule (a code too long, a required field empty, a character the
encoding cannot hold in a code) is held as a whole and never half-written; descriptive text
that is too long is cut with a warning instead.
"""

from sagesync.render.cells import (
    FORMULA_START,
    CellRules,
    RowRejected,
    csv_cell,
    neutralise,
    render_cell,
    starts_formula,
)
from sagesync.render.layouts import Children, ColumnRenderer, Rendered
from sagesync.render.rows import RowRenderer
from sagesync.render.spec import KINDS, Column, FileSpec, RecordSpec, load_spec, read_spec
from sagesync.render.writers import write_csv, write_file

__all__ = [
    "FORMULA_START",
    "KINDS",
    "CellRules",
    "Children",
    "Column",
    "ColumnRenderer",
    "FileSpec",
    "RecordSpec",
    "Rendered",
    "RowRejected",
    "RowRenderer",
    "csv_cell",
    "load_spec",
    "neutralise",
    "read_spec",
    "render_cell",
    "starts_formula",
    "write_csv",
    "write_file",
]
