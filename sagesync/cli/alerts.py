"""Alerts and the daily digest: `alerts check` (cron), `digest`, and the evaluation every
ledger-changing command makes when it ends (`notify`)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path

import click

from sagesync.errors import UsageError
from sagesync.recipe import Recipe

from .common import Context, global_options, handle_errors, say


def notify(recipe: Recipe, quarantine_folders: Sequence[Path] = ()) -> None:
    """Evaluate the recipe's alerts at the end of a command. Never fails the command: a
    channel that cannot send, or anything else going wrong here, is a warning on stderr and
    the alert goes with the next evaluation."""
    if not recipe.alerts.enabled:
        return
    from sagesync.alerts.engine import evaluate
    from sagesync.alerts.message import redact, secrets_of

    try:
        report = evaluate(recipe, quarantine_folders=quarantine_folders)
    except Exception as error:
        say(f"warning: alerts not evaluated: {redact(str(error), secrets_of(recipe))}")
        return
    for warning in report.warnings:
        say(f"warning: {warning}")
    for row in report.opened:
        say(f"alert: {row.title} ({row.cause})")
    for row in report.cleared:
        say(f"alert resolved: {row.title} ({row.cause})")


@click.group("alerts")
@global_options
def alerts_group() -> None:
    """Check the recipe's alert triggers and send what changed (see [alerts]).

    \b
    Example:
      sagesync -r recipes/live-sage50uk.toml alerts check
    """


@alerts_group.command("check")
@click.option("--inbox", "inboxes", multiple=True,
              type=click.Path(file_okay=False, path_type=Path),
              help="Also look at this watched folder's quarantine/ (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="Print the open alerts as JSON.")
@global_options
@click.pass_obj
@handle_errors
def check_command(obj: Context, inboxes: tuple[Path, ...], as_json: bool) -> None:
    """Evaluate every alert trigger now and send what opened or cleared; for cron, so silence
    (no run, no orders) is noticed when nothing else runs. Exit 0 when no alert is open, 1
    when one is; a channel that cannot send is a warning and is retried next time.

    \b
    Example:
      */30 * * * * sagesync -r recipes/live-sage50uk.toml alerts check >/dev/null
    """
    from sagesync.alerts.engine import evaluate

    recipe = obj.recipe()
    if not recipe.alerts.enabled:
        raise UsageError(f"{recipe.path}: [alerts] names no channel: set smtp_host (with from "
                         "and to) or webhook_url.")
    report = evaluate(recipe, quarantine_folders=[i / "quarantine" for i in inboxes])
    for warning in report.warnings:
        say(f"warning: {warning}")
    if as_json:
        click.echo(json.dumps({
            "open": [{"cause": r.cause, "title": r.title, "since": r.raised_at}
                     for r in report.open],
            "opened": [r.cause for r in report.opened],
            "cleared": [r.cause for r in report.cleared],
            "sent": report.sent, "warnings": report.warnings}, indent=2))
    else:
        for row in report.open:
            new = " (new)" if row in report.opened else ""
            say(f"open since {row.raised_at}{new}: {row.title} ({row.cause})")
        for row in report.cleared:
            say(f"resolved: {row.title} ({row.cause})")
        if not report.open:
            say("no alert open")
    click.get_current_context().exit(1 if report.open else 0)


class DayType(click.ParamType):
    name = "YYYY-MM-DD"

    def convert(self, value: object, param: click.Parameter | None,
                ctx: click.Context | None) -> date:
        if isinstance(value, date):
            return value
        try:
            return datetime.strptime(str(value), "%Y-%m-%d").date()
        except ValueError:
            self.fail(f"{value!r} is not a date YYYY-MM-DD", param, ctx)


@click.command("digest")
@click.option("--date", "day", type=DayType(),
              help="The day, in the recipe's time zone (default: yesterday).")
@click.option("--store", type=int, help="Only this store id.")
@click.option("--send", is_flag=True,
              help="E-mail it (plain text and HTML) through the [alerts] SMTP settings.")
@click.option("--json", "as_json", is_flag=True, help="Print it as JSON.")
@global_options
@click.pass_obj
@handle_errors
def digest_command(obj: Context, day: date | None, store: int | None, send: bool,
                   as_json: bool) -> None:
    """One day per store: documents exported, sent, confirmed, held and void, the amounts sent
    per currency and tax code, the oldest pending record, and what waits for a person with
    the commands to fix it. Printed, or e-mailed with --send.

    \b
    Example:
      0 7 * * * sagesync -r recipes/live-sage50uk.toml digest --send
      sagesync -r recipes/live-sage50uk.toml digest --date 2026-11-29 --json
    """
    from sagesync.alerts.channels import EmailChannel
    from sagesync.alerts.message import Message, masked, secrets_of
    from sagesync.ledger import Ledger
    from sagesync.ops.digest import build_digest, yesterday
    from sagesync.ops.digest_text import as_html, as_text, subject

    recipe = obj.recipe()
    if send and not recipe.alerts.email:
        raise UsageError(f"{recipe.path}: digest --send needs [alerts] smtp_host, from and to.")
    with Ledger.read_only(recipe.state_dir / "ledger.sqlite") as ledger:
        digest = build_digest(recipe, ledger, day or yesterday(recipe), store=store)
    if as_json:
        click.echo(json.dumps(digest.as_dict(), indent=2, default=str))
    elif not send:
        click.echo(as_text(digest), nl=False)
    if send:
        message = masked(Message(subject(digest), as_text(digest), html=as_html(digest)),
                         secrets_of(recipe))
        EmailChannel(recipe.alerts).send(message)
        say(f"digest for {digest.day.isoformat()} sent to {', '.join(recipe.alerts.recipients)}")
