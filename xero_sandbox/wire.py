"""Xero's wire format: MS-JSON dates, exact decimal numbers, envelopes and error bodies.

Nothing here may be shared with the writer: a mistake copied into both would pass every test.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ZERO_UUID = "00000000-0000-0000-0000-000000000000"
PROVIDER_NAME = "Xero Sandbox"

_MS_DATE = re.compile(r"^/Date\((-?\d+)([+-]\d{4})?\)/$")
_ISO_DATE = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})"
    r"(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,7}))?)?)?"
    r"(Z|[+-]\d{2}:?\d{2})?$"
)


class WireError(ValueError):
    """A value in a request that Xero's deserialiser would refuse (PostDataInvalidException)."""


# ---------------------------------------------------------------- dates


def ms_of(moment: datetime) -> int:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    delta = moment - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000


def ms_date(value: date | datetime) -> str:
    """`/Date(ms+0000)/`, the form of every date field in a response."""
    if not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day, tzinfo=UTC)
    return f"/Date({ms_of(value)}+0000)/"


def envelope_moment(value: datetime) -> str:
    """`DateTimeUTC` of the envelope carries no offset, unlike the fields inside it."""
    return f"/Date({ms_of(value)})/"


def date_string(value: date | datetime) -> str:
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return value.strftime("%Y-%m-%dT00:00:00")


def parse_moment(raw: object) -> datetime:
    """Accept `/Date(ms)/`, `/Date(ms+0000)/` and ISO 8601 dates or date-times; UTC result."""
    if not isinstance(raw, str):
        raise WireError(f"The string '{raw}' is not a valid AllXsd value.")
    text = raw.strip()
    match = _MS_DATE.match(text)
    if match:
        moment = EPOCH + timedelta(milliseconds=int(match.group(1)))
        offset = match.group(2)
        if offset:
            sign = 1 if offset[0] == "+" else -1
            moment += sign * timedelta(hours=int(offset[1:3]), minutes=int(offset[3:5]))
        return moment
    match = _ISO_DATE.match(text)
    if not match:
        raise WireError(f"The string '{raw}' is not a valid AllXsd value.")
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    try:
        moment = datetime(
            int(year),
            int(month),
            int(day),
            int(hour or 0),
            int(minute or 0),
            int(second or 0),
            int((fraction or "0").ljust(6, "0")[:6]),
            tzinfo=UTC,
        )
    except ValueError as exc:
        raise WireError(f"The string '{raw}' is not a valid AllXsd value.") from exc
    if zone and zone != "Z":
        digits = zone.replace(":", "")
        sign = 1 if digits[0] == "+" else -1
        moment -= sign * timedelta(hours=int(digits[1:3]), minutes=int(digits[3:5]))
    return moment


def parse_date(raw: object) -> date:
    """A calendar date: Xero keeps documents' dates without a time of day."""
    return parse_moment(raw).date()


# ---------------------------------------------------------------- numbers


def parse_decimal(raw: object) -> Decimal:
    """JSON numbers arrive as Decimal (parse_float=Decimal); Xero also takes strings."""
    if isinstance(raw, bool):
        raise WireError(f"The value '{raw}' is not a valid decimal.")
    if isinstance(raw, Decimal):
        value = raw
    elif isinstance(raw, int):
        value = Decimal(raw)
    elif isinstance(raw, float):
        value = Decimal(repr(raw))
    elif isinstance(raw, str):
        try:
            value = Decimal(raw.strip())
        except InvalidOperation as exc:
            raise WireError(f"The value '{raw}' is not a valid decimal.") from exc
    else:
        raise WireError(f"The value '{raw}' is not a valid decimal.")
    if not value.is_finite() or abs(value) >= Decimal("1e15"):
        raise WireError(f"The value '{raw}' is not a valid decimal.")
    return value


# ---------------------------------------------------------------- JSON


def loads(raw: bytes) -> Any:
    """Parse a request body; floats stay exact so 0.1 + 0.2 arithmetic is Xero's, not IEEE's."""
    return json.loads(raw, parse_float=Decimal, parse_constant=_refuse_constant)


def _refuse_constant(name: str) -> Any:
    raise WireError(f"Unexpected character encountered while parsing value: {name}.")


def dumps(value: Any) -> str:
    """JSON text with Decimals written as they are (`9700.00`, not `9700.0`)."""
    parts: list[str] = []
    _encode(value, parts)
    return "".join(parts)


# json.dumps(text, ensure_ascii=False) builds an encoder per call; this is the C function it
# ends in, the same output at a tenth of the cost (a large share of the sandbox's time went
# to encoding answers, issue 14).
_string = json.encoder.encode_basestring  # type: ignore[attr-defined]


def _encode(value: Any, out: list[str]) -> None:
    kind = type(value)
    if kind is str:
        out.append(_string(value))
    elif kind is dict:
        out.append("{")
        first = True
        for key, item in value.items():
            if not first:
                out.append(",")
            first = False
            out.append(_string(key if type(key) is str else str(key)))
            out.append(":")
            _encode(item, out)
        out.append("}")
    elif kind is list:
        out.append("[")
        for index, item in enumerate(value):
            if index:
                out.append(",")
            _encode(item, out)
        out.append("]")
    elif kind is Decimal:
        out.append(_decimal_text(value))
    else:
        _encode_other(value, out)


def _encode_other(value: Any, out: list[str]) -> None:
    if value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, str):
        out.append(_string(value))
    elif isinstance(value, Decimal):
        out.append(_decimal_text(value))
    elif isinstance(value, int):
        out.append(str(int(value)))
    elif isinstance(value, float):
        out.append(json.dumps(value))
    elif isinstance(value, datetime | date):
        out.append(_string(ms_date(value)))
    elif isinstance(value, Mapping):
        _encode(dict(value), out)
    elif isinstance(value, list | tuple):
        _encode(list(value), out)
    else:
        raise TypeError(f"cannot encode {type(value).__name__}")


def _decimal_text(value: Decimal) -> str:
    text = format(value, "f")
    return "0" if text in {"-0", ""} else text


# ---------------------------------------------------------------- envelopes and errors


def new_id() -> str:
    return str(uuid.uuid4())


def envelope(now: datetime, **collections: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "Id": new_id(),
        "Status": "OK",
        "ProviderName": PROVIDER_NAME,
        "DateTimeUTC": envelope_moment(now),
    }
    body.update(collections)
    return body


def validation_exception(elements: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "ErrorNumber": 10,
        "Type": "ValidationException",
        "Message": "A validation exception occurred",
        "Elements": elements,
    }


def post_data_invalid(message: str) -> dict[str, Any]:
    return {"ErrorNumber": 14, "Type": "PostDataInvalidException", "Message": message}


def query_parse_error(message: str) -> dict[str, Any]:
    return {"ErrorNumber": 16, "Type": "QueryParseException", "Message": message}


def problem(status: int, title: str, detail: str) -> dict[str, Any]:
    """The RFC 7807-like body Xero's gateway uses for 401/403/500."""
    return {
        "Type": None,
        "Title": title,
        "Status": status,
        "Detail": detail,
        "Instance": new_id(),
        "Extensions": {},
    }


def token_expired_detail(expired_at: datetime) -> str:
    return "TokenExpired: token expired at " + expired_at.astimezone(UTC).strftime(
        "%m/%d/%Y %H:%M:%S"
    )


def query_bool(raw: str | None, default: bool | None = None) -> bool | None:
    """The SDK sends `str(True)`: booleans in queries are compared case-insensitively."""
    if raw is None:
        return default
    lowered = raw.strip().lower()
    if lowered == "true":
        return True
    if lowered == "false":
        return False
    return default
