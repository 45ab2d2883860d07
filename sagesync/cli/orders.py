"""The update-orders command: Sage's answers told to Magento as order comments."""

from __future__ import annotations

import json

import click

from sagesync.errors import AuthError, ExitCode, SageSyncError
from sagesync.ledger import Ledger
from sagesync.pipeline.checkpoint import new_run_id
from sagesync.pipeline.order_updates import UpdateResult, update_orders
from sagesync.recipe import Recipe

from .common import Context, global_options, handle_errors, info, plural, say
from .pipeline import step_session


@click.command("update-orders")
@click.option("--dry-run", is_flag=True, help="Show the comments; post nothing.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object on stdout.")
@global_options
@click.pass_obj
@handle_errors
def update_orders_command(obj: Context, dry_run: bool, as_json: bool) -> None:
    """Tell Magento what Sage said: an order comment with the Sage numbers for each document
    `ack` confirmed (and the recipe's [magento_updates] confirmed_status), Sage's reason for
    each it refused. Each answer once: a rerun or a crash never posts a comment twice.

    \b
    Example:
      sagesync -r recipes/live-sage50uk.toml update-orders --dry-run
    """
    recipe = obj.recipe()
    run_id = new_run_id()
    with step_session(recipe, "update-orders", run_id, dry_run=dry_run) as session:
        result = update_orders(recipe, session.ledger, dry_run=dry_run)
    code = report_updates(result)
    if as_json:
        click.echo(json.dumps({"exit_code": code, **result.__dict__}, indent=2))
    click.get_current_context().exit(code)


def report_updates(result: UpdateResult) -> int:
    for line in result.previews:
        say(f"would comment: {line}")
    for line in result.found:
        info(f"already on the order (an interrupted run had posted it): {line}")
    for line in result.failed:
        say(f"Magento refused the comment: {line}")
    if result.posted:
        info(f"told Magento: {plural(len(result.posted), 'order comment')}")
    return int(ExitCode.HELD) if result.failed else int(ExitCode.OK)


def after_run(recipe: Recipe, ledger: Ledger) -> int:
    """`run`'s last step when [magento_updates] enabled: a Magento that cannot take the
    comments now is a warning (the next run tells it), since Sage has the files already."""
    try:
        return report_updates(update_orders(recipe, ledger))
    except AuthError:
        raise
    except SageSyncError as error:
        say(f"warning: Magento was not told Sage's answers this run (the next run does): "
            f"{error}")
        return int(ExitCode.OK)
