"""What every Accounting API handler shares: the call context, errors, batches, paging."""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TypeVar

from ..state import Organisation
from ..wire import (
    ZERO_UUID,
    WireError,
    envelope,
    loads,
    parse_date,
    parse_decimal,
    post_data_invalid,
    query_bool,
    validation_exception,
)

if TYPE_CHECKING:
    from ..auth import Caller
    from ..runtime import Sandbox


class ApiError(Exception):
    """Ends the call with a ready answer (status, body)."""

    def __init__(self, status: int, body: Any, media_type: str = "application/json") -> None:
        super().__init__(status)
        self.status = status
        self.body = body
        self.media_type = media_type


NOT_FOUND = "The resource you're looking for cannot be found"


def not_found() -> ApiError:
    # Xero answers an unknown id in the URL with 404 and this sentence as plain text, not
    # JSON (XeroAPI/Xero-OpenAPI#163, Xero-Java#32, xero-node#21 quote it).
    return ApiError(404, NOT_FOUND, "text/html; charset=utf-8")


def bad_data(message: str) -> ApiError:
    return ApiError(400, post_data_invalid(message))


def validation_failed(message: str, element: dict[str, Any] | None = None) -> ApiError:
    item = dict(element or {})
    item["ValidationErrors"] = [{"Message": message}]
    return ApiError(400, validation_exception([item]))


@dataclass
class Raw:
    """A handler answer that is not a JSON envelope (attachment bytes)."""

    body: bytes
    media_type: str
    status: int = 200


class ElementInvalid(Exception):
    """One element of a batch broke Xero's rules."""

    def __init__(self, messages: list[str]) -> None:
        super().__init__("; ".join(messages))
        self.messages = messages


T = TypeVar("T")


def collect(errors: list[str], check: Callable[..., T], *args: Any, **kwargs: Any) -> T | None:
    """Run one check; its refusals join `errors` (None returned) so that every message of
    an element is answered, as Xero answers them all, not only the first."""
    try:
        return check(*args, **kwargs)
    except ElementInvalid as exc:
        errors.extend(m for m in exc.messages if m not in errors)
        return None


@dataclass
class Ctx:
    sandbox: Sandbox
    org: Organisation
    caller: Caller
    method: str
    path_params: dict[str, str]
    query: dict[str, str]  # lower-cased names: Xero's query names are case-insensitive
    headers: dict[str, str]
    body: bytes
    now: datetime
    changed: bool = False
    warnings: list[dict[str, str]] = field(default_factory=list)
    path: str = ""  # below /api.xro/2.0, for the spec's request schema
    _parsed: Any = None

    @property
    def today(self) -> date:
        return self.now.date()

    def q(self, name: str) -> str | None:
        return self.query.get(name.lower())

    def flag(self, name: str, default: bool) -> bool:
        value = query_bool(self.q(name), default)
        return default if value is None else value

    def json(self) -> Any:
        if self._parsed is not None:
            return self._parsed
        if not self.body.strip():
            raise bad_data("Invalid Json data")
        try:
            data = loads(self.body)
        except (ValueError, RecursionError) as exc:
            raise bad_data(f"Invalid Json data: {str(exc)[:200]}") from exc
        from .validation import check_body

        check_body(self.method, self.path, data)
        self._parsed = data
        return data

    def elements(self, plural: str, singular_ok: bool = True) -> list[Any]:
        """The elements of a write: `{"Invoices":[...]}`; Xero also takes a lone object."""
        data = self.json()
        if isinstance(data, dict):
            for key, value in data.items():
                if key.lower() == plural.lower():
                    if isinstance(value, list):
                        return value
                    if isinstance(value, dict):
                        return [value]
                    raise bad_data(f"The element '{key}' must be an array.")
            if singular_ok and data:
                return [data]
        if isinstance(data, list):
            return data
        raise bad_data(f"The request must contain a '{plural}' element.")


def ok(ctx: Ctx, collection: str, items: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    body = envelope(ctx.now, **extra)
    if ctx.warnings:
        body["Warnings"] = ctx.warnings
    body[collection] = items
    return body


# ---------------------------------------------------------------- element field helpers


def text(element: dict[str, Any], key: str) -> str | None:
    value = element.get(key)
    if value is None:
        return None
    if isinstance(value, bool | dict | list):
        raise ElementInvalid([f"'{key}' must be a string."])
    return str(value)


def decimal_field(element: dict[str, Any], key: str) -> Decimal | None:
    value = element.get(key)
    if value is None:
        return None
    try:
        return parse_decimal(value)
    except WireError as exc:
        raise ApiError(400, post_data_invalid(str(exc))) from exc


def date_field(element: dict[str, Any], key: str) -> date | None:
    value = element.get(key)
    if value is None or value == "":
        return None
    try:
        return parse_date(value)
    except WireError as exc:
        raise ApiError(400, post_data_invalid(str(exc))) from exc


def object_field(element: dict[str, Any], key: str) -> dict[str, Any] | None:
    value = element.get(key)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ApiError(400, post_data_invalid(f"The element '{key}' must be an object."))
    return value


def list_field(element: dict[str, Any], key: str) -> list[Any]:
    value = element.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise ApiError(400, post_data_invalid(f"The element '{key}' must be an array."))
    return value


def uuid_field(element: dict[str, Any], key: str) -> str | None:
    value = element.get(key)
    if value is None or value == "":
        return None
    import uuid as _uuid

    try:
        return str(_uuid.UUID(str(value)))
    except ValueError as exc:
        raise ApiError(
            400, post_data_invalid(f"The value '{value}' is not a valid {key}.")
        ) from exc


# ---------------------------------------------------------------- echo of failed elements

_DATE_KEYS = {"Date", "DueDate", "FullyPaidOnDate", "ExpectedPaymentDate", "PlannedPaymentDate"}
_ID_KEYS = ("InvoiceID", "ContactID", "CreditNoteID", "PaymentID", "BankTransactionID")


def echo(element: Any, id_key: str | None) -> dict[str, Any]:
    """A failed element as Xero echoes it: what was sent, ids zeroed, nothing the SDK can't read."""
    if not isinstance(element, dict):
        return {}
    clean = _sanitize(element)
    if id_key:
        clean[id_key] = clean.get(id_key) if isinstance(clean.get(id_key), str) else ZERO_UUID
        if id_key in clean and not _is_uuid(clean[id_key]):
            clean[id_key] = ZERO_UUID
    return clean


def _is_uuid(value: str) -> bool:
    import uuid as _uuid

    try:
        _uuid.UUID(value)
    except ValueError:
        return False
    return True


def _sanitize(value: Any, key: str = "") -> Any:
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for k, v in value.items():
            if not isinstance(k, str) or k in ("ValidationErrors", "Warnings"):
                continue
            cleaned = _sanitize(v, k)
            if cleaned is not _DROP:
                out[k] = cleaned
        return out
    if isinstance(value, list):
        return [x for x in (_sanitize(v, key) for v in value) if x is not _DROP]
    if key in _DATE_KEYS:
        try:
            return parse_date(value)
        except WireError:
            return _DROP
    if isinstance(value, int | Decimal) and not isinstance(value, bool):
        return value
    if key.startswith(("Has", "Is")) or key in ("SentToContact", "IncludeOnline"):
        return value if isinstance(value, bool) else _DROP
    if isinstance(value, bool | str) or value is None:
        return value
    return _DROP


_DROP = object()


# ---------------------------------------------------------------- batches


def run_batch(
    ctx: Ctx,
    plural: str,
    elements: list[Any],
    process: Callable[[dict[str, Any]], dict[str, Any]],
    id_key: str | None,
    error_flag: str,
    summarize_default: bool = True,
) -> dict[str, Any]:
    """Apply elements in order, like Xero: each sees the ones before it.

    summarizeErrors absent/true: any failure makes the whole answer a 400 ValidationException
    whose `Elements` are all the elements in order, each failed one with its own
    `ValidationErrors` and the good ones as they stand (Xero may still have kept the good
    ones; `summarized_batch_commits_valid`, default yes). false: always 200, every element
    echoed with StatusAttributeString OK or ERROR and its own ValidationErrors.
    """
    summarize = ctx.flag("summarizeErrors", summarize_default)
    if not elements:
        raise bad_data(f"No {plural} were provided.")
    keep_good = ctx.sandbox.settings.summarized_batch_commits_valid
    backup = copy.deepcopy(ctx.org) if summarize and not keep_good else None
    results: list[dict[str, Any]] = []
    failures: list[dict[str, Any]] = []
    for element in elements:
        if not isinstance(element, dict):
            raise bad_data(f"Each of the {plural} must be an object.")
        try:
            rendered = process(element)
        except ElementInvalid as exc:
            failed = echo(element, id_key)
            failed[error_flag] = True
            failed["ValidationErrors"] = [{"Message": m} for m in exc.messages]
            failed["StatusAttributeString"] = "ERROR"
            failures.append(failed)
            results.append(failed)
            continue
        ctx.changed = True
        rendered["StatusAttributeString"] = "OK"
        results.append(rendered)
    if summarize and failures:
        if backup is not None:
            _restore(ctx, backup)
        for item in results:
            item.pop("StatusAttributeString", None)
            item.setdefault("ValidationErrors", [])
        raise ApiError(400, validation_exception(results))
    if summarize:
        for item in results:
            item.pop("StatusAttributeString", None)
    return ok(ctx, plural, results)


def _restore(ctx: Ctx, backup: Organisation) -> None:
    ctx.sandbox.state.organisations[backup.tenant_id] = backup
    ctx.org = backup
    ctx.changed = False


# ---------------------------------------------------------------- reading lists


def page_of(
    ctx: Ctx, items: list[dict[str, Any]], pageable: bool = True
) -> tuple[list[dict[str, Any]], dict[str, int] | None]:
    """Slice a sorted result list; `pagination` only when the caller asked for a page."""
    raw_page = ctx.q("page") if pageable else None
    if raw_page is None:
        return items, None
    try:
        page = max(1, int(raw_page))
    except ValueError:
        page = 1
    raw_size = ctx.q("pageSize")
    try:
        size = int(raw_size) if raw_size is not None else 100
    except ValueError:
        size = 100
    size = min(1000, max(1, size))
    count = len(items)
    info = {
        "page": page,
        "pageSize": size,
        "pageCount": math.ceil(count / size) if count else 0,
        "itemCount": count,
    }
    return items[(page - 1) * size : page * size], info


def id_list(raw: str | None) -> list[str]:
    if not raw:
        return []
    return [part.strip().lower() for part in raw.split(",") if part.strip()]


def modified_since(ctx: Ctx) -> datetime | None:
    raw = ctx.headers.get("if-modified-since")
    if not raw:
        return None
    from email.utils import parsedate_to_datetime

    from ..wire import parse_moment

    try:
        return parse_moment(raw)
    except WireError:
        try:
            return parsedate_to_datetime(raw)
        except (TypeError, ValueError):
            return None


def newer_than(items: Iterable[dict[str, Any]], since: datetime | None) -> list[dict[str, Any]]:
    if since is None:
        return list(items)
    return [item for item in items if item["UpdatedDateUTC"] > since]
