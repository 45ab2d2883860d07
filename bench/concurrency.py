"""Concurrent versus sequential paging against the Magento simulator with per-page latency.

50 pages of orders, each answered after `latency` seconds (as a busy store would), read once
with one request at a time and once with `concurrency` requests in flight. A measurement: it
prints the times and their ratio and judges nothing.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from requests.auth import AuthBase

from sagesync.magento.auth import BearerToken
from sagesync.magento.client import RestSource
from sagesync.magento.source import Window
from sagesync.testing.dataset import documents
from tests.magento_sim import MagentoSimulator


@dataclass(frozen=True)
class ConcurrencyResult:
    pages: int
    latency: float
    concurrency: int
    sequential_seconds: float
    concurrent_seconds: float

    @property
    def speedup(self) -> float:
        return self.sequential_seconds / self.concurrent_seconds


def _read_all(url: str, auth: AuthBase, concurrency: int, page_size: int) -> tuple[float, int]:
    source = RestSource(url, auth, page_size=page_size, concurrency=concurrency)
    started = time.perf_counter()
    pages = sum(1 for _ in source.pages("orders", Window()))
    return time.perf_counter() - started, pages


def measure(pages: int = 50, page_size: int = 20, latency: float = 0.1,
            concurrency: int = 8) -> ConcurrencyResult:
    store = documents(1, pages * page_size, seed=1)
    simulator = MagentoSimulator({"orders": store["orders"]}, token="bench").start()
    try:
        simulator.set_latency(latency)
        auth = BearerToken("bench")
        sequential, seen = _read_all(simulator.url, auth, 1, page_size)
        concurrent, seen_again = _read_all(simulator.url, auth, concurrency, page_size)
        assert seen == seen_again == pages, (seen, seen_again)
    finally:
        simulator.stop()
    return ConcurrencyResult(pages, latency, concurrency, sequential, concurrent)


if __name__ == "__main__":
    result = measure()
    print(f"{result.pages} pages at {result.latency * 1000:.0f} ms each: sequential "
          f"{result.sequential_seconds:.2f} s, {result.concurrency} concurrent "
          f"{result.concurrent_seconds:.2f} s ({result.speedup:.1f}x faster)")
