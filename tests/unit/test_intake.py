"""Roger events in: signatures, body shapes and the contract's validation rules."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from services.ingest.intake import read_body, read_record
from services.ingest.signature import sign, verify

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "contracts" / "examples"


def example(name: str) -> dict:  # type: ignore[type-arg]
    return json.loads((EXAMPLES / name).read_text())


@pytest.mark.skipif(not EXAMPLES.exists(), reason="contract examples not beside the repo")
def test_every_contract_example_is_valid() -> None:
    events = [json.loads(p.read_text()) for p in sorted(EXAMPLES.glob("*.json"))]
    intake = read_body(json.dumps({"events": events}).encode())
    assert intake.invalid == [] and intake.malformed is None
    assert len(intake.events) == len(events) == 7


def test_signature_any_current_secret_and_fresh_timestamp() -> None:
    body, now = b'{"a":1}', time.time()
    header = sign("new", int(now), body)
    assert verify(header, body, ["old", "new"], now, 300) is None
    assert verify(header + ",v1=00", body, ["new"], now, 300) is None  # several v1 values
    assert verify(header, body + b" ", ["new"], now, 300) == "signature does not match"
    assert "300" in (verify(header, body, ["new"], now + 301, 300) or "")
    assert verify(None, body, ["new"], now, 300) == "missing Roger-Signature header"
    assert verify("t=abc", body, ["new"], now, 300) == "malformed Roger-Signature header"


def base_event() -> dict:  # type: ignore[type-arg]
    return {
        "id": "00000000-0000-4000-8000-000000000001",
        "type": "bill.paid",
        "version": 1,
        "company_id": "acme",
        "occurred_at": "2026-11-21T09:11:00+01:00",
        "data": {
            "bill_id": "b",
            "payment_id": "p",
            "amount": "10.00",
            "currency": "DKK",
            "paid_on": "2026-11-20",
            "payment_account_code": None,
        },
    }


def test_invalid_events_are_reported_by_index_and_id() -> None:
    bad = base_event()
    bad["data"]["amount"] = 10  # money is a string, never a JSON number
    unknown_fields = base_event()
    unknown_fields["extra"] = {"ignored": True}
    intake = read_body(json.dumps({"events": [unknown_fields, bad]}).encode())
    assert len(intake.events) == 1
    [invalid] = intake.invalid
    assert invalid.index == 1 and invalid.id == bad["id"] and "amount" in invalid.errors[0]


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"\xff\xfe", "not UTF-8"),
        (b"[1, 2]", "event object"),
        (b'{"events": []}', "non-empty"),
        (json.dumps({"events": [{}] * 501}).encode(), "at most 500"),
    ],
)
def test_unreadable_bodies_are_refused_whole(body: bytes, reason: str) -> None:
    assert reason in (read_body(body).malformed or "")


def test_topic_record_reasons() -> None:
    assert read_record(None, b"acme") == (None, "record has no value")
    event, reason = read_record(json.dumps(base_event() | {"version": 2}).encode(), b"acme")
    assert event is None and "version" in (reason or "")
    event, reason = read_record(json.dumps(base_event()).encode(), b"acme")
    assert event is not None and reason is None


def test_hygiene_problems_make_that_event_invalid_with_its_path() -> None:
    clean, nul = base_event(), base_event()
    nul["data"]["bill_id"] = "b\x00"
    body = json.dumps({"events": [clean, nul]}).encode()
    intake = read_body(body)
    assert len(intake.events) == 1 and intake.malformed is None
    [invalid] = intake.invalid
    assert invalid.index == 1 and invalid.id == nul["id"]
    assert invalid.errors == [
        "data.bill_id: NUL character (U+0000) at position 1: an id cannot hold NUL"
    ]


def test_an_id_with_a_lone_surrogate_is_echoed_printably() -> None:
    body = json.dumps(base_event() | {"id": "\ud800"}).encode()
    [invalid] = read_body(body).invalid
    assert invalid.id == "\\ud800" and invalid.errors[0].startswith("id: lone surrogate U+D800")


def test_hygiene_problems_beside_the_events_make_the_body_malformed() -> None:
    body = b'{"events": [' + json.dumps(base_event()).encode() + b'], "n": ' + b"7" * 5000 + b"}"
    assert read_body(body).malformed == "n: number of 5000 characters (at most 40)"


def test_every_event_of_a_batch_is_checked_however_many_are_bad() -> None:
    bad = []
    for i in range(30):
        event = base_event() | {"id": f"00000000-0000-4000-8000-{i:012d}"}
        event["data"] = event["data"] | {"payment_id": "\x01"}
        bad.append(event)
    intake = read_body(json.dumps({"events": bad}).encode())
    assert intake.events == [] and len(intake.invalid) == 30


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (b"[" * 5000 + b"]" * 5000, "nested deeper than 32 levels"),
        (b'{"id": ' + b"1" * 5000 + b"}", "id: number of 5000 characters"),
        (b'{"id": "\\udc00"}', "id: lone surrogate U+DC00"),
        (json.dumps(base_event() | {"company_id": "ac\x00me"}).encode(), "company_id: NUL"),
        (json.dumps(base_event() | {"x": float("inf")}).encode(), "x: Infinity is not a JSON"),
    ],
)
def test_topic_records_get_a_reason_never_an_exception(value: bytes, reason: str) -> None:
    event, refused = read_record(value, b"acme")
    assert event is None and reason in (refused or "")


@pytest.mark.parametrize("t", ["1" * 5000, "\u0661\u0662", "9" * 13, ""])
def test_a_signature_timestamp_that_is_not_plain_unix_seconds_is_malformed(t: str) -> None:
    header = f"t={t},v1=00"
    assert verify(header, b"{}", ["s"], time.time(), 300) == "malformed Roger-Signature header"
