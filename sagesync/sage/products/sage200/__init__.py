"""Sage 200 (UK): its stock and price exports are read into Magento; posting is not built yet.

The export layouts are in `exports.py`, the format facts and their sources in README.md. With
no templates and no import format, recipe validation refuses it as `[sage] product` (posting)
and accepts it as `[sage_export] product` (parse-sage, watch).
"""

from sagesync.sage.products.base import SageProduct
from sagesync.sage.products.sage200.exports import LAYOUTS

PRODUCT = SageProduct(key="sage200", title="Sage 200 (UK)", package=__name__, layouts=LAYOUTS)
