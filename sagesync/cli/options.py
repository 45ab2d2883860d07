"""The context and the global options every command accepts (-r, --state-dir, -v, -q,
--workers).

Kept free of heavy imports: the top-level group declares the same options, and `sagesync
--help` must not load pyarrow (the recipe is read only when a command asks for it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from sagesync.errors import UsageError

if TYPE_CHECKING:
    from sagesync.pipeline.checkpoint import Checkpoint
    from sagesync.recipe import Recipe

F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class Context:
    recipe_path: Path | None = None
    state_dir: Path | None = None
    verbose: bool = False
    quiet: bool = False
    #: show what went right whatever the terminal (None: decide as `chatty` says); an
    #: embedding program or a test passes it in the click context object
    tell_all: bool | None = None
    effective_state_dir: Path | None = None  # where this command reads and writes
    #: --workers or SAGESYNC_WORKERS as given, and which of the two gave it (read by `workers`)
    workers_given: tuple[str, str] | None = None

    @property
    def chatty(self) -> bool:
        """Show what went right (counts, files, the summary table)? On a terminal, or with
        -v; never with -q. Without a terminal (cron, a scheduler) a run that went right writes
        nothing to stderr: what is wrong (warnings, holds, errors) always shows."""
        if self.quiet:
            return False
        if self.tell_all is not None:
            return self.tell_all
        if self.verbose:
            return True
        import sys

        return sys.stderr is not None and sys.stderr.isatty()

    @property
    def workers(self) -> int | None:
        """The most worker processes a step may start (None: one core fewer than the host).
        Checked here, when a step asks, not while the options are parsed: a wrong value in
        the environment must not stop `--help`, or a command that starts no worker."""
        if self.workers_given is None:
            return None
        text, where = self.workers_given
        if not (text.strip().isdigit() and int(text) <= MAX_WORKERS_OPTION):
            raise UsageError(f"{where}={text!r}: expected a number of worker processes from 0 "
                             f"to {MAX_WORKERS_OPTION} (0: none)")
        return int(text)

    def recipe(self, fallback: Checkpoint | None = None) -> Recipe:
        """The -r recipe, else the one recorded in the input checkpoint's manifest.

        The state folder is --state-dir, else the -r recipe's, else the input checkpoint's
        (so `export-orders --state-dir X | transform | import-sage` stays in X), else the
        recipe's."""
        path = self.recipe_path or (fallback.recipe_path if fallback else None)
        if path is None:
            raise UsageError("No recipe: pass -r/--recipe RECIPE.toml.")
        from sagesync.recipe import load_recipe

        recipe = load_recipe(path)
        state_dir = self.state_dir
        if state_dir is None and self.recipe_path is None and fallback is not None:
            state_dir = fallback.state_dir
        if state_dir is not None:
            recipe = replace(recipe, state_dir=state_dir.resolve())
        self.effective_state_dir = recipe.state_dir
        return recipe


def _set_recipe(ctx: click.Context, _param: click.Parameter, value: Path | None) -> None:
    if value is not None:
        ctx.ensure_object(Context).recipe_path = value


def _set_state_dir(ctx: click.Context, _param: click.Parameter, value: Path | None) -> None:
    if value is not None:
        ctx.ensure_object(Context).state_dir = value


def _set_verbose(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value:
        ctx.ensure_object(Context).verbose = True


def _set_quiet(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value:
        ctx.ensure_object(Context).quiet = True


MAX_WORKERS_OPTION = 16
WORKERS_VARIABLE = "SAGESYNC_WORKERS"


def _set_workers(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    """The option is read before and after the command name: there the environment must not
    undo a --workers given before it."""
    obj = ctx.ensure_object(Context)
    from_environment = ctx.get_parameter_source(param.name or "") is \
        click.core.ParameterSource.ENVIRONMENT
    if value is not None and not (from_environment and obj.workers_given is not None):
        obj.workers_given = (value, WORKERS_VARIABLE if from_environment else "--workers")


def global_options(func: F) -> F:
    """-r, --state-dir, -v, -q and --workers, accepted before or after the command name."""
    options = [
        click.option("-r", "--recipe", "recipe_path", type=click.Path(dir_okay=False,
                     path_type=Path), expose_value=False, callback=_set_recipe,
                     help="The recipe (TOML). Later steps default to the one in their input "
                          "manifest."),
        click.option("--state-dir", type=click.Path(path_type=Path),
                     expose_value=False, callback=_set_state_dir,
                     help="Override the recipe's state_dir (ledger, checkpoints, logs). Later "
                          "steps default to the one of their input manifest."),
        click.option("-v", "--verbose", is_flag=True, expose_value=False, callback=_set_verbose,
                     help="Show tracebacks and more detail (and what went right, even "
                          "without a terminal)."),
        click.option("-q", "--quiet", is_flag=True, expose_value=False, callback=_set_quiet,
                     help="Only warnings and errors on stderr (the default without a "
                          "terminal)."),
        click.option("--workers", envvar=WORKERS_VARIABLE, expose_value=False,
                     callback=_set_workers, metavar="N",
                     help="Worker processes a large export, transform or import may start beside "
                          f"this one, 0 to {MAX_WORKERS_OPTION} (default: one core fewer than the "
                          "machine has, at most 3; 0: none, the least memory). Also "
                          f"{WORKERS_VARIABLE}."),
    ]
    for option in reversed(options):
        func = option(func)
    return func
