"""The recipe the Sage -> Magento tests share: a live (simulated) store, no stock buffer, so
Magento gets the on-hand figure, and small chunks so one file takes several requests."""

from __future__ import annotations


def catalog_recipe(name: str, url: str, chunk: int, *, retry_attempts: int | None = None) -> str:
    retry = f"retry_attempts = {retry_attempts}\n" if retry_attempts is not None else ""
    return f"""
name = "{name}"
state_dir = "state"
[magento]
base_url = "{url}"
token = "tok"
{retry}[sage]
product = "sage50_uk"
[stock]
buffer_percent = 0
buffer_units = 0
default_source = "default"
[prices]
base_price_list = "BASE"
[push]
chunk_size = {chunk}
"""
