"""`push-magento` killed after its first chunk, then run again: the rerun sends only the chunks
that had not landed, because the push step records each chunk Magento accepts at once (the
same recording the watched folder relies on), and the two attempts are one push for
`rollback`.

The killed push is a real process dying at the `push-chunk` crash point (no cleanup).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from sagesync.ledger import Ledger
from sagesync.pipeline.catalog_step import stock_value
from tests.catalog_recipe import catalog_recipe
from tests.conftest import subprocess_env
from tests.magento_sim_catalog import KNOWN_SKUS, SOURCE_CODES, CatalogSimulator

pytest.importorskip("sagesync.sage.exports")

SKUS = KNOWN_SKUS[:10]
CHUNK = 4  # 10 items: chunks of 4, 4 and 2


def sagesync(recipe: Path, *args: str, crash_at: str | None = None
             ) -> subprocess.CompletedProcess[str]:
    env = subprocess_env()
    if crash_at:
        env["SAGESYNC_CRASH_AT"] = crash_at
    return subprocess.run([sys.executable, "-m", "sagesync", "-r", str(recipe), *args],
                          env=env, capture_output=True, text=True, timeout=120)


def sent_skus(sim: CatalogSimulator) -> Counter[str]:
    found: Counter[str] = Counter()
    for request in sim.catalog_requests():
        found.update(item["sku"] for item in json.loads(request.body)["sourceItems"])
    return found


@pytest.fixture
def sim() -> Iterator[CatalogSimulator]:
    simulator = CatalogSimulator(known_skus=KNOWN_SKUS, source_codes=SOURCE_CODES, token="tok")
    simulator.start(host="127.0.0.1")
    yield simulator
    simulator.stop()


def test_push_magento_killed_after_a_chunk_sends_only_the_rest_when_run_again(
        tmp_path: Path, sim: CatalogSimulator) -> None:
    recipe = tmp_path / "recipe.toml"
    recipe.write_text(catalog_recipe("push-resume", sim.url, CHUNK, retry_attempts=1),
                      encoding="utf-8")
    quantities = {sku: 10 + n for n, sku in enumerate(SKUS)}
    export = tmp_path / "stock.csv"
    export.write_text("STOCK_CODE,QTY_IN_STOCK,QTY_ALLOCATED,QTY_ON_ORDER\r\n"
                      + "".join(f"{s},{q},0,0\r\n" for s, q in quantities.items()),
                      encoding="utf-8")
    parsed = sagesync(recipe, "parse-sage", str(export), "--kind", "stock")
    assert parsed.returncode == 0, parsed.stderr
    manifest = parsed.stdout.strip()

    killed = sagesync(recipe, "push-magento", "--from", manifest, crash_at="push-chunk:1")

    assert killed.returncode == 137, killed.stderr
    first = sent_skus(sim)
    assert sum(first.values()) == CHUNK and len(sim.catalog_requests()) == 1
    with Ledger(tmp_path / "state" / "ledger.sqlite") as ledger:
        assert set(ledger.pushed("stock")) == {f"{s}|default" for s in first}

    rerun = sagesync(recipe, "push-magento", "--from", manifest)

    assert rerun.returncode == 0, rerun.stderr
    assert len(sim.catalog_requests()) == 3  # 4 + 4 + 2: nothing sent twice
    assert sent_skus(sim) == Counter(SKUS)
    expected = {f"{s}|default": stock_value(Decimal(q), 1) for s, q in quantities.items()}
    assert sim.source_items == {(s, "default"): (Decimal(q), 1) for s, q in quantities.items()}
    with Ledger(tmp_path / "state" / "ledger.sqlite") as ledger:
        assert ledger.pushed("stock") == expected
        last = ledger.last_push("stock")
        assert last is not None  # one push, both attempts: rollback sees it whole
        assert set(ledger.push_changes(last.push_id)) == set(expected)
