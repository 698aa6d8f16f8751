"""Payments on bills and credit-note allocations, each recognisable after a lost answer.

A payment carries a ``Reference`` unique per Roger payment; an allocation is
unique per (credit note, bill). Both are looked up before an attempted command
is sent again: the bills by their Xero ids (every page), the payment matched here by its
Reference among the bill's payments, so no character of ours is ever in a filter.

An allocation is taken off again by its AllocationID (``DELETE /CreditNotes/{id}/
Allocations/{AllocationID}``, xero-facts.md): Xero keeps it marked ``IsDeleted`` and gives
the credit back to the credit note. Replayed, the allocating command is answered from the
writer's record (``attempts.py``: done, then undone), never sent again.

A payment in a currency other than the organisation's base currency is sent without
``CurrencyRate`` (Roger's events carry no rate), so Xero books it at its own day rate; the
rate Xero used is read from its answer and shown on the document as Xero's
(``currency_rate``, ``currency_rate_source``). The base currency is read once per
organisation (``org_facts.py``).

A zero-total bill takes no payment: Xero settles it (PAID) when it is approved and refuses
any payment on it, so the writer answers such a command without a call.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from services.xero_writer import org_facts
from services.xero_writer.outcomes import Call, batch_key, failed, money, result
from shared.contracts.commands import (
    AllocateCreditNote,
    CreatePayment,
    DeleteAllocation,
    DeletePayment,
)
from shared.contracts.results import XeroResult
from shared.xero.client import validation_messages

SETTLED = "nothing to pay: Xero settled the zero-total bill itself when it was approved"


async def _invoices(call: Call, ids: set[str]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    page = 1
    while ids:
        answer = await call(
            "GET",
            "/Invoices",
            params={"IDs": ",".join(sorted(ids)), "page": str(page), "unitdp": "4"},
        )
        batch = answer.get("Invoices") or []
        found |= {inv["InvoiceID"]: inv for inv in batch}
        pagination = answer.get("pagination") or {}
        if not batch or page >= int(pagination.get("pageCount", page)):
            break
        page += 1
    return found


def _settled(cmd: CreatePayment) -> XeroResult:
    return result(cmd, "XeroPaymentCreated", amount=Decimal("0"), message=SETTLED)


async def _rates(
    call: Call, commands: list[CreatePayment], made: list[dict[str, Any]]
) -> dict[str, tuple[Decimal | None, str | None]]:
    """Command id -> (Xero's CurrencyRate, "xero") for payments in a foreign currency;
    (None, None) in the base currency. ``made``: Xero's payment of each command, in order."""
    if not commands:
        return {}
    base = await org_facts.facts().base_currency(call, commands[0].tenant_id)
    rates: dict[str, tuple[Decimal | None, str | None]] = {}
    for cmd, payment in zip(commands, made, strict=True):
        rate = money(payment.get("CurrencyRate"))
        foreign = base is not None and cmd.currency.upper() != base.upper()
        rates[cmd.command_id] = (rate, "xero") if foreign and rate is not None else (None, None)
    return rates


def _made(cmd: CreatePayment, payment: dict[str, Any], rate: tuple[Any, Any]) -> XeroResult:
    return result(
        cmd,
        "XeroPaymentCreated",
        xero_id=payment["PaymentID"],
        amount=money(payment.get("Amount")),
        xero_status=payment.get("Status"),
        currency_rate=rate[0],
        currency_rate_source=rate[1],
    )


def _payment_body(cmd: CreatePayment, amount: Decimal) -> dict[str, Any]:
    return {
        "Invoice": {"InvoiceID": cmd.invoice_id},
        "Account": {"Code": cmd.account_code},
        "Date": cmd.paid_on.isoformat(),
        "Amount": amount,
        "Reference": cmd.reference,
    }


async def create_payments(
    call: Call, commands: list[CreatePayment], earlier: set[str]
) -> list[XeroResult]:
    results = [_settled(c) for c in commands if c.amount is not None and c.amount == 0]
    todo = [c for c in commands if c.amount is None or c.amount != 0]
    commands = todo
    retried = earlier & {c.command_id for c in commands}
    # "Pay in full" (receipts) needs the amount due; a retry needs the payments already made.
    need = {c.invoice_id for c in commands if c.amount is None or c.command_id in retried}
    invoices = await _invoices(call, need)
    if retried:
        made = {
            p["Reference"]: p
            for inv in invoices.values()
            for p in inv.get("Payments") or []
            if p.get("Reference") and p.get("Status", "AUTHORISED") != "DELETED"
        }
        found = [c for c in commands if c.reference in made]
        rates = await _rates(call, found, [made[c.reference] for c in found])
        results += [_made(c, made[c.reference], rates[c.command_id]) for c in found]
        todo = [c for c in commands if c.reference not in made]
    payable: list[tuple[CreatePayment, Decimal]] = []
    for cmd in todo:
        amount = cmd.amount
        if amount is None:
            invoice = invoices.get(cmd.invoice_id, {})
            if money(invoice.get("Total")) == 0:
                results.append(_settled(cmd))
                continue
            amount = money(invoice.get("AmountDue")) or Decimal("0")
        payable.append((cmd, amount))
    if not payable:
        return results
    answer = await call(
        "PUT",
        "/Payments",
        params={"summarizeErrors": "false"},
        body={"Payments": [_payment_body(c, a) for c, a in payable]},
        idempotency_key=batch_key([c for c, _ in payable], "payments"),
    )
    answered = list(zip([c for c, _ in payable], answer.get("Payments") or [], strict=False))
    good = [
        (cmd, element)
        for cmd, element in answered
        if not validation_messages(element)
        and element.get("StatusAttributeString") != "ERROR"
        and element.get("PaymentID")
    ]
    rates = await _rates(call, [c for c, _ in good], [e for _, e in good])
    for cmd, element in answered:
        if cmd.command_id in rates:
            results.append(_made(cmd, element, rates[cmd.command_id]))
        else:
            messages = validation_messages(element)
            results.append(failed(cmd, "; ".join(messages) or "Xero refused the payment"))
    return results


async def delete_payment(call: Call, cmd: DeletePayment, earlier: bool) -> XeroResult:
    if earlier:
        answer = await call("GET", f"/Payments/{cmd.xero_payment_id}")
        [payment] = answer.get("Payments") or [{}]
        if payment.get("Status") == "DELETED":
            return result(cmd, "XeroPaymentDeleted", xero_id=cmd.xero_payment_id)
    answer = await call(
        "POST",
        f"/Payments/{cmd.xero_payment_id}",
        body={"Status": "DELETED"},
        idempotency_key=f"rx-{cmd.command_id}",
    )
    [element] = answer.get("Payments") or [{}]
    messages = validation_messages(element)
    if messages:
        return failed(cmd, "; ".join(messages))
    return result(cmd, "XeroPaymentDeleted", xero_id=cmd.xero_payment_id)


async def allocate_credit_note(call: Call, cmd: AllocateCreditNote, earlier: bool) -> XeroResult:
    answer = await call("GET", f"/CreditNotes/{cmd.credit_note_id}", params={"unitdp": "4"})
    [credit_note] = answer.get("CreditNotes") or [{}]
    for allocation in credit_note.get("Allocations") or []:
        if allocation.get("IsDeleted"):
            continue  # taken off before: this bill may be credited again
        if (allocation.get("Invoice") or {}).get("InvoiceID") == cmd.invoice_id:
            return result(
                cmd,
                "XeroCreditNoteAllocated",
                xero_id=allocation.get("AllocationID"),
                amount=money(allocation.get("Amount")),
            )
    invoices = await _invoices(call, {cmd.invoice_id})
    due = money(invoices.get(cmd.invoice_id, {}).get("AmountDue")) or Decimal("0")
    remaining = money(credit_note.get("RemainingCredit"))
    remaining = cmd.amount if remaining is None else remaining
    amount = min(cmd.amount, remaining, due)
    if amount <= 0:
        return result(
            cmd,
            "XeroCreditNoteAllocated",
            xero_id=cmd.credit_note_id,
            amount=Decimal("0"),
            message=f"nothing is due on the bill: the credit of {remaining} stays open in Xero",
        )
    answer = await call(
        "PUT",
        f"/CreditNotes/{cmd.credit_note_id}/Allocations",
        body={
            "Allocations": [
                {
                    "Invoice": {"InvoiceID": cmd.invoice_id},
                    "Amount": amount,
                    "Date": cmd.allocated_on.isoformat(),
                }
            ]
        },
        idempotency_key=f"rx-{cmd.command_id}",
    )
    [element] = answer.get("Allocations") or [{}]
    messages = validation_messages(element)
    if messages:
        return failed(cmd, "; ".join(messages))
    if not element.get("AllocationID"):
        return failed(cmd, "Xero answered the allocation without an AllocationID")
    warning = None
    if amount < cmd.amount:
        warning = (
            f"allocated {amount} of {cmd.amount}: the bill had only {due} due; "
            f"{remaining - amount} stays an open credit in Xero"
        )
    return result(
        cmd,
        "XeroCreditNoteAllocated",
        xero_id=element["AllocationID"],
        amount=amount,
        message=warning,
    )


async def delete_allocation(call: Call, cmd: DeleteAllocation, _earlier: bool) -> XeroResult:
    """Takes the allocation off; one no longer on the credit note (an earlier attempt
    landed, or someone took it off in Xero) is done without another call.

    The credit note is read first, always (a removal is rare): the allocation is found by
    its id, else as the live one to ``cmd.invoice_id`` (answers recorded before the writer
    gave the AllocationID named the credit note instead).
    """
    answer = await call("GET", f"/CreditNotes/{cmd.credit_note_id}", params={"unitdp": "4"})
    [credit_note] = answer.get("CreditNotes") or [{}]
    live = [a for a in credit_note.get("Allocations") or [] if not a.get("IsDeleted")]
    found = [a for a in live if a.get("AllocationID") == cmd.allocation_id] or [
        a for a in live if (a.get("Invoice") or {}).get("InvoiceID") == cmd.invoice_id
    ]
    if not found:
        return result(cmd, "XeroAllocationDeleted", xero_id=cmd.allocation_id)
    allocation_id = found[0]["AllocationID"]
    answer = await call(
        "DELETE",
        f"/CreditNotes/{cmd.credit_note_id}/Allocations/{allocation_id}",
        idempotency_key=f"rx-{cmd.command_id}",
    )
    messages = validation_messages(answer)
    if messages:
        return failed(cmd, "; ".join(messages))
    return result(cmd, "XeroAllocationDeleted", xero_id=allocation_id)
