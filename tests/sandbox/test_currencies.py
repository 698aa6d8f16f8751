"""Currencies: the day's rate when none is sent; bank accounts' currencies; bank amounts."""

from __future__ import annotations

from decimal import Decimal

from tests.support.sandbox_books import make_books
from tests.support.sandbox_helpers import authorised_bill, new_contact, raw


def test_bank_accounts_have_the_base_currency_unless_set(xero_sandbox):
    books = make_books(xero_sandbox, "DKK", ("EUR",))
    banks = raw(books, "GET", "/Accounts", params={"where": 'Type=="BANK"'}).json()["Accounts"]
    assert {a["Code"]: a["CurrencyCode"] for a in banks} == {"090": "DKK", "091": "DKK"}
    books.sandbox.set_bank_currency(books.tenant_id, "091", "EUR")
    [eur] = raw(books, "GET", "/Accounts", params={"where": 'Code=="091"'}).json()["Accounts"]
    assert eur["CurrencyCode"] == "EUR"


def test_a_foreign_document_without_a_rate_takes_the_days_rate(xero_sandbox):
    books = make_books(xero_sandbox, "DKK", ("EUR",))
    contact = new_contact(books, "Euro Supplier GmbH")
    default = raw(
        books, "PUT", "/Invoices", json={"Invoices": [authorised_bill(contact, CurrencyCode="EUR")]}
    ).json()["Invoices"][0]
    # No rate set: a plausible market rate (EUR per DKK), never parity.
    assert Decimal("0.1") < Decimal(str(default["CurrencyRate"])) < Decimal("0.2")
    books.sandbox.set_currency_rate(books.tenant_id, "EUR", "0.134", day="2026-11-02")
    books.sandbox.set_currency_rate(books.tenant_id, "EUR", "0.133")
    on_day = raw(
        books, "PUT", "/Invoices", json={"Invoices": [authorised_bill(contact, CurrencyCode="EUR")]}
    ).json()["Invoices"][0]
    assert Decimal(str(on_day["CurrencyRate"])) == Decimal("0.134")
    other_day = raw(
        books,
        "PUT",
        "/Invoices",
        json={"Invoices": [authorised_bill(contact, CurrencyCode="EUR", Date="2026-11-03")]},
    ).json()["Invoices"][0]
    assert Decimal(str(other_day["CurrencyRate"])) == Decimal("0.133")
    given = raw(
        books,
        "PUT",
        "/Invoices",
        json={"Invoices": [authorised_bill(contact, CurrencyCode="EUR", CurrencyRate=0.2)]},
    ).json()["Invoices"][0]
    assert Decimal(str(given["CurrencyRate"])) == Decimal("0.2")


def test_a_foreign_payments_bank_amount_is_converted_from_a_base_currency_account(xero_sandbox):
    books = make_books(xero_sandbox, "DKK", ("EUR",))
    contact = new_contact(books, "Euro Paid GmbH")
    books.sandbox.set_currency_rate(books.tenant_id, "EUR", "0.125")
    bill = raw(
        books, "PUT", "/Invoices", json={"Invoices": [authorised_bill(contact, CurrencyCode="EUR")]}
    ).json()["Invoices"][0]
    pay = {"Invoice": {"InvoiceID": bill["InvoiceID"]}, "Date": "2026-11-20", "Amount": 50}
    [from_dkk] = raw(
        books, "PUT", "/Payments", json={"Payments": [{**pay, "Account": {"Code": "090"}}]}
    ).json()["Payments"]
    assert Decimal(str(from_dkk["Amount"])) == Decimal("50")
    assert Decimal(str(from_dkk["CurrencyRate"])) == Decimal("0.125")
    assert Decimal(str(from_dkk["BankAmount"])) == Decimal("400.00")
    books.sandbox.set_bank_currency(books.tenant_id, "091", "EUR")
    [from_eur] = raw(
        books, "PUT", "/Payments", json={"Payments": [{**pay, "Account": {"Code": "091"}}]}
    ).json()["Payments"]
    assert Decimal(str(from_eur["BankAmount"])) == Decimal("50")


def test_a_payment_from_a_bank_account_in_a_third_currency_is_refused(xero_sandbox):
    books = make_books(xero_sandbox, "DKK", ("EUR", "SEK"))
    contact = new_contact(books, "Third Currency AB")
    books.sandbox.set_bank_currency(books.tenant_id, "091", "SEK")
    bill = raw(
        books, "PUT", "/Invoices", json={"Invoices": [authorised_bill(contact, CurrencyCode="EUR")]}
    ).json()["Invoices"][0]
    pay = {
        "Invoice": {"InvoiceID": bill["InvoiceID"]},
        "Account": {"Code": "091"},
        "Date": "2026-11-20",
        "Amount": 50,
    }
    refused = raw(books, "PUT", "/Payments", json={"Payments": [pay]})
    assert refused.status_code == 400
