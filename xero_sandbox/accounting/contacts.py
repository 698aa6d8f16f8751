"""Contacts: PUT creates, POST creates or updates; names unique among ACTIVE contacts."""

from __future__ import annotations

import re
import uuid
from typing import Any

from ..wire import new_id
from .common import (
    ApiError,
    Ctx,
    ElementInvalid,
    id_list,
    list_field,
    modified_since,
    newer_than,
    not_found,
    ok,
    page_of,
    run_batch,
    text,
    uuid_field,
)
from .filtering import filtered

# Fields a client may write; everything else in a request (HasAttachments, IsSupplier, …)
# is read-only and ignored, as Xero ignores what the SDK injects.
WRITABLE = (
    "ContactNumber",
    "AccountNumber",
    "ContactStatus",
    "Name",
    "FirstName",
    "LastName",
    "CompanyNumber",
    "EmailAddress",
    "ContactPersons",
    "BankAccountDetails",
    "TaxNumber",
    "TaxNumberType",
    "AccountsReceivableTaxType",
    "AccountsPayableTaxType",
    "Addresses",
    "Phones",
    "SalesDefaultLineAmountType",
    "PurchasesDefaultLineAmountType",
    "DefaultCurrency",
    "XeroNetworkKey",
    "SalesDefaultAccountCode",
    "PurchasesDefaultAccountCode",
    "SalesTrackingCategories",
    "PurchasesTrackingCategories",
    "TrackingCategoryName",
    "TrackingCategoryOption",
    "PaymentTerms",
    "BatchPayments",
)
REFERENCE_ONLY = {"ContactID", "Name", "ContactNumber"}
FIELDS = set(WRITABLE) | {
    "ContactID",
    "IsSupplier",
    "IsCustomer",
    "UpdatedDateUTC",
    "ContactGroups",
    "Website",
    "HasAttachments",
    "HasValidationErrors",
    "Balances",
    "Discount",
    "MergedToContactID",
}
_ADDRESS_TYPES = ("POBOX", "STREET")
_PHONE_TYPES = ("DEFAULT", "DDI", "FAX", "MOBILE")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def duplicate_name_message(name: str) -> str:
    return (
        f"The contact name {name} is already assigned to another contact. "
        "The contact name must be unique across all active contacts."
    )


# No recorded wording for an unknown ContactID inside a batch; the sandbox's.
UNKNOWN_CONTACT = "The contact with the specified ContactID could not be found."
ARCHIVED_MESSAGE = (
    "The specified contact details matched an archived contact. "
    "Archived contacts cannot currently be edited via the API."
)


# Slots as recorded for contacts made through the API (fyle-xero-api's recorded answers):
# empty strings in every slot; a write's answer lists STREET, POBOX and DEFAULT, DDI, FAX,
# MOBILE; a read (GET /Contacts) lists the phones DDI, DEFAULT, FAX, MOBILE, the addresses
# mostly STREET, POBOX (Xero's order varies), and leaves out empty tracking defaults.
_ADDRESS_ORDER = ("STREET", "POBOX")
_WRITTEN_PHONES = ("DEFAULT", "DDI", "FAX", "MOBILE")
_READ_PHONES = ("DDI", "DEFAULT", "FAX", "MOBILE")
_EMPTY_ADDRESS = ("City", "Region", "PostalCode", "Country")
_EMPTY_PHONE = ("PhoneNumber", "PhoneAreaCode", "PhoneCountryCode")


def _ordered(
    items: list[dict[str, Any]], key: str, order: tuple[str, ...], empty: tuple[str, ...]
) -> list[dict[str, Any]]:
    by_kind = {item.get(key): item for item in items}
    out = []
    for kind in order:
        item = dict(by_kind.get(kind) or {key: kind})
        for name in empty:
            item.setdefault(name, "")
        out.append(item)
    return out


def render_contact(contact: dict[str, Any], written: bool = False) -> dict[str, Any]:
    """The contact as Xero answers it: `written` for the answer to PUT/POST /Contacts."""
    body = {k: v for k, v in contact.items() if not k.startswith("_")}
    body["Addresses"] = _ordered(
        body.get("Addresses", []), "AddressType", _ADDRESS_ORDER, _EMPTY_ADDRESS
    )
    phones = _WRITTEN_PHONES if written else _READ_PHONES
    body["Phones"] = _ordered(body.get("Phones", []), "PhoneType", phones, _EMPTY_PHONE)
    if written:
        body.pop("HasAttachments", None)
    else:
        for key in ("SalesTrackingCategories", "PurchasesTrackingCategories"):
            if not body.get(key):
                body.pop(key, None)
    body["HasValidationErrors"] = False
    return body


def slim(contact: dict[str, Any]) -> dict[str, Any]:
    """The contact as nested in a list of documents: "When you retrieve multiple invoices,
    only a summary of the contact is returned" (Invoices docs); this is its recorded shape."""
    return {
        "ContactID": contact["ContactID"],
        "Name": contact.get("Name", ""),
        "Addresses": [],
        "Phones": [],
        "ContactGroups": [],
        "ContactPersons": [],
        "HasValidationErrors": False,
    }


def summary(contact: dict[str, Any]) -> dict[str, Any]:
    """The contact as nested inside one document (a single read or a write's answer): the
    whole contact, as a write answers it (recorded GET of one bill, fyle-xero-api)."""
    return render_contact(contact, written=True)


def _find_active_by_name(ctx: Ctx, name: str, exclude: str | None) -> dict[str, Any] | None:
    wanted = name.strip().lower()
    for contact in ctx.org.contacts.values():
        if contact["ContactID"] == exclude or contact["ContactStatus"] != "ACTIVE":
            continue
        if contact["Name"].strip().lower() == wanted:
            return contact
    return None


def find_by_number(ctx: Ctx, number: str) -> dict[str, Any] | None:
    for contact in ctx.org.contacts.values():
        if contact.get("ContactNumber") and contact["ContactNumber"] == number:
            return contact
    return None


def _slots(given: list[Any], key: str, kinds: tuple[str, ...]) -> list[dict[str, Any]]:
    """Xero always returns the standard address/phone slots, filled where given."""
    by_kind: dict[str, dict[str, Any]] = {k: {key: k} for k in kinds}
    extra: list[dict[str, Any]] = []
    for item in given:
        if not isinstance(item, dict):
            raise ElementInvalid([f"Each of the {key[:-4]}es must be an object."])
        kind = str(item.get(key) or kinds[0]).upper()
        clean = {k: v for k, v in item.items() if isinstance(v, str)}
        clean[key] = kind
        if kind in by_kind:
            by_kind[kind] = clean
        else:
            raise ElementInvalid([f"'{kind}' is not a valid {key}."])
    return [*by_kind.values(), *extra]


def _apply_fields(ctx: Ctx, contact: dict[str, Any], element: dict[str, Any]) -> None:
    errors: list[str] = []
    for key in WRITABLE:
        if key not in element:
            continue
        value = element[key]
        if key == "Addresses":
            contact[key] = _slots(list_field(element, key), "AddressType", _ADDRESS_TYPES)
        elif key == "Phones":
            contact[key] = _slots(list_field(element, key), "PhoneType", _PHONE_TYPES)
        elif key in ("ContactPersons", "SalesTrackingCategories", "PurchasesTrackingCategories"):
            contact[key] = [v for v in list_field(element, key) if isinstance(v, dict)]
        elif key in ("PaymentTerms", "BatchPayments"):
            if value is not None and not isinstance(value, dict):
                raise ApiError(400, {"Message": f"'{key}' must be an object"})
            contact[key] = value
        elif value is None:
            contact.pop(key, None)
        else:
            contact[key] = text(element, key)
    email = contact.get("EmailAddress")
    if email and not _EMAIL.match(email):
        errors.append("Email address must be valid.")
    status = contact.get("ContactStatus")
    if status not in ("ACTIVE", "ARCHIVED"):
        errors.append("Contact status must be ACTIVE or ARCHIVED.")
    currency = contact.get("DefaultCurrency")
    org = ctx.org
    if currency and currency not in (org.base_currency, *org.currencies):
        errors.append(f"Organisation is not subscribed to currency {currency}")
    if errors:
        raise ElementInvalid(errors)


def _check_unique(ctx: Ctx, contact: dict[str, Any], exclude: str | None) -> None:
    errors = []
    name = contact.get("Name") or ""
    if not name.strip():
        errors.append("Contact Name cannot be empty.")
    elif contact["ContactStatus"] == "ACTIVE" and _find_active_by_name(ctx, name, exclude):
        errors.append(duplicate_name_message(name))
    number = contact.get("ContactNumber")
    if number:
        other = find_by_number(ctx, number)
        if other is not None and other["ContactID"] != exclude:
            errors.append(
                f"The contact number {number} is already assigned to another contact. "
                "The contact number must be unique across all contacts."
            )
    if errors:
        raise ElementInvalid(errors)


def create_contact(ctx: Ctx, element: dict[str, Any]) -> dict[str, Any]:
    contact: dict[str, Any] = {
        "ContactID": new_id(),
        "ContactStatus": "ACTIVE",
        "Name": "",
        "Addresses": _slots([], "AddressType", _ADDRESS_TYPES),
        "Phones": _slots([], "PhoneType", _PHONE_TYPES),
        "UpdatedDateUTC": ctx.now,
        "ContactGroups": [],
        "IsSupplier": False,
        "IsCustomer": False,
        "SalesTrackingCategories": [],
        "PurchasesTrackingCategories": [],
        "ContactPersons": [],
        "HasAttachments": False,
        # Contacts made through the API carry it empty (recorded PUT /Contacts answer).
        "BankAccountDetails": "",
    }
    _apply_fields(ctx, contact, element)
    if isinstance(contact.get("Name"), str):
        contact["Name"] = contact["Name"].strip()
    _check_unique(ctx, contact, None)
    ctx.org.contacts[contact["ContactID"]] = contact
    return contact


def update_contact(ctx: Ctx, contact: dict[str, Any], element: dict[str, Any]) -> dict[str, Any]:
    restoring = element.get("ContactStatus") == "ACTIVE"
    if contact["ContactStatus"] != "ACTIVE" and not restoring:
        raise ElementInvalid([ARCHIVED_MESSAGE])
    changed = dict(contact)
    _apply_fields(ctx, changed, element)
    if isinstance(changed.get("Name"), str):
        changed["Name"] = changed["Name"].strip()
    _check_unique(ctx, changed, contact["ContactID"])
    changed["UpdatedDateUTC"] = ctx.now
    contact.clear()
    contact.update(changed)
    return contact


def upsert(ctx: Ctx, element: dict[str, Any], allow_update: bool) -> dict[str, Any]:
    contact_id = uuid_field(element, "ContactID")
    if contact_id:
        existing = ctx.org.contacts.get(contact_id)
        if existing is None:
            # Inside a batch an unknown id fails its own element, not its neighbours.
            raise ElementInvalid([UNKNOWN_CONTACT])
        if not allow_update:
            raise ElementInvalid(["A contact with this ContactID already exists."])
        return update_contact(ctx, existing, element)
    number = text(element, "ContactNumber")
    if allow_update and number:
        existing = find_by_number(ctx, number)
        if existing is not None:
            return update_contact(ctx, existing, element)
    return create_contact(ctx, element)


def write_contacts(ctx: Ctx) -> dict[str, Any]:
    allow_update = ctx.method == "POST"
    elements = ctx.elements("Contacts")
    target = ctx.path_params.get("id")
    if target:
        # POST /Contacts/{ContactID}: the id in the path names the contact to update.
        contact_id = _as_uuid(target)
        if contact_id is None or contact_id not in ctx.org.contacts:
            raise not_found()
        for element in elements:
            if isinstance(element, dict):
                element["ContactID"] = contact_id

    def process(element: dict[str, Any]) -> dict[str, Any]:
        return render_contact(upsert(ctx, element, allow_update), written=True)

    return run_batch(ctx, "Contacts", elements, process, "ContactID", "HasValidationErrors")


def _as_uuid(value: str) -> str | None:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return None


def get_contacts(ctx: Ctx) -> dict[str, Any]:
    org = ctx.org
    items = list(org.contacts.values())
    ids = id_list(ctx.q("IDs"))
    if ids:
        items = [c for c in items if c["ContactID"] in ids]
    if not ctx.flag("includeArchived", False) and not ids:
        items = [c for c in items if c["ContactStatus"] != "ARCHIVED"]
    term = (ctx.q("searchTerm") or "").strip().lower()
    if term:
        searched = (
            "Name",
            "FirstName",
            "LastName",
            "ContactNumber",
            "CompanyNumber",
            "EmailAddress",
        )
        items = [c for c in items if any(term in str(c.get(k) or "").lower() for k in searched)]
    items = newer_than(items, modified_since(ctx))
    items = filtered(ctx, items, FIELDS, "Contact", default_order="Name")
    page, pagination = page_of(ctx, items)
    extra = {"pagination": pagination} if pagination else {}
    return ok(ctx, "Contacts", [render_contact(c) for c in page], **extra)


def get_contact(ctx: Ctx) -> dict[str, Any]:
    key = ctx.path_params["id"]
    contact_id = _as_uuid(key)
    contact = ctx.org.contacts.get(contact_id) if contact_id else find_by_number(ctx, key)
    if contact is None:
        raise not_found()
    return ok(ctx, "Contacts", [render_contact(contact)])
