"""Ingest's refusals: one line each, field path first, bounded; the edge's own rules
(``occurred_at`` not far in the future, attachment URLs, record key = company_id)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.ingest.intake import MAX_FUTURE, read_body, read_record
from shared.contracts.messages import MAX_ERRORS_LISTED, MAX_QUOTED_CHARS

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def bill(**data: Any) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "type": "bill.submitted",
        "version": 1,
        "company_id": "acme",
        "occurred_at": "2026-11-20T09:10:00+01:00",
        "data": {
            "bill_id": "b1",
            "vendor": {"id": "ven_1", "name": "Nordic Paper Supply ApS"},
            "invoice_number": "INV-1",
            "issue_date": "2026-11-02",
            "due_date": "2026-12-02",
            "currency": "DKK",
            "amount_type": "no_tax",
            "lines": [{"description": "Paper", "quantity": "1", "unit_amount": "21.00"}],
            "total": "21.00",
            "attachments": [],
        }
        | data,
    }


def attachment(url: str) -> dict[str, Any]:
    return {
        "filename": "a.pdf",
        "content_type": "application/pdf",
        "size": 10,
        "sha256": "0" * 64,
        "url": url,
    }


def errors_of(event: dict[str, Any], now: datetime = NOW) -> list[str]:
    intake = read_body(json.dumps(event).encode(), now)
    assert intake.malformed is None
    return [e for bad in intake.invalid for e in bad.errors]


def one_line_path_first(message: str, path: str) -> None:
    assert message.startswith(f"{path}: "), message
    assert "\n" not in message and "errors.pydantic.dev" not in message, message


# --------------------------------------------------------------------------- 1. occurred_at


@pytest.mark.parametrize(
    "occurred_at",
    ["9999-12-31T23:59:59+14:00", "9999-12-31T23:59:59-14:00", "2026-11-30T13:01:00Z"],
)
def test_occurred_at_beyond_the_skew_allowance_is_refused(occurred_at: str) -> None:
    [error] = errors_of(bill() | {"occurred_at": occurred_at})
    one_line_path_first(error, "occurred_at")
    assert "in the future" in error and "clock skew" in error


def test_occurred_at_within_the_skew_allowance_is_accepted() -> None:
    within = (NOW + MAX_FUTURE - timedelta(seconds=1)).isoformat()
    assert errors_of(bill() | {"occurred_at": within}) == []
    # The same instant spelled with another offset is the same instant.
    assert errors_of(bill() | {"occurred_at": "2026-11-30T13:59:00+01:00"}) == []


def test_a_future_occurred_at_on_the_topic_is_a_reason() -> None:
    value = json.dumps(bill() | {"occurred_at": "9999-12-31T23:59:59+14:00"}).encode()
    event, reason = read_record(value, b"acme", NOW)
    assert event is None and (reason or "").startswith("occurred_at: ")


# --------------------------------------------------------------------------- 2. bounded


def test_a_huge_invalid_value_is_quoted_cut() -> None:
    huge = "x" * 5_000_000
    [error] = errors_of(bill(invoice_number=huge))
    one_line_path_first(error, "data.invoice_number")
    assert len(error) < 300 and "5000000" in error


def test_a_huge_invalid_string_is_quoted_cut_with_its_length() -> None:
    [error] = errors_of(bill(currency="D" * 60_000))
    quoted = "D" * MAX_QUOTED_CHARS
    assert f'"{quoted}"…(60000 characters)' in error and len(error) < 400


def test_a_batch_of_500_bad_events_gives_a_bounded_refusal() -> None:
    events = [bill(vendor={"id": "v", "name": "n" * 60_000}) for _ in range(500)]
    intake = read_body(json.dumps({"events": events}).encode(), NOW)
    message, details = intake.refusal()
    assert len(details) == 500  # one entry per invalid event, as documented
    listed = [e for d in details for e in d["errors"] if not e.startswith("and ")]
    assert len(listed) == MAX_ERRORS_LISTED
    assert details[-1]["errors"] == ["and 1 more"]
    assert len(json.dumps({"message": message, "details": details})) < 100_000
    assert message.startswith("events[0].data.vendor.name: must be at most 255 characters")
    assert "(and 499 more); 500 invalid event(s)" in message


def test_a_huge_id_is_echoed_cut() -> None:
    [bad] = read_body(json.dumps(bill() | {"id": "i" * 1_000_000}).encode(), NOW).invalid
    assert bad.id is not None and len(bad.id) < 200


# --------------------------------------------------------------------------- 3. record key


def test_a_record_keyed_by_another_company_is_refused_naming_both() -> None:
    value = json.dumps(bill()).encode()
    event, reason = read_record(value, b"other-co", NOW)
    assert event is None
    assert reason == (
        'record key "other-co" is not the event\'s company_id "acme" '
        "(the contract: record key = company_id)"
    )
    event, reason = read_record(value, None, NOW)
    assert event is None and reason and "no key" in reason and '"acme"' in reason
    event, reason = read_record(value, b"\xff\x00", NOW)
    assert event is None and reason and "\\xff" in reason and "\\u0000" in reason
    assert read_record(value, b"acme", NOW)[1] is None


# --------------------------------------------------------------------------- 4. format


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            {"occurred_at": "yesterday"},
            "occurred_at: must be an RFC 3339 date-time with a UTC offset "
            '(2026-11-20T09:10:00+01:00), got the string "yesterday"',
        ),
        ({"data": None}, "data: must be an object, got null"),
        ({"version": "1"}, 'version: must be the integer 1, got the string "1"'),
        ({"version": 2}, "version: must be the integer 1, got the integer 2"),
        ({"company_id": ""}, "company_id: must match ^[A-Za-z0-9_-]{1,64}$, got the empty string"),
    ],
)
def test_messages_say_what_was_given_and_what_is_expected(
    change: dict[str, Any], expected: str
) -> None:
    assert errors_of(bill() | change) == [expected]


def test_missing_members_are_named_by_their_own_path() -> None:
    event = bill()
    del event["data"]["lines"]
    assert errors_of(event) == ["data.lines: is required"]


def test_nullable_fields_say_so() -> None:
    [error] = errors_of(bill(invoice_number=5))
    assert error == "data.invoice_number: must be a string or null, got the integer 5"


@pytest.mark.parametrize(
    "change",
    [
        {"occurred_at": "yesterday"},
        {"data": None},
        {"version": "1"},
        {"type": "bill.exploded", "data": []},
        {"id": 5, "company_id": None},
        {"occurred_at": "2026-02-30T09:00:00+01:00"},
    ],
)
def test_every_message_is_one_line_path_first_and_listed_once(change: dict[str, Any]) -> None:
    errors = errors_of(bill() | change)
    assert errors and len(errors) == len(set(errors))
    for error in errors:
        path = error.split(": ", 1)[0]
        assert path in (*change, "(event)") or path.split(".")[0] in change, error
        one_line_path_first(error, path)


def test_the_422_message_starts_with_the_full_path() -> None:
    good, bad = bill(), bill(attachments=[attachment("https://f.example/a"), attachment("x")])
    message, _ = read_body(json.dumps({"events": [good, bad]}).encode(), NOW).refusal()
    assert message.startswith("events[1].data.attachments[1].url: ")
    message, _ = read_body(json.dumps(bad).encode(), NOW).refusal()
    assert message.startswith("data.attachments[1].url: ")


# --------------------------------------------------------------------------- 5. attachment url


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "javascript:alert(1)",
        "not a url",
        "",
        "/relative/path.pdf",
        "https://",
        "http:///no-host",
        "ftp://files.example/a.pdf",
        "https://files.example:99999/a.pdf",
        "https://files.example/a b.pdf",
        "https://[::1/a.pdf",
    ],
)
def test_attachment_urls_must_be_absolute_http_with_a_host(url: str) -> None:
    event = bill(attachments=[attachment("https://files.roger.example/ok.pdf"), attachment(url)])
    [error] = errors_of(event)
    one_line_path_first(error, "data.attachments[1].url")
    assert "must be an absolute http(s) URL with a host" in error


@pytest.mark.parametrize(
    "url",
    [
        "https://files.roger.example/a.pdf?X-Amz-Signature=abc&X-Amz-Expires=300",
        "HTTP://Files.Example:8443/a.pdf",
        "http://127.0.0.1/a.pdf",  # syntactically fine; the writer's SSRF guard refuses it
    ],
)
def test_absolute_http_urls_are_accepted(url: str) -> None:
    assert errors_of(bill(attachments=[attachment(url)])) == []
