"""Large synthetic Sage exports for the benchmark (e.g. 100,000 SKUs x 3 warehouses).

Why here: the benchmark and any load test need the same realistic file shape the parser is
tuned for (Sage 100 IM_ItemWarehouse with CRLF, as Visual Integrator writes it), without
committing megabytes of samples.

    path = write_stock_export(tmp / "stock.csv", skus=100_000, warehouses=3)
    result = parse_export(path, product="sage100", kind="stock")
"""

from __future__ import annotations

import random
from pathlib import Path

STOCK_HEADER = ("ItemCode,WarehouseCode,QuantityOnHand,QuantityOnSalesOrder,"
                "QuantityOnPurchaseOrder,QuantityOnBackOrder,AverageCost")
PRICE_HEADER = "ITEMID,PRICELISTID,QTYLIMITMIN,VALUE,CURRENCY"


def write_stock_export(path: Path, *, skus: int, warehouses: int = 3, seed: int = 42) -> Path:
    """A Sage 100 stock export with skus x warehouses rows (warehouse codes 000, 001, ...)."""
    rnd = random.Random(seed)
    codes = [f"{w:03d}" for w in range(warehouses)]
    lines = [STOCK_HEADER]
    for i in range(skus):
        for code in codes:
            lines.append(f"SKU-{i:06d},{code},{rnd.randint(0, 5000)}.{rnd.randint(0, 99):02d},"
                         f"{rnd.randint(0, 50)},{rnd.randint(0, 100)},0,"
                         f"{rnd.randint(1, 999)}.{rnd.randint(0, 9999):04d}")
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode("ascii"))
    return path


def write_price_export(path: Path, *, skus: int, breaks: tuple[int, ...] = (1, 10, 100),
                       seed: int = 42) -> Path:
    """An Intacct price-list export with skus x len(breaks) rows (one list, GBP)."""
    rnd = random.Random(seed)
    lines = [PRICE_HEADER]
    for i in range(skus):
        for qty in breaks:
            lines.append(f"SKU-{i:06d},Trade,{qty},{rnd.randint(1, 999)}.{rnd.randint(0, 99):02d},"
                         "GBP")
    path.write_bytes(("\n".join(lines) + "\n").encode("ascii"))
    return path
