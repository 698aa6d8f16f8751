"""OAuth tokens, tenants and scopes, as Xero enforces them."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
from xero_python.exceptions import HTTPStatusException

from tests.fixtures.sandbox import SandboxProcess, start_sandbox, stop_sandbox
from tests.support.sandbox_books import make_books


@pytest.fixture(scope="module")
def private_sandbox() -> Iterator[SandboxProcess]:
    """Tests that move the clock get their own process, so no one else's tokens expire."""
    sandbox = start_sandbox()
    try:
        yield sandbox
    finally:
        stop_sandbox(sandbox)


def test_token_set_has_the_token_endpoint_shape(books):
    token = books.token
    assert set(token) == {
        "id_token",
        "access_token",
        "expires_in",
        "token_type",
        "refresh_token",
        "scope",
    }
    assert token["expires_in"] == 1800
    assert token["token_type"] == "Bearer"


def test_expired_access_token_gets_401_token_expired(private_sandbox):
    books = make_books(private_sandbox)
    books.api.get_organisations(books.tenant_id)
    private_sandbox.advance_clock(1801)
    with pytest.raises(HTTPStatusException) as caught:
        # The SDK believes its token is fresh (it reads the real clock), so it sends it.
        books.api.get_organisations(books.tenant_id)
    assert caught.value.status == 401
    body = json.loads(caught.value.body)
    assert body["Title"] == "Unauthorized"
    assert body["Status"] == 401
    assert body["Detail"].startswith("TokenExpired: token expired at ")
    assert set(body) == {"Type", "Title", "Status", "Detail", "Instance", "Extensions"}


def test_refresh_rotates_and_old_token_has_30_minute_grace(private_sandbox):
    books = make_books(private_sandbox)
    old = books.token["refresh_token"]
    form = {
        "grant_type": "refresh_token",
        "refresh_token": old,
        "client_id": books.client_id,
        "client_secret": books.client_secret,
    }
    first = httpx.post(private_sandbox.token_url, data=form)
    assert first.status_code == 200
    new = first.json()["refresh_token"]
    assert new != old
    # A lost response: the previous token still works inside the grace period.
    again = httpx.post(private_sandbox.token_url, data=form)
    assert again.status_code == 200
    private_sandbox.advance_clock(1801)
    late = httpx.post(private_sandbox.token_url, data=form)
    assert late.status_code == 400
    assert late.text == '{"error":"invalid_grant"}'
    # The newest token is still fine (client_secret_basic this time).
    fresh = httpx.post(
        private_sandbox.token_url,
        data={"grant_type": "refresh_token", "refresh_token": again.json()["refresh_token"]},
        auth=(books.client_id, books.client_secret),
    )
    assert fresh.status_code == 200


def test_sdk_refreshes_through_the_token_endpoint(books):
    old_access = books.xero.token["access_token"]
    books.xero.token["expires_at"] = 0  # make the SDK think it expired
    books.api.get_organisations(books.tenant_id)
    assert books.xero.token["access_token"] != old_access


def test_wrong_secret_is_invalid_client(books):
    response = httpx.post(
        books.sandbox.token_url,
        data={
            "grant_type": "refresh_token",
            "refresh_token": books.token["refresh_token"],
            "client_id": books.client_id,
            "client_secret": "wrong",
        },
    )
    assert response.status_code == 400
    assert response.json() == {"error": "invalid_client"}


def test_token_reaches_only_its_tenants(xero_sandbox, books):
    other = xero_sandbox.create_org("Someone else", "DKK")
    with pytest.raises(HTTPStatusException) as caught:
        books.api.get_organisations(other)
    assert caught.value.status == 403
    body = json.loads(caught.value.body)
    assert body["Detail"] == "AuthenticationUnsuccessful"
    assert body["Title"] == "Forbidden"


def test_missing_tenant_header_is_403(books):
    response = httpx.get(
        books.sandbox.accounting_url + "/Organisation",
        headers={
            "Authorization": "Bearer " + books.token["access_token"],
            "Accept": "application/json",
        },
    )
    assert response.status_code == 403


def test_missing_scope_is_401_authorization_unsuccessful(xero_sandbox):
    books = make_books(xero_sandbox, scopes=["offline_access", "accounting.contacts"])
    books.api.get_contacts(books.tenant_id)
    with pytest.raises(HTTPStatusException) as caught:
        books.api.get_invoices(books.tenant_id)
    assert caught.value.status == 401
    assert json.loads(caught.value.body)["Detail"] == "AuthorizationUnsuccessful"


def test_connections_list_and_delete(books):
    connections = books.xero.identity.get_connections()
    assert [c.tenant_id for c in connections] == [books.tenant_id]
    assert connections[0].tenant_type == "ORGANISATION"
    books.xero.identity.delete_connection(connections[0].id)
    assert books.xero.identity.get_connections() == []
    with pytest.raises(HTTPStatusException) as caught:
        books.api.get_organisations(books.tenant_id)
    assert caught.value.status == 403


def test_lowercase_connections_path(books):
    response = httpx.get(
        books.sandbox.base_url + "/connections",
        headers={"Authorization": "Bearer " + books.token["access_token"]},
    )
    assert response.status_code == 200
    assert response.json()[0]["tenantId"] == books.tenant_id


def test_revocation_drops_connections_and_refresh_token(books):
    response = httpx.post(
        books.sandbox.revocation_url,
        data={"token": books.token["refresh_token"]},
        auth=(books.client_id, books.client_secret),
    )
    assert response.status_code == 200
    refresh = httpx.post(
        books.sandbox.token_url,
        data={"grant_type": "refresh_token", "refresh_token": books.token["refresh_token"]},
        auth=(books.client_id, books.client_secret),
    )
    assert refresh.text == '{"error":"invalid_grant"}'
    with pytest.raises(HTTPStatusException) as caught:
        books.api.get_organisations(books.tenant_id)
    assert caught.value.status == 401
