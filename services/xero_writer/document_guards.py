"""What stands between a bill or credit note and Xero: lock dates and archived contacts.

``guarded`` wraps a document operation (create bills, create credit notes, update a bill):

1. the operation runs;
2. what Xero refused for an archived contact is sent again to the contact it was merged
   into (``archived.py``), or fails with the fix; what it refused for a lock date reads the
   organisation's lock dates (``org_facts``, read afresh) and follows the command's
   ``lock_date_policy``: failed with the lock date and the fix, or sent again dated the
   first open day with a warning. Those sent again go once, under their own
   Idempotency-Key.

Answers keep their commands' order as the operation gives them; each command has one.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from typing import Any

from services.xero_writer import archived
from services.xero_writer.lock_dates import (
    LOCKED_FIX,
    LockDates,
    failure,
    first_open_day,
    lock_dates_of,
    moved_note,
    refused_for_lock,
)
from services.xero_writer.outcomes import Call, failed, join_notes
from shared.contracts.commands import CreateBill, CreateCreditNote, UpdateBill
from shared.contracts.results import XeroResult

Doc = CreateBill | CreateCreditNote | UpdateBill
Op = Callable[[Call, Any, set[str]], Awaitable[list[XeroResult]]]


def _locked(cmd: Doc, locks: LockDates) -> tuple[Doc | XeroResult, str | None]:
    """The command as it may go (moved to the first open day, with a note), or its failure."""
    hit = locks.locking(cmd.issue_date)
    if hit is None:
        return cmd, None
    name, lock = hit
    if cmd.lock_date_policy != "next_open_day":
        return failed(cmd, failure(cmd.issue_date, name, lock)), None
    posted = first_open_day(lock)
    due = cmd.due_date if cmd.due_date is None or cmd.due_date >= posted else posted
    moved = cmd.model_copy(update={"issue_date": posted, "due_date": due})
    return moved, moved_note(cmd.issue_date, name, lock, posted)


def _again(call: Call, commands: list[Doc]) -> Call:
    """``call`` under Idempotency-Keys of its own for what is sent again (the first keys
    would replay Xero's refusals), the same whenever the same changes are sent again."""
    changes = "|".join(
        f"{c.command_id}:{c.contact_id}:{c.issue_date}:{c.due_date}"
        for c in sorted(commands, key=lambda c: c.command_id)
    )
    suffix = hashlib.sha256(changes.encode()).hexdigest()[:16]

    async def again(*args: Any, idempotency_key: str | None = None, **kw: Any) -> dict[str, Any]:
        key = f"{idempotency_key}-again-{suffix}" if idempotency_key else None
        return await call(*args, idempotency_key=key, **kw)

    return again


def _with(result: XeroResult, note: str | None, contact_id: str | None) -> XeroResult:
    if result.type == "XeroCommandFailed":
        return result
    update: dict[str, Any] = {"message": join_notes(note, result.message)}
    if contact_id is not None:
        update["contact_id"] = contact_id
    return result.model_copy(update=update)


async def guarded(call: Call, commands: list[Doc], earlier: set[str], op: Op) -> list[XeroResult]:
    """Runs ``op(call, commands, earlier)`` behind the lock-date and archived-contact rules
    (this module's docstring)."""
    if not commands:
        return []
    tenant = commands[0].tenant_id
    notes: dict[str, str] = {}
    moved_to: dict[str, str] = {}
    # Lock dates are heard from Xero's refusal of the element, not read before every batch:
    # most organisations' documents are never locked, and that read would cost a call.
    answers = await op(call, commands, earlier)
    locks = LockDates()
    by_id = {c.command_id: c for c in commands}
    refused = [a for a in answers if a.type == "XeroCommandFailed" and a.command_id in by_id]
    gone = {
        by_id[a.command_id].contact_id for a in refused if archived.refused_as_archived(a.message)
    }
    survivor = await archived.survivors(call, gone) if gone else {}
    if any(refused_for_lock(a.message) for a in refused):
        locks = await lock_dates_of(call, tenant, fresh=True)
    again: list[Doc] = []
    kept: list[XeroResult] = []
    for answer in answers:
        sent = by_id.get(answer.command_id)
        if sent is None or answer.type != "XeroCommandFailed":
            kept.append(answer)
            continue
        cmd = sent
        changed = False
        if archived.refused_as_archived(answer.message):
            new = survivor.get(cmd.contact_id)
            if new is None or new == cmd.contact_id:
                kept.append(failed(cmd, archived.without_survivor(answer.message)))
                continue
            notes[cmd.command_id] = (
                join_notes(archived.merged_note(cmd.contact_id, new), notes.get(cmd.command_id))
                or ""
            )
            moved_to[cmd.command_id] = new
            cmd, changed = cmd.model_copy(update={"contact_id": new}), True
        if refused_for_lock(answer.message):
            placed, note = _locked(cmd, locks)
            if isinstance(placed, XeroResult):
                kept.append(placed)
                continue
            if placed is cmd:  # Xero names a lock date the organisation does not show
                kept.append(failed(cmd, f"{answer.message}: {LOCKED_FIX}"))
                continue
            notes[cmd.command_id] = join_notes(notes.get(cmd.command_id), note) or ""
            cmd, changed = placed, True
        if changed:
            again.append(cmd)
        else:
            kept.append(answer)
    if again:
        # Looked up first: an earlier run of this second attempt may have made them.
        kept += await op(_again(call, again), again, earlier | {c.command_id for c in again})
    return [_with(a, notes.get(a.command_id), moved_to.get(a.command_id)) for a in kept]
