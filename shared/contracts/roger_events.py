"""Roger events, version 1: validation exactly as the contract says, and typed views.

The JSON Schema shipped with the contract is the source of truth for shape
(``shared/contracts/schemas/roger-events.v1.schema.json``, a copy of
``../shared/contracts/roger-events.schema.json``); the rules a schema cannot
say (offsets on timestamps, totals) are checked here.

Validation is compiled once per process. When ``jsonschema_rs`` (a compiled
validator, about 150x faster here) is installed, it answers "valid?" first; any
event it refuses is validated again by ``jsonschema``, whose verdict and messages
stand, so a refusal reads the same with or without it.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from jsonschema import Draft202012Validator, FormatChecker
from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError

from shared.contracts.messages import (
    described,
    field_path,
    pydantic_messages,
    schema_messages,
    unique,
)

try:  # optional accelerator, see the module's docstring
    import jsonschema_rs
except ImportError:  # pragma: no cover - depends on the environment
    jsonschema_rs = None  # type: ignore[assignment]

SCHEMA_PATH = Path(__file__).parent / "schemas" / "roger-events.v1.schema.json"
MAX_BATCH = 500
CENT = Decimal("0.01")

# The contract's size bounds (roger-events.md, "line" and "bill.submitted"; the schema's maxItems
# and maxLength): the largest event follows from them, and every size limit from that.
MAX_LINES = 500
MAX_DESCRIPTION_CHARS = 4000
MAX_ATTACHMENTS = 10
# The longest JSON spelling of one character: an astral character (4 bytes of UTF-8) written
# as a surrogate-pair escape, 12 bytes. Python's json.dumps spells every such character so.
LONGEST_CHARACTER = "\U0001f9fe"

# Fields where text may run over several lines: tab, newline and carriage return are allowed
# there and nowhere else (services/ingest/hygiene.py).
FREE_TEXT_FIELDS = frozenset({"description", "reason", "notes"})

EventType = Literal[
    "bill.submitted",
    "bill.updated",
    "bill.deleted",
    "bill.paid",
    "payment.reversed",
    "credit_note.submitted",
    "receipt.submitted",
    "vendor.updated",
]


class _Model(BaseModel):
    # Unknown fields are ignored for forward compatibility (contract: "Envelope").
    model_config = ConfigDict(extra="ignore", frozen=True)


class Address(_Model):
    line1: str | None = None
    line2: str | None = None
    city: str | None = None
    postal_code: str | None = None
    country: str | None = None


class BankAccount(_Model):
    iban: str | None = None
    account_number: str | None = None
    bic: str | None = None


class Vendor(_Model):
    id: str
    name: str
    email: str | None = None
    tax_number: str | None = None
    country: str | None = None
    address: Address | None = None
    bank_account: BankAccount | None = None


class Tracking(_Model):
    name: str
    option: str


class Line(_Model):
    description: str
    quantity: Decimal
    unit_amount: Decimal
    category_code: str | None = None
    tax_type: str | None = None
    tracking: tuple[Tracking, ...] = ()


class Attachment(_Model):
    filename: str
    content_type: str
    size: int
    sha256: str
    url: str


AmountType = Literal["exclusive", "inclusive", "no_tax"]


class BillData(_Model):
    """``bill.submitted`` and ``bill.updated`` carry the same fields."""

    bill_id: str
    vendor: Vendor
    invoice_number: str | None = None
    issue_date: date
    due_date: date
    currency: str
    amount_type: AmountType
    lines: tuple[Line, ...]
    total: Decimal
    attachments: tuple[Attachment, ...] = ()


class BillDeletedData(_Model):
    bill_id: str


class BillPaidData(_Model):
    bill_id: str
    payment_id: str
    amount: Decimal
    currency: str
    paid_on: date
    payment_account_code: str | None = None


class PaymentReversedData(_Model):
    bill_id: str
    payment_id: str
    reason: str | None = None


class CreditNoteData(_Model):
    credit_note_id: str
    vendor: Vendor
    credit_note_number: str | None = None
    issue_date: date
    currency: str
    amount_type: AmountType
    lines: tuple[Line, ...]
    total: Decimal
    attachments: tuple[Attachment, ...] = ()
    applies_to_bill_id: str | None = None


class ReceiptData(_Model):
    receipt_id: str
    vendor: Vendor
    receipt_number: str | None = None
    paid_on: date
    currency: str
    amount_type: AmountType
    lines: tuple[Line, ...]
    total: Decimal
    payment_account_code: str | None = None
    attachments: tuple[Attachment, ...] = ()


class VendorUpdatedData(_Model):
    vendor: Vendor


DATA_MODELS: dict[str, type[_Model]] = {
    "bill.submitted": BillData,
    "bill.updated": BillData,
    "bill.deleted": BillDeletedData,
    "bill.paid": BillPaidData,
    "payment.reversed": PaymentReversedData,
    "credit_note.submitted": CreditNoteData,
    "receipt.submitted": ReceiptData,
    "vendor.updated": VendorUpdatedData,
}


class RogerEvent(_Model):
    id: str
    type: EventType
    version: Literal[1]
    company_id: str
    occurred_at: datetime
    data: dict[str, Any]

    def typed_data(self) -> _Model:
        return DATA_MODELS[self.type].model_validate(self.data)


# RFC 3339 section 5.6 date-time: a UTC offset ("Z" or +hh:mm) is required.
_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})\Z")


def _is_date_time(value: object) -> bool:
    if not isinstance(value, str):
        return True  # "format" applies to strings only; "type" refuses the rest
    if not _RFC3339.match(value):
        return False
    try:
        datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
    except ValueError:  # 2026-02-30, 25:00, leap seconds (Python has no 23:59:60)
        return False
    return True


def _format_checker() -> FormatChecker:
    # jsonschema checks "date-time" only when rfc3339-validator is installed (it is not a
    # dependency): without this, "occurred_at": "yesterday" passed the schema and reached
    # pydantic. With it, both validators agree (jsonschema_rs checks date-time itself).
    checker = FormatChecker()
    checker.checks("date-time")(_is_date_time)
    return checker


@lru_cache(maxsize=1)
def _validator() -> Draft202012Validator:
    schema = json.loads(SCHEMA_PATH.read_text())
    event_schema = {"$schema": schema["$schema"], "$defs": schema["$defs"], "$ref": "#/$defs/event"}
    return Draft202012Validator(event_schema, format_checker=_format_checker())


@lru_cache(maxsize=1)
def _fast_validator() -> Any:
    """The compiled validator of the same schema, or None without ``jsonschema_rs``."""
    if jsonschema_rs is None:
        return None
    return jsonschema_rs.Draft202012Validator(_validator().schema, validate_formats=True)


def _schema_errors(raw: Any) -> list[str]:
    fast = _fast_validator()
    if fast is not None and fast.is_valid(raw):
        return []
    # jsonschema's own messages repeat the whole value (a 5 MB string, five times over in
    # anyOf); shared.contracts.messages says what is wrong in one bounded line instead.
    errors = sorted(_validator().iter_errors(raw), key=lambda e: _sort_key(e.absolute_path))
    return unique(m for e in errors for m in schema_messages(e))


def _sort_key(path: Any) -> list[tuple[int, int, str]]:
    # Document order; an index and a member name never compare directly (TypeError).
    return [(0, p, "") if isinstance(p, int) else (1, 0, str(p)) for p in path]


def url_problem(url: str) -> str | None:
    """Why an attachment ``url`` cannot be one, or None.

    The contract: "``url`` is a pre-signed URL where Roger serves the file" (roger-events.md,
    attachment): so an absolute http(s) URL with a host. ``file:``, ``javascript:``, relative
    or host-less URLs are refused at the edge, not found out later by the writer (whose own
    guard against internal addresses stays).
    """
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a port that is not 0..65535
    except ValueError:
        return "must be an absolute http(s) URL with a host"
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return "must be an absolute http(s) URL with a host"
    if any(c.isspace() for c in url):
        return "must be an absolute http(s) URL with a host (no whitespace)"
    return None


def line_total(line: Line) -> Decimal:
    return (line.quantity * line.unit_amount).quantize(CENT, rounding=ROUND_HALF_UP)


def _semantic_errors(event: RogerEvent) -> list[str]:
    errors: list[str] = []
    if event.occurred_at.tzinfo is None:
        errors.append("occurred_at: must carry a UTC offset (RFC 3339)")
    data = event.typed_data()
    if isinstance(data, (BillData, CreditNoteData, ReceiptData)):
        for i, attachment in enumerate(data.attachments):
            problem = url_problem(attachment.url)
            if problem:
                where = field_path(("data", "attachments", i, "url"))
                errors.append(f"{where}: {problem}, got {described(attachment.url)}")
    if (
        isinstance(data, (BillData, CreditNoteData, ReceiptData))
        and data.amount_type != "exclusive"
    ):
        expected = sum((line_total(line) for line in data.lines), Decimal("0"))
        if abs(expected - data.total) > CENT:
            errors.append(
                f"data.total: {data.total} differs from the sum of the lines {expected} "
                f"by more than 0.01 ({data.amount_type} amounts)"
            )
    return errors


def validate_event(raw: Any) -> tuple[RogerEvent | None, list[str]]:
    """Returns the event, or the reasons it is invalid (never raises on bad input)."""
    errors = _schema_errors(raw)
    if errors:
        return None, errors
    try:
        event = RogerEvent.model_validate(raw)
        errors = _semantic_errors(event)
    except ValidationError as exc:
        return None, pydantic_messages(exc)
    return (None, errors) if errors else (event, [])


def is_id_field(path: tuple[str | int, ...]) -> bool:
    """Whether the value at ``path`` is an identifier (``id``, ``company_id``, ``bill_id``...)."""
    name = path[-1] if path else None
    return isinstance(name, str) and (name == "id" or name.endswith("_id"))


def content_hash(event: RogerEvent) -> str:
    """SHA-256 (hex) of the event's canonical JSON: sorted keys, no spaces, UTF-8.

    Two deliveries of one event hash alike however Roger spaced or ordered them; fields
    the envelope ignores (unknown top-level members) do not count, ``data`` counts whole.
    """
    # The envelope's JSON form (what ``event.model_dump(mode="json")`` gives), built by hand:
    # ``data`` holds JSON values already, and dumping the model copied it first (a third of
    # ingest's cost per event). The hashes stored by ingest must never change: a test pins them.
    envelope = {
        "company_id": event.company_id,
        "data": event.data,
        "id": event.id,
        "occurred_at": _DATETIME.dump_python(event.occurred_at, mode="json"),
        "type": event.type,
        "version": event.version,
    }
    canonical = json.dumps(envelope, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


_DATETIME: TypeAdapter[datetime] = TypeAdapter(datetime)


def largest_event(company_id: str, event_id: str) -> dict[str, Any]:
    """The largest ``bill.submitted`` the contract allows, to size limits by (and test them).

    Every bounded string is at its maximum length in 4-byte characters (:data:`LONGEST_CHARACTER`),
    every list at its maximum count; strings the contract leaves unbounded are at Xero's own
    limits for the field they become (tracking names and options 100, address lines 500),
    attachment URLs at 2,048. Valid: ``validate_event`` accepts it.
    """
    wide = LONGEST_CHARACTER

    def text(chars: int) -> str:
        return wide * chars

    line = {
        "description": text(MAX_DESCRIPTION_CHARS),
        "quantity": "1.0000",
        "unit_amount": "1.0000",
        "category_code": text(10),
        "tax_type": text(50),
        "tracking": [{"name": text(100), "option": text(100)}] * 2,
    }
    attachment = {
        "filename": text(255),
        "content_type": text(255),
        "size": 10 * 1024 * 1024,
        "sha256": "0" * 64,
        "url": "https://files.roger.example/" + "a" * 2020,
    }
    vendor = {
        "id": text(128),
        "name": text(255),
        "email": text(255),
        "tax_number": text(50),
        "country": "DK",
        "address": {
            "line1": text(500),
            "line2": text(500),
            "city": text(255),
            "postal_code": text(50),
            "country": text(50),
        },
        "bank_account": {"iban": text(34), "account_number": text(50), "bic": text(11)},
    }
    return {
        "id": event_id,
        "type": "bill.submitted",
        "version": 1,
        "company_id": company_id,
        "occurred_at": "2026-11-20T09:10:00+01:00",
        "data": {
            "bill_id": text(128),
            "vendor": vendor,
            "invoice_number": text(255),
            "issue_date": "2026-11-02",
            "due_date": "2026-12-02",
            "currency": "DKK",
            "amount_type": "inclusive",
            "lines": [line] * MAX_LINES,
            "total": f"{MAX_LINES}.00",
            "attachments": [attachment] * MAX_ATTACHMENTS,
        },
    }


def readable_id(raw: Any) -> str | None:
    if isinstance(raw, dict) and isinstance(raw.get("id"), str):
        return raw["id"]
    return None
