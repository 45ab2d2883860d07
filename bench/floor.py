"""`python -m bench.floor SOURCE`: the least any posting of the store must do, for scale.

Reads every page of `SOURCE/{orders,invoices,creditmemos}/*.json` once and decodes it with
sagesync's own typed entities (msgspec: only the fields a posting reads, amounts as exact
Decimals), in one process, and does nothing else: no posting, no file, no ledger. The "10x the
naive script" target of issue 10 is a wall time; this row shows how much of that time reading
and decoding alone already takes on the machine measured. Prints one JSON line (pages, records,
bytes).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from sagesync.magento.entities import PAGE_DECODERS


def main(argv: list[str]) -> int:
    source = Path(argv[0])
    pages = records = size = 0
    buffer = bytearray()
    for entity in ("orders", "invoices", "creditmemos"):
        decoder = PAGE_DECODERS[entity]
        for path in sorted((source / entity).glob("*.json")):
            with path.open("rb") as handle:
                buffer[:] = handle.read()
            records += len(decoder.decode(buffer).items)
            pages += 1
            size += len(buffer)
    print(json.dumps({"pages": pages, "records": records, "bytes": size}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
