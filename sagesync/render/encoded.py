"""A batch of documents rendered and encoded in one call, so it can run in a worker process.

The import renders a window's documents column-wise, then encodes each document's rows to the
bytes its file will hold. Both are pure functions of the template, the encoding and the rows,
and take a third of the import's time, so the import hands them to `pipeline.work_pool`: a
`RenderJob` (the spec and Arrow tables, which pickle cheaply) goes in, and each document's
bytes, row count and first cell that would run as a formula come back, or why it is held.
The same function runs in-process for a small import, so both ways give the same bytes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pyarrow as pa

from sagesync.render.layouts import Children, ColumnRenderer
from sagesync.render.spec import FileSpec
from sagesync.render.writers import DocumentEncoder, running_cell


@dataclass(frozen=True)
class RenderJob:
    """Documents of one file spec, numbered on from `first_document_no`, with their child
    rows; `max_rows` is the most rows a document may have (0: no limit)."""

    spec: FileSpec
    encoding: str
    max_rows: int
    documents: pa.Table
    children: Mapping[str, Children]
    first_document_no: int


@dataclass(frozen=True)
class EncodedDocument:
    data: bytes
    rows: int
    running: tuple[int, str] | None  # (row, cell) that would run as a formula, if any


@dataclass
class Encoded:
    """Per document of the job (in its order): its bytes, or None when held; why; warnings."""

    documents: list[EncodedDocument | None]
    held: dict[int, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def render_encoded(job: RenderJob) -> Encoded:
    """Render the job's documents and encode each one's rows (renderers are cheap to make:
    some 10 µs, so each job makes its own and a worker keeps no state between jobs)."""
    rendered = ColumnRenderer(job.spec, job.encoding, job.max_rows).render(
        job.documents, job.children, first_document_no=job.first_document_no)
    encoder = DocumentEncoder(job.spec, job.encoding)
    return Encoded([None if rows is None
                    else EncodedDocument(encoder.encode(rows), len(rows), running_cell(rows))
                    for rows in rendered.rows], rendered.held, rendered.warnings)
