"""Contacts: find or create one per Roger vendor, and keep it up to date."""

from __future__ import annotations

from typing import Any

from services.xero_writer.contacts import contact_payload, find_contact, normalise_name
from services.xero_writer.outcomes import Call, batch_key, failed, result
from shared.contracts.commands import EnsureContact, UpdateContact
from shared.contracts.results import XeroResult
from shared.xero.client import validation_messages

DUPLICATE_NAME = "already assigned to another contact"


async def active_contacts(call: Call) -> list[dict[str, Any]]:
    contacts: list[dict[str, Any]] = []
    page = 1
    while True:
        answer = await call(
            "GET",
            "/Contacts",
            params={
                "where": 'ContactStatus=="ACTIVE"',
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


def _linked(cmd: EnsureContact, contact: dict[str, Any]) -> XeroResult:
    return result(
        cmd, "XeroContactLinked", xero_id=contact["ContactID"], xero_number=contact.get("Name")
    )


async def ensure_contacts(
    call: Call, commands: list[EnsureContact], _earlier: set[str]
) -> list[XeroResult]:
    # Always look first: the contact may exist already (made by a person or an earlier attempt).
    existing = await active_contacts(call)
    results: list[XeroResult] = []
    missing: list[EnsureContact] = []
    for cmd in commands:
        match = find_contact(cmd.vendor, existing)
        if match:
            results.append(_linked(cmd, match))
        else:
            missing.append(cmd)
    if not missing:
        return results
    # Two vendors in one batch that are one contact to Xero: create it once.
    unique: dict[str, EnsureContact] = {}
    for cmd in missing:
        unique.setdefault(normalise_name(cmd.vendor.name), cmd)
    created = await call(
        "PUT",
        "/Contacts",
        params={"summarizeErrors": "false"},
        body={"Contacts": [contact_payload(c.vendor) for c in unique.values()]},
        idempotency_key=batch_key(list(unique.values()), "contacts"),
    )
    outcome: dict[str, dict[str, Any] | str] = {}
    name_taken = False
    for (name, _), element in zip(unique.items(), created.get("Contacts") or [], strict=False):
        messages = validation_messages(element)
        if not messages and element.get("ContactID"):
            outcome[name] = element
        elif any(DUPLICATE_NAME in m for m in messages):
            name_taken = True  # someone holds the name: link to the contact that has it
        else:
            outcome[name] = "; ".join(messages) or "Xero refused the contact"
    if name_taken:
        existing = await active_contacts(call)
    for cmd in missing:
        found = outcome.get(normalise_name(cmd.vendor.name)) or find_contact(cmd.vendor, existing)
        if isinstance(found, dict):
            results.append(_linked(cmd, found))
        else:
            results.append(
                failed(cmd, found or "Xero did not create the contact and none matches it")
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
