"""The digest in words: plain text (printed, and the e-mail's text part) and HTML (the e-mail's
other part). Every value that came from Magento or Sage (references, reasons, names) is
escaped in the HTML; amounts are exact decimals with two places."""

from __future__ import annotations

from html import escape

from sagesync.ops.digest import CauseAdvice, Digest, StoreDay


def subject(digest: Digest) -> str:
    sent = sum(s.sent for s in digest.stores)
    waiting = sum(c.count for s in digest.stores for c in s.waiting)
    return (f"[sagesync {digest.recipe}] digest {digest.day.isoformat()}: {sent} sent, "
            f"{waiting} waiting for a person")


def _title(digest: Digest) -> str:
    return (f"sagesync {digest.recipe}: digest for {digest.day.isoformat()} "
            f"({digest.timezone}; {digest.start_utc} to {digest.end_utc} UTC)")


def as_text(digest: Digest) -> str:
    lines = [_title(digest), f"Generated at {digest.generated_at} UTC.", ""]
    if not digest.stores:
        lines.append("Nothing happened that day and nothing waits for a person.")
    for store in digest.stores:
        lines += _store_text(store)
    return "\n".join(lines).rstrip() + "\n"


def _store_text(store: StoreDay) -> list[str]:
    lines = [f"Store {store.store_id}",
             f"  exported {store.exported}, sent {store.sent}, confirmed {store.confirmed}, "
             f"held {store.held}, void {store.void}"]
    if store.amounts:
        lines.append("  sent to Sage, per currency and tax code:")
        for a in store.amounts:
            lines.append(f"    {a.currency} {a.tax_code:<6} {a.transaction_type:<3} "
                         f"{a.documents} documents  net {a.net:.2f}  tax {a.tax:.2f}  "
                         f"gross {a.gross:.2f}")
    for missing in store.amounts_missing:
        lines.append(f"  amount unknown: {missing}")
    if store.oldest_pending is not None:
        p = store.oldest_pending
        lines.append(f"  oldest pending: {p.key} ({p.increment_id}), {p.state} since "
                     f"{p.since} UTC ({store.oldest_pending_hours:g} h)")
    else:
        lines.append("  oldest pending: none")
    if store.waiting:
        lines.append("  waiting for a person now:")
        for cause in store.waiting:
            lines += _cause_text(cause)
    lines.append("")
    return lines


def _cause_text(cause: CauseAdvice) -> list[str]:
    lines = [f"    {cause.count} {cause.state}: {cause.title} ({cause.code})"]
    for record in cause.records:
        order = f", order {record.order}" if record.order else ""
        lines.append(f"      {record.key} ({record.increment_id}{order}): {record.reason}")
    if cause.count > len(cause.records):
        lines.append(f"      ... and {cause.count - len(cause.records)} more")
    lines.append(f"      to fix: {cause.fix}")
    lines += [f"        {command}" for command in cause.commands]
    return lines


def as_html(digest: Digest) -> str:
    e = escape
    parts = ["<!DOCTYPE html>", "<html><body>", f"<h2>{e(_title(digest))}</h2>",
             f"<p>Generated at {e(digest.generated_at)} UTC.</p>"]
    if not digest.stores:
        parts.append("<p>Nothing happened that day and nothing waits for a person.</p>")
    for store in digest.stores:
        parts.append(f"<h3>Store {store.store_id}</h3>")
        parts.append("<table border=\"1\" cellpadding=\"4\"><tr><th>exported</th><th>sent</th>"
                     "<th>confirmed</th><th>held</th><th>void</th></tr>"
                     f"<tr><td>{store.exported}</td><td>{store.sent}</td>"
                     f"<td>{store.confirmed}</td><td>{store.held}</td><td>{store.void}</td>"
                     "</tr></table>")
        if store.amounts:
            parts.append("<p>Sent to Sage, per currency and tax code:</p>"
                         "<table border=\"1\" cellpadding=\"4\"><tr><th>currency</th>"
                         "<th>tax code</th><th>type</th><th>documents</th><th>net</th>"
                         "<th>tax</th><th>gross</th></tr>")
            for a in store.amounts:
                parts.append(f"<tr><td>{e(a.currency)}</td><td>{e(a.tax_code)}</td>"
                             f"<td>{e(a.transaction_type)}</td><td>{a.documents}</td>"
                             f"<td>{a.net:.2f}</td><td>{a.tax:.2f}</td><td>{a.gross:.2f}</td>"
                             "</tr>")
            parts.append("</table>")
        for missing in store.amounts_missing:
            parts.append(f"<p>Amount unknown: {e(missing)}</p>")
        p = store.oldest_pending
        parts.append("<p>Oldest pending: " + (
            f"{e(p.key)} ({e(p.increment_id)}), {e(p.state)} since {e(p.since)} UTC "
            f"({store.oldest_pending_hours:g} h)" if p is not None else "none") + "</p>")
        if store.waiting:
            parts.append("<p>Waiting for a person now:</p><ul>")
            for cause in store.waiting:
                parts.append(f"<li><b>{cause.count} {e(cause.state)}: {e(cause.title)}</b> "
                             f"({e(cause.code)})<ul>")
                for r in cause.records:
                    order = f", order {e(r.order)}" if r.order else ""
                    parts.append(f"<li>{e(r.key)} ({e(r.increment_id)}{order}): "
                                 f"{e(r.reason)}</li>")
                if cause.count > len(cause.records):
                    parts.append(f"<li>... and {cause.count - len(cause.records)} more</li>")
                parts.append(f"</ul>To fix: {e(cause.fix)}<pre>"
                             + "\n".join(e(c) for c in cause.commands) + "</pre></li>")
            parts.append("</ul>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"
