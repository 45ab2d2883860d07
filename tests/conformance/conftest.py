"""The `product` fixture: every registered Sage product that posts documents, one by one.

A product posts documents when it has templates; export-only products (stock and price
parsers) have none and are not parametrized. Tests call `harness.require(product, capability)`
before they rely on a capability, so a product without it is skipped with the capability named.
"""

from __future__ import annotations

import pytest

from sagesync.sage.products import SageProduct
from tests.conformance.harness import POSTING


@pytest.fixture(params=POSTING, ids=[p.key for p in POSTING])
def product(request: pytest.FixtureRequest) -> SageProduct:
    return request.param  # type: ignore[no-any-return]

