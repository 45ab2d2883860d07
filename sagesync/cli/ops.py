"""Commands to see and fix: status, trace, retry, hold, release, ack."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import click

from sagesync.errors import ExitCode, InputFormatError, UsageError
from sagesync.ledger import Ledger
from sagesync.ledger.shipment_book import lines_text
from sagesync.ops.ack import apply_ack
from sagesync.ops.fixup import FixupResult, TraceEntry, hold, release, retry, settle, trace
from sagesync.ops.status import flow_status
from sagesync.pipeline.checkpoint import new_run_id
from sagesync.pipeline.lock import run_lock
from sagesync.pipeline.session import Outcome
from sagesync.recipe import Recipe

from .common import Context, global_options, handle_errors, info, plural, say
from .common import console as stdout_console
from .pipeline import step_session


def _read_ledger(recipe: Recipe) -> Ledger:
    """Reading needs no lock: SQLite in WAL mode gives a consistent snapshot."""
    return Ledger(recipe.state_dir / "ledger.sqlite")


@click.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON on stdout.")
@click.option("--check", is_flag=True,
              help="Exit 1 when a threshold of the recipe's [status] section is breached.")
@global_options
@click.pass_obj
@handle_errors
def status_command(obj: Context, as_json: bool, check: bool) -> None:
    """Show each flow's last successful run, records per state, and what needs a person.

    \b
    Example:
      sagesync -r recipes/demo.toml status
      sagesync -r recipes/demo.toml status --check --json   # for monitoring
    """
    recipe = obj.recipe()
    with _read_ledger(recipe) as ledger:
        status = flow_status(recipe, ledger)
    if as_json:
        click.echo(json.dumps(status.as_dict(), indent=2, default=str))
    else:
        _print_status(recipe, status)
    if check and status.breaches:
        for breach in status.breaches:
            say(f"check failed: {breach}")
        click.get_current_context().exit(int(ExitCode.HELD))


def _print_status(recipe: Recipe, status: object) -> None:
    from rich.table import Table

    console = stdout_console()
    s = status  # FlowStatus
    last = s.last_success  # type: ignore[attr-defined]
    console.print(f"[bold]{recipe.name}[/bold]: Magento orders -> {recipe.sage.product}")
    console.print("  last successful run: "
                  + (f"{last['finished_at']} ({last['command']}, run {last['run_id']})"
                     if last else "none yet"))
    table = Table("state", "records")
    for state, count in s.counts.items():  # type: ignore[attr-defined]
        table.add_row(state, str(count))
    console.print(table)
    causes = s.holds_by_cause  # type: ignore[attr-defined]
    if causes:
        by_cause = Table(title="held or needing attention, by cause", title_justify="left")
        by_cause.add_column("cause")
        by_cause.add_column("code", no_wrap=True)
        by_cause.add_column("records", justify="right")
        by_cause.add_column("for example")
        for group in causes:
            by_cause.add_row(group["title"], group["code"], str(group["count"]),
                             ", ".join(group["examples"]))
        console.print(by_cause)
        for group in causes:
            console.print(f"  {group['title']}: {group['fix']}", markup=False)
            for command in group["commands"]:
                console.print(f"    {command}", markup=False, soft_wrap=True)
    _print_catalog(console, s.catalog)  # type: ignore[attr-defined]
    _print_shipments(console, s.shipments)  # type: ignore[attr-defined]
    age = s.oldest_pending_hours  # type: ignore[attr-defined]
    console.print(f"  oldest pending record: {'none' if age is None else f'{age:g} h old'}")
    for title, rows in (("needs attention", s.needs_attention),  # type: ignore[attr-defined]
                        ("held", s.held),  # type: ignore[attr-defined]
                        ("amended after sending (correct in Sage, then `sagesync resolve`)",
                         s.amended),  # type: ignore[attr-defined]
                        ("sent, not confirmed", s.unconfirmed)):  # type: ignore[attr-defined]
        if rows:
            console.print(f"  {title}:")
            for row in rows:
                console.print(f"    {row['key']} ({row['increment_id']}, order {row['order']}): "
                              f"{row['reason'] or row['file'] or ''}", markup=False)


def _print_catalog(console: Any, catalog: dict[str, list[dict[str, Any]]]) -> None:
    """Sage -> Magento: the last push of each kind, refusals and quarantined files."""
    if not catalog:
        return
    for push in catalog["last_pushes"]:
        back = f", rolled back {push['rolled_back_at']}" if push["rolled_back_at"] else ""
        console.print(f"  last {push['kind']} push: {push['pushed_at']} "
                      f"({plural(push['items'], 'item')}{back})", markup=False)
    for refusal in catalog["refused"]:
        console.print(f"  refused ({refusal['command']}, {refusal['at']}): {refusal['why']}",
                      markup=False)
    for file in catalog["quarantined"]:
        console.print(f"  quarantined file {file['name']} ({file['at']}): {file['why']}",
                      markup=False)


def _print_shipments(console: Any, shipments: dict[str, Any]) -> None:
    """Despatches from Sage: consignments per state, then each one not shipped and why."""
    if not shipments:
        return
    counts = ", ".join(f"{n} {state}" for state, n in sorted(shipments["counts"].items()))
    console.print(f"  shipments from Sage: {counts}", markup=False)
    for w in shipments["waiting"]:
        what = ("refused" if w["state"] == "refused" else
                "interrupted (the next push looks for it on the order)")
        console.print(f"    {what}: order {w['order']}, tracking {w['tracking_number']} "
                      f"({w['at']})" + (f": {w['why']}" if w["why"] else ""), markup=False)


@click.command("trace")
@click.argument("order")
@click.option("--json", "as_json", is_flag=True, help="One JSON array on stdout.")
@global_options
@click.pass_obj
@handle_errors
def trace_command(obj: Context, order: str, as_json: bool) -> None:
    """Follow a Magento order to its Sage documents: invoices, credit memos, files, numbers.

    \b
    Example:
      sagesync -r recipes/demo.toml trace 000000002
    """
    recipe = obj.recipe()
    with _read_ledger(recipe) as ledger:
        entries = trace(ledger, order, recipe.sage.post_from)
    if as_json:
        click.echo(json.dumps([e.as_dict() for e in entries], indent=2))
        return
    for entry in entries:
        row = entry.row
        click.echo(f"{row.key}  Magento {row.increment_id} (order {row.order_increment_id})")
        click.echo(f"  state: {row.state}" + (f" after {row.attempts} attempts"
                                               if row.attempts else ""))
        doc = entry.document
        if doc.get("type"):
            amount = doc.get("amount") or doc.get("magento_total") or "?"
            click.echo(f"  Sage document: {doc['type']} {doc.get('reference', '')}"
                       + (f", account {doc['account']}" if doc.get("account") else "")
                       + f", {amount}" + (f" {doc['currency']}" if doc.get("currency") else ""))
        account = entry.account
        if account:
            click.echo(f"  account {account['account']}: "
                       + ("approved" if account["approved_at"] else "awaiting approval")
                       + (f"; Sage's customer export last set {account['pushed']} at "
                          f"{account['pushed_at']}" if account["pushed"] else ""))
        if row.last_error:
            click.echo(f"  reason: {row.last_error}")
        if row.file:
            click.echo(f"  batch {row.batch_id}: {row.file}")
        if row.sage_ref or row.sage_invoice_ref:
            click.echo(f"  Sage: {row.sage_ref or '?'}"
                       + (f", invoice {row.sage_invoice_ref}" if row.sage_invoice_ref else ""))
        for at, event, detail in entry.events:
            click.echo(f"    {at}  {event}" + (f": {detail}" if detail else ""))
    _echo_shipments(entries)


def _echo_shipments(entries: list[TraceEntry]) -> None:
    """Each traced order's consignments, once per order (every entry of it carries them)."""
    told: set[str] = set()
    for entry in entries:
        order = entry.row.order_increment_id or ""
        if not entry.shipments or order in told:
            continue
        told.add(order)
        click.echo(f"order {order} shipments:")
        for s in entry.shipments:
            lines = ", ".join(f"{sku} x {qty}" for sku, qty in lines_text(s.lines).items())
            click.echo(f"  {s.tracking_number} ({s.carrier_code}): {s.state}"
                       + (f", Magento shipment {s.shipment_id}" if s.shipment_id else "")
                       + f"; {lines}" + (f"; {s.detail}" if s.detail else ""))


def _report_fixup(verb: str, result: FixupResult) -> None:
    """What changed; exit 1 when nothing did (nothing matched, or no record's state allowed
    it), so a script knows its fix did not happen."""
    for item in result.changed:
        say(f"{verb}: {item}")
    for item in result.unchanged:
        say(f"not changed (its state does not allow it): {item}")
    if not result.changed and not result.unchanged:
        say("nothing matched.")
    if not result.changed:
        click.get_current_context().exit(int(ExitCode.HELD))


def _fixup(obj: Context, command: str, apply: object) -> FixupResult:
    """Apply a person's fix under the run lock; then evaluate the alerts, so a cause the
    fix cleared is announced as resolved at once."""
    recipe = obj.recipe()
    with run_lock(recipe.state_dir, command), Ledger(recipe.state_dir / "ledger.sqlite",
                                                     new_run_id()) as ledger:
        result: FixupResult = apply(ledger)  # type: ignore[operator]
    from .alerts import notify

    notify(recipe)
    return result


@click.command("retry")
@click.argument("keys", nargs=-1)
@click.option("--all-held", is_flag=True, help="Every held record.")
@click.option("--all-rejected", is_flag=True, help="Every rejected or needs-attention record.")
@global_options
@click.pass_obj
@handle_errors
def retry_command(obj: Context, keys: tuple[str, ...], all_held: bool,
                  all_rejected: bool) -> None:
    """Queue records again; the next run re-validates and sends them.

    KEY is a record key as status prints it (invoice:12@1) or a Magento increment id.

    \b
    Example:
      sagesync -r recipes/demo.toml retry invoice:12@1
      sagesync -r recipes/demo.toml retry --all-held
    """
    result = _fixup(obj, "retry", lambda ledger: retry(ledger, list(keys), all_held=all_held,
                                                      all_rejected=all_rejected))
    _report_fixup("queued again", result)


@click.command("hold")
@click.argument("keys", nargs=-1, required=True)
@global_options
@click.pass_obj
@handle_errors
def hold_command(obj: Context, keys: tuple[str, ...]) -> None:
    """Keep records out of Sage until `release` (for example while a refund is disputed).

    \b
    Example:
      sagesync -r recipes/demo.toml hold invoice:12@1
    """
    _report_fixup("held", _fixup(obj, "hold", lambda ledger: hold(ledger, list(keys))))


@click.command("release")
@click.argument("keys", nargs=-1, required=True)
@global_options
@click.pass_obj
@handle_errors
def release_command(obj: Context, keys: tuple[str, ...]) -> None:
    """Release records a person held; the next run sends them.

    \b
    Example:
      sagesync -r recipes/demo.toml release invoice:12@1
    """
    _report_fixup("released", _fixup(obj, "release",
                                     lambda ledger: release(ledger, list(keys))))


@click.command("resolve")
@click.argument("keys", nargs=-1, required=True)
@click.option("--note", required=True,
              help="What was done in Sage (kept in the record's history), e.g. 'SC 1043'.")
@global_options
@click.pass_obj
@handle_errors
def resolve_command(obj: Context, keys: tuple[str, ...], note: str) -> None:
    """Close records settled in Sage by hand: amended ones once Sage was corrected, and ones
    needing attention that Sage turned out to hold. Held ones too, once entered by hand
    (what the import cannot take: a credit memo for Sage 50 Canada). They are never sent
    again.

    \b
    Example:
      sagesync -r recipes/demo.toml resolve order:9@1 --note "reversed with SC 1043"
    """
    _report_fixup("resolved", _fixup(obj, "resolve",
                                     lambda ledger: settle(ledger, list(keys), note)))


@click.command("ack")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True,
              help="One JSON object on stdout: each outcome's records, and the exit code.")
@global_options
@click.pass_obj
@handle_errors
def ack_command(obj: Context, file: Path, as_json: bool) -> None:
    """Read Sage's export of imported documents: confirm them, or reject them for a retry.

    The recipe's [ack] section names the file's columns; the encoding is detected. A row
    confirms only with a Sage number and an ok status (or no status column) and no error. A
    rejected record is sent again by the next run; after [ledger] max_attempts it needs a
    person. Rows that say nothing clear are listed and change nothing (exit 1); a file that
    cannot be read is quarantined and nothing of it is applied (exit 65).

    \b
    Example:
      sagesync -r recipes/demo.toml ack sage-exports/audit-trail.csv
    """
    recipe = obj.recipe()
    with step_session(recipe, "ack", new_run_id()) as session:
        try:
            result = apply_ack(recipe, session.ledger, file)
        except InputFormatError:
            session.outcome = Outcome(int(ExitCode.BAD_INPUT))
            raise
        for item in result.confirmed:
            info(f"confirmed: {item}")
        for item in result.rejected:
            say(f"rejected by Sage, queued for the next run: {item}")
        for item in result.needs_attention:
            say(f"NEEDS ATTENTION (not resent until a person retries it): {item}")
        for item in result.unclear:
            say(f"not applied: {item}")
        for item in result.unmatched:
            say(f"not applied, no match: {item}")
        for item in result.ambiguous:
            say(f"not applied, ambiguous: {item}")
        for item in result.already_applied:
            info(f"already applied, nothing changed: {item}")
        code = ExitCode.HELD if result.needs_a_person else ExitCode.OK
        session.outcome = Outcome(int(code), {"confirmed": len(result.confirmed)})
    if as_json:
        click.echo(json.dumps({"file": str(file), "exit_code": int(code),
                               **dataclasses.asdict(result)}, indent=2))
    ignored = (f"; {plural(result.ignored, 'row')} of other transaction types ignored"
               if result.ignored else "")
    info(f"{len(result.confirmed)} confirmed, {len(result.rejected)} rejected, "
         f"{len(result.needs_attention)} need attention, {len(result.unclear)} unclear, "
         f"{len(result.unmatched)} unmatched, {len(result.ambiguous)} ambiguous, "
         f"{len(result.already_applied)} already applied{ignored}")
    click.get_current_context().exit(int(code))


@click.command("listen")
@click.option("--host", help="Address to listen on (default: the recipe's, 127.0.0.1).")
@click.option("--port", type=click.IntRange(1, 65535), help="Port (default: the recipe's).")
@click.option("--run", "run_now", is_flag=True,
              help="Run the recipe as soon as a verified event arrives (one run at a time).")
@global_options
@click.pass_obj
@handle_errors
def listen_command(obj: Context, host: str | None, port: int | None, run_now: bool) -> None:
    """Receive store webhooks and I/O Events; verified events queue their orders.

    Put it behind your HTTPS reverse proxy. POST /commerce for Commerce webhooks, POST /io for
    I/O Events, POST /hook for webhooks signed with a shared secret ([listen] hmac_secret).
    Each request must arrive within [listen] read_timeout_seconds; refusals are one line on
    stderr. Polling runs stay the backstop.

    \b
    Example:
      sagesync -r recipes/live-sage50uk.toml listen --port 8787 --run
    """
    import threading
    import time

    from sagesync.ops.listen import config_from_settings, serve
    from sagesync.pipeline.run import run_recipe

    recipe = obj.recipe()
    settings = recipe.listen
    wake = threading.Event()

    def run_soon(_added: int) -> None:
        wake.set()

    try:
        config = config_from_settings(settings, recipe.state_dir / "ledger.sqlite",
                                      on_recorded=run_soon if run_now else None,
                                      log=lambda line: say(f"listen: {line}"))
    except ValueError as error:
        raise UsageError(str(error)) from None
    recipe.state_dir.mkdir(parents=True, exist_ok=True)
    server = serve(host or settings.host, port or settings.port, config)
    host_name, port_number = server.server_address[:2]
    routes = "/commerce, /io" + (", /hook" if config.hmac else "")
    say(f"listening on http://{host_name!s}:{port_number} ({routes}); Ctrl+C stops")
    try:
        while True:
            if not wake.wait(timeout=1.0):
                continue
            wake.clear()
            time.sleep(2)  # let a burst of events arrive; one run takes them all
            run_id = new_run_id()
            try:
                with step_session(recipe, "run", run_id) as session:
                    result = run_recipe(recipe, session.ledger, run_id)
                    session.outcome = Outcome(0, {"delivered": result.imported.delivered})
                say(f"run {run_id}: delivered {result.imported.delivered} documents")
            except Exception as error:  # keep listening; the next event or poll retries
                say(f"run after an event failed, the next one retries: {error}")
    except KeyboardInterrupt:
        say(f"stopped: {server.recorded} entity ids recorded, {server.rejected} refused")
    finally:
        server.shutdown()
