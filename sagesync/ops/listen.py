"""`sagesync listen`: a small HTTP receiver for store webhooks and Adobe I/O Events.

It only verifies signatures and records which entities changed; the next run (or an immediate
run with --run) re-reads them over REST, so the receiver never trusts a payload's data and
polling stays the backstop. Anything unsigned, tampered, for another client or stale is
refused with 401; a replayed body is accepted but adds nothing.

POST /commerce   Adobe Commerce webhook (x-adobe-commerce-webhook-signature, RSA over
                 base64(body)); answers {"op": "success"} as Commerce expects.
POST /io         Adobe I/O Events delivery (x-adobe-digital-signature-1/2); GET /io?challenge=
                 answers the challenge (third-party documented handshake).
POST /hook       a store's own webhook signed with a shared secret (HMAC-SHA256, see
                 sagesync.magento.webhooks.HmacScheme); the JSON names an order or invoice.

Server: the standard library's ThreadingHTTPServer, hardened here rather than a new dependency
(waitress only bounds *idle* time, so a client sending a byte every few seconds is never cut).
Each connection gets one deadline for its whole request (request line, headers and body), a
byte budget for its headers and its declared body, and one of `max_connections` slots; a
connection over the cap is answered 503 at once, without a thread. Every refusal is one log
line on the ``sagesync.listen`` logger (or the `log` callable), never a traceback.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import re
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from sagesync.ledger import Ledger
from sagesync.magento.webhooks import (
    COMMERCE_SIGNATURE_HEADER,
    HmacScheme,
    WebhookRejected,
    extract_entity_ids,
    extract_hook_ids,
    verify_commerce_webhook,
    verify_hmac,
    verify_io_event,
)

MAX_BODY = 1 << 20
ENTITY_TABLES = {"order": "orders", "invoice": "invoices", "creditmemo": "creditmemos",
                 "customer": "customers"}
LOGGER = logging.getLogger("sagesync.listen")
_LENGTH = re.compile(r"[0-9]{1,12}")
_UNPRINTABLE = re.compile(r"[^\x20-\x7e]")


@dataclass(frozen=True)
class Limits:
    """What one client may cost the receiver (fault issue 10: 150 slow requests held 150
    threads). Webhook senders post small JSON at once, so tight bounds lose nothing."""

    read_timeout: float = 10.0  # seconds for a whole request: line, headers and body
    max_connections: int = 32  # requests handled at once; more are answered 503
    max_header_bytes: int = 16 * 1024
    max_body_bytes: int = MAX_BODY

    def __post_init__(self) -> None:
        if self.read_timeout <= 0 or self.max_connections < 1:
            raise ValueError("read_timeout must be > 0 and max_connections >= 1")


@dataclass
class ListenConfig:
    ledger_path: Path
    commerce_public_key: bytes | None
    io_client_id: str | None
    io_public_keys: Callable[[str], bytes] | None
    on_recorded: Callable[[int], None] | None = None
    hmac: HmacScheme | None = None
    hook_entity: str = "order"  # the type of a bare {"entity_id": ..} on /hook
    hook_id_pointer: str | None = None  # RFC 6901 pointer to the id in /hook payloads
    limits: Limits = field(default_factory=Limits)
    log: Callable[[str], None] | None = None  # one line per refused request; default: logger


def folder_keys(folder: Path) -> Callable[[str], bytes]:
    """I/O Events public keys from a folder, by the file name in the key path header."""
    def lookup(key_path: str) -> bytes:
        return (folder / Path(key_path).name).read_bytes()
    return lookup


class _Refused(Exception):
    """The client broke a limit while we read; answer `status` (if it still listens)."""

    def __init__(self, status: int, kind: str, reason: str) -> None:
        super().__init__(reason)
        self.status, self.kind, self.reason = status, kind, reason


class _HungUp(Exception):
    """The client went away mid-request."""


class _BoundedSocketReader(io.RawIOBase):
    """Socket reads under one deadline and a byte budget, so a slow or endless client is cut
    off by time and size, not only by idleness (each recv waits at most the time left)."""

    def __init__(self, sock: socket.socket, deadline: float, budget: int, timeout: float
                 ) -> None:
        self.sock, self.deadline, self.budget, self.timeout = sock, deadline, budget, timeout

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise _Refused(408, "timeout", f"request not complete within {self.timeout:g} s")
        if self.budget <= 0:
            raise _Refused(431, "too_large", "request headers too large")
        self.sock.settimeout(remaining)
        view = memoryview(buffer)
        try:
            count = self.sock.recv_into(view[: min(len(view), self.budget)])
        except TimeoutError:
            raise _Refused(408, "timeout",
                           f"request not complete within {self.timeout:g} s") from None
        except OSError as error:  # reset or aborted by the peer
            raise _HungUp(type(error).__name__) from None
        self.budget -= count
        return count


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    _reader: _BoundedSocketReader

    def log_message(self, format: str, *args: Any) -> None:  # refusals are logged by _note
        return

    def setup(self) -> None:
        super().setup()
        limits = self.server.config.limits
        self.rfile.close()  # replaced by a reader bounded in time and size
        self._reader = _BoundedSocketReader(self.connection,
                                            time.monotonic() + limits.read_timeout,
                                            limits.max_header_bytes, limits.read_timeout)
        self.rfile = io.BufferedReader(self._reader)

    def handle(self) -> None:
        try:
            super().handle()
        except _Refused as refused:
            self._refuse(refused.status, refused.kind, refused.reason)
        except (_HungUp, ConnectionError) as gone:
            self._note("hung_up", f"client hung up mid-request ({gone})")
        except TimeoutError:
            self._note("timeout", "client stopped reading the answer")

    def finish(self) -> None:
        """Flush, then a short lingering close: drain what the client still sends (bounded in
        time and bytes) so closing does not reset the connection before it reads our answer."""
        try:
            super().finish()
            self.connection.shutdown(socket.SHUT_WR)
            deadline = time.monotonic() + 0.25
            drained = 0
            while drained < 1 << 16 and (left := deadline - time.monotonic()) > 0:
                self.connection.settimeout(left)
                chunk = self.connection.recv(1 << 14)
                if not chunk:
                    break
                drained += len(chunk)
        except OSError:  # hung up, reset or slow: the connection is closed next anyway
            pass

    def _where(self) -> str:
        method = str(getattr(self, "command", None) or "-")[:16]
        path = urlsplit(getattr(self, "path", "") or "-").path[:80]
        return f"{self.client_address[0]} {method} {path}"

    def _note(self, kind: str, message: str) -> None:
        self.server.note(kind, f"{self._where()}: {message}")

    def _refuse(self, status: int, kind: str, reason: str) -> None:
        """One log line and a short answer; the connection closes."""
        self._note(kind, f"{status} {reason}")
        self.close_connection = True
        with contextlib.suppress(OSError):
            self._send(status, {"message": reason})

    def _send(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode("utf-8")
        self.connection.settimeout(self.server.config.limits.read_timeout)
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)

    def _answer(self, status: int, body: dict[str, Any], kind: str = "refused") -> None:
        if status >= 400:
            self._note(kind, f"{status} {body.get('message', '')}")
        self._send(status, body)

    def send_error(self, code: int, message: str | None = None,
                   explain: str | None = None) -> None:
        """The base class's errors (bad request line, too many headers) as one line + JSON."""
        self.close_connection = True
        self._answer(code, {"message": message or HTTPStatus(code).phrase}, "bad_request")

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        challenge = parse_qs(parts.query).get("challenge")
        if parts.path == "/io" and challenge:
            self._answer(200, {"challenge": challenge[0]})
        else:
            self._answer(404, {"message": "not found"}, "not_found")

    def _body(self) -> bytes | None:
        """The declared body, or None after answering why not."""
        limits = self.server.config.limits
        if self.headers.get("Transfer-Encoding"):
            self._answer(411, {"message": "send a Content-Length, not Transfer-Encoding"},
                         "bad_request")
            return None
        declared = (self.headers.get("Content-Length") or "").strip()
        if not _LENGTH.fullmatch(declared):
            self._answer(400 if declared else 411,
                         {"message": "Content-Length must be a whole number of bytes"},
                         "bad_request")
            return None
        length = int(declared)
        if length <= 0 or length > limits.max_body_bytes:
            self._answer(413 if length else 400,
                         {"message": f"body must be 1 to {limits.max_body_bytes} bytes"},
                         "too_large")
            return None
        self._reader.budget += length
        body = self.rfile.read(length)
        if len(body) < length:
            raise _HungUp(f"sent {len(body)} of {length} bytes")
        return body

    def do_POST(self) -> None:
        self.close_connection = True
        body = self._body()
        if body is None:
            return
        config = self.server.config
        path = urlsplit(self.path).path
        replay_key = body
        try:
            if path == "/commerce":
                if config.commerce_public_key is None:
                    raise WebhookRejected("no [listen] commerce_public_key configured")
                verify_commerce_webhook(body, self.headers.get(COMMERCE_SIGNATURE_HEADER),
                                        config.commerce_public_key)
                ids = extract_entity_ids(json.loads(body))
                source = "commerce"
            elif path == "/io":
                if not config.io_client_id or config.io_public_keys is None:
                    raise WebhookRejected("no [listen] io_client_id / io_public_keys configured")
                ids = extract_entity_ids(verify_io_event(
                    body, dict(self.headers.items()), config.io_public_keys,
                    config.io_client_id))
                source = "io"
            elif path == "/hook" and config.hmac is not None:
                replay_key = verify_hmac(body, dict(self.headers.items()), config.hmac)
                try:
                    payload = json.loads(body)
                except ValueError:
                    raise WebhookRejected("payload is not JSON", status=400) from None
                ids = extract_hook_ids(payload, entity=config.hook_entity,
                                       id_pointer=config.hook_id_pointer)
                if not ids:
                    raise WebhookRejected("no order, invoice or credit memo id in the payload "
                                          "(set [listen] hook_id_pointer)", status=422)
                source = "hook"
            else:
                self._answer(404, {"message": "not found"}, "not_found")
                return
        except WebhookRejected as rejected:
            self.server.rejected += 1
            self._answer(rejected.status, {"message": f"rejected: {rejected.reason}"})
            return
        except ValueError:  # a signed body that is not JSON
            self.server.rejected += 1
            self._answer(400, {"message": "rejected: payload is not JSON"})
            return
        wanted = [(ENTITY_TABLES[t], i) for t, i in ids if t in ENTITY_TABLES]
        try:
            with Ledger(config.ledger_path) as ledger:
                added = ledger.add_triggers(wanted, source,
                                            hashlib.sha256(replay_key).hexdigest())
        except Exception as error:  # the sender retries a 503; the log says what failed
            LOGGER.debug("recording a trigger failed", exc_info=True)
            self._answer(503, {"message": f"could not record ({type(error).__name__}); "
                               "retry later"}, "error")
            return
        with self.server.lock:
            self.server.recorded += added
        if added and config.on_recorded:
            config.on_recorded(added)
        self._answer(200, {"op": "success"})


_BUSY = (b"HTTP/1.0 503 Service Unavailable\r\nContent-Type: application/json\r\n"
         b"Retry-After: 5\r\nConnection: close\r\nContent-Length: 35\r\n\r\n"
         b'{"message": "busy, retry shortly"}\n')


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64

    def __init__(self, address: tuple[str, int], config: ListenConfig) -> None:
        super().__init__(address, _Handler)
        self.config = config
        self.recorded = 0
        self.rejected = 0
        self.counts: Counter[str] = Counter()  # refusals by kind: busy, timeout, hung_up, ...
        self.active = 0
        self.lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(config.limits.max_connections)

    def note(self, kind: str, line: str) -> None:
        """One line per refused request, never a traceback, never a secret; printable ASCII
        only, so a hostile request line cannot write terminal escapes into the log."""
        line = _UNPRINTABLE.sub("?", line)
        with self.lock:
            self.counts[kind] += 1
        if self.config.log is not None:
            self.config.log(line)
        else:
            LOGGER.info(line)

    def process_request(self, request: Any, client_address: Any) -> None:
        """Over the cap: a 503 from the accepting thread (never blocks), no handler thread."""
        if not self._slots.acquire(blocking=False):
            self.note("busy", f"{client_address[0]}: 503 busy, "
                      f"{self.config.limits.max_connections} requests already in progress")
            try:
                request.setblocking(False)
                request.send(_BUSY)
                request.recv(65536)  # drain what arrived, so closing does not reset the 503
            except OSError:
                pass
            self.shutdown_request(request)
            return
        with self.lock:
            self.active += 1
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._release()

    def _release(self) -> None:
        with self.lock:
            self.active -= 1
        self._slots.release()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Anything the handler did not expect: one line; the traceback only at debug level."""
        self.note("error", f"{client_address[0]}: request failed unexpectedly")
        LOGGER.debug("listen handler failed", exc_info=True)


def serve(host: str, port: int, config: ListenConfig) -> _Server:
    """Start the receiver in a background thread; call `.shutdown()` to stop it."""
    server = _Server((host, port), config)
    threading.Thread(target=server.serve_forever, name="sagesync-listen", daemon=True).start()
    return server


def config_from_settings(settings: Any, ledger_path: Path, *,
                         on_recorded: Callable[[int], None] | None = None,
                         log: Callable[[str], None] | None = None) -> ListenConfig:
    """A ListenConfig from a recipe's [listen] section (recipe.ListenSettings).

    Raises ValueError when nothing would be accepted (no key, client id or secret).
    """
    from datetime import timedelta

    if settings.commerce_public_key is None and not settings.io_client_id \
            and not settings.hmac_secret:
        raise ValueError("listen needs [listen] commerce_public_key (a PEM file), io_client_id "
                         "with io_public_keys, or hmac_secret: without one every event would "
                         "be refused.")
    scheme = None
    if settings.hmac_secret:
        scheme = HmacScheme(secret=settings.hmac_secret.encode("utf-8"),
                            header=settings.hmac_header, encoding=settings.hmac_encoding,
                            prefix=settings.hmac_prefix,
                            timestamp_header=settings.hmac_timestamp_header,
                            tolerance=timedelta(seconds=settings.hmac_tolerance_seconds),
                            signed_payload=settings.hmac_signed_payload)
    return ListenConfig(
        ledger_path=ledger_path,
        commerce_public_key=(settings.commerce_public_key.read_bytes()
                             if settings.commerce_public_key else None),
        io_client_id=settings.io_client_id,
        io_public_keys=folder_keys(settings.io_public_keys) if settings.io_public_keys
        else None,
        on_recorded=on_recorded, hmac=scheme, hook_entity=settings.hook_entity,
        hook_id_pointer=settings.hook_id_pointer,
        limits=Limits(read_timeout=float(settings.read_timeout_seconds),
                      max_connections=settings.max_connections),
        log=log)
