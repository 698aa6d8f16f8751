"""Credit notes (ACCPAYCREDIT/ACCRECCREDIT) and their allocations to invoices.

An allocation needs an AUTHORISED credit note, an AUTHORISED invoice of the matching type,
the same contact and currency, and an amount within both the remaining credit and the
invoice's AmountDue.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from ..wire import date_string, new_id
from . import contacts, invoices
from .arithmetic import cents
from .common import (
    Ctx,
    ElementInvalid,
    collect,
    date_field,
    decimal_field,
    list_field,
    modified_since,
    newer_than,
    not_found,
    object_field,
    ok,
    page_of,
    run_batch,
    text,
    uuid_field,
)
from .documents import (
    NO_LINES,
    attach_contact,
    build_lines,
    currency_of,
    find_contact,
    line_amount_types,
    rendered_lines,
)
from .filtering import filtered
from .lock_dates import lock_errors

TYPES = {"ACCPAYCREDIT": "ACCPAY", "ACCRECCREDIT": "ACCREC"}
FIELDS = {
    "Type",
    "Contact",
    "Date",
    "DueDate",
    "Status",
    "LineAmountTypes",
    "LineItems",
    "SubTotal",
    "TotalTax",
    "Total",
    "UpdatedDateUTC",
    "CurrencyCode",
    "FullyPaidOnDate",
    "CreditNoteID",
    "CreditNoteNumber",
    "Reference",
    "SentToContact",
    "CurrencyRate",
    "RemainingCredit",
    "Allocations",
    "AppliedAmount",
    "Payments",
    "HasAttachments",
}
NOT_OUTSTANDING = "Credit Note cannot be allocated as amount is greater than amount outstanding"
PAID_OFF = "The invoice you are trying to allocate to has already been paid off"
WRONG_TYPE = "Credit Note cannot be allocated to an incorrect invoice type"
# No recorded wording for an unknown CreditNoteID inside a batch; the sandbox's.
UNKNOWN_NOTE = "The credit note with the specified CreditNoteID could not be found."


def settle(ctx: Ctx, note: dict[str, Any]) -> None:
    org = ctx.org
    allocated = sum(
        (
            a["Amount"]
            for a in org.allocations.values()
            if a["CreditNoteID"] == note["CreditNoteID"] and not a.get("IsDeleted")
        ),
        Decimal("0.00"),
    )
    refunded = sum(
        (
            p["Amount"]
            for p in org.payments.values()
            if p.get("CreditNoteID") == note["CreditNoteID"] and p["Status"] == "AUTHORISED"
        ),
        Decimal("0.00"),
    )
    note["AppliedAmount"] = allocated
    note["RemainingCredit"] = note["Total"] - allocated - refunded
    if note["Status"] in ("AUTHORISED", "PAID"):
        # A zero-total approved credit note is settled at once, like an invoice.
        if note["RemainingCredit"] == 0 and (allocated or refunded or note["Total"] == 0):
            if note["Status"] != "PAID":
                note["FullyPaidOnDate"] = ctx.today if (allocated or refunded) else note["Date"]
            note["Status"] = "PAID"
        else:
            note["Status"] = "AUTHORISED"
            note.pop("FullyPaidOnDate", None)
    note["UpdatedDateUTC"] = ctx.now


def render_allocation(ctx: Ctx, allocation: dict[str, Any]) -> dict[str, Any]:
    org = ctx.org
    invoice = org.invoices.get(allocation["InvoiceID"])
    note = org.credit_notes.get(allocation["CreditNoteID"])
    body: dict[str, Any] = {
        "AllocationID": allocation["AllocationID"],
        "Amount": allocation["Amount"],
        "Date": allocation["Date"],
        "IsDeleted": bool(allocation.get("IsDeleted")),
    }
    if invoice is not None:
        summary = invoices.render(ctx, invoice, with_lines=False)
        body["Invoice"] = {
            k: summary[k]
            for k in (
                "Type",
                "InvoiceID",
                "InvoiceNumber",
                "Contact",
                "Status",
                "AmountDue",
                "AmountPaid",
                "AmountCredited",
                "Total",
                "CurrencyCode",
                "LineItems",
                "Payments",
                "CreditNotes",
                "Prepayments",
                "Overpayments",
                "HasErrors",
                "IsDiscounted",
            )
        }
    if note is not None:
        body["CreditNote"] = {
            "CreditNoteID": note["CreditNoteID"],
            "CreditNoteNumber": note.get("CreditNoteNumber", ""),
            "Type": note["Type"],
            "Status": note["Status"],
            "RemainingCredit": note["RemainingCredit"],
            "Total": note["Total"],
            "LineItems": [],
        }
    return body


def render(
    ctx: Ctx, note: dict[str, Any], with_lines: bool = True, listed: bool = False
) -> dict[str, Any]:
    """The credit note as Xero answers it; `listed`: as one of a list (slim contact)."""
    org = ctx.org
    contact = org.contacts.get(note["ContactID"])
    nested = contacts.slim if listed else contacts.summary
    body: dict[str, Any] = {
        "CreditNoteID": note["CreditNoteID"],
        "CreditNoteNumber": note.get("CreditNoteNumber", ""),
        "Type": note["Type"],
        "Reference": note.get("Reference", ""),
        "Payments": [
            {
                "PaymentID": p["PaymentID"],
                "Date": p["Date"],
                "Amount": p["Amount"],
                "Reference": p.get("Reference", ""),
                "CurrencyRate": p["CurrencyRate"],
                "HasAccount": False,
                "HasValidationErrors": False,
            }
            for p in org.payments.values()
            if p.get("CreditNoteID") == note["CreditNoteID"] and p["Status"] == "AUTHORISED"
        ],
        "Allocations": [
            {
                "AllocationID": a["AllocationID"],
                "Amount": a["Amount"],
                "Date": a["Date"],
                "Invoice": {
                    "InvoiceID": a["InvoiceID"],
                    "InvoiceNumber": org.invoices[a["InvoiceID"]].get("InvoiceNumber", ""),
                    "Payments": [],
                    "CreditNotes": [],
                    "Prepayments": [],
                    "Overpayments": [],
                    "HasErrors": False,
                    "IsDiscounted": False,
                    "LineItems": [],
                },
                "IsDeleted": False,
            }
            for a in org.allocations.values()
            if a["CreditNoteID"] == note["CreditNoteID"] and not a.get("IsDeleted")
        ],
        "RemainingCredit": note["RemainingCredit"],
        "AppliedAmount": note.get("AppliedAmount", Decimal("0.00")),
        "CurrencyRate": note["CurrencyRate"],
        "HasAttachments": bool(org.attachments.get(note["CreditNoteID"])),
        "HasErrors": False,
        "Contact": nested(contact) if contact else {"ContactID": note["ContactID"]},
        "DateString": date_string(note["Date"]),
        "Date": note["Date"],
        "Status": note["Status"],
        "LineAmountTypes": note["LineAmountTypes"],
        "SubTotal": note["SubTotal"],
        "TotalTax": note["TotalTax"],
        "Total": note["Total"],
        "UpdatedDateUTC": note["UpdatedDateUTC"],
        "CurrencyCode": note["CurrencyCode"],
        "LineItems": rendered_lines(ctx, note["LineItems"]) if with_lines else [],
    }
    if note.get("FullyPaidOnDate"):
        body["FullyPaidOnDate"] = note["FullyPaidOnDate"]
    if note["Type"] == "ACCRECCREDIT":
        body["SentToContact"] = False
    return body


def _next_number(ctx: Ctx) -> str:
    highest = 0
    for note in ctx.org.credit_notes.values():
        number = note.get("CreditNoteNumber", "")
        if note["Type"] == "ACCRECCREDIT" and number.startswith("CN-") and number[3:].isdigit():
            highest = max(highest, int(number[3:]))
    return f"CN-{highest + 1:04d}"


def create_note(ctx: Ctx, element: dict[str, Any]) -> dict[str, Any]:
    """A new credit note; every rule it breaks is answered at once (ElementInvalid)."""
    errors: list[str] = []
    kind = (text(element, "Type") or "").upper()
    if kind not in TYPES:
        errors.append("A valid credit note Type must be specified (ACCPAYCREDIT or ACCRECCREDIT).")
    status = (text(element, "Status") or "DRAFT").upper()
    if status not in invoices.CREATE_STATUSES:
        errors.append(
            f"Credit notes cannot be created with status {status}: use DRAFT, SUBMITTED or "
            "AUTHORISED."
        )
    found = collect(
        errors,
        find_contact,
        ctx,
        element,
        "A Contact must be specified for this type of transaction",
    )
    amount_types = collect(errors, line_amount_types, element) or "Exclusive"
    issued = date_field(element, "Date") or ctx.today
    currency = collect(errors, currency_of, ctx, element, issued)
    lines = collect(
        errors,
        build_lines,
        ctx,
        element,
        amount_types,
        needs_accounts=status != "DRAFT",
        allow_discount=False,
    )
    if lines is not None and lines.total < 0:
        errors.append("The Total for this document must be greater than or equal to zero.")
    if status == "AUTHORISED":
        if not list_field(element, "LineItems"):
            errors.append(NO_LINES)
        errors += lock_errors(ctx.org, issued)
    number = text(element, "CreditNoteNumber")
    if (
        kind == "ACCRECCREDIT"
        and number
        and any(
            n.get("CreditNoteNumber", "").lower() == number.lower() and n["Type"] == kind
            for n in ctx.org.credit_notes.values()
        )
    ):
        errors.append("Credit Note # must be unique.")
    if errors or found is None or lines is None or currency is None:
        raise ElementInvalid(errors or ["The credit note could not be saved."])
    code, rate = currency
    role = "supplier" if kind == "ACCPAYCREDIT" else "customer"
    contact = attach_contact(ctx, found[0], found[1], role)
    note: dict[str, Any] = {
        "CreditNoteID": str(uuid.uuid4()),
        "Type": kind,
        "ContactID": contact["ContactID"],
        "CreditNoteNumber": number
        if number is not None
        else (_next_number(ctx) if kind == "ACCRECCREDIT" else ""),
        "Reference": text(element, "Reference") or "",
        "Date": issued,
        "LineAmountTypes": amount_types,
        "CurrencyCode": code,
        "CurrencyRate": rate,
        "Status": status,
        "LineItems": lines.items,
        "SubTotal": lines.sub_total,
        "TotalTax": lines.total_tax,
        "Total": lines.total,
        "RemainingCredit": lines.total,
        "AppliedAmount": Decimal("0.00"),
        "UpdatedDateUTC": ctx.now,
    }
    ctx.org.credit_notes[note["CreditNoteID"]] = note
    settle(ctx, note)
    return note


_ALLOWED = {
    "DRAFT": {"SUBMITTED", "AUTHORISED", "DELETED"},
    "SUBMITTED": {"DRAFT", "AUTHORISED", "DELETED"},
    "AUTHORISED": {"VOIDED"},
}


def update_note(ctx: Ctx, note: dict[str, Any], element: dict[str, Any]) -> dict[str, Any]:
    current = note["Status"]
    wanted = (text(element, "Status") or current).upper()
    if current in ("DELETED", "VOIDED"):
        raise ElementInvalid(["Credit note not of valid status for modification"])
    settled = note["RemainingCredit"] != note["Total"]
    financial = [
        k
        for k in ("LineItems", "Contact", "CurrencyCode", "LineAmountTypes", "Date")
        if k in element
    ]
    if settled and (financial or wanted != current):
        raise ElementInvalid([invoices.LOCKED_MESSAGE])
    if wanted != current and wanted not in _ALLOWED.get(current, set()):
        raise ElementInvalid(["Credit note not of valid status for modification"])
    if wanted in ("DELETED", "VOIDED"):
        if current in ("AUTHORISED", "PAID"):
            locked = lock_errors(ctx.org, note["Date"])
            if locked:
                raise ElementInvalid(locked)
        note["Status"] = wanted
        note["RemainingCredit"] = Decimal("0.00")
        note["UpdatedDateUTC"] = ctx.now
        return note
    merged = dict(note)
    errors: list[str] = []
    found = None
    if "Contact" in element:
        found = collect(
            errors,
            find_contact,
            ctx,
            element,
            "A Contact must be specified for this type of transaction",
        )
    if "LineItems" in element or "LineAmountTypes" in element or wanted != "DRAFT":
        amount_types = (
            collect(errors, line_amount_types, element, note["LineAmountTypes"])
            or note["LineAmountTypes"]
        )
        source = element if "LineItems" in element else {"LineItems": note["LineItems"]}
        lines = collect(
            errors,
            build_lines,
            ctx,
            source,
            amount_types,
            needs_accounts=wanted != "DRAFT",
            allow_discount=False,
            previous=note["LineItems"],
        )
        if lines is not None:
            merged.update(
                LineAmountTypes=amount_types,
                LineItems=lines.items,
                SubTotal=lines.sub_total,
                TotalTax=lines.total_tax,
                Total=lines.total,
                RemainingCredit=lines.total,
            )
    if "Date" in element:
        merged["Date"] = date_field(element, "Date") or note["Date"]
    if "CurrencyCode" in element:
        currency = collect(errors, currency_of, ctx, element, merged["Date"])
        if currency is not None:
            merged.update(CurrencyCode=currency[0], CurrencyRate=currency[1])
    for key in ("CreditNoteNumber", "Reference"):
        if key in element:
            merged[key] = text(element, key) or ""
    if wanted == "AUTHORISED":
        if not merged["LineItems"]:
            errors.append(NO_LINES)
        if current != "AUTHORISED" or financial:
            errors += lock_errors(ctx.org, merged["Date"])
    if errors:
        raise ElementInvalid(errors)
    if found is not None:
        role = "supplier" if note["Type"] == "ACCPAYCREDIT" else "customer"
        merged["ContactID"] = attach_contact(ctx, found[0], found[1], role)["ContactID"]
    merged["Status"] = wanted
    note.clear()
    note.update(merged)
    settle(ctx, note)
    return note


def write_notes(ctx: Ctx) -> dict[str, Any]:
    allow_update = ctx.method == "POST"
    elements = ctx.elements("CreditNotes")
    target = ctx.path_params.get("id")
    if target:
        note_id = _uuid_or_404(target)
        if note_id not in ctx.org.credit_notes:
            raise not_found()
        for element in elements:
            if isinstance(element, dict):
                element["CreditNoteID"] = note_id

    def process(element: dict[str, Any]) -> dict[str, Any]:
        note_id = uuid_field(element, "CreditNoteID")
        if note_id:
            note = ctx.org.credit_notes.get(note_id)
            if note is None:
                # Inside a batch an unknown id fails its own element, not its neighbours.
                raise ElementInvalid([UNKNOWN_NOTE])
            if not allow_update:
                raise ElementInvalid(["A credit note with this CreditNoteID already exists."])
            return render(ctx, update_note(ctx, note, element))
        return render(ctx, create_note(ctx, element))

    return run_batch(ctx, "CreditNotes", elements, process, "CreditNoteID", "HasErrors")


def _uuid_or_404(value: str) -> str:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise not_found() from None


def get_notes(ctx: Ctx) -> dict[str, Any]:
    items = newer_than(ctx.org.credit_notes.values(), modified_since(ctx))
    views = []
    for note in items:
        view = dict(note)
        contact = ctx.org.contacts.get(note["ContactID"], {})
        view["Contact"] = {"ContactID": note["ContactID"], "Name": contact.get("Name")}
        views.append(view)
    views = filtered(ctx, views, FIELDS, "CreditNote", default_order="UpdatedDateUTC")
    page, pagination = page_of(ctx, views)
    extra = {"pagination": pagination} if pagination else {}
    return ok(
        ctx,
        "CreditNotes",
        [render(ctx, ctx.org.credit_notes[v["CreditNoteID"]], listed=True) for v in page],
        **extra,
    )


def get_note(ctx: Ctx) -> dict[str, Any]:
    key = ctx.path_params["id"]
    try:
        note = ctx.org.credit_notes.get(str(uuid.UUID(key)))
    except ValueError:
        note = next(
            (n for n in ctx.org.credit_notes.values() if n.get("CreditNoteNumber") == key), None
        )
    if note is None:
        raise not_found()
    return ok(ctx, "CreditNotes", [render(ctx, note)])


# ---------------------------------------------------------------- allocations


def allocate(ctx: Ctx) -> dict[str, Any]:
    note = ctx.org.credit_notes.get(_uuid_or_404(ctx.path_params["id"]))
    if note is None:
        raise not_found()
    elements = ctx.elements("Allocations")

    def process(element: dict[str, Any]) -> dict[str, Any]:
        return render_allocation(ctx, _allocate_one(ctx, note, element))

    return run_batch(ctx, "Allocations", elements, process, None, "HasValidationErrors")


def _allocate_one(ctx: Ctx, note: dict[str, Any], element: dict[str, Any]) -> dict[str, Any]:
    given = object_field(element, "Invoice") or {}
    invoice_id = uuid_field(given, "InvoiceID")
    invoice = ctx.org.invoices.get(invoice_id) if invoice_id else None
    if invoice is None:
        raise ElementInvalid(["Invoice could not be found"])
    amount = decimal_field(element, "Amount")
    allocated_on = date_field(element, "Date")
    errors: list[str] = []
    if amount is None:
        errors.append("Amount must be specified.")
    if allocated_on is None:
        errors.append("Date must be specified.")
    if errors:
        raise ElementInvalid(errors)
    assert amount is not None and allocated_on is not None
    amount = cents(amount)
    if note["Status"] != "AUTHORISED":
        raise ElementInvalid(["Credit note must be AUTHORISED to be allocated."])
    if TYPES[note["Type"]] != invoice["Type"]:
        raise ElementInvalid([WRONG_TYPE])
    if invoice["Status"] == "PAID":
        raise ElementInvalid([PAID_OFF])
    if invoice["Status"] != "AUTHORISED":
        raise ElementInvalid(["Credit notes can only be allocated to AUTHORISED invoices."])
    if invoice["ContactID"] != note["ContactID"]:
        raise ElementInvalid(["The credit note and the invoice must be for the same contact."])
    if invoice["CurrencyCode"] != note["CurrencyCode"]:
        raise ElementInvalid(["The credit note and the invoice must be in the same currency."])
    if amount <= 0:
        raise ElementInvalid(["Allocation amount must be greater than zero."])
    if amount > invoice["AmountDue"] or amount > note["RemainingCredit"]:
        raise ElementInvalid([NOT_OUTSTANDING])
    locked = lock_errors(ctx.org, allocated_on)
    if locked:
        raise ElementInvalid(locked)
    allocation = {
        "AllocationID": new_id(),
        "CreditNoteID": note["CreditNoteID"],
        "InvoiceID": invoice["InvoiceID"],
        "Amount": amount,
        "Date": allocated_on,
        "IsDeleted": False,
    }
    ctx.org.allocations[allocation["AllocationID"]] = allocation
    settle(ctx, note)
    invoices.settle(ctx, invoice)
    return allocation


def delete_allocation(ctx: Ctx) -> dict[str, Any]:
    note = ctx.org.credit_notes.get(_uuid_or_404(ctx.path_params["id"]))
    allocation = ctx.org.allocations.get(_uuid_or_404(ctx.path_params["allocation_id"]))
    if note is None or allocation is None or allocation["CreditNoteID"] != note["CreditNoteID"]:
        raise not_found()
    if not allocation["IsDeleted"]:
        allocation["IsDeleted"] = True
        ctx.changed = True
        settle(ctx, note)
        invoices.settle(ctx, ctx.org.invoices[allocation["InvoiceID"]])
    return render_allocation(ctx, allocation)
