"""Bills (ACCPAY invoices) and vendor credit notes (ACCPAYCREDIT): create, update, void.

A bill is recognised in Xero by its ``Url`` and a credit note by its ``Reference``, both
unique per Roger document. Look-ups never put our values (numbers, names: any characters,
commas and quotes included) in a filter: they ask for what we control (the contact's id,
the document type), read every page, and match ``Url``/``Reference`` here, so they find
what an attempt made however long ago it was (Xero's idempotency window is 6 minutes).

Before a bill is created, the contact's bills are read anyway: one the accountant keyed in
Xero (same contact, same supplier number once normalised, same total and currency, no Url
of ours) is adopted with a note instead of being created twice; a near miss is named in a
warning and not adopted (``adoption.py``).

Every call on bills and credit notes carries ``unitdp=4``: without it Xero keeps 2 decimals
of a unit price (0.1648 becomes 0.16). Xero's figures are checked to the cent against
Roger's lines (the total before tax when tax is on top) and against Roger's own total (tax
included, ``total`` of the command); a difference is a warning naming both amounts.

A document whose lines name tracking the organisation does not have is not sent: it fails
with a reason naming the category and option (``tracking.py``).
"""

from __future__ import annotations

from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from services.xero_writer import org_facts
from services.xero_writer.adoption import adopt, expected_figure, normalise_number, ours
from services.xero_writer.bill_index import UNITDP, all_pages
from services.xero_writer.document_guards import guarded
from services.xero_writer.outcomes import Call, batch_key, failed, join_notes, money, result
from services.xero_writer.tracking import explain_refusal, untracked
from shared.contracts.commands import CreateBill, CreateCreditNote, UpdateBill, VoidBill
from shared.contracts.results import XeroResult
from shared.xero.client import Refused, validation_messages

GONE = ("DELETED", "VOIDED")
# Xero's opt-in to 4-decimal unit amounts and quantities (spec parameter ``unitdp``).
CENT = Decimal("0.01")

Document = CreateBill | UpdateBill | CreateCreditNote


def _lines(cmd: Document) -> list[dict[str, Any]]:
    return [
        {
            "Description": line.description,
            "Quantity": line.quantity,
            "UnitAmount": line.unit_amount,
            "AccountCode": line.account_code,
            **({"TaxType": line.tax_type} if line.tax_type else {}),
            **(
                {"Tracking": [{"Name": t.name, "Option": t.option} for t in line.tracking]}
                if line.tracking
                else {}
            ),
        }
        for line in cmd.lines
    ]


def _status(cmd: Document) -> dict[str, str]:
    """The ``Status`` a document is sent with: a new one gets the connection's choice
    (``bill_status``: DRAFT, SUBMITTED or AUTHORISED). An update under a DRAFT or SUBMITTED
    choice sends none, so Xero keeps the status the bill has there (an accountant may have
    approved it meanwhile, and Xero never takes an AUTHORISED bill back to DRAFT)."""
    if isinstance(cmd, UpdateBill) and cmd.bill_status != "AUTHORISED":
        return {}
    return {"Status": cmd.bill_status}


def bill_payload(cmd: CreateBill | UpdateBill) -> dict[str, Any]:
    return {
        "Type": "ACCPAY",
        "Contact": {"ContactID": cmd.contact_id},
        "InvoiceNumber": cmd.number,
        "Date": cmd.issue_date.isoformat(),
        "DueDate": (cmd.due_date or cmd.issue_date).isoformat(),
        "CurrencyCode": cmd.currency,
        "LineAmountTypes": cmd.line_amount_types,
        **_status(cmd),
        "Url": cmd.url,
        "LineItems": _lines(cmd),
    }


def credit_note_reference(cmd: CreateCreditNote) -> str:
    return f"Roger credit note {cmd.document_id}"


def credit_note_payload(cmd: CreateCreditNote) -> dict[str, Any]:
    return {
        "Type": "ACCPAYCREDIT",
        "Contact": {"ContactID": cmd.contact_id},
        "CreditNoteNumber": cmd.number,
        "Reference": credit_note_reference(cmd),
        "Date": cmd.issue_date.isoformat(),
        "CurrencyCode": cmd.currency,
        "LineAmountTypes": cmd.line_amount_types,
        **_status(cmd),
        "LineItems": _lines(cmd),
    }


def total_check(cmd: Document, element: dict[str, Any]) -> str | None:
    """A warning naming both figures when Xero's differs from Roger's by a cent or more:
    the figure Roger's lines fix (``expected_figure``), then Xero's ``Total`` against
    Roger's document total (``cmd.total``; with tax on top, Xero's tax is in it). None
    when both agree (or Xero's answer has no such figure)."""
    notes: list[str] = []
    field, wanted = expected_figure(cmd)
    got = money(element.get(field))
    if got is not None and got != wanted:
        label = "total" if field == "Total" else "total before tax"
        notes.append(
            f"Xero's {label} {got:.2f} {cmd.currency} differs from Roger's {wanted:.2f} "
            f"{cmd.currency}"
        )
    total = money(element.get("Total"))
    if cmd.total is not None and total is not None:
        roger = cmd.total.quantize(CENT, ROUND_HALF_UP)
        said = field == "Total" and got is not None and got != wanted and wanted == roger
        if total.quantize(CENT, ROUND_HALF_UP) != roger and not said:
            # The projector's wording of this check, kept: the read API shows it as it was.
            notes.append(f"Xero's total {total:.2f} differs from Roger's total {roger:.2f}")
    return join_notes(*notes)


def _refused(element: dict[str, Any], id_field: str) -> bool:
    """Whether Xero refused this element of a batch (its messages, its status, no id)."""
    return bool(
        validation_messages(element)
        or element.get("StatusAttributeString") == "ERROR"
        or not element.get(id_field)
    )


def _answered(
    cmd: Document,
    element: dict[str, Any],
    type_: str,
    id_field: str,
    number_field: str,
    note: str | None = None,
) -> XeroResult:
    if _refused(element, id_field):
        messages = explain_refusal(cmd, validation_messages(element))
        return failed(cmd, "; ".join(messages) or "Xero refused the document")
    return result(
        cmd,
        type_,
        xero_id=element[id_field],
        xero_number=element.get(number_field),
        xero_total=money(element.get("Total")),
        xero_status=element.get("Status"),
        message=join_notes(note, total_check(cmd, element)),
    )


async def contact_bills(
    call: Call, tenant_id: str, contact_ids: set[str], *, recheck: bool
) -> list[dict[str, Any]]:
    """Every ACCPAY bill, any status, of these contacts (Xero ids: nothing of ours in the
    filter), from the lane's index of the organisation's bills (``bill_index.py``); without
    ``recheck``, a person's changes of the last ``bill_index.FRESH_S`` may be missing."""
    return await org_facts.facts().bills(call, tenant_id, contact_ids, recheck=recheck)


async def create_bills(
    call: Call, commands: list[CreateBill], earlier: set[str]
) -> list[XeroResult]:
    """``_create_bills`` behind the lock-date and archived-contact rules (document_guards)."""
    return await guarded(call, list(commands), earlier, _create_bills)


async def _create_bills(
    call: Call, commands: list[CreateBill], earlier: set[str]
) -> list[XeroResult]:
    """Looks first, always: for a bill an attempt made (by ``Url``) and for one the
    accountant keyed by hand (adopted); creates the rest in one call. The look is Xero's
    books now when a command was tried before or is to be made again after a void (its
    answer may be there), else as of at most ``bill_index.FRESH_S`` ago."""
    tenant_id = commands[0].tenant_id
    recheck = any(c.command_id in earlier or c.remake_gone for c in commands)
    every = await contact_bills(call, tenant_id, {c.contact_id for c in commands}, recheck=recheck)
    # A bill of ours found VOIDED was made, then voided at Roger's request (the projector
    # voids only deleted bills): done, then undone, never made again (issue 10). A live bill
    # wins over a gone one of the same Url (a bill voided in Xero, then made again).
    by_url = {b["Url"]: b for b in every if b.get("Url") and b.get("Status") in GONE}
    by_url |= {b["Url"]: b for b in every if b.get("Url") and b.get("Status") not in GONE}
    # The live bills by (contact, supplier number once normalised), the only ones ``adopt``
    # can take: a look per command, not a scan of the contact's whole history per command
    # (issue 14: the scan was half of the writer's time during a month-end backlog).
    candidates: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for b in every:
        if b.get("Status") not in GONE:
            contact = (b.get("Contact") or {}).get("ContactID") or ""
            candidates[contact, normalise_number(b.get("InvoiceNumber"))].append(b)
    results: list[XeroResult] = []
    todo: list[CreateBill] = []
    notes: dict[str, str] = {}
    taken: set[str] = set()
    for cmd in commands:
        found = by_url.get(cmd.url)
        if found is not None and cmd.remake_gone and found.get("Status") in GONE:
            # Voided or deleted in Xero by a person, and asked for again: made anew.
            found = None
        if found is not None:
            results.append(_answered(cmd, found, "XeroBillCreated", "InvoiceID", "InvoiceNumber"))
            continue
        free = [
            b
            for b in candidates.get((cmd.contact_id, normalise_number(cmd.number)), [])
            if not ours(b, cmd) and b.get("InvoiceID") not in taken
        ]
        adopted, note = adopt(cmd, free)
        if adopted is not None:
            taken.add(adopted["InvoiceID"])
            results.append(
                _answered(cmd, adopted, "XeroBillCreated", "InvoiceID", "InvoiceNumber", note)
            )
            continue
        if note:
            notes[cmd.command_id] = note
        todo.append(cmd)
    refused = await untracked(call, todo)
    results += [failed(c, refused[c.command_id]) for c in todo if c.command_id in refused]
    todo = [c for c in todo if c.command_id not in refused]
    if not todo:
        return results
    answer = await call(
        "PUT",
        "/Invoices",
        params={"summarizeErrors": "false", **UNITDP},
        body={"Invoices": [bill_payload(c) for c in todo]},
        idempotency_key=batch_key(todo, "bills"),
    )
    made = [b for b in answer.get("Invoices") or [] if not _refused(b, "InvoiceID")]
    org_facts.facts().bills_written(tenant_id, made)
    return results + [
        _answered(
            cmd,
            element,
            "XeroBillCreated",
            "InvoiceID",
            "InvoiceNumber",
            notes.get(cmd.command_id),
        )
        for cmd, element in zip(todo, answer.get("Invoices") or [], strict=False)
    ]


def _contact_filter(contact_ids: set[str]) -> str:
    """Xero ids only (GUIDs): no value of Roger's is ever quoted in a ``where``."""
    either = " OR ".join(f'Contact.ContactID==GUID("{i}")' for i in sorted(contact_ids))
    return f'Type=="ACCPAYCREDIT" AND ({either})'


async def create_credit_notes(
    call: Call, commands: list[CreateCreditNote], earlier: set[str]
) -> list[XeroResult]:
    """``_create_credit_notes`` behind the lock-date and archived-contact rules."""
    return await guarded(call, list(commands), earlier, _create_credit_notes)


async def _create_credit_notes(
    call: Call, commands: list[CreateCreditNote], earlier: set[str]
) -> list[XeroResult]:
    results: list[XeroResult] = []
    todo = commands
    if earlier & {c.command_id for c in commands}:
        notes, _ = await all_pages(
            call,
            "/CreditNotes",
            "CreditNotes",
            {"where": _contact_filter({c.contact_id for c in commands})},
        )
        found = {
            cn.get("Reference"): cn
            for cn in notes
            if cn.get("Status") not in GONE and cn.get("Type", "ACCPAYCREDIT") == "ACCPAYCREDIT"
        }
        results += [
            _answered(
                c,
                found[credit_note_reference(c)],
                "XeroCreditNoteCreated",
                "CreditNoteID",
                "CreditNoteNumber",
            )
            for c in commands
            if credit_note_reference(c) in found
        ]
        todo = [c for c in commands if credit_note_reference(c) not in found]
    refused = await untracked(call, todo)
    results += [failed(c, refused[c.command_id]) for c in todo if c.command_id in refused]
    todo = [c for c in todo if c.command_id not in refused]
    if not todo:
        return results
    answer = await call(
        "PUT",
        "/CreditNotes",
        params={"summarizeErrors": "false", **UNITDP},
        body={"CreditNotes": [credit_note_payload(c) for c in todo]},
        idempotency_key=batch_key(todo, "credit-notes"),
    )
    return results + [
        _answered(cmd, element, "XeroCreditNoteCreated", "CreditNoteID", "CreditNoteNumber")
        for cmd, element in zip(todo, answer.get("CreditNotes") or [], strict=False)
    ]


async def update_bill(call: Call, cmd: UpdateBill, earlier: bool) -> XeroResult:
    """``_update_bill`` behind the lock-date and archived-contact rules."""

    async def one(call: Call, commands: list[UpdateBill], tried: set[str]) -> list[XeroResult]:
        answers = []
        for c in commands:
            try:
                answers.append(await _update_bill(call, c, c.command_id in tried))
            except Refused as exc:  # refused whole: its words decide as an element's would
                answers.append(failed(c, exc.message))
        return answers

    [answer] = await guarded(call, [cmd], {cmd.command_id} if earlier else set(), one)
    return answer


async def _update_bill(call: Call, cmd: UpdateBill, _earlier: bool) -> XeroResult:
    """Sending the same version twice changes nothing: no look-up needed."""
    refused = await untracked(call, [cmd])
    if refused:
        return failed(cmd, refused[cmd.command_id])
    answer = await call(
        "POST",
        f"/Invoices/{cmd.invoice_id}",
        params={"summarizeErrors": "false", **UNITDP},
        body={"Invoices": [{"InvoiceID": cmd.invoice_id, **bill_payload(cmd)}]},
        idempotency_key=f"rx-{cmd.command_id}",
    )
    [element] = answer.get("Invoices") or [{}]
    return _answered(cmd, element, "XeroBillUpdated", "InvoiceID", "InvoiceNumber")


async def void_bill(call: Call, cmd: VoidBill, earlier: bool) -> XeroResult:
    if earlier:
        answer = await call("GET", f"/Invoices/{cmd.invoice_id}", params=dict(UNITDP))
        [invoice] = answer.get("Invoices") or [{}]
        if invoice.get("Status") in GONE:
            return result(
                cmd, "XeroBillVoided", xero_id=cmd.invoice_id, xero_status=invoice["Status"]
            )
    try:
        answer = await call(
            "POST",
            f"/Invoices/{cmd.invoice_id}",
            params=dict(UNITDP),
            body={"Invoices": [{"InvoiceID": cmd.invoice_id, "Status": "VOIDED"}]},
            idempotency_key=f"rx-{cmd.command_id}",
        )
    except Refused as exc:  # refused whole: its words decide as an element's would
        answer = {"Invoices": [{"ValidationErrors": [{"Message": exc.message}]}]}
    [element] = answer.get("Invoices") or [{}]
    messages = validation_messages(element)
    if messages:
        deleted = await _delete_unapproved(call, cmd)
        return deleted or failed(cmd, "; ".join(messages))
    return result(cmd, "XeroBillVoided", xero_id=cmd.invoice_id, xero_status=element.get("Status"))


async def _delete_unapproved(call: Call, cmd: VoidBill) -> XeroResult | None:
    """Xero voids AUTHORISED bills only; a DRAFT or SUBMITTED one (the connection's
    ``bill_status``) is DELETED instead (xero-facts.md: "DELETED only from DRAFT/SUBMITTED").
    None when the bill is in neither status (the refusal stands)."""
    answer = await call("GET", f"/Invoices/{cmd.invoice_id}", params=dict(UNITDP))
    [invoice] = answer.get("Invoices") or [{}]
    if invoice.get("Status") not in ("DRAFT", "SUBMITTED"):
        return None
    answer = await call(
        "POST",
        f"/Invoices/{cmd.invoice_id}",
        params=dict(UNITDP),
        body={"Invoices": [{"InvoiceID": cmd.invoice_id, "Status": "DELETED"}]},
        idempotency_key=f"rx-{cmd.command_id}-delete",
    )
    [element] = answer.get("Invoices") or [{}]
    messages = validation_messages(element)
    if messages:
        return failed(cmd, "; ".join(messages))
    return result(cmd, "XeroBillVoided", xero_id=cmd.invoice_id, xero_status=element.get("Status"))
