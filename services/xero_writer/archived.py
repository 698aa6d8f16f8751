"""Archived contacts: a document's contact archived in Xero, or merged into another.

Xero refuses a bill or credit note for an archived contact ("The contact with the specified
contact details has been archived. The contact must be un-archived before creating new
invoices or credit notes."). Merging two contacts in Xero archives one and names the
survivor in its ``MergedToContactID``: the document goes to the survivor, and the result
names it (``XeroResult.contact_id``) so the vendor is linked to it from now on. An archived
contact with no survivor is never replaced by a look-alike: the document fails with Xero's
words and the fix (``RESTORE_FIX``).
"""

from __future__ import annotations

from typing import Any

from services.xero_writer.outcomes import Call
from shared.xero.errors import Refused

ARCHIVED = "has been archived"  # in Xero's refusal (above)
RESTORE_FIX = "restore the contact in Xero, then retry"
MAX_HOPS = 10  # a survivor may itself have been merged since: follow, but never loop


def refused_as_archived(message: str | None) -> bool:
    return bool(message and ARCHIVED in message)


def survivor_in(contact: dict[str, Any], by_id: dict[str, dict[str, Any]]) -> dict[str, Any] | None:
    """The ACTIVE contact an archived ``contact`` was merged into (following merges of the
    survivor too), among ``by_id``; None when it was archived without a merge."""
    seen = contact
    for _ in range(MAX_HOPS):
        if seen.get("ContactStatus", "ACTIVE") == "ACTIVE":
            return seen if seen is not contact else None
        nxt = by_id.get(seen.get("MergedToContactID") or "")
        if nxt is None:
            return None
        seen = nxt
    return None


async def _contact(call: Call, contact_id: str) -> dict[str, Any] | None:
    """The contact, or None when Xero has none of that id (then there is no survivor)."""
    try:
        answer = await call("GET", f"/Contacts/{contact_id}")
    except Refused:
        return None
    found = answer.get("Contacts") or []
    return found[0] if found else None


async def survivors(call: Call, contact_ids: set[str]) -> dict[str, str | None]:
    """For each contact id: the id of the ACTIVE contact it now is (itself when active, the
    survivor of its merges when archived by a merge), or None (archived, no survivor)."""
    found: dict[str, str | None] = {}
    for contact_id in sorted(contact_ids):
        current: str | None = contact_id
        for _ in range(MAX_HOPS):
            contact = await _contact(call, current) if current else None
            if contact is None:
                current = None
                break
            if contact.get("ContactStatus", "ACTIVE") == "ACTIVE":
                break
            current = contact.get("MergedToContactID") or None
        else:
            current = None
        found[contact_id] = current
    return found


def merged_note(old: str, new: str) -> str:
    return (
        f"the vendor's Xero contact {old} was merged into contact {new} in Xero "
        "(MergedToContactID): posted to that contact, which is the vendor's contact from now on"
    )


def without_survivor(message: str | None) -> str:
    return f"{(message or 'the contact is archived in Xero').rstrip('.')}: {RESTORE_FIX}"
