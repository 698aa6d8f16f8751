"""FakeXero: one organisation's Accounting API in memory, at the writer's ``Call`` seam.

    xero = FakeXero()
    answer = await xero.call("PUT", "/Contacts", params={"summarizeErrors": "false"},
                             body={"Contacts": [{"Name": "Acme A/S"}]}, idempotency_key="k")
    xero.fail_next(429, retry_after_s=7)      # the next call raises RateLimited(7, "minute")
    xero.fail_next("drop", method="PUT")      # the next PUT is applied, then its answer lost

It answers as ``shared.xero.client.XeroClient.call`` does after Xero answered: the decoded
200 answer, or one of ``shared.xero.errors``. What it follows (and the contract suite in
tests/contract checks against the sandbox, which follows Xero):

- batches: ``summarizeErrors=false`` -> 200, every element echoed with
  ``StatusAttributeString`` OK/ERROR and its ``ValidationErrors``, failed ids zeroed;
  absent/true -> any invalid element makes the whole answer a 400 ``ValidationException``
  listing every element with its ``ValidationErrors`` (``Refused`` with
  ``body["Elements"]``), the good ones kept;
- look-ups: bills by ``ContactIDs``/``InvoiceNumbers``/``IDs`` (each with its ``Url`` and
  ``Payments``), credit notes by ``Type``, contacts by status, with ``pagination`` when a page
  is asked for;
- attachments: ``PUT .../{id}/Attachments/{name}`` replaces a file of the same name in any
  case, as Xero; ``GET .../{id}/Attachments`` lists them (``FileName``, ``ContentLength``,
  ``MimeType`` from the name's extension);
- an Idempotency-Key replays the first answer (Xero keeps it for minutes;
  ``pass_idempotency_window()`` forgets every key, as Xero does after 6 minutes);
- tracking: ``GET /TrackingCategories`` lists ``tracking_categories`` (name -> its ACTIVE
  options); a line's tracking must name one of them and one of its options, in any case,
  else the element fails with the sandbox's (Xero's) words;
- currencies: ``GET /Organisation`` answers ``base_currency``; a payment without
  ``CurrencyRate`` takes ``rates[currency]`` (1 for the base currency) and says so;
- unit amounts: 2 decimals (rounded half away from zero) on writes and reads unless the
  call asks ``unitdp=4``, as Xero;
- contacts keep a ``ContactNumber``, unique among them; ``where`` on invoices' ``Type``
  and on credit notes' ``Type`` and ``Contact.ContactID==GUID("...")`` (any of them);
- order per call as Xero's gateway: token (``access_token`` given and not valid -> 401),
  rate limit (``per_minute``), injected faults, idempotency, the change, a dropped answer.

Numbers come back as JSON would decode them (floats); dates as ``/Date(ms+0000)/``.
"""

from __future__ import annotations

import copy
import itertools
import json
import mimetypes
import re
import uuid
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any, Literal
from urllib.parse import unquote

from services.xero_writer.policy import Policy
from shared.contracts.commands import AnyCommand
from shared.contracts.results import XeroResult
from shared.xero.errors import (
    Forbidden,
    RateLimited,
    Refused,
    Unauthorized,
    Unavailable,
)
from shared.xero.token_store import Access

ZERO_UUID = "00000000-0000-0000-0000-000000000000"
TOKEN = "fake-access-token"
TENANT = "fake-tenant"

# Code -> Type: the part of the default chart the writer touches (xero_sandbox/chart.py).
CHART = {
    "090": "BANK",
    "091": "BANK",
    "200": "REVENUE",
    "310": "DIRECTCOSTS",
    "400": "OVERHEADS",
    "404": "OVERHEADS",
    "429": "OVERHEADS",
    "453": "OVERHEADS",
    "800": "CURRLIAB",
}

# Xero's own messages (as the sandbox has them: xero_sandbox/accounting/).
UNKNOWN_CONTACT = "The contact with the specified ContactID could not be found."
NO_LINES = "Documents must have at least one line item to be approved."
LOCKED = "This document cannot be edited as it has a payment or credit note allocated to it."
STATUS = "Invoice not of valid status for modification"
NOT_FOUND_DOC = "Document could not be found"
NOT_AUTHORISED = "Payments can only be made against Authorised documents"
NOTE_NOT_AUTHORISED = "Credit note must be AUTHORISED to be allocated."
BILL_NOT_AUTHORISED = "Credit notes can only be allocated to AUTHORISED invoices."
TOO_MUCH = "Payment amount exceeds the amount outstanding on this document"
BAD_ACCOUNT_TYPE = "Account type is invalid for making a payment to/from"
ARCHIVED_CONTACT = (
    "The contact with the specified contact details has been archived. "
    "The contact must be un-archived before creating new invoices or credit notes."
)
UNKNOWN_CATEGORY = (
    "Unknown tracking details. A Tracking Category did not match a known Active TrackingCategory"
)
UNKNOWN_OPTION = (
    "Unknown tracking details. A Tracking Option did not match a known Active "
    "TrackingOption for the Tracking Category '{}'"
)

Status = int | Literal["drop"]
IDEMPOTENCY_WINDOW_S = 360  # Xero keeps an Idempotency-Key for 6 minutes


class _Invalid(Exception):
    def __init__(self, *messages: str) -> None:
        super().__init__(*messages)
        self.messages = list(messages)


@dataclass
class Fault:
    """One injected failure: 429, 500/503, 401, 403, or ``drop`` (applied, answer lost)."""

    status: Status
    method: str | None = None
    path: str | None = None  # a prefix of the path, e.g. "/Invoices"
    retry_after_s: float = 1.0
    problem: str = "minute"

    def matches(self, method: str, path: str) -> bool:
        return (self.method is None or self.method == method) and (
            self.path is None or path.startswith(self.path)
        )


@dataclass
class Recorded:
    method: str
    path: str
    params: dict[str, str]
    body: Any
    idempotency_key: str | None
    outcome: str = "ok"  # or the error class's name


def _money(value: Any) -> Decimal:
    try:
        return Decimal(str(value))
    except InvalidOperation as exc:
        raise _Invalid(f"'{value}' is not a valid number.") from exc


def _out(value: Any) -> Any:
    """As JSON decodes what Xero sends: Decimals as floats, dates as /Date(ms+0000)/."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, date | datetime):
        moment = value if isinstance(value, datetime) else datetime(*value.timetuple()[:3])
        ms = int(moment.replace(tzinfo=UTC).timestamp() * 1000)
        return f"/Date({ms}+0000)/"
    if isinstance(value, dict):
        return {k: _out(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_out(v) for v in value]
    return value


def _places(value: Decimal, places: int) -> Decimal:
    return value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def _unit_amounts(answer: Any, places: int) -> Any:
    """Line items' unit amounts as Xero shows them: 2 decimals unless ``unitdp=4``."""
    if places == 4:
        return answer
    if isinstance(answer, dict):
        return {
            k: (
                [
                    {**line, "UnitAmount": _places(_money(line["UnitAmount"]), places)}
                    if isinstance(line, dict) and "UnitAmount" in line
                    else line
                    for line in v
                ]
                if k == "LineItems" and isinstance(v, list)
                else _unit_amounts(v, places)
            )
            for k, v in answer.items()
        }
    if isinstance(answer, list):
        return [_unit_amounts(v, places) for v in answer]
    return answer


def _date(value: Any) -> date:
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError as exc:
        raise _Invalid(f"The string '{value}' is not a valid AllXsd value.") from exc


def _flag(params: dict[str, str], name: str, default: bool) -> bool:
    for key, value in params.items():
        if key.lower() == name.lower():
            return str(value).lower() == "true"
    return default


class FakeXero:
    """One Xero organisation in memory. Public state (``contacts``, ``invoices``,
    ``payments``, ``credit_notes``, ``attachments``: id -> Xero-shaped dict) may be read and
    seeded by tests; ``calls`` records every call, in order."""

    def __init__(self, tenant_id: str = TENANT, currencies: tuple[str, ...] = ("DKK", "EUR")):
        self.tenant_id = tenant_id
        self.currencies = set(currencies)
        self.contacts: dict[str, dict[str, Any]] = {}
        self.invoices: dict[str, dict[str, Any]] = {}
        self.payments: dict[str, dict[str, Any]] = {}
        self.credit_notes: dict[str, dict[str, Any]] = {}
        self.attachments: dict[str, dict[str, Any]] = {}
        # Category name -> its ACTIVE option names (Xero's spelling).
        self.tracking_categories: dict[str, list[str]] = {}
        self.base_currency = "DKK"
        # Units of a currency per one unit of the base currency (Xero's CurrencyRate).
        self.rates: dict[str, Decimal] = {"EUR": Decimal("0.134048")}
        self.calls: list[Recorded] = []
        self.faults: deque[Fault] = deque()
        self.valid_tokens = {TOKEN}
        self.per_minute: int | None = None
        # Elements carrying one of these values make the whole request a 400, as Xero
        # answers a request it cannot even read (PostDataInvalidException).
        self.unreadable: set[str] = set()
        self.pauses: list[float] = []
        self.day_budget_wait_s = 0.0  # > 0: the writer's own day limiter holds the organisation
        self._replays: dict[str, tuple[str, dict[str, Any]]] = {}
        self._minute_count = 0
        self._numbers = itertools.count(1)
        self._unit_dp = 2
        # Organisation.PeriodLockDate / EndOfYearLockDate (``set_lock_dates``).
        self.lock_dates: dict[str, date] = {}

    def archive_contact(self, contact_id: str, merged_into: str | None = None) -> None:
        """Archived in Xero; ``merged_into``: by a merge into that contact, which takes the
        archived one's documents (``MergedToContactID``), as Xero's merge."""
        contact = self.contacts[contact_id]
        contact["ContactStatus"] = "ARCHIVED"
        if merged_into is not None:
            contact["MergedToContactID"] = merged_into
            survivor = {"ContactID": merged_into, "Name": self.contacts[merged_into]["Name"]}
            for document in [*self.invoices.values(), *self.credit_notes.values()]:
                if document["Contact"]["ContactID"] == contact_id:
                    document["Contact"] = dict(survivor)

    def restore_contact(self, contact_id: str) -> None:
        self.contacts[contact_id]["ContactStatus"] = "ACTIVE"

    def set_lock_dates(self, period: date | None = None, end_of_year: date | None = None) -> None:
        """The organisation's lock dates (None: not set), as the sandbox's admin API."""
        self.lock_dates = {
            k: v
            for k, v in (("PeriodLockDate", period), ("EndOfYearLockDate", end_of_year))
            if v is not None
        }

    def pass_idempotency_window(self) -> None:
        """Xero keeps an Idempotency-Key for 6 minutes: afterwards a key replays nothing."""
        self._replays.clear()

    # ---------------------------------------------------------------- scripting

    def fail_next(
        self,
        status: Status,
        *,
        times: int = 1,
        method: str | None = None,
        path: str | None = None,
        retry_after_s: float = 1.0,
        problem: str = "minute",
    ) -> None:
        """The next ``times`` calls matching ``method``/``path`` fail with ``status``."""
        for _ in range(times):
            self.faults.append(Fault(status, method, path, retry_after_s, problem))

    def limit_per_minute(self, calls: int | None) -> None:
        """Xero's minute limit: after ``calls`` in this (never ending) minute, 429 with
        Retry-After; None lifts it."""
        self.per_minute, self._minute_count = calls, 0

    def session(self, access: Access) -> FakeSession:
        """The policy's ``Session``: calls with ``access``'s token; pauses are recorded."""
        return FakeSession(self, access)

    def calls_to(self, method: str, path: str) -> list[Recorded]:
        return [c for c in self.calls if c.method == method and c.path == path]

    # ---------------------------------------------------------------- the seam

    async def call(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        body: dict[str, Any] | None = None,
        content: bytes | None = None,
        idempotency_key: str | None = None,
        access_token: str | None = None,
    ) -> dict[str, Any]:
        """The writer's ``Call``; raises what ``XeroClient.call`` raises."""
        params = dict(params or {})
        record = Recorded(method, path, params, copy.deepcopy(body), idempotency_key)
        self.calls.append(record)
        try:
            return self._handle(method, path, params, body, content, idempotency_key, access_token)
        except Exception as exc:
            record.outcome = type(exc).__name__
            raise

    def _handle(
        self,
        method: str,
        path: str,
        params: dict[str, str],
        body: dict[str, Any] | None,
        content: bytes | None,
        key: str | None,
        access_token: str | None,
    ) -> dict[str, Any]:
        if access_token is not None and access_token not in self.valid_tokens:
            raise Unauthorized("AuthenticationUnsuccessful")
        if self.per_minute is not None:
            if self._minute_count >= self.per_minute:
                raise RateLimited(60.0, "minute")
            self._minute_count += 1
        fault = next((f for f in self.faults if f.matches(method, path)), None)
        if fault is not None:
            self.faults.remove(fault)
            if fault.status != "drop":
                self._raise(fault)
        fingerprint = json.dumps(
            [method, path, params, body, content and len(content)], default=str
        )
        if key is not None and method in ("PUT", "POST") and key in self._replays:
            first, answer = self._replays[key]
            if first != fingerprint:
                raise Refused(
                    400,
                    f"Idempotency key {key} was used with a different request",
                    {"ErrorNumber": 10, "Type": "ValidationException"},
                )
            return copy.deepcopy(answer)
        self._unit_dp = 4 if str(params.get("unitdp", "")) == "4" else 2
        routed = self._route(method, path, params, body or {}, content)
        answer = _out(_unit_amounts(routed, self._unit_dp))
        if key is not None and method in ("PUT", "POST"):
            self._replays[key] = (fingerprint, copy.deepcopy(answer))
        if fault is not None:  # a drop: applied, but the answer never arrives
            raise Unavailable(f"{method} {path}: RemoteProtocolError")
        return answer  # type: ignore[no-any-return]

    @staticmethod
    def _raise(fault: Fault) -> None:
        if fault.status == 429:
            raise RateLimited(fault.retry_after_s, fault.problem)
        if fault.status == 401:
            raise Unauthorized("AuthenticationUnsuccessful")
        if fault.status == 403:
            raise Forbidden("AuthorizationUnsuccessful")
        if isinstance(fault.status, int) and fault.status >= 500:
            raise Unavailable(f"answered {fault.status}", status=fault.status)
        raise ValueError(f"no such fault: {fault.status}")

    # ---------------------------------------------------------------- routes

    def _route(
        self,
        method: str,
        path: str,
        params: dict[str, str],
        body: dict[str, Any],
        content: bytes | None,
    ) -> dict[str, Any]:
        parts = [p for p in path.split("/") if p]
        head, rest = parts[0], parts[1:]
        if len(parts) == 4 and parts[2] == "Attachments" and method in ("PUT", "POST"):
            # The name is a path segment: percent-encoded on the wire, decoded by Xero.
            return self._attach(head, parts[1], unquote(parts[3]), content or b"")
        if len(parts) == 3 and parts[2] == "Attachments" and method == "GET":
            return self._attachments_of(head, parts[1])
        if head == "TrackingCategories" and method == "GET":
            return {
                "TrackingCategories": [
                    {
                        "TrackingCategoryID": str(uuid.uuid5(uuid.NAMESPACE_URL, name)),
                        "Name": name,
                        "Status": "ACTIVE",
                        "Options": [{"Name": o, "Status": "ACTIVE"} for o in options],
                    }
                    for name, options in self.tracking_categories.items()
                ]
            }
        if head == "Organisation" and method == "GET":
            return {
                "Organisations": [
                    {"Name": "Fake Org", "BaseCurrency": self.base_currency, **self.lock_dates}
                ]
            }
        if head == "Contacts":
            if method == "GET":
                return self._get_contacts(params, rest)
            return self._batch(
                params, "Contacts", body, "ContactID", lambda e: self._write_contact(e, method)
            )
        if head == "Invoices":
            if method == "GET":
                return self._get_invoices(params, rest)
            if rest:
                elements = [{**e, "InvoiceID": rest[0]} for e in body.get("Invoices") or []]
                body = {"Invoices": elements}
            return self._batch(
                params, "Invoices", body, "InvoiceID", lambda e: self._write_invoice(e, method)
            )
        if head == "CreditNotes":
            if method == "GET":
                return self._get_credit_notes(params, rest)
            if len(rest) == 2 and rest[1] == "Allocations":
                return self._allocate(rest[0], body)
            if len(rest) == 3 and rest[1] == "Allocations" and method == "DELETE":
                return self._unallocate(rest[0], rest[2])
            return self._batch(params, "CreditNotes", body, "CreditNoteID", self._create_credit)
        if head == "Payments":
            if method == "GET":
                found = [self.payments[i] for i in rest if i in self.payments]
                if rest and not found:
                    raise Refused(404, "refused", None)
                return {"Payments": found or list(self.payments.values())}
            if rest:
                return self._delete_payment(rest[0], body)
            return self._batch(params, "Payments", body, "PaymentID", self._create_payment)
        raise Refused(404, "refused", None)

    def _batch(
        self,
        params: dict[str, str],
        plural: str,
        body: dict[str, Any],
        id_key: str,
        process: Any,
    ) -> dict[str, Any]:
        """Xero's batch rules (see the module's docstring)."""
        summarize = _flag(params, "summarizeErrors", True)
        elements = body.get(plural)
        if not isinstance(elements, list) or not elements:
            raise Refused(400, f"No {plural} were provided.", {"ErrorNumber": 14})
        for element in elements:
            if self.unreadable & {str(v) for v in element.values() if isinstance(v, str)}:
                message = "The request could not be read"
                raise Refused(
                    400,
                    message,
                    {"ErrorNumber": 14, "Type": "PostDataInvalidException", "Message": message},
                )
        results: list[dict[str, Any]] = []
        failures: list[dict[str, Any]] = []
        for element in elements:
            try:
                rendered = dict(process(element))
                rendered["StatusAttributeString"] = "OK"
            except _Invalid as exc:
                rendered = {k: v for k, v in element.items()}
                if not isinstance(rendered.get(id_key), str) or id_key not in element:
                    rendered[id_key] = ZERO_UUID
                rendered["HasValidationErrors"] = True
                rendered["ValidationErrors"] = [{"Message": m} for m in exc.messages]
                rendered["StatusAttributeString"] = "ERROR"
                failures.append(rendered)
            results.append(rendered)
        if summarize and failures:
            # Every element is listed, the good ones with no ValidationErrors (as the sandbox).
            for item in results:
                item.pop("StatusAttributeString", None)
                item.setdefault("ValidationErrors", [])
            answer = {
                "ErrorNumber": 10,
                "Type": "ValidationException",
                "Message": "A validation exception occurred",
                "Elements": _out(results),
            }
            messages = [m["Message"] for f in failures for m in f["ValidationErrors"]]
            raise Refused(400, "; ".join(messages), answer)
        if summarize:
            for item in results:
                item.pop("StatusAttributeString", None)
        return {"Id": str(uuid.uuid4()), "Status": "OK", plural: copy.deepcopy(results)}

    # ---------------------------------------------------------------- contacts

    def _active_named(self, name: str, exclude: str | None = None) -> dict[str, Any] | None:
        wanted = name.strip().lower()
        for c in self.contacts.values():
            if c["ContactID"] != exclude and c.get("ContactStatus", "ACTIVE") == "ACTIVE":
                if c["Name"].strip().lower() == wanted:
                    return c
        return None

    def _write_contact(self, element: dict[str, Any], method: str) -> dict[str, Any]:
        contact_id = element.get("ContactID")
        current = self.contacts.get(contact_id) if contact_id else None
        if contact_id and (current is None or method == "PUT"):
            raise _Invalid("The contact with the specified ContactID could not be found.")
        name = str(element.get("Name") or (current or {}).get("Name") or "").strip()
        if not name:
            raise _Invalid("Contact Name cannot be empty.")
        if self._active_named(name, exclude=contact_id):
            raise _Invalid(
                f"The contact name {name} is already assigned to another contact. "
                "The contact name must be unique across all active contacts."
            )
        contact = current or {
            "ContactID": str(uuid.uuid4()),
            "ContactStatus": "ACTIVE",
            "Addresses": [],
            "IsSupplier": False,
            "IsCustomer": False,
        }
        number = element.get("ContactNumber")
        if number and any(
            c.get("ContactNumber") == number and c["ContactID"] != contact_id
            for c in self.contacts.values()
        ):
            raise _Invalid(f"The contact number {number} is already assigned to another contact.")
        for k in (
            "Name",
            "ContactNumber",
            "EmailAddress",
            "TaxNumber",
            "BankAccountDetails",
            "Addresses",
        ):
            if k in element:
                contact[k] = element[k]
        contact["Name"] = name
        contact["UpdatedDateUTC"] = datetime.now(UTC)
        self.contacts[contact["ContactID"]] = contact
        return copy.deepcopy(contact)

    def _get_contacts(self, params: dict[str, str], rest: list[str]) -> dict[str, Any]:
        items = list(self.contacts.values())
        if rest:
            items = [c for c in items if c["ContactID"] == rest[0]]
            if not items:
                raise Refused(404, "refused", None)
        where = params.get("where", "")
        match = re.search(r'ContactStatus=="(\w+)"', where)
        if match:
            items = [c for c in items if c.get("ContactStatus", "ACTIVE") == match.group(1)]
        elif not rest and not _flag(params, "includeArchived", False):
            items = [c for c in items if c.get("ContactStatus", "ACTIVE") != "ARCHIVED"]
        return self._page("Contacts", items, params)

    @staticmethod
    def _page(plural: str, items: list[dict[str, Any]], params: dict[str, str]) -> dict[str, Any]:
        answer: dict[str, Any] = {"Id": str(uuid.uuid4()), "Status": "OK"}
        if "page" in params:
            page, size = int(params["page"]), min(1000, int(params.get("pageSize", 100)))
            count = len(items)
            answer["pagination"] = {
                "page": page,
                "pageSize": size,
                "pageCount": -(-count // size),
                "itemCount": count,
            }
            items = items[(page - 1) * size : page * size]
        answer[plural] = copy.deepcopy(items)
        return answer

    # ---------------------------------------------------------------- documents

    def _contact_of(self, element: dict[str, Any]) -> dict[str, Any]:
        contact_id = (element.get("Contact") or {}).get("ContactID")
        contact = self.contacts.get(contact_id or "")
        if contact is None:
            raise _Invalid(UNKNOWN_CONTACT)
        if contact.get("ContactStatus", "ACTIVE") == "ARCHIVED":
            raise _Invalid(ARCHIVED_CONTACT)
        return {"ContactID": contact["ContactID"], "Name": contact["Name"]}

    def _lines(self, element: dict[str, Any]) -> tuple[list[dict[str, Any]], Decimal]:
        lines, errors, total = [], [], Decimal("0")
        for raw in element.get("LineItems") or []:
            code = raw.get("AccountCode")
            if not code:
                errors.append("Account code must be specified")
            elif CHART.get(str(code)) in (None, "BANK"):
                errors.append(f"Account code '{code}' is not a valid code for this document.")
                if _money(raw.get("UnitAmount", 0)) != 0:
                    # The sandbox (as Xero) also finds the line without a usable account.
                    errors.append("Account code must be specified")
            tracking, wrong = self._resolve_tracking(raw.get("Tracking") or [])
            errors += wrong
            unit = _places(_money(raw.get("UnitAmount", 0)), self._unit_dp)
            amount = _places(_money(raw.get("Quantity", 1)) * unit, 2)
            total += amount
            lines.append(
                {
                    **raw,
                    "UnitAmount": unit,
                    "LineItemID": str(uuid.uuid4()),
                    "LineAmount": amount,
                    **({"Tracking": tracking} if tracking else {}),
                }
            )
        if errors:
            raise _Invalid(*dict.fromkeys(errors))
        if not lines:
            raise _Invalid(NO_LINES)
        return lines, total

    def _resolve_tracking(
        self, tracking: list[dict[str, Any]]
    ) -> tuple[list[dict[str, Any]], list[str]]:
        """A line's tracking in Xero's spelling of the names, and what Xero would refuse."""
        resolved, errors = [], []
        for item in tracking:
            wanted = str(item.get("Name") or "").casefold()
            category = next((c for c in self.tracking_categories if c.casefold() == wanted), None)
            if category is None:
                errors.append(UNKNOWN_CATEGORY)
                continue
            wanted = str(item.get("Option") or "").casefold()
            options = self.tracking_categories[category]
            option = next((o for o in options if o.casefold() == wanted), None)
            if option is None:
                errors.append(UNKNOWN_OPTION.format(category))
                continue
            resolved.append({"Name": category, "Option": option})
        return resolved, errors

    def _document(self, element: dict[str, Any]) -> dict[str, Any]:
        errors = []
        try:
            contact = self._contact_of(element)
        except _Invalid as exc:
            errors += exc.messages
        currency = element.get("CurrencyCode") or "DKK"
        if currency not in self.currencies:
            errors.append(f"Organisation is not subscribed to currency {currency}")
        try:
            lines, total = self._lines(element)
        except _Invalid as exc:
            errors += exc.messages
        issued = _date(element.get("Date") or date.today())
        if (element.get("Status") or "DRAFT") == "AUTHORISED":
            for key, label in (("PeriodLockDate", "period"), ("EndOfYearLockDate", "end of year")):
                lock = self.lock_dates.get(key)
                if lock is not None and issued <= lock:
                    errors.append(
                        f"The document date cannot be before the {label} lock date, "
                        f"currently set at {lock.strftime('%d-%b-%Y')}"
                    )
        if errors:
            raise _Invalid(*errors)
        return {
            "Contact": contact,
            "Date": _date(element.get("Date") or date.today()),
            "CurrencyCode": currency,
            "LineAmountTypes": element.get("LineAmountTypes") or "Exclusive",
            "LineItems": lines,
            "SubTotal": total,
            "TotalTax": Decimal("0.00"),
            "Total": total,
            "Status": element.get("Status") or "DRAFT",
            "UpdatedDateUTC": datetime.now(UTC),
        }

    def _write_invoice(self, element: dict[str, Any], method: str) -> dict[str, Any]:
        invoice_id = element.get("InvoiceID")
        if invoice_id:
            current = self.invoices.get(invoice_id)
            if current is None or method == "PUT":
                raise _Invalid("The invoice with the specified InvoiceID could not be found.")
            return self._update_invoice(current, element)
        if element.get("Type") not in ("ACCPAY", "ACCREC"):
            raise _Invalid("Invoice Type must be specified.")
        invoice = self._document(element)
        invoice.update(
            InvoiceID=str(uuid.uuid4()),
            Type=element["Type"],
            InvoiceNumber=element.get("InvoiceNumber") or f"INV-{next(self._numbers):04}",
            DueDate=_date(element.get("DueDate") or element.get("Date") or date.today()),
            Url=element.get("Url"),
            AmountDue=invoice["Total"],
            AmountPaid=Decimal("0.00"),
            Payments=[],
            HasAttachments=False,
        )
        self.invoices[invoice["InvoiceID"]] = invoice
        return copy.deepcopy(invoice)

    def _update_invoice(self, invoice: dict[str, Any], element: dict[str, Any]) -> dict[str, Any]:
        wanted = element.get("Status") or invoice["Status"]
        if invoice["Status"] in ("DELETED", "VOIDED"):
            raise _Invalid(STATUS)
        live_payments = [p for p in invoice["Payments"] if p.get("Status") != "DELETED"]
        financial = {"LineItems", "Date", "DueDate", "CurrencyCode", "Contact"} & set(element)
        if live_payments and (financial or wanted != invoice["Status"]):
            raise _Invalid(LOCKED)
        if wanted == "VOIDED" and invoice["Status"] in ("DRAFT", "SUBMITTED"):
            raise _Invalid(STATUS)  # Xero voids AUTHORISED bills only; the others are DELETED
        if wanted in ("VOIDED", "DELETED"):
            invoice.update(Status=wanted, AmountDue=Decimal("0.00"))
            return copy.deepcopy(invoice)
        if financial:
            updated = self._document({**element, "Status": wanted})
            invoice.update(updated)
            invoice["AmountDue"] = invoice["Total"]
        for key in ("InvoiceNumber", "Url"):
            if key in element:
                invoice[key] = element[key]
        if "DueDate" in element:
            invoice["DueDate"] = _date(element["DueDate"])
        return copy.deepcopy(invoice)

    def _get_invoices(self, params: dict[str, str], rest: list[str]) -> dict[str, Any]:
        items = list(self.invoices.values())
        if rest:
            items = [i for i in items if i["InvoiceID"] == rest[0]]
            if not items:
                raise Refused(404, "refused", None)
        for param, key in (("IDs", "InvoiceID"), ("InvoiceNumbers", "InvoiceNumber")):
            if params.get(param):
                wanted = set(params[param].split(","))
                items = [i for i in items if i.get(key) in wanted]
        if params.get("ContactIDs"):
            wanted = set(params["ContactIDs"].split(","))
            items = [i for i in items if i["Contact"]["ContactID"] in wanted]
        match = re.search(r'Type=="(\w+)"', params.get("where", ""))
        if match:
            items = [i for i in items if i["Type"] == match.group(1)]
        return self._page("Invoices", items, params)

    def _create_credit(self, element: dict[str, Any]) -> dict[str, Any]:
        note = self._document(element)
        number = element.get("CreditNoteNumber")
        if number and any(c["CreditNoteNumber"] == number for c in self.credit_notes.values()):
            raise _Invalid("Credit Note # must be unique.")
        note.update(
            CreditNoteID=str(uuid.uuid4()),
            Type=element.get("Type") or "ACCPAYCREDIT",
            CreditNoteNumber=number or f"CN-{next(self._numbers):04}",
            Reference=element.get("Reference"),
            RemainingCredit=note["Total"],
            Allocations=[],
        )
        self.credit_notes[note["CreditNoteID"]] = note
        return copy.deepcopy(note)

    def _get_credit_notes(self, params: dict[str, str], rest: list[str]) -> dict[str, Any]:
        items = list(self.credit_notes.values())
        if rest:
            items = [c for c in items if c["CreditNoteID"] == rest[0]]
            if not items:
                raise Refused(404, "refused", None)
        match = re.search(r'Type=="(\w+)"', params.get("where", ""))
        if match:
            items = [c for c in items if c["Type"] == match.group(1)]
        contacts = re.findall(r'Contact\.ContactID==GUID\("([^"]+)"\)', params.get("where", ""))
        if contacts:
            items = [c for c in items if c["Contact"]["ContactID"] in contacts]
        return self._page("CreditNotes", items, params)

    def _allocate(self, note_id: str, body: dict[str, Any]) -> dict[str, Any]:
        note = self.credit_notes.get(note_id)
        if note is None:
            raise Refused(404, "refused", None)
        results = []
        for element in body.get("Allocations") or []:
            invoice = self.invoices.get((element.get("Invoice") or {}).get("InvoiceID", ""))
            amount = _money(element.get("Amount"))
            if invoice is None:
                raise Refused(400, NOT_FOUND_DOC, {"Message": NOT_FOUND_DOC})
            for wrong, message in (
                (note["Status"] != "AUTHORISED", NOTE_NOT_AUTHORISED),
                (invoice["Status"] != "AUTHORISED", BILL_NOT_AUTHORISED),
            ):
                if wrong:  # Xero's rule 8 (xero-facts.md), the sandbox's words
                    raise Refused(400, message, {"Message": message})
            if amount > note["RemainingCredit"] or amount > invoice["AmountDue"]:
                message = "The amount to allocate exceeds what remains"
                raise Refused(400, message, {"Message": message})
            note["RemainingCredit"] -= amount
            invoice["AmountDue"] -= amount
            allocation = {
                "AllocationID": str(uuid.uuid4()),
                "Amount": amount,
                "Date": _date(element.get("Date") or date.today()),
                "Invoice": {"InvoiceID": invoice["InvoiceID"]},
                "IsDeleted": False,
            }
            note["Allocations"].append(allocation)
            results.append(allocation)
        return {"Allocations": copy.deepcopy(results)}

    def _unallocate(self, note_id: str, allocation_id: str) -> dict[str, Any]:
        """As Xero (and the sandbox): the allocation answered with ``IsDeleted`` true, its
        credit back on the credit note and due on the invoice; taking it off twice is no
        error."""
        note = self.credit_notes.get(note_id)
        found = [
            a for a in (note or {}).get("Allocations", []) if a["AllocationID"] == allocation_id
        ]
        if note is None or not found:
            raise Refused(404, "refused", None)
        [allocation] = found
        if not allocation["IsDeleted"]:
            allocation["IsDeleted"] = True
            note["RemainingCredit"] += allocation["Amount"]
            invoice = self.invoices.get(allocation["Invoice"]["InvoiceID"])
            if invoice is not None:
                invoice["AmountDue"] += allocation["Amount"]
        return copy.deepcopy(allocation)

    # ---------------------------------------------------------------- payments

    def _create_payment(self, element: dict[str, Any]) -> dict[str, Any]:
        invoice = self.invoices.get((element.get("Invoice") or {}).get("InvoiceID", ""))
        if invoice is None:
            raise _Invalid(NOT_FOUND_DOC)
        if invoice["Status"] != "AUTHORISED":
            raise _Invalid(NOT_AUTHORISED)
        code = (element.get("Account") or {}).get("Code")
        if not code:
            raise _Invalid("You must specify an Account code or Account ID for the payment")
        if CHART.get(str(code)) != "BANK":
            raise _Invalid(BAD_ACCOUNT_TYPE)
        amount = _money(element.get("Amount"))
        if amount <= 0:
            raise _Invalid("Payment amount must be greater than zero.")
        if amount > invoice["AmountDue"]:
            raise _Invalid(TOO_MUCH)
        paid_on = _date(element.get("Date") or date.today())
        for key, label in (("PeriodLockDate", "period"), ("EndOfYearLockDate", "end of year")):
            lock = self.lock_dates.get(key)
            if lock is not None and paid_on <= lock:  # the sandbox's words (no recording)
                raise _Invalid(
                    f"The payment date cannot be before the {label} lock date, "
                    f"currently set at {lock.strftime('%d-%b-%Y')}"
                )
        currency = invoice.get("CurrencyCode") or self.base_currency
        given_rate = element.get("CurrencyRate")
        if currency == self.base_currency:
            rate = Decimal("1")
        elif given_rate is not None:
            rate = _money(given_rate)
        else:
            rate = self.rates.get(currency, Decimal("1"))
        payment: dict[str, Any] = {
            "PaymentID": str(uuid.uuid4()),
            "Date": _date(element.get("Date") or date.today()),
            "Amount": amount,
            "CurrencyRate": rate,
            "Reference": element.get("Reference"),
            "Status": "AUTHORISED",
            "PaymentType": "ACCPAYPAYMENT",
            "Account": {"Code": code},
            "Invoice": {
                "InvoiceID": invoice["InvoiceID"],
                "InvoiceNumber": invoice["InvoiceNumber"],
            },
        }
        self.payments[payment["PaymentID"]] = payment
        invoice["Payments"].append(
            {
                k: payment[k]
                for k in ("PaymentID", "Date", "Amount", "Reference", "Status", "CurrencyRate")
            }
        )
        invoice["AmountPaid"] += amount
        invoice["AmountDue"] -= amount
        if invoice["AmountDue"] == 0:
            invoice["Status"] = "PAID"
        return copy.deepcopy(payment)

    def _delete_payment(self, payment_id: str, body: dict[str, Any]) -> dict[str, Any]:
        payment = self.payments.get(payment_id)
        if payment is None:
            raise Refused(404, "refused", None)
        if body.get("Status") != "DELETED":
            message = "Payments can only be deleted: set Status to DELETED."
            raise Refused(400, message, {"Message": message})
        if payment["Status"] == "DELETED":
            message = "This payment has already been deleted."
            raise Refused(400, message, {"Message": message})
        payment["Status"] = "DELETED"
        invoice = self.invoices[payment["Invoice"]["InvoiceID"]]
        for p in invoice["Payments"]:
            if p["PaymentID"] == payment_id:
                p["Status"] = "DELETED"
        invoice["AmountPaid"] -= payment["Amount"]
        invoice["AmountDue"] += payment["Amount"]
        invoice["Status"] = "AUTHORISED"
        return {"Payments": [copy.deepcopy(payment)]}

    # ---------------------------------------------------------------- attachments

    def _attach(self, target: str, document_id: str, name: str, content: bytes) -> dict[str, Any]:
        documents = self.invoices if target == "Invoices" else self.credit_notes
        if document_id not in documents:
            raise Refused(404, "refused", None)
        attachment = {
            "AttachmentID": str(uuid.uuid4()),
            "FileName": name,
            "ContentLength": len(content),
            # Xero takes the type from the name (the SDK uploads application/octet-stream).
            "MimeType": mimetypes.guess_type(name)[0] or "application/octet-stream",
        }
        # Xero compares names without case: the same name in another case replaces the file.
        for key in [k for k in self.attachments if k.lower() == f"{document_id}/{name}".lower()]:
            del self.attachments[key]
        self.attachments[f"{document_id}/{name}"] = attachment
        return {"Attachments": [copy.deepcopy(attachment)]}

    def _attachments_of(self, target: str, document_id: str) -> dict[str, Any]:
        documents = self.invoices if target == "Invoices" else self.credit_notes
        if document_id not in documents:
            raise Refused(404, "refused", None)
        return {
            "Attachments": [
                copy.deepcopy(a)
                for key, a in self.attachments.items()
                if key.startswith(f"{document_id}/")
            ]
        }


class FakeTokens:
    """The policy's ``TokenAccess``: hands out ``tokens`` in turn, one more per forced
    refresh. ``refusal``: what access raises instead (NotConnected, NeedsReconnect, ...)."""

    def __init__(self, tenant_id: str = TENANT, tokens: tuple[str, ...] = (TOKEN,)) -> None:
        self.tenant_id, self.tokens = tenant_id, list(tokens)
        self.refreshes = 0
        self.refusal: Exception | None = None
        self.refusal_on_refresh: Exception | None = None

    async def __call__(self, company_id: str, *, force: bool = False) -> Access:
        if self.refusal is not None:
            raise self.refusal
        if force:
            if self.refusal_on_refresh is not None:
                raise self.refusal_on_refresh
            self.refreshes += 1
        token = self.tokens[min(self.refreshes, len(self.tokens) - 1)]
        return Access(tenant_id=self.tenant_id, access_token=token)


class FakeAttempts:
    """``services.xero_writer.attempts.Attempts`` in memory.

    ``keep_answers=False`` (the default) forgets every final answer, as a writer that
    crashed between Xero's answer and its record would: the look-ups' case.
    ``keep_answers=True`` keeps them, as the writer does (``final``: command id -> answer).
    """

    def __init__(self, keep_answers: bool = False) -> None:
        self.seen: set[str] = set()
        self.keep_answers = keep_answers
        self.final: dict[str, XeroResult] = {}

    async def begin(self, company_id: str, command_ids: Sequence[str]) -> set[str]:
        ids = set(command_ids)
        earlier = ids & self.seen
        self.seen |= ids
        return earlier

    async def answers(self, command_ids: Sequence[str]) -> dict[str, XeroResult]:
        return {i: self.final[i] for i in command_ids if i in self.final}

    async def remember(self, results: Sequence[XeroResult]) -> None:
        if self.keep_answers:
            for r in results:
                if r.type != "XeroCommandWaiting":
                    self.final.setdefault(r.command_id, r)


@dataclass
class FakeSession:
    """``services.xero_writer.policy.Session`` on a FakeXero, with one token."""

    xero: FakeXero
    access: Access
    pauses: list[float] = field(default_factory=list)

    async def call(self, method: str, path: str, **kw: Any) -> dict[str, Any]:
        return await self.xero.call(method, path, access_token=self.access.access_token, **kw)

    def pause(self, seconds: float) -> None:
        self.xero.pauses.append(seconds)

    def day_budget_wait(self) -> float:
        return self.xero.day_budget_wait_s  # set by a test: the writer's own day limit


@dataclass
class WriterHarness:
    """The writer's policy on a FakeXero, with its stores and side effects faked.

    ``parked``: (command ids, reason) per batch dead-lettered; ``sleeps``: backoff waits (s).
    """

    xero: FakeXero
    tokens: FakeTokens
    attempts: FakeAttempts
    policy: Policy
    parked: list[tuple[list[str], str]]
    sleeps: list[float]

    async def run(self, *commands: AnyCommand) -> dict[str, XeroResult]:
        """One batch through the policy; results by command id."""
        results = await self.policy.carry_out(commands[0].company_id, list(commands))
        assert len(results) == len(commands), results
        return {r.command_id: r for r in results}


def writer_on(
    xero: FakeXero | None = None,
    tokens: FakeTokens | None = None,
    *,
    keep_answers: bool = False,
    time_passes: float = 0.0,
) -> WriterHarness:
    """The policy on ``xero``; ``keep_answers``: see ``FakeAttempts``; ``time_passes``:
    seconds each backoff wait stands for (past Xero's 6 minutes the fake forgets its
    Idempotency-Keys, so a command sent again replays nothing)."""
    xero = xero or FakeXero()
    tokens = tokens or FakeTokens(xero.tenant_id)
    attempts = FakeAttempts(keep_answers)
    parked: list[tuple[list[str], str]] = []
    sleeps: list[float] = []

    async def park(commands: list[AnyCommand], reason: str) -> None:
        parked.append(([c.command_id for c in commands], reason))

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        if time_passes >= IDEMPOTENCY_WINDOW_S:
            xero.pass_idempotency_window()

    policy = Policy(
        access=tokens, attempts=attempts, open_session=xero.session, park=park, sleep=sleep
    )
    return WriterHarness(xero, tokens, attempts, policy, parked, sleeps)
