"""Organisation, Accounts, TaxRates and Currencies: what a client reads before it writes."""

from __future__ import annotations

from typing import Any

from ..chart import ACCOUNT_CLASS
from ..wire import envelope_moment, new_id
from .common import (
    ApiError,
    Ctx,
    ElementInvalid,
    modified_since,
    newer_than,
    not_found,
    ok,
    run_batch,
    text,
    uuid_field,
)
from .filtering import filtered

_VERSION = {"GB": "UK", "US": "US", "AU": "AU", "NZ": "NZ"}
_TIMEZONE = {
    "DK": "ROMANCESTANDARDTIME",
    "SE": "WEUROPESTANDARDTIME",
    "NO": "WEUROPESTANDARDTIME",
    "IE": "GMTSTANDARDTIME",
    "GB": "GMTSTANDARDTIME",
    "US": "EASTERNSTANDARDTIME",
    "AU": "AUSEASTERNSTANDARDTIME",
    "NZ": "NEWZEALANDSTANDARDTIME",
}
CURRENCY_NAMES = {
    "AUD": "Australian Dollar",
    "CAD": "Canadian Dollar",
    "CHF": "Swiss Franc",
    "DKK": "Danish Krone",
    "EUR": "Euro",
    "GBP": "British Pound",
    "NOK": "Norwegian Krone",
    "NZD": "New Zealand Dollar",
    "SEK": "Swedish Krona",
    "USD": "United States Dollar",
}


def get_organisation(ctx: Ctx) -> dict[str, Any]:
    org = ctx.org
    # As recorded (GET /Organisation, xero-python's cassette): no APIKey (an OAuth 1.0a
    # relic the spec's example still shows), no empty LineOfBusiness, and CreatedDateUTC
    # written like the envelope's DateTimeUTC, without an offset.
    body: dict[str, Any] = {
        "Name": org.name,
        "LegalName": org.name,
        "PaysTax": True,
        "Version": _VERSION.get(org.country, "GLOBAL"),
        "OrganisationType": "COMPANY",
        "BaseCurrency": org.base_currency,
        "CountryCode": org.country,
        "IsDemoCompany": False,
        "OrganisationStatus": "ACTIVE",
        "FinancialYearEndDay": 31,
        "FinancialYearEndMonth": 12,
        "SalesTaxBasis": "ACCRUALS",
        "SalesTaxPeriod": "QUARTERLY",
        "DefaultSalesTax": "Tax Exclusive",
        "DefaultPurchasesTax": "Tax Exclusive",
        "CreatedDateUTC": envelope_moment(org.created),
        "OrganisationEntityType": "COMPANY",
        "Timezone": _TIMEZONE.get(org.country, "UTC"),
        "ShortCode": org.short_code,
        "OrganisationID": org.tenant_id,
        "Edition": "BUSINESS",
        "Class": "PREMIUM",
        "Addresses": [],
        "Phones": [],
        "ExternalLinks": [],
        "PaymentTerms": {},
    }
    # "Shown if set" (spec): absent, not null, when the organisation has none.
    if org.period_lock_date is not None:
        body["PeriodLockDate"] = org.period_lock_date
    if org.end_of_year_lock_date is not None:
        body["EndOfYearLockDate"] = org.end_of_year_lock_date
    return ok(ctx, "Organisations", [body])


# ---------------------------------------------------------------- accounts

ACCOUNT_FIELDS = {
    "Code",
    "Name",
    "AccountID",
    "Type",
    "BankAccountNumber",
    "Status",
    "Description",
    "BankAccountType",
    "CurrencyCode",
    "TaxType",
    "EnablePaymentsToAccount",
    "ShowInExpenseClaims",
    "Class",
    "SystemAccount",
    "ReportingCode",
    "ReportingCodeName",
    "HasAttachments",
    "UpdatedDateUTC",
    "AddToWatchlist",
}


def render_account(account: dict[str, Any]) -> dict[str, Any]:
    return dict(account)


def get_accounts(ctx: Ctx) -> dict[str, Any]:
    items = newer_than(ctx.org.accounts.values(), modified_since(ctx))
    items = filtered(ctx, items, ACCOUNT_FIELDS, "Account", default_order="Code")
    return ok(ctx, "Accounts", [render_account(a) for a in items])


def get_account(ctx: Ctx) -> dict[str, Any]:
    account = ctx.org.accounts.get(ctx.path_params["id"].lower())
    if account is None:
        raise not_found()
    return ok(ctx, "Accounts", [render_account(account)])


def create_account(ctx: Ctx) -> dict[str, Any]:
    """PUT /Accounts: one account per request, no batches."""
    data = ctx.json()
    if not isinstance(data, dict):
        raise ApiError(400, {"Message": "An Account object is required"})
    element = data
    for key, value in data.items():
        if key.lower() == "accounts" and isinstance(value, list) and len(value) == 1:
            element = value[0]

    def process(item: dict[str, Any]) -> dict[str, Any]:
        return render_account(_create_account(ctx, item))

    return run_batch(ctx, "Accounts", [element], process, "AccountID", "HasValidationErrors")


def _create_account(ctx: Ctx, element: dict[str, Any]) -> dict[str, Any]:
    org = ctx.org
    errors: list[str] = []
    code = (text(element, "Code") or "").strip()
    name = (text(element, "Name") or "").strip()
    kind = (text(element, "Type") or "").strip().upper()
    if kind not in ACCOUNT_CLASS:
        errors.append("Please select a valid Account Type.")
    if kind != "BANK" and not code:
        errors.append("Please enter a Code.")
    if not name:
        errors.append("Please enter a Name.")
    if code and org.account_by_code(code) is not None:
        errors.append("Please enter a unique Code.")
    if name and any(a["Name"].lower() == name.lower() for a in org.accounts.values()):
        errors.append("Please enter a unique Name.")
    tax_type = text(element, "TaxType") or "NONE"
    if tax_type not in org.tax_rates:
        errors.append(
            f"The TaxType code {tax_type} does not exist or cannot be used for this "
            "type of transaction."
        )
    if errors:
        raise ElementInvalid(errors)
    account: dict[str, Any] = {
        "AccountID": new_id(),
        "Code": code,
        "Name": name,
        "Status": "ACTIVE",
        "Type": kind,
        "TaxType": tax_type,
        "Class": ACCOUNT_CLASS[kind],
        "EnablePaymentsToAccount": bool(element.get("EnablePaymentsToAccount") is True),
        "ShowInExpenseClaims": bool(element.get("ShowInExpenseClaims") is True),
        "BankAccountType": "BANK" if kind == "BANK" else "",
        "ReportingCode": "",
        "HasAttachments": False,
        "UpdatedDateUTC": ctx.now,
        "AddToWatchlist": False,
    }
    if element.get("Description"):
        account["Description"] = text(element, "Description")
    if kind == "BANK":
        account["BankAccountNumber"] = text(element, "BankAccountNumber") or ""
        if element.get("CurrencyCode"):
            account["CurrencyCode"] = text(element, "CurrencyCode")
    org.accounts[account["AccountID"]] = account
    return account


def update_account(ctx: Ctx) -> dict[str, Any]:
    """POST /Accounts/{AccountID}: rename, or archive/restore with Status."""
    account = ctx.org.accounts.get(ctx.path_params["id"].lower())
    if account is None:
        raise not_found()
    elements = ctx.elements("Accounts")

    def process(element: dict[str, Any]) -> dict[str, Any]:
        given_id = uuid_field(element, "AccountID")
        if given_id and given_id != account["AccountID"]:
            raise ElementInvalid(["The AccountID in the body does not match the URL."])
        status = text(element, "Status")
        if status is not None:
            if status not in ("ACTIVE", "ARCHIVED"):
                raise ElementInvalid(["Account status must be ACTIVE or ARCHIVED."])
            if account.get("SystemAccount") and status == "ARCHIVED":
                raise ElementInvalid(["System accounts cannot be archived."])
            account["Status"] = status
        for key in ("Name", "Description", "TaxType", "Code"):
            value = text(element, key)
            if value is not None:
                account[key] = value
        for key in ("EnablePaymentsToAccount", "ShowInExpenseClaims", "AddToWatchlist"):
            if isinstance(element.get(key), bool):
                account[key] = element[key]
        account["UpdatedDateUTC"] = ctx.now
        return render_account(account)

    return run_batch(ctx, "Accounts", elements[:1], process, "AccountID", "HasValidationErrors")


# ---------------------------------------------------------------- tax rates and currencies

TAX_RATE_FIELDS = {
    "Name",
    "TaxType",
    "TaxComponents",
    "Status",
    "ReportTaxType",
    "CanApplyToAssets",
    "CanApplyToEquity",
    "CanApplyToExpenses",
    "CanApplyToLiabilities",
    "CanApplyToRevenue",
    "DisplayTaxRate",
    "EffectiveRate",
}


def get_tax_rates(ctx: Ctx) -> dict[str, Any]:
    items = list(ctx.org.tax_rates.values())
    wanted = ctx.q("TaxType") or ctx.path_params.get("tax_type")
    if wanted:
        items = [r for r in items if r["TaxType"].upper() == wanted.upper()]
    items = filtered(ctx, items, TAX_RATE_FIELDS, "TaxRate", default_order=None)
    return ok(ctx, "TaxRates", [dict(r) for r in items])


def get_currencies(ctx: Ctx) -> dict[str, Any]:
    org = ctx.org
    items = [
        {"Code": code, "Description": CURRENCY_NAMES.get(code, code)}
        for code in [org.base_currency, *org.currencies]
    ]
    items = filtered(ctx, items, {"Code", "Description"}, "Currency", default_order=None)
    return ok(ctx, "Currencies", items)
