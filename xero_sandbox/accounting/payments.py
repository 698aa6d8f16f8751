"""Payments: on AUTHORISED documents only, never above what is due, from BANK accounts or
accounts with payments enabled; deleting one reopens the document."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from ..wire import new_id
from . import invoices
from .arithmetic import cents
from .common import (
    ApiError,
    Ctx,
    ElementInvalid,
    collect,
    date_field,
    decimal_field,
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
from .filtering import filtered
from .lock_dates import lock_errors
from .rates import day_rate, to_base

FIELDS = {
    "Invoice",
    "CreditNote",
    "Account",
    "Date",
    "CurrencyRate",
    "Amount",
    "BankAmount",
    "Reference",
    "IsReconciled",
    "Status",
    "PaymentType",
    "UpdatedDateUTC",
    "PaymentID",
    "HasAccount",
    "Code",
    "InvoiceNumber",
    "CreditNoteNumber",
}
_TYPE_OF = {
    "ACCPAY": "ACCPAYPAYMENT",
    "ACCREC": "ACCRECPAYMENT",
    "ACCPAYCREDIT": "APCREDITPAYMENT",
    "ACCRECCREDIT": "ARCREDITPAYMENT",
}
NOT_AUTHORISED = "Payments can only be made against Authorised documents"
TOO_MUCH = "Payment amount exceeds the amount outstanding on this document"
BAD_ACCOUNT_TYPE = "Account type is invalid for making a payment to/from"


def _document(ctx: Ctx, element: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The invoice or credit note being paid, by id or number."""
    org = ctx.org
    invoice = object_field(element, "Invoice") or {}
    note = object_field(element, "CreditNote") or {}
    invoice_id = uuid_field(invoice, "InvoiceID")
    number = text(invoice, "InvoiceNumber") or text(element, "InvoiceNumber")
    if invoice_id or number:
        found = (
            org.invoices.get(invoice_id)
            if invoice_id
            else next(
                (
                    i
                    for i in org.invoices.values()
                    if i.get("InvoiceNumber") == number and i["Status"] not in ("DELETED", "VOIDED")
                ),
                None,
            )
        )
        if found is None:
            raise ElementInvalid(["Document could not be found"])
        return "invoice", found
    note_id = uuid_field(note, "CreditNoteID")
    note_number = text(note, "CreditNoteNumber") or text(element, "CreditNoteNumber")
    if note_id or note_number:
        found = (
            org.credit_notes.get(note_id)
            if note_id
            else next(
                (c for c in org.credit_notes.values() if c.get("CreditNoteNumber") == note_number),
                None,
            )
        )
        if found is None:
            raise ElementInvalid(["Document could not be found"])
        return "credit_note", found
    raise ElementInvalid(
        [
            "You must specify either an Invoice ID or Invoice Number or CreditNote ID or "
            "CreditNote Number for the payment"
        ]
    )


def _account(ctx: Ctx, element: dict[str, Any]) -> dict[str, Any]:
    given = object_field(element, "Account") or {}
    account_id = uuid_field(given, "AccountID")
    code = text(given, "Code") or text(element, "Code")
    if account_id:
        account = ctx.org.accounts.get(account_id)
    elif code:
        account = ctx.org.account_by_code(code)
    else:
        raise ElementInvalid(["You must specify an Account code or Account ID for the payment"])
    if account is None or account["Status"] != "ACTIVE":
        raise ElementInvalid(["Account must be valid."])
    if account["Type"] != "BANK" and not account.get("EnablePaymentsToAccount"):
        raise ElementInvalid([BAD_ACCOUNT_TYPE])
    return account


def create_payment(ctx: Ctx, element: dict[str, Any]) -> dict[str, Any]:
    """A new payment; every rule it breaks is answered at once (ElementInvalid)."""
    errors: list[str] = []
    status = (text(element, "Status") or "AUTHORISED").upper()
    if status != "AUTHORISED":
        errors.append("A new payment must have the status AUTHORISED.")
    found = collect(errors, _document, ctx, element)
    account = collect(errors, _account, ctx, element)
    amount = decimal_field(element, "Amount")
    if amount is None:
        errors.append("Payment amount must be specified.")
    else:
        amount = cents(amount)
        if amount <= 0:
            errors.append("Payment amount must be greater than zero.")
    paid_on = date_field(element, "Date") or ctx.today
    errors += lock_errors(ctx.org, paid_on, payment=True)
    if found is not None:
        kind, document = found
        if document["Status"] != "AUTHORISED":
            errors.append(NOT_AUTHORISED)
        else:
            outstanding = (
                document["AmountDue"] if kind == "invoice" else document["RemainingCredit"]
            )
            if amount is not None and amount > outstanding:
                errors.append(TOO_MUCH)
        if account is not None:
            account_currency = account.get("CurrencyCode") or ctx.org.base_currency
            if account_currency not in (document["CurrencyCode"], ctx.org.base_currency):
                errors.append("The currency of the bank account must match the document's.")
    if errors or found is None or account is None or amount is None:
        raise ElementInvalid(errors or ["The payment could not be saved."])
    kind, document = found
    account_currency = account.get("CurrencyCode") or ctx.org.base_currency
    given_rate = decimal_field(element, "CurrencyRate")
    if document["CurrencyCode"] == ctx.org.base_currency:
        rate = Decimal("1.000000")
    elif given_rate is not None and given_rate > 0:
        rate = given_rate
    else:
        # Like a document, a payment without a rate takes the day's rate of its own date.
        rate = day_rate(ctx.org, document["CurrencyCode"], paid_on)
    # What leaves the bank: the same amount from an account in the document's currency,
    # converted at the payment's rate from one in the base currency.
    bank_amount = amount if account_currency == document["CurrencyCode"] else to_base(amount, rate)
    payment: dict[str, Any] = {
        "PaymentID": new_id(),
        "Date": paid_on,
        "Amount": amount,
        "BankAmount": bank_amount,
        "Reference": text(element, "Reference") or "",
        "CurrencyRate": rate,
        "PaymentType": _TYPE_OF[document["Type"]],
        "Status": "AUTHORISED",
        "IsReconciled": element.get("IsReconciled") is True,
        "AccountID": account["AccountID"],
        "UpdatedDateUTC": ctx.now,
    }
    if kind == "invoice":
        payment["InvoiceID"] = document["InvoiceID"]
    else:
        payment["CreditNoteID"] = document["CreditNoteID"]
    ctx.org.payments[payment["PaymentID"]] = payment
    _settle(ctx, payment)
    return payment


def _settle(ctx: Ctx, payment: dict[str, Any]) -> None:
    if payment.get("InvoiceID"):
        invoices.settle(ctx, ctx.org.invoices[payment["InvoiceID"]])
    else:
        from . import credit_notes

        credit_notes.settle(ctx, ctx.org.credit_notes[payment["CreditNoteID"]])


def render(ctx: Ctx, payment: dict[str, Any]) -> dict[str, Any]:
    org = ctx.org
    account = org.accounts[payment["AccountID"]]
    body: dict[str, Any] = {
        "PaymentID": payment["PaymentID"],
        "Date": payment["Date"],
        "BankAmount": payment["BankAmount"],
        "Amount": payment["Amount"],
        "Reference": payment["Reference"],
        "CurrencyRate": payment["CurrencyRate"],
        "PaymentType": payment["PaymentType"],
        "Status": payment["Status"],
        "UpdatedDateUTC": payment["UpdatedDateUTC"],
        "HasAccount": True,
        "IsReconciled": payment["IsReconciled"],
        "Account": {
            "AccountID": account["AccountID"],
            "Code": account.get("Code", ""),
            "Name": account["Name"],
        },
        "HasValidationErrors": False,
    }
    if payment.get("InvoiceID"):
        invoice = org.invoices[payment["InvoiceID"]]
        summary = invoices.render(ctx, invoice, with_lines=False)
        body["Invoice"] = {
            k: summary[k]
            for k in (
                "Type",
                "InvoiceID",
                "InvoiceNumber",
                "Contact",
                "Payments",
                "CreditNotes",
                "Prepayments",
                "Overpayments",
                "HasErrors",
                "IsDiscounted",
                "LineItems",
                "CurrencyCode",
                "AmountDue",
                "AmountPaid",
                "Status",
                "Total",
            )
            if k in summary
        }
    else:
        from . import credit_notes

        note = org.credit_notes[payment["CreditNoteID"]]
        summary = credit_notes.render(ctx, note, with_lines=False)
        body["CreditNote"] = {
            k: summary[k]
            for k in (
                "Type",
                "CreditNoteID",
                "CreditNoteNumber",
                "Contact",
                "Status",
                "CurrencyCode",
                "RemainingCredit",
                "Total",
                "LineItems",
            )
            if k in summary
        }
    return body


def put_payments(ctx: Ctx) -> dict[str, Any]:
    elements = ctx.elements("Payments")

    def process(element: dict[str, Any]) -> dict[str, Any]:
        return render(ctx, create_payment(ctx, element))

    return run_batch(ctx, "Payments", elements, process, "PaymentID", "HasValidationErrors")


def post_payment(ctx: Ctx) -> dict[str, Any]:
    """POST /Payments: a single payment, no summarizeErrors."""
    elements = ctx.elements("Payments")
    if len(elements) != 1:
        raise ApiError(
            400,
            {
                "ErrorNumber": 14,
                "Type": "PostDataInvalidException",
                "Message": "POST /Payments takes exactly one payment.",
            },
        )
    ctx.query.pop("summarizeerrors", None)

    def process(element: dict[str, Any]) -> dict[str, Any]:
        return render(ctx, create_payment(ctx, element))

    return run_batch(ctx, "Payments", elements, process, "PaymentID", "HasValidationErrors")


def delete_payment(ctx: Ctx) -> dict[str, Any]:
    """POST /Payments/{PaymentID} with {"Status":"DELETED"}: the only edit Xero allows."""
    try:
        payment_id = str(uuid.UUID(ctx.path_params["id"]))
    except ValueError:
        raise not_found() from None
    payment = ctx.org.payments.get(payment_id)
    if payment is None:
        raise not_found()
    elements = ctx.elements("Payments")
    ctx.query.pop("summarizeerrors", None)

    def process(element: dict[str, Any]) -> dict[str, Any]:
        status = (text(element, "Status") or "").upper()
        if status != "DELETED":
            raise ElementInvalid(["Payments can only be deleted: set Status to DELETED."])
        if payment["Status"] == "DELETED":
            raise ElementInvalid(["This payment has already been deleted."])
        locked = lock_errors(ctx.org, payment["Date"], payment=True)
        if locked:
            raise ElementInvalid(locked)
        payment["Status"] = "DELETED"
        payment["UpdatedDateUTC"] = ctx.now
        _settle(ctx, payment)
        return render(ctx, payment)

    return run_batch(ctx, "Payments", elements[:1], process, "PaymentID", "HasValidationErrors")


def get_payments(ctx: Ctx) -> dict[str, Any]:
    items = newer_than(ctx.org.payments.values(), modified_since(ctx))
    views = [_view(ctx, p) for p in items]
    views = filtered(ctx, views, FIELDS, "Payment", default_order="UpdatedDateUTC")
    page, pagination = page_of(ctx, views)
    extra = {"pagination": pagination} if pagination else {}
    return ok(
        ctx, "Payments", [render(ctx, ctx.org.payments[v["PaymentID"]]) for v in page], **extra
    )


def _view(ctx: Ctx, payment: dict[str, Any]) -> dict[str, Any]:
    view = dict(payment)
    account = ctx.org.accounts[payment["AccountID"]]
    view["Account"] = {"AccountID": account["AccountID"], "Code": account.get("Code")}
    if payment.get("InvoiceID"):
        invoice = ctx.org.invoices[payment["InvoiceID"]]
        view["Invoice"] = {
            "InvoiceID": invoice["InvoiceID"],
            "InvoiceNumber": invoice.get("InvoiceNumber"),
            "Type": invoice["Type"],
            "Contact": {"ContactID": invoice["ContactID"]},
        }
    return view


def get_payment(ctx: Ctx) -> dict[str, Any]:
    try:
        payment = ctx.org.payments.get(str(uuid.UUID(ctx.path_params["id"])))
    except ValueError:
        payment = None
    if payment is None:
        raise not_found()
    return ok(ctx, "Payments", [render(ctx, payment)])


def zero() -> Decimal:
    return Decimal("0.00")
