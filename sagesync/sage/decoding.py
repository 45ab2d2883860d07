"""Bytes to text: refuse what is not a text file, then sniff the encoding and the delimiter.

Excel saves "CSV" as cp1252 and "CSV UTF-8" with a BOM, and "Unicode Text" as UTF-16 with tabs
(reference §9), so all of those are read. Anything else that is not text (a workbook renamed to
.csv, a PDF, random bytes) is one file-level problem that says what the file seems to be.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from dataclasses import dataclass, field

from sagesync.sage.results import Problem

DELIMITERS = (",", ";", "\t")
_SIGNATURES = (
    (b"PK\x03\x04", "an Excel workbook (.xlsx) or a zip archive"),
    (b"\xd0\xcf\x11\xe0", "an old Excel workbook (.xls)"),
    (b"%PDF", "a PDF document"),
    (b"\x1f\x8b", "a gzip archive"),
)
_C1 = re.compile(r"[\x80-\x9f]")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_SAVE_AS = "open it in Excel and use Save As 'CSV UTF-8 (Comma delimited)'"
_CORRUPT = f"the file is binary or corrupted, not CSV text ({_SAVE_AS})"
_TEXT_BYTES = bytes([9, 10, 13, *range(0x20, 0x7F), *range(0x80, 0x100)])


@dataclass
class Decoded:
    """The file's text and how it was read."""

    text: str
    encoding: str
    notes: list[str] = field(default_factory=list)


def _where(text: str, pos: int) -> tuple[int, int]:
    """1-based line and column of offset `pos` (lines end at LF, CRLF or a lone CR)."""
    head = text[:pos].replace("\r\n", "\n").replace("\r", "\n")
    return head.count("\n") + 1, len(head) - head.rfind("\n")


def _where_bytes(data: bytes, pos: int) -> tuple[int, int]:
    """The same for a byte offset; the column then counts bytes."""
    return _where(data[:pos].decode("latin-1"), pos)


def _problem(line: int, column: int | None, message: str) -> Problem:
    return Problem(line, column, None, message, file_level=True)


def decode(data: bytes, forced: str | None = None) -> Decoded | Problem:
    """Text of a CSV export, or the one problem that makes it unreadable."""
    if not data.strip(b" \t\r\n\x1a"):
        return _problem(1, None, "the file is empty: expected a header row and data rows")
    for magic, what in _SIGNATURES:
        if data.startswith(magic):
            return _problem(1, 1, f"this is {what}, not a CSV text file: {_SAVE_AS}")
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return _checked(data.decode("utf-16"), "utf-16")
        except UnicodeDecodeError:
            return _problem(1, None, f"the file starts like UTF-16 text but is not: {_SAVE_AS}")
    nul = data.find(b"\x00")
    if nul >= 0:
        line, col = _where_bytes(data, nul)
        return _problem(line, col, "the file is binary, not CSV text (a NUL byte): "
                        + _SAVE_AS)
    if forced:
        try:
            return _checked(data.decode(forced), forced)
        except LookupError:
            return _problem(1, None, f"{forced} is not a text encoding Python knows")
        except UnicodeDecodeError as exc:
            line, col = _where_bytes(data, exc.start)
            return _problem(line, col, f"not {forced} text (byte 0x{data[exc.start]:02X}), "
                            "the encoding it was said to be: name the right one (cp1252 for "
                            "Excel's 'CSV'), or leave it out to have it detected")
    # C0 controls are the same bytes in UTF-8 and cp1252, so one pass over the bytes finds them.
    control = _first_control(data.rstrip(b"\x1a"))
    if control >= 0:
        line, col = _where_bytes(data, control)
        return _problem(line, col, f"control character U+{data[control]:04X}: {_CORRUPT}")
    try:
        encoding = "utf-8-sig" if data.startswith(codecs.BOM_UTF8) else "utf-8"
        text = data.decode("utf-8-sig")
        c1 = None if text.isascii() else _C1.search(text)
        if c1 is None:
            return Decoded(_tidy(text), encoding)
        if encoding == "utf-8-sig":
            return _checked(text, encoding)  # says where the C1 control is
        # Valid UTF-8 that decodes to C1 controls is really cp1252 (e.g. "Â…" = C2 85).
        first_bad = len(text[:c1.start()].encode("utf-8"))
    except UnicodeDecodeError as exc:
        first_bad = exc.start
    try:
        decoded = Decoded(_tidy(data.decode("cp1252")), "cp1252")
    except UnicodeDecodeError as exc:
        line, col = _where_bytes(data, exc.start)
        return _problem(line, col, f"the file is neither UTF-8 nor Windows-1252 text (byte "
                        f"0x{data[exc.start]:02X}): {_SAVE_AS}")
    line, col = _where_bytes(data, first_bad)
    decoded.notes.append(f"not UTF-8 (byte 0x{data[first_bad]:02X} at line {line}, column "
                         f"{col}): read as Windows-1252 (Excel's 'CSV' format)")
    return decoded


def _first_control(data: bytes) -> int:
    """Offset of the first C0 control byte other than tab, CR and LF; -1 if none."""
    found = data.translate(None, _TEXT_BYTES)
    if not found:
        return -1
    return min(data.find(bytes([b])) for b in set(found))


def _tidy(text: str) -> str:
    """Without a second BOM (double-saved files) or a DOS end-of-file mark."""
    return text.lstrip("\ufeff").rstrip("\x1a")


def _checked(text: str, encoding: str) -> Decoded | Problem:
    """Text without control characters (other than tab and line ends), else a problem."""
    text = _tidy(text)
    bad = _CONTROL.search(text)
    if bad:
        line, col = _where(text, bad.start())
        return _problem(line, col, f"control character U+{ord(bad.group()):04X}: {_CORRUPT}")
    return Decoded(text, encoding)


def sniff_delimiter(text: str) -> str:
    """`,`, `;` or tab: whichever splits the first multi-column record into the most fields.

    The first records may be report titles with no delimiter at all, so up to ten are tried;
    ties go to the comma (the documented Sage delimiter, reference §1.1)."""
    sample = text[:65536]
    readers = {d: csv.reader(io.StringIO(sample, newline=""), delimiter=d) for d in DELIMITERS}
    for _ in range(10):
        widths = {}
        for d, reader in readers.items():
            try:
                widths[d] = len(next(reader, []))
            except csv.Error:
                widths[d] = 0
        best = max(DELIMITERS, key=lambda d: widths[d])  # max keeps the first of equals
        if widths[best] > 1:
            return best
    return ","
