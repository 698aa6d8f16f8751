"""The Accounting API's routes, matched case-insensitively as Xero matches them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from . import (
    attachments,
    bank_transactions,
    contacts,
    credit_notes,
    invoices,
    payments,
    settings_api,
    tracking,
)
from .common import Ctx

Handler = Callable[[Ctx], Any]


@dataclass
class RouteSpec:
    method: str
    segments: list[str]
    collection: str  # for the scope check
    handler: Handler
    raw_body: bool = False


ROUTES: list[RouteSpec] = []


def route(method: str, pattern: str, collection: str, handler: Handler, raw: bool = False) -> None:
    ROUTES.append(RouteSpec(method, pattern.strip("/").split("/"), collection, handler, raw))


route("GET", "Organisation", "organisation", settings_api.get_organisation)
route("GET", "Accounts", "accounts", settings_api.get_accounts)
route("PUT", "Accounts", "accounts", settings_api.create_account)
route("GET", "Accounts/{id}", "accounts", settings_api.get_account)
route("POST", "Accounts/{id}", "accounts", settings_api.update_account)
route("GET", "TaxRates", "taxrates", settings_api.get_tax_rates)
route("GET", "TaxRates/{tax_type}", "taxrates", settings_api.get_tax_rates)
route("GET", "Currencies", "currencies", settings_api.get_currencies)
route("GET", "TrackingCategories", "trackingcategories", tracking.get_categories)
route("GET", "TrackingCategories/{id}", "trackingcategories", tracking.get_category)
route("GET", "Contacts", "contacts", contacts.get_contacts)
route("PUT", "Contacts", "contacts", contacts.write_contacts)
route("POST", "Contacts", "contacts", contacts.write_contacts)
route("GET", "Contacts/{id}", "contacts", contacts.get_contact)
route("POST", "Contacts/{id}", "contacts", contacts.write_contacts)
route("GET", "Invoices", "invoices", invoices.get_invoices)
route("PUT", "Invoices", "invoices", invoices.write_invoices)
route("POST", "Invoices", "invoices", invoices.write_invoices)
route("GET", "Invoices/{id}", "invoices", invoices.get_invoice)
route("POST", "Invoices/{id}", "invoices", invoices.write_invoices)
route("GET", "Payments", "payments", payments.get_payments)
route("PUT", "Payments", "payments", payments.put_payments)
route("POST", "Payments", "payments", payments.post_payment)
route("GET", "Payments/{id}", "payments", payments.get_payment)
route("POST", "Payments/{id}", "payments", payments.delete_payment)
route("GET", "CreditNotes", "creditnotes", credit_notes.get_notes)
route("PUT", "CreditNotes", "creditnotes", credit_notes.write_notes)
route("POST", "CreditNotes", "creditnotes", credit_notes.write_notes)
route("GET", "CreditNotes/{id}", "creditnotes", credit_notes.get_note)
route("POST", "CreditNotes/{id}", "creditnotes", credit_notes.write_notes)
route("PUT", "CreditNotes/{id}/Allocations", "creditnotes", credit_notes.allocate)
route(
    "DELETE",
    "CreditNotes/{id}/Allocations/{allocation_id}",
    "creditnotes",
    credit_notes.delete_allocation,
)
route("GET", "BankTransactions", "banktransactions", bank_transactions.get_transactions)
route("PUT", "BankTransactions", "banktransactions", bank_transactions.write_transactions)
route("POST", "BankTransactions", "banktransactions", bank_transactions.write_transactions)
route("GET", "BankTransactions/{id}", "banktransactions", bank_transactions.get_transaction)
route("POST", "BankTransactions/{id}", "banktransactions", bank_transactions.write_transactions)
for _collection in ("Invoices", "CreditNotes", "BankTransactions"):
    route(
        "GET",
        f"{{collection={_collection}}}/{{id}}/Attachments",
        "attachments",
        attachments.listing,
    )
    route(
        "GET",
        f"{{collection={_collection}}}/{{id}}/Attachments/{{name}}",
        "attachments",
        attachments.content,
    )
    for _method in ("PUT", "POST"):
        route(
            _method,
            f"{{collection={_collection}}}/{{id}}/Attachments/{{name}}",
            "attachments",
            attachments.upload,
            raw=True,
        )


def match(method: str, path: str) -> tuple[RouteSpec, dict[str, str]] | None:
    from urllib.parse import unquote

    parts = [unquote(p) for p in path.strip("/").split("/")]
    for spec in ROUTES:
        if spec.method != method or len(spec.segments) != len(parts):
            continue
        params: dict[str, str] = {}
        for pattern, part in zip(spec.segments, parts, strict=True):
            if pattern.startswith("{"):
                name, _, fixed = pattern[1:-1].partition("=")
                if not part or (fixed and fixed.lower() != part.lower()):
                    break
                params[name] = part
            elif pattern.lower() != part.lower():
                break
        else:
            return spec, params
    return None
