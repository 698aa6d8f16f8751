"""What invoices, credit notes and bank transactions share: contact, currency, line items."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from ..chart import ACCOUNT_CLASS
from ..wire import new_id
from . import contacts
from .arithmetic import document_totals, line_figures, to_places
from .common import (
    Ctx,
    ElementInvalid,
    decimal_field,
    list_field,
    object_field,
    text,
    uuid_field,
)
from .rates import day_rate
from .tracking import resolve_line_tracking

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


# Xero's words (integrators' help pages quote them: AgriDigital, Payaca, Recurly).
ARCHIVED_CONTACT = (
    "The contact with the specified contact details has been archived. "
    "The contact must be un-archived before creating new invoices or credit notes."
)
# No recorded wording for an unknown ContactID inside a document; the sandbox's.
UNKNOWN_CONTACT = "The contact with the specified ContactID could not be found."
NO_LINES = "Documents must have at least one line item to be approved."


def find_contact(
    ctx: Ctx, element: dict[str, Any], missing_message: str
) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    """The document's contact by ContactID, ContactNumber or Name, without changing anything.

    Returns (contact or None when a new one is to be created from the name, what was sent).
    Raises ElementInvalid when none is named, the ContactID is unknown (Xero refuses that
    element alone, not the whole batch) or the contact named is archived (merged or not).
    """
    given = object_field(element, "Contact")
    if not given or not any(given.get(k) for k in contacts.REFERENCE_ONLY):
        raise ElementInvalid([missing_message])
    contact_id = uuid_field(given, "ContactID")
    contact: dict[str, Any] | None = None
    if contact_id:
        contact = ctx.org.contacts.get(contact_id)
        if contact is None:
            raise ElementInvalid([UNKNOWN_CONTACT])
    elif given.get("ContactNumber"):
        contact = contacts.find_by_number(ctx, str(given["ContactNumber"]))
    if contact is None:
        name = (text(given, "Name") or "").strip()
        if name:
            contact = _named(ctx, name)
    if contact is not None and contact["ContactStatus"] != "ACTIVE":
        raise ElementInvalid([ARCHIVED_CONTACT])
    return contact, given


def attach_contact(
    ctx: Ctx, contact: dict[str, Any] | None, given: dict[str, Any], role: str
) -> dict[str, Any]:
    """Create the contact named (when `contact` is None) or update a known one with any
    further fields sent, as Xero does; mark it supplier or customer."""
    if contact is None:
        contact = contacts.create_contact(ctx, given)
        contact.update(_role(role))
        return contact
    extra = {k for k in given if k in contacts.WRITABLE and k not in contacts.REFERENCE_ONLY}
    if extra:
        contacts.update_contact(ctx, contact, given)
    contact.update(_role(role))
    return contact


def _role(role: str) -> dict[str, bool]:
    return {"IsSupplier": True} if role == "supplier" else {"IsCustomer": True}


def _named(ctx: Ctx, name: str) -> dict[str, Any] | None:
    """The ACTIVE contact of that name, else an archived one (which Xero then refuses)."""
    archived = None
    for contact in ctx.org.contacts.values():
        if contact["Name"].lower() != name.lower():
            continue
        if contact["ContactStatus"] == "ACTIVE":
            return contact
        archived = archived or contact
    return archived


def currency_of(ctx: Ctx, element: dict[str, Any], day: date | None = None) -> tuple[str, Decimal]:
    """(currency code, CurrencyRate); without a rate Xero takes the day's (see rates.py)."""
    org = ctx.org
    code = (text(element, "CurrencyCode") or org.base_currency).strip().upper()
    if code != org.base_currency and code not in org.currencies:
        raise ElementInvalid([f"Organisation is not subscribed to currency {code}"])
    rate = decimal_field(element, "CurrencyRate")
    if code == org.base_currency:
        rate = Decimal("1.000000")
    elif rate is None or rate <= 0:
        rate = day_rate(org, code, day or ctx.today)
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


def unit_places(ctx: Ctx) -> int:
    """Decimal places of unit amounts in this request: 4 with ``unitdp=4``, else Xero's 2."""
    return 4 if ctx.q("unitdp") == "4" else 2


def rendered_lines(ctx: Ctx, lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Stored lines as this request sees them: without ``unitdp=4`` Xero answers every
    ``UnitAmount`` rounded to 2 decimals (half away from zero), even one stored with 4
    (spec parameter ``unitdp``; a bill of 0.1648 a unit reads back 0.16)."""
    places = unit_places(ctx)
    shown = [dict(line) for line in lines]
    if places == 4:
        return shown
    for line in shown:
        if isinstance(line.get("UnitAmount"), Decimal):
            line["UnitAmount"] = to_places(line["UnitAmount"], places)
    return shown


def build_lines(
    ctx: Ctx,
    element: dict[str, Any],
    amount_types: str,
    needs_accounts: bool,
    allow_discount: bool,
    previous: list[dict[str, Any]] | None = None,
) -> Lines:
    """Validate line items against the chart and tax rates; compute Xero's figures."""
    unit_dp = unit_places(ctx)
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
        named = raw.get("AccountCode") or raw.get("AccountID")
        if needs_accounts and account is None and not named and numbers.line_amount != 0:
            errors.append("Account code must be specified")
        tracking = resolve_line_tracking(
            ctx.org, [t for t in list_field(raw, "Tracking") if isinstance(t, dict)], errors
        )
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
