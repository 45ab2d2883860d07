"""The transform step: a Magento export checkpoint -> a Sage documents checkpoint."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from sagesync.model.schemas import SAGE_ACCOUNTS, SAGE_DOCUMENTS, SAGE_SPLITS
from sagesync.pipeline.checkpoint import Checkpoint, CheckpointWriter
from sagesync.pipeline.ledger import Ledger
from sagesync.recipe import Recipe
from sagesync.transform.accounts import AccountAllocator, customer_key
from sagesync.transform.documents import DocumentBuilder, SageDocument, split_details
from sagesync.transform.mapping import NominalMap, load_customer_accounts

KIND = "sage-documents"


@dataclass
class TransformResult:
    manifest: Path
    documents: int = 0
    held: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    new_accounts: int = 0


def _grouped(table: pa.Table, key: str) -> dict[int, list[dict[str, Any]]]:
    groups: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for row in table.to_pylist():
        groups[row[key]].append(row)
    return groups


def _documents(recipe: Recipe, export: Checkpoint, orders: dict[int, dict[str, Any]],
               order_items: dict[int, list[dict[str, Any]]]
               ) -> Iterator[tuple[str, dict[str, Any], list[dict[str, Any]]]]:
    """(kind, document row, its lines) for everything that becomes a Sage posting, in order."""
    if recipe.sage.post_from == "orders":
        states = set(recipe.magento.order_states)
        for order_id in sorted(orders):
            order = orders[order_id]
            if order.get("state") in states:
                yield "order", order, order_items.get(order_id, [])
    else:
        lines = _grouped(export.table("invoice_items"), "document_id")
        for invoice in sorted(export.table("invoices").to_pylist(), key=lambda r: r["entity_id"]):
            if invoice.get("state") != 3:  # 3 = canceled
                yield "invoice", invoice, lines.get(invoice["entity_id"], [])
    lines = _grouped(export.table("creditmemo_items"), "document_id")
    for memo in sorted(export.table("creditmemos").to_pylist(), key=lambda r: r["entity_id"]):
        if memo.get("state") != 3:
            yield "creditmemo", memo, lines.get(memo["entity_id"], [])


def transform(recipe: Recipe, export: Checkpoint, ledger: Ledger, run_id: str,
              *, remember_accounts: bool = True) -> TransformResult:
    """Build every Sage document of an export and write the sage-documents checkpoint."""
    orders = {row["entity_id"]: row for row in export.table("orders").to_pylist()}
    order_items = _grouped(export.table("order_items"), "order_id")
    customers = {row["id"]: row for row in export.table("customers").to_pylist()}
    builder = DocumentBuilder(recipe.mapping,
                              NominalMap.load(recipe.mapping.nominals_csv,
                                              recipe.mapping.default_sales_nominal),
                              recipe.zone, recipe.sage.currency)
    allocator = AccountAllocator(recipe.mapping,
                                 load_customer_accounts(recipe.mapping.customers_csv),
                                 ledger.account_refs())
    docs: list[SageDocument] = []
    account_rows: dict[str, dict[str, Any]] = {}
    missing_orders: list[SageDocument] = []
    for kind, row, lines in _documents(recipe, export, orders, order_items):
        order = orders.get(row["order_id"] if kind != "order" else row["entity_id"])
        if order is None:
            missing_orders.append(_orphan(kind, row))
            continue
        ref, origin = allocator.account_for(order)
        docs.append(builder.build(kind, row, lines, order, order_items.get(order["entity_id"],
                                                                           []), ref))
        key = customer_key(order)
        if origin == "generated" and key and ref not in account_rows:
            account_rows[ref] = _account_row(ref, key, order, customers.get(order["customer_id"]))
    docs.extend(missing_orders)
    if remember_accounts:
        ledger.add_accounts(allocator.new)

    writer = CheckpointWriter(recipe.state_dir, run_id, "transform", KIND, recipe, [export.path])
    writer.write("documents", pa.Table.from_pylist([_document_row(d) for d in docs],
                                                   schema=SAGE_DOCUMENTS))
    writer.write("splits", pa.Table.from_pylist(
        [{"document_key": d.document_key, "split_no": n, "nominal_code": s.nominal_code,
          "tax_code": s.tax_code, "department": recipe.mapping.department,
          "details": split_details(d, s), "net_amount": s.net_amount, "tax_amount": s.tax_amount}
         for d in docs if not d.hold_reason for n, s in enumerate(d.splits, start=1)],
        schema=SAGE_SPLITS))
    writer.write("accounts", pa.Table.from_pylist(
        [account_rows[r] for r in sorted(account_rows)], schema=SAGE_ACCOUNTS))
    held = [f"{d.document_key} ({d.increment_id}): {d.hold_reason}" for d in docs
            if d.hold_reason]
    warnings = [f"{d.document_key} ({d.increment_id}): {w}" for d in docs for w in d.warnings]
    summary = {"documents": len(docs), "held": len(held), "accounts": len(account_rows)}
    manifest = writer.finish(summary)
    return TransformResult(manifest, len(docs), held, warnings, len(allocator.new))


def _orphan(kind: str, row: dict[str, Any]) -> SageDocument:
    return SageDocument(
        entity_type=kind, entity_id=row["entity_id"], store_id=row.get("store_id") or 0,
        order_id=row["order_id"], order_increment_id="", increment_id=row.get("increment_id") or "",
        transaction_type="SC" if kind == "creditmemo" else "SI", account_ref="",
        posting_date=None, reference="", extra_reference="", details="", currency_code="",
        grand_total=row.get("base_grand_total") or 0, content_hash=row.get("content_hash") or "",
        hold_reason=f"its order (entity_id {row['order_id']}) is not in this export; export a "
                    "window that includes the order")


def _document_row(d: SageDocument) -> dict[str, Any]:
    return {
        "document_key": d.document_key, "entity_type": d.entity_type, "entity_id": d.entity_id,
        "store_id": d.store_id, "order_id": d.order_id,
        "order_increment_id": d.order_increment_id, "increment_id": d.increment_id,
        "transaction_type": d.transaction_type, "account_ref": d.account_ref,
        "posting_date": d.posting_date, "reference": d.reference,
        "extra_reference": d.extra_reference, "details": d.details,
        "currency_code": d.currency_code, "grand_total": d.grand_total,
        "content_hash": d.content_hash, "status": "held" if d.hold_reason else "ready",
        "hold_reason": d.hold_reason, "warnings": "\n".join(d.warnings) or None,
    }


def _account_row(ref: str, key: str, order: dict[str, Any],
                 customer: dict[str, Any] | None) -> dict[str, Any]:
    """A Sage customer record from the customer's default billing address, else the order's."""
    src = customer if customer and customer.get("billing_street") else order
    street = (src.get("billing_street") or "").split("\n")
    first = src.get("billing_firstname") or order.get("customer_firstname") or ""
    last = src.get("billing_lastname") or order.get("customer_lastname") or ""
    person = f"{first} {last}".strip()
    return {
        "account_ref": ref, "customer_key": key,
        "name": src.get("billing_company") or person, "street1": street[0],
        "street2": street[1] if len(street) > 1 else "", "town": src.get("billing_city"),
        "county": src.get("billing_region"), "postcode": src.get("billing_postcode"),
        "contact_name": person, "telephone": src.get("billing_telephone"),
        "email": order.get("customer_email"),
        "vat_number": src.get("billing_vat_id") or order.get("customer_taxvat"),
        "country_code": src.get("billing_country_id"),
    }
