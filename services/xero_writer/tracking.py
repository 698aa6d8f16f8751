"""A line's tracking checked against the organisation's tracking categories before sending.

Xero matches each line's ``Tracking`` (category ``Name`` and ``Option``, in any case) to
the organisation's ACTIVE categories and options and refuses anything else ("Unknown
tracking details. A Tracking Category did not match a known Active TrackingCategory",
which does not say which). Roger's lines carry tracking by name, so the writer checks them
first (``org_facts.py`` keeps the categories) and a document naming tracking the
organisation lacks fails with a reason naming the category and option, and the fix.

Chosen: ``failed`` with that reason, never synced without its tracking (the case
``unknown-tracking-option``): tracking drives the accountant's reports, and a bill booked
without it would be wrong silently once the warning is overlooked; a failed bill goes again
with ``retry`` once the option is added in Xero (a miss always reads the categories again).
"""

from __future__ import annotations

from collections.abc import Sequence

from services.xero_writer import org_facts
from services.xero_writer.org_facts import Tracking
from services.xero_writer.outcomes import Call
from shared.contracts.commands import CreateBill, CreateCreditNote, UpdateBill
from shared.contracts.roger_events import Tracking as LineTracking

Document = CreateBill | UpdateBill | CreateCreditNote

FIX = (
    "add it in Xero (Settings > Tracking categories) or correct the line's tracking in Roger, "
    "then retry"
)


def _names(names: Sequence[str]) -> str:
    return ", ".join(f'"{n}"' for n in names) or "none"


def problem(tracking: LineTracking, known: Tracking) -> str | None:
    """Why Xero would refuse this tracking of a line, naming category and option; None: fine."""
    category = known.category(tracking.name)
    if category is None:
        return (
            f'tracking category "{tracking.name}" (option "{tracking.option}") is not an active '
            f"tracking category of the Xero organisation (its categories: "
            f"{_names([c.name for c in known.categories])})"
        )
    if category.option(tracking.option) is None:
        return (
            f'tracking option "{tracking.option}" is not an active option of tracking category '
            f'"{category.name}" in Xero (its options: {_names(category.options)})'
        )
    return None


def problems(cmd: Document, known: Tracking) -> list[str]:
    """Every distinct tracking problem of the document's lines, in line order."""
    found = [p for line in cmd.lines for t in line.tracking if (p := problem(t, known))]
    return list(dict.fromkeys(found))


def reason(found: list[str]) -> str:
    return f"{'; '.join(found)}: {FIX}"


async def untracked(call: Call, commands: Sequence[Document]) -> dict[str, str]:
    """Command id -> the reason it cannot go, for documents whose lines name tracking the
    organisation does not have (no call at all when no line has tracking)."""
    tracked = [c for c in commands if any(line.tracking for line in c.lines)]
    if not tracked:
        return {}
    cache = org_facts.facts()
    tenant_id = tracked[0].tenant_id
    started = cache.clock()
    known = await cache.tracking(call, tenant_id)
    found = {c.command_id: p for c in tracked if (p := problems(c, known))}
    if found and known.read_at < started:
        # Kept from earlier: the accountant may have added the option since. Read again.
        known = await cache.tracking(call, tenant_id, fresh=True)
        found = {c.command_id: p for c in tracked if (p := problems(c, known))}
    return {command_id: reason(p) for command_id, p in found.items()}


def explain_refusal(cmd: Document, messages: list[str]) -> list[str]:
    """Xero's messages for a refused document; when Xero refused tracking (its message names
    no category), the organisation's categories are forgotten (read again next time) and the
    line's tracking is named after Xero's words."""
    if not any("tracking" in m.lower() for m in messages):
        return messages
    org_facts.facts().forget_tracking(cmd.tenant_id)
    sent = [f'"{t.name}": "{t.option}"' for line in cmd.lines for t in line.tracking]
    if not sent:
        return messages
    return [*messages, f"the document's tracking: {', '.join(dict.fromkeys(sent))}"]
