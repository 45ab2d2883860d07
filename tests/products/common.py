"""What the product tests share: a store of orders with their invoices and credit memos, a
`run --json` over it, and readers of its report and delivered rows."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from sagesync.cli.main import cli
from sagesync.errors import ExitCode
from sagesync.sage.products import SageProduct
from sagesync.testing.factory import OrderSpec, build_creditmemo, build_invoice, build_order
from tests.conformance.harness import Delivered, MagentoStore, Row, read_delivered, write_magento
from tests.conformance.harness import write_recipe as write_product_recipe


def store_of(folder: Path, specs: list[OrderSpec], *, invoiced: bool = True,
             memos: list[dict[str, Any] | None] | None = None,
             credit_number: Callable[[str], str] = lambda increment: f"C{increment}"
             ) -> MagentoStore:
    """Orders, their invoices 5 minutes later (numbered as the orders), and credit memos
    (`memos[n]`: build_creditmemo's arguments for the n-th order, or none), numbered by
    `credit_number` from their order's increment id."""
    orders = [build_order(spec) for spec in specs]
    invoices = [build_invoice(order, spec.entity_id, spec.increment_id,
                              spec.created_at + timedelta(minutes=5))
                for spec, order in zip(specs, orders, strict=True)] if invoiced else []
    credit = [build_creditmemo(order, n, credit_number(spec.increment_id),
                               spec.created_at + timedelta(days=2), invoice_id=spec.entity_id,
                               **args)
              for n, (spec, order, args) in enumerate(zip(specs, orders, memos or [],
                                                          strict=False), start=1)
              if args is not None]
    return write_magento(folder / "pages", orders, invoices, credit)


def run_json(product: SageProduct, tax_codes: Mapping[str, str], folder: Path,
             store: MagentoStore, *, sage: dict[str, Any] | None = None,
             mapping: dict[str, Any] | None = None) -> tuple[dict[str, Any], Delivered]:
    """`sagesync run RECIPE --json` on the product's demo recipe reading `store`: the report,
    and the delivered files read as Sage reads them."""
    recipe = write_product_recipe(product, folder, store.source, sage=sage,
                                  mapping={"tax_codes": dict(tax_codes), **(mapping or {})})
    result = CliRunner().invoke(cli, ["run", str(recipe), "--json"], catch_exceptions=False)
    assert result.exit_code in (ExitCode.OK, ExitCode.HELD), result.output
    return json.loads(result.stdout), read_delivered(product, folder / "out")


def causes(report: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """The held records of a `run --json` report, by cause code."""
    return {g["code"]: g["records"] for g in report["holds_by_cause"]}


def cell(row: Row, name: str) -> str:
    """A delivered row's cell under the column named `name`."""
    return row.cells[[c.name for c in row.columns].index(name)]
