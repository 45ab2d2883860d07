"""The housekeeping commands: runs (the history) and prune (old checkpoints)."""

from __future__ import annotations

import json

import click

from sagesync.ledger import Ledger
from sagesync.ops.housekeeping import list_runs, prune
from sagesync.pipeline.checkpoint import new_run_id
from sagesync.pipeline.lock import run_lock

from .common import Context, console, global_options, handle_errors, info, plural, say


@click.command("runs")
@click.option("--limit", type=click.IntRange(1, 10_000), default=20, show_default=True,
              help="How many runs, newest first.")
@click.option("--json", "as_json", is_flag=True, help="One JSON array on stdout.")
@global_options
@click.pass_obj
@handle_errors
def runs_command(obj: Context, limit: int, as_json: bool) -> None:
    """List the latest runs: when, which command, its exit code, dry run or not, and the
    batches it delivered (a batch number missing from the outbox shows here as a batch that
    was interrupted or delivered nothing).

    \b
    Example:
      sagesync -r recipes/demo.toml runs --limit 5
    """
    recipe = obj.recipe()
    with Ledger.read_only(recipe.state_dir / "ledger.sqlite", None) as ledger:
        entries = list_runs(recipe.state_dir, ledger, limit)
    if as_json:
        click.echo(json.dumps([e.as_dict() for e in entries], indent=2, default=str))
        return
    from rich.table import Table

    table = Table("started (UTC)", "run", "command", "exit", "dry run", "batches",
                  "checkpoints")
    for e in entries:
        batches = ", ".join(f"B{b['batch_id']:06d} {b['state']} ({plural(b['files'], 'file')})"
                            for b in e.batches)
        table.add_row(e.started_at, e.run_id, e.command,
                      "-" if e.exit_code is None else str(e.exit_code),
                      "yes" if e.dry_run else "", batches,
                      "on disk" if e.checkpoints_kept else "none")
    console().print(table)


@click.command("prune")
@click.option("--keep-days", type=int, required=True,
              help="Remove run folders older than this many days (0: all but the newest).")
@click.option("--dry-run", is_flag=True, help="Say what would be removed; remove nothing.")
@global_options
@click.pass_obj
@handle_errors
def prune_command(obj: Context, keep_days: int, dry_run: bool) -> None:
    """Remove old checkpoints (run folders) from the state folder: never the newest, and never
    one holding the latest data of a record not yet in Sage (the next run needs it). The
    recipe's `[ledger] keep_days` does the same after every run.

    \b
    Example:
      sagesync -r recipes/demo.toml prune --keep-days 30 --dry-run
    """
    recipe = obj.recipe()
    with run_lock(recipe.state_dir, "prune"), \
            Ledger.read_only(recipe.state_dir / "ledger.sqlite", new_run_id()) as ledger:
        result = prune(recipe.state_dir, ledger, keep_days, dry_run=dry_run)
    verb = "would remove" if dry_run else "removed"
    for folder in result.removed:
        info(f"{verb}: {folder}")
    for folder in result.kept_for_queue:
        info(f"kept, a record not yet in Sage needs it: {folder}")
    say(f"{verb} {plural(len(result.removed), 'run folder')} "
        f"({result.freed_bytes / 1_048_576:.1f} MiB); kept "
        f"{len(result.kept_for_queue)} older ones that queued records need")
