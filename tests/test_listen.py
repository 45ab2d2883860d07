"""The webhook receiver end to end: real RSA keys, real HTTP on loopback, the ledger, and the
next export fetching what the event named even when it is outside the window."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import re
import socket
import struct
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from sagesync.ledger import Ledger
from sagesync.ops.listen import ListenConfig, serve
from sagesync.pipeline.checkpoint import new_run_id
from sagesync.pipeline.export_step import export_orders
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


# --------------------------------------------------------------------------- hostile clients
# Real sockets on 127.0.0.1. Every loop is bounded by a deadline, so a receiver that never cuts
# a client off makes these tests fail in a few seconds instead of hanging.


def _limits(**values: float) -> object:
    from sagesync.ops.listen import Limits

    return Limits(**values)  # type: ignore[arg-type]


def _read_answer(sock: socket.socket, seconds: float) -> tuple[bytes, bool]:
    """Everything the server sends within `seconds`, and whether it closed the connection."""
    sock.settimeout(0.05)
    data = b""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            chunk = sock.recv(4096)
        except TimeoutError:
            continue
        except OSError:  # reset: the server hung up on us
            return data, True
        if not chunk:
            return data, True
        data += chunk
    return data, False


def _exchange(port: int, data: bytes, seconds: float = 3.0) -> tuple[bytes, bool]:
    with socket.create_connection(("127.0.0.1", port), timeout=seconds) as sock:
        sock.sendall(data)
        return _read_answer(sock, seconds)


def _wait_for(predicate: Callable[[], bool], seconds: float = 3.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


def _status(answer: bytes) -> int | None:
    match = re.match(rb"HTTP/1\.[01] (\d{3}) ", answer)
    return int(match.group(1)) if match else None


def test_a_non_numeric_content_length_is_a_400_without_a_traceback(
        receiver, capfd, caplog) -> None:  # type: ignore[no-untyped-def]
    caplog.set_level(logging.INFO, logger="sagesync.listen")
    _, _, server = receiver
    for length in (b"abc", b"-5", b"1e3", b"\xb2"):
        answer, closed = _exchange(server.server_address[1], b"POST /commerce HTTP/1.1\r\n"
                                   b"Host: x\r\nContent-Length: " + length + b"\r\n\r\n{}")
        assert _status(answer) == 400 and closed, (length, answer)
    assert "Traceback" not in capfd.readouterr().err
    assert _wait_for(lambda: sum("Content-Length" in r.getMessage()
                                 for r in caplog.records) == 4)
    assert all("\n" not in r.getMessage() and r.exc_info is None for r in caplog.records)


def test_a_client_hanging_up_is_one_log_line_not_a_traceback(
        receiver, capfd, caplog) -> None:  # type: ignore[no-untyped-def]
    caplog.set_level(logging.INFO, logger="sagesync.listen")
    _, config, server = receiver
    port = server.server_address[1]
    body = event(5)
    for partial in (b"POST /commerce HTTP/1.1\r\nHost: x\r\nContent-Le",  # mid-headers
                    b"POST /commerce HTTP/1.1\r\nHost: x\r\nContent-Length: "
                    + str(len(body)).encode() + b"\r\n\r\n" + body[:10]):  # mid-body
        sock = socket.create_connection(("127.0.0.1", port), timeout=3)
        linger = struct.pack("HH" if sys.platform == "win32" else "ii", 1, 0)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
        sock.sendall(partial)
        time.sleep(0.1)
        sock.close()  # SO_LINGER 0: a reset, as a client that crashes or times out sends
    assert _wait_for(lambda: sum("hung up" in r.getMessage() or "closed" in r.getMessage()
                                 for r in caplog.records) >= 2)
    assert "Traceback" not in capfd.readouterr().err
    assert all(r.exc_info is None for r in caplog.records)
    with Ledger(config.ledger_path) as ledger:
        assert ledger.pending_triggers() == {}
    assert post(f"http://127.0.0.1:{port}", body, sign(body)).status_code == 200


def test_slow_partial_requests_are_cut_off_in_time_and_capped_in_number(
        tmp_path: Path, capfd, caplog) -> None:  # type: ignore[no-untyped-def]
    caplog.set_level(logging.INFO, logger="sagesync.listen")
    config = ListenConfig(tmp_path / "ledger.sqlite", PUBLIC_PEM, None, None,
                          limits=_limits(read_timeout=0.5, max_connections=4))
    server = serve("127.0.0.1", 0, config)
    port = server.server_address[1]
    try:
        started = time.monotonic()
        slow = [socket.create_connection(("127.0.0.1", port), timeout=3) for _ in range(12)]
        for sock in slow:
            sock.sendall(b"POST /commerce HTTP/1.1\r\nHost: x\r\n")  # and never the rest
        answers = [_read_answer(sock, 3.0) for sock in slow]
        elapsed = time.monotonic() - started
        for sock in slow:
            sock.close()
        assert all(closed for _, closed in answers), answers
        assert elapsed < 2.5
        statuses = [_status(answer) for answer, _ in answers]
        assert statuses.count(408) <= 4
        assert _wait_for(lambda: server.counts["busy"] + server.counts["timeout"] == 12)
        assert server.counts["busy"] >= 8
        assert _wait_for(lambda: server.active == 0)
        body = event(11)
        assert post(f"http://127.0.0.1:{port}", body, sign(body)).status_code == 200
    finally:
        server.shutdown()
        server.server_close()
    assert "Traceback" not in capfd.readouterr().err


def test_a_trickling_client_is_cut_at_the_deadline_not_kept_alive_by_each_byte(
        tmp_path: Path) -> None:
    config = ListenConfig(tmp_path / "ledger.sqlite", PUBLIC_PEM, None, None,
                          limits=_limits(read_timeout=0.5))
    server = serve("127.0.0.1", 0, config)
    try:
        with socket.create_connection(("127.0.0.1", server.server_address[1]),
                                      timeout=3) as sock:
            started = time.monotonic()
            answer = b""
            cut = False
            for byte in b"POST /commerce HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"a" * 200:
                if time.monotonic() - started > 3.0:
                    break
                try:
                    sock.sendall(bytes([byte]))
                except OSError:
                    cut = True
                    break
                answer, cut = _read_answer(sock, 0.05)
                if cut or answer:
                    break
            elapsed = time.monotonic() - started
        assert cut or _status(answer) == 408
        assert elapsed < 1.5
    finally:
        server.shutdown()
        server.server_close()


def test_oversized_headers_and_bodies_are_refused_before_they_are_read(
        receiver) -> None:  # type: ignore[no-untyped-def]
    _, _, server = receiver
    port = server.server_address[1]
    huge_headers = b"".join(b"X-Pad-%d: %s\r\n" % (n, b"a" * 1000) for n in range(60))
    answer, closed = _exchange(port, b"POST /commerce HTTP/1.1\r\nHost: x\r\n" + huge_headers
                               + b"Content-Length: 2\r\n\r\n{}")
    assert _status(answer) == 431 and closed
    answer, closed = _exchange(port, b"POST /commerce HTTP/1.1\r\nHost: x\r\n"
                               b"Content-Length: 99999999\r\n\r\n{}")
    assert _status(answer) == 413 and closed


# --------------------------------------------------------------------------- shared-secret HMAC


HMAC_SECRET = b"webhook-secret-from-dotenv"


def hmac_post(url: str, body: bytes, *, stamp: int | None = None,
              secret: bytes = HMAC_SECRET) -> requests.Response:
    stamp = int(time.time()) if stamp is None else stamp
    signed = f"{stamp}.".encode() + body
    signature = hmac.new(secret, signed, hashlib.sha256).hexdigest()
    return requests.post(url + "/hook", data=body, timeout=10,
                         headers={"Content-Type": "application/json",
                                  "X-Signature": "sha256=" + signature,
                                  "X-Timestamp": str(stamp)})


@pytest.fixture
def hmac_receiver(tmp_path: Path):  # type: ignore[no-untyped-def]
    from sagesync.magento.webhooks import HmacScheme

    scheme = HmacScheme(secret=HMAC_SECRET, header="X-Signature", encoding="hex",
                        prefix="sha256=", timestamp_header="X-Timestamp",
                        tolerance=timedelta(minutes=5))
    config = ListenConfig(tmp_path / "ledger.sqlite", None, None, None, hmac=scheme)
    server = serve("127.0.0.1", 0, config)
    yield f"http://127.0.0.1:{server.server_address[1]}", config, server
    server.shutdown()
    server.server_close()


def test_hmac_hook_good_bad_stale_and_replayed(hmac_receiver, caplog) -> None:  # type: ignore[no-untyped-def]
    caplog.set_level(logging.INFO, logger="sagesync.listen")
    url, config, server = hmac_receiver
    body = json.dumps({"order": {"entity_id": 42, "increment_id": "000000042"}}).encode()
    stamp = int(time.time())
    good = hmac_post(url, body, stamp=stamp)
    assert good.status_code == 200, good.text
    assert hmac_post(url, body, stamp=stamp).status_code == 200  # replayed: adds nothing
    assert server.recorded == 1
    assert hmac_post(url, body, secret=b"guessed").status_code == 401
    tampered = requests.post(url + "/hook", data=body.replace(b"42", b"43"), timeout=10,
                             headers=dict(good.request.headers))
    assert tampered.status_code == 401
    stale = hmac_post(url, json.dumps({"entity_id": 77}).encode(), stamp=stamp - 3600)
    assert stale.status_code == 401 and "older" in stale.json()["message"]
    bare = hmac_post(url, json.dumps({"entity_id": "8", "increment_id": "000000008"}).encode())
    assert bare.status_code == 200
    nothing = hmac_post(url, json.dumps({"hello": "world"}).encode())
    assert nothing.status_code == 422
    with Ledger(config.ledger_path) as ledger:
        assert ledger.pending_triggers() == {"orders": {42, 8}}
    assert HMAC_SECRET.decode() not in caplog.text
    # a Commerce route without its key configured refuses, it does not crash
    assert post(url, body, sign(body)).status_code == 401


def test_hook_route_is_absent_without_a_secret(receiver) -> None:  # type: ignore[no-untyped-def]
    url, _, _ = receiver
    assert hmac_post(url, event(3)).status_code == 404


def test_recipe_listen_keys_build_the_receiver_with_the_secret_from_dotenv(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from sagesync.errors import RecipeError
    from sagesync.ops.listen import config_from_settings

    monkeypatch.delenv("WEBHOOK_SECRET", raising=False)
    (tmp_path / ".env").write_text("WEBHOOK_SECRET=from-dotenv-0123456789\n", encoding="utf-8")
    base = """
name = "hooks"
state_dir = "."
[magento]
source = "."
[sage]
product = "sage50_uk"
[listen]
hmac_secret = "${WEBHOOK_SECRET}"
hmac_header = "X-Shop-Hmac"
hmac_encoding = "base64"
hook_id_pointer = "/payload/order_id"
read_timeout_seconds = 3
max_connections = 5
"""
    (tmp_path / "r.toml").write_text(base, encoding="utf-8")
    recipe = load_recipe(tmp_path / "r.toml")
    assert "from-dotenv" not in repr(recipe)
    config = config_from_settings(recipe.listen, tmp_path / "ledger.sqlite")
    assert config.hmac is not None and config.hmac.secret == b"from-dotenv-0123456789"
    assert config.limits.read_timeout == 3 and config.limits.max_connections == 5
    server = serve("127.0.0.1", 0, config)
    try:
        body = json.dumps({"payload": {"order_id": 31}}).encode()
        digest = hmac.new(b"from-dotenv-0123456789", body, hashlib.sha256).digest()
        answer = requests.post(f"http://127.0.0.1:{server.server_address[1]}/hook", data=body,
                               headers={"X-Shop-Hmac": base64.b64encode(digest).decode()},
                               timeout=10)
        assert answer.status_code == 200
    finally:
        server.shutdown()
        server.server_close()
    with Ledger(config.ledger_path) as ledger:
        assert ledger.pending_triggers() == {"orders": {31}}
    for bad, key in (('hmac_encoding = "base32"', "hmac_encoding"),
                     ('hmac_signed_payload = "{body}"', "hmac_signed_payload"),
                     ('hook_id_pointer = "order.id"', "hook_id_pointer")):
        (tmp_path / "r.toml").write_text(base.replace(f"{key} =", f"# {key} =") + bad + "\n"
                                         if key in base else base + bad + "\n",
                                         encoding="utf-8")
        with pytest.raises(RecipeError, match=key):
            load_recipe(tmp_path / "r.toml")


def test_a_hostile_request_line_cannot_write_escapes_into_the_log(
        receiver, caplog) -> None:  # type: ignore[no-untyped-def]
    caplog.set_level(logging.INFO, logger="sagesync.listen")
    _, _, server = receiver
    answer, _ = _exchange(server.server_address[1],
                          b"POST /\x1b[2Jx\xff HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}")
    assert _status(answer) == 404
    assert _wait_for(lambda: any("404" in r.getMessage() for r in caplog.records))
    assert all("\x1b" not in r.getMessage() and "\xff" not in r.getMessage()
               for r in caplog.records)
