"""The writer's look-ups, 4-decimal amounts, contact numbers and adoption, on the FakeXero
and on the sandbox (which follows Xero): what issue 11 relies on in Xero's answers."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from services.xero_writer import contact_ops, document_ops, payment_ops
from shared.contracts.commands import AnyCommand, BillLine
from shared.contracts.results import XeroResult
from shared.xero.errors import Unavailable
from tests.support.gateways import Gateway
from tests.support.hostile import HOSTILE_NUMBERS, HOSTILE_VENDORS
from tests.support.writer_commands import (
    create_bill,
    create_credit_note,
    create_payment,
    ensure_contact,
)

BATCH = {"summarizeErrors": "false"}
OPS: dict[str, Any] = {
    "EnsureContact": contact_ops.ensure_contacts,
    "CreateBill": document_ops.create_bills,
    "CreateCreditNote": document_ops.create_credit_notes,
    "CreatePayment": payment_ops.create_payments,
}


async def lost_then_again(gateway: Gateway, cmd: AnyCommand) -> XeroResult:
    """The write is applied and its answer lost; sent again past the idempotency window."""
    op = OPS[cmd.kind]
    gateway.drop_next_put()
    with pytest.raises(Unavailable):
        await op(gateway.call, [cmd], set())
    gateway.pass_idempotency_window()
    [result] = await op(gateway.call, [cmd], {cmd.command_id})
    return result  # type: ignore[no-any-return]


async def _all(gateway: Gateway, path: str, plural: str) -> list[dict[str, Any]]:
    answer = await gateway.call("GET", path, params={"page": "1", "pageSize": "1000"})
    return list(answer[plural])


async def test_ten_hostile_values_each_after_a_lost_answer_end_as_one_document(
    gateway: Gateway,
) -> None:
    for i, (name, number) in enumerate(zip(HOSTILE_VENDORS, HOSTILE_NUMBERS, strict=True)):
        contact = await lost_then_again(gateway, ensure_contact(name, tax_number=f"DK{i:08}"))
        assert contact.type == "XeroContactLinked", (name, contact)
        bill = create_bill(number, contact.xero_id or "").model_copy(
            update={"url": f"https://roger.example/companies/acme-dk/bills/b-{i}"}
        )
        created = await lost_then_again(gateway, bill)
        assert created.type == "XeroBillCreated", (number, created)
        paid = await lost_then_again(
            gateway, create_payment(created.xero_id or "", f"{number} pay", Decimal("40"))
        )
        assert paid.type == "XeroPaymentCreated", (number, paid)
        note = create_credit_note(number, contact.xero_id or "", Decimal("5"))
        credited = await lost_then_again(gateway, note)
        assert credited.type == "XeroCreditNoteCreated", (number, credited)

    contacts = await _all(gateway, "/Contacts", "Contacts")
    assert sorted(c["Name"] for c in contacts) == sorted(HOSTILE_VENDORS)
    bills = await _all(gateway, "/Invoices", "Invoices")
    assert sorted(b["InvoiceNumber"] for b in bills) == sorted(HOSTILE_NUMBERS)
    assert sorted(p["Reference"] for b in bills for p in b["Payments"]) == sorted(
        f"Roger payment {n} pay" for n in HOSTILE_NUMBERS
    )
    notes = await _all(gateway, "/CreditNotes", "CreditNotes")
    assert sorted(n["CreditNoteNumber"] for n in notes) == sorted(HOSTILE_NUMBERS)


async def test_unit_prices_keep_four_decimals_only_when_asked(gateway: Gateway) -> None:
    [contact] = (
        await gateway.call("PUT", "/Contacts", params=BATCH, body={"Contacts": [{"Name": "kWh"}]})
    )["Contacts"]
    line = {
        "Description": "Electricity 7000 kWh",
        "Quantity": Decimal("7000"),
        "UnitAmount": Decimal("0.1648"),
        "AccountCode": "429",
    }
    bill = {
        "Type": "ACCPAY",
        "Contact": {"ContactID": contact["ContactID"]},
        "Date": "2026-11-02",
        "DueDate": "2026-12-02",
        "LineAmountTypes": "NoTax",
        "Status": "AUTHORISED",
        "LineItems": [line],
    }

    [two] = (await gateway.call("PUT", "/Invoices", params=BATCH, body={"Invoices": [bill]}))[
        "Invoices"
    ]
    [four] = (
        await gateway.call(
            "PUT", "/Invoices", params={**BATCH, "unitdp": "4"}, body={"Invoices": [bill]}
        )
    )["Invoices"]
    read = await gateway.call("GET", f"/Invoices/{four['InvoiceID']}", params={"unitdp": "4"})

    assert _figures(two) == (Decimal("0.16"), Decimal("1120"))
    assert _figures(four) == (Decimal("0.1648"), Decimal("1153.6"))
    assert _figures(read["Invoices"][0]) == (Decimal("0.1648"), Decimal("1153.6"))


def _figures(invoice: dict[str, Any]) -> tuple[Decimal, Decimal]:
    unit = invoice["LineItems"][0]["UnitAmount"]
    return Decimal(str(unit)), Decimal(str(invoice["Total"]))


async def test_a_read_without_unitdp_shows_two_decimals(gateway: Gateway) -> None:
    """Xero rounds a unit price to 2 decimals on every read that does not ask for 4
    (spec, ``unitdp``), which is why the writer asks on reads too."""
    [contact] = (
        await gateway.call("PUT", "/Contacts", params=BATCH, body={"Contacts": [{"Name": "kWh"}]})
    )["Contacts"]
    bill = {
        "Type": "ACCPAY",
        "Contact": {"ContactID": contact["ContactID"]},
        "Date": "2026-11-02",
        "DueDate": "2026-12-02",
        "LineAmountTypes": "NoTax",
        "Status": "AUTHORISED",
        "LineItems": [
            {
                "Description": "Electricity 7000 kWh",
                "Quantity": Decimal("7000"),
                "UnitAmount": Decimal("0.1648"),
                "AccountCode": "429",
            }
        ],
    }
    [four] = (
        await gateway.call(
            "PUT", "/Invoices", params={**BATCH, "unitdp": "4"}, body={"Invoices": [bill]}
        )
    )["Invoices"]

    read = await gateway.call("GET", f"/Invoices/{four['InvoiceID']}")

    assert _figures(read["Invoices"][0]) == (Decimal("0.16"), Decimal("1153.6"))


async def test_the_writer_books_four_decimals_and_answers_no_warning(gateway: Gateway) -> None:
    [contact] = await contact_ops.ensure_contacts(
        gateway.call, [ensure_contact("Nordlys Energi A/S", tax_number="DK50505050")], set()
    )
    lines = (
        BillLine(
            description="Electricity 7000 kWh",
            quantity=Decimal("7000"),
            unit_amount=Decimal("0.1648"),
            account_code="429",
        ),
    )
    bill = create_bill("NE-2026-11", contact.xero_id or "").model_copy(update={"lines": lines})

    [created] = await document_ops.create_bills(gateway.call, [bill], set())
    [paid] = await payment_ops.create_payments(
        gateway.call, [create_payment(created.xero_id or "", "P-1", Decimal("1153.60"))], set()
    )

    assert (created.type, created.xero_total, created.message) == (
        "XeroBillCreated",
        Decimal("1153.6"),
        None,
    )
    assert paid.type == "XeroPaymentCreated"
    found = await gateway.call("GET", f"/Invoices/{created.xero_id}", params={"unitdp": "4"})
    assert found["Invoices"][0]["Status"] == "PAID"


async def test_contacts_we_create_carry_the_vendor_id_and_are_found_by_it(
    gateway: Gateway,
) -> None:
    vendor = ensure_contact("Alpha Print ApS", tax_number="DK11111111")
    [made] = await contact_ops.ensure_contacts(gateway.call, [vendor], set())
    await gateway.call(
        "POST",
        "/Contacts",
        params=BATCH,
        body={
            "Contacts": [{"ContactID": made.xero_id, "Name": "Alpha (renamed)", "TaxNumber": ""}]
        },
    )

    [again] = await contact_ops.ensure_contacts(gateway.call, [vendor], {vendor.command_id})

    listed = await _all(gateway, "/Contacts", "Contacts")
    assert [(c["ContactID"], c.get("ContactNumber")) for c in listed] == [
        (made.xero_id, vendor.vendor.id)
    ]
    assert again.xero_id == made.xero_id


async def test_a_bill_keyed_by_hand_is_adopted_and_a_near_miss_is_not(gateway: Gateway) -> None:
    [contact] = await contact_ops.ensure_contacts(
        gateway.call, [ensure_contact("Typed Supplier ApS")], set()
    )
    contact_id = contact.xero_id or ""

    def typed(number: str, amount: str) -> dict[str, Any]:
        return {
            "Type": "ACCPAY",
            "Contact": {"ContactID": contact_id},
            "InvoiceNumber": number,
            "Date": "2026-03-01",
            "DueDate": "2026-03-31",
            "LineAmountTypes": "NoTax",
            "Status": "AUTHORISED",
            "LineItems": [
                {
                    "Description": "Typed",
                    "Quantity": Decimal("1"),
                    "UnitAmount": Decimal(amount),
                    "AccountCode": "429",
                }
            ],
        }

    # The accountant keys two bills by hand, as any other tool would: no Url of ours.
    [twin, near] = (
        await gateway.call(
            "PUT",
            "/Invoices",
            params=BATCH,
            body={"Invoices": [typed("INV-1234", "100.00"), typed("INV-555", "99.00")]},
        )
    )["Invoices"]

    adopted, created = await document_ops.create_bills(
        gateway.call,
        [create_bill("1234", contact_id), create_bill("555", contact_id)],
        set(),
    )

    assert adopted.xero_id == twin["InvoiceID"]
    assert adopted.message is not None and "adopted" in adopted.message
    assert created.xero_id not in (twin["InvoiceID"], near["InvoiceID"])
    assert created.message is not None and near["InvoiceID"] in created.message
    bills = await _all(gateway, "/Invoices", "Invoices")
    assert len(bills) == 3
