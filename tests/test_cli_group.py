"""The lazy command group: every name resolves, and `--help` imports no command module."""

from __future__ import annotations

import json
import subprocess
import sys

import click

from sagesync.cli.main import COMMANDS, cli


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
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    *help_lines, loaded = done.stdout.strip().splitlines()
    assert json.loads(loaded) == []
    listed = {line.split()[0] for line in help_lines if line.startswith("  ") and line.split()}
    assert set(COMMANDS) <= listed


def test_a_transform_loads_neither_the_http_client_nor_the_renderer(run_cli, demo_copy,  # type: ignore[no-untyped-def]
                                                                    tmp_path) -> None:
    """Each pipeline command imports its own step: a transform's process holds no module of
    the export's HTTP client or the import's templates and renderer (memory per step)."""
    state = tmp_path / "state"
    exported = run_cli("--state-dir", str(state), "export-orders", "-r", str(demo_copy))
    assert exported.exit_code == 0, exported.output
    manifest = exported.stdout.strip().splitlines()[-1]
    code = (
        "import sys, json\n"
        "from sagesync.cli.main import cli\n"
        "try:\n"
        f"    cli(['--state-dir', {str(state)!r}, 'transform', '--from', {manifest!r}],"
        " prog_name='sagesync')\n"
        "except SystemExit as stop:\n"
        "    assert not stop.code, stop.code\n"
        "others = ['requests', 'jinja2', 'sagesync.render', 'sagesync.magento.client',"
        " 'sagesync.pipeline.export_step', 'sagesync.pipeline.import_step']\n"
        "print(json.dumps([m for m in others if m in sys.modules]))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True, cwd=demo_copy.parent.parent)
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []
