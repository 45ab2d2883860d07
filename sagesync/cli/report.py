"""`sagesync report`: the status page, and the page `run` writes when the recipe asks."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click

from sagesync.errors import SageSyncError, UsageError
from sagesync.ledger import Ledger
from sagesync.ops.report import StatusReport, status_report
from sagesync.ops.report_page import write_page
from sagesync.recipe import Recipe

from .common import Context, global_options, handle_errors, info, say


def _figures(recipe: Recipe, days: int | None) -> StatusReport:
    with Ledger.read_only(recipe.state_dir / "ledger.sqlite") as ledger:
        return status_report(recipe, ledger, days=days or recipe.report.days)


@click.command("report")
@click.option("--html", "html", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the status page to this file (without it, and without --json: "
                   "the recipe's [report] html).")
@click.option("--days", type=click.IntRange(1, 3660),
              help="Days the charts cover (default: [report] days, else 14).")
@click.option("--json", "as_json", is_flag=True, help="Print the page's figures as JSON.")
@global_options
@click.pass_obj
@handle_errors
def report_command(obj: Context, html: Path | None, days: int | None, as_json: bool) -> None:
    """Write the status page: one HTML file with the queue's depth and age over time,
    documents per day (Magento and Sage), holds by cause and the last runs. It needs no
    server and no internet: open it from a shared folder.

    \b
    Example:
      sagesync -r recipes/demo.toml report --html status.html
      sagesync -r recipes/demo.toml report --json
    """
    recipe = obj.recipe()
    target = html or (None if as_json else recipe.report.html)  # --json alone writes nothing
    if target is None and not as_json:
        raise UsageError("report needs --html FILE (or [report] html in the recipe), "
                         "or --json.")
    figures = _figures(recipe, days)
    if target is not None:
        write_page(target, figures)
        info(f"status page: {target}")
    if as_json:
        click.echo(json.dumps(figures.as_dict(), indent=2, default=str))


@contextmanager
def page_after(recipe: Recipe, *, enabled: bool = True) -> Iterator[None]:
    """Around a run's session: once it has ended (and the run history has its exit code),
    the recipe's [report] html is written, whether the run went well or failed."""
    try:
        yield
    except Exception:
        if enabled:
            page_after_run(recipe)
        raise
    if enabled:
        page_after_run(recipe)


def page_after_run(recipe: Recipe) -> None:
    """The recipe's [report] html, written now if it asks for one. A page that cannot be
    written is a warning: the run itself went as it went."""
    target = recipe.report.html
    if target is None:
        return
    try:
        write_page(target, _figures(recipe, None))
    except SageSyncError as error:
        say(f"warning: status page not written ([report] html): {error}")
    except Exception as error:  # never let the page turn a run into a failure
        say(f"warning: status page not written ([report] html): {type(error).__name__}: "
            f"{error}")
