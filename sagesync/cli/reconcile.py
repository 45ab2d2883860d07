"""The reconcile command: Magento, the ledger and Sage side by side."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time
from pathlib import Path

import click

from sagesync.errors import ExitCode
from sagesync.fs import write_atomically
from sagesync.ledger import Ledger
from sagesync.ops.reconcile import CLASSES, reconcile
from sagesync.pipeline.checkpoint import new_run_id, open_checkpoint
from sagesync.pipeline.export_step import export_orders

from .common import Context, console, global_options, handle_errors, plural, say
from .pipeline import step_session

SHOWN = 50  # out-of-step documents printed (all of them are in --csv and --json)


@click.command("reconcile")
@click.option("--from", "start", type=click.DateTime(["%Y-%m-%d"]), required=True,
              help="First day (YYYY-MM-DD, in the recipe's time zone).")
@click.option("--to", "end", type=click.DateTime(["%Y-%m-%d"]), required=True,
              help="Last day, included.")
@click.option("--sage", "sage_file", type=click.Path(dir_okay=False, path_type=Path),
              help="Sage's export of the documents it holds, read with the recipe's [ack] "
                   "layout ([ack] amount_column adds Sage's amounts).")
@click.option("--fresh", is_flag=True,
              help="Read Magento from the store now (a dry export: nothing changes), not "
                   "from the export checkpoints kept.")
@click.option("--csv", "csv_file", type=click.Path(dir_okay=False, path_type=Path),
              help="Write every document, one row each, to this CSV file.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object on stdout.")
@global_options
@click.pass_obj
@handle_errors
def reconcile_command(obj: Context, start: datetime, end: datetime, sage_file: Path | None,
                      fresh: bool, csv_file: Path | None, as_json: bool) -> None:
    """Compare Magento, the ledger and Sage over a range of days: each document in sync,
    missing in Sage, duplicated, an orphan in Sage, or with another amount; totals per day,
    store, currency and Sage type side by side. Exits 1 when anything is out of step.

    \b
    Example:
      sagesync -r recipes/demo.toml reconcile --from 2026-11-01 --to 2026-11-30
      sagesync -r recipes/demo.toml reconcile --from 2026-11-01 --to 2026-11-30 \\
        --sage exports/audit-trail.csv --csv november.csv
    """
    recipe = obj.recipe()
    first, last = start.date(), end.date()
    exports = None
    if fresh:
        run_id = new_run_id()
        since = datetime.combine(first, time(), recipe.zone).astimezone(UTC)
        with step_session(recipe, "reconcile", run_id, dry_run=True):
            exported = export_orders(recipe, run_id, None, since=since)
        exports = [open_checkpoint(exported.manifest)]
    with Ledger.read_only(recipe.state_dir / "ledger.sqlite", new_run_id()) as ledger:
        result = reconcile(recipe, ledger, first, last, sage_file=sage_file, exports=exports)
    if csv_file is not None:
        write_atomically(csv_file, result.csv_text().encode("utf-8"))
    code = ExitCode.HELD if result.out_of_step else ExitCode.OK
    if as_json:
        click.echo(json.dumps({**result.as_dict(), "exit_code": int(code)}, indent=2))
    else:
        _print(result, first, last)
    if result.out_of_step:
        counts = result.counts
        say("out of step: " + ", ".join(f"{plural(counts[c], 'document')} {c}"
                                        for c in CLASSES if c != "in_sync" and counts[c]))
    click.get_current_context().exit(int(code))


def _print(result: object, first: date, last: date) -> None:
    from rich.table import Table

    from sagesync.ops.reconcile import Reconciliation

    assert isinstance(result, Reconciliation)
    out = console()
    table = Table(title=f"Magento, ledger and Sage, {first} to {last}", title_justify="left")
    for name in ("day", "store", "currency", "type", "Magento", "total", "ledger sent",
                 "total", "Sage", "total"):
        table.add_column(name, justify="right" if name in ("total", "Magento", "Sage",
                                                           "ledger sent") else "left")
    for (day, store, currency, kind), t in sorted(result.totals.items()):
        sage = result.sage_file is not None
        table.add_row(day, str(store), currency, kind, str(t.magento_count),
                      f"{t.magento_total:.2f}", str(t.ledger_count), f"{t.ledger_total:.2f}",
                      str(t.sage_count) if sage else "-", f"{t.sage_total:.2f}" if sage else "-")
    out.print(table)
    out.print("  " + ", ".join(f"{n} {c}" for c, n in result.counts.items()), markup=False)
    for line in result.out_of_step[:SHOWN]:
        out.print(f"  {line.verdict}: {line.sage_type} {line.reference} {line.key} "
                  f"{line.magento_total if line.magento_total is not None else ''} "
                  f"{line.detail}".rstrip(), markup=False)
    if len(result.out_of_step) > SHOWN:
        out.print(f"  ... and {len(result.out_of_step) - SHOWN} more (see --csv or --json)")
