"""What invoices, credit notes and bank transactions share: contact, currency, line items."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from ..chart import ACCOUNT_CLASS
from ..wire import new_id
from . import contacts
from .arithmetic import document_totals, line_figures
from .common import (
    Ctx,
    ElementInvalid,
    decimal_field,
    list_field,
    not_found,
    object_field,
    text,
    uuid_field,
)

LINE_AMOUNT_TYPES = ("Exclusive", "Inclusive", "NoTax")
# Accounts a line item may never post to: Xero keeps these for its own journals.
_SYSTEM_ONLY = {
    "DEBTORS",
    "CREDITORS",
    "GST",
    "UNPAIDEXPCLM",
    "RETAINEDEARNINGS",
    "HISTORICAL",
    "ROUNDING",
    "TRACKINGTRANSFERS",
    "BANKCURRENCYGAIN",
    "UNREALISEDCURRENCYGAIN",
    "REALISEDCURRENCYGAIN",
}
_APPLIES = {
    "ASSET": "CanApplyToAssets",
    "EQUITY": "CanApplyToEquity",
    "EXPENSE": "CanApplyToExpenses",
    "LIABILITY": "CanApplyToLiabilities",
    "REVENUE": "CanApplyToRevenue",
}


def resolve_contact(
    ctx: Ctx, element: dict[str, Any], missing_message: str, role: str
) -> dict[str, Any]:
    """Find the document's contact by ContactID, ContactNumber or Name; Xero creates a new
    contact when a Name matches none, and updates a known one when more fields are sent."""
    given = object_field(element, "Contact")
    if not given or not any(given.get(k) for k in contacts.REFERENCE_ONLY):
        raise ElementInvalid([missing_message])
    contact_id = uuid_field(given, "ContactID")
    contact: dict[str, Any] | None = None
    if contact_id:
        contact = ctx.org.contacts.get(contact_id)
        if contact is None:
            raise not_found()
    elif given.get("ContactNumber"):
        contact = contacts.find_by_number(ctx, str(given["ContactNumber"]))
    if contact is None and not contact_id:
        name = (text(given, "Name") or "").strip()
        if name:
            contact = _active_named(ctx, name)
        if contact is None:
            contact = contacts.create_contact(ctx, given)
            contact.update(_role(role))
            return contact
    assert contact is not None
    extra = {k for k in given if k in contacts.WRITABLE and k not in contacts.REFERENCE_ONLY}
    if extra:
        contacts.update_contact(ctx, contact, given)
    contact.update(_role(role))
    return contact


def _role(role: str) -> dict[str, bool]:
    return {"IsSupplier": True} if role == "supplier" else {"IsCustomer": True}


def _active_named(ctx: Ctx, name: str) -> dict[str, Any] | None:
    for contact in ctx.org.contacts.values():
        if contact["ContactStatus"] == "ACTIVE" and contact["Name"].lower() == name.lower():
            return contact
    return None


def currency_of(ctx: Ctx, element: dict[str, Any]) -> tuple[str, Decimal]:
    org = ctx.org
    code = (text(element, "CurrencyCode") or org.base_currency).strip().upper()
    if code != org.base_currency and code not in org.currencies:
        raise ElementInvalid([f"Organisation is not subscribed to currency {code}"])
    rate = decimal_field(element, "CurrencyRate")
    if code == org.base_currency:
        rate = Decimal("1.000000")
    elif rate is None or rate <= 0:
        # Xero would take the day's XE.com rate; the sandbox has no market, so parity.
        rate = Decimal("1.000000")
    return code, rate


def line_amount_types(element: dict[str, Any], default: str = "Exclusive") -> str:
    raw = element.get("LineAmountTypes")
    if raw is None:
        return default
    for name in LINE_AMOUNT_TYPES:
        if str(raw).lower() == name.lower():
            return name
    raise ElementInvalid([f"'{raw}' is not a valid LineAmountTypes value."])


@dataclass
class Lines:
    items: list[dict[str, Any]]
    sub_total: Decimal
    total_tax: Decimal
    total: Decimal


def build_lines(
    ctx: Ctx,
    element: dict[str, Any],
    amount_types: str,
    needs_accounts: bool,
    allow_discount: bool,
    previous: list[dict[str, Any]] | None = None,
) -> Lines:
    """Validate line items against the chart and tax rates; compute Xero's figures."""
    unit_dp = 4 if ctx.q("unitdp") == "4" else 2
    old_by_id = {line["LineItemID"]: line for line in previous or []}
    errors: list[str] = []
    figures = []
    items: list[dict[str, Any]] = []
    for raw in list_field(element, "LineItems"):
        if not isinstance(raw, dict):
            raise ElementInvalid(["Each line item must be an object."])
        line: dict[str, Any] = {}
        line_id = uuid_field(raw, "LineItemID")
        line["LineItemID"] = line_id if line_id in old_by_id else new_id()
        description = text(raw, "Description")
        if description is not None:
            line["Description"] = description
        item_code = text(raw, "ItemCode")
        if item_code:
            errors.append(f"Item code '{item_code}' is not valid.")
        account = _line_account(ctx, raw, errors)
        tax_type = text(raw, "TaxType")
        if account is not None:
            line["AccountCode"] = account.get("Code", "")
            line["AccountID"] = account["AccountID"]
        if tax_type is None:
            tax_type = account["TaxType"] if account is not None else "NONE"
        rate = _tax_rate(ctx, tax_type, account, errors)
        quantity = decimal_field(raw, "Quantity")
        unit_amount = decimal_field(raw, "UnitAmount")
        given_amount = decimal_field(raw, "LineAmount")
        tax_override = decimal_field(raw, "TaxAmount")
        discount = decimal_field(raw, "DiscountRate")
        if (discount or raw.get("DiscountAmount")) and not allow_discount:
            errors.append("Discounts are only available on sales invoices (ACCREC).")
        if discount is not None and not Decimal(0) <= discount <= Decimal(100):
            errors.append("Discount rate must be between 0 and 100.")
        numbers = line_figures(
            quantity,
            unit_amount,
            given_amount,
            tax_override,
            rate,
            amount_types,
            unit_dp,
            discount if allow_discount else None,
        )
        if needs_accounts and account is None and numbers.line_amount != 0:
            errors.append("Account code must be specified")
        tracking = [t for t in list_field(raw, "Tracking") if isinstance(t, dict)]
        if len(tracking) > 2:
            errors.append("A line item can have at most 2 tracking categories.")
        line.update(
            {
                "Quantity": numbers.quantity,
                "UnitAmount": numbers.unit_amount,
                "TaxType": "NONE" if amount_types == "NoTax" else tax_type,
                "TaxAmount": numbers.tax_amount,
                "LineAmount": numbers.line_amount,
                "Tracking": tracking,
            }
        )
        if allow_discount and discount:
            line["DiscountRate"] = discount
        figures.append(numbers)
        items.append(line)
    if errors:
        raise ElementInvalid(list(dict.fromkeys(errors)))
    totals = document_totals(figures, amount_types)
    return Lines(items, totals.sub_total, totals.total_tax, totals.total)


def _line_account(ctx: Ctx, raw: dict[str, Any], errors: list[str]) -> dict[str, Any] | None:
    code = text(raw, "AccountCode")
    account_id = uuid_field(raw, "AccountID")
    account: dict[str, Any] | None = None
    if code:
        account = ctx.org.account_by_code(code)
        if account is None:
            errors.append(f"Account code '{code}' is not a valid code for this document.")
            return None
    elif account_id:
        account = ctx.org.accounts.get(account_id)
        if account is None:
            errors.append("Account must be valid.")
            return None
    if account is None:
        return None
    label = code or account.get("Code", "")
    if account["Status"] != "ACTIVE":
        errors.append(
            f"Account code '{label}' has been archived, or has been deleted. "
            "Each line item must reference a valid account."
        )
        return None
    if account["Type"] == "BANK" or account.get("SystemAccount") in _SYSTEM_ONLY:
        errors.append(f"Account code '{label}' is not a valid code for this document.")
        return None
    return account


def _tax_rate(
    ctx: Ctx, tax_type: str, account: dict[str, Any] | None, errors: list[str]
) -> Decimal:
    rate = ctx.org.tax_rates.get(tax_type)
    if rate is None or rate["Status"] != "ACTIVE":
        errors.append(
            f"The TaxType code {tax_type} does not exist or cannot be used for this type "
            "of transaction."
        )
        return Decimal(0)
    if account is not None:
        flag = _APPLIES[ACCOUNT_CLASS[account["Type"]]]
        if not rate.get(flag, True):
            errors.append(
                f"The TaxType code '{tax_type}' cannot be used with account code "
                f"'{account.get('Code', '')}'."
            )
    return Decimal(rate["EffectiveRate"])
