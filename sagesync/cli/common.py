"""What every command shares: the context, error-to-exit-code mapping, --from, reporting.

The library never prints or exits; this layer does both. A SageSyncError becomes its message
and exit code; a state folder that cannot be written is exit 73 with what to check; anything
else is a bug: a short message, and the traceback in STATE/logs/.
"""

from __future__ import annotations

import functools
import sys
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import click

from sagesync.errors import ExitCode, SageSyncError, UsageError, exit_code_of, state_folder_error
from sagesync.model.words import plural
from sagesync.pipeline.checkpoint import Checkpoint, open_checkpoint
from sagesync.pipeline.lock import state_dir_failure
from sagesync.recipe import load_recipe

from .options import Context, global_options

__all__ = ["Context", "global_options", "plural"]  # re-exported: the commands import them from here

F = TypeVar("F", bound=Callable[..., Any])


def say(message: str, *, err: bool = True) -> None:
    """A warning, an error, or what a person asked to see: always shown."""
    click.echo(message, err=err)


def info(message: str) -> None:
    """What went right (counts, files): on a terminal or with -v, never with -q, so that
    cron mails nothing when nothing is wrong."""
    ctx = click.get_current_context(silent=True)
    obj = ctx.find_object(Context) if ctx is not None else None
    if obj is None or obj.chatty:
        click.echo(message, err=True)


def emit_manifest(path: Path) -> None:
    """The one line a step prints on stdout: what the next step reads. A reader that went
    away (`| head -0`, a failed next step) changes nothing: the checkpoint is written, and the
    step still exits with its own code."""
    try:
        click.echo(str(path))
        sys.stdout.flush()
    except BrokenPipeError:
        _stdout_gone()


def console(*, stderr: bool = False) -> Any:
    """A rich Console for a table: never folds a path when the output is a file or a pipe,
    and lets a closed pipe end the command as any other write does (rich would exit 1)."""
    from rich.console import Console

    class _Console(Console):
        def on_broken_pipe(self) -> None:
            self.quiet = True
            raise BrokenPipeError

    found = _Console(stderr=stderr)
    return found if found.is_terminal else _Console(stderr=stderr, width=400)


class _Bars:
    """Rich progress bars on stderr, one per step, made as each step first reports."""

    def __init__(self, progress: Any) -> None:
        self.progress = progress
        self.tasks: dict[str, Any] = {}

    def advance(self, step: str, done: int, total: int | None, unit: str) -> None:
        if step not in self.tasks:
            self.tasks[step] = self.progress.add_task(f"{step} ({unit})", total=total)
        elif total is not None:
            self.progress.update(self.tasks[step], total=total)
        self.progress.advance(self.tasks[step], done)


@contextmanager
def progress_bars(obj: Context, *, enabled: bool = True) -> Iterator[None]:
    """Progress bars for the steps inside the block, on a terminal only (not with -q, not
    when the output is JSON: `enabled`)."""
    if not (enabled and obj.chatty and sys.stderr is not None and sys.stderr.isatty()):
        yield
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from sagesync.pipeline.progress import reporting_to

    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=console(stderr=True), transient=True) as bars, \
            reporting_to(_Bars(bars)):
        yield


def _stdout_gone() -> None:
    """Point stdout at nowhere, so that Python's own flush at exit does not fail again."""
    import os

    with suppress(OSError, ValueError):
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def read_from(value: str | None) -> Checkpoint:
    """Resolve --from: a path, or '-' (the default when stdin is a pipe) for the last line."""
    if value is None:
        if sys.stdin is None or sys.stdin.isatty():
            raise UsageError("Missing --from: pass the manifest printed by the previous step, "
                             "or pipe the previous step into this one.")
        value = "-"
    if value == "-":
        lines = [line.strip() for line in sys.stdin.read().splitlines() if line.strip()]
        if not lines:
            raise UsageError("--from -: nothing came in on standard input (did the previous "
                             "step fail?).")
        value = lines[-1]
    return open_checkpoint(Path(value))


def _state_dir_of(obj: Context) -> Path | None:
    """The command's state folder: the one it resolved, else --state-dir, else the recipe's
    state_dir, if readable."""
    if obj.effective_state_dir is not None:
        return obj.effective_state_dir
    if obj.state_dir is not None or obj.recipe_path is None:
        return obj.state_dir
    try:
        return load_recipe(obj.recipe_path).state_dir
    except Exception:  # the recipe itself may be what broke
        return None


def write_crash_log(state_dir: Path | None) -> Path | None:
    folder = (state_dir or Path.cwd() / ".sagesync") / "logs"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"crash-{datetime.now(UTC):%Y%m%dT%H%M%S%fZ}.txt"
        path.write_text(traceback.format_exc(), encoding="utf-8")
        return path
    except OSError:
        return None


def exit_code_for(error: BaseException, state_dir: Path | None) -> int:
    """The exit code a command ends with when `error` escapes it (what the run history
    records, too)."""
    if isinstance(error, click.exceptions.Exit):
        return int(error.exit_code)
    if not isinstance(error, SageSyncError) and \
            (known := state_folder_error(error, state_dir)) is not None:
        return int(known.exit_code)  # a full disk 75, a damaged ledger 65: not 73 or 70
    if state_dir is not None and state_dir_failure(state_dir, error) is not None:
        return int(ExitCode.CANT_CREATE)
    return exit_code_of(error)


def handle_errors(func: F) -> F:
    """Map errors to the documented exit codes; never show a traceback unless -v."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        ctx = click.get_current_context()
        obj: Context = ctx.obj
        try:
            return func(*args, **kwargs)
        except SageSyncError as error:
            if obj.verbose:
                traceback.print_exc()
            say(f"error: {error}")
            ctx.exit(int(error.exit_code))
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except BrokenPipeError:  # the reader closed the pipe (`| head`): not a bug
            _stdout_gone()
            ctx.exit(int(ExitCode.OK))
        except KeyboardInterrupt:
            say("interrupted: nothing half-done is kept; rerun to continue.")
            ctx.exit(int(ExitCode.RETRY_LATER))
        except Exception as error:  # a bug, unless the state folder failed under it
            state_dir = _state_dir_of(obj)
            known = state_folder_error(error, state_dir)
            if known is not None:  # 75: free space and the next run goes on; 65: restore
                if obj.verbose:
                    traceback.print_exc()
                say(f"error: {known}")
                ctx.exit(int(known.exit_code))
            failure = state_dir_failure(state_dir, error) if state_dir else None
            if failure is not None:
                if obj.verbose:
                    traceback.print_exc()
                say(f"error: {failure}")
                ctx.exit(int(failure.exit_code))
            log = write_crash_log(state_dir)
            if obj.verbose:
                traceback.print_exc()
            where = f" The traceback is in {log}." if log else ""
            say(f"internal error: {type(error).__name__}: {error}.{where} Please report it.")
            ctx.exit(int(ExitCode.BUG))

    return wrapper  # type: ignore[return-value]
