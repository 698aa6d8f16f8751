"""Rate limits, Idempotency-Key and injected faults."""

from __future__ import annotations

import json
import threading
import uuid

import httpx
import pytest
import urllib3
from xero_python.accounting import Contact, Contacts
from xero_python.exceptions import (
    AccountingBadRequestException,
    HTTPStatusException,
    RateLimitException,
)

from tests.support.sandbox_books import make_books


def test_limit_headers_on_every_response(books):
    _, status, headers = books.api.get_organisations(books.tenant_id, _return_http_data_only=False)
    assert status == 200
    assert headers["X-MinLimit-Remaining"] == "59"
    assert headers["X-DayLimit-Remaining"] == "4999"
    assert int(headers["X-AppMinLimit-Remaining"]) == 9999


def test_61st_call_in_a_minute_is_429_with_retry_after(books):
    for _ in range(60):
        books.api.get_currencies(books.tenant_id)
    # A POST: urllib3 itself sleeps Retry-After and retries GET/PUT answered 429.
    with pytest.raises(RateLimitException) as caught:
        books.api.update_or_create_contacts(
            books.tenant_id, Contacts(contacts=[Contact(name="Late")])
        )
    assert caught.value.status == 429
    assert caught.value.rate_limit == "minute"
    assert 1 <= int(caught.value.headers["Retry-After"]) <= 60
    assert caught.value.headers["X-MinLimit-Remaining"] == "0"
    assert books.ledger()["contacts"] == []


def test_day_limit(xero_sandbox):
    books = make_books(xero_sandbox)
    previous = xero_sandbox.settings()["limits"]
    xero_sandbox.settings(limits={"per_day": 3})
    try:
        for _ in range(3):
            books.api.get_currencies(books.tenant_id)
        with pytest.raises(RateLimitException) as caught:
            books.api.update_or_create_contacts(
                books.tenant_id, Contacts(contacts=[Contact(name="X")])
            )
        assert caught.value.rate_limit == "day"
        assert int(caught.value.headers["Retry-After"]) > 60
    finally:
        xero_sandbox.settings(limits=previous)


def test_sixth_concurrent_call_is_refused(xero_sandbox):
    books = make_books(xero_sandbox)
    xero_sandbox.settings(faults={books.tenant_id: {"latency_seconds": 1.0}})
    url = xero_sandbox.accounting_url + "/Currencies"
    headers = {
        "Authorization": "Bearer " + books.token["access_token"],
        "xero-tenant-id": books.tenant_id,
        "Accept": "application/json",
    }
    statuses: list[int] = []
    problems: list[str | None] = []

    def call() -> None:
        response = httpx.get(url, headers=headers, timeout=10)
        statuses.append(response.status_code)
        problems.append(response.headers.get("X-Rate-Limit-Problem"))

    try:
        threads = [threading.Thread(target=call) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        xero_sandbox.settings(faults={books.tenant_id: None})
    assert statuses.count(200) == 5
    assert statuses.count(429) == 3
    assert "concurrent" in problems


def test_idempotency_key_replays_the_first_response(books):
    key = str(uuid.uuid4())
    body = Contacts(contacts=[Contact(name="Idem Ltd")])
    first = books.api.create_contacts(books.tenant_id, body, idempotency_key=key)
    second = books.api.create_contacts(books.tenant_id, body, idempotency_key=key)
    assert first.contacts[0].contact_id == second.contacts[0].contact_id
    assert len(books.ledger()["contacts"]) == 1


def test_idempotent_replay_is_byte_identical(books):
    headers = {
        "Authorization": "Bearer " + books.token["access_token"],
        "xero-tenant-id": books.tenant_id,
        "Idempotency-Key": "k-" + uuid.uuid4().hex,
    }
    url = books.sandbox.accounting_url + "/Contacts"
    payload = {"Contacts": [{"Name": "Bytes Ltd"}]}
    first = httpx.put(url, headers=headers, json=payload)
    second = httpx.put(url, headers=headers, json=payload)
    assert first.status_code == second.status_code == 200
    assert first.content == second.content
    assert len(books.ledger()["contacts"]) == 1


def test_idempotency_key_with_another_request_is_400(books):
    key = str(uuid.uuid4())
    books.api.create_contacts(
        books.tenant_id, Contacts(contacts=[Contact(name="One")]), idempotency_key=key
    )
    with pytest.raises(AccountingBadRequestException) as caught:
        books.api.create_contacts(
            books.tenant_id, Contacts(contacts=[Contact(name="Two")]), idempotency_key=key
        )
    assert caught.value.status == 400
    body = json.loads(caught.value.body)
    assert body["Message"] == f"Idempotency Key: {key} is used with a different request."
    assert [c["Name"] for c in books.ledger()["contacts"]] == ["One"]


def test_idempotency_key_over_128_characters_is_400(books):
    with pytest.raises(AccountingBadRequestException):
        books.api.create_contacts(
            books.tenant_id, Contacts(contacts=[Contact(name="Long")]), idempotency_key="k" * 129
        )
    assert books.ledger()["contacts"] == []


def test_idempotency_keys_expire_after_6_minutes():
    from tests.fixtures.sandbox import start_sandbox, stop_sandbox

    sandbox = start_sandbox()
    try:
        books = make_books(sandbox)
        key = str(uuid.uuid4())
        body = Contacts(contacts=[Contact(name="Expiring")])
        books.api.create_contacts(books.tenant_id, body, idempotency_key=key)
        sandbox.advance_clock(361)
        books.xero.token["expires_at"] = 0  # the clock jump expired our token: refresh
        with pytest.raises(AccountingBadRequestException):
            # Now a fresh request: the name is taken.
            books.api.create_contacts(books.tenant_id, body, idempotency_key=key)
    finally:
        stop_sandbox(sandbox)


@pytest.mark.parametrize("status", [500, 503])
def test_injected_errors(xero_sandbox, status):
    books = make_books(xero_sandbox)
    xero_sandbox.settings(faults={books.tenant_id: {"error_next": 1, "error_status": status}})
    with pytest.raises(HTTPStatusException) as caught:
        books.api.create_contacts(books.tenant_id, Contacts(contacts=[Contact(name="Nope")]))
    assert caught.value.status == status
    if status == 503:
        assert caught.value.body == b"The Organisation is Offline"
    else:
        body = json.loads(caught.value.body)
        assert set(body) == {"Title", "Detail", "Status", "Instance"}
        assert body["Title"] == "An error occurred" and body["Status"] == 500
    assert books.ledger()["contacts"] == []
    books.api.create_contacts(books.tenant_id, Contacts(contacts=[Contact(name="Yes")]))


def test_dropped_connection_after_applying(xero_sandbox):
    books = make_books(xero_sandbox)
    xero_sandbox.settings(faults={books.tenant_id: {"drop_next": 1}})
    response_or_error: list[object] = []
    try:
        # POST is not retried by urllib3, so the caller sees the broken connection.
        books.api.update_or_create_contacts(
            books.tenant_id, Contacts(contacts=[Contact(name="Applied")])
        )
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        response_or_error.append(exc)
    assert response_or_error, "the call should have failed with a connection error"
    assert [c["Name"] for c in books.ledger()["contacts"]] == ["Applied"]


def test_delay_past_client_timeout(xero_sandbox):
    books = make_books(xero_sandbox)
    xero_sandbox.settings(faults={books.tenant_id: {"delay_next": 1, "delay_seconds": 2}})
    headers = {
        "Authorization": "Bearer " + books.token["access_token"],
        "xero-tenant-id": books.tenant_id,
        "Accept": "application/json",
    }
    with pytest.raises(httpx.ReadTimeout):
        httpx.put(
            xero_sandbox.accounting_url + "/Contacts",
            headers=headers,
            json={"Contacts": [{"Name": "Slow"}]},
            timeout=0.5,
        )
    assert [c["Name"] for c in books.ledger()["contacts"]] == ["Slow"]
