"""The lazy command group: every name resolves, and `--help` imports no command module."""

from __future__ import annotations

import json
from pathlib import Path

import click

from sagesync.cli.main import COMMANDS, cli
from tests.conftest import fresh_python


def test_every_command_resolves_to_itself_with_the_tabled_short_help() -> None:
    ctx = click.Context(cli)
    assert cli.list_commands(ctx) == sorted(COMMANDS)
    for name, (_module, _attribute, short_help) in COMMANDS.items():
        command = cli.get_command(ctx, name)
        assert isinstance(command, click.Command), name
        assert command.name == name
        # the table repeats the command's own first sentence: they must not drift apart
        assert command.get_short_help_str(1000) == short_help, name


def test_help_lists_every_command_without_importing_the_heavy_modules() -> None:
    code = (
        "import sys, json\n"
        "from sagesync.cli.main import cli\n"
        "try:\n"
        "    cli(['--help'], prog_name='sagesync')\n"
        "except SystemExit:\n"
        "    pass\n"
        "heavy = ['pyarrow', 'requests', 'jinja2', 'sagesync.cli.common', 'sagesync.cli.pipeline',"
        " 'sagesync.cli.ops', 'sagesync.cli.catalog']\n"
        "print(json.dumps([m for m in heavy if m in sys.modules]))\n"
    )
    *help_lines, loaded = fresh_python(code).strip().splitlines()
    assert json.loads(loaded) == []
    listed = {line.split()[0] for line in help_lines if line.startswith("  ") and line.split()}
    assert set(COMMANDS) <= listed


def loaded_by(args: list[str], modules: list[str], cwd: Path) -> list[str]:
    """Which of `modules` a fresh `sagesync ARGS` process has loaded when it ends (exit 0)."""
    code = (
        "import sys, json\n"
        "from sagesync.cli.main import cli\n"
        "try:\n"
        f"    cli({args!r}, prog_name='sagesync')\n"
        "except SystemExit as stop:\n"
        "    assert not stop.code, stop.code\n"
        f"print(json.dumps([m for m in {modules!r} if m in sys.modules]))\n"
    )
    return list(json.loads(fresh_python(code, cwd).strip().splitlines()[-1]))


def test_a_transform_loads_neither_the_http_client_nor_the_renderer(run_cli, demo_copy,  # type: ignore[no-untyped-def]
                                                                    tmp_path) -> None:
    """Each pipeline command imports its own step: a transform's process holds no module of
    the export's HTTP client or the import's templates and renderer (memory per step)."""
    state = tmp_path / "state"
    exported = run_cli("--state-dir", str(state), "export-orders", "-r", str(demo_copy))
    assert exported.exit_code == 0, exported.output
    manifest = exported.stdout.strip().splitlines()[-1]
    others = ["requests", "jinja2", "sagesync.render", "sagesync.magento.client",
              "sagesync.pipeline.export_step", "sagesync.pipeline.import_step"]
    assert loaded_by(["--state-dir", str(state), "transform", "--from", manifest], others,
                     demo_copy.parent.parent) == []


def test_a_run_from_a_folder_of_pages_loads_no_http_client(demo_copy, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The HTTP client (requests, urllib3: a tenth of a second) is imported only to read a
    live store; `run` from saved pages, every cron tick of a small store, starts without it."""
    args = ["--state-dir", str(tmp_path / "state"), "run", str(demo_copy), "--out",
            str(tmp_path / "out")]
    http = ["requests", "urllib3", "sagesync.magento.client", "sagesync.magento.http"]
    assert loaded_by(args, http, demo_copy.parent.parent) == []
