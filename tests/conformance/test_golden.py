"""Golden files: what the product's demo recipe writes is byte for byte what is committed.

The check is the command a person runs (`python -m sagesync.sage.products.golden --check`),
once per product; `--write` regenerates them after an intended change. That the check finds a
changed byte is tested once, in tests/test_products.py.
"""

from __future__ import annotations

import subprocess
import sys

from sagesync.sage.products import SageProduct
from tests.conftest import ROOT, subprocess_env


def test_the_golden_check_command_passes_on_the_shipped_files(product: SageProduct) -> None:
    done = subprocess.run([sys.executable, "-m", "sagesync.sage.products.golden", "--check",
                           "--product", product.key],
                          capture_output=True, text=True, env=subprocess_env(), cwd=ROOT,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert f"golden files match: {product.key}" in done.stdout
