"""`python -m bench`: time sagesync's pipeline on synthetic Magento pages against a yardstick.

Modules: `generate` (seeded synthetic REST pages, cached under bench-data/), `reference` (the plain
stdlib implementation, run as `python -m bench.reference`), `measure` (wall time and peak RSS of
one child process), `recipe` (the bench recipe), `report` (table and JSON). This package imports
nothing at import time, so `python -m bench.reference` stays a stdlib-only process.

A measurement tool: nothing here asserts a timing.
"""
