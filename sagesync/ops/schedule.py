"""The lines that run a recipe on a schedule: crontab, Windows Task Scheduler, systemd timer.

Every path is absolute (schedulers start in another folder). The run is `-q`: a run that went
right writes nothing but its manifest line, and everything goes to one log file, so cron mails
nothing and the log tells what happened. No extra lock: sagesync takes one per state folder, so
a run that finds the previous one still going exits 75 at once and the next cycle tries again;
systemd and the Task Scheduler do not start a second instance of a task that is running anyway.
"""

from __future__ import annotations

import shlex
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path

from sagesync.recipe import Recipe


@dataclass(frozen=True)
class Schedule:
    every_minutes: int
    recipe: str
    executable: list[str]  # the sagesync command: its program and any first arguments
    log: str
    workdir: str
    unit: str  # the systemd unit's and the task's name
    crontab: str
    schtasks: str
    systemd_service: str
    systemd_timer: str

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def unit_name(recipe: Recipe) -> str:
    safe = "".join(c if c.isalnum() or c in "-_" else "-" for c in recipe.name)
    return f"sagesync-{safe.strip('-') or 'recipe'}"


def cron_timing(minutes: int) -> str:
    if minutes < 60:
        return "* * * * *" if minutes == 1 else f"*/{minutes} * * * *"
    hours = minutes // 60
    if hours == 24:
        return "0 0 * * *"
    return "0 * * * *" if hours == 1 else f"0 */{hours} * * *"


def systemd_calendar(minutes: int) -> str:
    if minutes < 60:
        return f"*-*-* *:00/{minutes}:00"
    hours = minutes // 60
    return "*-*-* 00:00:00" if hours == 24 else f"*-*-* 00/{hours}:00:00"


def schtasks_timing(minutes: int) -> str:
    if minutes < 60:
        return f"/SC MINUTE /MO {minutes}"
    hours = minutes // 60
    return "/SC DAILY /ST 00:00" if hours == 24 else f"/SC HOURLY /MO {hours} /ST 00:00"


def build(recipe: Recipe, executable: list[str]) -> Schedule:
    """The three forms of one schedule for `recipe`, run by `executable` (absolute)."""
    assert recipe.path is not None  # a loaded recipe knows its file
    recipe_path = str(recipe.path.resolve())
    log = str((recipe.schedule.log or recipe.state_dir / "logs" / "sagesync.log").resolve())
    workdir = str(recipe.path.resolve().parent)
    minutes = recipe.schedule.every_minutes
    name = unit_name(recipe)
    posix = " ".join(shlex.quote(part) for part in [*executable, "-q", "run", recipe_path])
    crontab = (f"{cron_timing(minutes)} cd {shlex.quote(workdir)} && {posix} "
               f">> {shlex.quote(log)} 2>&1")
    windows = subprocess.list2cmdline([*executable, "-q", "run", recipe_path])
    # cmd /c strips the outer quotes of "<command> >> "log" 2>&1", keeping the inner ones
    inner = f'cmd /c "{windows} >> "{log}" 2>&1"'
    schtasks = (f'schtasks /Create /F /TN "{name}" {schtasks_timing(minutes)} '
                f'/TR "{_escape_tr(inner)}"')
    service = "\n".join([
        "[Unit]",
        f"Description=sagesync: run the recipe {recipe.name}",
        "Wants=network-online.target",
        "After=network-online.target",
        "",
        "[Service]",
        "Type=oneshot",
        f"WorkingDirectory={workdir}",
        "ExecStart=" + " ".join(_systemd_quote(p) for p in [*executable, "-q", "run",
                                                            recipe_path]),
        f"StandardOutput=append:{log}",
        f"StandardError=append:{log}",
        "# 75: Magento, Sage or the run lock was busy; the next cycle retries",
        "SuccessExitStatus=75",
        ""])
    timer = "\n".join([
        "[Unit]",
        f"Description=sagesync: run the recipe {recipe.name} every {_every(minutes)}",
        "",
        "[Timer]",
        f"OnCalendar={systemd_calendar(minutes)}",
        "Persistent=true",
        "",
        "[Install]",
        "WantedBy=timers.target",
        ""])
    return Schedule(minutes, recipe_path, executable, log, workdir, name, crontab, schtasks,
                    service, timer)


def _escape_tr(text: str) -> str:
    """schtasks /TR takes one quoted argument: its inner quotes are written \\"."""
    return text.replace('"', '\\"')


def _systemd_quote(part: str) -> str:
    if part and not any(c in part for c in ' "\'\\$%;'):
        return part
    return '"' + part.replace("\\", "\\\\").replace('"', '\\"').replace("%", "%%") \
        .replace("$", "$$") + '"'


def _every(minutes: int) -> str:
    if minutes % 1440 == 0:
        return "day"
    if minutes % 60 == 0:
        return f"{minutes // 60} h" if minutes > 60 else "hour"
    return f"{minutes} min"


def log_folder(schedule: Schedule) -> Path:
    return Path(schedule.log).parent
