"""Test package (a package so `from tests.magento_sim import ...` works from conftest)."""
