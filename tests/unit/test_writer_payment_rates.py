"""A payment in a foreign currency goes without a rate and comes back with Xero's."""

from __future__ import annotations

from decimal import Decimal

from tests.support.fake_xero import FakeXero, writer_on
from tests.support.writer_commands import create_bill, create_payment


def _contact(xero: FakeXero) -> str:
    xero.contacts["c-1"] = {"ContactID": "c-1", "Name": "Messe Stande GmbH"}
    return "c-1"


async def test_a_foreign_payment_carries_xeros_rate_and_says_so() -> None:
    w = writer_on()
    bill = create_bill("EU-1", _contact(w.xero)).model_copy(update={"currency": "EUR"})
    [made] = (await w.run(bill)).values()
    pay = create_payment(made.xero_id or "", "P-1", Decimal("100.00"))
    pay = pay.model_copy(update={"currency": "EUR"})

    [paid] = (await w.run(pay)).values()

    assert paid.type == "XeroPaymentCreated"
    assert (paid.currency_rate, paid.currency_rate_source) == (Decimal("0.134048"), "xero")
    [sent] = w.xero.calls_to("PUT", "/Payments")
    assert "CurrencyRate" not in sent.body["Payments"][0]  # Xero's own day rate


async def test_a_payment_in_the_base_currency_shows_no_rate() -> None:
    w = writer_on()
    [made] = (await w.run(create_bill("DK-1", _contact(w.xero)))).values()
    [paid] = (await w.run(create_payment(made.xero_id or "", "P-1", Decimal("40")))).values()
    assert paid.type == "XeroPaymentCreated"
    assert (paid.currency_rate, paid.currency_rate_source) == (None, None)


async def test_a_foreign_payment_found_after_a_lost_answer_keeps_its_rate() -> None:
    w = writer_on()
    bill = create_bill("EU-2", _contact(w.xero)).model_copy(update={"currency": "EUR"})
    [made] = (await w.run(bill)).values()
    pay = create_payment(made.xero_id or "", "P-2", Decimal("60.00"))
    pay = pay.model_copy(update={"currency": "EUR"})
    w.xero.fail_next("drop", method="PUT", path="/Payments")

    [paid] = (await w.run(pay)).values()

    assert paid.type == "XeroPaymentCreated"
    assert len(w.xero.payments) == 1
    assert (paid.currency_rate, paid.currency_rate_source) == (Decimal("0.134048"), "xero")
