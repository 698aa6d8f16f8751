"""Amounts as Roger has them: 4-decimal unit prices, totals to the cent, nothing to pay."""

from __future__ import annotations

from decimal import Decimal

from services.xero_writer.document_ops import total_check
from shared.contracts.commands import BillLine
from tests.support.fake_xero import FakeXero, writer_on
from tests.support.writer_commands import create_bill, create_credit_note, create_payment

ELECTRICITY = (
    BillLine(
        description="Electricity 7000 kWh",
        quantity=Decimal("7000"),
        unit_amount=Decimal("0.1648"),
        account_code="429",
    ),
)


def _contact(xero: FakeXero) -> str:
    xero.contacts["c-1"] = {
        "ContactID": "c-1",
        "Name": "Nordlys Energi A/S",
        "ContactStatus": "ACTIVE",
    }
    return "c-1"


async def test_a_four_decimal_unit_price_is_booked_as_roger_has_it_and_paid_in_full() -> None:
    w = writer_on()
    bill = create_bill("NE-2026-11", _contact(w.xero)).model_copy(update={"lines": ELECTRICITY})

    [created] = (await w.run(bill)).values()
    [paid] = (
        await w.run(create_payment(created.xero_id or "", "P-1", Decimal("1153.60")))
    ).values()

    assert created.type == "XeroBillCreated"
    assert created.xero_total == Decimal("1153.60")
    assert created.message is None  # no warning: Xero's total is Roger's
    invoice = w.xero.invoices[created.xero_id or ""]
    [line] = invoice["LineItems"]
    assert (line["UnitAmount"], line["LineAmount"]) == (Decimal("0.1648"), Decimal("1153.60"))
    assert paid.type == "XeroPaymentCreated"
    assert invoice["Status"] == "PAID"


async def test_every_call_on_bills_and_credit_notes_asks_for_four_decimals() -> None:
    w = writer_on()
    contact = _contact(w.xero)
    [bill] = (await w.run(create_bill("B-1", contact))).values()
    await w.run(create_credit_note("CN-1", contact, Decimal("25")))
    await w.run(create_payment(bill.xero_id or "", "P-1", None))

    touched = [c for c in w.xero.calls if c.path.startswith(("/Invoices", "/CreditNotes"))]

    assert touched
    assert all(c.params.get("unitdp") == "4" for c in touched), [
        (c.method, c.path, c.params) for c in touched
    ]


async def test_xero_without_unitdp_keeps_two_decimals_as_real_xero_does() -> None:
    """The fake follows Xero: this is the fault the writer's ``unitdp=4`` avoids."""
    xero = FakeXero()
    _contact(xero)
    line = {"Description": "kWh", "Quantity": 7000, "UnitAmount": 0.1648, "AccountCode": "429"}
    bill = {"Type": "ACCPAY", "Contact": {"ContactID": "c-1"}, "LineItems": [line]}

    [two_dp] = (await xero.call("PUT", "/Invoices", body={"Invoices": [bill]}))["Invoices"]
    [four_dp] = (
        await xero.call("PUT", "/Invoices", params={"unitdp": "4"}, body={"Invoices": [bill]})
    )["Invoices"]
    read = await xero.call("GET", f"/Invoices/{four_dp['InvoiceID']}")

    assert (two_dp["LineItems"][0]["UnitAmount"], two_dp["Total"]) == (0.16, 1120.0)
    assert (four_dp["LineItems"][0]["UnitAmount"], four_dp["Total"]) == (0.1648, 1153.6)
    assert read["Invoices"][0]["LineItems"][0]["UnitAmount"] == 0.16  # read without unitdp


def test_a_total_xero_answers_otherwise_is_a_warning_naming_both() -> None:
    bill = create_bill("NE-2026-11", "c-1").model_copy(update={"lines": ELECTRICITY})

    assert total_check(bill, {"Total": 1153.6}) is None
    warning = total_check(bill, {"Total": 1120.0})

    assert warning is not None
    assert "1120.00 DKK" in warning and "1153.60 DKK" in warning


async def test_a_payment_of_nothing_is_answered_without_a_call_to_xero() -> None:
    w = writer_on()
    payment = create_payment("any-invoice", "P-0", Decimal("0"))

    [result] = (await w.run(payment)).values()

    assert result.type == "XeroPaymentCreated"
    assert result.amount == Decimal("0") and result.xero_id is None
    assert result.message is not None and "zero-total" in result.message
    assert w.xero.calls == []


async def test_paying_in_full_a_zero_total_bill_makes_no_payment() -> None:
    w = writer_on()
    free = create_bill("B-0", _contact(w.xero), amount=Decimal("0"))
    [bill] = (await w.run(free)).values()

    [result] = (await w.run(create_payment(bill.xero_id or "", "R-0", None))).values()

    assert result.type == "XeroPaymentCreated" and result.amount == Decimal("0")
    assert w.xero.calls_to("PUT", "/Payments") == []
    assert w.xero.payments == {}
