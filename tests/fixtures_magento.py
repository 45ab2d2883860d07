"""pytest fixtures around tests/magento_sim.py, meant to be star-imported by tests/conftest.py.

``make_magento_sim(**kw)`` builds and starts simulators (stopped at test teardown);
``magento_sim`` is one started simulator loaded from ``samples/magento`` when that folder
holds saved pages, else empty - so tests that only need "a Magento" never depend on samples.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.magento_sim import ENTITY_ID_KEYS, MagentoSimulator

__all__ = ["MAGENTO_SAMPLES", "has_sample_pages", "magento_sim", "make_magento_sim"]

#: Saved REST pages shared by the suite (orders/, invoices/, creditmemos/, customers/).
MAGENTO_SAMPLES = Path(__file__).resolve().parent.parent / "samples" / "magento"

MagentoSimFactory = Callable[..., MagentoSimulator]


def has_sample_pages(folder: Path = MAGENTO_SAMPLES) -> bool:
    """True when at least one entity folder holds a page-*.json file."""
    return any(any((folder / name).glob("page-*.json")) for name in ENTITY_ID_KEYS)


@pytest.fixture
def make_magento_sim() -> Iterator[MagentoSimFactory]:
    """Factory: ``make_magento_sim(entities=None, *, folder=None, start=True, **options)``.

    ``options`` are MagentoSimulator's keyword arguments (token, past_end, max_page_size,
    default_page_size_when_absent, base_path). With ``folder`` the rows come from saved
    pages. Every simulator made here is stopped when the test ends, even if it failed.
    """
    made: list[MagentoSimulator] = []

    def factory(
        entities: dict[str, list[dict[str, Any]]] | None = None,
        *,
        folder: Path | str | None = None,
        start: bool = True,
        **options: Any,
    ) -> MagentoSimulator:
        if folder is not None and entities is not None:
            raise TypeError("pass entities or folder, not both")
        sim = (MagentoSimulator.from_folder(Path(folder), **options) if folder is not None
               else MagentoSimulator(entities, **options))
        made.append(sim)
        return sim.start() if start else sim

    yield factory
    for sim in made:
        sim.stop()


@pytest.fixture
def magento_sim(make_magento_sim: MagentoSimFactory) -> MagentoSimulator:
    """A started simulator with samples/magento's rows (empty store if there are none yet)."""
    if has_sample_pages():
        return make_magento_sim(folder=MAGENTO_SAMPLES)
    return make_magento_sim()
