"""The `sagesync` command: a thin click layer over the library."""

from __future__ import annotations

import click

from .catalog import (
    parse_sage_command,
    push_magento_command,
    rollback_command,
    watch_command,
)
from .common import Context, global_options
from .ops import (
    ack_command,
    hold_command,
    listen_command,
    release_command,
    resolve_command,
    retry_command,
    status_command,
    trace_command,
)
from .pipeline import export_orders_command, import_sage_command, run_command, transform_command


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@global_options
@click.version_option(package_name="sagesync")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Keep a Magento store and Sage in step through flat files, on a schedule.

    \b
    Example:
      sagesync export-orders -r recipes/demo.toml | sagesync transform | sagesync import-sage
      sagesync run recipes/demo.toml
    """
    ctx.ensure_object(Context)


for command in (export_orders_command, transform_command, import_sage_command, run_command,
                status_command, trace_command, retry_command, hold_command, release_command,
                resolve_command, ack_command, parse_sage_command, push_magento_command,
                rollback_command, watch_command, listen_command):
    cli.add_command(command)


def main() -> None:
    cli(prog_name="sagesync")
