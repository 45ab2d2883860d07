"""What is wrong right now: each trigger looks at the ledger (or the quarantine folders) and
returns the causes it finds, with a stable key, a title and the detail a person needs.

Every trigger is a pure reading of state, never of "what happened since last time", so an
evaluation from any command, or from `alerts check` under cron, finds the same causes; the
alert state (ledger.alert_state) turns them into one message when a cause appears and one
when it clears.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from sagesync.ledger import Ledger
from sagesync.ledger.alert_state import AlertRow, Found, newest
from sagesync.model.holds import by_cause
from sagesync.ops.advice import fix_commands
from sagesync.recipe import Recipe
from sagesync.sage import products

# Commands that talk to Magento: their exit codes say whether the credentials work.
MAGENTO_COMMANDS = ("export-orders", "run", "push-magento", "rollback", "watch")
# Exit codes that prove something about the credentials: 77 refused, 0/1/65 Magento answered.
_DECISIVE = (0, 1, 65, 77)
PRICE_COMMANDS = ("push-magento", "rollback", "watch")
DELIVERY = ("run", "import-sage")
PENDING = ("exported", "queued", "held", "rejected", "needs_attention")
EXAMPLES = 5
REPORT_LINES = 8


def _time(stamp: str) -> datetime:
    return datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def _hours(since: str, now: datetime) -> float:
    return (now - _time(since)).total_seconds() / 3600


def _plural(count: int, one: str, many: str) -> str:
    return f"{count} {one if count == 1 else many}"


def _fix(code: str, keys: list[str], recipe: Recipe, state: str) -> list[str]:
    advice, commands = fix_commands(code, keys, recipe.path, state=state)
    return [f"To fix: {advice}", *(f"  {command}" for command in commands)]


def auth(ledger: Ledger) -> list[Found]:
    """Magento refused the credentials in the latest command that reached it (exit 77)."""
    marks = ",".join("?" * len(MAGENTO_COMMANDS))
    codes = ",".join(str(c) for c in _DECISIVE)
    row = ledger.db.execute(
        f"SELECT run_id, command, finished_at, exit_code, summary FROM runs WHERE command IN "
        f"({marks}) AND finished_at IS NOT NULL AND exit_code IN ({codes}) "
        "ORDER BY seq DESC LIMIT 1", MAGENTO_COMMANDS).fetchone()
    if row is None or row[3] != 77:
        return []
    run_id, command, finished, _, summary = row
    error = _summary(summary).get("error") or "Magento refused the credentials"
    return [Found("auth", "Magento refused the credentials: the sync is halted (exit 77)",
                  f"`{command}` (run {run_id}) ended at {finished} UTC: {error}\n"
                  "To fix: renew the token or the integration's secrets in .env (README, "
                  "\"Magento access\"); the next run that Magento answers clears this alert.")]


def _summary(text: str | None) -> dict[str, object]:
    try:
        value = json.loads(text or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def waiting_records(recipe: Recipe, ledger: Ledger, state: str, prefix: str,
                    what: tuple[str, str]) -> list[Found]:
    """One cause per hold code among the records in `state` (a person's own holds are no
    news to them, so they never alert)."""
    found: list[Found] = []
    pairs = [(str(k), h) for k, h in ledger.causes((state,)) if h.code != "held_by_person"]
    for group in by_cause(pairs):
        keys = [key for key, _ in group.records]
        lines = [f"{key}: {hold.message}" for key, hold in group.records[:EXAMPLES]]
        if group.count > EXAMPLES:
            lines.append(f"... and {group.count - EXAMPLES} more (`sagesync status`)")
        found.append(Found(
            f"{prefix}:{group.code}",
            f"{_plural(group.count, 'record', 'records')} "
            f"{what[0] if group.count == 1 else what[1]}: {group.title}",
            "\n".join([*lines, *_fix(group.code, keys, recipe, state)])))
    return found


def amended(recipe: Recipe, ledger: Ledger) -> list[Found]:
    rows = ledger.rows(["amended"])
    if not rows:
        return []
    keys = [str(r.key) for r in rows]
    lines = [f"{r.key} ({r.increment_id}): {r.last_error or ''}" for r in rows[:EXAMPLES]]
    return [Found("amended", f"{_plural(len(rows), 'record', 'records')} changed or cancelled "
                  "in Magento after reaching Sage",
                  "\n".join([*lines, *_fix("", keys, recipe, "amended")]))]


def quarantine(state_dir: Path, folders: Sequence[Path], open_alerts: Iterable[AlertRow]
               ) -> list[Found]:
    """One cause per quarantined content (the same bad record quarantined by every run, or a
    watched file kept both in the inbox's quarantine/ and the state folder's, is one cause),
    found by its `.error.txt`; a cause stays while a copy is in a quarantine folder, and
    clears once a person deleted or moved them all."""
    found: dict[str, Found] = {}
    for folder in (state_dir / "quarantine", *folders):
        if not folder.is_dir():
            continue
        for report in sorted(folder.rglob("*.error.txt")):
            item = _quarantined(report)
            if item is None:
                continue
            first = found.setdefault(item.cause, item)
            if first is not item:  # another copy of the same content: the cause lasts for both
                found[item.cause] = Found(first.cause, first.title, first.detail,
                                          f"{first.about}\n{item.about}")
    for row in open_alerts:  # copies in a folder this evaluation was not shown (an inbox)
        if row.cause.startswith("quarantine:") and row.cause not in found and row.about \
                and any(Path(p).exists() for p in row.about.splitlines()):
            found[row.cause] = Found(row.cause, row.title, row.detail, row.about)
    return list(found.values())


def _quarantined(report: Path) -> Found | None:
    copy = report.with_name(report.name[: -len(".error.txt")])
    try:
        text = report.read_text(encoding="utf-8", errors="replace")
        digest = hashlib.sha256(copy.read_bytes() if copy.is_file() else text.encode())
    except OSError:
        return None  # gone since the listing
    lines = text.strip().splitlines()
    shown = lines[:REPORT_LINES] + (["..."] if len(lines) > REPORT_LINES else [])
    return Found(f"quarantine:{digest.hexdigest()[:16]}",
                 f"A file was quarantined: {copy.name}",
                 "\n".join([f"Kept in {copy}", *shown,
                            "To fix: correct the source (the report says what and where), "
                            "then delete or move the quarantined copy and its .error.txt: "
                            "that clears this alert."]),
                 str(report))


def price_guard(ledger: Ledger) -> list[Found]:
    """The latest price push (or rollback) was refused by the guard."""
    marks = ",".join("?" * len(PRICE_COMMANDS))
    for run_id, command, finished, summary in ledger.db.execute(
            f"SELECT run_id, command, finished_at, summary FROM runs WHERE command IN "
            f"({marks}) AND finished_at IS NOT NULL ORDER BY seq DESC LIMIT 200",
            PRICE_COMMANDS):
        facts = _summary(summary)
        if facts.get("kind") != "prices":
            continue
        refused = facts.get("refused")
        if not refused:
            return []
        return [Found("price_guard", "A price push was refused by the price guard",
                      f"`{command}` (run {run_id}) at {finished} UTC: {refused}\n"
                      "To fix: check the Sage price export's columns; if the prices are "
                      "right, push them with `sagesync push-magento --force`. The next price "
                      "push that goes through clears this alert.")]
    return []


def no_success(recipe: Recipe, ledger: Ledger, now: datetime) -> list[Found]:
    """No delivery run ended 0 or 1 for too long (only once the orders flow has run)."""
    limit = recipe.alerts.max_hours_since_success
    last = ledger.last_run_of(DELIVERY, successful=True)
    if last is not None:
        since, what = last["finished_at"], f"the last one ended at {last['finished_at']} UTC"
    else:
        first = ledger.db.execute("SELECT min(started_at) FROM runs WHERE "
                                  "flow='orders'").fetchone()[0]
        if first is None:
            return []
        since, what = first, f"none since the first run at {first} UTC"
    age = _hours(since, now)
    if age <= limit:
        return []
    latest = ledger.last_run("orders", successful=False)
    tail = (f"; the latest, `{latest['command']}` at {latest['finished_at']} UTC, exited "
            f"{latest['exit_code']}") if latest else ""
    return [Found("no_success", f"No successful run for over {limit:g} h",
                  f"No `run` or `import-sage` ended 0 or 1 for {age:.1f} h ({what}){tail}.\n"
                  "To fix: check the scheduler (cron, Task Scheduler) and the latest run's "
                  "messages; `sagesync status` shows the run history.")]


def pending_age(recipe: Recipe, ledger: Ledger, now: datetime) -> list[Found]:
    limit = recipe.alerts.max_pending_hours
    marks = ",".join("?" * len(PENDING))
    row = ledger.db.execute(
        f"SELECT entity_type, entity_id, store_id, increment_id, state, last_error, created_at "
        f"FROM records WHERE state IN ({marks}) ORDER BY created_at LIMIT 1", PENDING).fetchone()
    if row is None or _hours(row[6], now) <= limit:
        return []
    key = f"{row[0]}:{row[1]}@{row[2]}"
    reason = f": {row[5]}" if row[5] else ""
    return [Found("pending_age", f"A record has waited over {limit:g} h to reach Sage",
                  f"The oldest pending record, {key} ({row[3]}), was exported at {row[6]} UTC "
                  f"and is {row[4]}{reason}.\nTo fix: `sagesync trace {key}` says why it waits.")]


def unconfirmed(recipe: Recipe, ledger: Ledger) -> list[Found]:
    """Sent, but Sage's export has not confirmed it after N delivery runs (products that
    have a confirmation export only, and only the kinds of record it answers: Sage 300's
    orders export confirms no credit note)."""
    layout = products.get(recipe.sage.product, recipe.sage.region).ack
    if layout is None:
        return []
    kinds = sorted({kind for answered in layout.types.values() for kind in answered})
    of_kinds = f"entity_type IN ({','.join('?' * len(kinds))})"
    runs = recipe.alerts.unconfirmed_after_runs
    marks = ",".join("?" * len(DELIVERY))
    # sent before the N-th latest delivery run <=> N delivery runs came after it (one query
    # on the state index, where counting the runs after each record would scan per record)
    nth = ledger.db.execute(f"SELECT seq FROM runs WHERE command IN ({marks}) ORDER BY seq "
                            "DESC LIMIT 1 OFFSET ?", (*DELIVERY, runs - 1)).fetchone()
    if nth is None:
        return []
    count = ledger.db.execute("SELECT count(*) FROM records WHERE state='sent' AND sent_run "
                              f"< ? AND {of_kinds}", (nth[0], *kinds)).fetchone()[0]
    if not count:
        return []
    lines = [f"{t}:{i}@{st} ({inc}) in {Path(file or '?').name}"
             for t, i, st, inc, file in ledger.db.execute(
                 "SELECT entity_type, entity_id, store_id, increment_id, file FROM records "
                 f"WHERE state='sent' AND sent_run < ? AND {of_kinds} "
                 "ORDER BY entity_type, entity_id LIMIT ?", (nth[0], *kinds, EXAMPLES))]
    if count > EXAMPLES:
        lines.append(f"... and {count - EXAMPLES} more (`sagesync status`)")
    return [Found("unconfirmed", f"{_plural(count, 'record', 'records')} sent but not "
                  f"confirmed by Sage after {runs} runs",
                  "\n".join([*lines, "To fix: check that Sage imported the files, then read "
                             "Sage's export back with `sagesync ack FILE`."]))]


def no_orders(recipe: Recipe, ledger: Ledger, now: datetime) -> list[Found]:
    """No Magento order created for too long, counting trading hours only."""
    hours = recipe.alerts.trading_hours
    if hours is None:
        return []
    seen = newest(ledger, "order_created")
    since = seen or ledger.db.execute("SELECT min(started_at) FROM runs WHERE command IN "
                                      "('export-orders', 'run')").fetchone()[0]
    if since is None:
        return []
    quiet = hours.trading_seconds(_time(since), now, recipe.zone) / 3600
    limit = recipe.alerts.max_quiet_trading_hours
    if quiet <= limit:
        return []
    what = f"the newest order seen was created at {seen} UTC" if seen else \
        f"no order seen since exports began at {since} UTC"
    return [Found("no_orders", f"No Magento orders for over {limit:g} trading hours",
                  f"{quiet:.1f} trading hours ({hours}, {recipe.sage.timezone}) without a new "
                  f"order: {what}.\nTo fix: check that the store takes orders (checkout, "
                  "payment) and that the export runs.")]


def find_causes(recipe: Recipe, ledger: Ledger, now: datetime, open_alerts: list[AlertRow],
                quarantine_folders: Sequence[Path] = ()) -> list[Found]:
    """Every cause the recipe's [alerts] triggers find now."""
    on = set(recipe.alerts.triggers)
    found: list[Found] = []
    if "auth" in on:
        found += auth(ledger)
    if "needs_attention" in on:
        found += waiting_records(recipe, ledger, "needs_attention", "needs_attention",
                                 ("needs a person", "need a person"))
    if "held" in on:
        found += waiting_records(recipe, ledger, "held", "held", ("held", "held"))
    if "amended" in on:
        found += amended(recipe, ledger)
    if "quarantine" in on:
        found += quarantine(recipe.state_dir, quarantine_folders, open_alerts)
    if "price_guard" in on:
        found += price_guard(ledger)
    if "no_success" in on:
        found += no_success(recipe, ledger, now)
    if "pending_age" in on:
        found += pending_age(recipe, ledger, now)
    if "unconfirmed" in on:
        found += unconfirmed(recipe, ledger)
    if "no_orders" in on:
        found += no_orders(recipe, ledger, now)
    return found
