"""The webhook receiver end to end: real RSA keys, real HTTP on loopback, the ledger, and the
next export fetching what the event named even when it is outside the window."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from sagesync.ops.listen import ListenConfig, serve
from sagesync.pipeline.checkpoint import new_run_id
from sagesync.pipeline.export_step import export_orders
from sagesync.pipeline.ledger import Ledger
from sagesync.recipe import load_recipe
from sagesync.testing.dataset import documents

KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
PUBLIC_PEM = KEY.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo)
OTHER_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def sign(body: bytes, key: rsa.RSAPrivateKey = KEY) -> str:
    """What Adobe Commerce sends: RSA-SHA256 over base64(raw body), base64-encoded."""
    return base64.b64encode(key.sign(base64.b64encode(body), padding.PKCS1v15(),
                                     hashes.SHA256())).decode()


def event(order_id: int) -> bytes:
    return json.dumps({"eventName": "observer.sales_order_save_after",
                       "data": {"value": {"entity_id": order_id, "increment_id": "x"}}}).encode()


@pytest.fixture
def receiver(tmp_path: Path):  # type: ignore[no-untyped-def]
    config = ListenConfig(tmp_path / "ledger.sqlite", PUBLIC_PEM, None, None)
    server = serve("127.0.0.1", 0, config)
    yield f"http://127.0.0.1:{server.server_address[1]}", config, server
    server.shutdown()


def post(url: str, body: bytes, signature: str | None) -> requests.Response:
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers["x-adobe-commerce-webhook-signature"] = signature
    return requests.post(url + "/commerce", data=body, headers=headers, timeout=10)


def test_signed_event_is_recorded_and_others_are_refused(receiver) -> None:  # type: ignore[no-untyped-def]
    url, config, server = receiver
    body = event(7)
    ok = post(url, body, sign(body))
    assert ok.status_code == 200 and ok.json() == {"op": "success"}
    assert post(url, body, sign(body)).status_code == 200  # a replay: accepted, adds nothing
    tampered = body.replace(b"7", b"8")
    assert post(url, tampered, sign(body)).status_code == 401
    assert post(url, body, sign(body, OTHER_KEY)).status_code == 401
    assert post(url, body, None).status_code == 401
    with Ledger(config.ledger_path) as ledger:
        assert ledger.pending_triggers() == {"orders": {7}}
    assert server.rejected == 3


def test_the_next_export_fetches_what_the_event_named(
        tmp_path: Path, receiver, make_magento_sim) -> None:  # type: ignore[no-untyped-def]
    url, config, _ = receiver
    store = documents(1, 12, seed=9)
    sim = make_magento_sim({k: [dict(i) for i in v] for k, v in store.items()}, token="t")
    (tmp_path / "r.toml").write_text(f"""
name = "hooks"
state_dir = "."
[magento]
base_url = "{sim.url}"
token = "t"
[sage]
product = "sage50_uk"
""", encoding="utf-8")
    recipe = load_recipe(tmp_path / "r.toml")
    target = store["invoices"][0]["order_id"]
    body = event(target)
    assert post(url, body, sign(body)).status_code == 200
    with Ledger(config.ledger_path) as ledger:
        # a window that holds nothing: only the event brings the order and its invoice
        result = export_orders(recipe, new_run_id(), ledger,
                               since=datetime(2030, 1, 1, tzinfo=UTC),
                               until=datetime(2030, 1, 2, tzinfo=UTC))
        assert ledger.pending_triggers() == {}
    assert result.counts["orders"] == 1 and result.counts["invoices"] == 1
