"""`python -m bench`: time sagesync's pipeline on synthetic Magento pages against a yardstick.

Modules: `generate` (seeded synthetic REST pages, cached under bench-data/), `reference` (the
naive one-pass stdlib posting, run as `python -m bench.reference`), `launch` (runs one step and
reports its own peak RSS and CPU), `measure` (one step under `launch`, plus a sampled tree RSS),
`recipe` (the bench recipe), `report` (tables and JSON). This package imports nothing at import
time, so `python -m bench.reference` and `python -m bench.launch` stay stdlib-only processes.

A measurement tool: nothing here asserts a timing.
"""
