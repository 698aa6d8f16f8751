"""Bank transactions: SPEND (receipts, card spend) and RECEIVE, always AUTHORISED on creation."""

from __future__ import annotations

import uuid
from typing import Any

from ..wire import date_string
from . import contacts
from .common import (
    Ctx,
    ElementInvalid,
    collect,
    date_field,
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
    attach_contact,
    build_lines,
    currency_of,
    find_contact,
    line_amount_types,
)
from .filtering import filtered
from .lock_dates import lock_errors

TYPES = ("SPEND", "RECEIVE")
# No recorded wording for an unknown BankTransactionID inside a batch; the sandbox's.
UNKNOWN_TRANSACTION = (
    "The bank transaction with the specified BankTransactionID could not be found."
)
NO_CONTACT = (
    "The Contact must contain at least 1 of the following elements to identify the contact: "
    "Name, ContactID, ContactNumber"
)
FIELDS = {
    "Type",
    "Contact",
    "LineItems",
    "BankAccount",
    "IsReconciled",
    "Date",
    "Reference",
    "CurrencyCode",
    "CurrencyRate",
    "Url",
    "Status",
    "LineAmountTypes",
    "SubTotal",
    "TotalTax",
    "Total",
    "BankTransactionID",
    "UpdatedDateUTC",
    "HasAttachments",
}


def _bank_account(ctx: Ctx, element: dict[str, Any]) -> dict[str, Any]:
    given = object_field(element, "BankAccount")
    if not given:
        raise ElementInvalid(["A valid BankAccount must be specified."])
    account_id = uuid_field(given, "AccountID")
    code = text(given, "Code")
    account = (
        ctx.org.accounts.get(account_id)
        if account_id
        else (ctx.org.account_by_code(code) if code else None)
    )
    if account is None or account["Status"] != "ACTIVE" or account["Type"] != "BANK":
        raise ElementInvalid(["A valid BankAccount must be specified."])
    return account


def render(ctx: Ctx, transaction: dict[str, Any]) -> dict[str, Any]:
    org = ctx.org
    contact = org.contacts.get(transaction["ContactID"])
    account = org.accounts[transaction["BankAccountID"]]
    body: dict[str, Any] = {
        "BankTransactionID": transaction["BankTransactionID"],
        "Type": transaction["Type"],
        "Contact": contacts.summary(contact) if contact else {},
        "BankAccount": {
            "AccountID": account["AccountID"],
            "Code": account.get("Code", ""),
            "Name": account["Name"],
        },
        "IsReconciled": transaction["IsReconciled"],
        "DateString": date_string(transaction["Date"]),
        "Date": transaction["Date"],
        "Reference": transaction.get("Reference", ""),
        "CurrencyCode": transaction["CurrencyCode"],
        "CurrencyRate": transaction["CurrencyRate"],
        "Status": transaction["Status"],
        "LineAmountTypes": transaction["LineAmountTypes"],
        "LineItems": [dict(line) for line in transaction["LineItems"]],
        "SubTotal": transaction["SubTotal"],
        "TotalTax": transaction["TotalTax"],
        "Total": transaction["Total"],
        "UpdatedDateUTC": transaction["UpdatedDateUTC"],
        "HasAttachments": bool(org.attachments.get(transaction["BankTransactionID"])),
    }
    if transaction.get("Url"):
        body["Url"] = transaction["Url"]
    return body


def create_transaction(ctx: Ctx, element: dict[str, Any]) -> dict[str, Any]:
    """A new bank transaction; every rule it breaks is answered at once (ElementInvalid)."""
    errors: list[str] = []
    kind = (text(element, "Type") or "").upper()
    if kind not in TYPES:
        errors.append("Type must be SPEND or RECEIVE." if kind else "Type must be specified.")
    status = (text(element, "Status") or "AUTHORISED").upper()
    if status != "AUTHORISED":
        errors.append("Bank transactions can only be created with status AUTHORISED.")
    account = collect(errors, _bank_account, ctx, element)
    found = collect(errors, find_contact, ctx, element, NO_CONTACT)
    amount_types = collect(errors, line_amount_types, element) or "Exclusive"
    spent_on = date_field(element, "Date") or ctx.today
    currency = collect(errors, currency_of, ctx, element, spent_on)
    if (
        account is not None
        and currency is not None
        and account.get("CurrencyCode")
        and account["CurrencyCode"] != currency[0]
    ):
        errors.append("The currency of the transaction must match its bank account.")
    if not element.get("LineItems"):
        errors.append("At least one line item must be specified.")
    lines = collect(
        errors, build_lines, ctx, element, amount_types, needs_accounts=True, allow_discount=False
    )
    if lines is not None and lines.total < 0:
        errors.append("The Total for this document must be greater than or equal to zero.")
    errors += lock_errors(ctx.org, spent_on)
    if errors or account is None or found is None or currency is None or lines is None:
        raise ElementInvalid(errors or ["The bank transaction could not be saved."])
    code, rate = currency
    role = "supplier" if kind == "SPEND" else "customer"
    contact = attach_contact(ctx, found[0], found[1], role)
    transaction: dict[str, Any] = {
        "BankTransactionID": str(uuid.uuid4()),
        "Type": kind,
        "ContactID": contact["ContactID"],
        "BankAccountID": account["AccountID"],
        "IsReconciled": element.get("IsReconciled") is True,
        "Date": spent_on,
        "Reference": text(element, "Reference") or "",
        "CurrencyCode": code,
        "CurrencyRate": rate,
        "Status": "AUTHORISED",
        "LineAmountTypes": amount_types,
        "LineItems": lines.items,
        "SubTotal": lines.sub_total,
        "TotalTax": lines.total_tax,
        "Total": lines.total,
        "UpdatedDateUTC": ctx.now,
    }
    if element.get("Url"):
        transaction["Url"] = text(element, "Url")
    ctx.org.bank_transactions[transaction["BankTransactionID"]] = transaction
    return transaction


def update_transaction(
    ctx: Ctx, transaction: dict[str, Any], element: dict[str, Any]
) -> dict[str, Any]:
    if transaction["Status"] != "AUTHORISED":
        raise ElementInvalid(
            [
                "This Bank Transaction cannot be edited as it has been "
                f"{transaction['Status'].lower()}."
            ]
        )
    wanted = (text(element, "Status") or "AUTHORISED").upper()
    if wanted not in ("AUTHORISED", "DELETED", "VOIDED"):
        raise ElementInvalid([f"'{wanted}' is not a valid status for a bank transaction."])
    if transaction["IsReconciled"] and (wanted != "AUTHORISED" or "LineItems" in element):
        raise ElementInvalid(["This Bank Transaction cannot be edited as it has been reconciled."])
    if wanted != "AUTHORISED":
        transaction["Status"] = wanted
    else:
        if "LineItems" in element or "LineAmountTypes" in element:
            amount_types = line_amount_types(element, transaction["LineAmountTypes"])
            source = element if "LineItems" in element else {"LineItems": transaction["LineItems"]}
            lines = build_lines(
                ctx,
                source,
                amount_types,
                needs_accounts=True,
                allow_discount=False,
                previous=transaction["LineItems"],
            )
            transaction.update(
                LineAmountTypes=amount_types,
                LineItems=lines.items,
                SubTotal=lines.sub_total,
                TotalTax=lines.total_tax,
                Total=lines.total,
            )
        for key in ("Reference", "Url"):
            if key in element:
                transaction[key] = text(element, key) or ""
        if "Date" in element:
            transaction["Date"] = date_field(element, "Date") or transaction["Date"]
        if isinstance(element.get("IsReconciled"), bool):
            transaction["IsReconciled"] = element["IsReconciled"]
    transaction["UpdatedDateUTC"] = ctx.now
    return transaction


def write_transactions(ctx: Ctx) -> dict[str, Any]:
    allow_update = ctx.method == "POST"
    elements = ctx.elements("BankTransactions")
    target = ctx.path_params.get("id")
    if target:
        try:
            transaction_id = str(uuid.UUID(target))
        except ValueError:
            raise not_found() from None
        if transaction_id not in ctx.org.bank_transactions:
            raise not_found()
        for element in elements:
            if isinstance(element, dict):
                element["BankTransactionID"] = transaction_id

    def process(element: dict[str, Any]) -> dict[str, Any]:
        transaction_id = uuid_field(element, "BankTransactionID")
        if transaction_id:
            existing = ctx.org.bank_transactions.get(transaction_id)
            if existing is None:
                # Inside a batch an unknown id fails its own element, not its neighbours.
                raise ElementInvalid([UNKNOWN_TRANSACTION])
            if not allow_update:
                raise ElementInvalid(["A bank transaction with this ID already exists."])
            return render(ctx, update_transaction(ctx, existing, element))
        return render(ctx, create_transaction(ctx, element))

    return run_batch(
        ctx, "BankTransactions", elements, process, "BankTransactionID", "HasValidationErrors"
    )


def get_transactions(ctx: Ctx) -> dict[str, Any]:
    items = newer_than(ctx.org.bank_transactions.values(), modified_since(ctx))
    views = []
    for transaction in items:
        view = dict(transaction)
        view["BankAccount"] = {
            "AccountID": transaction["BankAccountID"],
            "Code": ctx.org.accounts[transaction["BankAccountID"]].get("Code"),
        }
        view["Contact"] = {"ContactID": transaction["ContactID"]}
        views.append(view)
    views = filtered(ctx, views, FIELDS, "BankTransaction", default_order="UpdatedDateUTC")
    page, pagination = page_of(ctx, views)
    extra = {"pagination": pagination} if pagination else {}
    return ok(
        ctx,
        "BankTransactions",
        [render(ctx, ctx.org.bank_transactions[v["BankTransactionID"]]) for v in page],
        **extra,
    )


def get_transaction(ctx: Ctx) -> dict[str, Any]:
    try:
        transaction = ctx.org.bank_transactions.get(str(uuid.UUID(ctx.path_params["id"])))
    except ValueError:
        transaction = None
    if transaction is None:
        raise not_found()
    return ok(ctx, "BankTransactions", [render(ctx, transaction)])
