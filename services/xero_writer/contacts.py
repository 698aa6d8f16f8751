"""Which Xero contact is a Roger vendor, without ever merging two suppliers.

The rule (README, "What syncs"), strongest evidence first:

1. ``ContactNumber`` equal to the Roger vendor id: ours (every contact we create carries it;
   Xero keeps that field for identifiers of other systems);
2. tax numbers, when both sides have one: equal is the same supplier, different is not;
3. the name as people read it (Xero holds one active contact per name), unless the tax
   numbers differ;
4. a shared e-mail alone (an accounts mailbox) is never a match when names or tax numbers
   differ.

Archived contacts (read too) are skipped, unless a merge archived them: then the contact
they were merged into (``MergedToContactID``) stands for them, named in a note. The vendor's
own contact (by ``ContactNumber``) archived without a merge blocks creating a look-alike: the
fix is to restore it in Xero, then retry.

Evidence that points both ways is uncertain: nothing is merged silently. A candidate that
only shares an e-mail is named in a warning and a contact of the vendor's own is created; a
contact of the same name but another tax number blocks creating one (Xero would refuse the
name) and is named in the refusal.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from services.xero_writer.archived import RESTORE_FIX, survivor_in
from shared.contracts.roger_events import Vendor

_PUNCT = re.compile(r"[^\w\s]", re.UNICODE)
_SPACE = re.compile(r"\s+")
# Xero's limit for ContactNumber (xero-facts.md, contact create); a longer id is not stored.
CONTACT_NUMBER_MAX = 50


def normalise_name(name: str) -> str:
    """'ACME A/S' and ' Acme  A/S ' and 'Acmé A S' are the same name to a person."""
    decomposed = unicodedata.normalize("NFKD", name)
    no_accents = "".join(c for c in decomposed if not unicodedata.combining(c))
    return _SPACE.sub(" ", _PUNCT.sub(" ", no_accents.casefold())).strip()


def _tax(value: str | None) -> str:
    return re.sub(r"[\s.-]", "", value or "").upper()


def _email(value: str | None) -> str:
    return (value or "").strip().casefold()


def tax_conflict(one: Vendor, other: Vendor) -> bool:
    """Both have a tax number, and they differ: two suppliers, whatever else they share."""
    a, b = _tax(one.tax_number), _tax(other.tax_number)
    return bool(a and b and a != b)


def contact_number(vendor: Vendor) -> str | None:
    """The ContactNumber our contacts carry: the Roger vendor id, if Xero can hold it."""
    return vendor.id if 0 < len(vendor.id) <= CONTACT_NUMBER_MAX else None


def describe(contact: dict[str, Any]) -> str:
    """A contact as a person finds it in Xero: its name, tax number and id."""
    tax = f", tax number {contact['TaxNumber']}" if contact.get("TaxNumber") else ""
    return f"Xero contact '{contact.get('Name', '')}'{tax} ({contact.get('ContactID', '')})"


@dataclass(frozen=True)
class ContactMatch:
    """``contact``: the vendor's contact (link to it); None: create one, unless ``blocked``.
    ``note``: a warning naming the candidate contact, shown on the vendor's documents."""

    contact: dict[str, Any] | None = None
    note: str | None = None
    blocked: bool = False


def find_contact(vendor: Vendor, contacts: list[dict[str, Any]]) -> ContactMatch:
    """The active contact that is this vendor, by the rule in this module's docstring;
    ``contacts`` may include archived ones (then merged ones lead to their survivors)."""
    active = [c for c in contacts if c.get("ContactStatus", "ACTIVE") == "ACTIVE"]
    number = contact_number(vendor)
    if number:
        for c in active:
            if c.get("ContactNumber") == number:
                return ContactMatch(c)
    found = _find_active(vendor, active)
    if found.contact is not None or found.blocked:
        return found
    return _find_archived(vendor, contacts) or found


def _merged_note(archived: dict[str, Any], survivor: dict[str, Any]) -> str:
    return (
        f"{describe(archived)} was merged into {describe(survivor)} in Xero "
        "(MergedToContactID): linked to that contact"
    )


def _find_archived(vendor: Vendor, contacts: list[dict[str, Any]]) -> ContactMatch | None:
    """The vendor's archived contact: its survivor, or blocked when it has none (by
    ``ContactNumber``), or its survivor when a merge archived a match by tax number or name.
    None: no archived contact is the vendor."""
    by_id = {c.get("ContactID", ""): c for c in contacts}
    gone = [c for c in contacts if c.get("ContactStatus", "ACTIVE") == "ARCHIVED"]
    number = contact_number(vendor)
    if number:
        for c in gone:
            if c.get("ContactNumber") == number:
                survivor = survivor_in(c, by_id)
                if survivor is not None:
                    return ContactMatch(survivor, _merged_note(c, survivor))
                return ContactMatch(
                    note=(
                        f"the vendor's {describe(c)} is archived in Xero and was not merged "
                        f"into another contact: {RESTORE_FIX}"
                    ),
                    blocked=True,
                )
    merged = [c for c in gone if c.get("MergedToContactID")]
    found = _find_active(vendor, merged)
    if found.contact is not None:
        survivor = survivor_in(found.contact, by_id)
        if survivor is not None:
            return ContactMatch(survivor, _merged_note(found.contact, survivor))
    return None


def _find_active(vendor: Vendor, active: list[dict[str, Any]]) -> ContactMatch:
    """Rules 2 to 4 of the module's docstring over ``active``."""
    number = contact_number(vendor)
    tax = _tax(vendor.tax_number)
    name = normalise_name(vendor.name)
    email = _email(vendor.email)

    def other_tax(c: dict[str, Any]) -> bool:
        theirs = _tax(c.get("TaxNumber"))
        return bool(tax and theirs and theirs != tax)

    def shared_note(c: dict[str, Any], why: str) -> str | None:
        theirs = c.get("ContactNumber")
        if theirs and theirs != number:
            return f"linked to {describe(c)} by {why}; it also carries contact number {theirs}"
        return None

    if tax:
        for c in active:
            if _tax(c.get("TaxNumber")) == tax:
                return ContactMatch(c, shared_note(c, "its tax number"))
    for c in active:
        if normalise_name(c.get("Name", "")) == name:
            if other_tax(c):
                return ContactMatch(
                    note=(
                        f"not linked: {describe(c)} has the vendor's name but another tax "
                        f"number than {vendor.tax_number}; Xero holds one active contact per "
                        "name, so rename one of them"
                    ),
                    blocked=True,
                )
            return ContactMatch(c, shared_note(c, "its name"))
    if email:
        for c in active:
            if _email(c.get("EmailAddress")) == email and not other_tax(c):
                # Names differ and no tax numbers to tell: a shared mailbox is weak evidence.
                return ContactMatch(
                    note=(
                        f"{describe(c)} shares the e-mail {vendor.email} but has another "
                        f"name: not linked; a contact of its own was made for {vendor.name}"
                    )
                )
    return ContactMatch()


def contact_payload(vendor: Vendor, *, create: bool = False) -> dict[str, Any]:
    """The Xero contact's fields from the vendor; ``create`` adds our ContactNumber (an
    existing contact keeps the number it has, which may be another system's)."""
    contact: dict[str, Any] = {"Name": vendor.name.strip()[:255]}
    number = contact_number(vendor)
    if create and number:
        contact["ContactNumber"] = number
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
