"""One batch of one company's commands, all of one kind, carried out in Xero.

Exactly-once in Xero rests on three things: an Idempotency-Key derived from
the commands (a retried call replays), a record of every attempt (a command
tried before is looked up before it is sent again), and Xero-side markers the
look-ups can find (a bill's Url, a credit note's or payment's Reference).
Kinds Xero takes in batches go in one call; the others go one call each.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from services.xero_writer import (
    approval,
    attachment_ops,
    contact_ops,
    document_ops,
    lock_dates,
    payment_ops,
)
from services.xero_writer.outcomes import Call, failed
from shared.contracts.commands import AnyCommand
from shared.contracts.results import XeroResult
from shared.xero.client import Refused

BatchOp = Callable[[Call, Any, set[str]], Awaitable[list[XeroResult]]]
SingleOp = Callable[[Call, Any, bool], Awaitable[XeroResult]]

BATCHED: dict[str, BatchOp] = {
    "EnsureContact": contact_ops.ensure_contacts,
    "UpdateContact": contact_ops.update_contacts,
    "CreateBill": document_ops.create_bills,
    "CreateCreditNote": document_ops.create_credit_notes,
    "CreatePayment": payment_ops.create_payments,
}
SINGLE: dict[str, SingleOp] = {
    "UpdateBill": document_ops.update_bill,
    "VoidBill": document_ops.void_bill,
    "DeletePayment": payment_ops.delete_payment,
    "AllocateCreditNote": payment_ops.allocate_credit_note,
    "DeleteAllocation": payment_ops.delete_allocation,
    "UploadAttachment": attachment_ops.upload_attachment,
}


def batchable(kind: str) -> bool:
    return kind in BATCHED


async def execute(call: Call, commands: list[AnyCommand], earlier: set[str]) -> list[XeroResult]:
    """Runs one batch; a lone command that Xero refuses whole fails with Xero's message.

    A batch that Xero refuses whole raises ``Refused``: the caller splits it to find the
    culprit.
    """
    kind = commands[0].kind
    if kind not in BATCHED:
        answers = [await _single(call, cmd, cmd.command_id in earlier) for cmd in commands]
    else:
        try:
            answers = await BATCHED[kind](call, commands, earlier)
        except Refused as exc:
            if len(commands) != 1:
                raise
            answers = [failed(commands[0], exc.message)]
    # A payment or allocation refused because a document awaits approval, or anything that
    # posts refused for a lock date, says how to fix it.
    return [lock_dates.explained(kind, approval.explained(kind, a)) for a in answers]


async def _single(call: Call, cmd: AnyCommand, earlier: bool) -> XeroResult:
    try:
        return await SINGLE[cmd.kind](call, cmd, earlier)
    except Refused as exc:
        return failed(cmd, exc.message)
