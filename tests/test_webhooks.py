"""Webhook and I/O Events signature checks with real RSA keys (magento-rest.md §5)."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from sagesync.magento.webhooks import (
    COMMERCE_SIGNATURE_HEADER,
    WebhookRejected,
    extract_entity_ids,
    io_public_key_url,
    verify_commerce_webhook,
    verify_io_event,
)

CLIENT_ID = "4b6b2f0e7c1d4a5f9e8d7c6b5a493827"
KEY1_PATH = "/prod/keys/pub-key-0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b.pem"
KEY2_PATH = "/prod/keys/pub-key-9a8b7c6d-5e4f-3a2b-1c0d-ef0123456789.pem"
NOW = datetime(2026, 11, 23, 12, 0, 0, tzinfo=UTC)


def _generate() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


# Generated once for the module: 2048-bit keys take a noticeable fraction of a second each.
KEY_A = _generate()
KEY_B = _generate()
KEY_C = _generate()  # never published: an attacker's key


def pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.SubjectPublicKeyInfo)


def sign(key: rsa.RSAPrivateKey, data: bytes) -> str:
    return base64.b64encode(key.sign(data, padding.PKCS1v15(), hashes.SHA256())).decode()


# --------------------------------------------------------------------------- Commerce webhooks

# As a store posts it for observer.sales_order_place_before (JSON text, sent verbatim).
WEBHOOK_BODY = json.dumps({
    "eventName": "observer.sales_order_place_before",
    "data": {"order": {
        "entity_id": "312", "increment_id": "000000312", "customer_id": "27",
        "grand_total": 119.95, "order_currency_code": "GBP",
        "customer_email": "ann@example.com", "items": [
            {"sku": "MUG-01", "qty_ordered": 2, "price": 49.98, "product_type": "simple"}],
    }},
}, separators=(",", ":")).encode()


def webhook_signature(body: bytes = WEBHOOK_BODY, key: rsa.RSAPrivateKey = KEY_A) -> str:
    """What Commerce sends: RSA-SHA256 over base64(raw body)."""
    return sign(key, base64.b64encode(body))


def test_commerce_webhook_valid_signature_passes() -> None:
    verify_commerce_webhook(WEBHOOK_BODY, webhook_signature(), pem(KEY_A))


def test_commerce_webhook_tampered_body_fails() -> None:
    tampered = WEBHOOK_BODY.replace(b"119.95", b"1.95")
    with pytest.raises(WebhookRejected, match="does not match"):
        verify_commerce_webhook(tampered, webhook_signature(), pem(KEY_A))


def test_commerce_webhook_wrong_key_fails() -> None:
    with pytest.raises(WebhookRejected):
        verify_commerce_webhook(WEBHOOK_BODY, webhook_signature(key=KEY_C), pem(KEY_A))
    with pytest.raises(WebhookRejected):  # a regenerated key pair invalidates the old key
        verify_commerce_webhook(WEBHOOK_BODY, webhook_signature(), pem(KEY_B))


@pytest.mark.parametrize("header", [None, "", "   "])
def test_commerce_webhook_missing_signature_fails(header: str | None) -> None:
    with pytest.raises(WebhookRejected, match=COMMERCE_SIGNATURE_HEADER) as caught:
        verify_commerce_webhook(WEBHOOK_BODY, header, pem(KEY_A))
    assert caught.value.status == 401


@pytest.mark.parametrize("garbled", ["not base64 at all!", "QUJD", "%%%%", "A"])
def test_commerce_webhook_garbled_signature_fails(garbled: str) -> None:
    with pytest.raises(WebhookRejected):
        verify_commerce_webhook(WEBHOOK_BODY, garbled, pem(KEY_A))


def test_commerce_webhook_signs_base64_of_body_not_body() -> None:
    over_raw_body = sign(KEY_A, WEBHOOK_BODY)
    with pytest.raises(WebhookRejected):
        verify_commerce_webhook(WEBHOOK_BODY, over_raw_body, pem(KEY_A))


def test_commerce_webhook_bad_public_key_is_a_config_error() -> None:
    with pytest.raises(ValueError, match="PEM"):
        verify_commerce_webhook(WEBHOOK_BODY, webhook_signature(), b"not a key")


# --------------------------------------------------------------------------- I/O Events


def io_body(**overrides: Any) -> bytes:
    event: dict[str, Any] = {
        "specversion": "1.0",
        "id": "6a5c5b0e-8c8e-4d0b-9b55-2f1f1a1b2c3d",
        "source": "urn:uuid:0f7b6a54-3d2c-4b1a-9a8b-7c6d5e4f3a2b",
        "type": "com.adobe.commerce.observer.sales_order_save_after",
        "datacontenttype": "application/json",
        "time": "2026-11-23T11:59:30.123Z",
        "event_id": "0c2b9f2e-1b3a-4c5d-8e7f-6a5b4c3d2e1f",
        "recipient_client_id": CLIENT_ID,
        "data": {"key": "c5e4a3b2-9d8c-4f7e-a6b5-0c1d2e3f4a5b", "value": {
            "entity_id": "312", "increment_id": "000000312", "state": "processing",
            "customer_id": "27", "created_at": "2024-01-05 10:00:00",
        }},
    }
    event.update(overrides)
    return json.dumps(event).encode()


KEYS = {KEY1_PATH: pem(KEY_A), KEY2_PATH: pem(KEY_B)}


def io_headers(body: bytes, key1: rsa.RSAPrivateKey | None = KEY_A,
               key2: rsa.RSAPrivateKey | None = KEY_B) -> dict[str, str]:
    headers = {"x-adobe-public-key1-path": KEY1_PATH, "x-adobe-public-key2-path": KEY2_PATH}
    if key1 is not None:
        headers["x-adobe-digital-signature-1"] = sign(key1, body)
    if key2 is not None:
        headers["x-adobe-digital-signature-2"] = sign(key2, body)
    return headers


def test_io_event_both_signatures_valid_passes() -> None:
    body = io_body()
    payload = verify_io_event(body, io_headers(body), KEYS, CLIENT_ID, now=NOW)
    assert payload["recipient_client_id"] == CLIENT_ID


@pytest.mark.parametrize(("key1", "key2"), [(KEY_A, KEY_C), (KEY_C, KEY_B), (None, KEY_B),
                                            (KEY_A, None)])
def test_io_event_either_signature_valid_passes(key1: Any, key2: Any) -> None:
    body = io_body()
    verify_io_event(body, io_headers(body, key1, key2), KEYS, CLIENT_ID, now=NOW)


def test_io_event_both_signatures_invalid_fails() -> None:
    body = io_body()
    headers = io_headers(body, KEY_C, KEY_C)
    with pytest.raises(WebhookRejected, match="no I/O Events signature verifies"):
        verify_io_event(body, headers, KEYS, CLIENT_ID, now=NOW)
    tampered = body.replace(b"processing", b"complete")
    with pytest.raises(WebhookRejected):
        verify_io_event(tampered, io_headers(body), KEYS, CLIENT_ID, now=NOW)


def test_io_event_garbled_signature_and_missing_headers_fail() -> None:
    body = io_body()
    headers = io_headers(body)
    headers["x-adobe-digital-signature-1"] = "@@not-base64@@"
    headers["x-adobe-digital-signature-2"] = sign(KEY_C, body)
    with pytest.raises(WebhookRejected, match="not valid base64"):
        verify_io_event(body, headers, KEYS, CLIENT_ID, now=NOW)
    with pytest.raises(WebhookRejected, match="missing"):
        verify_io_event(body, {}, KEYS, CLIENT_ID, now=NOW)


def test_io_event_wrong_client_id_fails() -> None:
    body = io_body(recipient_client_id="someone-else")
    with pytest.raises(WebhookRejected, match="recipient_client_id") as caught:
        verify_io_event(body, io_headers(body), KEYS, CLIENT_ID, now=NOW)
    assert caught.value.status == 403
    body = io_body(recipient_client_id=None)
    with pytest.raises(WebhookRejected, match="recipient_client_id"):
        verify_io_event(body, io_headers(body), KEYS, CLIENT_ID, now=NOW)


def test_io_event_key_lookup_is_a_callable_and_headers_any_case() -> None:
    body = io_body()
    asked: list[str] = []

    def fetch(path: str) -> bytes:
        asked.append(path)
        if path == KEY1_PATH:
            raise OSError("key host unreachable")
        return KEYS[path]

    headers = {k.upper(): v for k, v in io_headers(body).items()}
    verify_io_event(body, headers, fetch, CLIENT_ID, now=NOW)
    assert asked == [KEY1_PATH, KEY2_PATH]


def test_io_event_stale_or_future_events_fail_and_no_time_is_accepted() -> None:
    body = io_body()
    headers = io_headers(body)
    with pytest.raises(WebhookRejected, match="older than"):
        verify_io_event(body, headers, KEYS, CLIENT_ID, now=NOW + timedelta(days=2))
    verify_io_event(body, headers, KEYS, CLIENT_ID, now=NOW + timedelta(days=2), max_age=None)
    with pytest.raises(WebhookRejected, match="future"):
        verify_io_event(body, headers, KEYS, CLIENT_ID, now=NOW - timedelta(hours=1))
    untimed = io_body(time=None)
    verify_io_event(untimed, io_headers(untimed), KEYS, CLIENT_ID,
                    now=NOW + timedelta(days=400))  # the old order's created_at is not used


def test_io_public_key_url() -> None:
    assert io_public_key_url(KEY1_PATH) == "https://static.adobeioevents.com" + KEY1_PATH
    for bad in ["https://evil.example/k.pem", "/prod/../etc/passwd.pem", "//evil.example/k.pem",
                "/prod/keys/k.txt"]:
        with pytest.raises(WebhookRejected):
            io_public_key_url(bad)


# --------------------------------------------------------------------------- entity ids


def test_extract_entity_ids_from_event_payloads() -> None:
    assert extract_entity_ids(json.loads(io_body())) == [("order", 312), ("customer", 27)]
    invoice = {"type": "com.adobe.commerce.observer.sales_order_invoice_save_after",
               "data": {"value": {"entity_id": 55, "order_id": "312"}}}
    assert extract_entity_ids(invoice) == [("invoice", 55), ("order", 312)]
    wrapped = {"event_id": "x", "event": {"type": "observer.sales_order_creditmemo_save_after",
                                          "data": {"value": {"entity_id": "9",
                                                             "order_id": 312}}}}
    assert extract_entity_ids(wrapped) == [("creditmemo", 9), ("order", 312)]
    assert extract_entity_ids(json.loads(WEBHOOK_BODY)) == [("order", 312), ("customer", 27)]


@pytest.mark.parametrize("payload", [{}, {"data": "x"}, {"data": {"value": {"entity_id": "abc"}}},
                                     {"type": "observer.unknown", "data": {"value": {"id": 3}}},
                                     {"data": {"value": {"entity_id": True, "order_id": -1}}}])
def test_extract_entity_ids_is_best_effort(payload: dict[str, Any]) -> None:
    assert extract_entity_ids(payload) == []


# --------------------------------------------------------------------------- shared-secret HMAC


SECRET = b"s3cret-from-env"
BODY = b'{"order": {"entity_id": 42, "increment_id": "000000042"}}'


def hmac_headers(body: bytes, *, secret: bytes = SECRET, encoding: str = "hex",
                 prefix: str = "", timestamp: str | None = None,
                 template: str = "{timestamp}.{body}") -> dict[str, str]:
    """What a store's webhook module sends: HMAC-SHA256 of the (timestamp-prefixed) raw body."""
    import hashlib
    import hmac as hmac_lib

    signed = body
    headers: dict[str, str] = {}
    if timestamp is not None:
        before, after = template.split("{body}")
        signed = before.replace("{timestamp}", timestamp).encode() + body + after.encode()
        headers["X-Timestamp"] = timestamp
    digest = hmac_lib.new(secret, signed, hashlib.sha256).digest()
    text = digest.hex() if encoding == "hex" else base64.b64encode(digest).decode()
    headers["X-Signature"] = prefix + text
    return headers


def scheme(**overrides: Any) -> Any:
    from sagesync.magento.webhooks import HmacScheme

    settings: dict[str, Any] = {"secret": SECRET, "header": "X-Signature"}
    settings.update(overrides)
    return HmacScheme(**settings)


@pytest.mark.parametrize("encoding", ["hex", "base64"])
def test_hmac_good_signature_passes_in_either_encoding(encoding: str) -> None:
    from sagesync.magento.webhooks import verify_hmac

    verify_hmac(BODY, hmac_headers(BODY, encoding=encoding), scheme(encoding=encoding))
    verify_hmac(BODY, {"x-signature": hmac_headers(BODY, encoding=encoding,
                                                   prefix="sha256=")["X-Signature"]},
                scheme(encoding=encoding, prefix="sha256="))


@pytest.mark.parametrize("headers", [
    {},
    {"X-Signature": ""},
    {"X-Signature": "zz-not-hex"},
    {"X-Signature": hmac_headers(BODY, secret=b"another secret")["X-Signature"]},
    {"X-Signature": hmac_headers(BODY + b" ")["X-Signature"]},
    {"X-Signature": hmac_headers(BODY)["X-Signature"][:-2]},
    {"X-Signature": "sha1=" + hmac_headers(BODY)["X-Signature"]},
])
def test_hmac_missing_wrong_or_garbled_signature_fails(headers: dict[str, str]) -> None:
    from sagesync.magento.webhooks import verify_hmac

    with pytest.raises(WebhookRejected) as caught:
        verify_hmac(BODY, headers, scheme())
    assert SECRET.decode() not in caught.value.reason


def test_hmac_prefix_is_required_when_configured() -> None:
    from sagesync.magento.webhooks import verify_hmac

    with pytest.raises(WebhookRejected, match="sha256="):
        verify_hmac(BODY, hmac_headers(BODY), scheme(prefix="sha256="))


def test_hmac_timestamp_is_signed_and_bounded() -> None:
    from sagesync.magento.webhooks import verify_hmac

    stamp = str(int(NOW.timestamp()))
    tight = scheme(timestamp_header="X-Timestamp", tolerance=timedelta(minutes=5))
    verify_hmac(BODY, hmac_headers(BODY, timestamp=stamp), tight, now=NOW)
    verify_hmac(BODY, hmac_headers(BODY, timestamp=stamp), tight, now=NOW + timedelta(minutes=4))
    with pytest.raises(WebhookRejected, match="older"):
        verify_hmac(BODY, hmac_headers(BODY, timestamp=stamp), tight,
                    now=NOW + timedelta(minutes=6))
    with pytest.raises(WebhookRejected, match="future"):
        verify_hmac(BODY, hmac_headers(BODY, timestamp=stamp), tight,
                    now=NOW - timedelta(minutes=6))
    moved = hmac_headers(BODY, timestamp=stamp)
    moved["X-Timestamp"] = str(int(NOW.timestamp()) + 60)  # a fresh stamp on an old signature
    with pytest.raises(WebhookRejected, match="does not match"):
        verify_hmac(BODY, moved, tight, now=NOW)
    no_stamp = hmac_headers(BODY)
    with pytest.raises(WebhookRejected, match="X-Timestamp"):
        verify_hmac(BODY, no_stamp, tight, now=NOW)


def test_hmac_signed_payload_template_is_configurable() -> None:
    from sagesync.magento.webhooks import verify_hmac

    stamp = str(int(NOW.timestamp()))
    slack_like = scheme(timestamp_header="X-Timestamp", signed_payload="v0:{timestamp}:{body}")
    verify_hmac(BODY, hmac_headers(BODY, timestamp=stamp, template="v0:{timestamp}:{body}"),
                slack_like, now=NOW)
    with pytest.raises(WebhookRejected):
        verify_hmac(BODY, hmac_headers(BODY, timestamp=stamp), slack_like, now=NOW)


def test_hmac_scheme_refuses_a_bad_configuration_and_hides_the_secret() -> None:
    with pytest.raises(ValueError):
        scheme(secret=b"")
    with pytest.raises(ValueError):
        scheme(encoding="base32")
    with pytest.raises(ValueError):
        scheme(timestamp_header="X-Timestamp", signed_payload="{timestamp}")
    assert SECRET.decode() not in repr(scheme())


@pytest.mark.parametrize(("payload", "entity", "pointer", "expected"), [
    ({"order": {"entity_id": 42, "increment_id": "x"}}, "order", None, [("order", 42)]),
    ({"entity_id": "42", "increment_id": "x"}, "order", None, [("order", 42)]),
    ({"entity_id": 9, "order_id": 42}, "invoice", None, [("invoice", 9), ("order", 42)]),
    ({"invoice": {"entity_id": 9, "order_id": 42}}, "order", None,
     [("invoice", 9), ("order", 42)]),
    ({"items": [{"entity_id": 1}, {"entity_id": 2}]}, "order", None,
     [("order", 1), ("order", 2)]),
    ({"data": {"order": {"entity_id": 5}}}, "order", None, [("order", 5)]),
    ({"payload": {"sales/order": {"id": 7}}}, "order", "/payload/sales~1order/id",
     [("order", 7)]),
    ({"payload": {"id": 7}}, "order", "/payload/missing", []),
    ({"something": "else"}, "order", None, []),
])
def test_extract_hook_ids_reads_magento_rest_shapes_and_a_json_pointer(
        payload: dict[str, Any], entity: str, pointer: str | None,
        expected: list[tuple[str, int]]) -> None:
    from sagesync.magento.webhooks import extract_hook_ids

    assert extract_hook_ids(payload, entity=entity, id_pointer=pointer) == expected
