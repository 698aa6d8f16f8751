"""Turning a request body or a topic record into validated Roger events (pure, no I/O).

Order of checks: readable (UTF-8, JSON, not too deep) -> hygiene (``hygiene.problems``: no
control characters, lone surrogates, NUL, over-long numbers anywhere) -> the contract's schema
and rules. Nothing here raises on any input.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from services.ingest.hygiene import decode, printable, problems
from shared.contracts.domain_events import from_roger
from shared.contracts.roger_events import MAX_BATCH, RogerEvent, readable_id, validate_event
from shared.contracts.topics import MAX_RECORD_BYTES

# Room a Kafka record needs beside its value: key, headers, record and batch framing (a few
# hundred bytes in practice).
RECORD_FRAMING_BYTES = 64 * 1024


@dataclass
class Invalid:
    index: int
    id: str | None
    errors: list[str]

    def as_dict(self) -> dict[str, Any]:
        return {"index": self.index, "id": self.id, "errors": self.errors}


@dataclass
class Intake:
    events: list[RogerEvent] = field(default_factory=list)
    invalid: list[Invalid] = field(default_factory=list)
    # Set when the body as a whole is unreadable (not JSON, wrong shape).
    malformed: str | None = None


def read_body(body: bytes) -> Intake:
    """One event object or ``{"events": [...]}`` (1..500 events), as the contract says.

    A problem outside any event (unreadable body, a bad value beside ``events``) makes the
    body ``malformed``; one inside an event makes that event invalid, its errors starting
    with the field's path within the event (``data/lines/0/description: ...``). An event is
    judged the same alone, in a batch or on the topic.
    """
    doc, unreadable = decode(body)
    if unreadable:
        return Intake(malformed=unreadable)
    if isinstance(doc, dict) and "events" in doc and "type" not in doc:
        raws = doc["events"]
        if not isinstance(raws, list) or not raws:
            return Intake(malformed="'events' must be a non-empty array")
        if len(raws) > MAX_BATCH:
            return Intake(malformed=f"at most {MAX_BATCH} events per request, got {len(raws)}")
        outside = problems({**doc, "events": []})
        if outside:
            return Intake(malformed="; ".join(p.describe() for p in outside))
    elif isinstance(doc, dict):
        raws = [doc]
    else:
        return Intake(malformed='body must be an event object or {"events": [...]}')
    intake = Intake()
    for index, raw in enumerate(raws):
        found = problems(raw)
        if found:
            errors = [p.describe() for p in found]
            intake.invalid.append(Invalid(index, _safe_id(raw), errors))
            continue
        event, errors = validate_event(raw)
        if event is None:
            intake.invalid.append(Invalid(index, readable_id(raw), errors))
        else:
            intake.events.append(event)
    return intake


def read_record(value: bytes | None) -> tuple[RogerEvent | None, str | None]:
    """A ``roger.events`` record holds exactly one event; returns it or the reason it is refused.

    The reason is what the dead letter's ``rx-dlq-reason`` says: printable, paths included.
    """
    if value is None:
        return None, "record has no value"
    doc, unreadable = decode(value)
    if unreadable:
        return None, unreadable
    found = problems(doc)
    if found:
        return None, "; ".join(p.describe() for p in found)
    event, errors = validate_event(doc)
    return event, ("; ".join(errors) if errors else None)


def _safe_id(raw: Any) -> str | None:
    # The id goes back in the 422 body: a lone surrogate in it could not even be encoded.
    found = readable_id(raw)
    return None if found is None else printable(found)


class EventTooLarge(Exception):
    """The event, as a domain event, would not fit in one Kafka record (``MAX_RECORD_BYTES``).

    The contract's largest event fits with room to spare; only unknown extra fields can make
    a valid event this large.
    """

    def __init__(self, company_id: str, event_id: str, size: int) -> None:
        self.company_id, self.event_id, self.size = company_id, event_id, size
        self.limit = MAX_RECORD_BYTES - RECORD_FRAMING_BYTES
        super().__init__(
            f"event {event_id} of company {company_id} is {size} bytes as a domain event, "
            f"over the {self.limit} a Kafka record holds"
        )


def domain_record(event: RogerEvent, source: Literal["http", "kafka"]) -> bytes:
    """The value of the event's record on ``rx.domain-events.v1``; raises :class:`EventTooLarge`."""
    value = from_roger(event, source).to_bytes()
    if len(value) > MAX_RECORD_BYTES - RECORD_FRAMING_BYTES:
        raise EventTooLarge(event.company_id, event.id, len(value))
    return value
