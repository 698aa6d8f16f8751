"""Which Xero contact is a Roger vendor: tax number, then email, then name as people read it."""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from shared.contracts.roger_events import Vendor

_PUNCT = re.compile(r"[^\w\s]", re.UNICODE)
_SPACE = re.compile(r"\s+")


def normalise_name(name: str) -> str:
    """'ACME A/S' and ' Acme  A/S ' and 'Acmé A S' are the same name to a person."""
    decomposed = unicodedata.normalize("NFKD", name)
    no_accents = "".join(c for c in decomposed if not unicodedata.combining(c))
    return _SPACE.sub(" ", _PUNCT.sub(" ", no_accents.casefold())).strip()


def _tax(value: str | None) -> str:
    return re.sub(r"[\s.-]", "", value or "").upper()


def _email(value: str | None) -> str:
    return (value or "").strip().casefold()


def find_contact(vendor: Vendor, contacts: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The active contact that is this vendor, by the strongest evidence available."""
    active = [c for c in contacts if c.get("ContactStatus", "ACTIVE") == "ACTIVE"]
    tax = _tax(vendor.tax_number)
    if tax:
        for c in active:
            if _tax(c.get("TaxNumber")) == tax:
                return c
    email = _email(vendor.email)
    if email:
        for c in active:
            if _email(c.get("EmailAddress")) == email:
                return c
    name = normalise_name(vendor.name)
    for c in active:
        if normalise_name(c.get("Name", "")) == name:
            return c
    return None


def contact_payload(vendor: Vendor) -> dict[str, Any]:
    contact: dict[str, Any] = {"Name": vendor.name.strip()[:255]}
    if vendor.email:
        contact["EmailAddress"] = vendor.email
    if vendor.tax_number:
        contact["TaxNumber"] = vendor.tax_number
    if vendor.address:
        a = vendor.address
        contact["Addresses"] = [
            {
                "AddressType": "POBOX",
                "AddressLine1": a.line1 or "",
                "AddressLine2": a.line2 or "",
                "City": a.city or "",
                "PostalCode": a.postal_code or "",
                "Country": a.country or vendor.country or "",
            }
        ]
    if vendor.bank_account:
        bank = vendor.bank_account.iban or vendor.bank_account.account_number
        if bank:
            contact["BankAccountDetails"] = bank
    return contact
