"""`sagesync listen`: a small HTTP receiver for Adobe Commerce webhooks and I/O Events.

It only verifies signatures and records which entities changed; the next run (or an immediate
run with --run) re-reads them over REST, so the receiver never trusts a payload's data and
polling stays the backstop. Anything unsigned, tampered, for another client or stale is
refused with 401; a replayed body is accepted but adds nothing.

POST /commerce   Adobe Commerce webhook (x-adobe-commerce-webhook-signature, RSA over
                 base64(body)); answers {"op": "success"} as Commerce expects.
POST /io         Adobe I/O Events delivery (x-adobe-digital-signature-1/2); GET /io?challenge=
                 answers the challenge (third-party documented handshake).
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from sagesync.magento.webhooks import (
    COMMERCE_SIGNATURE_HEADER,
    WebhookRejected,
    extract_entity_ids,
    verify_commerce_webhook,
    verify_io_event,
)
from sagesync.pipeline.ledger import Ledger

MAX_BODY = 1 << 20
ENTITY_TABLES = {"order": "orders", "invoice": "invoices", "creditmemo": "creditmemos",
                 "customer": "customers"}


@dataclass
class ListenConfig:
    ledger_path: Path
    commerce_public_key: bytes | None
    io_client_id: str | None
    io_public_keys: Callable[[str], bytes] | None
    on_recorded: Callable[[int], None] | None = None


def folder_keys(folder: Path) -> Callable[[str], bytes]:
    """I/O Events public keys from a folder, by the file name in the key path header."""
    def lookup(key_path: str) -> bytes:
        return (folder / Path(key_path).name).read_bytes()
    return lookup


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # quiet: stderr is for people
        return

    def _answer(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        challenge = parse_qs(parts.query).get("challenge")
        if parts.path == "/io" and challenge:
            self._answer(200, {"challenge": challenge[0]})
        else:
            self._answer(404, {"message": "not found"})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length <= 0 or length > MAX_BODY:
            self._answer(413 if length > MAX_BODY else 400, {"message": "bad body size"})
            return
        body = self.rfile.read(length)
        config = self.server.config
        path = urlsplit(self.path).path
        try:
            if path == "/commerce":
                if config.commerce_public_key is None:
                    raise WebhookRejected("no [listen] commerce_public_key configured")
                verify_commerce_webhook(body, self.headers.get(COMMERCE_SIGNATURE_HEADER),
                                        config.commerce_public_key)
                payload = json.loads(body)
                source = "commerce"
            elif path == "/io":
                if not config.io_client_id or config.io_public_keys is None:
                    raise WebhookRejected("no [listen] io_client_id / io_public_keys configured")
                payload = verify_io_event(body, dict(self.headers.items()),
                                          config.io_public_keys, config.io_client_id)
                source = "io"
            else:
                self._answer(404, {"message": "not found"})
                return
        except (WebhookRejected, ValueError) as rejected:
            self.server.rejected += 1
            self._answer(401, {"message": f"rejected: {rejected}"})
            return
        ids = [(ENTITY_TABLES[t], i) for t, i in extract_entity_ids(payload)
               if t in ENTITY_TABLES]
        with Ledger(config.ledger_path) as ledger:
            added = ledger.add_triggers(ids, source, hashlib.sha256(body).hexdigest())
        self.server.recorded += added
        if added and config.on_recorded:
            config.on_recorded(added)
        self._answer(200, {"op": "success"})


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], config: ListenConfig) -> None:
        super().__init__(address, _Handler)
        self.config = config
        self.recorded = 0
        self.rejected = 0


def serve(host: str, port: int, config: ListenConfig) -> _Server:
    """Start the receiver in a background thread; call `.shutdown()` to stop it."""
    server = _Server((host, port), config)
    threading.Thread(target=server.serve_forever, name="sagesync-listen", daemon=True).start()
    return server
