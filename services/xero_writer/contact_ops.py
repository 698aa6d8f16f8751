"""Contacts: find or create one per Roger vendor, and keep it up to date.

Every look-up reads all contacts, archived ones too, page by page, and matches them here
(``contacts.find_contact``): no filter carries a vendor's name or e-mail, so no character in
them can hide a contact, however long after an attempt the look-up runs.
"""

from __future__ import annotations

from typing import Any

from services.xero_writer.contacts import (
    ContactMatch,
    contact_payload,
    find_contact,
    normalise_name,
    tax_conflict,
)
from services.xero_writer.outcomes import Call, batch_key, failed, result
from shared.contracts.commands import EnsureContact, UpdateContact
from shared.contracts.results import XeroResult
from shared.xero.client import validation_messages

DUPLICATE_NAME = "already assigned to another contact"


async def active_contacts(call: Call) -> list[dict[str, Any]]:
    """Every contact of the organisation, archived ones too (``find_contact`` follows a
    merged one to its survivor and never takes another archived one), all pages (Xero's
    pages of up to 1,000)."""
    contacts: list[dict[str, Any]] = []
    page = 1
    while True:
        answer = await call(
            "GET",
            "/Contacts",
            params={
                "includeArchived": "true",
                "page": str(page),
                "pageSize": "1000",
            },
        )
        batch = answer.get("Contacts") or []
        contacts += batch
        pagination = answer.get("pagination") or {}
        if not batch or page >= int(pagination.get("pageCount", page)):
            return contacts
        page += 1


def _linked(cmd: EnsureContact, contact: dict[str, Any], note: str | None = None) -> XeroResult:
    return result(
        cmd,
        "XeroContactLinked",
        xero_id=contact["ContactID"],
        xero_number=contact.get("Name"),
        message=note,
    )


async def ensure_contacts(
    call: Call, commands: list[EnsureContact], _earlier: set[str]
) -> list[XeroResult]:
    # Always look first: the contact may exist already (made by a person or an earlier attempt).
    existing = await active_contacts(call)
    results: list[XeroResult] = []
    missing: list[tuple[EnsureContact, ContactMatch]] = []
    for cmd in commands:
        match = find_contact(cmd.vendor, existing)
        if match.contact is not None:
            results.append(_linked(cmd, match.contact, match.note))
        elif match.blocked:
            results.append(failed(cmd, match.note or "an uncertain match: not linked"))
        else:
            missing.append((cmd, match))
    if not missing:
        return results
    # Vendors of one name (as people read it) are one contact, unless their tax numbers
    # differ: then each is sent, and Xero's answer on the name decides (found again below).
    unique: dict[str, EnsureContact] = {}
    sent_as: dict[str, str] = {}  # vendor id -> the key its contact was sent under
    for cmd, _ in missing:
        key = normalise_name(cmd.vendor.name)
        kept = unique.get(key)
        if kept is not None and tax_conflict(kept.vendor, cmd.vendor):
            key = f"{key}\x00{cmd.vendor.id}"
        unique.setdefault(key, cmd)
        sent_as[cmd.vendor.id] = key
    created = await call(
        "PUT",
        "/Contacts",
        params={"summarizeErrors": "false"},
        body={"Contacts": [contact_payload(c.vendor, create=True) for c in unique.values()]},
        idempotency_key=batch_key(list(unique.values()), "contacts"),
    )
    outcome: dict[str, dict[str, Any] | str] = {}
    name_taken = False
    for key, element in zip(unique, created.get("Contacts") or [], strict=False):
        messages = validation_messages(element)
        if not messages and element.get("ContactID"):
            outcome[key] = element
        elif any(DUPLICATE_NAME in m for m in messages):
            name_taken = True  # someone holds the name: the rule decides whether it is ours
        else:
            outcome[key] = "; ".join(messages) or "Xero refused the contact"
    if name_taken:
        existing = await active_contacts(call)
    for cmd, before in missing:
        made = outcome.get(sent_as.get(cmd.vendor.id, ""))
        if isinstance(made, dict):
            results.append(_linked(cmd, made, before.note))
            continue
        if isinstance(made, str):
            results.append(failed(cmd, made))
            continue
        match = find_contact(cmd.vendor, existing)
        if match.contact is not None:
            results.append(_linked(cmd, match.contact, match.note))
        else:
            results.append(
                failed(cmd, match.note or "Xero did not create the contact and none matches it")
            )
    return results


async def update_contacts(
    call: Call, commands: list[UpdateContact], _earlier: set[str]
) -> list[XeroResult]:
    """Setting the same details twice changes nothing, so a retry needs no look-up."""
    answer = await call(
        "POST",
        "/Contacts",
        params={"summarizeErrors": "false"},
        body={
            "Contacts": [{"ContactID": c.contact_id, **contact_payload(c.vendor)} for c in commands]
        },
        idempotency_key=batch_key(commands, "contact-updates"),
    )
    results = []
    for cmd, element in zip(commands, answer.get("Contacts") or [], strict=False):
        messages = validation_messages(element)
        if messages:
            results.append(failed(cmd, "; ".join(messages)))
        else:
            results.append(result(cmd, "XeroContactUpdated", xero_id=cmd.contact_id))
    return results
