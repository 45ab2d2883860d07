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
