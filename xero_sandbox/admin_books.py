"""Admin API for what a real organisation holds that the Accounting API cannot set up:
archived and merged contacts, lock dates, tracking categories, currency rates and bank
accounts' currencies. Not part of Xero; tests and the demo use it to seed organisations.

Every route is under `/_sandbox/organisations/{tenant_id}/`; errors are
`{"error": message}` with 400 (bad body), 404 (unknown tenant or object) or 409 (a clash).
"""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .accounting import tracking
from .state import Organisation
from .wire import WireError, dumps, loads, parse_date

if TYPE_CHECKING:
    from .runtime import Sandbox


class _Refused(Exception):
    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def _sandbox(request: Request) -> Sandbox:
    return request.app.state.sandbox  # type: ignore[no-any-return]


def _org(request: Request) -> Organisation:
    org = _sandbox(request).state.organisations.get(request.path_params["tenant_id"].lower())
    if org is None:
        raise _Refused("unknown tenant", 404)
    return org


async def _body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        data = loads(raw)
    except ValueError as exc:
        raise _Refused("body must be JSON") from exc
    if not isinstance(data, dict):
        raise _Refused("body must be a JSON object")
    return data


def _day(value: Any, name: str) -> date | None:
    if value is None:
        return None
    try:
        return parse_date(value)
    except WireError as exc:
        raise _Refused(f"{name} must be a date (YYYY-MM-DD) or null") from exc


def _id(value: Any) -> str:
    try:
        return str(uuid.UUID(str(value)))
    except ValueError as exc:
        raise _Refused(f"not an id: {value!r}", 404) from exc


def _contact(org: Organisation, contact_id: Any) -> dict[str, Any]:
    contact = org.contacts.get(_id(contact_id))
    if contact is None:
        raise _Refused("unknown contact", 404)
    return contact


def _answer(request: Request, body: Any) -> Response:
    sandbox = _sandbox(request)
    sandbox.save()
    sandbox.changed(request.path_params["tenant_id"].lower())
    return Response(dumps(body), media_type="application/json")


def _handled(handler: Any) -> Any:
    async def endpoint(request: Request) -> Response:
        try:
            return await handler(request)
        except _Refused as exc:
            return JSONResponse({"error": exc.message}, status_code=exc.status)

    return endpoint


# ---------------------------------------------------------------- contacts


async def archive_contact(request: Request) -> Response:
    """POST .../contacts/{contact_id}/archive → the contact, ContactStatus ARCHIVED."""
    org = _org(request)
    contact = _contact(org, request.path_params["contact_id"])
    contact["ContactStatus"] = "ARCHIVED"
    contact["UpdatedDateUTC"] = _sandbox(request).now()
    return _answer(request, contact)


async def restore_contact(request: Request) -> Response:
    """POST .../contacts/{contact_id}/restore → ACTIVE again (409 if its name is taken by
    another active contact, as Xero's restore refuses)."""
    org = _org(request)
    contact = _contact(org, request.path_params["contact_id"])
    clash = any(
        c["ContactStatus"] == "ACTIVE"
        and c["ContactID"] != contact["ContactID"]
        and c["Name"].strip().lower() == contact["Name"].strip().lower()
        for c in org.contacts.values()
    )
    if clash:
        raise _Refused("another active contact has this name", 409)
    contact["ContactStatus"] = "ACTIVE"
    contact.pop("MergedToContactID", None)
    contact["UpdatedDateUTC"] = _sandbox(request).now()
    return _answer(request, contact)


async def merge_contacts(request: Request) -> Response:
    """POST .../contacts/{contact_id}/merge {"into": survivor_id} → the merged contact.

    As Xero's merge: the merged contact is archived with `MergedToContactID` naming the
    survivor, and its documents move to the survivor.
    """
    org = _org(request)
    merged = _contact(org, request.path_params["contact_id"])
    survivor = _contact(org, (await _body(request)).get("into"))
    if survivor["ContactID"] == merged["ContactID"]:
        raise _Refused("a contact cannot be merged into itself")
    if survivor["ContactStatus"] != "ACTIVE":
        raise _Refused("the surviving contact must be active", 409)
    now = _sandbox(request).now()
    for documents in (org.invoices, org.credit_notes, org.bank_transactions):
        for document in documents.values():
            if document["ContactID"] == merged["ContactID"]:
                document["ContactID"] = survivor["ContactID"]
                document["UpdatedDateUTC"] = now
    merged["ContactStatus"] = "ARCHIVED"
    merged["MergedToContactID"] = survivor["ContactID"]
    merged["UpdatedDateUTC"] = now
    return _answer(request, merged)


# ---------------------------------------------------------------- lock dates


async def set_lock_dates(request: Request) -> Response:
    """PUT .../lock-dates {"period_lock_date": "YYYY-MM-DD"|null,
    "end_of_year_lock_date": ...}; a key left out keeps its date."""
    org = _org(request)
    data = await _body(request)
    unknown = set(data) - {"period_lock_date", "end_of_year_lock_date"}
    if unknown:
        raise _Refused(f"unknown keys: {sorted(unknown)}")
    if "period_lock_date" in data:
        org.period_lock_date = _day(data["period_lock_date"], "period_lock_date")
    if "end_of_year_lock_date" in data:
        org.end_of_year_lock_date = _day(data["end_of_year_lock_date"], "end_of_year_lock_date")
    return _answer(
        request,
        {
            "period_lock_date": org.period_lock_date and org.period_lock_date.isoformat(),
            "end_of_year_lock_date": org.end_of_year_lock_date
            and org.end_of_year_lock_date.isoformat(),
        },
    )


# ---------------------------------------------------------------- tracking


def _status(value: Any) -> str:
    status = str(value or "ACTIVE").upper()
    if status not in ("ACTIVE", "ARCHIVED", "DELETED"):
        raise _Refused("status must be ACTIVE, ARCHIVED or DELETED")
    return status


def _name(value: Any) -> str:
    name = str(value or "").strip()
    if not name or len(name) > 100:
        raise _Refused("name must be 1 to 100 characters")
    return name


async def create_tracking_category(request: Request) -> Response:
    """POST .../tracking-categories {"name", "options": [names], "status"?} → the category
    as `GET /TrackingCategories` shows it (409 if an active one has that name)."""
    org = _org(request)
    data = await _body(request)
    name = _name(data.get("name"))
    options = data.get("options") or []
    if not isinstance(options, list):
        raise _Refused("options must be a list of names")
    if any(
        c["Status"] == "ACTIVE" and c["Name"].lower() == name.lower()
        for c in org.tracking_categories.values()
    ):
        raise _Refused("an active tracking category has this name", 409)
    category = tracking.add_category(
        org, name, [_name(o) for o in options], _status(data.get("status"))
    )
    return _answer(request, tracking.render(category, True))


def _category(org: Organisation, raw: str) -> dict[str, Any]:
    category = org.tracking_categories.get(_id(raw))
    if category is None:
        raise _Refused("unknown tracking category", 404)
    return category


async def update_tracking_category(request: Request) -> Response:
    """PUT .../tracking-categories/{id} {"status"?, "name"?} → the category."""
    org = _org(request)
    category = _category(org, request.path_params["category_id"])
    data = await _body(request)
    if "status" in data:
        category["Status"] = _status(data["status"])
    if "name" in data:
        category["Name"] = _name(data["name"])
    return _answer(request, tracking.render(category, True))


async def add_tracking_option(request: Request) -> Response:
    """POST .../tracking-categories/{id}/options {"name", "status"?} → the option."""
    org = _org(request)
    category = _category(org, request.path_params["category_id"])
    data = await _body(request)
    option = tracking.add_option(category, _name(data.get("name")), _status(data.get("status")))
    return _answer(request, option)


async def update_tracking_option(request: Request) -> Response:
    """PUT .../tracking-categories/{id}/options/{option_id} {"status"?, "name"?}."""
    org = _org(request)
    category = _category(org, request.path_params["category_id"])
    wanted = _id(request.path_params["option_id"])
    option = next((o for o in category["Options"] if o["TrackingOptionID"] == wanted), None)
    if option is None:
        raise _Refused("unknown tracking option", 404)
    data = await _body(request)
    if "status" in data:
        option["Status"] = _status(data["status"])
    if "name" in data:
        option["Name"] = _name(data["name"])
    return _answer(request, option)


# ---------------------------------------------------------------- currencies


def _currency(org: Organisation, value: Any) -> str:
    code = str(value or "").strip().upper()
    if code != org.base_currency and code not in org.currencies:
        raise _Refused(f"the organisation does not use {code or 'that currency'}")
    return code


async def set_currency_rate(request: Request) -> Response:
    """PUT .../currency-rates {"currency": "EUR", "rate": "0.134", "date"?: "YYYY-MM-DD"}.

    `rate` is Xero's CurrencyRate: units of `currency` per one unit of the base currency.
    Without `date` it applies to every day that has no rate of its own.
    """
    org = _org(request)
    data = await _body(request)
    code = _currency(org, data.get("currency"))
    if code == org.base_currency:
        raise _Refused("the base currency's rate is always 1")
    try:
        rate = Decimal(str(data.get("rate")))
    except InvalidOperation as exc:
        raise _Refused("rate must be a positive number") from exc
    if not rate.is_finite() or rate <= 0:
        raise _Refused("rate must be a positive number")
    day = _day(data.get("date"), "date")
    org.rates.setdefault(code, {})[day] = rate
    return _answer(
        request, {"currency": code, "rate": rate, "date": day.isoformat() if day else None}
    )


async def set_account_currency(request: Request) -> Response:
    """PUT .../accounts/{code}/currency {"currency": "EUR"} → the bank account."""
    org = _org(request)
    account = org.account_by_code(request.path_params["code"])
    if account is None:
        raise _Refused("unknown account code", 404)
    if account["Type"] != "BANK":
        raise _Refused("only bank accounts have a currency")
    account["CurrencyCode"] = _currency(org, (await _body(request)).get("currency"))
    account["UpdatedDateUTC"] = _sandbox(request).now()
    return _answer(request, account)


def routes() -> list[Route]:
    base = "/_sandbox/organisations/{tenant_id}"
    category = base + "/tracking-categories/{category_id}"
    return [
        Route(base + "/contacts/{contact_id}/archive", _handled(archive_contact), methods=["POST"]),
        Route(base + "/contacts/{contact_id}/restore", _handled(restore_contact), methods=["POST"]),
        Route(base + "/contacts/{contact_id}/merge", _handled(merge_contacts), methods=["POST"]),
        Route(base + "/lock-dates", _handled(set_lock_dates), methods=["PUT"]),
        Route(base + "/tracking-categories", _handled(create_tracking_category), methods=["POST"]),
        Route(category, _handled(update_tracking_category), methods=["PUT"]),
        Route(category + "/options", _handled(add_tracking_option), methods=["POST"]),
        Route(category + "/options/{option_id}", _handled(update_tracking_option), methods=["PUT"]),
        Route(base + "/currency-rates", _handled(set_currency_rate), methods=["PUT"]),
        Route(base + "/accounts/{code}/currency", _handled(set_account_currency), methods=["PUT"]),
    ]
