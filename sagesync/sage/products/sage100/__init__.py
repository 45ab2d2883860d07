"""Sage 100: its stock and price exports are read into Magento; posting is not built yet.

The export layouts are in `exports.py`, the format facts and their sources in README.md. With
no templates and no import format, recipe validation refuses it as `[sage] product` (posting)
and accepts it as `[sage_export] product` (parse-sage, watch).
"""

from sagesync.sage.products.base import SageProduct
from sagesync.sage.products.sage100.exports import LAYOUTS

PRODUCT = SageProduct(key="sage100", title="Sage 100", package=__name__, layouts=LAYOUTS)
