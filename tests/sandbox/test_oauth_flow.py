"""The browser flow: consent page, code exchange (basic and post auth, PKCE), persistence."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from urllib.parse import parse_qs, urlparse

import httpx
import pytest

from tests.fixtures.sandbox import start_sandbox, stop_sandbox

REDIRECT = "http://localhost:5555/callback"


def consent(sandbox, client_id: str, **extra: str) -> dict[str, list[str]]:
    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": REDIRECT,
        "scope": "openid offline_access accounting.transactions accounting.settings",
        "state": "xyz",
        **extra,
    }
    page = httpx.get(sandbox.authorize_url, params=params)
    assert page.status_code == 200
    assert "Allow access" in page.text
    tenants = re.findall(r'name="tenant_id" value="([^"]+)"', page.text)
    form = {**params, "decision": "allow"}
    answer = httpx.post(
        sandbox.authorize_url, data={**form, "tenant_id": tenants}, follow_redirects=False
    )
    assert answer.status_code == 302
    location = answer.headers["location"]
    assert location.startswith(REDIRECT)
    return parse_qs(urlparse(location).query)


@pytest.fixture
def client(xero_sandbox):
    client_id = "web-" + secrets.token_hex(4)
    xero_sandbox.register_client(client_id, "topsecret", [REDIRECT], name="Roger sync")
    tenant = xero_sandbox.create_org("Consent Co", "DKK")
    return client_id, tenant


def test_consent_page_lists_organisations(xero_sandbox, client):
    client_id, _ = client
    page = httpx.get(
        xero_sandbox.authorize_url,
        params={
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": REDIRECT,
            "scope": "offline_access",
            "state": "s",
        },
    )
    assert "Consent Co" in page.text
    assert "Roger sync" in page.text


def test_unregistered_redirect_uri_is_refused(xero_sandbox, client):
    client_id, _ = client
    page = httpx.get(
        xero_sandbox.authorize_url,
        params={
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": "http://evil/cb",
            "scope": "offline_access",
        },
    )
    assert page.status_code == 400


def test_code_exchange_with_basic_auth_is_single_use(xero_sandbox, client):
    client_id, tenant = client
    answer = consent(xero_sandbox, client_id)
    assert answer["state"] == ["xyz"]
    form = {"grant_type": "authorization_code", "code": answer["code"][0], "redirect_uri": REDIRECT}
    token = httpx.post(xero_sandbox.token_url, data=form, auth=(client_id, "topsecret"))
    assert token.status_code == 200
    body = token.json()
    assert body["expires_in"] == 1800 and body["token_type"] == "Bearer"
    connections = httpx.get(
        xero_sandbox.base_url + "/Connections",
        headers={"Authorization": "Bearer " + body["access_token"]},
    ).json()
    assert tenant in [c["tenantId"] for c in connections]
    claims = body["access_token"].split(".")[1]
    claims += "=" * (-len(claims) % 4)
    import json

    auth_event = json.loads(base64.urlsafe_b64decode(claims))["authentication_event_id"]
    assert {c["authEventId"] for c in connections} == {auth_event}
    replay = httpx.post(xero_sandbox.token_url, data=form, auth=(client_id, "topsecret"))
    assert replay.status_code == 400
    assert replay.json() == {"error": "invalid_grant"}


def test_code_exchange_with_client_secret_post(xero_sandbox, client):
    client_id, _ = client
    code = consent(xero_sandbox, client_id)["code"][0]
    token = httpx.post(
        xero_sandbox.token_url,
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT,
            "client_id": client_id,
            "client_secret": "topsecret",
        },
    )
    assert token.status_code == 200


def test_pkce_verifier_is_checked(xero_sandbox, client):
    client_id, _ = client
    verifier = secrets.token_urlsafe(48)
    challenge = (
        base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    )
    code = consent(xero_sandbox, client_id, code_challenge=challenge, code_challenge_method="S256")[
        "code"
    ][0]
    wrong = httpx.post(
        xero_sandbox.token_url,
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT,
            "client_id": client_id,
            "code_verifier": secrets.token_urlsafe(48),
        },
    )
    assert wrong.json() == {"error": "invalid_grant"}
    code = consent(xero_sandbox, client_id, code_challenge=challenge, code_challenge_method="S256")[
        "code"
    ][0]
    right = httpx.post(
        xero_sandbox.token_url,
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT,
            "client_id": client_id,
            "code_verifier": verifier,
        },
    )
    assert right.status_code == 200, right.text


def test_codes_expire_after_5_minutes():
    sandbox = start_sandbox()
    try:
        client_id = "late-app"
        sandbox.register_client(client_id, "topsecret", [REDIRECT])
        sandbox.create_org("Late Co", "DKK")
        code = consent(sandbox, client_id)["code"][0]
        sandbox.advance_clock(301)
        token = httpx.post(
            sandbox.token_url,
            data={"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT},
            auth=(client_id, "topsecret"),
        )
        assert token.json() == {"error": "invalid_grant"}
    finally:
        stop_sandbox(sandbox)


def test_state_file_keeps_books_across_restarts(tmp_path):
    from tests.support.sandbox_books import make_books
    from tests.support.sandbox_helpers import new_contact

    state = tmp_path / "sandbox.sqlite"
    sandbox = start_sandbox(state)
    try:
        books = make_books(sandbox)
        new_contact(books, "Persistent Ltd")
    finally:
        stop_sandbox(sandbox)
    again = start_sandbox(state)
    try:
        assert [c["Name"] for c in again.ledger(books.tenant_id)["contacts"]] == ["Persistent Ltd"]
        # The access token issued before the restart still works.
        api = again.xero_client(books.client_id, books.client_secret, books.token)
        assert api.accounting.get_contacts(books.tenant_id).contacts[0].name == "Persistent Ltd"
    finally:
        stop_sandbox(again)
