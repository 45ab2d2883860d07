"""Checks that an incoming webhook or event really comes from Adobe Commerce (magento-rest.md §5).

For the ``sagesync listen`` receiver. Two mechanisms:

* **Adobe Commerce Webhooks** (synchronous, sent by the store itself): header
  ``x-adobe-commerce-webhook-signature``, RSASSA-PKCS1-v1_5 + SHA-256 made with the store's
  private key; verify with the PEM public key from Admin (Stores > Configuration > Adobe
  Services > Webhooks). The signed data is **the base64 encoding of the raw body**, not the
  body itself (Adobe's own verifier checks App Builder's ``__ow_body``, which is that base64
  text) - see :func:`verify_commerce_webhook`.
* **Adobe I/O Events** (asynchronous Commerce events relayed by Adobe I/O): headers
  ``x-adobe-digital-signature-1``/``-2`` each an RSA-SHA256 signature over the raw payload,
  with the public keys at ``x-adobe-public-key1-path``/``-2-path``; valid if either verifies;
  then ``recipient_client_id`` must be ours - see :func:`verify_io_event`.

* **Shared-secret HMAC** (many stores' own webhook modules): HMAC-SHA256 over the raw body
  (optionally prefixed by a signed timestamp), hex or base64, in a header the sender names -
  see :func:`verify_hmac` and :class:`HmacScheme`.

All of them take the **raw** request bytes: parsing and re-serialising JSON changes them.
Nothing here touches the network; fetching (and caching) the I/O Events public keys is the
caller's job, through the ``public_keys`` callable (:func:`io_public_key_url` builds and
checks the URL).
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

__all__ = [
    "COMMERCE_SIGNATURE_HEADER",
    "IO_KEY_HOST",
    "IO_KEY_PATH_HEADERS",
    "IO_SIGNATURE_HEADERS",
    "IO_TIMESTAMP_FIELDS",
    "HmacScheme",
    "WebhookRejected",
    "extract_entity_ids",
    "extract_hook_ids",
    "io_public_key_url",
    "load_public_key",
    "verify_commerce_webhook",
    "verify_hmac",
    "verify_io_event",
]

COMMERCE_SIGNATURE_HEADER = "x-adobe-commerce-webhook-signature"
IO_SIGNATURE_HEADERS = ("x-adobe-digital-signature-1", "x-adobe-digital-signature-2")
IO_KEY_PATH_HEADERS = ("x-adobe-public-key1-path", "x-adobe-public-key2-path")
#: Where I/O Events public keys live per Adobe's docs (the aio-lib-events SDK code uses
#: ``https://adobeioevents.com`` + path instead; both serve the same key paths).
IO_KEY_HOST = "https://static.adobeioevents.com"
#: Payload fields read, in this order, as the moment an I/O event was emitted. ASSUMPTION:
#: ``time`` is the CloudEvents attribute I/O Events deliveries carry; ``event_time`` is a
#: fallback seen in older envelopes. Neither is confirmed by the reference (§5). Order fields
#: such as ``data.value.created_at`` are deliberately NOT used: an update event for an old
#: order would look stale.
IO_TIMESTAMP_FIELDS: tuple[tuple[str, ...], ...] = (("time",), ("event_time",))
#: Default staleness bound. I/O Events redelivers failed events with backoff for about a day
#: [not in the reference: Adobe I/O Events docs on retries], so a shorter bound would drop
#: legitimate redeliveries.
IO_DEFAULT_MAX_AGE = timedelta(hours=24)
IO_MAX_CLOCK_SKEW = timedelta(minutes=5)


class WebhookRejected(Exception):
    """The request is not a genuine, current delivery for us; answer it with ``status``.

    ``reason`` says why, for the receiver's log; it never contains key material.
    """

    def __init__(self, reason: str, *, status: int = 401) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


# --------------------------------------------------------------------------- helpers


@functools.lru_cache(maxsize=32)
def load_public_key(pem: bytes) -> rsa.RSAPublicKey:
    """Parse a PEM RSA public key (``BEGIN PUBLIC KEY`` or ``BEGIN RSA PUBLIC KEY``).

    A bad key is a configuration error (ValueError), not a rejected request.
    """
    try:
        key = serialization.load_pem_public_key(pem)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise ValueError(f"not a PEM public key: {exc}") from None
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError(f"expected an RSA public key, got {type(key).__name__}")
    return key


def _b64decode_signature(text: str) -> bytes:
    """Standard or URL-safe base64, padding optional; raises WebhookRejected when garbled."""
    cleaned = "".join(text.split())
    cleaned += "=" * (-len(cleaned) % 4)
    try:
        if "-" in cleaned or "_" in cleaned:
            return base64.b64decode(cleaned, altchars=b"-_", validate=True)
        return base64.b64decode(cleaned, validate=True)
    except (binascii.Error, ValueError):
        raise WebhookRejected("signature is not valid base64") from None


def _rsa_sha256_ok(key: rsa.RSAPublicKey, signature: bytes, data: bytes) -> bool:
    if len(signature) != (key.key_size + 7) // 8:
        return False
    try:
        key.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        return False
    return True


def _header(headers: Mapping[str, str], name: str) -> str | None:
    """Case-insensitive header lookup over any mapping."""
    value = headers.get(name)
    if value is None:
        lname = name.lower()
        value = next((v for k, v in headers.items() if k.lower() == lname), None)
    return value.strip() if isinstance(value, str) and value.strip() else None


# --------------------------------------------------------------------------- Commerce webhooks


def verify_commerce_webhook(raw_body: bytes, signature_b64: str | None,
                            public_key_pem: bytes) -> None:
    """Accept only a body signed by the store's webhook key pair; else raise WebhookRejected.

    ``signature_b64`` is the ``x-adobe-commerce-webhook-signature`` header value (None when
    absent); ``public_key_pem`` the public key shown in Admin. Signed data: base64(raw body),
    RSASSA-PKCS1-v1_5 with SHA-256. Signatures must be enabled in Admin (off by default), and
    "Regenerate key pair" invalidates the old public key.
    """
    if not signature_b64 or not signature_b64.strip():
        raise WebhookRejected(f"missing {COMMERCE_SIGNATURE_HEADER} header (are webhook "
                              "signatures enabled in Admin?)")
    signature = _b64decode_signature(signature_b64)
    key = load_public_key(bytes(public_key_pem))
    if not _rsa_sha256_ok(key, signature, base64.b64encode(bytes(raw_body))):
        raise WebhookRejected("webhook signature does not match the body and public key "
                              "(tampered body, or the key pair was regenerated in Admin)")


# --------------------------------------------------------------------------- shared-secret HMAC


@dataclass(frozen=True)
class HmacScheme:
    """How a sender signs with a shared secret; ``secret`` comes from the environment only.

    ASSUMPTION (no single standard exists): the signature is HMAC-SHA256, in ``header``, as
    ``prefix`` + hex or base64 of the digest. Without ``timestamp_header`` the signed data is
    the raw body. With it, the signed data is ``signed_payload`` with ``{timestamp}`` replaced
    by that header's text and ``{body}`` by the raw body (default ``{timestamp}.{body}``, as
    Stripe-style senders do; Slack-style is ``v0:{timestamp}:{body}``), and the timestamp (Unix
    seconds or milliseconds, or ISO 8601) must be within ``tolerance`` of now.
    """

    secret: bytes = field(repr=False)
    header: str = "X-Signature"
    encoding: str = "hex"
    prefix: str = ""
    timestamp_header: str | None = None
    tolerance: timedelta = timedelta(minutes=5)
    signed_payload: str = "{timestamp}.{body}"

    def __post_init__(self) -> None:
        if not self.secret:
            raise ValueError("the HMAC secret is empty")
        if self.encoding not in ("hex", "base64"):
            raise ValueError(f"hmac encoding must be 'hex' or 'base64', not {self.encoding!r}")
        if not self.header.strip():
            raise ValueError("the HMAC signature header name is empty")
        if self.timestamp_header and (self.signed_payload.count("{body}") != 1
                                      or "{timestamp}" not in self.signed_payload):
            raise ValueError("hmac signed_payload must hold {timestamp} and {body} once, e.g. "
                             "'{timestamp}.{body}'")

    def signed_data(self, raw_body: bytes, timestamp: str | None) -> bytes:
        """The exact bytes the sender signed."""
        if timestamp is None:
            return bytes(raw_body)
        before, after = self.signed_payload.split("{body}")
        return (before.replace("{timestamp}", timestamp).encode("utf-8") + bytes(raw_body)
                + after.replace("{timestamp}", timestamp).encode("utf-8"))


def verify_hmac(raw_body: bytes, headers: Mapping[str, str], scheme: HmacScheme, *,
                now: datetime | None = None) -> bytes:
    """Accept only a body signed with our shared secret (and fresh, when timestamped).

    Returns the signed bytes, whose hash is the replay key: the same delivery twice adds
    nothing. Compared with :func:`hmac.compare_digest`; reasons never hold the secret or the
    expected digest. Raises :class:`WebhookRejected`.
    """
    given_text = _header(headers, scheme.header)
    if given_text is None:
        raise WebhookRejected(f"missing {scheme.header} header")
    if scheme.prefix:
        if not given_text.lower().startswith(scheme.prefix.lower()):
            raise WebhookRejected(f"{scheme.header} does not start with {scheme.prefix!r}")
        given_text = given_text[len(scheme.prefix):].strip()
    if scheme.encoding == "hex":
        try:
            given = bytes.fromhex(given_text)
        except ValueError:
            raise WebhookRejected(f"{scheme.header} is not hex") from None
    else:
        given = _b64decode_signature(given_text)
    stamp: str | None = None
    if scheme.timestamp_header:
        stamp = _header(headers, scheme.timestamp_header)
        if stamp is None:
            raise WebhookRejected(f"missing {scheme.timestamp_header} header")
    signed = scheme.signed_data(raw_body, stamp)
    expected = hmac.new(scheme.secret, signed, hashlib.sha256).digest()
    if not hmac.compare_digest(expected, given):
        raise WebhookRejected(f"{scheme.header} does not match the body (wrong secret, tampered "
                              "body, or another signing scheme)")
    if stamp is not None:
        moment = _parse_time(int(stamp) if stamp.isascii() and stamp.isdigit() else stamp)
        if moment is None:
            raise WebhookRejected(f"{scheme.timestamp_header} is not a time: {stamp[:40]!r}")
        current = now or datetime.now(UTC)
        if current.tzinfo is None:
            current = current.replace(tzinfo=UTC)
        if moment < current - scheme.tolerance:
            raise WebhookRejected(f"signed {moment.isoformat()}, older than "
                                  f"{scheme.tolerance} (stale or replayed)")
        if moment > current + scheme.tolerance:
            raise WebhookRejected(f"signed time {moment.isoformat()} is in the future")
    return signed


# --------------------------------------------------------------------------- I/O Events


_KEY_PATH = re.compile(r"/[A-Za-z0-9._/-]+\.pem")


def io_public_key_url(key_path: str, host: str = IO_KEY_HOST) -> str:
    """URL of an I/O Events public key named by an ``x-adobe-public-key*-path`` header.

    The path comes from the (not yet verified) request, so it is checked to be a plain
    ``/....pem`` path before anyone fetches it; fetch only from Adobe's host.
    """
    if not _KEY_PATH.fullmatch(key_path) or ".." in key_path or "//" in key_path:
        raise WebhookRejected(f"unexpected public key path {key_path[:100]!r}")
    return host.rstrip("/") + key_path


def verify_io_event(raw_body: bytes, headers: Mapping[str, str],
                    public_keys: Mapping[str, bytes] | Callable[[str], bytes],
                    expected_client_id: str, *, now: datetime | None = None,
                    max_age: timedelta | None = IO_DEFAULT_MAX_AGE) -> dict[str, Any]:
    """Check an Adobe I/O Events delivery; return its decoded JSON payload.

    * at least one of ``x-adobe-digital-signature-1``/``-2`` must verify (RSA PKCS#1 v1.5,
      SHA-256, over the raw body) with the PEM key that ``public_keys`` gives for the
      matching ``x-adobe-public-key1-path``/``-2-path`` (a mapping, or a callable that may
      fetch and cache; a lookup that raises counts as that signature failing);
    * ``recipient_client_id`` in the payload must equal ``expected_client_id``;
    * when the payload carries a timestamp (see :data:`IO_TIMESTAMP_FIELDS` - an assumption),
      it must be no older than ``max_age`` (None = no age check) and not in the future beyond
      5 minutes of clock skew. Payloads without one are not rejected on age.

    ``now`` defaults to the current UTC time. Raises :class:`WebhookRejected` otherwise.
    """
    if not expected_client_id:
        raise ValueError("expected_client_id is required")
    pairs = [(_header(headers, sig), _header(headers, path))
             for sig, path in zip(IO_SIGNATURE_HEADERS, IO_KEY_PATH_HEADERS, strict=True)]
    if not any(sig for sig, _ in pairs):
        raise WebhookRejected(f"missing {IO_SIGNATURE_HEADERS[0]} / {IO_SIGNATURE_HEADERS[1]} "
                              "headers")
    body = bytes(raw_body)
    problems: list[str] = []
    verified = False
    for number, (sig_text, key_path) in enumerate(pairs, start=1):
        if not sig_text:
            continue
        if not key_path:
            problems.append(f"signature {number} has no public key path")
            continue
        try:
            signature = _b64decode_signature(sig_text)
        except WebhookRejected:
            problems.append(f"signature {number} is not valid base64")
            continue
        try:
            pem = public_keys(key_path) if callable(public_keys) else public_keys[key_path]
            key = load_public_key(bytes(pem))
        except WebhookRejected as exc:
            problems.append(f"signature {number}: {exc.reason}")
            continue
        except Exception as exc:  # unknown path, fetch failure, bad PEM: this one fails
            problems.append(f"signature {number}: no usable public key ({type(exc).__name__})")
            continue
        if _rsa_sha256_ok(key, signature, body):
            verified = True
            break
        problems.append(f"signature {number} does not match")
    if not verified:
        raise WebhookRejected("no I/O Events signature verifies: " + "; ".join(problems))

    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise WebhookRejected("payload is not JSON", status=400) from None
    if not isinstance(payload, dict):
        raise WebhookRejected("payload is not a JSON object", status=400)
    recipient = payload.get("recipient_client_id")
    if not isinstance(recipient, str) or not hmac.compare_digest(
            recipient.encode("utf-8"), expected_client_id.encode("utf-8")):
        raise WebhookRejected("recipient_client_id is missing or not this receiver's client id",
                              status=403)
    if max_age is not None:
        emitted = _event_time(payload)
        if emitted is not None:
            current = now or datetime.now(UTC)
            if current.tzinfo is None:
                current = current.replace(tzinfo=UTC)
            if emitted < current - max_age:
                raise WebhookRejected(f"event is older than {max_age} (emitted "
                                      f"{emitted.isoformat()})")
            if emitted > current + IO_MAX_CLOCK_SKEW:
                raise WebhookRejected(f"event time {emitted.isoformat()} is in the future")
    return payload


def _event_time(payload: Mapping[str, Any]) -> datetime | None:
    for path in IO_TIMESTAMP_FIELDS:
        node: Any = payload
        for part in path:
            node = node.get(part) if isinstance(node, Mapping) else None
        moment = _parse_time(node)
        if moment is not None:
            return moment
    return None


def _parse_time(value: Any) -> datetime | None:
    """RFC 3339 / ISO 8601 text (``Z`` allowed; naive = UTC) or epoch seconds/milliseconds."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        seconds = value / 1000 if value > 1e11 else value
        try:
            return datetime.fromtimestamp(seconds, UTC)
        except (OverflowError, OSError, ValueError):
            return None
    if isinstance(value, str) and value.strip():
        text = value.strip().replace("Z", "+00:00").replace("z", "+00:00")
        text = re.sub(r"(\.\d{6})\d+", r"\1", text)  # nanoseconds -> microseconds
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            return None
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return None


# --------------------------------------------------------------------------- entity ids


# Event-name fragments -> entity type, most specific first.
_EVENT_ENTITIES: tuple[tuple[str, str], ...] = (
    ("creditmemo", "creditmemo"),
    ("invoice", "invoice"),
    ("shipment", "shipment"),
    ("sales_order", "order"),
    ("order", "order"),
    ("customer", "customer"),
    ("catalog_product", "product"),
    ("product", "product"),
)
# Keys naming a related entity's id.
_RELATED_IDS: tuple[tuple[str, str], ...] = (
    ("order_id", "order"),
    ("invoice_id", "invoice"),
    ("creditmemo_id", "creditmemo"),
    ("customer_id", "customer"),
)
_ENTITY_KEYS = ("order", "invoice", "creditmemo", "shipment", "customer", "product")


def extract_entity_ids(payload: dict[str, Any]) -> list[tuple[str, int]]:
    """Best-effort ``(entity type, id)`` pairs from a Commerce event or webhook payload.

    Meant to tell the receiver what to re-read over REST, never as the data itself. Knows:

    * I/O Events / Commerce events (``observer.sales_order_save_after`` and the like):
      ``{"type": "com.adobe.commerce.observer.sales_order_save_after",
      "data": {"value": {"entity_id": ..., ...}}}`` (optionally wrapped in ``"event"``) -
      the entity type comes from the event name, the id from ``entity_id``/``id``;
    * related ids in the same object: ``order_id``, ``invoice_id``, ``creditmemo_id``,
      ``customer_id``;
    * webhook payloads naming the object: ``{"data": {"order": {"entity_id": ...}}}``.

    Ids that are not positive integers (or numeric strings) are skipped; pairs come out in
    discovery order without duplicates. Unknown shapes give ``[]``.
    """
    found: list[tuple[str, int]] = []

    def add(entity: str, raw: Any) -> None:
        number = _as_id(raw)
        if number is not None and (entity, number) not in found:
            found.append((entity, number))

    def scan(obj: Mapping[str, Any], entity: str | None) -> None:
        if entity is not None:
            add(entity, obj.get("entity_id", obj.get("id")))
        for key, related in _RELATED_IDS:
            if key in obj and related != entity:
                add(related, obj[key])

    if not isinstance(payload, Mapping):
        return found
    root: Mapping[str, Any] = payload
    inner = root.get("event")
    if isinstance(inner, Mapping) and isinstance(inner.get("data"), Mapping):
        root = inner
    names = [v for k in ("type", "eventName", "event_name", "event", "name")
             for v in (root.get(k), payload.get(k)) if isinstance(v, str)]
    event_entity = _entity_from_name(" ".join(names))
    data = root.get("data")
    if isinstance(data, Mapping):
        value = data.get("value")
        if isinstance(value, Mapping):
            scan(value, event_entity)
        for key in _ENTITY_KEYS:
            obj = data.get(key)
            if isinstance(obj, Mapping):
                scan(obj, key)
        if not found and value is None:
            scan(data, event_entity)
    return found


def extract_hook_ids(payload: Any, *, entity: str = "order",
                     id_pointer: str | None = None) -> list[tuple[str, int]]:
    """``(entity type, id)`` pairs from a shared-secret webhook's JSON.

    With ``id_pointer`` (RFC 6901, e.g. ``/data/order/entity_id``) the id is read there and is
    of type ``entity``. Otherwise Magento's own REST shapes are read: ``{"order": {...}}`` (or
    ``invoice``/``creditmemo``/``customer``), a bare entity ``{"entity_id": ..}`` of type
    ``entity``, a search result ``{"items": [...]}``, then anything
    :func:`extract_entity_ids` knows. Related ``order_id``-style keys are read too.
    """
    if id_pointer:
        number = _as_id(_resolve_pointer(payload, id_pointer))
        return [(entity, number)] if number is not None else []
    found: list[tuple[str, int]] = []
    if not isinstance(payload, Mapping):
        return found
    for key in _ENTITY_KEYS:
        obj = payload.get(key)
        if isinstance(obj, Mapping):
            _scan_object(obj, key, found)
    if not found and ("entity_id" in payload or "id" in payload):
        _scan_object(payload, entity, found)
    items = payload.get("items")
    if not found and isinstance(items, list):
        for item in items:
            if isinstance(item, Mapping):
                _scan_object(item, entity, found)
    return found or extract_entity_ids(dict(payload))


def _scan_object(obj: Mapping[str, Any], entity: str, found: list[tuple[str, int]]) -> None:
    for kind, raw in [(entity, obj.get("entity_id", obj.get("id")))] + \
            [(related, obj[key]) for key, related in _RELATED_IDS
             if key in obj and related != entity]:
        number = _as_id(raw)
        if number is not None and (kind, number) not in found:
            found.append((kind, number))


def _resolve_pointer(document: Any, pointer: str) -> Any:
    """RFC 6901 JSON pointer lookup; None when any step is missing."""
    if pointer == "":
        return document
    if not pointer.startswith("/"):
        return None
    node = document
    for token in pointer[1:].split("/"):
        token = token.replace("~1", "/").replace("~0", "~")
        if isinstance(node, Mapping):
            node = node.get(token)
        elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
            node = node[int(token)]
        else:
            return None
    return node


def _entity_from_name(name: str) -> str | None:
    lowered = name.lower()
    for fragment, entity in _EVENT_ENTITIES:
        if fragment in lowered:
            return entity
    return None


def _as_id(raw: Any) -> int | None:
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        return raw if raw > 0 else None
    if isinstance(raw, float) and raw.is_integer() and raw > 0:
        return int(raw)
    if isinstance(raw, str) and raw.strip().isdigit():
        number = int(raw.strip())
        return number if number > 0 else None
    return None
