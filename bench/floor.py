"""`python -m bench.floor SOURCE [--processes N]`: the least any posting of the store must do.

Reads every page of `SOURCE/{orders,invoices,creditmemos}/*.json` once and decodes it as the
export does (msgspec into the typed entities' twins: only the fields a posting reads, each
amount kept as its JSON text for one cast later), and does nothing else: no hash, no column, no
posting, no file, no ledger. (Decoding into the entities themselves, a Decimal per amount,
takes half as long again: a floor that did would overstate the least work.) The "10x the naive
script" target of issue 10 is a wall time; this row shows how much of that time reading and
decoding alone already takes on the machine measured. With `--processes N` the pages are shared out
over N processes (every core: the best any design could split this work). Prints one JSON
line (pages, records, bytes).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import sys
from pathlib import Path

from sagesync.magento.page_tables import TWIN_DECODERS

ENTITIES = ("orders", "invoices", "creditmemos")


def decode(pages: list[tuple[str, str]]) -> tuple[int, int, int]:
    """(pages, records, bytes) of decoding `pages` ((entity, path) each) in this process."""
    records = size = 0
    buffer = bytearray()
    for entity, path in pages:
        with open(path, "rb") as handle:
            buffer[:] = handle.read()
        records += len(TWIN_DECODERS[entity].decode(buffer).items)
        size += len(buffer)
    return len(pages), records, size


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.floor")
    parser.add_argument("source", type=Path)
    parser.add_argument("--processes", type=int, default=1)
    args = parser.parse_args(argv)
    pages = [(entity, str(path)) for entity in ENTITIES
             for path in sorted((args.source / entity).glob("*.json"))]
    if args.processes <= 1:
        parts = [decode(pages)]
    else:  # interleaved shares: each process gets pages of every entity and size
        shares = [pages[n::args.processes] for n in range(args.processes)]
        with multiprocessing.get_context("spawn").Pool(args.processes) as pool:
            parts = pool.map(decode, shares)
    print(json.dumps(dict(zip(("pages", "records", "bytes"),
                              (sum(column) for column in zip(*parts, strict=True)),
                              strict=True))))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
