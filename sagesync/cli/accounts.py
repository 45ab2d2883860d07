"""`sagesync accounts`: the Sage accounts of web customers, and approving new ones.

Under `[customers] new_accounts = "review"` a new web customer's documents wait in `held`
("account awaiting approval") until a person approves the account here, or Sage's customer
export lists it (parse-sage --kind customers | push-magento, or the watched folder).
"""

from __future__ import annotations

import json

import click

from sagesync.errors import ExitCode
from sagesync.ledger import Ledger
from sagesync.pipeline.checkpoint import new_run_id
from sagesync.pipeline.lock import run_lock

from .common import Context, global_options, handle_errors, say


@click.group("accounts")
@global_options
def accounts_group() -> None:
    """The Sage accounts of web customers: list them, approve new ones (review mode).

    \b
    Example:
      sagesync -r recipes/demo.toml accounts list --waiting
    """


@accounts_group.command("approve")
@click.argument("refs", nargs=-1, required=True)
@global_options
@click.pass_obj
@handle_errors
def approve_command(obj: Context, refs: tuple[str, ...]) -> None:
    """Approve new accounts: their held documents go back to the queue (the next run sends
    them). Exits 1 when no account named was waiting.

    \b
    Example:
      sagesync -r recipes/demo.toml accounts approve WHITFI01
    """
    recipe = obj.recipe()
    done = 0
    with run_lock(recipe.state_dir, "accounts approve"), Ledger(
            recipe.state_dir / "ledger.sqlite", new_run_id()) as ledger:
        for ref in refs:
            waiting, released = ledger.approve_account(ref, "approved by a person")
            if waiting:
                done += 1
                say(f"approved: {ref} ({len(released)} documents released; the next run "
                    "sends them)")
            else:
                say(f"not waiting for approval: {ref}")
    from .alerts import notify

    notify(recipe)
    if not done:
        click.get_current_context().exit(int(ExitCode.HELD))


@accounts_group.command("list")
@click.option("--waiting", is_flag=True, help="Only accounts awaiting approval.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON on stdout.")
@global_options
@click.pass_obj
@handle_errors
def list_command(obj: Context, waiting: bool, as_json: bool) -> None:
    """Each account: its Magento customer, where it came from, whether it is approved, the
    documents waiting for it, and what the last customer push from Sage set.

    \b
    Example:
      sagesync -r recipes/demo.toml accounts list
    """
    recipe = obj.recipe()
    path = recipe.state_dir / "ledger.sqlite"
    rows = []
    if path.exists():
        with Ledger.read_only(path) as ledger:
            rows = ledger.accounts_overview(only_waiting=waiting)
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        say("no accounts" + (" awaiting approval." if waiting else " yet."))
        return
    for row in rows:
        state = "approved" if row["approved_at"] else \
            f"AWAITING APPROVAL ({row['waiting']} documents held)"
        pushed = f"; Sage pushed {row['pushed']} at {row['pushed_at']}" if row["pushed"] else ""
        click.echo(f"{row['account']}\t{row['customer']}\t{row['origin']}\t{state}{pushed}")
