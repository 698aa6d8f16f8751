"""Bad input gets the documented error and loses nothing; a refused batch leaves Kafka alone."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import Any

from shared.contracts.topics import ROGER_EVENTS_DLQ
from shared.messaging.dead_letters import read_topic
from shared.settings import Settings
from tests.fixtures.pipeline import Pipeline, wait_for
from tests.support.delivery import produce_raw, produce_roger


def bill_event(company_id: str, bill_id: str) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "type": "bill.submitted",
        "version": 1,
        "company_id": company_id,
        "occurred_at": "2026-11-20T09:10:00+01:00",
        "data": {
            "bill_id": bill_id,
            "vendor": {"id": "ven_1", "name": "Nordic Paper Supply ApS"},
            "invoice_number": "INV-1",
            "issue_date": "2026-11-02",
            "due_date": "2026-12-02",
            "currency": "DKK",
            "amount_type": "inclusive",
            "lines": [{"description": "Paper", "quantity": "2", "unit_amount": "10.50"}],
            "total": "21.00",
            "attachments": [],
        },
    }


def known_bills(pipeline: Pipeline, company_id: str) -> set[str]:
    return {d["roger_id"] for d in pipeline.documents(company_id)}


def test_signatures_are_required_and_checked(pipeline: Pipeline) -> None:
    event = bill_event("bad-sig", "b1")
    body = json.dumps(event).encode()
    unsigned = pipeline.post_events(event, body=body, secret="")
    import httpx

    r = httpx.post(f"{pipeline.ingest_url}/v1/events", content=body)
    assert r.status_code == 401 and r.json()["error"]["code"] == "bad_signature"
    assert pipeline.post_events(event, secret="not-the-secret").status_code == 401
    assert pipeline.post_events(event, timestamp=int(time.time()) - 301).status_code == 401
    assert unsigned.status_code == 401


def test_malformed_wrong_version_and_oversized_requests(pipeline: Pipeline) -> None:
    r = pipeline.post_events({}, body=b"{not json")
    assert r.status_code == 422 and "not JSON" in r.json()["error"]["message"]
    wrong = bill_event("bad-version", "b1")
    wrong["version"] = 2
    r = pipeline.post_events([bill_event("bad-version", "b0"), wrong])
    assert r.status_code == 422
    details = r.json()["error"]["details"]
    assert [d["index"] for d in details] == [1] and details[0]["id"] == wrong["id"]
    assert any("version" in e for e in details[0]["errors"])
    limit = Settings().max_body_bytes
    big = b'{"events": [' + b" " * (limit - 13) + b"]}"
    assert len(big) == limit + 1
    assert pipeline.post_events({}, body=big).status_code == 413


def test_a_refused_batch_puts_nothing_on_kafka(pipeline: Pipeline) -> None:
    company = f"refused-{uuid.uuid4().hex[:6]}"
    bad = bill_event(company, "b-bad")
    bad["data"]["total"] = "99.00"  # inclusive: must equal the lines' sum
    r = pipeline.post_events([bill_event(company, "b-good-but-refused"), bad])
    assert r.status_code == 422
    assert "differs from the sum of the lines" in json.dumps(r.json())
    # Same company, same partition: once the marker is seen, anything published before it
    # would have been seen too.
    assert pipeline.post_events(bill_event(company, "b-marker")).status_code == 202
    wait_for(lambda: "b-marker" in known_bills(pipeline, company), 60, "marker bill")
    assert known_bills(pipeline, company) == {"b-marker"}


def test_invalid_topic_record_is_dead_lettered_and_does_not_stop_its_partition(
    pipeline: Pipeline, kafka_bootstrap: str
) -> None:
    company = f"dlq-{uuid.uuid4().hex[:6]}"
    garbage = b'{"id": "not-a-uuid", "type": "bill.submitted", ' + company.encode() + b"}"
    invalid = bill_event(company, "b-invalid")
    del invalid["data"]["lines"]
    produce_raw(
        kafka_bootstrap,
        [(company.encode(), garbage), (company.encode(), json.dumps(invalid).encode())],
    )
    produce_roger(kafka_bootstrap, [bill_event(company, "b-after")])
    wait_for(lambda: "b-after" in known_bills(pipeline, company), 60, "bill after the bad records")
    assert known_bills(pipeline, company) == {"b-after"}

    def parked() -> list[Any]:
        return [
            r
            for r in asyncio.run(read_topic(kafka_bootstrap, ROGER_EVENTS_DLQ))
            if r.key == company.encode()
        ]

    records = wait_for(lambda: len(parked()) == 2 and parked(), 30, "two dead letters")
    assert {r.value for r in records} == {garbage, json.dumps(invalid).encode()}
    reasons = [dict(r.headers)["rx-dlq-reason"].decode() for r in records]
    assert any("not JSON" in reason for reason in reasons)
    assert any("lines" in reason for reason in reasons)
