"""Sage -> Magento commands: parse-sage, push-magento, rollback, watch."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import click

from sagesync.errors import ExitCode, UsageError
from sagesync.fs import write_atomically
from sagesync.ops.watch import Handle, Handled, LedgerBook, process_inbox
from sagesync.pipeline.catalog_step import (
    PushStepResult,
    parse_sage,
    payload_kind,
    push_customer_file,
    push_magento,
    rollback_prices,
)
from sagesync.pipeline.checkpoint import new_run_id, open_checkpoint
from sagesync.pipeline.customer_push import CustomerPushResult
from sagesync.pipeline.receivables_step import ReceivablesResult, push_receivables
from sagesync.pipeline.session import Outcome
from sagesync.recipe import Recipe

from .common import (
    Context,
    emit_manifest,
    global_options,
    handle_errors,
    info,
    plural,
    read_from,
    say,
)
from .pipeline import step_session

KINDS = click.Choice(["stock", "prices", "customers", "receivables", "shipments"])


def _report_refusal(result: Any) -> bool:
    """The price guard's refusal, with the moves it found suspicious; True when refused."""
    if not result.refused:
        return False
    say(f"REFUSED by the price guard: {result.refused}")
    for key, old, new in (result.guard.suspicious if result.guard else [])[:20]:
        say(f"  {key}: {old} -> {new}")
    say(f"  full preview: {result.preview}")
    return True


def _report_failures(result: Any, unknown: str) -> None:
    for failure in result.failed:
        say(f"failed: {failure}")
    for sku in result.unknown_skus:
        say(f"{unknown}: {sku}")


def _refusal(result: PushStepResult | CustomerPushResult) -> dict[str, str]:
    """What the run history keeps of a refused push, for `status`: the price guard's reason,
    or what Magento refused."""
    refused = result.refused or "; ".join(
        [*result.failed, *(f"{sku}: unknown in Magento" for sku in result.unknown_skus)][:5])
    return {"refused": refused} if refused else {}


def _report_push(result: PushStepResult, dry_run: bool) -> int:
    info(f"{result.kind}: {result.changed} changed since the last push, "
         f"{result.unchanged} unchanged")
    if _report_refusal(result):
        return int(ExitCode.HELD)
    _report_failures(result, "unknown in Magento (not created)")
    verb = "would send" if dry_run else "sent"
    info(f"{verb} {result.changed if dry_run else result.sent}; preview: {result.preview}")
    return int(ExitCode.HELD) if result.failed or result.unknown_skus else int(ExitCode.OK)


def _report_shipments(result: PushStepResult, dry_run: bool) -> int:
    """What a shipments push did: each refusal with its reason (exit 1), notes, counts."""
    for failure in result.failed:
        say(f"not shipped: {failure}")
    for note in result.notes:
        say(f"note: {note}")
    for line in result.planned:
        say(f"would ship: {line}")
    verb = "would ship" if dry_run else "shipped"
    info(f"shipments: {plural(result.changed + result.unchanged, 'consignment')} in the file, "
         f"{result.unchanged} shipped before; {verb} "
         f"{result.changed - len(result.failed) if dry_run else result.sent}; preview: "
         f"{result.preview}")
    return int(ExitCode.HELD) if result.failed else int(ExitCode.OK)


@click.command("parse-sage")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--kind", type=KINDS, required=True, help="What the export holds.")
@global_options
@click.pass_obj
@handle_errors
def parse_sage_command(obj: Context, file: Path, kind: str) -> None:
    """Parse a Sage stock, price, customer, receivables or despatch export into Magento payloads
    (a checkpoint).

    A shipments (despatch) file's rows are despatched order lines with their carrier and
    tracking number.

    A malformed file is quarantined with every problem listed, and exits 65. FILE `-` reads
    the export from stdin (kept as STATE/incoming/stdin-RUN.csv, so it can be quarantined
    and replayed like any file).

    \b
    Example:
      sagesync -r recipes/stock-prices.toml parse-sage exports/stock.csv --kind stock \\
        | sagesync push-magento --dry-run
    """
    recipe = obj.recipe()
    run_id = new_run_id()
    if str(file) == "-":
        file = _from_stdin(recipe.state_dir, run_id)
    with step_session(recipe, "parse-sage", run_id, flow="catalog") as session:
        result = parse_sage(recipe, file, kind, run_id)
        for note in result.skipped_rows:
            info(f"skipped (within [sage_export] tolerance): {note}")
        for note in result.unmapped:
            say(f"warning: {note}")
        for note in result.notes:
            say(f"note: {note}")
        info(f"parsed {result.rows} {kind} rows from {file.name}")
        session.outcome = Outcome(0, {"rows": result.rows})
    emit_manifest(result.manifest)


def _from_stdin(state_dir: Path, run_id: str) -> Path:
    """Standard input, saved whole under the state folder before anything reads it."""
    if sys.stdin is None or sys.stdin.isatty():
        raise UsageError("parse-sage -: pipe a Sage export into standard input (or give a "
                         "file).")
    data = sys.stdin.buffer.read()
    if not data:
        raise UsageError("parse-sage -: nothing came in on standard input.")
    path = state_dir / "incoming" / f"stdin-{run_id}.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(path, data)
    return path


@click.command("push-magento")
@click.option("--from", "from_", metavar="PATH|-", help="The parse-sage manifest.")
@click.option("--dry-run", is_flag=True, help="Write payloads and the old -> new preview; "
              "send nothing.")
@click.option("--force", is_flag=True, help="Push even when the price (or receivables) guard "
              "trips.")
@click.option("--json", "as_json", is_flag=True,
              help="Print one JSON object on stdout instead of the manifest path.")
@global_options
@click.pass_obj
@handle_errors
def push_magento_command(obj: Context, from_: str | None, dry_run: bool, force: bool,
                         as_json: bool) -> None:
    """Send stock, prices, customers, receivables or shipments that changed since the last push
    to Magento.

    Customers: each Sage account's customer (the ledger's account mapping, then the e-mail)
    gets the group of its price level ([customers] groups), the on-hold attribute
    ([customers] hold_attribute) and, when Sage owns them, its address; a customer with
    nothing to change is not written. --force passes the customer group guard. Shipments:
    each despatch consignment (order and tracking number) is shipped once, ever.

    \b
    Example:
      sagesync push-magento --from STATE/runs/RUN/parse-sage/manifest.json --dry-run
    """
    payload = read_from(from_)
    if payload.kind != "magento-payload":
        raise UsageError(f"{payload.path} is a '{payload.kind}' checkpoint; push-magento "
                         "reads the one parse-sage prints.")
    recipe = obj.recipe(payload)
    if "receivables" in payload.manifest["tables"]:
        _push_receivables(recipe, payload, dry_run, force, as_json)
        return
    if payload_kind(payload) == "customers":
        _push_customers(recipe, payload, dry_run, force, as_json)
        return
    with step_session(recipe, "push-magento", payload.run_id, dry_run=dry_run,
                      flow="catalog") as session:
        result = push_magento(recipe, payload, session.ledger, payload.run_id, dry_run=dry_run,
                              force=force)
        code = (_report_shipments(result, dry_run) if result.kind == "shipments"
                else _report_push(result, dry_run))
        session.outcome = Outcome(code, {"sent": result.sent, "kind": result.kind,
                                         **_refusal(result)})
    _finish(result.manifest, {
        "kind": result.kind, "dry_run": dry_run, "changed": result.changed,
        "unchanged": result.unchanged, "sent": result.sent, "failed": result.failed,
        "unknown_skus": result.unknown_skus, "refused": result.refused, "notes": result.notes,
        "planned": result.planned, "preview": str(result.preview) if result.preview else None,
    } if as_json else None, code)


def _finish(manifest: Path, report: dict[str, Any] | None, code: int) -> None:
    """The push's answer on stdout (`--json`: `report`; else the manifest path), then its
    exit code."""
    if report is not None:
        click.echo(json.dumps({"manifest": str(manifest), "exit_code": code, **report},
                              indent=2))
    else:
        emit_manifest(manifest)
    click.get_current_context().exit(code)


def _report_receivables(result: ReceivablesResult, dry_run: bool) -> int:
    """What Sage says is owed, told to the orders; rows matching no posted document exit 1."""
    info(f"receivables: {plural(len(result.changed), 'document')} changed since the last "
         f"push, {result.unchanged} unchanged")
    if result.refused:
        say(f"REFUSED by the receivables guard: {result.refused}")
        say(f"  full preview: {result.preview}")
        return int(ExitCode.HELD)
    if result.not_ours:
        info(f"{plural(len(result.not_ours), 'row')} about documents sagesync did not post, "
             f"left alone (the first: {result.not_ours[0]})")
    for line in result.unknown:
        say(f"not matched: {line}")
    for line in result.told.failed:
        say(f"failed: {line}")
    if dry_run:
        for line in result.changed[:20]:
            info(f"would tell {line}")
        info(f"preview: {result.preview}")
    else:
        told = len(result.told.posted) + len(result.told.found)
        info(f"told {plural(told, 'order')} (a comment each); preview: {result.preview}")
    return int(ExitCode.HELD) if result.unknown or result.told.failed else int(ExitCode.OK)


def _push_receivables(recipe: Recipe, payload: Any, dry_run: bool, force: bool,
                      as_json: bool) -> None:
    with step_session(recipe, "push-magento", payload.run_id, dry_run=dry_run,
                      flow="catalog") as session:
        result = push_receivables(recipe, payload, session.ledger, payload.run_id,
                                  dry_run=dry_run, force=force)
        code = _report_receivables(result, dry_run)
        session.outcome = Outcome(code, {"sent": len(result.told.posted), "kind": "receivables",
                                         **({"refused": result.refused} if result.refused
                                            else {})})
    _finish(result.manifest, {
        "kind": "receivables", "dry_run": dry_run, "rows": result.rows,
        "changed": result.changed, "unchanged": result.unchanged, "unknown": result.unknown,
        "told": result.told.posted + result.told.found, "failed": result.told.failed,
        "refused": result.refused, "preview": str(result.preview) if result.preview else None,
    } if as_json else None, code)


def _report_customers(result: CustomerPushResult, dry_run: bool) -> int:
    """What a customer push did: the guard's refusal, each change (old -> new), failures
    (exit 1); accounts with no Magento customer are listed, not failures."""
    info(f"customers: {result.changed} changed since the last push, {result.unchanged} "
         "unchanged")
    if result.refused:
        say(f"REFUSED by the customer group guard: {result.refused}")
        for account, old, new in result.moves[:20]:
            say(f"  {account}: group {old} -> {new}")
        say(f"  full preview: {result.preview}")
        return int(ExitCode.HELD)
    for line in result.previews[:50]:
        (info if not dry_run else say)(f"{'would change' if dry_run else 'changed'}: {line}")
    for line in result.unknown_accounts[:20]:
        info(f"not in Magento (no web login; nothing to push): {line}")
    if len(result.unknown_accounts) > 20:
        info(f"... and {len(result.unknown_accounts) - 20} more accounts not in Magento")
    for line in result.approved:
        say(f"account approved: {line}")
    for line in result.failed:
        say(f"failed: {line}")
    count = result.would_write if dry_run else result.sent
    info(f"{'would write' if dry_run else 'wrote'} {plural(count, 'customer')}; "
         f"preview: {result.preview}")
    return int(ExitCode.HELD) if result.failed else int(ExitCode.OK)


def _push_customers(recipe: Recipe, payload: Any, dry_run: bool, force: bool,
                    as_json: bool) -> None:
    with step_session(recipe, "push-magento", payload.run_id, dry_run=dry_run,
                      flow="catalog") as session:
        result = push_customer_file(recipe, payload, session.ledger, payload.run_id,
                                    dry_run=dry_run, force=force)
        code = _report_customers(result, dry_run)
        refused = result.refused or "; ".join(result.failed[:5])
        session.outcome = Outcome(code, {"sent": result.sent, "kind": "customers",
                                         **({"refused": refused} if refused else {})})
    _finish(result.manifest, {
        "kind": "customers", "dry_run": dry_run, "changed": result.changed,
        "unchanged": result.unchanged, "sent": result.sent, "failed": result.failed,
        "unknown_accounts": result.unknown_accounts, "approved": result.approved,
        "refused": result.refused, "changes": result.previews,
        "preview": str(result.preview) if result.preview else None,
    } if as_json else None, code)


def _report_rollback(result: PushStepResult, dry_run: bool) -> int:
    """What a rollback did; nothing to roll back is not an error (exit 0)."""
    if result.nothing:
        say(f"Nothing to roll back: {result.nothing}")
        return int(ExitCode.OK)
    if result.first_time:
        say(f"{plural(len(result.first_time), 'price')} were first set by that push and have no "
            f"earlier price: left as they are (e.g. {result.first_time[0]}).")
    if _report_refusal(result):
        return int(ExitCode.HELD)
    _report_failures(result, "unknown in Magento")
    if dry_run:
        say(f"would send {plural(result.changed, 'price')} back; preview: {result.preview}")
        return int(ExitCode.OK)
    say(f"sent {result.sent} of {plural(result.changed, 'price')} back; preview: "
        f"{result.preview}")
    if result.failed or result.unknown_skus:
        say("Run `rollback prices` again to send back only the prices that did not go back.")
        return int(ExitCode.HELD)
    return int(ExitCode.OK)


@click.command("rollback")
@click.argument("what", type=click.Choice(["prices", "stock"]))
@click.option("--dry-run", is_flag=True, help="Show what would be sent back.")
@click.option("--force", is_flag=True, help="Send the prices back even when the price guard "
              "trips.")
@global_options
@click.pass_obj
@handle_errors
def rollback_command(obj: Context, what: str, dry_run: bool, force: bool) -> None:
    """Undo the last price push, once: its prices go back to their value before it.

    Prices only. Stock is not rolled back: it is Sage's count of what is on the shelf, and
    the next stock export from Sage puts Magento right (`rollback stock` says so and exits 2).

    The price guard applies, as for push-magento (--force to override). A second rollback
    has nothing to roll back and exits 0; after a partial failure it sends only what did not
    go back.

    \b
    Example:
      sagesync -r recipes/stock-prices.toml rollback prices --dry-run
    """
    if what == "stock":
        raise UsageError("Stock is not rolled back: Sage owns stock, and a pushed quantity "
                         "is Sage's count at that time. Export stock from Sage again and push "
                         "it (parse-sage --kind stock | push-magento): Magento gets Sage's "
                         "count now.")
    recipe = obj.recipe()
    run_id = new_run_id()
    with step_session(recipe, "rollback", run_id, dry_run=dry_run, flow="catalog") as session:
        result = rollback_prices(recipe, session.ledger, run_id, dry_run=dry_run, force=force)
        code = _report_rollback(result, dry_run)
        session.outcome = Outcome(code, {"sent": result.sent,
                                         "kind": "" if result.nothing else "prices",
                                         **_refusal(result)})
    emit_manifest(result.manifest)
    click.get_current_context().exit(code)


def _handle_file(recipe: Recipe, dry_run: bool) -> Handle:
    """Parse and push one watched file under the run id the watcher gives (the same one
    again when it resumes a killed push); the push step records each chunk Magento accepts."""

    def handle(path: Path, kind: str, run_id: str) -> Handled:
        with step_session(recipe, "watch", run_id, dry_run=dry_run, flow="catalog",
                          alerts=False) as session:  # the pass evaluates, with its inbox
            ledger = session.ledger
            parsed = parse_sage(recipe, path, kind, run_id)
            payload = open_checkpoint(parsed.manifest)
            pushed: PushStepResult | CustomerPushResult
            if kind == "receivables":
                told = push_receivables(recipe, payload, ledger, run_id, dry_run=dry_run)
                problems = [*told.unknown, *told.told.failed]
                session.outcome = Outcome(int(ExitCode.HELD if problems else ExitCode.OK),
                                          {"sent": len(told.told.posted), "kind": kind})
                return Handled(f"{told.rows} rows, {len(told.changed)} changed, "
                               f"{len(told.told.posted)} orders told", complete=not problems,
                               warnings=tuple(f"not told: {p}" for p in problems))
            if kind == "customers":
                pushed = push_customer_file(recipe, payload, ledger, run_id, dry_run=dry_run,
                                            force=False)
            else:
                pushed = push_magento(recipe, payload, ledger, run_id, dry_run=dry_run,
                                      force=False)
            code = ExitCode.HELD if (pushed.refused or pushed.failed
                                     or pushed.unknown_skus) else ExitCode.OK
            session.outcome = Outcome(int(code), {"sent": pushed.sent, "kind": kind,
                                                  **_refusal(pushed)})
        if pushed.refused:
            from sagesync.errors import SageSyncError

            raise SageSyncError(pushed.refused)
        refused = [*pushed.failed, *(f"{sku}: unknown in Magento (not created)"
                                     for sku in pushed.unknown_skus
                                     if not any(f.startswith((f"{sku}|", f"{sku}:"))
                                                for f in pushed.failed))]
        return Handled(f"{parsed.rows} rows, {pushed.changed} changed, {pushed.sent} sent"
                       + (f", {len(pushed.failed)} failed: {'; '.join(refused[:5])}"
                          if refused else ""), complete=not refused,
                       warnings=(*(f"skipped: {n}" for n in parsed.skipped_rows),
                                 *(f"not in Magento: {a}"
                                   for a in getattr(pushed, "unknown_accounts", [])),
                                 *(f"not mapped: {n}" for n in parsed.unmapped),
                                 *(f"refused by Magento: {r}" for r in refused)))
    return handle


@click.command("watch")
@click.argument("inbox", type=click.Path(file_okay=False, path_type=Path))
@click.option("--once", is_flag=True, help="One pass, then exit (for cron).")
@click.option("--interval", type=click.FloatRange(min=1), default=60, show_default=True,
              help="Seconds between passes.")
@click.option("--settle", type=click.FloatRange(min=0), default=2, show_default=True,
              help="A file must be unchanged for this long before it is taken.")
@click.option("--dry-run", is_flag=True, help="Parse and preview, push nothing, move "
              "nothing: the files stay where they are.")
@global_options
@click.pass_obj
@handle_errors
def watch_command(obj: Context, inbox: Path, once: bool, interval: float, settle: float,
                  dry_run: bool) -> None:
    """Take Sage exports dropped into INBOX, push them, and file them away.

    Files named stock-….csv, prices-….csv, customers-….csv, accounts-….csv,
    receivables-….csv or shipments-….csv (despatch-….csv); they go to archive/YYYY-MM-DD/ or
    to quarantine/ with a .error.txt saying what is wrong where.

    \b
    Example:
      sagesync -r recipes/stock-prices.toml watch //fileserver/sage-drop --once
    """
    recipe = obj.recipe()
    if not inbox.is_dir():
        raise UsageError(f"The inbox {inbox} is not a folder.")
    book = LedgerBook(recipe.state_dir / "ledger.sqlite", dry_run=dry_run)
    worst = 0
    while True:
        outcome = process_inbox(inbox, _handle_file(recipe, dry_run), book,
                                settle_seconds=settle, dry_run=dry_run)
        for line in outcome.resumed:
            say(f"resumed after an interrupted pass: {line}")
        for line in outcome.archived:
            info(f"done: {line}")
        for line in outcome.held:
            say(f"done, but Magento refused some items (archived; fix and drop it again): "
                f"{line}")
        for line in outcome.duplicates:
            info(f"already processed, archived without pushing: {line}")
        for line in outcome.quarantined:
            say(f"quarantined: {line}")
        for line in outcome.retry_later:
            say(f"left in the inbox for the next pass: {line}")
        for line in outcome.waiting:
            info(f"waiting: {line}")
        for name in outcome.ignored:
            info(f"not a Sage export by its name, left alone: {name}")
        worst = max(worst, int(outcome.exit_code))
        if not dry_run:
            from .alerts import notify

            notify(recipe, quarantine_folders=[inbox / "quarantine"])
        if once:
            click.get_current_context().exit(worst)
        time.sleep(interval)
