"""Turning a request body or a topic record into validated Roger events (pure, no I/O)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from shared.contracts.roger_events import MAX_BATCH, RogerEvent, readable_id, validate_event


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


def _decode(body: bytes) -> tuple[Any, str | None]:
    try:
        return json.loads(body.decode("utf-8")), None
    except UnicodeDecodeError:
        return None, "body is not UTF-8"
    except json.JSONDecodeError as exc:
        return None, f"body is not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"


def read_body(body: bytes) -> Intake:
    """One event object or ``{"events": [...]}`` (1..500 events), as the contract says."""
    doc, problem = _decode(body)
    if problem:
        return Intake(malformed=problem)
    if isinstance(doc, dict) and "events" in doc and "type" not in doc:
        raws = doc["events"]
        if not isinstance(raws, list) or not raws:
            return Intake(malformed="'events' must be a non-empty array")
        if len(raws) > MAX_BATCH:
            return Intake(malformed=f"at most {MAX_BATCH} events per request, got {len(raws)}")
    elif isinstance(doc, dict):
        raws = [doc]
    else:
        return Intake(malformed='body must be an event object or {"events": [...]}')
    intake = Intake()
    for index, raw in enumerate(raws):
        event, errors = validate_event(raw)
        if event is None:
            intake.invalid.append(Invalid(index, readable_id(raw), errors))
        else:
            intake.events.append(event)
    return intake


def read_record(value: bytes | None) -> tuple[RogerEvent | None, str | None]:
    """A ``roger.events`` record holds exactly one event; returns it or the reason it is refused."""
    if value is None:
        return None, "record has no value"
    doc, problem = _decode(value)
    if problem:
        return None, problem
    event, errors = validate_event(doc)
    return event, ("; ".join(errors) if errors else None)
