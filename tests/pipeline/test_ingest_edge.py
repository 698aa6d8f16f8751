"""Ingest's edge on the real stack: hostile input is a 422 naming the field, never a 500;
dedupe is per company and a changed body is a 409; the contract's largest bill gets in."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import Any

import httpx

from services.ingest.signature import sign
from shared.contracts.roger_events import content_hash, largest_event, validate_event
from shared.contracts.topics import ROGER_EVENTS_DLQ
from shared.messaging.dead_letters import read_topic
from shared.settings import Settings
from tests.fixtures.pipeline import WEBHOOK_SECRET, Pipeline, wait_for
from tests.support.delivery import produce_raw, produce_roger


def bill_event(company_id: str, bill_id: str, total: str = "21.00") -> dict[str, Any]:
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
            "amount_type": "no_tax",
            "lines": [{"description": "Paper", "quantity": "1", "unit_amount": total}],
            "total": total,
            "attachments": [],
        },
    }


def known_bills(pipeline: Pipeline, company_id: str) -> set[str]:
    return {d["roger_id"] for d in pipeline.documents(company_id)}


def hash_of(raw: dict[str, Any]) -> str:
    event, errors = validate_event(raw)
    assert event is not None, errors
    return content_hash(event)


def test_hostile_values_are_refused_with_the_field_and_nothing_is_published(
    pipeline: Pipeline,
) -> None:
    company = f"edge-{uuid.uuid4().hex[:6]}"
    spliced = {  # raw JSON spliced into a valid event in place of "PLACEHOLDER"
        b'"b\\u0000x"': "data.bill_id: NUL character (U+0000) at position 1: an id cannot hold NUL",
        b'"Paper \\ud800"': "data.lines[0].description: lone surrogate U+D800 at position 6",
        b'"Nordic\\u0007"': "data.vendor.name: control character U+0007 at position 6",
        b"1" * 5000: "data.extra: number of 5000 characters (at most 40)",
        b"[" * 5000 + b"]" * 5000: "nested deeper than 32 levels",
        b"NaN": "data.extra: NaN is not a JSON value",
    }
    targets = {
        b'"b\\u0000x"': ("bill_id",),
        b'"Paper \\ud800"': ("lines", 0, "description"),
        b'"Nordic\\u0007"': ("vendor", "name"),
    }
    for value, expected in spliced.items():
        event = bill_event(company, "b-hostile")
        where: Any = event["data"]
        path = targets.get(value, ("extra",))
        for key in path[:-1]:
            where = where[key]
        where[path[-1]] = "PLACEHOLDER"
        body = json.dumps({"events": [event]}).encode().replace(b'"PLACEHOLDER"', value)
        r = pipeline.post_events({}, body=body)
        assert r.status_code == 422, (value[:20], r.status_code, r.text[:300])
        error = r.json()["error"]
        found = json.dumps(error)
        if error["code"] == "invalid_events":
            [detail] = error["details"]
            assert detail["index"] == 0 and detail["id"] == event["id"]
            assert any(e.startswith(expected) for e in detail["errors"]), detail
        else:  # too deep for the parser: the body as a whole, path from its root
            assert error["code"] == "malformed" and expected in error["message"], found
            assert error["message"].startswith("events[0].data.extra[0][0]")
    assert pipeline.post_events(bill_event(company, "b-marker")).status_code == 202
    wait_for(lambda: "b-marker" in known_bills(pipeline, company), 60, "marker bill")
    assert known_bills(pipeline, company) == {"b-marker"}


def test_hostile_topic_records_are_dead_lettered_with_their_reason(
    pipeline: Pipeline, kafka_bootstrap: str
) -> None:
    company = f"edge-topic-{uuid.uuid4().hex[:6]}"
    nul_id = bill_event(company, "b\x00nul")
    original = bill_event(company, "b-first")
    changed = original | {"occurred_at": "2026-11-21T09:10:00+01:00"}
    records = {
        b'{"id": ' + b"[" * 5000 + b"]" * 5000 + b"}": "id[0][0]",
        b'{"id": ' + b"9" * 5000 + b"}": "id: number of 5000 characters",
        b'{"id": "\\udc00"}': "id: lone surrogate U+DC00",
        json.dumps(nul_id).encode(): "data.bill_id: NUL character (U+0000)",
        json.dumps(changed).encode(): f"already received with another body (sha256 "
        f"{hash_of(original)}, now {hash_of(changed)})",
    }
    produce_roger(kafka_bootstrap, [original])
    produce_raw(kafka_bootstrap, [(company.encode(), value) for value in records])
    produce_roger(kafka_bootstrap, [bill_event(company, "b-after")])
    wait_for(lambda: "b-after" in known_bills(pipeline, company), 60, "bill after the bad records")

    def parked() -> dict[bytes, str]:
        return {
            r.value: dict(r.headers)["rx-dlq-reason"].decode()
            for r in asyncio.run(read_topic(kafka_bootstrap, ROGER_EVENTS_DLQ))
            if r.key == company.encode()
        }

    letters = wait_for(lambda: len(parked()) == len(records) and parked(), 60, "dead letters")
    for value, reason in records.items():
        assert reason in letters[value], (reason, letters[value])
    assert known_bills(pipeline, company) == {"b-first", "b-after"}


def test_dedupe_is_per_company_and_a_changed_body_is_a_conflict(pipeline: Pipeline) -> None:
    first, second = f"edge-a-{uuid.uuid4().hex[:6]}", f"edge-b-{uuid.uuid4().hex[:6]}"
    original = bill_event(first, "b-1")
    assert pipeline.post_events(original).json() == {"accepted": 1, "duplicates": 0}
    # The same event again, spelled differently: a duplicate, counted.
    respelled = json.dumps(original, indent=3, sort_keys=True).encode()
    r = pipeline.post_events({}, body=respelled)
    assert r.status_code == 202 and r.json() == {"accepted": 0, "duplicates": 1}

    changed = json.loads(json.dumps(original))
    changed["data"]["lines"][0]["unit_amount"] = changed["data"]["total"] = "99.00"
    r = pipeline.post_events([bill_event(first, "b-refused-with-it"), changed])
    assert r.status_code == 409, r.text
    error = r.json()["error"]
    assert error["code"] == "event_conflict"
    assert error["details"] == [
        {
            "company_id": first,
            "event_id": original["id"],
            "stored_sha256": hash_of(original),
            "received_sha256": hash_of(changed),
        }
    ]

    # Another company's event with the same id is its own event, not a duplicate.
    other = bill_event(second, "b-2") | {"id": original["id"]}
    assert pipeline.post_events(other).json() == {"accepted": 1, "duplicates": 0}
    wait_for(lambda: known_bills(pipeline, second) == {"b-2"}, 60, "the second company's bill")
    assert pipeline.post_events(bill_event(first, "b-marker")).status_code == 202
    wait_for(lambda: "b-marker" in known_bills(pipeline, first), 60, "marker bill")
    assert known_bills(pipeline, first) == {"b-1", "b-marker"}
    doc = pipeline.doc(first, "bill", "b-1")
    assert doc is not None and "99.00" not in json.dumps(doc)


def test_the_contract_maximum_bill_is_accepted_and_one_byte_over_the_limit_is_not(
    pipeline: Pipeline,
) -> None:
    limit = Settings().max_body_bytes
    company = f"edge-max-{uuid.uuid4().hex[:6]}"
    body = json.dumps(largest_event(company, str(uuid.uuid4()))).encode()
    assert len(body) > 25 * 1024 * 1024  # every 4-byte character as a 12-byte escape
    r = pipeline.post_events({}, body=body)
    assert r.status_code == 202, r.text[:500]
    assert r.json() == {"accepted": 1, "duplicates": 0}

    padded = body[:-1] + b" " * (limit + 1 - len(body)) + b"}"
    assert len(padded) == limit + 1
    r = pipeline.post_events({}, body=padded)
    assert r.status_code == 413 and r.json()["error"]["code"] == "too_large"
    # Without a Content-Length the limit holds as the body streams in.
    signature = sign(WEBHOOK_SECRET, int(time.time()), padded)
    step = 1 << 20
    chunks = (padded[i : i + step] for i in range(0, len(padded), step))
    r = httpx.post(
        f"{pipeline.ingest_url}/v1/events",
        content=chunks,
        headers={"Roger-Signature": signature},
        timeout=60,
    )
    assert r.status_code == 413


def attachment(url: str) -> dict[str, Any]:
    return {
        "filename": "scan.pdf",
        "content_type": "application/pdf",
        "size": 10,
        "sha256": "0" * 64,
        "url": url,
    }


def test_far_future_and_non_http_urls_are_422_naming_the_field(pipeline: Pipeline) -> None:
    company = f"edge-rule-{uuid.uuid4().hex[:6]}"
    future = bill_event(company, "b-future") | {"occurred_at": "9999-12-31T23:59:59+14:00"}
    cases: list[tuple[dict[str, Any], str]] = [(future, "events[0].occurred_at: ")]
    for url in ("file:///etc/passwd", "javascript:alert(1)", "not a url"):
        event = bill_event(company, "b-url")
        event["data"]["attachments"] = [attachment(url)]
        cases.append((event, "events[0].data.attachments[0].url: "))
    for event, path in cases:
        r = pipeline.post_events([event])
        assert r.status_code == 422, r.text[:300]
        error = r.json()["error"]
        assert error["code"] == "invalid_events" and error["message"].startswith(path), error
        [detail] = error["details"]
        assert detail["errors"][0].startswith(path.removeprefix("events[0].")), detail
    # The genuine version after the refused far-future one is the document's current version.
    assert pipeline.post_events([bill_event(company, "b-future")]).status_code == 202
    wait_for(lambda: known_bills(pipeline, company) == {"b-future"}, 60, "the genuine bill")


def test_refusals_are_bounded_however_large_the_invalid_values(pipeline: Pipeline) -> None:
    company = f"edge-big-{uuid.uuid4().hex[:6]}"
    event = bill_event(company, "b-big")
    event["data"]["invoice_number"] = "9" * 5_000_000
    r = pipeline.post_events(event)
    assert r.status_code == 422 and len(r.content) < 2_000, len(r.content)
    assert r.json()["error"]["message"].startswith(
        "data.invoice_number: must be null or at most 255"
    )

    events = []
    for i in range(500):
        event = bill_event(company, f"b-{i}")
        event["data"]["vendor"]["name"] = "n" * 60_000
        events.append(event)
    r = pipeline.post_events(events)
    assert r.status_code == 422 and len(r.content) < 100_000, len(r.content)
    error = r.json()["error"]
    assert len(error["details"]) == 500
    assert error["message"].startswith("events[0].data.vendor.name: must be at most 255")


def test_topic_records_far_in_the_future_or_under_another_key_are_dead_lettered(
    pipeline: Pipeline, kafka_bootstrap: str
) -> None:
    company = f"edge-key-{uuid.uuid4().hex[:6]}"
    future = bill_event(company, "b-future") | {"occurred_at": "9999-12-31T23:59:59+14:00"}
    other_key, no_key = bill_event(company, "b-other-key"), bill_event(company, "b-no-key")
    bad_url = bill_event(company, "b-bad-url")
    bad_url["data"]["attachments"] = [attachment("file:///etc/passwd")]
    records: list[tuple[bytes | None, bytes, str]] = [
        (company.encode(), json.dumps(future).encode(), "occurred_at: must not be more than"),
        (
            b"someone-else",
            json.dumps(other_key).encode(),
            f'record key "someone-else" is not the event\'s company_id "{company}"',
        ),
        (None, json.dumps(no_key).encode(), "record has no key"),
        (company.encode(), json.dumps(bad_url).encode(), "data.attachments[0].url: must be"),
    ]
    produce_raw(kafka_bootstrap, [(key, value) for key, value, _ in records])
    produce_roger(kafka_bootstrap, [bill_event(company, "b-after")])
    wait_for(lambda: "b-after" in known_bills(pipeline, company), 60, "bill after the bad records")
    values = {value for _, value, _ in records}

    def parked() -> dict[bytes, str]:
        return {
            r.value: dict(r.headers)["rx-dlq-reason"].decode()
            for r in asyncio.run(read_topic(kafka_bootstrap, ROGER_EVENTS_DLQ))
            if r.value in values
        }

    letters = wait_for(lambda: len(parked()) == len(records) and parked(), 60, "dead letters")
    for _, value, reason in records:
        assert letters[value].startswith(reason), (reason, letters[value])
    assert known_bills(pipeline, company) == {"b-after"}


def test_a_request_with_megabytes_of_headers_is_refused_before_it_is_read(
    pipeline: Pipeline,
) -> None:
    # The headers come before the signature is checked, so anyone who reaches the port can
    # send them: the HTTP layer must bound them (h11: 16 KiB), not buffer what it is given.
    port = int(pipeline.ingest_url.rsplit(":", 1)[1])

    async def send() -> bytes:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"POST /v1/events HTTP/1.1\r\nHost: ingest\r\nX-Padding: ")
        try:
            for _ in range(64):  # up to 4 MiB, in 64 KiB pieces
                writer.write(b"a" * 65536)
                await writer.drain()
        except ConnectionError:
            pass  # refused while sending: what we want; read what it said
        try:
            answer = await asyncio.wait_for(reader.read(4096), 10)
        except ConnectionError:
            answer = b"(reset)"
        writer.close()
        return answer

    answer = asyncio.run(send())
    assert answer.startswith(b"HTTP/1.1 400") or answer == b"(reset)", answer[:200]
