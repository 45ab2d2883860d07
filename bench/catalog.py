"""Sage -> Magento: parse + compute + payloads for 100,000 SKUs x 3 warehouses, in process.

A Sage 200 stock-item-locations export is generated once (seeded), then parsed, turned into
Available-to-Web source items with a buffer, and built into the payload table, timed as one.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from sagesync.catalog.stock import Buffer, StockRules, stock_table
from sagesync.pipeline.catalog_step import SOURCE_ITEMS

WAREHOUSES = ("HOME", "LEEDS", "BRISTOL")


@dataclass(frozen=True)
class CatalogResult:
    skus: int
    rows: int
    parse_seconds: float
    compute_seconds: float
    file_mb: float

    @property
    def total_seconds(self) -> float:
        return self.parse_seconds + self.compute_seconds


def write_export(path: Path, skus: int, seed: int = 3) -> None:
    if path.exists():
        return
    rng = random.Random(seed)
    lines = ["StockCode,WarehouseName,QtyInStock,QtyAllocated,QtyOnOrder"]
    for n in range(skus):
        for warehouse in WAREHOUSES:
            lines.append(f"SKU-{n:06d},{warehouse},{rng.randint(0, 500)},"
                         f"{rng.randint(0, 20)},{rng.randint(0, 50)}")
    tmp = path.with_suffix(".tmp")
    tmp.write_text("\r\n".join(lines) + "\r\n", encoding="utf-8")
    tmp.replace(path)


def measure(folder: Path, skus: int = 100_000) -> CatalogResult:
    from sagesync.sage import ParseOptions, parse_export

    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"sage200-stock-{skus}.csv"
    write_export(path, skus)
    started = time.perf_counter()
    parsed = parse_export(path, product="sage200", kind="stock", options=ParseOptions())
    parsed_at = time.perf_counter()
    assert parsed.ok, parsed.problems[:3]
    rules = StockRules(Buffer(Decimal(10), Decimal(2)), {}, (), False,
                       {w: w.lower() for w in WAREHOUSES}, "default")
    payload, unmapped = stock_table(parsed.table, rules)
    payload.cast(SOURCE_ITEMS)
    done = time.perf_counter()
    assert not unmapped and payload.num_rows == skus * len(WAREHOUSES)
    return CatalogResult(skus, payload.num_rows, parsed_at - started, done - parsed_at,
                         path.stat().st_size / 1e6)


if __name__ == "__main__":
    result = measure(Path("bench-data"))
    print(f"Sage stock: {result.skus:,} SKUs x {len(WAREHOUSES)} warehouses "
          f"({result.file_mb:.1f} MB): parse {result.parse_seconds:.2f} s + compute and "
          f"payloads {result.compute_seconds:.2f} s = {result.total_seconds:.2f} s")
