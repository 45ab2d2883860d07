"""How sagesync proves who it is to Magento 2 / Adobe Commerce (magento-rest.md §4).

Every mode is a :class:`requests.auth.AuthBase`, so ``session.auth = make_auth(...)`` is all a
client needs:

=========  ==============================  ==================================================
kind       class                           what it sends
=========  ==============================  ==================================================
bearer     :class:`BearerToken`            ``Authorization: Bearer <token>`` (an integration
                                           access token needs 2.4.4+'s "use as bearer" flag)
oauth1     :class:`IntegrationOAuth`       OAuth 1.0a, HMAC-SHA256 only (2.4.4+ refuses SHA1)
admin      :class:`AdminToken`             a cached admin token, renewed before its 4 h end
ims        :class:`ImsServerToServer`      Adobe Commerce as a Cloud Service: IMS OAuth 2
                                           bearer + ``x-api-key``/``x-gw-ims-org-id``/``Store``
=========  ==============================  ==================================================

Secrets never reach ``repr()``/``str()``, exception messages or log records: objects print
masked, error texts go through :func:`redact`, and the OAuth libraries' debug records (which
carry the access token) are scrubbed by a logging filter.

The token modes (admin, ims) renew ahead of expiry and, when a token that already worked is
suddenly refused with 401 (revoked, purged by Magento's cron, clock drift), renew once and
replay the request transparently; a client may also call ``invalidate()`` itself.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import timedelta
from typing import Any, Literal
from urllib.parse import parse_qsl, quote, quote_plus, urlsplit

import requests
from oauthlib.oauth1 import SIGNATURE_HMAC_SHA256, SIGNATURE_TYPE_AUTH_HEADER
from requests.auth import AuthBase
from requests_oauthlib import OAuth1

from sagesync.errors import AuthError, RecipeError, SageSyncError, TransientError
from sagesync.magento.answers import explain_401, magento_message, tls_failure

__all__ = [
    "ACCS_SCOPES",
    "ADMIN_TOKEN_PATH",
    "IMS_TOKEN_URL",
    "AdminToken",
    "AuthKind",
    "BearerToken",
    "ImsServerToServer",
    "IntegrationOAuth",
    "accs_base_url",
    "explain_401",
    "make_auth",
    "redact",
]

log = logging.getLogger(__name__)

AuthKind = Literal["bearer", "oauth1", "admin", "ims"]

ADMIN_TOKEN_PATH = "/V1/integration/admin/token"
IMS_TOKEN_URL = "https://ims-na1.adobelogin.com/ims/token/v3"
#: Scopes of an ACCS server-to-server credential (magento-rest.md §4, server-to-server.md).
ACCS_SCOPES: tuple[str, ...] = (
    "openid",
    "AdobeID",
    "email",
    "profile",
    "additional_info.roles",
    "additional_info.projectedProductContext",
    "commerce.accs",
)
ACCS_HOST_SUFFIX = ".api.commerce.adobe.com"

MSG_2FA = "Please use the 2fa provider-specific endpoints to obtain a token."
_MASK = "***"


# --------------------------------------------------------------------------- secrets


def redact(text: str, secrets: Iterable[str | None]) -> str:
    """``text`` with every secret (and its URL-encoded forms) replaced by ``***``.

    Use on any text built from a response, exception or URL before it is raised or logged.
    Longer secrets are replaced first so one secret containing another is fully masked.
    """
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        for form in dict.fromkeys((secret, quote(secret, safe=""), quote_plus(secret))):
            text = text.replace(form, _MASK)
    return text


class _SecretScrubber(logging.Filter):
    """Masks registered secrets in records of the OAuth libraries' loggers.

    requests-oauthlib logs the signed headers and oauthlib's client repr at DEBUG; both carry
    the integration's access token (a usable bearer token on stores with the bearer flag on).
    """

    def __init__(self) -> None:
        super().__init__()
        self._secrets: set[str] = set()
        self._lock = threading.Lock()

    def add(self, *secrets: str | None) -> None:
        with self._lock:
            self._secrets.update(s for s in secrets if s)

    def filter(self, record: logging.LogRecord) -> bool:
        with self._lock:
            secrets = tuple(self._secrets)
        if not secrets:
            return True
        try:
            message = record.getMessage()
        except Exception:  # a malformed record is the logging module's problem, not ours
            return True
        cleaned = redact(message, secrets)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


_SCRUBBER = _SecretScrubber()
# Logger filters are not inherited by child loggers, so attach to the ones that emit.
_SCRUBBED_LOGGERS = (
    "requests_oauthlib.oauth1_auth",
    "oauthlib.oauth1.rfc5849",
    "oauthlib.oauth1.rfc5849.signature",
    "oauthlib",
)


def _protect(*secrets: str | None) -> None:
    _SCRUBBER.add(*secrets)
    for name in _SCRUBBED_LOGGERS:
        logger = logging.getLogger(name)
        if _SCRUBBER not in logger.filters:
            logger.addFilter(_SCRUBBER)


class _NoAuth(AuthBase):
    """Explicit "no auth" so token requests skip the session's own auth (which may be us)."""

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        return request


_NO_AUTH = _NoAuth()


# --------------------------------------------------------------------------- bearer


class BearerToken(AuthBase):
    """``Authorization: Bearer <token>`` with a fixed token (integration or other).

    On 2.4.4+ an integration's access token is only accepted as a bearer token when
    ``oauth/consumer/enable_integration_as_bearer`` is on; otherwise use ``IntegrationOAuth``.
    """

    def __init__(self, token: str) -> None:
        if not token:
            raise ValueError("BearerToken needs a non-empty token")
        self._token = token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self._token}"
        return request

    def __repr__(self) -> str:
        return f"BearerToken(token={_MASK})"


# --------------------------------------------------------------------------- OAuth 1.0a


class IntegrationOAuth(AuthBase):
    """OAuth 1.0a request signing with an integration's four credentials, HMAC-SHA256 only.

    Query parameters are part of the signature base string (requests-oauthlib/oauthlib do
    this per RFC 5849 §3.4.1.3, as Magento's ``Oauth\\Helper\\Request`` does); a JSON body is
    not signed, a form-encoded one is.

    Magento sorts the base-string parameters with PHP's natural order (laminas-oauth
    ``uksort(..., 'strnatcmp')``) where RFC 5849 says byte order; the two differ only when
    names differ at a multi-digit number (``filterGroups[10]`` vs ``[2]``) or a name repeats.
    Such requests are still sent, with a warning, because Magento may then answer
    "The signature is invalid".
    """

    def __init__(self, consumer_key: str, consumer_secret: str, access_token: str,
                 access_token_secret: str) -> None:
        missing = [name for name, value in (("consumer_key", consumer_key),
                                            ("consumer_secret", consumer_secret),
                                            ("access_token", access_token),
                                            ("access_token_secret", access_token_secret))
                   if not value]
        if missing:
            raise ValueError(f"IntegrationOAuth needs {', '.join(missing)}")
        self._consumer_key = consumer_key
        self._secrets = (consumer_secret, access_token, access_token_secret)
        _protect(*self._secrets)
        self._signer = OAuth1(
            client_key=consumer_key,
            client_secret=consumer_secret,
            resource_owner_key=access_token,
            resource_owner_secret=access_token_secret,
            signature_method=SIGNATURE_HMAC_SHA256,
            signature_type=SIGNATURE_TYPE_AUTH_HEADER,
        )

    @property
    def signature_method(self) -> str:
        """Always ``HMAC-SHA256``: Magento 2.4.4+ answers 400 to anything else."""
        return SIGNATURE_HMAC_SHA256

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        signed = self._signer(request)
        _warn_if_magento_order_differs(signed.url or "")
        return signed

    def __repr__(self) -> str:
        return (f"IntegrationOAuth(consumer_key={self._consumer_key!r}, consumer_secret={_MASK}, "
                f"access_token={_MASK}, access_token_secret={_MASK}, "
                f"signature_method={SIGNATURE_HMAC_SHA256!r})")


_DIGITS = re.compile(r"(\d+)")


def _php_natural_key(name: str) -> list[tuple[int, int]]:
    """Approximation of PHP strnatcmp: digit runs compare as numbers, other bytes as bytes."""
    key: list[tuple[int, int]] = []
    for i, piece in enumerate(_DIGITS.split(name)):
        if i % 2:
            key.append((ord("0"), int(piece)))
        else:
            key.extend((ord(ch), 0) for ch in piece)
    return key


def _warn_if_magento_order_differs(url: str) -> None:
    names = [quote(k, safe="~") for k, _ in parse_qsl(urlsplit(url).query,
                                                      keep_blank_values=True)]
    if not names:
        return
    if len(set(names)) != len(names):
        log.warning("OAuth-signed request repeats a query parameter name; Magento keeps only "
                    "the last one when it checks the signature, so it may refuse the request")
    elif sorted(names) != sorted(names, key=_php_natural_key):
        log.warning("OAuth-signed request has query parameter names that PHP's natural sort "
                    "orders differently from byte order (e.g. index 10 vs 2); Magento may "
                    "answer 'The signature is invalid'. Use fewer than 10 filter groups or "
                    "sort orders, or bearer/admin auth.")


# --------------------------------------------------------------------------- token modes


class _RenewingBearer(AuthBase):
    """Base of the modes that fetch a bearer token, cache it and renew it ahead of expiry.

    Thread-safe: pagers share one auth object across worker threads; only one fetches.
    """

    _kind: str = ""

    def __init__(self, session: requests.Session | None, clock: Callable[[], float],
                 renew_before: timedelta, timeout: float) -> None:
        self._session = session if session is not None else requests.Session()
        self._clock = clock
        self._renew_before = renew_before.total_seconds()
        self._timeout = timeout
        self._lock = threading.RLock()
        self._token: str | None = None
        self._expires_at = 0.0  # clock() value at which the token is no longer used
        self._proven = False  # the cached token has had at least one non-401 answer
        self.tokens_fetched = 0  # for tests and diagnostics

    # -- subclass interface ----------------------------------------------------------------
    def _fetch(self) -> tuple[str, float]:
        """Obtain a new token: (token, lifetime in seconds)."""
        raise NotImplementedError

    def _secret_values(self) -> tuple[str | None, ...]:
        raise NotImplementedError

    def _extra_headers(self) -> dict[str, str]:
        return {}

    # -- public ------------------------------------------------------------------------------
    def token(self) -> str:
        """The current token, fetched or renewed when missing or close to expiry."""
        with self._lock:
            if self._token is None or self._clock() >= self._expires_at:
                token, lifetime = self._fetch()
                margin = min(self._renew_before, lifetime / 2)
                self._token = token
                self._expires_at = self._clock() + max(0.0, lifetime - margin)
                self._proven = False
                self.tokens_fetched += 1
                _protect(token)
                log.info("obtained a new %s token (renew in %.0f s)", self._kind,
                         max(0.0, lifetime - margin))
            return self._token

    def invalidate(self) -> None:
        """Forget the cached token: the next request fetches a new one (e.g. after a 401)."""
        with self._lock:
            self._token = None
            self._expires_at = 0.0
            self._proven = False

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers.update(self._extra_headers())
        request.headers["Authorization"] = f"Bearer {self.token()}"
        request.register_hook("response", self._on_response)
        return request

    # -- renewal after a 401 -------------------------------------------------------------------
    def _on_response(self, response: requests.Response, **kwargs: Any) -> requests.Response:
        sent = response.request.headers.get("Authorization", "")
        with self._lock:
            current = f"Bearer {self._token}" if self._token else None
            if response.status_code != 401:
                if sent == current:
                    self._proven = True
                return response
            if getattr(response.request, "_sagesync_replayed", False):
                return response
            if sent == current:
                if not self._proven:
                    # A fresh token refused: a permission (ACL) problem, renewing won't help.
                    return response
                log.info("a %s token that worked was refused (401); renewing once", self._kind)
                self.invalidate()
        body = response.request.body
        if body is not None and not isinstance(body, bytes | str):
            return response  # a streamed body cannot be sent twice
        response.content  # noqa: B018 - drain so the connection can be reused
        response.close()
        replay = response.request.copy()
        replay._sagesync_replayed = True  # type: ignore[attr-defined]
        replay.headers.update(self._extra_headers())
        replay.headers["Authorization"] = f"Bearer {self.token()}"
        again = response.connection.send(replay, **kwargs)
        again.history.append(response)
        again.request = replay
        if again.status_code != 401:
            with self._lock:
                if replay.headers["Authorization"] == f"Bearer {self._token}":
                    self._proven = True
        return again

    def _post(self, url: str, **kwargs: Any) -> requests.Response:
        try:
            return self._session.post(url, auth=_NO_AUTH, timeout=self._timeout, **kwargs)
        except requests.exceptions.SSLError as exc:  # setup, not transient: say what to trust
            raise tls_failure(_origin(url), f"the {self._kind} token endpoint", exc) from None
        except requests.RequestException as exc:
            text = redact(str(exc), self._secret_values())
            raise TransientError(f"Could not reach the {self._kind} token endpoint "
                                 f"{_origin(url)}: {text}") from None


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


class AdminToken(_RenewingBearer):
    """An admin user's token from ``POST <base_url>/V1/integration/admin/token``.

    Magento issues admin tokens for 4 hours by default (``oauth/access_token_expiration_period/
    admin``); the token is renewed ``renew_before`` ahead of ``lifetime``. With
    Magento_TwoFactorAuth enabled (2.4's default) the endpoint refuses valid credentials;
    sagesync then stops with :class:`AuthError` (use an integration instead). Failed logins are
    never retried automatically: Magento locks the account after 6 failures.
    """

    _kind = "admin"

    def __init__(self, base_url: str, username: str, password: str,
                 session: requests.Session | None = None, *,
                 lifetime: timedelta = timedelta(hours=4),
                 renew_before: timedelta = timedelta(minutes=10),
                 clock: Callable[[], float] = time.monotonic,
                 timeout: float = 30.0) -> None:
        if not base_url or not username or not password:
            raise ValueError("AdminToken needs base_url, username and password")
        if renew_before >= lifetime:
            raise ValueError("renew_before must be shorter than lifetime")
        super().__init__(session, clock, renew_before, timeout)
        self.base_url = base_url.rstrip("/")
        self.username = username
        self._password = password
        self._lifetime = lifetime.total_seconds()
        _protect(password)

    def _secret_values(self) -> tuple[str | None, ...]:
        return (self._password, self._token)

    def _fetch(self) -> tuple[str, float]:
        url = self.base_url + ADMIN_TOKEN_PATH
        response = self._post(url, json={"username": self.username, "password": self._password},
                              headers={"Accept": "application/json"})
        status = response.status_code
        message = redact(magento_message(response), self._secret_values())
        if status == 200:
            try:
                token = response.json()
            except ValueError:
                token = None
            if not isinstance(token, str) or not token:
                raise SageSyncError(f"Magento's admin token endpoint {url} did not answer with "
                                    "a token string.")
            return token, self._lifetime
        if status == 400 and "2fa" in message.lower():
            raise AuthError(
                f"Magento refused to issue an admin token for {self.username!r}: {message}",
                hint="Two-factor authentication (Magento_TwoFactorAuth, on by default in 2.4) "
                     "blocks POST /V1/integration/admin/token for every admin user. Use an "
                     "integration instead (auth = \"oauth1\", or \"bearer\" with the "
                     "integration's access token), or obtain tokens from the provider-specific "
                     "endpoint such as POST /V1/tfa/provider/google/authenticate "
                     "{username, password, otp}, which needs a one-time code and so cannot run "
                     "unattended.")
        if status == 401:
            raise AuthError(
                f"Magento refused the admin credentials for {self.username!r}: {message}",
                hint="Check [magento] username/password in the recipe's .env. sagesync does not "
                     "retry: Magento locks the admin account after 6 failed token requests "
                     "(oauth/authentication_lock, 30 minutes by default), and a locked account "
                     "answers exactly like a wrong password.")
        if status == 404:
            raise AuthError(f"{url} does not exist (HTTP 404): {message}",
                            hint="Check [magento] base_url (it should end in /rest/<store>). "
                                 "Adobe Commerce as a Cloud Service has no admin tokens: use "
                                 "auth = \"ims\".")
        if status == 429 or status >= 500:
            raise TransientError(f"Magento's admin token endpoint answered {status}: {message}")
        raise AuthError(f"Magento's admin token endpoint answered {status}: {message}")

    def __repr__(self) -> str:
        return (f"AdminToken(base_url={self.base_url!r}, username={self.username!r}, "
                f"password={_MASK}, token={_MASK if self._token else None})")


class ImsServerToServer(_RenewingBearer):
    """Adobe Commerce as a Cloud Service: an IMS server-to-server (client credentials) token.

    ``POST ims_url`` form ``grant_type=client_credentials`` → ``{access_token, expires_in}``
    (≈24 h, no refresh token: a new one is requested ``renew_before`` ahead of expiry, or at
    half-life for short-lived tokens). Each API call carries ``Authorization: Bearer``,
    ``x-api-key: <client_id>``, ``x-gw-ims-org-id: <org_id>`` and ``Store: <store>``.
    ACCS URLs have no ``/rest/<store>`` segment: see :func:`accs_base_url`.
    """

    _kind = "IMS"

    def __init__(self, client_id: str, client_secret: str, org_id: str, store: str = "default",
                 ims_url: str = IMS_TOKEN_URL, scopes: Sequence[str] = ACCS_SCOPES,
                 session: requests.Session | None = None,
                 clock: Callable[[], float] = time.monotonic, *,
                 renew_before: timedelta = timedelta(minutes=5),
                 timeout: float = 30.0) -> None:
        if not client_id or not client_secret or not org_id:
            raise ValueError("ImsServerToServer needs client_id, client_secret and org_id")
        if not store:
            raise ValueError("store must be 'all', 'default' or a store view code")
        super().__init__(session, clock, renew_before, timeout)
        self._client_id = client_id
        self._client_secret = client_secret
        self.org_id = org_id
        self.store = store
        self.ims_url = ims_url
        self.scopes = tuple(scopes)
        _protect(client_secret)

    def _secret_values(self) -> tuple[str | None, ...]:
        return (self._client_secret, self._token)

    def _extra_headers(self) -> dict[str, str]:
        return {"x-api-key": self._client_id, "x-gw-ims-org-id": self.org_id,
                "Store": self.store}

    def _fetch(self) -> tuple[str, float]:
        form = {"grant_type": "client_credentials", "client_id": self._client_id,
                "client_secret": self._client_secret, "scope": ",".join(self.scopes)}
        response = self._post(self.ims_url, data=form, headers={"Accept": "application/json"})
        status = response.status_code
        message = redact(magento_message(response), self._secret_values())
        where = _origin(self.ims_url)
        if status == 200:
            try:
                data = response.json()
            except ValueError:
                data = None
            token = data.get("access_token") if isinstance(data, dict) else None
            try:
                expires_in = float(data["expires_in"]) if isinstance(data, dict) else 0.0
            except (KeyError, TypeError, ValueError):
                expires_in = 0.0
            if not isinstance(token, str) or not token or expires_in <= 0:
                raise SageSyncError(f"IMS at {where} did not answer with an access_token and a "
                                    "positive expires_in.")
            return token, expires_in
        if status == 429 or status >= 500:
            raise TransientError(f"IMS at {where} answered {status}: {message}")
        raise AuthError(f"IMS at {where} refused the server-to-server credentials "
                        f"({status}): {message}",
                        hint="Check [magento] client_id, client_secret and org_id against the "
                             "OAuth Server-to-Server credential in the Adobe Developer Console "
                             "project, and that its scopes include commerce.accs.")

    def __repr__(self) -> str:
        return (f"ImsServerToServer(org_id={self.org_id!r}, store={self.store!r}, "
                f"ims_url={self.ims_url!r}, client_id={_MASK}, client_secret={_MASK}, "
                f"token={_MASK if self._token else None})")


_TENANT = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")
_SERVER = re.compile(r"[A-Za-z0-9][A-Za-z0-9.-]*")


def accs_base_url(server: str, tenant_id: str) -> str:
    """``https://<server>.api.commerce.adobe.com/<tenant_id>``, the base the client appends
    ``/V1/orders`` to (ACCS has no ``/rest/<store>`` segment; the store goes in the ``Store``
    header). ``server`` may be the short name (``na1-sandbox``), the host, or an https URL.
    """
    tenant = (tenant_id or "").strip().strip("/")
    if not _TENANT.fullmatch(tenant):
        raise RecipeError(f"ACCS tenant id {tenant_id!r} is not valid: expected letters, digits, "
                          "'-' or '_' (the last segment of the REST endpoint URL).")
    text = (server or "").strip().rstrip("/")
    if "://" in text:
        parts = urlsplit(text)
        if parts.scheme != "https" or parts.path.strip("/") not in ("", tenant):
            raise RecipeError(f"ACCS server {server!r} should be like 'na1-sandbox' or "
                              "'https://na1-sandbox.api.commerce.adobe.com'.")
        text = parts.hostname or ""
    if not _SERVER.fullmatch(text):
        raise RecipeError(f"ACCS server {server!r} should be like 'na1-sandbox' or "
                          "'na1-sandbox.api.commerce.adobe.com'.")
    host = text if text.endswith(ACCS_HOST_SUFFIX) else text + ACCS_HOST_SUFFIX
    return f"https://{host}/{tenant}"


# --------------------------------------------------------------------------- factory


_REQUIRED: dict[str, tuple[str, ...]] = {
    "bearer": ("token",),
    "oauth1": ("consumer_key", "consumer_secret", "access_token", "access_token_secret"),
    "admin": ("base_url", "username", "password"),
    "ims": ("client_id", "client_secret", "org_id"),
}
_SECRET_SETTINGS = frozenset({"token", "consumer_secret", "access_token", "access_token_secret",
                              "password", "client_secret"})


def make_auth(kind: AuthKind | str, settings: Mapping[str, str],
              session: requests.Session | None = None) -> AuthBase:
    """Build the auth for ``kind`` from recipe settings (values already ${VAR}-expanded).

    Settings per kind (empty strings count as missing):

    * ``bearer``: ``token``
    * ``oauth1``: ``consumer_key``, ``consumer_secret``, ``access_token``, ``access_token_secret``
    * ``admin``: ``base_url``, ``username``, ``password``; optional ``token_lifetime_hours``
      (default 4, Magento's ``oauth/access_token_expiration_period/admin``)
    * ``ims``: ``client_id``, ``client_secret``, ``org_id``; optional ``store`` (default
      ``default``), ``ims_url``, ``scopes`` (comma- or space-separated)

    ``session`` is used for token requests (admin, ims); pass the client's session to share
    its connection pool.
    """
    required = _REQUIRED.get(kind)
    if required is None:
        raise RecipeError(f"[magento] auth = {kind!r} is not a known kind; expected one of "
                          f"{', '.join(repr(k) for k in _REQUIRED)}.")
    missing = [name for name in required if not (settings.get(name) or "").strip()]
    if missing:
        secret_note = ""
        if any(name in _SECRET_SETTINGS for name in missing):
            secret_note = (" Keep secrets out of the recipe: write e.g. "
                           f"{missing[0]} = \"${{MAGENTO_{missing[0].upper()}}}\" and set the "
                           "variable in .env.")
        raise RecipeError(f"[magento] auth = \"{kind}\" needs {_names(missing)}, which "
                          f"{'is' if len(missing) == 1 else 'are'} missing or empty."
                          + secret_note)
    s = {key: (value or "").strip() for key, value in settings.items()}
    if kind == "bearer":
        return BearerToken(s["token"])
    if kind == "oauth1":
        return IntegrationOAuth(s["consumer_key"], s["consumer_secret"], s["access_token"],
                                s["access_token_secret"])
    if kind == "admin":
        lifetime = timedelta(hours=4)
        if s.get("token_lifetime_hours"):
            try:
                hours = float(s["token_lifetime_hours"])
            except ValueError:
                hours = -1.0
            if not 0.25 <= hours <= 24 * 365:
                raise RecipeError("[magento] token_lifetime_hours must be a number of hours "
                                  f"(at least 0.25), not {s['token_lifetime_hours']!r}.")
            lifetime = timedelta(hours=hours)
        return AdminToken(s["base_url"], s["username"], s["password"], session,
                          lifetime=lifetime)
    scopes = tuple(x for x in re.split(r"[,\s]+", s.get("scopes", "")) if x) or ACCS_SCOPES
    return ImsServerToServer(s["client_id"], s["client_secret"], s["org_id"],
                             store=s.get("store") or "default",
                             ims_url=s.get("ims_url") or IMS_TOKEN_URL, scopes=scopes,
                             session=session)


def _names(names: list[str]) -> str:
    quoted = [f"'{n}'" for n in names]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " and " + quoted[-1]
