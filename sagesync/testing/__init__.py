"""Test and benchmark helpers: builders of realistic Magento REST payloads (see `factory`)."""
