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
    assert read_record(None) == (None, "record has no value")
    event, reason = read_record(json.dumps(base_event() | {"version": 2}).encode())
    assert event is None and "version" in (reason or "")
    event, reason = read_record(json.dumps(base_event()).encode())
    assert event is not None and reason is None
