"""What the writer reads of an organisation, on the FakeXero and on the sandbox (which
follows Xero): tracking categories checked before sending, and a foreign payment's rate."""

from __future__ import annotations

from decimal import Decimal

from services.xero_writer import document_ops, payment_ops
from shared.contracts.commands import BillLine, CreateBill
from shared.contracts.roger_events import Tracking
from tests.support.gateways import Gateway
from tests.support.writer_commands import create_bill, create_payment

BATCH = {"summarizeErrors": "false"}


async def _contact(gateway: Gateway, name: str) -> str:
    answer = await gateway.call(
        "PUT", "/Contacts", params=BATCH, body={"Contacts": [{"Name": name}]}
    )
    return str(answer["Contacts"][0]["ContactID"])


def _tracked(bill: CreateBill, name: str, option: str) -> CreateBill:
    line = BillLine(
        description="Stand rental",
        quantity=Decimal("1"),
        unit_amount=Decimal("2000.00"),
        account_code="429",
        tracking=(Tracking(name=name, option=option),),
    )
    return bill.model_copy(update={"lines": (line,)})


async def test_known_tracking_is_booked_and_unknown_fails_naming_it(gateway: Gateway) -> None:
    gateway.add_tracking_category("Region", ["North", "South"])
    contact = await _contact(gateway, "Messe Stande ApS")
    good = _tracked(create_bill("MS-1", contact), "region", "north")
    bad_option = _tracked(create_bill("MS-2", contact), "Region", "Atlantis")
    bad_category = _tracked(create_bill("MS-3", contact), "Project", "Expo")

    results = {
        r.command_id: r
        for r in await document_ops.create_bills(
            gateway.call, [good, bad_option, bad_category], set()
        )
    }

    assert results[good.command_id].type == "XeroBillCreated"
    assert 'tracking option "Atlantis"' in (results[bad_option.command_id].message or "")
    assert 'tracking category "Project"' in (results[bad_category.command_id].message or "")
    answer = await gateway.call(
        "GET", f"/Invoices/{results[good.command_id].xero_id}", params={"unitdp": "4"}
    )
    [line] = answer["Invoices"][0]["LineItems"]
    assert [(t["Name"], t["Option"]) for t in line["Tracking"]] == [("Region", "North")]


async def test_a_foreign_payment_is_booked_at_xeros_day_rate(gateway: Gateway) -> None:
    gateway.set_currency_rate("EUR", "0.134")
    contact = await _contact(gateway, "Messe Frankfurt GmbH")
    bill = create_bill("MF-1", contact).model_copy(update={"currency": "EUR"})
    [made] = await document_ops.create_bills(gateway.call, [bill], set())
    pay = create_payment(made.xero_id or "", "P-1", Decimal("100.00"))

    [eur] = await payment_ops.create_payments(
        gateway.call, [pay.model_copy(update={"currency": "EUR"})], set()
    )

    assert eur.type == "XeroPaymentCreated", eur
    assert (eur.currency_rate, eur.currency_rate_source) == (Decimal("0.134"), "xero")
