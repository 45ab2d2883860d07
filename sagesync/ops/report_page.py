"""The status page: one self-contained HTML file drawn from a StatusReport.

It must open from a Windows file share with no server and no internet, so everything is
inline: CSS, SVG charts, and one small script (times shown in the reader's own zone on
hover). A Content-Security-Policy allows only that script (by its hash) and inline styles: the
page can fetch nothing, and text that came from Magento or the ledger could not run even if
an escape were missed (every such value is escaped all the same).
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable, Sequence
from datetime import datetime
from html import escape
from pathlib import Path

from sagesync.errors import ExitCode, SageSyncError
from sagesync.fs import write_atomically
from sagesync.ops.queue_history import parse_stamp
from sagesync.ops.report import DOCUMENT_EVENTS, StatusReport
from sagesync.ops.svg_charts import Series, bar_chart, hbar_chart, step_chart

STATES_SHOWN = ("exported", "queued", "rejected", "held", "needs_attention", "sent",
                "confirmed", "amended", "resolved", "skipped", "void")
_DOCUMENT_NAMES = {"exported": "exported from Magento", "sent": "sent to Sage",
                   "confirmed": "confirmed by Sage"}

_SCRIPT = """
document.querySelectorAll("time[datetime]").forEach(function (t) {
  var when = new Date(t.getAttribute("datetime"));
  if (!isNaN(when.getTime())) { t.title = when.toLocaleString() + " (your time)"; }
});
""".strip()

_CSS = """
body { font: 14px/1.4 system-ui, "Segoe UI", Arial, sans-serif; margin: 1.5em auto;
       max-width: 60em; padding: 0 1em; color: #1d2330; background: #fff; }
h1 { font-size: 1.5em; margin-bottom: 0.2em; } h2 { font-size: 1.15em; margin-top: 1.8em; }
.sub { color: #5b6475; margin-top: 0; }
.figures { display: flex; flex-wrap: wrap; gap: 0.8em; margin: 1em 0; }
.figure { border: 1px solid #d6dbe4; border-radius: 6px; padding: 0.5em 0.9em; min-width: 9em; }
.figure .value { font-size: 1.6em; font-weight: 600; display: block; }
.figure .label { color: #5b6475; }
.breaches { background: #fff4e5; border: 1px solid #f0b45b; border-radius: 6px;
            padding: 0.6em 1em; }
.ok { background: #eaf7ee; border: 1px solid #7cc493; border-radius: 6px; padding: 0.6em 1em; }
table { border-collapse: collapse; margin: 0.6em 0; width: 100%; }
th, td { border-bottom: 1px solid #e3e7ee; padding: 0.25em 0.5em; text-align: left;
         vertical-align: top; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; }
.exit-0 { color: #1c7c3a; } .exit-1 { color: #a66300; } .exit-bad { color: #b3261e; }
.chart { width: 100%; max-width: 640px; height: auto; display: block; margin: 0.4em 0; }
.chart .grid { stroke: #e3e7ee; } .chart .axis, .chart .legend { font-size: 11px;
  fill: #5b6475; }
.chart .line { fill: none; stroke-width: 2; }
.chart polyline.s2 { stroke-dasharray: 4 3; stroke-width: 1; }
.chart .s0 { fill: #3867d6; stroke: #3867d6; } .chart .s1 { fill: #e58e26; stroke: #e58e26; }
.chart .s2 { fill: #20a162; stroke: #20a162; }
.chart polyline.s0, .chart polyline.s1, .chart polyline.s2 { fill: none; }
.empty { color: #5b6475; font-style: italic; }
code { font-size: 0.95em; }
""".strip()


class PageWriteError(SageSyncError):
    """The page's file cannot be written (a missing folder, a share without write access)."""

    exit_code = ExitCode.CANT_CREATE


def _e(value: object) -> str:
    return escape("" if value is None else str(value), quote=True)


def _time(stamp: str | None) -> str:
    """A UTC stamp as a <time> element (the script adds the reader's local time)."""
    if not stamp:
        return "—"
    shown = stamp.replace("T", " ").removesuffix("Z") + " UTC"
    return f'<time datetime="{_e(stamp)}">{_e(shown)}</time>'


def _hours(value: float | None) -> str:
    return "none" if value is None else f"{value:g} h"


def _table(headers: Sequence[str], rows: Iterable[str], numeric: Sequence[int] = ()) -> str:
    head = "".join(f'<th{" class=n" if i in numeric else ""}>{_e(h)}</th>'
                   for i, h in enumerate(headers))
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _figure(name: str, value: str, label: str) -> str:
    return (f'<div class="figure"><span class="value" data-figure="{_e(name)}">{value}</span>'
            f'<span class="label">{_e(label)}</span></div>')


def _header(report: StatusReport) -> str:
    last = report.last_success
    parts = [f"<h1>sagesync status: {_e(report.recipe)}</h1>",
             f'<p class="sub">Magento orders to {_e(report.product)}; generated '
             f"{_time(report.generated_at)}; charts cover the last {report.days} days "
             f"(days in {_e(report.timezone)})</p>",
             '<div class="figures">',
             _figure("waiting", str(report.waiting), "waiting for the next run"),
             _figure("with_person", str(report.with_person), "held or needing a person"),
             _figure("oldest_pending", _e(_hours(report.oldest_pending_hours)),
                     "oldest pending record"),
             _figure("last_success", _time(last["finished_at"]) if last else "none yet",
                     "last successful delivery"),
             "</div>"]
    if report.breaches:
        items = "".join(f"<li>{_e(b)}</li>" for b in report.breaches)
        parts.append(f'<div class="breaches" id="breaches"><strong>Needs a look '
                     f"([status] limits):</strong><ul>{items}</ul></div>")
    else:
        parts.append('<p class="ok" id="breaches">Within every [status] limit.</p>')
    rows = (f'<tr data-state="{_e(s)}"><td>{_e(s)}</td><td class="n">'
            f"{report.counts.get(s, 0)}</td></tr>" for s in STATES_SHOWN)
    parts.append("<h2>Records by state</h2>" + _table(("state", "records"), rows, (1,)))
    return "".join(parts)


def _x_positions(stamps: Sequence[str]) -> tuple[list[float], list[tuple[float, str]]]:
    """Each stamp's place from 0 to 1 between the first and the last, and axis labels."""
    moments = [parse_stamp(s) for s in stamps]
    begin, end = moments[0], moments[-1]
    span = (end - begin).total_seconds() or 1.0
    xs = [(m - begin).total_seconds() / span for m in moments]
    fmt = "%Y-%m-%d %H:%M" if span < 3 * 86400 else "%Y-%m-%d"
    middle = begin + (end - begin) / 2
    labels = [(0.0, f"{begin:{fmt}} UTC"), (0.5, f"{middle:{fmt}}"), (1.0, f"{end:{fmt}} UTC")]
    return xs, labels


def _queue(report: StatusReport) -> str:
    points = report.queue
    xs, labels = _x_positions([p.at for p in points])
    depth = step_chart("Queue depth over time", xs,
                       [Series("waiting for a run", [p.waiting for p in points]),
                        Series("held or needing a person", [p.with_person for p in points]),
                        Series("most pending at once", [p.peak for p in points])],
                       labels, unit="records")
    age = step_chart("Age of the oldest pending record", xs,
                     [Series("oldest pending, hours", [p.oldest_hours for p in points])],
                     labels, unit="hours")
    peak = max(points, key=lambda p: p.peak)
    return ("<h2>Queue depth and age</h2>"
            "<p class=\"sub\">The lines show the queue as each stretch of time ended; "
            "the third, the most records pending at once during it.</p>"
            + depth + age + f'<p>Deepest in the window: <span data-figure="peak_depth">'
            f"{peak.peak}</span> records pending at once (by {_time(peak.at)}).</p>")


def _per_day(report: StatusReport) -> str:
    days = report.per_day
    if not days:
        return ('<h2>Documents per day</h2><p class="empty" id="per-day">No documents moved '
                "in the window.</p>")
    chart = bar_chart("Documents per day: Magento and Sage", [d["day"] for d in days],
                      [Series(_DOCUMENT_NAMES[e], [d[e] for d in days])
                       for e in DOCUMENT_EVENTS], unit="documents")
    rows = (f'<tr data-day="{_e(d["day"])}"><td>{_e(d["day"])}</td>'
            + "".join(f'<td class="n" data-event="{e}">{int(d[e])}</td>' for e in DOCUMENT_EVENTS)
            + "</tr>" for d in reversed(days))
    table = _table(("day", *(_DOCUMENT_NAMES[e] for e in DOCUMENT_EVENTS)), rows, (1, 2, 3))
    return f'<h2>Documents per day</h2>{chart}<div id="per-day">{table}</div>'


def _holds(report: StatusReport) -> str:
    causes = report.holds_by_cause
    if not causes:
        return ('<h2>Held, by cause</h2><p class="empty" id="holds">Nothing is held and '
                "nothing needs a person.</p>")
    chart = hbar_chart("Held or needing a person, by cause",
                       [(c["title"], c["count"]) for c in causes])
    rows = (f'<tr data-cause="{_e(c["code"])}"><td>{_e(c["title"])}</td>'
            f'<td><code>{_e(c["code"])}</code></td><td class="n">{int(c["count"])}</td>'
            f'<td>{_e(", ".join(c["examples"]))}</td></tr>' for c in causes)
    table = _table(("cause", "code", "records", "for example"), rows, (2,))
    listed = (f'<tr data-record="{_e(r["key"])}"><td>{_e(r["key"])}</td>'
              f'<td>{_e(r["increment_id"])}</td><td>{_e(r["order"])}</td>'
              f'<td>{_e(r["state"])}</td><td>{_e(r["reason"])}</td></tr>'
              for r in report.needing_person)
    records = _table(("record", "number", "order", "state", "why"), listed)
    return (f'<h2>Held, by cause</h2>{chart}<div id="holds">{table}</div>'
            f"<h3>The records</h3>{records}")


def _exit_class(code: int | None) -> str:
    return "exit-0" if code == 0 else "exit-1" if code == 1 else "exit-bad"


def _runs(report: StatusReport) -> str:
    runs = report.runs
    if not runs:
        return '<h2>Last runs</h2><p class="empty" id="runs">No run yet.</p>'
    oldest_first = list(reversed(runs))
    chart = bar_chart("Documents delivered per run",
                      [f"{_short(r['started_at'])}" for r in oldest_first],
                      [Series("delivered", [r["delivered"] or 0 for r in oldest_first])],
                      unit="documents")
    rows = []
    for r in runs:
        code = r["exit_code"]
        batches = ", ".join(f"B{b['batch_id']:06d} {b['state']}" for b in r["batches"])
        rows.append(
            f'<tr data-run="{_e(r["run_id"])}"><td>{_time(r["started_at"])}</td>'
            f'<td>{_e(r["command"])}</td><td>{_e(r["flow"])}</td>'
            f'<td class="n {_exit_class(code)}" data-exit>{"running" if code is None else code}'
            f'</td><td class="n">{"" if r["seconds"] is None else r["seconds"]}</td>'
            f'<td class="n">{"" if r["delivered"] is None else _e(r["delivered"])}</td>'
            f"<td>{_e(batches)}</td><td><code>{_e(r['run_id'])}</code></td></tr>")
    table = _table(("started", "command", "flow", "exit", "seconds", "delivered", "batches",
                    "run"), rows, (3, 4, 5))
    return f'<h2>Last runs</h2>{chart}<div id="runs">{table}</div>'


def _short(stamp: str | None) -> str:
    if not stamp:
        return "?"
    moment: datetime = parse_stamp(stamp)
    return f"{moment:%m-%d %H:%M}"


def _hash(script: str) -> str:
    return base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()


def render_page(report: StatusReport) -> str:
    """The whole page as text."""
    policy = (f"default-src 'none'; style-src 'unsafe-inline'; "
              f"script-src 'sha256-{_hash(_SCRIPT)}'")
    body = "".join((_header(report), _queue(report), _per_day(report), _holds(report),
                    _runs(report)))
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f'<meta http-equiv="Content-Security-Policy" content="{policy}">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>sagesync status: {_e(report.recipe)}</title><style>{_CSS}</style></head>"
            f"<body>{body}<p class=\"sub\">Written by <code>sagesync report</code>; it reads "
            f"the ledger only.</p><script>{_SCRIPT}</script></body></html>\n")


def write_page(path: Path, report: StatusReport) -> Path:
    """Write the page atomically: a reader of the share sees the old page or the new one."""
    try:
        return write_atomically(path, render_page(report).encode("utf-8"))
    except OSError as error:
        raise PageWriteError(f"cannot write the status page {path}: "
                             f"{error.strerror or error}",
                             hint="Check that its folder exists and can be written.") from None
