"""Each Magento auth mode against the simulator on 127.0.0.1 (magento-rest.md §4).

The simulator checks OAuth 1.0a server-side with oauthlib the way Magento 2.4.4+ does, issues
admin and IMS tokens, and serves ACCS URLs; the clients under test are sagesync.magento.auth.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs

import pytest
import requests
from oauthlib.oauth1 import SIGNATURE_HMAC_SHA1, SIGNATURE_HMAC_SHA256, Client

from sagesync.errors import AuthError, RecipeError
from sagesync.magento.auth import (
    ACCS_SCOPES,
    AdminToken,
    BearerToken,
    ImsServerToServer,
    IntegrationOAuth,
    accs_base_url,
    explain_401,
    make_auth,
    redact,
)
from tests.magento_sim import (
    ADMIN_TOKEN_ENDPOINT,
    IMS_TOKEN_PATH,
    ApiError,
    MagentoSimulator,
    RecordedRequest,
)

ORDERS: list[dict[str, Any]] = [
    {"entity_id": i, "increment_id": f"00000000{i}", "status": "complete", "grand_total": 10 * i,
     "created_at": "2024-03-01 09:00:00", "updated_at": "2024-03-01 10:00:00"}
    for i in range(1, 4)
]
ONE_ORDER = {"searchCriteria[pageSize]": "1"}

# Magento consumer keys, secrets and tokens are 32 characters.
CONSUMER_KEY = "ck0a1b2c3d4e5f60718293a4b5c6d7e8"
CONSUMER_SECRET = "cs-9f8e7d6c5b4a39281706f5e4d3c2b1"
ACCESS_TOKEN = "at0123456789abcdef0123456789abcd"
TOKEN_SECRET = "ts-fedcba9876543210fedcba98765432"
OAUTH = (CONSUMER_KEY, CONSUMER_SECRET, ACCESS_TOKEN, TOKEN_SECRET)
ADMIN_USER, ADMIN_PASSWORD = "sync-bot", "Adm1n-Pa55word!"
IMS_CLIENT_ID, IMS_SECRET, IMS_ORG = "ims-client-4711", "p8e-ims-secret-value", "ORG123@AdobeOrg"
SECRETS = (CONSUMER_SECRET, ACCESS_TOKEN, TOKEN_SECRET, ADMIN_PASSWORD, IMS_SECRET)


class FakeClock:
    """Monotonic seconds that only move when a test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta.total_seconds()


@pytest.fixture
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


def get_orders(http: requests.Session, sim: MagentoSimulator, auth: Any = None,
               **kw: Any) -> requests.Response:
    return http.get(sim.url + "/V1/orders", params=ONE_ORDER, auth=auth, timeout=5, **kw)


def token_posts(sim: MagentoSimulator, path: str) -> int:
    return sum(1 for r in sim.requests if r.method == "POST" and path in (r.endpoint, r.path))


def assert_ok(resp: requests.Response) -> None:
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["total_count"] == 3
    assert len(body["items"]) == 1


def assert_no_secrets(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text


# --------------------------------------------------------------------------- bearer


def test_bearer_fetches_orders(make_magento_sim: Any, http: requests.Session) -> None:
    sim = make_magento_sim({"orders": ORDERS})
    assert_ok(get_orders(http, sim, BearerToken("sim-token")))
    assert sim.requests[-1].header("Authorization") == "Bearer sim-token"


def test_integration_token_as_bearer_needs_the_2_4_4_flag(make_magento_sim: Any,
                                                          http: requests.Session) -> None:
    off = make_magento_sim({"orders": ORDERS}, token=None, oauth=OAUTH)
    resp = get_orders(http, off, BearerToken(ACCESS_TOKEN))
    assert resp.status_code == 401
    assert resp.json()["message"] == "The consumer isn't authorized to access %resources."
    hint = explain_401("The consumer isn't authorized to access Magento_Sales::actions_view.",
                       "bearer")
    assert "oauth/consumer/enable_integration_as_bearer" in hint
    assert "Consumer Settings" in hint
    on = make_magento_sim({"orders": ORDERS}, token=None, oauth=OAUTH, integration_as_bearer=True)
    assert_ok(get_orders(http, on, BearerToken(ACCESS_TOKEN)))


# --------------------------------------------------------------------------- OAuth 1.0a


def test_oauth1_fetches_orders_signed_with_hmac_sha256(make_magento_sim: Any,
                                                       http: requests.Session) -> None:
    sim = make_magento_sim({"orders": ORDERS}, oauth=OAUTH)
    auth = IntegrationOAuth(*OAUTH)
    assert_ok(get_orders(http, sim, auth))
    header = sim.requests[-1].header("Authorization") or ""
    assert header.startswith("OAuth ")
    assert 'oauth_signature_method="HMAC-SHA256"' in header
    assert "SHA1" not in header
    # More query parameters (nested brackets, spaces, sort orders) are in the base string too.
    params = {"searchCriteria[filterGroups][0][filters][0][field]": "status",
              "searchCriteria[filterGroups][0][filters][0][value]": "complete order",
              "searchCriteria[filterGroups][0][filters][0][conditionType]": "neq",
              "searchCriteria[sortOrders][0][field]": "entity_id",
              "searchCriteria[sortOrders][0][direction]": "ASC",
              "searchCriteria[pageSize]": "2"}
    resp = http.get(sim.url + "/V1/orders", params=params, auth=auth, timeout=5)
    assert resp.status_code == 200, resp.text
    assert [o["entity_id"] for o in resp.json()["items"]] == [1, 2]


def test_oauth1_warns_when_magento_would_sort_parameters_differently(
        make_magento_sim: Any, http: requests.Session, caplog: pytest.LogCaptureFixture) -> None:
    sim = make_magento_sim({"orders": ORDERS}, oauth=OAUTH)
    params = {f"searchCriteria[filterGroups][{i}][filters][0][field]": "status"
              for i in (2, 10)}
    with caplog.at_level(logging.WARNING, logger="sagesync.magento.auth"):
        assert_ok(get_orders(http, sim, IntegrationOAuth(*OAUTH)))
        assert not caplog.records
        http.get(sim.url + "/V1/orders", params=params, auth=IntegrationOAuth(*OAUTH), timeout=5)
    assert "natural sort" in caplog.text


def test_oauth1_query_parameters_are_signed(make_magento_sim: Any,
                                            http: requests.Session) -> None:
    sim = make_magento_sim({"orders": ORDERS}, oauth=OAUTH)
    prepared = requests.Request("GET", sim.url + "/V1/orders", params=ONE_ORDER,
                                auth=IntegrationOAuth(*OAUTH)).prepare()
    prepared.url = (prepared.url or "").replace("pageSize%5D=1", "pageSize%5D=2")  # tamper
    resp = http.send(prepared, timeout=5)
    assert resp.status_code == 401
    assert resp.json() == {"message": "The signature is invalid. Verify and try again."}


@pytest.mark.parametrize("wrong", ["consumer_secret", "access_token_secret"])
def test_oauth1_wrong_secret_is_401(make_magento_sim: Any, http: requests.Session,
                                    wrong: str) -> None:
    sim = make_magento_sim({"orders": ORDERS}, oauth=OAUTH)
    creds = dict(zip(("consumer_key", "consumer_secret", "access_token", "access_token_secret"),
                     OAUTH, strict=True))
    creds[wrong] = "x" * 32
    resp = get_orders(http, sim, IntegrationOAuth(**creds))
    assert resp.status_code == 401
    message = resp.json()["message"]
    assert message == "The signature is invalid. Verify and try again."
    assert "consumer_secret" in explain_401(message, "oauth1")


def test_oauth1_hmac_sha1_is_rejected_with_400(make_magento_sim: Any,
                                               http: requests.Session) -> None:
    sim = make_magento_sim({"orders": ORDERS}, oauth=OAUTH)
    url = sim.url + "/V1/orders?searchCriteria%5BpageSize%5D=1"
    client = Client(CONSUMER_KEY, client_secret=CONSUMER_SECRET, resource_owner_key=ACCESS_TOKEN,
                    resource_owner_secret=TOKEN_SECRET, signature_method=SIGNATURE_HMAC_SHA1)
    signed_url, headers, _ = client.sign(url, "GET")
    assert 'oauth_signature_method="HMAC-SHA1"' in headers["Authorization"]
    resp = http.get(signed_url, headers=headers, timeout=5)
    assert resp.status_code == 400
    assert resp.json() == {"message": "Signature method %1 is not supported",
                           "parameters": ["HMAC-SHA1"]}
    # The same request signed with HMAC-SHA256 by oauthlib directly is accepted.
    client = Client(CONSUMER_KEY, client_secret=CONSUMER_SECRET, resource_owner_key=ACCESS_TOKEN,
                    resource_owner_secret=TOKEN_SECRET, signature_method=SIGNATURE_HMAC_SHA256)
    signed_url, headers, _ = client.sign(url, "GET")
    assert_ok(http.get(signed_url, headers=headers, timeout=5))


def test_oauth1_replayed_nonce_and_unknown_consumer_are_401(make_magento_sim: Any,
                                                            http: requests.Session) -> None:
    sim = make_magento_sim({"orders": ORDERS}, oauth=OAUTH)
    prepared = requests.Request("GET", sim.url + "/V1/orders", params=ONE_ORDER,
                                auth=IntegrationOAuth(*OAUTH)).prepare()
    assert_ok(http.send(prepared, timeout=5))
    replay = http.send(prepared, timeout=5)
    assert replay.status_code == 401
    assert replay.json()["message"] == "The nonce is already being used by the consumer with ID %1"
    other = IntegrationOAuth("z" * 32, CONSUMER_SECRET, ACCESS_TOKEN, TOKEN_SECRET)
    resp = get_orders(http, sim, other)
    assert resp.status_code == 401
    assert resp.json()["message"] == "A consumer having the specified key does not exist"


# --------------------------------------------------------------------------- admin token


def admin_sim(make_magento_sim: Any, **kw: Any) -> MagentoSimulator:
    sim: MagentoSimulator = make_magento_sim({"orders": ORDERS}, token=None,
                                             admin=(ADMIN_USER, ADMIN_PASSWORD), **kw)
    return sim


def test_admin_token_fetches_orders(make_magento_sim: Any, http: requests.Session) -> None:
    sim = admin_sim(make_magento_sim)
    auth = AdminToken(sim.url, ADMIN_USER, ADMIN_PASSWORD, http)
    assert_ok(get_orders(http, sim, auth))
    assert_ok(get_orders(http, sim, auth))
    assert token_posts(sim, ADMIN_TOKEN_ENDPOINT) == 1  # cached
    post = next(r for r in sim.requests if r.endpoint == ADMIN_TOKEN_ENDPOINT)
    assert json.loads(post.body) == {"username": ADMIN_USER, "password": ADMIN_PASSWORD}
    assert post.header("Authorization") is None  # the token request is not itself authed


def test_token_auth_can_be_the_auth_of_its_own_session(make_magento_sim: Any) -> None:
    """RestSource sets session.auth = auth and may pass that session for token requests."""
    sim = admin_sim(make_magento_sim)
    with requests.Session() as session:
        session.auth = AdminToken(sim.url, ADMIN_USER, ADMIN_PASSWORD, session)
        assert_ok(session.get(sim.url + "/V1/orders", params=ONE_ORDER, timeout=5))
    assert token_posts(sim, ADMIN_TOKEN_ENDPOINT) == 1


def test_admin_token_is_renewed_before_its_lifetime_ends(make_magento_sim: Any,
                                                         http: requests.Session) -> None:
    sim = admin_sim(make_magento_sim)
    clock = FakeClock()
    auth = AdminToken(sim.url, ADMIN_USER, ADMIN_PASSWORD, http, clock=clock,
                      lifetime=timedelta(hours=4), renew_before=timedelta(minutes=10))
    assert_ok(get_orders(http, sim, auth))
    first = sim.requests[-1].header("Authorization")
    clock.advance(timedelta(hours=3, minutes=49))
    assert_ok(get_orders(http, sim, auth))
    assert token_posts(sim, ADMIN_TOKEN_ENDPOINT) == 1
    clock.advance(timedelta(minutes=2))  # 3 h 51 min: inside the 10-minute margin
    assert_ok(get_orders(http, sim, auth))
    assert token_posts(sim, ADMIN_TOKEN_ENDPOINT) == 2
    assert sim.requests[-1].header("Authorization") != first
    assert auth.tokens_fetched == 2


def test_admin_token_renews_once_after_a_401(make_magento_sim: Any,
                                             http: requests.Session) -> None:
    sim = admin_sim(make_magento_sim)
    auth = AdminToken(sim.url, ADMIN_USER, ADMIN_PASSWORD, http, clock=FakeClock())
    assert_ok(get_orders(http, sim, auth))
    assert sim.expire_tokens() == 1  # revoked / purged server-side
    resp = get_orders(http, sim, auth)
    assert_ok(resp)
    assert [r.status_code for r in resp.history] == [401]
    assert token_posts(sim, ADMIN_TOKEN_ENDPOINT) == 2
    auth.invalidate()  # the hook a client calls itself
    assert_ok(get_orders(http, sim, auth))
    assert token_posts(sim, ADMIN_TOKEN_ENDPOINT) == 3


def test_admin_fresh_token_refused_is_not_retried(make_magento_sim: Any,
                                                  http: requests.Session) -> None:
    class NoAcl(MagentoSimulator):
        def authorize(self, request: RecordedRequest) -> ApiError | None:
            return ApiError(401, "The consumer isn't authorized to access %resources.",
                            {"resources": request.acl_resource})

    sim = NoAcl({"orders": ORDERS}, token=None, admin=(ADMIN_USER, ADMIN_PASSWORD)).start()
    try:
        auth = AdminToken(sim.url, ADMIN_USER, ADMIN_PASSWORD, http)
        resp = get_orders(http, sim, auth)
        assert resp.status_code == 401
        assert token_posts(sim, ADMIN_TOKEN_ENDPOINT) == 1
        assert "role lacks Magento_Sales::actions_view" in explain_401(
            "The consumer isn't authorized to access Magento_Sales::actions_view.", "admin")
    finally:
        sim.stop()


def test_admin_token_2fa_is_an_auth_error_with_hint(make_magento_sim: Any,
                                                    http: requests.Session) -> None:
    sim = admin_sim(make_magento_sim, admin_2fa=True)
    auth = AdminToken(sim.url, ADMIN_USER, ADMIN_PASSWORD, http)
    with pytest.raises(AuthError) as caught:
        get_orders(http, sim, auth)
    text = str(caught.value)
    assert "Please use the 2fa provider-specific endpoints to obtain a token." in text
    assert "Magento_TwoFactorAuth" in text
    assert "integration" in text
    assert "/V1/tfa/provider/google/authenticate" in text
    assert_no_secrets(text + repr(auth))
    assert not any(r.endpoint == "/V1/orders" for r in sim.requests)


def test_admin_wrong_password_is_an_auth_error_and_not_retried(make_magento_sim: Any,
                                                               http: requests.Session) -> None:
    sim = admin_sim(make_magento_sim)
    auth = AdminToken(sim.url, ADMIN_USER, "wrong-" + ADMIN_PASSWORD, http)
    with pytest.raises(AuthError) as caught:
        get_orders(http, sim, auth)
    text = str(caught.value)
    assert "sign-in was incorrect" in text
    assert "locks the admin account after 6" in text
    assert "wrong-" not in text
    assert_no_secrets(text)
    assert token_posts(sim, ADMIN_TOKEN_ENDPOINT) == 1


def test_simulator_locks_admin_after_six_failures(make_magento_sim: Any,
                                                  http: requests.Session) -> None:
    sim = admin_sim(make_magento_sim)
    url = sim.url + ADMIN_TOKEN_ENDPOINT
    for _ in range(6):
        bad = http.post(url, json={"username": ADMIN_USER, "password": "nope"}, timeout=5)
        assert bad.status_code == 401
    good = http.post(url, json={"username": ADMIN_USER, "password": ADMIN_PASSWORD}, timeout=5)
    assert good.status_code == 401  # locked: same answer as a wrong password


# --------------------------------------------------------------------------- IMS / ACCS


def ims_auth(sim: MagentoSimulator, http: requests.Session, **kw: Any) -> ImsServerToServer:
    return ImsServerToServer(IMS_CLIENT_ID, IMS_SECRET, IMS_ORG, ims_url=sim.ims_url,
                             session=http, **kw)


def test_ims_token_fetches_orders_and_refreshes_before_expiry(make_magento_sim: Any,
                                                              http: requests.Session) -> None:
    sim = make_magento_sim({"orders": ORDERS}, token=None,
                           ims=(IMS_CLIENT_ID, IMS_SECRET, IMS_ORG), ims_expires_in=3600)
    clock = FakeClock()
    auth = ims_auth(sim, http, clock=clock, renew_before=timedelta(minutes=5))
    assert_ok(get_orders(http, sim, auth))
    post = next(r for r in sim.requests if r.path == IMS_TOKEN_PATH)
    form = parse_qs(post.body.decode())
    assert form["grant_type"] == ["client_credentials"]
    assert form["client_id"] == [IMS_CLIENT_ID]
    assert form["scope"] == [",".join(ACCS_SCOPES)]
    assert "commerce.accs" in form["scope"][0]
    clock.advance(timedelta(minutes=54))
    assert_ok(get_orders(http, sim, auth))
    assert token_posts(sim, IMS_TOKEN_PATH) == 1
    clock.advance(timedelta(minutes=2))  # 56 min: within 5 min of expires_in=3600
    assert_ok(get_orders(http, sim, auth))
    assert token_posts(sim, IMS_TOKEN_PATH) == 2


def test_accs_mode_sends_gateway_headers(make_magento_sim: Any, http: requests.Session) -> None:
    sim = make_magento_sim({"orders": ORDERS}, ims=(IMS_CLIENT_ID, IMS_SECRET, IMS_ORG),
                           accs=True, tenant_id="Tn8xYz")
    assert sim.url.endswith("/Tn8xYz")
    assert "/rest/" not in sim.url
    auth = ims_auth(sim, http, store="default")
    assert_ok(get_orders(http, sim, auth))
    sent = sim.requests[-1]
    assert sent.path == "/Tn8xYz/V1/orders"
    assert sent.header("x-api-key") == IMS_CLIENT_ID
    assert sent.header("x-gw-ims-org-id") == IMS_ORG
    assert sent.header("Store") == "default"
    assert (sent.header("Authorization") or "").startswith("Bearer ims-")
    # A bare bearer token (no gateway headers) is refused; so is the plain sim token.
    token = (sent.header("Authorization") or "").split(" ", 1)[1]
    assert get_orders(http, sim, BearerToken(token)).status_code == 403
    headers = {"x-api-key": IMS_CLIENT_ID, "x-gw-ims-org-id": IMS_ORG, "Store": "default"}
    assert get_orders(http, sim, BearerToken("sim-token"), headers=headers).status_code == 401
    assert get_orders(http, sim, BearerToken(token), headers=headers).status_code == 200
    no_store = {k: v for k, v in headers.items() if k != "Store"}
    assert get_orders(http, sim, BearerToken(token), headers=no_store).status_code == 400


def test_ims_wrong_secret_is_an_auth_error(make_magento_sim: Any,
                                           http: requests.Session) -> None:
    sim = make_magento_sim({"orders": ORDERS}, ims=(IMS_CLIENT_ID, IMS_SECRET, IMS_ORG),
                           accs=True)
    auth = ImsServerToServer(IMS_CLIENT_ID, "wrong-" + IMS_SECRET, IMS_ORG,
                             ims_url=sim.ims_url, session=http)
    with pytest.raises(AuthError) as caught:
        get_orders(http, sim, auth)
    text = str(caught.value)
    assert "invalid_client" in text
    assert "wrong-" not in text
    assert_no_secrets(text + repr(auth))


def test_accs_base_url() -> None:
    expected = "https://na1-sandbox.api.commerce.adobe.com/AbC123"
    assert accs_base_url("na1-sandbox", "AbC123") == expected
    assert accs_base_url("na1-sandbox.api.commerce.adobe.com", "AbC123") == expected
    assert accs_base_url("https://na1-sandbox.api.commerce.adobe.com/", "AbC123") == expected
    assert accs_base_url("https://na1-sandbox.api.commerce.adobe.com/AbC123", "AbC123") == expected
    for server, tenant in [("na1", "a/b"), ("na1", ""), ("http://x.example", "t"),
                           ("https://x.api.commerce.adobe.com/rest/default", "t")]:
        with pytest.raises(RecipeError):
            accs_base_url(server, tenant)


# --------------------------------------------------------------------------- secrets


def test_secrets_absent_from_repr_and_str(http: requests.Session) -> None:
    objects = [
        BearerToken(ACCESS_TOKEN),
        IntegrationOAuth(*OAUTH),
        AdminToken("http://127.0.0.1:9/rest/default", ADMIN_USER, ADMIN_PASSWORD, http),
        ImsServerToServer(IMS_CLIENT_ID, IMS_SECRET, IMS_ORG, session=http),
    ]
    for obj in objects:
        assert_no_secrets(repr(obj) + str(obj))
    assert "***" in repr(objects[1])
    assert CONSUMER_KEY in repr(objects[1])  # the key is not a secret; helps diagnosis


def test_unreachable_token_endpoint_is_transient_and_redacted(http: requests.Session) -> None:
    from sagesync.errors import TransientError

    with pytest.raises(TransientError) as caught:
        AdminToken("http://127.0.0.1:9/rest/default", ADMIN_USER, ADMIN_PASSWORD, http,
                   timeout=2).token()
    assert_no_secrets(str(caught.value))


def test_oauth_debug_logs_carry_no_secrets(make_magento_sim: Any, http: requests.Session,
                                           caplog: pytest.LogCaptureFixture) -> None:
    sim = make_magento_sim({"orders": ORDERS}, oauth=OAUTH)
    with caplog.at_level(logging.DEBUG):
        assert_ok(get_orders(http, sim, IntegrationOAuth(*OAUTH)))
    assert any("oauthlib" in r.name for r in caplog.records)  # they did log
    assert_no_secrets(caplog.text)
    assert_no_secrets(" ".join(r.getMessage() for r in caplog.records))


def test_redact() -> None:
    text = "url?password=p%40ss%2Fw0rd&x=p@ss/w0rd and p@ss/w0rd"
    assert redact(text, ["p@ss/w0rd", None, ""]) == "url?password=***&x=*** and ***"
    assert redact("abc", []) == "abc"


# --------------------------------------------------------------------------- factory, hints


def test_make_auth_builds_each_kind(http: requests.Session) -> None:
    assert isinstance(make_auth("bearer", {"token": "t"}, http), BearerToken)
    oauth = make_auth("oauth1", dict(zip(("consumer_key", "consumer_secret", "access_token",
                                          "access_token_secret"), OAUTH, strict=True)), http)
    assert isinstance(oauth, IntegrationOAuth)
    assert oauth.signature_method == "HMAC-SHA256"
    admin = make_auth("admin", {"base_url": "https://shop.example/rest/default",
                                "username": ADMIN_USER, "password": ADMIN_PASSWORD,
                                "token_lifetime_hours": "1"}, http)
    assert isinstance(admin, AdminToken)
    ims = make_auth("ims", {"client_id": IMS_CLIENT_ID, "client_secret": IMS_SECRET,
                            "org_id": IMS_ORG, "store": "fr", "scopes": "openid, commerce.accs"},
                    http)
    assert isinstance(ims, ImsServerToServer)
    assert ims.store == "fr"
    assert ims.scopes == ("openid", "commerce.accs")


def test_make_auth_names_the_missing_settings() -> None:
    with pytest.raises(RecipeError) as caught:
        make_auth("oauth1", {"consumer_key": CONSUMER_KEY, "consumer_secret": CONSUMER_SECRET,
                             "access_token": " "})
    text = str(caught.value)
    assert "'access_token' and 'access_token_secret'" in text
    assert "oauth1" in text
    assert_no_secrets(text)
    with pytest.raises(RecipeError, match="'password'"):
        make_auth("admin", {"base_url": "https://x", "username": "u"})
    with pytest.raises(RecipeError, match="'token'"):
        make_auth("bearer", {})
    with pytest.raises(RecipeError, match="'client_id', 'client_secret' and 'org_id'"):
        make_auth("ims", {})
    with pytest.raises(RecipeError, match="not a known kind"):
        make_auth("basic", {"token": "t"})  # type: ignore[arg-type]
    with pytest.raises(RecipeError, match="token_lifetime_hours"):
        make_auth("admin", {"base_url": "https://x", "username": "u", "password": "p",
                            "token_lifetime_hours": "soon"})


def test_explain_401_hints() -> None:
    template = "The consumer isn't authorized to access %resources."
    assert "enable_integration_as_bearer" in explain_401(template, "bearer")
    acl = explain_401("The consumer isn't authorized to access Magento_Sales::actions_view.",
                      "oauth1")
    assert "Magento_Sales::actions_view" in acl
    assert "resource access" in acl
    assert "enable_integration_as_bearer" not in acl
    assert "the resource named" in explain_401(template, "oauth1")
    assert "clock" in explain_401("Incorrect timestamp value in the oauth_timestamp parameter",
                                  "oauth1")
    assert ".env" in explain_401("something else", "admin")
