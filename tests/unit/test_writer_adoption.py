"""Adopt, never duplicate: a bill the accountant keyed in Xero is linked, not made twice."""

from __future__ import annotations

from typing import Any

from services.xero_writer.adoption import normalise_number
from tests.support.fake_xero import FakeXero, writer_on
from tests.support.writer_commands import create_bill

BATCH = {"summarizeErrors": "false"}


def _contact(xero: FakeXero, contact_id: str = "c-1") -> str:
    xero.contacts[contact_id] = {
        "ContactID": contact_id,
        "Name": f"Supplier {contact_id}",
        "ContactStatus": "ACTIVE",
    }
    return contact_id


async def keyed_by_hand(
    xero: FakeXero,
    contact_id: str,
    number: str,
    amount: str,
    *,
    currency: str = "DKK",
    url: str | None = None,
) -> dict[str, Any]:
    """A bill as the accountant types it in Xero: no Url of ours."""
    bill = {
        "Type": "ACCPAY",
        "Contact": {"ContactID": contact_id},
        "InvoiceNumber": number,
        "Date": "2026-03-01",
        "CurrencyCode": currency,
        "LineAmountTypes": "NoTax",
        "Status": "AUTHORISED",
        "LineItems": [
            {"Description": "Typed", "Quantity": 1, "UnitAmount": amount, "AccountCode": "429"}
        ],
        **({"Url": url} if url else {}),
    }
    [made] = (await xero.call("PUT", "/Invoices", params=BATCH, body={"Invoices": [bill]}))[
        "Invoices"
    ]
    return made  # type: ignore[no-any-return]


def test_supplier_numbers_compare_without_prefix_punctuation_case_or_leading_zeros() -> None:
    assert normalise_number("INV-1234") == normalise_number("1234") == "1234"
    assert normalise_number("inv 01234") == normalise_number("#1234")
    assert normalise_number("Faktura nr. 77") == normalise_number("77")
    assert normalise_number("Faktura nr. 77") != normalise_number("78")
    assert normalise_number("请款单-88") == "请款单88"
    assert normalise_number("AB-12") != normalise_number("12")


async def test_a_bill_keyed_by_hand_is_adopted_with_a_note_not_created_again() -> None:
    w = writer_on()
    contact = _contact(w.xero)
    typed = await keyed_by_hand(w.xero, contact, "INV-1234", "100.00")

    [result] = (await w.run(create_bill("1234", contact))).values()

    assert result.type == "XeroBillCreated"
    assert result.xero_id == typed["InvoiceID"]
    assert result.message is not None and "adopted" in result.message
    assert "INV-1234" in result.message and typed["InvoiceID"] in result.message
    assert len(w.xero.invoices) == 1
    assert w.xero.calls_to("PUT", "/Invoices")[1:] == []


async def test_a_near_miss_is_not_adopted_and_shows_the_candidate() -> None:
    w = writer_on()
    contact = _contact(w.xero)
    typed = await keyed_by_hand(w.xero, contact, "INV-1234", "100.50")

    [result] = (await w.run(create_bill("1234", contact))).values()

    assert result.type == "XeroBillCreated"
    assert result.xero_id != typed["InvoiceID"]
    assert len(w.xero.invoices) == 2
    assert result.message is not None and "not adopted" in result.message
    assert typed["InvoiceID"] in result.message and "100.50" in result.message


async def test_other_currency_contact_or_a_bill_of_ours_is_never_adopted() -> None:
    w = writer_on()
    contact, other = _contact(w.xero), _contact(w.xero, "c-2")
    await keyed_by_hand(w.xero, contact, "1234", "100.00", currency="EUR")
    await keyed_by_hand(w.xero, other, "1234", "100.00")
    await keyed_by_hand(
        w.xero, contact, "1234", "100.00", url="https://roger.example/bill/another-roger-bill"
    )

    [result] = (await w.run(create_bill("1234", contact))).values()

    assert result.type == "XeroBillCreated"
    assert len(w.xero.invoices) == 4  # created: none of the three is the accountant's twin
    assert result.message is not None and "EUR" in result.message  # the near miss is named


async def test_two_roger_bills_never_adopt_the_same_xero_bill() -> None:
    w = writer_on()
    contact = _contact(w.xero)
    typed = await keyed_by_hand(w.xero, contact, "1234", "100.00")
    one = create_bill("1234", contact)
    two = create_bill("INV 1234", contact)

    results = await w.run(one, two)

    adopted = [r for r in results.values() if r.xero_id == typed["InvoiceID"]]
    assert len(adopted) == 1
    assert len(w.xero.invoices) == 2
