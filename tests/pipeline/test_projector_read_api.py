"""The read API's routes over a read model that the projector wrote, on the real PostgreSQL:
listing with cursors and filters, one document with its history, summary, retry."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import psycopg
import pytest
from fastapi import FastAPI
from psycopg.types.json import Jsonb
from pydantic import SecretStr

from services.projector.api import read_router
from services.projector.application import SyncApplication
from shared.contracts.domain_events import DomainEvent
from shared.contracts.topics import DOMAIN_EVENTS, XERO_RESULTS
from shared.db import open_pool
from shared.http import install_common
from shared.settings import Settings
from tests.support.projector_facts import APP, COMPANY, answer, bill_data, connected, fact

TOKEN = "read-api-test-token"


class SentFacts:
    """Stands in for the Kafka producer: keeps what the retry route publishes."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes, bytes | None]] = []

    async def send_and_wait(self, topic: str, value: bytes, key: bytes | None = None) -> None:
        self.sent.append((topic, value, key))


@pytest.fixture
def projected(fresh_database: str) -> Iterator[str]:
    """Three bills: b1 synced, b2 failed (Xero refused it), b3 waiting for its contact."""
    app = SyncApplication(fresh_database, APP)
    try:
        offsets = iter(range(100))

        def send(topic: str, record: Any) -> list[Any]:
            return app.process(topic, 0, next(offsets), record.to_bytes())

        send(DOMAIN_EVENTS, connected())
        [ensure] = send(DOMAIN_EVENTS, fact("BillSubmitted", bill_data("b1")))
        [create_b1] = send(XERO_RESULTS, answer(ensure, "XeroContactLinked", xero_id="c-1"))
        send(XERO_RESULTS, answer(create_b1, "XeroBillCreated", xero_id="inv-1", xero_number="1"))
        [create_b2] = send(DOMAIN_EVENTS, fact("BillSubmitted", bill_data("b2", number="INV-2")))
        send(XERO_RESULTS, answer(create_b2, "XeroCommandFailed", message="Account is archived"))
        other = {"id": "ven_2", "name": "Other Supplier ApS"}
        send(DOMAIN_EVENTS, fact("BillSubmitted", bill_data("b3", ven=other, total="5.00")))
        yield fresh_database
    finally:
        app.close()


@pytest.fixture
async def client(projected: str) -> AsyncIterator[tuple[httpx.AsyncClient, SentFacts]]:
    pool = await open_pool(projected)
    producer = SentFacts()
    app = FastAPI()
    settings = Settings(service_tokens=[SecretStr(TOKEN)])
    app.include_router(read_router(settings, pool, producer))  # type: ignore[arg-type]

    async def ready() -> dict[str, bool]:
        return {"ok": True}

    install_common(app, ready)
    transport = httpx.ASGITransport(app=app)
    headers = {"Authorization": f"Bearer {TOKEN}"}
    try:
        async with httpx.AsyncClient(
            transport=transport, base_url="http://read-api", headers=headers
        ) as http:
            yield http, producer
    finally:
        await pool.close()


def hostile_cursors(*json_texts: str) -> list[str]:
    """Cursors no page ever gave: not base64, JSON nested past Python's recursion limit, a
    lone surrogate in an id PostgreSQL would have to encode, and ``json_texts``."""
    texts = ["[" * 5000, '["2026-11-02T00:00:00+00:00", "\\udc80"]', *json_texts]
    return ["not-ours", *(base64.urlsafe_b64encode(t.encode()).decode() for t in texts)]


async def test_documents_page_by_cursor_and_filter_by_state_and_kind(
    client: tuple[httpx.AsyncClient, SentFacts],
) -> None:
    http, _ = client
    url = f"/v1/companies/{COMPANY}/documents"
    first = (await http.get(url, params={"limit": 2})).json()
    assert [d["roger_id"] for d in first["documents"]] == ["b1", "b2"]
    assert first["next_cursor"]
    rest = (await http.get(url, params={"limit": 2, "cursor": first["next_cursor"]})).json()
    assert [d["roger_id"] for d in rest["documents"]] == ["b3"] and rest["next_cursor"] is None

    failed = (await http.get(url, params={"state": "failed"})).json()["documents"]
    assert [(d["roger_id"], d["reason"]) for d in failed] == [("b2", "Account is archived")]
    assert (await http.get(url, params={"kind": "receipt"})).json()["documents"] == []
    assert (await http.get(url, params={"state": "lost"})).status_code == 422
    for bad in hostile_cursors('["bill", "b\\udc80"]'):  # and a lone surrogate
        assert (await http.get(url, params={"cursor": bad})).status_code == 422, bad


async def test_one_document_with_its_history(client: tuple[httpx.AsyncClient, SentFacts]) -> None:
    http, _ = client
    doc = (await http.get(f"/v1/companies/{COMPANY}/documents/bill/b1")).json()
    assert (doc["state"], doc["xero_id"], doc["xero_number"]) == ("synced", "inv-1", "1")
    assert [h["type"] for h in doc["history"]] == [
        "BillSubmitted",
        "XeroContactLinked",
        "CreateBillSent",
        "XeroBillCreated",
    ]
    missing = await http.get(f"/v1/companies/{COMPANY}/documents/bill/nope")
    assert missing.status_code == 404


async def test_summary_counts_every_kind_and_state(
    client: tuple[httpx.AsyncClient, SentFacts],
) -> None:
    http, _ = client
    summary = (await http.get(f"/v1/companies/{COMPANY}/summary")).json()
    assert summary["counts"]["bill"] == {
        "pending": 0,
        "waiting": 1,
        "synced": 1,
        "failed": 1,
        "deleted": 0,
    }
    assert summary["counts"]["receipt"] == dict.fromkeys(summary["counts"]["receipt"], 0)
    assert summary["oldest_pending_age_s"] is None


async def test_retry_publishes_a_retry_fact_for_a_failed_document_only(
    client: tuple[httpx.AsyncClient, SentFacts],
) -> None:
    http, producer = client
    base = f"/v1/companies/{COMPANY}/documents/bill"
    assert (await http.post(f"{base}/b1/retry")).status_code == 409
    assert (await http.post(f"{base}/nope/retry")).status_code == 404
    assert producer.sent == []

    response = await http.post(f"{base}/b2/retry")

    assert response.status_code == 202
    [(topic, value, key)] = producer.sent
    retry = DomainEvent.from_bytes(value)
    assert (topic, key) == (DOMAIN_EVENTS, COMPANY.encode())
    assert (retry.type, retry.data) == (
        "DocumentRetryRequested",
        {"kind": "bill", "roger_id": "b2"},
    )


async def test_a_path_that_can_name_no_document_is_a_422_naming_it(
    client: tuple[httpx.AsyncClient, SentFacts],
) -> None:
    http, producer = client
    base = f"/v1/companies/{COMPANY}/documents"
    codes = ("invalid_roger_id", "invalid_kind", "invalid_path")
    for path in ("bill/a%00b", "bill/a%0Ab", "bi%00ll/b1", "invoice/b1"):
        for response in (await http.get(f"{base}/{path}"), await http.post(f"{base}/{path}/retry")):
            assert response.status_code == 422, (path, response.text)
            assert response.json()["error"]["code"] in codes
    assert producer.sent == []


async def test_a_roger_id_with_a_slash_is_read_and_retried(
    projected: str, client: tuple[httpx.AsyncClient, SentFacts]
) -> None:
    """The contract lets a Roger id hold "/"; the read API finds it, escaped or not."""
    app = SyncApplication(projected, APP)
    try:
        [create] = app.process(
            DOMAIN_EVENTS, 1, 0, fact("BillSubmitted", bill_data("2026/117")).to_bytes()
        )
        app.process(
            XERO_RESULTS, 1, 0, answer(create, "XeroCommandFailed", message="Refused").to_bytes()
        )
    finally:
        app.close()
    http, producer = client
    for path in ("2026/117", "2026%2F117"):
        found = await http.get(f"/v1/companies/{COMPANY}/documents/bill/{path}")
        assert found.status_code == 200, found.text
        assert (found.json()["roger_id"], found.json()["state"]) == ("2026/117", "failed")
    assert (
        await http.post(f"/v1/companies/{COMPANY}/documents/bill/2026%2F117/retry")
    ).status_code == 202
    [(_, value, _)] = producer.sent
    assert DomainEvent.from_bytes(value).data == {"kind": "bill", "roger_id": "2026/117"}


async def test_bills_made_in_xero_page_newest_first_as_instants(
    client: tuple[httpx.AsyncClient, SentFacts], projected: str
) -> None:
    """Creation times in other offsets compare as instants, not as text."""
    made = {
        "x-1": "2026-11-02T09:00:00+00:00",
        "x-2": "2026-11-02T10:30:00+02:00",  # 08:30 UTC: older than x-1
        "x-3": "2026-11-03T01:00:00+05:00",  # 2 Nov 20:00 UTC: the newest
    }
    with psycopg.connect(projected) as conn:
        for xero_id, created in made.items():
            bill = {"xero_id": xero_id, "number": xero_id.upper(), "created_at": created}
            conn.execute(
                "INSERT INTO sync_xero_bills (company_id, xero_id, bill) VALUES (%s, %s, %s)",
                (COMPANY, xero_id, Jsonb(bill)),
            )
    http, _ = client
    url = f"/v1/companies/{COMPANY}/xero-bills"

    first = (await http.get(url, params={"limit": 2})).json()
    rest = (await http.get(url, params={"limit": 2, "cursor": first["next_cursor"]})).json()

    assert [b["xero_id"] for b in first["bills"]] == ["x-3", "x-1"]
    assert [b["xero_id"] for b in rest["bills"]] == ["x-2"] and rest["next_cursor"] is None
    assert first["bills"][0]["xero_url"].endswith("x-3")
    for bad in hostile_cursors('["2026-11-02", "x"]'):  # and a naive time
        r = await http.get(url, params={"cursor": bad})
        assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_cursor", r.text
    assert (await http.get(url, params={"limit": 0})).status_code == 422
