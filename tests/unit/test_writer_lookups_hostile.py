"""Look-ups after a lost answer find what Xero holds, whatever the characters in our values
and however long after the call (past Xero's 6-minute idempotency window): one each."""

from __future__ import annotations

from decimal import Decimal

from shared.contracts.commands import AnyCommand, EnsureContact
from shared.contracts.results import XeroResult
from tests.support.fake_xero import WriterHarness, writer_on
from tests.support.hostile import HOSTILE_NUMBERS, HOSTILE_VENDORS
from tests.support.writer_commands import (
    create_bill,
    create_credit_note,
    create_payment,
    ensure_contact,
)

FIXED_FILTERS = {'Type=="ACCPAY"'}


async def lost_then_again(w: WriterHarness, cmd: AnyCommand) -> XeroResult:
    """Xero applies the write and its answer is lost; the command goes again past Xero's
    idempotency window (each backoff of the harness stands for 10 minutes)."""
    w.xero.fail_next("drop", method="PUT")
    puts = len([c for c in w.xero.calls if c.method == "PUT"])
    [result] = (await w.run(cmd)).values()
    assert not w.xero.faults  # the answer was lost
    assert len([c for c in w.xero.calls if c.method == "PUT"]) == puts + 1  # sent once
    return result


def _vendor(name: str, tax: str) -> EnsureContact:
    return ensure_contact(name, tax_number=tax)


async def test_ten_hostile_vendors_and_numbers_each_end_as_exactly_one_document() -> None:
    w = writer_on(time_passes=600)
    for i, (name, number) in enumerate(zip(HOSTILE_VENDORS, HOSTILE_NUMBERS, strict=True)):
        contact = await lost_then_again(w, _vendor(name, f"DK{10_000_000 + i}"))
        assert contact.type == "XeroContactLinked", (name, contact)
        bill = create_bill(number, contact.xero_id or "").model_copy(
            update={"url": f"https://roger.example/companies/acme-dk/bills/b-{i}"}
        )
        created = await lost_then_again(w, bill)
        assert created.type == "XeroBillCreated", (number, created)
        payment = create_payment(created.xero_id or "", f"{number} pay", Decimal("40"))
        paid = await lost_then_again(w, payment)
        assert paid.type == "XeroPaymentCreated", (number, paid)
        note = create_credit_note(number, contact.xero_id or "", Decimal("5"))
        credited = await lost_then_again(w, note)
        assert credited.type == "XeroCreditNoteCreated", (number, credited)

    assert sorted(c["Name"] for c in w.xero.contacts.values()) == sorted(HOSTILE_VENDORS)
    assert sorted(i["InvoiceNumber"] for i in w.xero.invoices.values()) == sorted(HOSTILE_NUMBERS)
    assert sorted(p["Reference"] for p in w.xero.payments.values()) == sorted(
        f"Roger payment {n} pay" for n in HOSTILE_NUMBERS
    )
    assert sorted(c["CreditNoteNumber"] for c in w.xero.credit_notes.values()) == sorted(
        HOSTILE_NUMBERS
    )
    # Never a value of ours in a filter: only Xero ids and our fixed expressions.
    for call in w.xero.calls:
        if call.method == "GET":
            values = [v for v in call.params.values() if v not in FIXED_FILTERS]
            assert not any(n in v for n in HOSTILE_NUMBERS for v in values), call.params


async def test_a_credit_note_is_found_beyond_the_first_page() -> None:
    w = writer_on(time_passes=600)
    [contact] = (await w.run(ensure_contact("Many Credits ApS"))).values()
    contact_id = contact.xero_id or ""
    earlier = [
        {
            "Type": "ACCPAYCREDIT",
            "Contact": {"ContactID": contact_id},
            "CreditNoteNumber": f"OLD-{i}",
            "Reference": f"Roger credit note OLD-{i}",
            "Status": "AUTHORISED",
            "LineItems": [{"Quantity": 1, "UnitAmount": 1, "AccountCode": "429"}],
        }
        for i in range(1_050)
    ]
    await w.xero.call("PUT", "/CreditNotes", body={"CreditNotes": earlier})

    note = await lost_then_again(w, create_credit_note("CN-NEW", contact_id, Decimal("25")))

    assert note.type == "XeroCreditNoteCreated"
    assert len(w.xero.credit_notes) == 1_051
    pages = {c.params.get("page") for c in w.xero.calls_to("GET", "/CreditNotes")}
    assert "2" in pages
