"""Helpers for pipeline tests of changes made in Xero coming back to Roger (sync-back).

An accountant changes bills "in Xero" through the sandbox's as-accountant admin route
(``/_sandbox/organisations/{tenant}/as-accountant/{path}``); the sandbox sends its signed
webhooks to ingest's ``/v1/xero/webhooks`` once subscribed; what comes back is read from a
Kafka topic (``roger.sync-back``) from the offsets it had when the test began.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition

from shared.contracts.topics import TOPICS
from tests.fixtures.pipeline import CLIENT_ID, XERO_WEBHOOK_KEY, Pipeline, wait_for

Record = tuple[bytes | None, dict[str, Any]]
"""One Kafka record: its key and its JSON value."""


class TopicReader:
    """Reads a topic from the offsets it had when made (the broker is shared by tests)."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.bootstrap, self.topic = bootstrap, topic
        self.start = asyncio.run(self._ends())
        self.seen: list[Record] = []

    async def _ends(self) -> dict[TopicPartition, int]:
        consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap)
        await consumer.start()
        try:
            parts = range(next(t.partitions for t in TOPICS if t.name == self.topic))
            tps = [TopicPartition(self.topic, p) for p in parts]
            return await consumer.end_offsets(tps)  # type: ignore[no-any-return]
        finally:
            await consumer.stop()

    def read(self) -> list[Record]:
        """Every record seen so far: those before, plus what one fetch (up to 1 s) brings."""

        async def fetch() -> list[Record]:
            consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, enable_auto_commit=False)
            await consumer.start()
            try:
                consumer.assign(list(self.start))
                for tp, offset in self.start.items():
                    consumer.seek(tp, offset)
                got: list[Record] = []
                batches = await consumer.getmany(timeout_ms=1000)
                for records in batches.values():
                    got += [(r.key, json.loads(r.value)) for r in records]
                    for r in records:
                        tp = TopicPartition(r.topic, r.partition)
                        self.start[tp] = max(self.start[tp], r.offset + 1)
                return got
            finally:
                await consumer.stop()

        self.seen += asyncio.run(fetch())
        return self.seen


def new_company(pipeline: Pipeline, prefix: str) -> tuple[str, str]:
    """A fresh company id ``{prefix}-{8 hex}`` and the tenant id of a new DKK organisation
    made for it in the sandbox (``Org {company}``); not yet connected."""
    company = f"{prefix}-{uuid.uuid4().hex[:8]}"
    return company, pipeline.new_organisation(f"Org {company}", "DKK")


def subscribe(pipeline: Pipeline, *, lose: bool = False) -> dict[str, Any]:
    """Subscribes ingest to the sandbox's webhooks; returns the subscription's view.

    ``lose=True``: the sandbox drops every delivery (tests of the polling safety net), so
    only the HTTP status is checked; otherwise the intent to receive must have passed
    (``status == "OK"``).
    """
    body: dict[str, Any] = {
        "url": f"{pipeline.ingest_url}/v1/xero/webhooks",
        "key": XERO_WEBHOOK_KEY,
        "client_id": CLIENT_ID,
    }
    if lose:
        body["lose"] = True
    r = httpx.put(f"{pipeline.sandbox_url}/_sandbox/webhooks", json=body, timeout=30)
    assert r.status_code == 200, r.text
    if not lose:
        assert r.json()["status"] == "OK", r.text
    return r.json()  # type: ignore[no-any-return]


def accountant(pipeline: Pipeline, tenant: str, method: str, path: str, body: Any) -> Any:
    """Calls Xero's API ``path`` (e.g. ``"Payments"``) as the organisation's accountant.

    Returns the JSON answer; asserts it was 200.
    """
    r = httpx.request(
        method,
        f"{pipeline.sandbox_url}/_sandbox/organisations/{tenant}/as-accountant/{path}",
        json=body,
        timeout=30,
    )
    assert r.status_code == 200, r.text
    return r.json()


def bill_in_xero(pipeline: Pipeline, tenant: str, roger_id: str, status: str = "AUTHORISED") -> Any:
    """Xero's invoice for Roger's bill ``roger_id`` (by its ``Url``), once it has ``status``.

    Waits up to 90 s.
    """

    def find() -> Any:
        for invoice in pipeline.ledger(tenant)["invoices"]:
            if invoice.get("Url", "").endswith(f"/bills/{roger_id}"):
                if invoice["Status"] == status:
                    return invoice
        return None

    return wait_for(find, 90, f"bill {roger_id} {status} in Xero")


def for_company(events: list[Record], company: str) -> list[dict[str, Any]]:
    """The sync-back events of ``company``: keyed by it and naming it."""
    return [e for key, e in events if key == company.encode() and e["company_id"] == company]


def payment(
    invoice_id: str, amount: int, reference: str = "", date: str = "2026-11-25"
) -> dict[str, Any]:
    """Body of ``PUT Payments``: a payment made by hand of ``amount`` to bill ``invoice_id``
    from account 090 (the sandbox reads a missing ``Reference`` as ``""``)."""
    return {
        "Payments": [
            {
                "Invoice": {"InvoiceID": invoice_id},
                "Account": {"Code": "090"},
                "Date": date,
                "Amount": amount,
                "Reference": reference,
            }
        ]
    }


def void() -> dict[str, Any]:
    """Body of ``POST Invoices/{InvoiceID}`` that voids the bill."""
    return {"Status": "VOIDED"}


def made_in_xero(contact_id: str) -> dict[str, Any]:
    """Body of ``PUT Invoices``: a bill made directly in Xero (``XERO-ONLY-1``, one line of
    50 on account 429) for contact ``contact_id``."""
    return {
        "Invoices": [
            {
                "Type": "ACCPAY",
                "Contact": {"ContactID": contact_id},
                "InvoiceNumber": "XERO-ONLY-1",
                "Date": "2026-11-20",
                "DueDate": "2026-12-20",
                "Status": "AUTHORISED",
                "LineItems": [
                    {
                        "Description": "Ink",
                        "Quantity": 1,
                        "UnitAmount": 50,
                        "AccountCode": "429",
                    }
                ],
            }
        ]
    }
