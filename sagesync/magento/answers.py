"""Reading Magento's error answers, shared by the auth modes and the retrying transport.

Both :mod:`sagesync.magento.auth` (token endpoints) and :mod:`sagesync.magento.http` (every REST
call) need to read Magento's error bodies, explain a 401 and describe a failed TLS handshake;
keeping those here lets each import this module instead of the other (no import cycle).
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import requests

from sagesync.errors import UsageError

__all__ = ["MagentoTLSError", "explain_401", "magento_message", "short", "tls_failure"]

_VERIFY_REASON = re.compile(r"certificate verify failed:?\s*([^(\]'\"]*)")


class MagentoTLSError(UsageError):
    """Magento's TLS certificate could not be verified: the operator trusts the right CA or
    fixes the certificate. Retrying cannot help, and verification is never turned off."""


def magento_message(response: requests.Response) -> str:
    """Magento's error `message` with its %placeholders filled from `parameters` (§4)."""
    try:
        data = response.json()
    except ValueError:
        return response.text.strip()[:200] or (response.reason or "")
    if isinstance(data, dict) and "message" in data:
        message = str(data["message"])
        params = data.get("parameters")
        if isinstance(params, dict):
            for key, value in params.items():
                message = message.replace(f"%{key}", str(value))
        elif isinstance(params, list):
            for i, value in enumerate(params, start=1):
                message = message.replace(f"%{i}", str(value))
        return message
    if isinstance(data, dict) and "error" in data:  # IMS / OAuth 2 error shape (RFC 6749 §5.2)
        described = data.get("error_description")
        return f"{data['error']}: {described}" if described else str(data["error"])
    return str(data)[:200]


def short(exc: Exception) -> str:
    """An exception as at most 160 characters, for a message a person reads."""
    text = str(exc)
    return text if len(text) < 160 else text[:160] + "…"


def tls_failure(url: str, describe: str, exc: requests.exceptions.SSLError) -> MagentoTLSError:
    """What a failed TLS handshake means and what to check; verification stays on."""
    host = urlsplit(url).hostname or url
    found = _VERIFY_REASON.search(str(exc))
    if found:
        reason = found.group(1).strip(" :") or "no reason given"
        what = f"certificate verify failed ({reason})"
    else:
        what = f"the TLS handshake failed ({short(exc)})"
    return MagentoTLSError(
        f"Cannot reach Magento securely for {describe} at {host}: {what}. sagesync keeps "
        "TLS certificate verification on and does not retry this: it will not change by "
        "itself.", hint=(
            f"If {host} uses a certificate from a private or company CA (or a proxy that "
            "inspects TLS), set REQUESTS_CA_BUNDLE to a PEM file holding that CA (and the "
            "public CAs you still need). If the certificate expired or names another host, "
            f"renew or fix it on the server, and check that [magento] base_url uses the host "
            "name the certificate is for."))


# --------------------------------------------------------------------------- diagnosis


_NOT_AUTHORIZED = re.compile(r"consumer isn'?t authorized to access\s*(?P<res>.*?)\.?\s*$",
                             re.IGNORECASE)

_OAUTH_HINTS: tuple[tuple[str, str], ...] = (
    ("signature is invalid",
     "The OAuth signature did not match: check consumer_secret and access_token_secret, and "
     "that base_url is the exact scheme/host/port Magento sees (a proxy rewriting http/https "
     "or the port breaks signatures)."),
    ("consumer key is not the correct length", "consumer_key is wrong (Magento keys are 32 "
                                               "characters)."),
    ("consumer having the specified key does not exist",
     "consumer_key is not an integration on this store (System > Extensions > Integrations)."),
    ("token is not the correct length", "access_token is wrong (32 characters expected)."),
    ("specified token does not exist", "access_token is not known to this store; re-activate "
                                       "the integration and copy the new tokens."),
    ("token has been revoked", "The integration's access token was revoked; re-authorize the "
                               "integration and update access_token/access_token_secret."),
    ("timestamp", "Magento refused the OAuth timestamp: the machine's clock is off by more "
                  "than 10 minutes."),
    ("nonce is already being used", "Magento saw this OAuth nonce before (a replayed request "
                                    "or a clock far behind)."),
)


def explain_401(body_message: str, kind: str) -> str:
    """A hint for a 401 from the REST API, given Magento's (filled-in) message and auth kind.

    "The consumer isn't authorized to access %resources." usually looks like an ACL problem;
    with an integration's token used as a bearer token on 2.4.4+ it is the disabled
    ``oauth/consumer/enable_integration_as_bearer`` flag instead (magento-rest.md §4).
    """
    message = body_message or ""
    found = _NOT_AUTHORIZED.search(message)
    if found:
        resource = found.group("res")
        named = "the resource named" if not resource or "%" in resource else resource
        if kind == "bearer":
            return ("With an integration's access token used as a bearer token, Magento 2.4.4 "
                    "and later refuse every call this way unless Stores > Configuration > "
                    "Services > OAuth > Consumer Settings > 'Allow OAuth Access Tokens to be "
                    "used as standalone Bearer tokens' is Yes (bin/magento config:set "
                    "oauth/consumer/enable_integration_as_bearer 1; store-scoped, so set it "
                    "for the store view called). Or switch to auth = \"oauth1\". If the "
                    f"setting is already on, the integration's API access lacks {named}.")
        if kind == "admin":
            return (f"The admin user's role lacks {named} (System > Permissions > User Roles > "
                    "Role Resources), or the admin token was revoked and renewing did not "
                    "help.")
        if kind == "ims":
            return (f"The IMS credential's Commerce role lacks {named}, or the token was "
                    "issued for a different organization or product context.")
        return (f"The integration's resource access (System > Extensions > Integrations > "
                f"edit > API) lacks {named}; grant it and re-activate the integration.")
    lowered = message.lower()
    if kind == "oauth1":
        for needle, hint in _OAUTH_HINTS:
            if needle in lowered:
                return hint
    if kind == "ims":
        return ("Check the IMS credential: client_id (sent as x-api-key), org_id "
                "(x-gw-ims-org-id) and that the token's scopes include commerce.accs.")
    return "Check the [magento] credentials in the recipe's .env; the sync halts until they work."
