"""A new organisation's chart of accounts and tax rates, modelled on Xero's (UK) demo company.

Codes 090/091 (bank), 200 (sales), 429 (general expenses) and 493 (travel) and the tax
types INPUT2/NONE must exist because Roger's contract examples use them as they are.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from .wire import new_id

ACCOUNT_CLASS = {
    "BANK": "ASSET",
    "CURRENT": "ASSET",
    "FIXED": "ASSET",
    "INVENTORY": "ASSET",
    "NONCURRENT": "ASSET",
    "PREPAYMENT": "ASSET",
    "CURRLIAB": "LIABILITY",
    "LIABILITY": "LIABILITY",
    "TERMLIAB": "LIABILITY",
    "PAYG": "LIABILITY",
    "EQUITY": "EQUITY",
    "DEPRECIATN": "EXPENSE",
    "DIRECTCOSTS": "EXPENSE",
    "EXPENSE": "EXPENSE",
    "OVERHEADS": "EXPENSE",
    "OTHERINCOME": "REVENUE",
    "REVENUE": "REVENUE",
    "SALES": "REVENUE",
}

# (code, name, type, tax type, extras)
_ACCOUNTS: list[tuple[str, str, str, str, dict[str, Any]]] = [
    ("090", "Business Bank Account", "BANK", "NONE", {"BankAccountNumber": "12341234"}),
    ("091", "Business Savings Account", "BANK", "NONE", {"BankAccountNumber": "56785678"}),
    ("200", "Sales", "REVENUE", "OUTPUT2", {}),
    ("260", "Other Revenue", "REVENUE", "OUTPUT2", {}),
    ("270", "Interest Income", "REVENUE", "NONE", {}),
    ("310", "Cost of Goods Sold", "DIRECTCOSTS", "INPUT2", {}),
    ("320", "Direct Wages", "DIRECTCOSTS", "NONE", {}),
    ("400", "Advertising", "OVERHEADS", "INPUT2", {}),
    ("404", "Bank Fees", "OVERHEADS", "NONE", {}),
    ("408", "Cleaning", "OVERHEADS", "INPUT2", {}),
    ("412", "Consulting & Accounting", "OVERHEADS", "INPUT2", {}),
    ("416", "Depreciation", "DEPRECIATN", "NONE", {}),
    ("420", "Entertainment", "OVERHEADS", "NONE", {}),
    ("425", "Freight & Courier", "OVERHEADS", "INPUT2", {}),
    ("429", "General Expenses", "OVERHEADS", "INPUT2", {"ShowInExpenseClaims": True}),
    ("433", "Insurance", "OVERHEADS", "EXEMPTINPUT", {}),
    ("437", "Interest Expense", "OVERHEADS", "NONE", {}),
    ("441", "Legal expenses", "OVERHEADS", "INPUT2", {}),
    ("445", "Light, Power, Heating", "OVERHEADS", "INPUT2", {}),
    ("449", "Motor Vehicle Expenses", "OVERHEADS", "INPUT2", {"ShowInExpenseClaims": True}),
    ("453", "Office Expenses", "OVERHEADS", "INPUT2", {"ShowInExpenseClaims": True}),
    ("461", "Printing & Stationery", "OVERHEADS", "INPUT2", {"ShowInExpenseClaims": True}),
    ("469", "Rent", "OVERHEADS", "INPUT2", {}),
    ("473", "Repairs and Maintenance", "OVERHEADS", "INPUT2", {}),
    ("477", "Salaries", "OVERHEADS", "NONE", {}),
    ("485", "Subscriptions", "OVERHEADS", "INPUT2", {"ShowInExpenseClaims": True}),
    ("489", "Telephone & Internet", "OVERHEADS", "INPUT2", {"ShowInExpenseClaims": True}),
    ("493", "Travel - National", "OVERHEADS", "INPUT2", {"ShowInExpenseClaims": True}),
    ("494", "Travel - International", "OVERHEADS", "NONE", {"ShowInExpenseClaims": True}),
    ("497", "Bank Revaluations", "OVERHEADS", "NONE", {"SystemAccount": "BANKCURRENCYGAIN"}),
    (
        "498",
        "Unrealised Currency Gains",
        "OVERHEADS",
        "NONE",
        {"SystemAccount": "UNREALISEDCURRENCYGAIN"},
    ),
    (
        "499",
        "Realised Currency Gains",
        "OVERHEADS",
        "NONE",
        {"SystemAccount": "REALISEDCURRENCYGAIN"},
    ),
    ("610", "Accounts Receivable", "CURRENT", "NONE", {"SystemAccount": "DEBTORS"}),
    ("620", "Prepayments", "CURRENT", "NONE", {}),
    ("630", "Inventory", "INVENTORY", "NONE", {}),
    ("710", "Office Equipment", "FIXED", "INPUT2", {}),
    ("720", "Computer Equipment", "FIXED", "INPUT2", {}),
    ("800", "Accounts Payable", "CURRLIAB", "NONE", {"SystemAccount": "CREDITORS"}),
    ("801", "Unpaid Expense Claims", "CURRLIAB", "NONE", {"SystemAccount": "UNPAIDEXPCLM"}),
    ("820", "VAT", "CURRLIAB", "NONE", {"SystemAccount": "GST"}),
    ("825", "Employee Tax Payable", "CURRLIAB", "NONE", {}),
    ("840", "Historical Adjustment", "CURRLIAB", "NONE", {"SystemAccount": "HISTORICAL"}),
    ("850", "Suspense", "CURRLIAB", "NONE", {}),
    ("860", "Rounding", "CURRLIAB", "NONE", {"SystemAccount": "ROUNDING"}),
    ("877", "Tracking Transfers", "CURRLIAB", "NONE", {"SystemAccount": "TRACKINGTRANSFERS"}),
    # A liability that accepts payments, like the demo company's owner accounts: payments
    # may go to BANK accounts or to accounts with this flag.
    ("880", "Owner A Drawings", "CURRLIAB", "NONE", {"EnablePaymentsToAccount": True}),
    ("881", "Owner A Funds Introduced", "CURRLIAB", "NONE", {"EnablePaymentsToAccount": True}),
    ("900", "Loan", "TERMLIAB", "NONE", {}),
    ("960", "Retained Earnings", "EQUITY", "NONE", {"SystemAccount": "RETAINEDEARNINGS"}),
    ("970", "Owner A Share Capital", "EQUITY", "NONE", {}),
]

# (tax type, name, report tax type, rate or None for the standard rate, applies to)
_TAX_RATES: list[tuple[str, str, str, Decimal | None, str]] = [
    ("INPUT2", "{rate}% (VAT on Expenses)", "INPUT", None, "purchases"),
    ("OUTPUT2", "{rate}% (VAT on Income)", "OUTPUT", None, "sales"),
    ("RRINPUT", "5% (VAT on Expenses)", "INPUT", Decimal("5"), "purchases"),
    ("RROUTPUT", "5% (VAT on Income)", "OUTPUT", Decimal("5"), "sales"),
    ("ZERORATEDINPUT", "Zero Rated Expenses", "ZERORATEDINPUT", Decimal("0"), "purchases"),
    ("ZERORATEDOUTPUT", "Zero Rated Income", "ZERORATEDOUTPUT", Decimal("0"), "sales"),
    ("EXEMPTINPUT", "Exempt Expenses", "EXEMPTINPUT", Decimal("0"), "purchases"),
    ("EXEMPTOUTPUT", "Exempt Income", "EXEMPTOUTPUT", Decimal("0"), "sales"),
    ("ECZRINPUT", "Zero Rated EC Goods Expenses", "ECACQUISITIONS", Decimal("0"), "purchases"),
    ("ECZROUTPUT", "Zero Rated EC Goods Income", "ECOUTPUT", Decimal("0"), "sales"),
    ("NONE", "No VAT", "NONE", Decimal("0"), "all"),
]

# Standard VAT rate by base currency; anything else gets the UK demo company's 20%.
_STANDARD_RATE = {
    "DKK": Decimal("25"),
    "SEK": Decimal("25"),
    "NOK": Decimal("25"),
    "EUR": Decimal("21"),
    "GBP": Decimal("20"),
    "NZD": Decimal("15"),
    "AUD": Decimal("10"),
    "USD": Decimal("0"),
}

COUNTRY_OF_CURRENCY = {
    "DKK": "DK",
    "SEK": "SE",
    "NOK": "NO",
    "EUR": "IE",
    "GBP": "GB",
    "NZD": "NZ",
    "AUD": "AU",
    "USD": "US",
}


# Top-level reporting codes by class, as Xero's default charts carry them (recorded GET
# /Accounts of a demo company, fyle-xero-api: "ASS"/"Asset", "EXP"/"Expense", ...).
REPORTING = {
    "ASSET": ("ASS", "Asset"),
    "EQUITY": ("EQU", "Equity"),
    "EXPENSE": ("EXP", "Expense"),
    "LIABILITY": ("LIA", "Liability"),
    "REVENUE": ("REV", "Revenue"),
}


def default_accounts(now: datetime) -> dict[str, dict[str, Any]]:
    accounts: dict[str, dict[str, Any]] = {}
    for code, name, kind, tax_type, extras in _ACCOUNTS:
        account: dict[str, Any] = {
            "AccountID": new_id(),
            "Code": code,
            "Name": name,
            "Status": "ACTIVE",
            "Type": kind,
            "TaxType": tax_type,
            "Class": ACCOUNT_CLASS[kind],
            "EnablePaymentsToAccount": False,
            "ShowInExpenseClaims": False,
            "BankAccountType": "",
            "ReportingCode": REPORTING[ACCOUNT_CLASS[kind]][0],
            "ReportingCodeName": REPORTING[ACCOUNT_CLASS[kind]][1],
            "HasAttachments": False,
            "UpdatedDateUTC": now,
            "AddToWatchlist": False,
        }
        if kind == "BANK":
            account["BankAccountType"] = "BANK"
        else:
            # Recorded on every default non-bank account, empty unless Xero's own.
            account["SystemAccount"] = ""
        account.update(extras)
        accounts[account["AccountID"]] = account
    return accounts


def default_tax_rates(base_currency: str) -> dict[str, dict[str, Any]]:
    standard = _STANDARD_RATE.get(base_currency, Decimal("20"))
    rates: dict[str, dict[str, Any]] = {}
    for tax_type, name, report_type, rate, applies in _TAX_RATES:
        value = standard if rate is None else rate
        label = name.format(rate=f"{value.normalize():f}")
        rates[tax_type] = {
            "Name": label,
            "TaxType": tax_type,
            "ReportTaxType": report_type,
            # Like Xero's: input taxes never on revenue, output taxes never on expenses.
            "CanApplyToAssets": True,
            "CanApplyToEquity": True,
            "CanApplyToExpenses": applies != "sales",
            "CanApplyToLiabilities": True,
            "CanApplyToRevenue": applies != "purchases",
            "DisplayTaxRate": value,
            "EffectiveRate": value,
            "Status": "ACTIVE",
            "TaxComponents": [
                {"Name": "VAT", "Rate": value, "IsCompound": False, "IsNonRecoverable": False}
            ],
        }
    return rates
