"""The pipeline commands: export-orders, transform, import-sage and run."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import datetime
from pathlib import Path

import click

from sagesync.errors import ExitCode, RunLockedError, UsageError
from sagesync.pipeline.checkpoint import (
    Checkpoint,
    new_run_id,
    open_checkpoint,
)
from sagesync.pipeline.export_step import ExportResult, export_orders, parse_utc
from sagesync.pipeline.import_step import ImportResult, import_sage
from sagesync.pipeline.run import run_recipe, run_report
from sagesync.pipeline.session import Outcome, StepSession, open_session
from sagesync.pipeline.transform_step import TransformResult, transform
from sagesync.recipe import Recipe

from .common import (
    Context,
    emit_manifest,
    exit_code_for,
    global_options,
    handle_errors,
    read_from,
    say,
)


class UtcTime(click.ParamType):
    name = "UTC-TIME"

    def convert(self, value: object, param: click.Parameter | None,
                ctx: click.Context | None) -> datetime:
        if isinstance(value, datetime):
            return value
        try:
            return parse_utc(str(value))
        except ValueError:
            self.fail(f"{value!r} is not 'YYYY-MM-DD' or 'YYYY-MM-DD HH:MM:SS' (UTC)", param, ctx)


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


def _report_export(result: ExportResult) -> int:
    counts = ", ".join(f"{n} {e}" for e, n in result.counts.items())
    say(f"exported {counts} from {result.pages} pages"
        + (f" ({result.duplicates} repeated rows dropped)" if result.duplicates else ""))
    for line in result.amended:
        say(f"amended after sending (not resent; correct it in Sage): {line}")
    for line in result.voided:
        say(f"void (cancelled in Magento, never delivered): {line}")
    for bad in result.bad_pages:
        say(f"bad input: {bad}")
    return ExitCode.BAD_INPUT if result.bad_pages else ExitCode.OK


def _report_transform(result: TransformResult, *, show_held: bool = True) -> int:
    say(f"transformed {result.documents} documents ({len(result.held)} held, "
        f"{result.new_accounts} new accounts)")
    for warning in result.warnings:
        say(f"warning: {warning}")
    if show_held:
        for held in result.held:
            say(f"held: {held}")
    return ExitCode.HELD if result.held else ExitCode.OK


def _report_import(result: ImportResult, dry_run: bool) -> int:
    for note in result.recovered:
        say(f"recovered: {note}")
    for warning in result.warnings:
        say(f"warning: {warning}")
    for held in result.held:
        say(f"held: {held}")
    for label in result.needs_attention:
        say(f"needs a person, not sent (the reason: `sagesync trace`): {label}")
    for label in result.stale:
        say(f"skipped, a newer version is queued (transform the latest export): {label}")
    for label in result.void:
        say(f"skipped, cancelled in Magento (void, never delivered): {label}")
    for label in result.skipped:
        say(f"not posted, by the recipe's rule: {label}")
    verb = "would deliver" if dry_run else "delivered"
    say(f"{verb} {result.delivered} documents in {len(result.files)} files"
        f" ({result.already_sent} already sent earlier, {len(result.held)} held"
        + (f", {len(result.skipped)} not posted" if result.skipped else "") + ")")
    for path in result.files:
        say(f"  {path}")
    return ExitCode.HELD if result.held or result.needs_attention else ExitCode.OK


@click.command("export-orders")
@click.option("--source", metavar="DIR|URL",
              help="A folder of saved REST pages or a store's REST base URL; overrides the recipe.")
@click.option("--since", type=UtcTime(), help="Only records updated at or after this UTC time.")
@click.option("--until", type=UtcTime(), help="Only records updated at or before this UTC time.")
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
    if obj.recipe_path is None:
        raise UsageError("export-orders needs a recipe: pass -r/--recipe RECIPE.toml.")
    recipe = obj.recipe()
    run_id = new_run_id()
    with step_session(recipe, "export-orders", run_id) as session:
        result = export_orders(recipe, run_id, session.ledger, source=source, since=since,
                               until=until)
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
    export = read_from(from_)
    _expect(export, "magento-export", "transform")
    recipe = obj.recipe(export)
    with step_session(recipe, "transform", export.run_id, dry_run=dry_run) as session:
        result = transform(recipe, export, None if dry_run else session.ledger, export.run_id,
                           lookup=session.ledger)
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
    documents = read_from(from_)
    _expect(documents, "sage-documents", "import-sage")
    if documents.dry_run and not dry_run:
        raise UsageError(_dry_run_refusal(documents))
    recipe = obj.recipe(documents)
    with step_session(recipe, "import-sage", documents.run_id, dry_run=dry_run) as session:
        result = import_sage(recipe, documents, session.ledger, documents.run_id,
                             out_dir=out.resolve() if out else None, dry_run=dry_run)
        code = _report_import(result, dry_run)
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
@click.argument("recipe_file", metavar="RECIPE", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--source", metavar="DIR|URL", help="Override the recipe's Magento source.")
@click.option("--since", type=UtcTime(), help="Only records updated at or after this UTC time.")
@click.option("--until", type=UtcTime(), help="Only records updated at or before this UTC time.")
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
def run_command(obj: Context, recipe_file: Path, source: str | None, since: datetime | None,
                until: datetime | None, out: Path | None, dry_run: bool,
                as_json: bool) -> None:
    """Run a whole recipe (export, transform, import) in one process.

    Writes the same checkpoints as the separate commands and prints the last manifest (with
    --json, a JSON report that names it as "manifest").

    \b
    Example:
      sagesync run recipes/demo.toml
      sagesync run recipes/demo.toml --json | jq '.holds_by_cause[] | {code, count}'
    """
    obj.recipe_path = recipe_file
    recipe = obj.recipe()
    run_id = new_run_id()
    with step_session(recipe, "run", run_id, dry_run=dry_run) as session:
        result = run_recipe(recipe, session.ledger, run_id, source=source, since=since,
                            until=until, out_dir=out.resolve() if out else None,
                            dry_run=dry_run)
        imported = result.imported
        code = _worst([_report_export(result.exported),
                       _report_transform(result.transformed, show_held=False),
                       _report_import(imported, dry_run)])
        session.outcome = Outcome(code, {"delivered": imported.delivered})
        report = run_report(result, session.ledger) if as_json else None
    if report is not None:
        click.echo(json.dumps({"run_id": run_id, "recipe": recipe.name, "dry_run": dry_run,
                               "exit_code": code, **report}, indent=2))
    else:
        _summary_table(recipe, imported, dry_run)
        emit_manifest(imported.manifest)
    click.get_current_context().exit(code)


def _worst(codes: list[int]) -> int:
    """Bad input outranks held records, which outrank success."""
    for code in (ExitCode.BAD_INPUT, ExitCode.HELD):
        if code in codes:
            return int(code)
    return int(ExitCode.OK)


def _summary_table(recipe: Recipe, result: ImportResult, dry_run: bool) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"sagesync {recipe.name}: {'dry run' if dry_run else 'delivered'}")
    table.add_column("What")
    table.add_column("Count / total", justify="right")
    table.add_row("Documents delivered", str(result.delivered))
    table.add_row("Already sent before", str(result.already_sent))
    table.add_row("Held for review", str(len(result.held)))
    if result.skipped:
        table.add_row("Not posted (zero total)", str(len(result.skipped)))
    for kind, amount in sorted(result.totals.items()):
        table.add_row(f"{kind} {result.totals_basis}", f"{amount:.2f}")
    for path in result.files:
        table.add_row("File", str(path))
    Console(stderr=True).print(table)
