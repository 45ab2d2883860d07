"""Sage -> Magento: stock available to the web, prices, and what changed since the last push."""
