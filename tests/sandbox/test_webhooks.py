"""The sandbox sends Xero's webhooks: signed, batched, retried, after the intent check.

A small HTTP receiver in this module checks signatures as a real receiver must and
records what it accepted; it can be told to fail its first answers (for the retries) or
to accept anything (to fail the intent-to-receive check).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from tests.fixtures.sandbox import SandboxProcess
from tests.support.sandbox_books import Books, make_books
from tests.support.sandbox_helpers import authorised_bill, new_contact, raw

KEY = "webhook-key-" + "k" * 40


class Receiver:
    def __init__(self, key: str = KEY) -> None:
        self.key = key
        self.accepted: list[dict[str, Any]] = []
        self.refused = 0
        self.fail_first = 0
        self.accept_anything = False
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers["content-length"]))
                status = receiver.answer(body, self.headers.get("x-xero-signature", ""))
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/webhooks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def answer(self, body: bytes, signature: str) -> int:
        expected = base64.b64encode(hmac.new(self.key.encode(), body, hashlib.sha256).digest())
        if not self.accept_anything and not hmac.compare_digest(expected, signature.encode()):
            self.refused += 1
            return 401
        if self.fail_first > 0:
            self.fail_first -= 1
            return 503
        payload = json.loads(body)
        if payload["events"]:
            self.accepted.append(payload)
        return 200

    def events(self) -> list[dict[str, Any]]:
        return [e for p in self.accepted for e in p["events"]]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.server.shutdown()


def _subscribe(sandbox: SandboxProcess, url: str, **extra: Any) -> dict[str, Any]:
    response = sandbox.http.put("/_sandbox/webhooks", json={"url": url, "key": KEY, **extra})
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def _deliveries(sandbox: SandboxProcess, subscription: dict[str, Any]) -> list[dict[str, Any]]:
    rows = sandbox.http.get("/_sandbox/webhooks").json()["deliveries"]
    return [d for d in rows if d["subscription"] == subscription["id"]]


def _until(check: Callable[[], Any], seconds: float = 10) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def _accountant(books: Books, method: str, path: str, body: Any) -> httpx.Response:
    url = f"/_sandbox/organisations/{books.tenant_id}/as-accountant/{path}"
    return books.sandbox.http.request(method, url, json=body)


def test_intent_to_receive_passes_only_a_receiver_that_checks(
    books: Books, receiver: Receiver
) -> None:
    assert _subscribe(books.sandbox, receiver.url)["status"] == "OK"
    assert receiver.refused == 1  # the wrongly signed check was refused
    receiver.accept_anything = True
    assert _subscribe(books.sandbox, receiver.url)["status"] == "INTENT_FAILED"


def test_changes_through_the_api_arrive_signed_in_xero_shape(
    books: Books, receiver: Receiver
) -> None:
    _subscribe(books.sandbox, receiver.url, client_id=books.client_id)
    contact_id = new_contact(books, "Paper Co")
    created = raw(books, "PUT", "/Invoices", json={"Invoices": [authorised_bill(contact_id)]})
    invoice_id = created.json()["Invoices"][0]["InvoiceID"]
    events = _until(lambda: [e for e in receiver.events() if e["resourceId"] == invoice_id] or None)
    event = events[0]
    assert event["eventCategory"] == "INVOICE" and event["eventType"] == "CREATE"
    assert event["tenantId"] == books.tenant_id and event["tenantType"] == "ORGANISATION"
    assert event["resourceUrl"].endswith(f"/api.xro/2.0/Invoices/{invoice_id}")
    assert any(
        e["eventCategory"] == "CONTACT" and e["resourceId"] == contact_id for e in receiver.events()
    )
    payload = receiver.accepted[0]
    assert payload["firstEventSequence"] <= payload["lastEventSequence"]
    assert len(payload["entropy"]) == 20


def test_an_accountant_paying_voiding_and_merging_is_announced(
    books: Books, receiver: Receiver
) -> None:
    contact_id = new_contact(books, "Paper Co")
    survivor_id = new_contact(books, "Paper Company")
    created = raw(books, "PUT", "/Invoices", json={"Invoices": [authorised_bill(contact_id)]})
    invoice_id = created.json()["Invoices"][0]["InvoiceID"]
    _subscribe(books.sandbox, receiver.url)

    paid = _accountant(
        books,
        "PUT",
        "Payments",
        {
            "Payments": [
                {
                    "Invoice": {"InvoiceID": invoice_id},
                    "Account": {"Code": "090"},
                    "Date": "2026-11-20",
                    "Amount": 40,
                }
            ]
        },
    )
    assert paid.status_code == 200, paid.text
    _until(lambda: any(e["resourceId"] == invoice_id for e in receiver.events()))
    ledger = books.ledger()
    invoice = next(i for i in ledger["invoices"] if i["InvoiceID"] == invoice_id)
    assert str(invoice["AmountPaid"]) in ("40", "40.0", "40.00")

    merged = books.sandbox.http.post(
        f"/_sandbox/organisations/{books.tenant_id}/contacts/{contact_id}/merge",
        json={"into": survivor_id},
    )
    assert merged.status_code == 200
    _until(
        lambda: any(
            e["resourceId"] == contact_id and e["eventType"] == "UPDATE" for e in receiver.events()
        )
    )
    # No event for what did not change: the survivor kept its fingerprint.
    assert not any(e["resourceId"] == survivor_id for e in receiver.events())


def test_refused_deliveries_are_retried(books: Books, receiver: Receiver) -> None:
    subscription = _subscribe(books.sandbox, receiver.url)
    receiver.fail_first = 2
    contact_id = new_contact(books, "Retry Co")
    _until(lambda: any(e["resourceId"] == contact_id for e in receiver.events()))
    deliveries = _deliveries(books.sandbox, subscription)
    assert deliveries[-1]["statuses"] == [503, 503, 200]
    assert deliveries[-1]["delivered"] is True


def test_another_apps_tenants_are_not_announced(books: Books, receiver: Receiver) -> None:
    other = make_books(books.sandbox)
    _subscribe(books.sandbox, receiver.url, client_id=other.client_id)
    private = new_contact(books, "Private Co")
    # Deliveries to one subscription keep their order: once the later change in the
    # other app's organisation has arrived, the earlier private one would have too.
    public = new_contact(other, "Public Co")
    _until(lambda: any(e["resourceId"] == public for e in receiver.events()))
    assert not any(e["resourceId"] == private for e in receiver.events())
    assert {e["tenantId"] for e in receiver.events()} == {other.tenant_id}


def test_lost_webhooks_are_logged_and_not_sent(books: Books, receiver: Receiver) -> None:
    subscription = _subscribe(books.sandbox, receiver.url, lose=True)
    new_contact(books, "Lost Co")
    deliveries = _until(lambda: _deliveries(books.sandbox, subscription))
    assert all(d["lost"] for d in deliveries)
    assert receiver.accepted == []
