"""The setting-up commands: init (a new site's files), doctor (is it ready), schedule (run it
on a timer)."""

from __future__ import annotations

import json
import os
import shutil
import sys
from dataclasses import replace
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import click

from sagesync.errors import ExitCode, SageSyncError, UsageError
from sagesync.magento.auth import make_auth
from sagesync.magento.probe import StoreReader, store_views, tax_rates
from sagesync.ops import init_recipe
from sagesync.ops.doctor import diagnose
from sagesync.ops.schedule import build
from sagesync.recipe import AUTH_KINDS, load_recipe, variables_used
from sagesync.sage import products

from .common import Context, global_options, handle_errors, say

DEFAULT_ZONE = "Europe/London"


@click.command("init")
@click.argument("folder", required=False, default=".",
                type=click.Path(file_okay=False, path_type=Path))
@click.option("--product", type=click.Choice(products.posting_keys()),
              help="The Sage product the files are for.")
@click.option("--store-url", help="The store's REST root, e.g. "
              "https://shop.example.com/rest/default.")
@click.option("--auth", type=click.Choice(AUTH_KINDS),
              help="How sagesync signs in: bearer (an integration's access token), oauth1 "
                   "(an integration's four OAuth values), admin (user and password), ims "
                   "(Adobe Commerce as a Cloud Service).")
@click.option("--zone", help=f"The Sage server's time zone (IANA), e.g. {DEFAULT_ZONE}.")
@click.option("--name", "recipe_name", help="A short name for the recipe (default: the "
              "folder's name).")
@click.option("--no-input", is_flag=True, help="Ask nothing: take the flags and the defaults "
              "(for scripts; --store-url is then required).")
@click.option("--force", is_flag=True, help="Overwrite files that already exist.")
@global_options
@click.pass_obj
@handle_errors
def init_command(obj: Context, folder: Path, product: str | None, store_url: str | None,
                 auth: str | None, zone: str | None, recipe_name: str | None, no_input: bool,
                 force: bool) -> None:
    """Write a new site's files: a commented recipe, a .env of placeholders and the mapping
    CSVs (reading the store's views and tax rates when it can).

    The files go into FOLDER (default: here): sagesync.toml, .env (the secrets' names, to be
    filled in) and mapping/*.csv with their headers. Existing files are never overwritten
    without --force. With the credentials in the environment (the variables .env names), the store's
    views and tax rates are read and written into the recipe for you to map.

    \b
    Example:
      sagesync init shop --product sage50_uk --store-url https://shop.example.com/rest/default
      sagesync init shop --no-input --product sage200 --auth oauth1 --store-url https://s.example
    """
    if no_input and not store_url:
        raise UsageError("init --no-input needs --store-url (the store's REST root, e.g. "
                         "https://shop.example.com/rest/default).")
    ask = not no_input
    product = product or (click.prompt("Sage product", type=click.Choice(
        products.posting_keys()), default="sage50_uk") if ask else "sage50_uk")
    store_url = _store_url(store_url or click.prompt(
        "Store REST root (https://shop.example.com/rest/default)"))
    auth = auth or (click.prompt("Sign in with", type=click.Choice(AUTH_KINDS),
                                 default="bearer") if ask else "bearer")
    zone = _zone(zone or (click.prompt("Sage's time zone", default=DEFAULT_ZONE) if ask
                          else DEFAULT_ZONE))
    folder = folder.resolve()
    name = recipe_name or init_recipe.valid_name(folder.name)
    answers = init_recipe.Answers(product=product, store_url=store_url, auth=auth, zone=zone,
                                  name=name)
    answers = _read_store(answers)
    written = init_recipe.write_files(folder, answers, force=force)
    for note in answers.notes:
        say(note)
    for path in written:
        say(f"wrote {path}")
    variables = [v for _, v in init_recipe.AUTH_VARIABLES[auth]]
    say(f"Next: fill in {', '.join(variables)} in {folder / '.env'}, map the tax codes and "
        f"nominals, then run: sagesync doctor -r {folder / 'sagesync.toml'}")


def _store_url(text: str) -> str:
    text = text.strip().rstrip("/")
    if not text.startswith(("https://", "http://")):
        raise UsageError(f"--store-url: expected an http:// or https:// URL (got {text!r}).")
    if "/rest" not in text.split("://", 1)[1] and ".api.commerce.adobe.com" not in text:
        text += "/rest/default"  # the REST root of the default store view
    return text


def _zone(text: str) -> str:
    try:
        ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError):
        raise UsageError(f"--zone: expected an IANA time zone such as {DEFAULT_ZONE} (got "
                         f"{text!r}).") from None
    return text


def _read_store(answers: init_recipe.Answers) -> init_recipe.Answers:
    """The store's views and tax rates, when the environment has the credentials."""
    settings = {setting: os.environ.get(variable, "")
                for setting, variable in init_recipe.AUTH_VARIABLES[answers.auth]}
    if not all(settings.values()):
        answers.notes.append("The store was not read (its credentials are not in the "
                             "environment): store_ids and tax_codes are the defaults.")
        return answers
    try:
        reader = StoreReader(answers.store_url, make_auth(
            answers.auth, {**settings, "base_url": answers.store_url}))
        views, rates = store_views(reader), tax_rates(reader)
    except SageSyncError as error:
        answers.notes.append(f"warning: the store could not be read ({error}); store_ids and "
                             "tax_codes are the defaults.")
        return answers
    answers.notes.append(f"Read {len(views)} store views and {len(rates)} tax rates from "
                         f"{answers.store_url}.")
    return replace(answers, store_views=tuple(views), tax_rates=tuple(rates),
                   store_read=True)


@click.command("doctor")
@click.argument("recipe_file", metavar="[RECIPE]", required=False,
                type=click.Path(dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="One JSON object on stdout.")
@global_options
@click.pass_obj
@handle_errors
def doctor_command(obj: Context, recipe_file: Path | None, as_json: bool) -> None:
    """Check a recipe before its first run: keys, secrets, folders, templates, Magento access
    per ACL resource, tax rates.

    Checks every key, each ${VAR} it uses (by name: never its value), the state and delivery
    folders, the mapping files, the templates, and (for a live store) that Magento
    answers, that the credentials reach every endpoint the recipe's steps call (naming a
    missing ACL resource) and that the tax rates of the latest orders are all mapped. One line
    per check; exit 1 when any fails.

    \b
    Example:
      sagesync doctor -r shop/sagesync.toml
    """
    path = recipe_file or obj.recipe_path
    if path is None:
        raise UsageError("No recipe: sagesync doctor -r RECIPE.toml (or doctor RECIPE.toml).")
    checks = diagnose(path, state_dir=obj.state_dir)
    failed = [c for c in checks if c.status == "FAIL"]
    if as_json:
        click.echo(json.dumps({"ok": not failed, "checks": [c.as_dict() for c in checks]},
                              indent=2))
    else:
        width = max(len(c.name) for c in checks)
        for c in checks:
            click.echo(f"{c.status:<4}  {c.name:<{width}}  {c.detail}")
        click.echo(f"{len(failed)} of {len(checks)} checks failed" if failed
                   else f"all {len(checks)} checks passed")
    if failed:
        click.get_current_context().exit(int(ExitCode.HELD))


@click.command("schedule")
@click.argument("recipe_file", metavar="RECIPE", required=False,
                type=click.Path(dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="One JSON object on stdout.")
@global_options
@click.pass_obj
@handle_errors
def schedule_command(obj: Context, recipe_file: Path | None, as_json: bool) -> None:
    """Print the crontab line, the Windows schtasks command and a systemd timer that run a
    recipe on its schedule.

    RECIPE runs every `[schedule] every` (15 minutes by default). Paths are absolute;
    runs are quiet (-q) and append to one log file (`[schedule] log`, default
    STATE/logs/sagesync.log, whose folder is created). A run that finds the previous one still
    going exits 75 at once (sagesync's own lock): no flock needed.

    \b
    Example:
      sagesync schedule shop/sagesync.toml
    """
    path = recipe_file or obj.recipe_path
    if path is None:
        raise UsageError("No recipe: sagesync schedule RECIPE.toml")
    # the schedule needs no secret: unset ones (a fresh `init`) must not stop it
    recipe = load_recipe(path, stand_ins=dict.fromkeys(variables_used(path), "unset"))
    if obj.state_dir is not None:
        recipe = replace(recipe, state_dir=obj.state_dir.resolve())
    found = build(recipe, _executable())
    Path(found.log).parent.mkdir(parents=True, exist_ok=True)
    if as_json:
        click.echo(json.dumps(found.as_dict(), indent=2))
        return
    click.echo(f"# cron (crontab -e): every {found.every_minutes} min, appending to the log")
    click.echo(found.crontab)
    click.echo("")
    click.echo("# Windows (in a Command Prompt, as the user sagesync runs as)")
    click.echo(found.schtasks)
    click.echo("")
    click.echo(f"# systemd: /etc/systemd/system/{found.unit}.service")
    click.echo(found.systemd_service)
    click.echo(f"# systemd: /etc/systemd/system/{found.unit}.timer, then: "
               f"systemctl enable --now {found.unit}.timer")
    click.echo(found.systemd_timer)


def _executable() -> list[str]:
    """The sagesync program as an absolute command: the script installed beside this
    Python, else the one on PATH, else this Python running the package."""
    folder = Path(sys.executable).parent
    for candidate in (folder / "sagesync", folder / "sagesync.exe"):
        if candidate.is_file():
            return [str(candidate)]
    on_path = shutil.which("sagesync")
    if on_path:
        return [str(Path(on_path).resolve())]
    return [str(Path(sys.executable).absolute()), "-m", "sagesync"]
