"""The words of an alert: one message per evaluation and channel, listing what opened and what
cleared, so a burst of causes is one e-mail, not a storm. Secrets are masked last, whatever
the text came from (a Magento error, a file name)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from sagesync.ledger.alert_state import AlertRow
from sagesync.recipe import Recipe

MASK = "***"


@dataclass(frozen=True)
class Message:
    """What a channel sends: a subject, plain text, and the JSON body of a webhook."""

    subject: str
    text: str
    payload: dict[str, Any] = field(default_factory=dict)
    html: str | None = None


def secrets_of(recipe: Recipe) -> list[str]:
    """Every secret the recipe holds (credentials, the webhook URL and its path), longest
    first so a secret inside another is masked whole."""
    found = [recipe.magento.token, recipe.listen.hmac_secret, recipe.alerts.password,
             recipe.alerts.webhook_url,
             *(v for k, v in recipe.magento.auth_settings.items()
               if k in ("consumer_key", "consumer_secret", "access_token",
                        "access_token_secret", "password", "client_secret"))]
    if recipe.alerts.webhook_url:
        parts = urlsplit(recipe.alerts.webhook_url)
        found += [parts.path, parts.query]
    return sorted({s for s in found if s and len(s) >= 4 and s != "/"}, key=len, reverse=True)


def redact(text: str, secrets: Sequence[str]) -> str:
    for secret in secrets:
        text = text.replace(secret, MASK)
    return text


def _redact_value(value: Any, secrets: Sequence[str]) -> Any:
    if isinstance(value, str):
        return redact(value, secrets)
    if isinstance(value, dict):
        return {k: _redact_value(v, secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact_value(v, secrets) for v in value]
    return value


def masked(message: Message, secrets: Sequence[str]) -> Message:
    return Message(redact(message.subject, secrets), redact(message.text, secrets),
                   _redact_value(message.payload, secrets),
                   redact(message.html, secrets) if message.html is not None else None)


def _indent(text: str) -> list[str]:
    return [f"  {line}" if line else "" for line in text.splitlines()]


def compose(recipe: Recipe, raised: Sequence[AlertRow], resolved: Sequence[AlertRow],
            at: str) -> Message:
    """The message announcing `raised` episodes and the end of `resolved` ones."""
    name = recipe.name
    if len(raised) + len(resolved) == 1:
        only = (raised or resolved)[0]
        subject = f"[sagesync {name}] {'ALERT' if raised else 'RESOLVED'}: {only.title}"
    else:
        subject = (f"[sagesync {name}] {_count(len(raised), 'alert')}, "
                   f"{len(resolved)} resolved")
    lines = [f"sagesync {name}: {_count(len(raised), 'new alert')}, {len(resolved)} resolved, "
             f"at {at} UTC (recipe {recipe.path or name}).", ""]
    for row in raised:
        lines += [f"ALERT: {row.title}", f"  cause: {row.cause}", f"  since: {row.raised_at} UTC",
                  *_indent(row.detail), ""]
    for row in resolved:
        lines += [f"RESOLVED: {row.title}", f"  cause: {row.cause}",
                  f"  raised {row.raised_at} UTC, cleared {row.cleared_at} UTC", ""]
    text = "\n".join(lines).rstrip() + "\n"
    payload = {"text": text, "sagesync": {"recipe": name, "at": at, "alerts": [
        *_entries(raised, "raised"), *_entries(resolved, "resolved")]}}
    return Message(subject, text, payload)


def _count(number: int, what: str) -> str:
    return f"{number} {what}{'' if number == 1 else 's'}"


def _entries(rows: Iterable[AlertRow], status: str) -> list[dict[str, Any]]:
    return [{"status": status, "cause": r.cause, "title": r.title, "detail": r.detail,
             "raised_at": r.raised_at, "cleared_at": r.cleared_at} for r in rows]
