"""Sage -> Magento steps: parse-sage (a Sage export -> a magento-payload checkpoint) and
push-magento (a payload -> Magento, only what changed since the last push, behind the guard).

A malformed file is never half-applied: it is copied to quarantine with its `.error.txt`
(every problem with line and column) and nothing of it reaches Magento.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa

from sagesync.catalog.guard import GuardVerdict, check_prices
from sagesync.catalog.prices import PriceRules, price_lines
from sagesync.catalog.stock import Buffer, StockRules, parse_overrides, stock_table
from sagesync.errors import InputFormatError, UsageError
from sagesync.ledger import Ledger, Push
from sagesync.model.words import plural
from sagesync.ops.quarantine import quarantine_report
from sagesync.pipeline.checkpoint import Checkpoint, CheckpointWriter
from sagesync.pipeline.customer_push import CustomerPushResult, customer_payload, push_customers
from sagesync.pipeline.customer_push import summary as customer_summary
from sagesync.pipeline.faults import crash_point
from sagesync.recipe import Recipe
from sagesync.transform.mapping import read_csv_rows

PAYLOAD = "magento-payload"
QUANTITY = pa.decimal128(18, 4)

SOURCE_ITEMS = pa.schema([
    ("key", pa.string()), ("sku", pa.string()), ("source_code", pa.string()),
    ("quantity", QUANTITY), ("status", pa.int8()), ("on_hand", QUANTITY),
    ("allocated", QUANTITY), ("buffer", QUANTITY), ("warehouse", pa.string()),
])
PRICES = pa.schema([
    ("key", pa.string()), ("kind", pa.string()), ("sku", pa.string()), ("group", pa.string()),
    ("quantity", QUANTITY), ("price", QUANTITY), ("scope", pa.int64()),
])


@dataclass
class ParseStepResult:
    manifest: Path
    kind: str
    rows: int = 0
    skipped_rows: list[str] = field(default_factory=list)
    unmapped: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # the parser's (e.g. SKU spaces trimmed)


def stock_value(quantity: Decimal, status: int) -> str:
    return f"{quantity.normalize():f}|{status}"


def _stock_rules(recipe: Recipe) -> StockRules:
    settings = recipe.stock
    by_sku: dict[str, Buffer] = {}
    prefixes: tuple[tuple[str, Buffer], ...] = ()
    if settings.overrides_csv:
        rows = read_csv_rows(settings.overrides_csv, ("kind", "value", "buffer_percent",
                                                      "buffer_units"))
        by_sku, prefixes = parse_overrides(settings.overrides_csv, rows)
    return StockRules(Buffer(settings.buffer_percent, settings.buffer_units), by_sku, prefixes,
                      settings.allocated_includes_web_orders, settings.sources,
                      settings.default_source)


def _price_rules(recipe: Recipe) -> PriceRules:
    p = recipe.prices
    return PriceRules(p.base_price_list, p.customer_groups, p.store_id, p.website_id,
                      p.currency)


def parse_sage(recipe: Recipe, path: Path, kind: str, run_id: str) -> ParseStepResult:
    from sagesync.sage import ParseOptions, error_report, parse_export

    if not path.is_file():
        raise UsageError(f"No such file: {path}")
    settings = recipe.sage_export
    product = settings.product or recipe.sage.product
    options = ParseOptions(columns=columns_for(kind, settings.columns),
                           sku_width=settings.sku_width or None,
                           tolerance=settings.tolerance, decimal_comma=settings.decimal_comma,
                           currency=settings.currency)
    parsed = parse_export(path, product=product, kind=kind, options=options)  # type: ignore[arg-type]
    if not parsed.ok:
        report = error_report(parsed, path)
        copy = quarantine_report(recipe.state_dir, path, report)
        error = InputFormatError(f"{path.name} was not applied: "
                                 f"{plural(parsed.problem_count, 'problem')}; the first: "
                                 f"{_first(parsed.problems)}. Every "
                                 f"problem is listed in {copy}.error.txt.")
        error.report = report  # type: ignore[attr-defined]
        raise error
    writer = CheckpointWriter(recipe.state_dir, run_id, "parse-sage", PAYLOAD, recipe, [])
    result = ParseStepResult(manifest=Path(), kind=kind, rows=parsed.table.num_rows,
                             skipped_rows=[str(p) for p in parsed.problems],
                             notes=list(parsed.notes))
    writer.write("sage_rows", parsed.table)
    if kind == "shipments":
        from sagesync.pipeline.shipment_step import shipment_payload

        writer.write("shipments", shipment_payload(parsed.table, recipe.shipments))
    elif kind == "receivables":  # matched to the ledger when pushed (receivables_step)
        writer.write("receivables", parsed.table)
    elif kind == "customers":
        customers, levels = customer_payload(parsed.table, recipe)
        result.unmapped = [f"price level {p} maps to no customer group ([customers] groups): "
                           "those customers keep theirs" for p in levels]
        writer.write("customers", customers)
    elif kind == "stock":
        payload, unmapped = stock_table(parsed.table, _stock_rules(recipe))
        result.unmapped = [f"warehouse {w} maps to no Magento source ([stock] sources)"
                           for w in unmapped]
        writer.write("source_items", payload.cast(SOURCE_ITEMS))
    else:
        prices, unmapped_lists = price_lines(parsed.table.to_pylist(), _price_rules(recipe))
        result.unmapped = [f"price list {p} maps to no customer group ([prices] "
                           "customer_groups)" for p in sorted(unmapped_lists)]
        writer.write("prices", pa.Table.from_pylist(
            [{"key": p.key, "kind": p.kind, "sku": p.sku, "group": p.group,
              "quantity": p.quantity, "price": p.price, "scope": p.scope} for p in prices],
            schema=PRICES))
    result.manifest = writer.finish(summary={
        "kind": kind, "file": str(path), "product": product, "rows": result.rows,
        "skipped_rows": result.skipped_rows, "unmapped": result.unmapped, "notes": result.notes,
        "encoding": parsed.encoding, "delimiter": parsed.delimiter})
    return result


def columns_for(kind: str, columns: dict[str, str]) -> dict[str, str]:
    """The recipe's `[sage_export] columns` that concern this kind of export: one recipe
    reads stock, prices and customers, so a field of another kind is left out here (a name
    no kind knows still reaches the parser, which refuses it)."""
    from sagesync.sage.tables import CUSTOMER_FIELD_SYNONYMS, FIELDS

    mine = {spec.name for spec in FIELDS[kind]}
    others = {spec.name for k, specs in FIELDS.items() if k != kind for spec in specs}
    others |= set(CUSTOMER_FIELD_SYNONYMS)
    wanted: dict[str, str] = {}
    for name, header in columns.items():
        field_name = CUSTOMER_FIELD_SYNONYMS.get(name, name) if kind == "customers" else name
        if field_name in mine or field_name not in others:
            wanted[field_name] = header
    return wanted


def payload_kind(payload: Checkpoint) -> str:
    """stock, prices or customers: what a parse-sage checkpoint holds."""
    return "customers" if "customers" in payload.manifest["tables"] else _payload_kind(payload)


def push_customer_file(recipe: Recipe, payload: Checkpoint, ledger: Ledger, run_id: str, *,
                       dry_run: bool, force: bool,
                       make_client: Callable[[Recipe], Any] | None = None
                       ) -> CustomerPushResult:
    """push-magento for a customer export: see pipeline.customer_push."""
    writer = CheckpointWriter(recipe.state_dir, run_id, "push-magento", "magento-push", recipe,
                              [payload.path])
    source = Path(str(payload.manifest.get("summary", {}).get("file") or payload.path)).name
    result = push_customers(recipe, payload.table("customers"), ledger, writer.folder,
                            dry_run=dry_run, force=force, source=source,
                            make_client=make_client)
    assert result.preview is not None
    result.manifest = writer.finish(summary=dict(customer_summary(result, dry_run, force)),
                                    files={"preview.csv": result.preview})
    return result


def _first(problems: list[Any]) -> str:
    return str(problems[0]) if problems else "unknown"


@dataclass
class PushStepResult:
    manifest: Path
    kind: str
    changed: int = 0
    unchanged: int = 0
    sent: int = 0
    failed: list[str] = field(default_factory=list)
    unknown_skus: list[str] = field(default_factory=list)
    guard: GuardVerdict | None = None
    refused: str | None = None
    preview: Path | None = None
    nothing: str | None = None  # rollback: why there is nothing to roll back
    first_time: list[str] = field(default_factory=list)  # rollback: no earlier price to restore
    notes: list[str] = field(default_factory=list)  # shipments: worth a look, not a failure
    planned: list[str] = field(default_factory=list)  # shipments: what a dry run would ship


def _payload_kind(payload: Checkpoint) -> str:
    tables = payload.manifest["tables"]
    if "shipments" in tables:
        return "shipments"
    return "stock" if "source_items" in tables else "prices"


def push_magento(recipe: Recipe, payload: Checkpoint, ledger: Ledger, run_id: str, *,
                 dry_run: bool, force: bool,
                 make_pusher: Callable[[Recipe], Any] | None = None) -> PushStepResult:
    """Send what changed since the last push. Prices pass the guard first; shipments are
    sent once each (pipeline.shipment_step)."""
    kind = _payload_kind(payload)
    if kind == "shipments":
        return push_shipments(recipe, payload, ledger, run_id, dry_run=dry_run,
                              make_shipper=make_pusher)
    writer = CheckpointWriter(recipe.state_dir, run_id, "push-magento", "magento-push", recipe,
                              [payload.path])
    result = PushStepResult(manifest=Path(), kind=kind)
    table = payload.table("source_items" if kind == "stock" else "prices").to_pylist()
    previous = ledger.pushed(kind)
    values = {row["key"]: _value(kind, row) for row in table}
    changed_rows = [row for row in table if previous.get(row["key"]) != values[row["key"]]]
    result.changed, result.unchanged = len(changed_rows), len(table) - len(changed_rows)
    if kind == "prices":
        result.guard = check_prices(
            {r["key"]: r["price"] for r in changed_rows},
            {k: Decimal(v) for k, v in previous.items()},
            recipe.prices.guard_change_percent, recipe.prices.guard_max_share_percent)
        if result.guard.tripped and not force:
            result.refused = result.guard.reason(recipe.prices.guard_change_percent,
                                                 recipe.prices.guard_max_share_percent)
    result.preview = _write_preview(writer.folder, kind, changed_rows, previous, values)
    if not dry_run and result.refused is None and changed_rows:
        pusher = (make_pusher or default_pusher)(recipe)
        sent_keys = _send(pusher, kind, changed_rows, result, record=lambda keys: (
            ledger.record_pushed(kind, {k: values[k] for k in keys})))
        result.sent = len(sent_keys)
    result.manifest = writer.finish(summary={
        "kind": kind, "changed": result.changed, "unchanged": result.unchanged,
        "sent": result.sent, "failed": result.failed, "unknown_skus": result.unknown_skus,
        "refused": result.refused, "dry_run": dry_run, "forced": force},
        files={"preview.csv": result.preview})
    return result


def push_shipments(recipe: Recipe, payload: Checkpoint, ledger: Ledger, run_id: str, *,
                   dry_run: bool, make_shipper: Callable[[Recipe], Any] | None = None
                   ) -> PushStepResult:
    """Ship each consignment of a despatch file once; `changed` counts those not shipped
    before, `unchanged` those an earlier push shipped."""
    from sagesync.pipeline.shipment_step import default_shipper, ship_consignments, write_preview

    writer = CheckpointWriter(recipe.state_dir, run_id, "push-magento", "magento-push", recipe,
                              [payload.path])
    shipper = make_shipper(recipe) if make_shipper else default_shipper(recipe, dry_run=dry_run)
    done = ship_consignments(recipe, payload.table("shipments"), ledger, run_id,
                             dry_run=dry_run, shipper=shipper)
    result = PushStepResult(manifest=Path(), kind="shipments", changed=done.new,
                            unchanged=done.already, sent=done.sent, failed=done.failed,
                            notes=[*(f"already on the order in Magento, recorded: {f}"
                                     for f in done.found), *done.notes],
                            planned=done.planned)
    result.preview = write_preview(writer.folder, done.preview)
    result.manifest = writer.finish(summary={
        "kind": "shipments", "changed": result.changed, "unchanged": result.unchanged,
        "sent": result.sent, "failed": result.failed, "found": done.found,
        "notes": done.notes, "dry_run": dry_run}, files={"preview.csv": result.preview})
    return result


def rollback_prices(recipe: Recipe, ledger: Ledger, run_id: str, *, dry_run: bool,
                    force: bool = False,
                    make_pusher: Callable[[Recipe], Any] | None = None) -> PushStepResult:
    """Undo the last price push, once, behind the guard (`force` as for a push).

    Only the prices that push changed go back to their value before it. Each price Magento
    takes back forgets that value in the ledger, so a second rollback finds nothing to send
    and a rerun after a partial failure sends only what did not go back. Prices the push set
    for the first time have no earlier value: they are left and listed."""
    writer = CheckpointWriter(recipe.state_dir, run_id, "rollback-prices", "magento-push",
                              recipe, [])
    result = PushStepResult(manifest=Path(), kind="prices")
    last = ledger.last_push("prices")
    held = ledger.push_changes(last.push_id) if last and not last.rolled_back_at else {}
    undo = {key: previous for key, (_, previous) in held.items() if previous is not None}
    current = {key: value for key, (value, _) in held.items()}
    result.first_time = sorted(key for key in held if key not in undo)
    result.nothing = _nothing_to_roll_back(last, bool(undo))
    rows = [_price_row_from_key(key, Decimal(value)) for key, value in sorted(undo.items())]
    values = {r["key"]: _value("prices", r) for r in rows}
    result.changed = len(rows)
    result.guard = check_prices({r["key"]: r["price"] for r in rows},
                                {key: Decimal(current[key]) for key in undo},
                                recipe.prices.guard_change_percent,
                                recipe.prices.guard_max_share_percent)
    if result.guard.tripped and not force:
        result.refused = result.guard.reason(
            recipe.prices.guard_change_percent, recipe.prices.guard_max_share_percent,
            advice="nothing was sent back. Check the preview; if undoing the last push is "
                   "what you want, run `rollback prices --force`.")
    result.preview = _write_preview(writer.folder, "prices", rows, current, values)
    if last and rows and not dry_run and result.refused is None:
        sent_keys = _send((make_pusher or default_pusher)(recipe), "prices", rows, result)
        ledger.record_rollback(last.push_id, sent_keys)
        result.sent = len(sent_keys)
    result.manifest = writer.finish(summary={
        "kind": "prices", "rollback": True, "rollback_of": last.run_id if last else None,
        "changed": result.changed, "sent": result.sent, "failed": result.failed,
        "first_time": result.first_time, "nothing": result.nothing,
        "refused": result.refused, "dry_run": dry_run, "forced": force},
        files={"preview.csv": result.preview})
    return result


def _nothing_to_roll_back(last: Push | None, undoable: bool) -> str | None:
    """Why a rollback has nothing to send, in words for the person who asked for it."""
    if last is None:
        return "no price push is recorded in this state folder yet."
    if last.rolled_back_at:
        return (f"the last price push (run {last.run_id}, {last.pushed_at}) was already rolled "
                f"back (run {last.rolled_back_run}, {last.rolled_back_at}). A rollback undoes "
                "the last push once; to change prices again, push a Sage export.")
    if not undoable:
        return (f"the last price push (run {last.run_id}, {last.pushed_at}) only set prices "
                "pushed for the first time, so there is no earlier price to go back to.")
    return None


_BASE_KEY = re.compile(r"(?P<sku>.*)\|store (?P<scope>\d+)")
_TIER_KEY = re.compile(r"(?P<sku>.*)\|website (?P<scope>\d+)\|(?P<group>.*)\|(?P<qty>[^|]+)")


def _price_row_from_key(key: str, price: Decimal) -> dict[str, Any]:
    """The price row a ledger key stands for (see PriceLine.key); SKUs may hold "|"."""
    base = _BASE_KEY.fullmatch(key)
    if base:
        return {"key": key, "kind": "base", "sku": base["sku"], "group": "",
                "quantity": Decimal(1), "price": price, "scope": int(base["scope"])}
    tier = _TIER_KEY.fullmatch(key)
    if tier is None:
        raise ValueError(f"not a price key: {key!r}")
    return {"key": key, "kind": "tier", "sku": tier["sku"], "group": tier["group"],
            "quantity": Decimal(tier["qty"]), "price": price, "scope": int(tier["scope"])}


def _value(kind: str, row: dict[str, Any]) -> str:
    if kind == "stock":
        return stock_value(row["quantity"], row["status"])
    return f"{Decimal(row['price']).normalize():f}"


def _write_preview(folder: Path, kind: str, rows: list[dict[str, Any]],
                   previous: dict[str, str], values: dict[str, str]) -> Path:
    """old -> new for every row that would be sent: what a person checks before --force.

    People open it in a spreadsheet, so every cell goes through csv_cell: a SKU such as
    `=HYPERLINK(...)` (or its full-width form) is written inert.
    """
    from sagesync.render import csv_cell

    buffer = io.StringIO()
    out = csv.writer(buffer, lineterminator="\r\n")
    out.writerow(["key", "old", "new"] + (["on_hand", "allocated", "buffer"]
                                          if kind == "stock" else []))
    for row in rows:
        extra = [row["on_hand"], row["allocated"], row["buffer"]] if kind == "stock" else []
        out.writerow([csv_cell(c) for c in
                      (row["key"], previous.get(row["key"], ""), values[row["key"]], *extra)])
    path = folder / "preview.csv"
    path.write_text(buffer.getvalue(), encoding="utf-8", newline="")
    return path


def default_pusher(recipe: Recipe) -> Any:
    from sagesync.magento.connect import magento_auth
    from sagesync.magento.http import RetryPolicy
    from sagesync.magento.push import CatalogPusher

    if not recipe.magento.base_url:
        raise UsageError("push-magento needs a live store: set [magento] base_url and token "
                         "(or use --dry-run to see the payloads).")
    return CatalogPusher(recipe.magento.base_url,
                         magento_auth(recipe, recipe.magento.base_url),
                         chunk_size=recipe.push_chunk_size,
                         timeout=recipe.magento.timeout_seconds,
                         retry=RetryPolicy(
                             attempts=recipe.magento.retry_attempts,
                             max_retry_after=recipe.magento.max_retry_after_seconds),
                         auth_kind=recipe.magento.auth)


def _send(pusher: Any, kind: str, rows: list[dict[str, Any]], result: PushStepResult, *,
          record: Callable[[list[str]], None] | None = None) -> list[str]:
    """Push and return the keys Magento accepted; failures and unknown SKUs are reported.
    `record`, when given, gets the keys of each chunk Magento accepts before the next chunk
    is sent (see _ChunkRecorder)."""
    from sagesync.magento.push import BasePrice, SourceItem, TierPrice

    keyed: dict[Any, str] = {}
    if kind == "stock":
        items = [SourceItem(r["sku"], r["source_code"], r["quantity"], r["status"])
                 for r in rows]
        keyed = {item: r["key"] for item, r in zip(items, rows, strict=True)}
    else:
        base = [(BasePrice(r["sku"], r["price"], r["scope"]), r) for r in rows
                if r["kind"] == "base"]
        tier = [(TierPrice(r["sku"], r["price"], r["scope"], r["group"], r["quantity"]), r)
                for r in rows if r["kind"] == "tier"]
        keyed = {item: r["key"] for item, r in base + tier}
    if record is not None:
        pusher = _ChunkRecorder(pusher, keyed, record)
    if kind == "stock":
        reports = [pusher.push_source_items(items)]
    else:
        reports = [pusher.push_base_prices([i for i, _ in base]) if base else None,
                   pusher.push_tier_prices([i for i, _ in tier]) if tier else None]
    sent: list[str] = []
    for report in (r for r in reports if r is not None):
        sent += [keyed[item] for item in report.sent]
        result.failed += [f"{keyed.get(item, item)}: {reason}" for item, reason in report.failed]
        result.unknown_skus += sorted(getattr(report, "unknown_skus", []) or [])
    return sent


class _ChunkRecorder:
    """A pusher that sends one chunk at a time and records what Magento accepted of it before
    sending the next, so a push killed half-way (push-magento or watch) is finished by
    sending only the rest: the ledger's `pushed` snapshot already holds what landed. A chunk
    in flight at the kill is sent again (the calls are upserts of the same values).

    `keyed` maps each item _send builds to its ledger key; `record` stores accepted keys."""

    def __init__(self, pusher: Any, keyed: dict[Any, str],
                 record: Callable[[list[str]], None]) -> None:
        self.pusher = pusher
        self.keyed = keyed
        self.record = record

    def push_source_items(self, items: Sequence[Any]) -> Any:
        return self._chunked(self.pusher.push_source_items, items)

    def push_base_prices(self, items: Sequence[Any]) -> Any:
        return self._chunked(self.pusher.push_base_prices, items)

    def push_tier_prices(self, items: Sequence[Any]) -> Any:
        return self._chunked(self.pusher.push_tier_prices, items)

    def _chunked(self, push: Callable[[Sequence[Any]], Any], items: Sequence[Any]) -> Any:
        from sagesync.magento.push import PushReport

        total: PushReport[Any] = PushReport()
        start = 0
        while start < len(items):
            chunk = items[start:start + int(self.pusher.chunk_size)]  # it may lower the size
            report = push(chunk)
            total.sent += report.sent
            total.failed += report.failed
            total.requests += report.requests
            for sku in report.unknown_skus:
                total._unknown(sku)
            accepted = [self.keyed[item] for item in report.sent if item in self.keyed]
            if accepted:
                self.record(accepted)
                crash_point("push-chunk")
            start += len(chunk)
        return total
