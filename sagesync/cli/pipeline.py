"""The pipeline commands: export-orders, transform, import-sage and run.

Each command imports its own step when it runs: a step's process then loads only what that
step uses (the transform needs no HTTP client, template engine or renderer), which is some
12 MB of memory and a tenth of a second less per step."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from sagesync.errors import ExitCode, RunLockedError, UsageError
from sagesync.ledger import Ledger
from sagesync.pipeline.checkpoint import (
    Checkpoint,
    new_run_id,
    open_checkpoint,
)
from sagesync.pipeline.session import Outcome, StepSession, open_session
from sagesync.recipe import Recipe

from .common import (
    Context,
    console,
    emit_manifest,
    exit_code_for,
    global_options,
    handle_errors,
    info,
    plural,
    progress_bars,
    read_from,
    say,
)
from .report import page_after

if TYPE_CHECKING:
    from sagesync.pipeline.export_step import ExportResult
    from sagesync.pipeline.import_step import ImportResult
    from sagesync.pipeline.transform_step import TransformResult


class UtcTime(click.ParamType):
    """--since / --until: ISO 8601, a zone optional (UTC without one); a date alone is the start
    of that day, or for --until (`end_of_day`) its end."""

    name = "TIME"

    def __init__(self, *, end_of_day: bool = False) -> None:
        self.end_of_day = end_of_day

    def convert(self, value: object, param: click.Parameter | None,
                ctx: click.Context | None) -> datetime:
        if isinstance(value, datetime):
            return value
        try:
            from sagesync.pipeline.export_step import parse_utc

            return parse_utc(str(value), end_of_day=self.end_of_day)
        except ValueError:
            self.fail(f"{value!r} is not an ISO 8601 date or time, such as '2026-11-30', "
                      "'2026-11-30 14:00:00' (UTC) or '2026-11-30T14:00:00+01:00'", param, ctx)


SINCE_HELP = ("Only records updated at or after this time (ISO 8601; UTC unless it has a "
              "zone; a date alone is the start of that day).")
UNTIL_HELP = ("Only records updated at or before this time (ISO 8601; UTC unless it has a "
              "zone; a date alone means the end of that day).")


def _window(since: datetime | None, until: datetime | None) -> None:
    if since is not None and until is not None and since > until:
        raise UsageError(f"--since {since:%Y-%m-%d %H:%M:%S} UTC is after --until "
                         f"{until:%Y-%m-%d %H:%M:%S} UTC: nothing could match.")


@contextmanager
def step_session(recipe: Recipe, command: str, run_id: str, *, dry_run: bool = False,
                 flow: str = "orders", alerts: bool = True) -> Iterator[StepSession]:
    """The library's step session (run lock, ledger, run history) for a command, recording
    the exit code an escaping error maps to as the CLI would exit with it. When it ends
    (even by an error, but not another run's lock or Ctrl+C) the recipe's alerts are
    evaluated, unless this is a dry run or `alerts` is False (the caller evaluates)."""
    evaluate = alerts and not dry_run
    try:
        with open_session(recipe.state_dir, command, run_id, dry_run=dry_run, flow=flow,
                          exit_code_for=lambda error: exit_code_for(error, recipe.state_dir)
                          ) as session:
            yield session
    except (RunLockedError, KeyboardInterrupt):
        evaluate = False
        raise
    finally:
        if evaluate:
            from .alerts import notify

            notify(recipe)


# the export's entity names as a person reads them, singular
_ENTITY_NOUNS = {"orders": "order", "invoices": "invoice", "creditmemos": "credit memo",
                 "customers": "customer"}


def _report_export(result: ExportResult) -> int:
    counts = ", ".join(plural(n, _ENTITY_NOUNS.get(e, e)) for e, n in result.counts.items())
    info(f"exported {counts} from {plural(result.pages, 'page')}"
        + (f" ({result.duplicates} repeated rows dropped)" if result.duplicates else ""))
    for line in result.amended:
        say(f"amended after sending (not resent; correct it in Sage): {line}")
    for line in result.voided:
        info(f"void (cancelled in Magento, never delivered): {line}")
    for bad in result.bad_pages:
        say(f"bad input: {bad}")
    return ExitCode.BAD_INPUT if result.bad_pages else ExitCode.OK


def _report_transform(result: TransformResult, *, show_held: bool = True) -> int:
    info(f"transformed {plural(result.documents, 'document')} ({len(result.held)} held, "
         f"{plural(result.new_accounts, 'new account')})")
    for warning in result.warnings:
        say(f"warning: {warning}")
    if show_held:
        for held in result.held:
            say(f"held: {held}")
    return ExitCode.HELD if result.held else ExitCode.OK


def _report_import(result: ImportResult, dry_run: bool, recipe: Recipe) -> int:
    if result.blackout is not None:
        say(result.blackout.message(recipe.zone))
        return ExitCode.RETRY_LATER
    for note in result.recovered:
        say(f"recovered: {note}")
    for warning in result.warnings:
        say(f"warning: {warning}")
    for held in result.held:
        say(f"held: {held}")
    for label in result.needs_attention:
        say(f"needs a person, not sent (the reason: `sagesync trace`): {label}")
    for label in result.stale:
        info(f"skipped, a newer version is queued (transform the latest export): {label}")
    for label in result.void:
        info(f"skipped, cancelled in Magento (void, never delivered): {label}")
    for label in result.skipped:
        info(f"not posted, by the recipe's rule: {label}")
    verb = "would deliver" if dry_run else "delivered"
    info(f"{verb} {plural(result.delivered, 'document')} in {plural(len(result.files), 'file')}"
         f" ({result.already_sent} already sent earlier, {len(result.held)} held"
         + (f", {len(result.skipped)} not posted" if result.skipped else "") + ")")
    for path in result.files:
        info(f"  {path}")
    return ExitCode.HELD if result.held or result.needs_attention else ExitCode.OK


@click.command("export-orders")
@click.option("--source", metavar="DIR|URL",
              help="A folder of saved REST pages or a store's REST base URL; overrides the recipe.")
@click.option("--since", type=UtcTime(), help=SINCE_HELP)
@click.option("--until", type=UtcTime(end_of_day=True), help=UNTIL_HELP)
@global_options
@click.pass_obj
@handle_errors
def export_orders_command(obj: Context, source: str | None, since: datetime | None,
                          until: datetime | None) -> None:
    """Pull orders, invoices, credit memos and customers from Magento into a checkpoint.

    Prints the checkpoint's manifest path on stdout.

    \b
    Example:
      sagesync export-orders -r recipes/demo.toml | sagesync transform | sagesync import-sage
    """
    from sagesync.pipeline.export_step import export_orders

    if obj.recipe_path is None:
        raise UsageError("export-orders needs a recipe: pass -r/--recipe RECIPE.toml.")
    _window(since, until)
    recipe, workers = obj.recipe(), obj.workers
    run_id = new_run_id()
    with step_session(recipe, "export-orders", run_id) as session:
        with progress_bars(obj):
            result = export_orders(recipe, run_id, session.ledger, source=source, since=since,
                                   until=until, workers=workers)
        code = _report_export(result)
        session.outcome = Outcome(code, {"counts": result.counts})
    emit_manifest(result.manifest)
    click.get_current_context().exit(code)


def _expect(checkpoint: Checkpoint, kind: str, reader: str) -> None:
    if checkpoint.kind != kind:
        raise UsageError(f"{checkpoint.path} is a '{checkpoint.kind}' checkpoint; {reader} "
                         f"reads a '{kind}' checkpoint.")


@click.command("transform")
@click.option("--from", "from_", metavar="PATH|-",
              help="The export manifest (default: read it from stdin when piped).")
@click.option("--dry-run", is_flag=True, help="Write the checkpoint but change no ledger state.")
@global_options
@click.pass_obj
@handle_errors
def transform_command(obj: Context, from_: str | None, dry_run: bool) -> None:
    """Turn an export checkpoint into Sage documents, split by nominal and tax code.

    Queued records that earlier exports hold are included, so nothing waits for Magento to
    change again.

    \b
    Example:
      sagesync transform --from STATE/runs/RUN/export-orders/manifest.json
    """
    from sagesync.pipeline.transform_step import transform

    export = read_from(from_)
    _expect(export, "magento-export", "transform")
    recipe, workers = obj.recipe(export), obj.workers
    with step_session(recipe, "transform", export.run_id, dry_run=dry_run) as session:
        with progress_bars(obj):
            result = transform(recipe, export, None if dry_run else session.ledger,
                               export.run_id, lookup=session.ledger, workers=workers)
        code = _report_transform(result)
        session.outcome = Outcome(code, {"documents": result.documents})
    emit_manifest(result.manifest)
    click.get_current_context().exit(code)


@click.command("import-sage")
@click.option("--from", "from_", metavar="PATH|-",
              help="The transform manifest (default: read it from stdin when piped).")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path),
              help="Deliver into this folder instead of the recipe's [delivery] path.")
@click.option("--dry-run", is_flag=True,
              help="Write the files into the checkpoint's preview/ folder; send nothing and "
                   "change no ledger state.")
@global_options
@click.pass_obj
@handle_errors
def import_sage_command(obj: Context, from_: str | None, out: Path | None,
                        dry_run: bool) -> None:
    """Write Sage import files for every queued document and deliver them, exactly once.

    \b
    Example:
      sagesync import-sage --from STATE/runs/RUN/transform/manifest.json --out sage-in/
    """
    from sagesync.pipeline.import_step import import_sage

    documents = read_from(from_)
    _expect(documents, "sage-documents", "import-sage")
    if documents.dry_run and not dry_run:
        raise UsageError(_dry_run_refusal(documents))
    recipe, workers = obj.recipe(documents), obj.workers
    with step_session(recipe, "import-sage", documents.run_id, dry_run=dry_run) as session:
        with progress_bars(obj):
            result = import_sage(recipe, documents, session.ledger, documents.run_id,
                                 out_dir=out.resolve() if out else None, dry_run=dry_run,
                                 workers=workers)
        code = _report_import(result, dry_run, recipe)
        session.outcome = Outcome(code, {"delivered": result.delivered})
    emit_manifest(result.manifest)
    click.get_current_context().exit(code)


def _dry_run_refusal(documents: Checkpoint) -> str:
    """Why a dry run's documents cannot be delivered, and the command that makes real ones."""
    parents = [str(p) for p in documents.manifest.get("parents", [])]
    export = None
    with suppress(UsageError):
        export = open_checkpoint(parents[0], "magento-export") if parents else None
    if export is not None and not export.dry_run:
        instead = f"sagesync transform --from {export.path} | sagesync import-sage"
    else:
        recipe = documents.recipe_path or "RECIPE"
        instead = f"sagesync run {recipe} (or export-orders | transform | import-sage)"
    return (f"{documents.path} was written by a dry run, which records nothing in the ledger: "
            "its documents were never queued and its new customer accounts never allocated, "
            "so it cannot be delivered exactly once. Nothing was delivered. Make real "
            f"documents first: {instead}; or preview this one with import-sage --dry-run.")


@click.command("run")
@click.argument("recipe_file", metavar="[RECIPE]", required=False,
                type=click.Path(dir_okay=False, path_type=Path))
@click.option("--source", metavar="DIR|URL", help="Override the recipe's Magento source.")
@click.option("--since", type=UtcTime(), help=SINCE_HELP)
@click.option("--until", type=UtcTime(end_of_day=True), help=UNTIL_HELP)
@click.option("--out", type=click.Path(file_okay=False, path_type=Path),
              help="Deliver into this folder instead of the recipe's [delivery] path.")
@click.option("--dry-run", is_flag=True,
              help="Preview files only; send nothing and change no ledger state.")
@click.option("--json", "as_json", is_flag=True,
              help="Print one JSON object on stdout instead of the manifest path: each step's "
                   "counts and the held records grouped by cause.")
@global_options
@click.pass_obj
@handle_errors
def run_command(obj: Context, recipe_file: Path | None, source: str | None, since: datetime | None,
                until: datetime | None, out: Path | None, dry_run: bool,
                as_json: bool) -> None:
    """Run a whole recipe (export, transform, import) in one process.

    Writes the same checkpoints as the separate commands and prints the last manifest (with
    --json, a JSON report that names it as "manifest"). RECIPE may be given as -r RECIPE.

    \b
    Example:
      sagesync run recipes/demo.toml
      sagesync -r recipes/demo.toml run -q
      sagesync run recipes/demo.toml --json | jq '.holds_by_cause[] | {code, count}'
    """
    from sagesync.pipeline.run import run_recipe, run_report

    if recipe_file is not None and obj.recipe_path is not None \
            and recipe_file.resolve() != obj.recipe_path.resolve():
        raise UsageError(f"Two recipes: {recipe_file} and -r {obj.recipe_path}; give one.")
    obj.recipe_path = recipe_file or obj.recipe_path
    _window(since, until)
    if obj.recipe_path is None:
        raise UsageError("run needs a recipe: sagesync run RECIPE.toml (or -r RECIPE.toml).")
    recipe, workers = obj.recipe(), obj.workers  # a wrong --workers stops before the lock
    run_id = new_run_id()
    with page_after(recipe, enabled=not dry_run), \
            step_session(recipe, "run", run_id, dry_run=dry_run) as session:
        with progress_bars(obj, enabled=not as_json):
            result = run_recipe(recipe, session.ledger, run_id, source=source, since=since,
                                until=until, out_dir=out.resolve() if out else None,
                                dry_run=dry_run, workers=workers)
        imported = result.imported
        code = _worst([_report_export(result.exported),
                       _report_transform(result.transformed, show_held=False),
                       _report_import(imported, dry_run, recipe)])
        if recipe.magento_updates.enabled and not dry_run and recipe.magento.base_url:
            from .orders import after_run

            code = _worst([code, after_run(recipe, session.ledger)])
        session.outcome = Outcome(code, {"delivered": imported.delivered})
        report = run_report(result, session.ledger) if as_json else None
        if recipe.ledger.keep_days and not dry_run:
            _retention(recipe, session.ledger)
    if report is not None:
        click.echo(json.dumps({"run_id": run_id, "recipe": recipe.name, "dry_run": dry_run,
                               "exit_code": code, **report}, indent=2))
    else:
        if obj.chatty:
            _summary_table(recipe, imported, dry_run)
        emit_manifest(imported.manifest)
    click.get_current_context().exit(code)


def _retention(recipe: Recipe, ledger: Ledger) -> None:
    """The recipe's [ledger] keep_days after a run; a folder that cannot be removed is a
    warning for the next run to retry, never a failed run."""
    from sagesync.ops.housekeeping import prune

    try:
        pruned = prune(recipe.state_dir, ledger, recipe.ledger.keep_days)
    except OSError as error:
        say(f"warning: old checkpoints not removed ([ledger] keep_days): {error}")
        return
    if pruned.removed:
        info(f"removed {plural(len(pruned.removed), 'run folder')} older than "
             f"{recipe.ledger.keep_days} days ([ledger] keep_days)")


def _worst(codes: list[int]) -> int:
    """Bad input outranks waiting for a blackout window's end, which outranks held records,
    which outrank success."""
    for code in (ExitCode.BAD_INPUT, ExitCode.RETRY_LATER, ExitCode.HELD):
        if code in codes:
            return int(code)
    return int(ExitCode.OK)


def _summary_table(recipe: Recipe, result: ImportResult, dry_run: bool) -> None:
    from rich.table import Table

    table = Table(title=f"sagesync {recipe.name}: {'dry run' if dry_run else 'delivered'}")
    table.add_column("What")
    table.add_column("Count / total", justify="right")
    table.add_row("Documents delivered", str(result.delivered))
    if result.blackout is not None:
        table.add_row("Waiting for Sage (blackout) until",
                      f"{result.blackout.resumes_local(recipe.zone):%Y-%m-%d %H:%M %Z}")
    table.add_row("Already sent before", str(result.already_sent))
    table.add_row("Held for review", str(len(result.held)))
    if result.skipped:
        table.add_row("Not posted (zero total)", str(len(result.skipped)))
    for kind, amount in sorted(result.totals.items()):
        table.add_row(f"{kind} {result.totals_basis}", f"{amount:.2f}")
    for path in result.files:
        table.add_row("File", str(path))
    console(stderr=True).print(table)
