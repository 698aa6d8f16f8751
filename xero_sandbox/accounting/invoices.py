"""Invoices (ACCPAY bills and ACCREC sales invoices): create, update, status rules, reads."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from ..wire import date_string, ms_date
from . import contacts
from .common import (
    Ctx,
    ElementInvalid,
    collect,
    date_field,
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

TYPES = ("ACCPAY", "ACCREC")
CREATE_STATUSES = ("DRAFT", "SUBMITTED", "AUTHORISED")
LOCKED_MESSAGE = (
    "This document cannot be edited as it has a payment or credit note allocated to it."
)
STATUS_MESSAGE = "Invoice not of valid status for modification"
# No recorded wording for an unknown InvoiceID inside a batch; the sandbox's.
UNKNOWN_INVOICE = "The invoice with the specified InvoiceID could not be found."
FIELDS = {
    "Type",
    "Contact",
    "LineItems",
    "Date",
    "DueDate",
    "LineAmountTypes",
    "InvoiceNumber",
    "Reference",
    "BrandingThemeID",
    "Url",
    "CurrencyCode",
    "CurrencyRate",
    "Status",
    "SentToContact",
    "ExpectedPaymentDate",
    "PlannedPaymentDate",
    "SubTotal",
    "TotalTax",
    "Total",
    "InvoiceID",
    "HasAttachments",
    "AmountDue",
    "AmountPaid",
    "FullyPaidOnDate",
    "AmountCredited",
    "UpdatedDateUTC",
    "IsDiscounted",
    "TotalDiscount",
}
# Changing any of these moves money, so Xero refuses once payments or credits exist.
_FINANCIAL = ("LineItems", "Contact", "CurrencyCode", "CurrencyRate", "LineAmountTypes", "Date")


# ---------------------------------------------------------------- derived figures


def settle(ctx: Ctx, invoice: dict[str, Any]) -> None:
    """Recompute AmountPaid/AmountCredited/AmountDue and the PAID status from the ledger."""
    org = ctx.org
    paid = sum(
        (
            p["Amount"]
            for p in org.payments.values()
            if p.get("InvoiceID") == invoice["InvoiceID"] and p["Status"] == "AUTHORISED"
        ),
        Decimal("0.00"),
    )
    credited = sum(
        (
            a["Amount"]
            for a in org.allocations.values()
            if a["InvoiceID"] == invoice["InvoiceID"] and not a.get("IsDeleted")
        ),
        Decimal("0.00"),
    )
    invoice["AmountPaid"] = paid
    invoice["AmountCredited"] = credited
    invoice["AmountDue"] = invoice["Total"] - paid - credited
    if invoice["Status"] in ("AUTHORISED", "PAID"):
        # An approved zero-total document is settled at once: Xero marks it PAID (on its
        # own date) and takes no payment for it.
        if invoice["AmountDue"] == 0 and (paid or credited or invoice["Total"] == 0):
            if invoice["Status"] != "PAID":
                invoice["FullyPaidOnDate"] = _last_settlement(ctx, invoice)
            invoice["Status"] = "PAID"
        else:
            invoice["Status"] = "AUTHORISED"
            invoice.pop("FullyPaidOnDate", None)
    invoice["UpdatedDateUTC"] = ctx.now


def _last_settlement(ctx: Ctx, invoice: dict[str, Any]) -> Any:
    dates = [
        p["Date"]
        for p in ctx.org.payments.values()
        if p.get("InvoiceID") == invoice["InvoiceID"] and p["Status"] == "AUTHORISED"
    ] + [
        a["Date"]
        for a in ctx.org.allocations.values()
        if a["InvoiceID"] == invoice["InvoiceID"] and not a.get("IsDeleted")
    ]
    return max(dates) if dates else invoice["Date"]


def has_settlements(ctx: Ctx, invoice: dict[str, Any]) -> bool:
    return bool(invoice.get("AmountPaid") or invoice.get("AmountCredited"))


# ---------------------------------------------------------------- rendering


def render(
    ctx: Ctx, invoice: dict[str, Any], with_lines: bool = True, listed: bool = False
) -> dict[str, Any]:
    """The invoice as Xero answers it; `listed`: as one of a list (slim nested contact)."""
    org = ctx.org
    contact = org.contacts.get(invoice["ContactID"])
    nested = contacts.slim if listed else contacts.summary
    body: dict[str, Any] = {
        "Type": invoice["Type"],
        "InvoiceID": invoice["InvoiceID"],
        "InvoiceNumber": invoice.get("InvoiceNumber", ""),
        "Reference": invoice.get("Reference", ""),
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
            if p.get("InvoiceID") == invoice["InvoiceID"] and p["Status"] == "AUTHORISED"
        ],
        "CreditNotes": [
            _credit_summary(ctx, a)
            for a in org.allocations.values()
            if a["InvoiceID"] == invoice["InvoiceID"] and not a.get("IsDeleted")
        ],
        "Prepayments": [],
        "Overpayments": [],
        "AmountDue": invoice["AmountDue"],
        "AmountPaid": invoice["AmountPaid"],
        "AmountCredited": invoice["AmountCredited"],
        "CurrencyRate": invoice["CurrencyRate"],
        "IsDiscounted": any("DiscountRate" in line for line in invoice["LineItems"]),
        "HasAttachments": bool(org.attachments.get(invoice["InvoiceID"])),
        "HasErrors": False,
        "Contact": nested(contact) if contact else {"ContactID": invoice["ContactID"]},
        "DateString": date_string(invoice["Date"]),
        "Date": invoice["Date"],
        "Status": invoice["Status"],
        "LineAmountTypes": invoice["LineAmountTypes"],
        "SubTotal": invoice["SubTotal"],
        "TotalTax": invoice["TotalTax"],
        "Total": invoice["Total"],
        "UpdatedDateUTC": invoice["UpdatedDateUTC"],
        "CurrencyCode": invoice["CurrencyCode"],
    }
    if invoice.get("DueDate"):
        body["DueDateString"] = date_string(invoice["DueDate"])
        body["DueDate"] = invoice["DueDate"]
    if invoice.get("FullyPaidOnDate"):
        body["FullyPaidOnDate"] = invoice["FullyPaidOnDate"]
    for key in ("Url", "ExpectedPaymentDate", "PlannedPaymentDate", "BrandingThemeID"):
        if invoice.get(key):
            body[key] = invoice[key]
    if invoice.get("SentToContact") or not listed:
        # In a list only when true (recorded GET /Invoices page); a single invoice always
        # states it (a recorded GET of one bill shows "SentToContact": false).
        body["SentToContact"] = bool(invoice.get("SentToContact"))
    if with_lines:
        body["LineItems"] = rendered_lines(ctx, invoice["LineItems"])
    else:
        body["LineItems"] = []
    return body


def _credit_summary(ctx: Ctx, allocation: dict[str, Any]) -> dict[str, Any]:
    note = ctx.org.credit_notes.get(allocation["CreditNoteID"], {})
    return {
        "CreditNoteID": allocation["CreditNoteID"],
        "CreditNoteNumber": note.get("CreditNoteNumber", ""),
        # Recorded: Xero repeats the credit note's id as "ID" here.
        "ID": allocation["CreditNoteID"],
        "AppliedAmount": allocation["Amount"],
        "DateString": date_string(allocation["Date"]),
        "Date": allocation["Date"],
        "LineItems": [],
        "Total": note.get("Total", Decimal("0.00")),
        "HasErrors": False,
    }


# ---------------------------------------------------------------- writing


def _next_number(ctx: Ctx) -> str:
    numbers = [
        inv.get("InvoiceNumber", "") for inv in ctx.org.invoices.values() if inv["Type"] == "ACCREC"
    ]
    highest = 0
    for number in numbers:
        if number.startswith("INV-") and number[4:].isdigit():
            highest = max(highest, int(number[4:]))
    return f"INV-{highest + 1:04d}"


def _check_number(ctx: Ctx, kind: str, number: str | None, own_id: str | None) -> list[str]:
    # ACCPAY numbers are the supplier's and repeat; only ACCREC numbers must be unique.
    if kind != "ACCREC" or not number:
        return []
    for other in ctx.org.invoices.values():
        if (
            other["Type"] == "ACCREC"
            and other["InvoiceID"] != own_id
            and other.get("InvoiceNumber", "").lower() == number.lower()
            and other["Status"] not in ("DELETED", "VOIDED")
        ):
            return ["Invoice # must be unique."]
    return []


def create_invoice(ctx: Ctx, element: dict[str, Any]) -> dict[str, Any]:
    """A new invoice; every rule it breaks is answered at once (ElementInvalid)."""
    errors: list[str] = []
    kind = (text(element, "Type") or "").upper()
    if kind not in TYPES:
        errors.append(
            "Invoice Type must be specified."
            if not kind
            else f"'{kind}' is not a valid invoice type for this endpoint."
        )
    status = (text(element, "Status") or "DRAFT").upper()
    if status not in CREATE_STATUSES:
        errors.append(
            f"Invoices cannot be created with status {status}: use DRAFT, SUBMITTED or AUTHORISED."
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
        allow_discount=kind == "ACCREC",
    )
    due = date_field(element, "DueDate")
    if due is None and status != "DRAFT":
        errors.append("Due date cannot be empty.")
    if lines is not None and lines.total < 0:
        errors.append("The Total for this document must be greater than or equal to zero.")
    if status == "AUTHORISED":
        if not list_field(element, "LineItems"):
            errors.append(NO_LINES)
        errors += lock_errors(ctx.org, issued)
    number = text(element, "InvoiceNumber")
    errors += _check_number(ctx, kind, number, None)
    if errors or found is None or lines is None or currency is None:
        raise ElementInvalid(errors or ["The invoice could not be saved."])
    code, rate = currency
    contact = attach_contact(
        ctx, found[0], found[1], "supplier" if kind == "ACCPAY" else "customer"
    )
    invoice: dict[str, Any] = {
        "InvoiceID": str(uuid.uuid4()),
        "Type": kind,
        "ContactID": contact["ContactID"],
        "InvoiceNumber": number
        if number is not None
        else (_next_number(ctx) if kind == "ACCREC" else ""),
        "Reference": text(element, "Reference") or "",
        "Date": issued,
        "DueDate": due,
        "LineAmountTypes": amount_types,
        "CurrencyCode": code,
        "CurrencyRate": rate,
        "Status": status,
        "LineItems": lines.items,
        "SubTotal": lines.sub_total,
        "TotalTax": lines.total_tax,
        "Total": lines.total,
        "AmountPaid": Decimal("0.00"),
        "AmountCredited": Decimal("0.00"),
        "AmountDue": lines.total,
        "UpdatedDateUTC": ctx.now,
    }
    _optional_fields(ctx, invoice, element)
    ctx.org.invoices[invoice["InvoiceID"]] = invoice
    settle(ctx, invoice)
    return invoice


def _optional_fields(ctx: Ctx, invoice: dict[str, Any], element: dict[str, Any]) -> None:
    for key in ("Url", "BrandingThemeID"):
        if key in element:
            invoice[key] = text(element, key) or ""
    for key in ("ExpectedPaymentDate", "PlannedPaymentDate"):
        if key in element:
            invoice[key] = date_field(element, key)
    if isinstance(element.get("SentToContact"), bool):
        invoice["SentToContact"] = element["SentToContact"]


def update_invoice(ctx: Ctx, invoice: dict[str, Any], element: dict[str, Any]) -> dict[str, Any]:
    """Apply an update; every rule it breaks is answered at once (ElementInvalid)."""
    current = invoice["Status"]
    wanted = (text(element, "Status") or current).upper()
    financial = [k for k in _FINANCIAL if k in element]
    if current in ("DELETED", "VOIDED"):
        raise ElementInvalid([STATUS_MESSAGE])
    settled = has_settlements(ctx, invoice)
    if settled and (financial or wanted != current):
        raise ElementInvalid([LOCKED_MESSAGE])
    if wanted != current and not _transition_ok(current, wanted, invoice["Total"]):
        raise ElementInvalid([STATUS_MESSAGE])
    if wanted == "PAID" and current != "PAID":
        raise ElementInvalid([STATUS_MESSAGE])
    if wanted in ("DELETED", "VOIDED"):
        if current in ("AUTHORISED", "PAID"):
            # Voiding reverses posted journals, which a lock date forbids.
            locked = lock_errors(ctx.org, invoice["Date"])
            if locked:
                raise ElementInvalid(locked)
        invoice["Status"] = wanted
        invoice["AmountDue"] = Decimal("0.00")
        invoice["UpdatedDateUTC"] = ctx.now
        return invoice
    merged = dict(invoice)
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
    if "LineAmountTypes" in element or "LineItems" in element:
        amount_types = (
            collect(errors, line_amount_types, element, invoice["LineAmountTypes"])
            or invoice["LineAmountTypes"]
        )
        source = element if "LineItems" in element else {"LineItems": invoice["LineItems"]}
        lines = collect(
            errors,
            build_lines,
            ctx,
            source,
            amount_types,
            needs_accounts=wanted != "DRAFT",
            allow_discount=invoice["Type"] == "ACCREC",
            previous=invoice["LineItems"],
        )
        if lines is not None:
            merged.update(
                LineAmountTypes=amount_types,
                LineItems=lines.items,
                SubTotal=lines.sub_total,
                TotalTax=lines.total_tax,
                Total=lines.total,
            )
    elif wanted != "DRAFT" and current == "DRAFT":
        # Approving re-checks the lines: a draft may lack accounts that approval needs.
        collect(
            errors,
            build_lines,
            ctx,
            {"LineItems": invoice["LineItems"]},
            invoice["LineAmountTypes"],
            needs_accounts=True,
            allow_discount=invoice["Type"] == "ACCREC",
            previous=invoice["LineItems"],
        )
    if "Date" in element:
        merged["Date"] = date_field(element, "Date") or invoice["Date"]
    if "CurrencyCode" in element or "CurrencyRate" in element:
        currency = collect(
            errors,
            currency_of,
            ctx,
            {**{"CurrencyCode": invoice["CurrencyCode"]}, **element},
            merged["Date"],
        )
        if currency is not None:
            merged.update(CurrencyCode=currency[0], CurrencyRate=currency[1])
    if "DueDate" in element:
        merged["DueDate"] = date_field(element, "DueDate")
    if merged.get("DueDate") is None and wanted != "DRAFT":
        errors.append("Due date cannot be empty.")
    for key in ("InvoiceNumber", "Reference"):
        if key in element:
            merged[key] = text(element, key) or ""
    errors += _check_number(ctx, invoice["Type"], merged.get("InvoiceNumber"), invoice["InvoiceID"])
    if merged["Total"] < 0:
        errors.append("The Total for this document must be greater than or equal to zero.")
    if wanted == "AUTHORISED":
        if not merged["LineItems"]:
            errors.append(NO_LINES)
        if current != "AUTHORISED" or financial:
            errors += lock_errors(ctx.org, merged["Date"])
            if current == "AUTHORISED" and merged["Date"] != invoice["Date"]:
                errors += [e for e in lock_errors(ctx.org, invoice["Date"]) if e not in errors]
    if errors:
        raise ElementInvalid(errors)
    if found is not None:
        contact = attach_contact(
            ctx, found[0], found[1], "supplier" if invoice["Type"] == "ACCPAY" else "customer"
        )
        merged["ContactID"] = contact["ContactID"]
    _optional_fields(ctx, merged, element)
    merged["Status"] = wanted
    invoice.clear()
    invoice.update(merged)
    settle(ctx, invoice)
    return invoice


_ALLOWED = {
    "DRAFT": {"SUBMITTED", "AUTHORISED", "DELETED"},
    "SUBMITTED": {"DRAFT", "AUTHORISED", "DELETED"},
    "AUTHORISED": {"VOIDED"},
    "PAID": set(),
}


def _transition_ok(current: str, wanted: str, total: Decimal | None = None) -> bool:
    # A zero-total document is PAID without any payment, so there is nothing to undo
    # before voiding it (an assumption: no recording shows Xero voiding one).
    if current == "PAID" and wanted == "VOIDED" and total == 0:
        return True
    return wanted in _ALLOWED.get(current, set())


def upsert(ctx: Ctx, element: dict[str, Any], allow_update: bool) -> dict[str, Any]:
    invoice_id = uuid_field(element, "InvoiceID")
    if invoice_id:
        invoice = ctx.org.invoices.get(invoice_id)
        if invoice is None:
            # Inside a batch an unknown id fails its own element, not its neighbours.
            raise ElementInvalid([UNKNOWN_INVOICE])
        if not allow_update:
            raise ElementInvalid(["An invoice with this InvoiceID already exists."])
        return update_invoice(ctx, invoice, element)
    return create_invoice(ctx, element)


def write_invoices(ctx: Ctx) -> dict[str, Any]:
    allow_update = ctx.method == "POST"
    elements = ctx.elements("Invoices")
    target = ctx.path_params.get("id")
    if target:
        try:
            invoice_id = str(uuid.UUID(target))
        except ValueError:
            raise not_found() from None
        if invoice_id not in ctx.org.invoices:
            raise not_found()
        for element in elements:
            if isinstance(element, dict):
                element["InvoiceID"] = invoice_id

    def process(element: dict[str, Any]) -> dict[str, Any]:
        return render(ctx, upsert(ctx, element, allow_update))

    return run_batch(ctx, "Invoices", elements, process, "InvoiceID", "HasErrors")


# ---------------------------------------------------------------- reading


def get_invoices(ctx: Ctx) -> dict[str, Any]:
    items = list(ctx.org.invoices.values())
    ids = id_list(ctx.q("IDs"))
    if ids:
        items = [i for i in items if i["InvoiceID"] in ids]
    numbers = [n.strip().lower() for n in (ctx.q("InvoiceNumbers") or "").split(",") if n.strip()]
    if numbers:
        items = [i for i in items if i.get("InvoiceNumber", "").lower() in numbers]
    contact_ids = id_list(ctx.q("ContactIDs"))
    if contact_ids:
        items = [i for i in items if i["ContactID"] in contact_ids]
    statuses = [s.strip().upper() for s in (ctx.q("Statuses") or "").split(",") if s.strip()]
    if statuses:
        items = [i for i in items if i["Status"] in statuses]
    if not ctx.flag("includeArchived", False) and not ids:
        items = [i for i in items if i["Status"] != "DELETED" or statuses]
    term = (ctx.q("searchTerm") or "").strip().lower()
    if term:
        items = [
            i
            for i in items
            if term in i.get("InvoiceNumber", "").lower() or term in i.get("Reference", "").lower()
        ]
    items = newer_than(items, modified_since(ctx))
    views = [_filter_view(ctx, i) for i in items]
    views = filtered(ctx, views, FIELDS, "Invoice", default_order="UpdatedDateUTC")
    page, pagination = page_of(ctx, views)
    # Unpaged lists come without line items, as Xero's do.
    with_lines = pagination is not None and not ctx.flag("summaryOnly", False)
    rendered = [
        render(ctx, ctx.org.invoices[v["InvoiceID"]], with_lines, listed=True) for v in page
    ]
    extra = {"pagination": pagination} if pagination else {}
    return ok(ctx, "Invoices", rendered, **extra)


def _filter_view(ctx: Ctx, invoice: dict[str, Any]) -> dict[str, Any]:
    view = dict(invoice)
    contact = ctx.org.contacts.get(invoice["ContactID"], {})
    view["Contact"] = {
        "ContactID": invoice["ContactID"],
        "Name": contact.get("Name", ""),
        "ContactNumber": contact.get("ContactNumber"),
    }
    return view


def get_invoice(ctx: Ctx) -> dict[str, Any]:
    key = ctx.path_params["id"]
    try:
        invoice = ctx.org.invoices.get(str(uuid.UUID(key)))
    except ValueError:
        # GET /Invoices/{InvoiceNumber} works too.
        invoice = next(
            (i for i in ctx.org.invoices.values() if i.get("InvoiceNumber") == key), None
        )
    if invoice is None:
        raise not_found()
    return ok(ctx, "Invoices", [render(ctx, invoice)])


def ms(value: Any) -> str:
    return ms_date(value)
