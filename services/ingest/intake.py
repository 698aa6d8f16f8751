"""Turning a request body or a topic record into validated Roger events (pure, no I/O).

Order of checks: readable (UTF-8, JSON, not too deep) -> hygiene (``hygiene.problems``: no
control characters, lone surrogates, NUL, over-long numbers anywhere) -> the contract's schema
and rules -> the edge's own: ``occurred_at`` not beyond :data:`MAX_FUTURE` ahead of now, and on
the topic, record key = ``company_id``. Nothing here raises on any input.

Every reason is one line starting with the field's path (``shared.contracts.messages``), each
value it quotes is cut to 100 characters and a refusal lists at most 50 errors.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from services.ingest.hygiene import clean, decode, printable, problems
from shared.contracts.domain_events import from_roger
from shared.contracts.messages import MAX_ERRORS_LISTED, described, listed, prefixed, quote
from shared.contracts.roger_events import MAX_BATCH, RogerEvent, readable_id, validate_event
from shared.contracts.topics import MAX_RECORD_BYTES

# Room a Kafka record needs beside its value: key, headers, record and batch framing (a few
# hundred bytes in practice).
RECORD_FRAMING_BYTES = 64 * 1024

# Clock skew allowance: how far ahead of our clock an ``occurred_at`` may be. Roger's clock and
# ours disagree by seconds (both keep NTP time); an hour is generous for that. Anything further
# ahead is a bug or an attack, and would do lasting harm: versions of a document are ordered by
# ``occurred_at`` (roger-events.md, Delivery), so a version dated 9999 would stay the current
# one forever and every later genuine event of the document would be ignored as older.
MAX_FUTURE = timedelta(hours=1)


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
    # Whether the body was ``{"events": [...]}`` (paths in the refusal start ``events[i]``).
    batch: bool = False

    def refusal(self) -> tuple[str, list[dict[str, Any]]]:
        """The 422's message and details for ``invalid`` (call only when there is one).

        One detail per invalid event (``index``, ``id``, ``errors``), as integration-api.md
        says; at most :data:`MAX_ERRORS_LISTED` errors are listed over all of them, an event's
        list ending ``and N more`` when some of its own were left out. The message starts with
        the first error, its path from the body's root (``events[3].data.total: ...``).
        """
        budget = MAX_ERRORS_LISTED
        details = []
        for bad in self.invalid:
            shown = listed(bad.errors, budget) if budget else [f"and {len(bad.errors)} more"]
            budget = max(0, budget - len(bad.errors))
            details.append({"index": bad.index, "id": bad.id, "errors": shown})
        first = self.invalid[0]
        where = f"events[{first.index}]" if self.batch else ""
        head = prefixed(where, first.errors[0]) if where else first.errors[0]
        total = sum(len(bad.errors) for bad in self.invalid)
        more = f" (and {total - 1} more)" if total > 1 else ""
        return (
            f"{head}{more}; {len(self.invalid)} invalid event(s), none of the batch was accepted",
            details,
        )


def read_body(body: bytes, now: datetime | None = None) -> Intake:
    """One event object or ``{"events": [...]}`` (1..500 events), as the contract says.

    A problem outside any event (unreadable body, a bad value beside ``events``) makes the
    body ``malformed``; one inside an event makes that event invalid, its errors starting
    with the field's path within the event (``data.lines[0].description: ...``). An event is
    judged the same alone, in a batch or on the topic. ``now`` (default: the clock) bounds
    ``occurred_at``.
    """
    doc, unreadable = decode(body)
    if unreadable:
        return Intake(malformed=unreadable)
    looked = clean(body.decode("utf-8"), doc)  # decode() read it as UTF-8 already
    batch = isinstance(doc, dict) and "events" in doc and "type" not in doc
    if isinstance(doc, dict) and batch:
        raws = doc["events"]
        if not isinstance(raws, list) or not raws:
            return Intake(malformed=f"events: must be a non-empty array, got {described(raws)}")
        if len(raws) > MAX_BATCH:
            return Intake(malformed=f"events: at most {MAX_BATCH} per request, got {len(raws)}")
        outside = [] if looked else problems({**doc, "events": []})
        if outside:
            return Intake(malformed="; ".join(p.describe() for p in outside))
    elif isinstance(doc, dict):
        raws = [doc]
    else:
        return Intake(
            malformed=f'(body): must be an event object or {{"events": [...]}}, '
            f"got {described(doc)}"
        )
    intake = Intake(batch=batch)
    for index, raw in enumerate(raws):
        event, errors = _read_event(raw, now, looked)
        if event is None:
            intake.invalid.append(Invalid(index, _safe_id(raw), errors))
        else:
            intake.events.append(event)
    return intake


def read_record(
    value: bytes | None, key: bytes | None, now: datetime | None = None
) -> tuple[RogerEvent | None, str | None]:
    """A ``roger.events`` record holds exactly one event, keyed by its ``company_id``; returns
    the event or the reason the record is refused.

    The reason is what the dead letter's ``rx-dlq-reason`` says: printable, paths included,
    at most :data:`MAX_ERRORS_LISTED` errors.
    """
    if value is None:
        return None, "record has no value"
    doc, unreadable = decode(value)
    if unreadable:
        return None, unreadable
    event, errors = _read_event(doc, now, clean(value.decode("utf-8"), doc))
    if event is None:
        return None, "; ".join(listed(errors))
    # roger-events.md, Delivery: "Roger produces the same JSON (one event per record, UTF-8,
    # no signature) to the topic `roger.events`, record key = `company_id`." Kafka keeps order
    # per partition, and the partition follows the key: a record under another key (or none)
    # could overtake or trail its company's other events, so it is refused, not guessed.
    company = quote(event.company_id)
    if key is None:
        return None, f"record has no key; the contract's key is the event's company_id {company}"
    if key != event.company_id.encode():
        shown = quote(key.decode("utf-8", "backslashreplace"))
        return None, (
            f"record key {shown} is not the event's company_id {company} "
            "(the contract: record key = company_id)"
        )
    return event, None


def _read_event(
    raw: Any, now: datetime | None, looked: bool
) -> tuple[RogerEvent | None, list[str]]:
    """Hygiene, then the contract, then the edge's own rules; the first that refuses says why.

    ``looked``: the text ``raw`` came from passed :func:`hygiene.clean`, so the walk is skipped.
    """
    found = [] if looked else problems(raw)
    if found:
        return None, [p.describe() for p in found]
    event, errors = validate_event(raw)
    if event is None:
        return None, errors
    errors = edge_errors(event, now or datetime.now(UTC))
    return (None, errors) if errors else (event, [])


def edge_errors(event: RogerEvent, now: datetime) -> list[str]:
    """What the contract's schema cannot say but the edge must refuse: an ``occurred_at``
    more than :data:`MAX_FUTURE` ahead of ``now`` (an aware datetime)."""
    if event.occurred_at - now > MAX_FUTURE:
        limit = (now + MAX_FUTURE).astimezone(UTC).isoformat(timespec="seconds")
        return [
            f"occurred_at: must not be more than {_hours(MAX_FUTURE)} in the future "
            f"(clock skew allowance; now + allowance = {limit}), "
            f"got {quote(event.occurred_at.isoformat())}"
        ]
    return []


def _hours(span: timedelta) -> str:
    hours = span.total_seconds() / 3600
    return "1 hour" if hours == 1 else f"{hours:g} hours"


def _safe_id(raw: Any) -> str | None:
    # The id goes back in the 422 body: clipped (it may be megabytes) and printable (a lone
    # surrogate in it could not even be encoded).
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
