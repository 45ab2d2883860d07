"""The `sagesync` command: a thin click layer over the library.

Commands load lazily: `sagesync --help` (and a typo) must not pay for pyarrow, requests and
jinja2, which the command modules pull in. `COMMANDS` maps each name to where it lives and to its
short help, so the top-level help lists every command without importing one; the command itself
is imported only when it runs or shows its own help (tests/test_cli_group.py checks the table
against the commands). This module imports nothing but click at start-up.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
from contextlib import suppress
from pathlib import Path

import click

from sagesync import arrow_parts, collector

from .options import Context, global_options

# name -> (module under sagesync.cli, attribute, short help as the command's docstring says it)
COMMANDS: dict[str, tuple[str, str, str]] = {
    "export-orders": ("pipeline", "export_orders_command", "Pull orders, invoices, credit memos "
                      "and customers from Magento into a checkpoint."),
    "transform": ("pipeline", "transform_command", "Turn an export checkpoint into Sage "
                  "documents, split by nominal and tax code."),
    "import-sage": ("pipeline", "import_sage_command", "Write Sage import files for every queued "
                    "document and deliver them, exactly once."),
    "run": ("pipeline", "run_command",
            "Run a whole recipe (export, transform, import) in one process."),
    "status": ("ops", "status_command", "Show each flow's last successful run, records per "
               "state, and what needs a person."),
    "trace": ("ops", "trace_command", "Follow a Magento order to its Sage documents: invoices, "
              "credit memos, files, numbers."),
    "retry": ("ops", "retry_command",
              "Queue records again; the next run re-validates and sends them."),
    "hold": ("ops", "hold_command", "Keep records out of Sage until `release` (for example while "
             "a refund is disputed)."),
    "release": ("ops", "release_command",
                "Release records a person held; the next run sends them."),
    "resolve": ("ops", "resolve_command", "Close records settled in Sage by hand: amended ones "
                "once Sage was corrected, and ones needing attention that Sage turned out to "
                "hold."),
    "ack": ("ops", "ack_command", "Read Sage's export of imported documents: confirm them, or "
            "reject them for a retry."),
    "parse-sage": ("catalog", "parse_sage_command", "Parse a Sage stock, price, customer, "
                   "receivables or despatch export into Magento payloads (a checkpoint)."),
    "push-magento": ("catalog", "push_magento_command", "Send stock, prices, customers, "
                     "receivables or shipments that changed since the last push to Magento."),
    "rollback": ("catalog", "rollback_command", "Undo the last price push, once: its prices go "
                 "back to their value before it."),
    "watch": ("catalog", "watch_command",
              "Take Sage exports dropped into INBOX, push them, and file them away."),
    "runs": ("housekeeping", "runs_command", "List the latest runs: when, which command, its "
             "exit code, dry run or not, and the batches it delivered (a batch number missing "
             "from the outbox shows here as a batch that was interrupted or delivered nothing)."),
    "prune": ("housekeeping", "prune_command", "Remove old checkpoints (run folders) from the "
              "state folder: never the newest, and never one holding the latest data of a "
              "record not yet in Sage (the next run needs it)."),
    "init": ("setup", "init_command", "Write a new site's files: a commented recipe, a .env "
             "of placeholders and the mapping CSVs (reading the store's views and tax rates "
             "when it can)."),
    "doctor": ("setup", "doctor_command", "Check a recipe before its first run: keys, "
               "secrets, folders, templates, Magento access per ACL resource, tax rates."),
    "schedule": ("setup", "schedule_command", "Print the crontab line, the Windows schtasks "
                 "command and a systemd timer that run a recipe on its schedule."),
    "reconcile": ("reconcile", "reconcile_command", "Compare Magento, the ledger and Sage over "
                  "a range of days: each document in sync, missing in Sage, duplicated, an "
                  "orphan in Sage, or with another amount; totals per day, store, currency and "
                  "Sage type side by side."),
    "update-orders": ("orders", "update_orders_command", "Tell Magento what Sage said: an "
                      "order comment with the Sage numbers for each document `ack` confirmed "
                      "(and the recipe's [magento_updates] confirmed_status), Sage's reason for "
                      "each it refused."),
    "report": ("report", "report_command", "Write the status page: one HTML file with the "
               "queue's depth and age over time, documents per day (Magento and Sage), holds by "
               "cause and the last runs."),
    "alerts": ("alerts", "alerts_group", "Check the recipe's alert triggers and send what "
               "changed (see [alerts])."),
    "digest": ("alerts", "digest_command", "One day per store: documents exported, sent, "
               "confirmed, held and void, the amounts sent per currency and tax code, the "
               "oldest pending record, and what waits for a person with the commands to fix "
               "it."),
    "listen": ("ops", "listen_command",
               "Receive store webhooks and I/O Events; verified events queue their orders."),
    "accounts": ("accounts", "accounts_group", "The Sage accounts of web customers: list "
                 "them, approve new ones (review mode)."),
}


class LazyGroup(click.Group):
    """A group whose commands are imported on first use, from `COMMANDS`."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*COMMANDS, *self.commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            module, attribute, _ = COMMANDS[cmd_name]
            command = getattr(importlib.import_module(f"{__package__}.{module}"), attribute)
            self.add_command(command, cmd_name)
        return self.commands.get(cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """Like click's, but from the table's short help: listing must not import a command."""
        names = self.list_commands(ctx)
        if not names:
            return
        limit = formatter.width - 6 - max(len(name) for name in names)
        rows = []
        for name in names:
            if name in COMMANDS:
                # click's own truncation, without the command (a stand-in carries the text)
                text = click.Command(name, help=COMMANDS[name][2]).get_short_help_str(limit)
            else:  # added by hand (a test, a plug-in): ask the command
                text = self.commands[name].get_short_help_str(limit)
            rows.append((name, text))
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@global_options  # also accepted after the command name: each command repeats them
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


ARROW_POOL = "ARROW_DEFAULT_MEMORY_POOL"


def returning_pool() -> str:
    """The Arrow allocator that gives freed memory back: jemalloc where the installed pyarrow
    has it (its build configuration header says so), else the system's. Arrow's default,
    mimalloc, keeps much of what a step frees, and glibc's malloc fragments under Arrow's
    buffers, so a step's memory grew with its input. The header is read, not pyarrow imported:
    Arrow reads its choice from the environment when it loads, and `--help` must not load it."""
    spec = importlib.util.find_spec("pyarrow")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        with suppress(OSError):
            config = Path(folder, "include", "arrow", "util", "config.h").read_text("utf-8")
            if "#define ARROW_JEMALLOC\n" in config:
                return "jemalloc"
    return "system"


# How Arrow's own jemalloc runs (read from the environment when it loads): one arena rather than
# four per core, each keeping the pages it freed, and freed pages given back after 0.1 s rather
# than 1 s. Measured at 200,000 orders in the same time: the transform's process tree peaked at
# 210 MiB instead of 227, the import's at 162 instead of 172.
JEMALLOC_CONF = "JE_ARROW_MALLOC_CONF"
RETURNING_JEMALLOC = "narenas:1,dirty_decay_ms:100,muzzy_decay_ms:0"


def main() -> None:
    # before any command loads pyarrow; the export's worker processes inherit it; a choice
    # already in the environment wins (a worker leaves out the unused parts itself)
    os.environ.setdefault(ARROW_POOL, returning_pool())
    if os.environ[ARROW_POOL] == "jemalloc":
        os.environ.setdefault(JEMALLOC_CONF, RETURNING_JEMALLOC)
    arrow_parts.leave_out_unused()
    collector.tune_for_batches()
    cli(prog_name="sagesync")
