"""What the writer relies on in Xero's answers, checked on the FakeXero and on the sandbox."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import pytest

from shared.xero.client import validation_messages
from shared.xero.errors import RateLimited, Refused, Unauthorized
from tests.support.gateways import Gateway

ZERO_UUID = "00000000-0000-0000-0000-000000000000"
BATCH = {"summarizeErrors": "false"}


def _bill(contact_id: str, number: str, amount: str = "100.00", account: str = "429") -> Any:
    return {
        "Type": "ACCPAY",
        "Contact": {"ContactID": contact_id},
        "InvoiceNumber": number,
        "Date": "2026-03-01",
        "DueDate": "2026-03-31",
        "CurrencyCode": "DKK",
        "LineAmountTypes": "NoTax",
        "Status": "AUTHORISED",
        "Url": f"https://roger.example/bills/{number}",
        "LineItems": [
            {
                "Description": "Consulting",
                "Quantity": Decimal("1"),
                "UnitAmount": Decimal(amount),
                "AccountCode": account,
            }
        ],
    }


def _payment(invoice_id: str, amount: str, reference: str) -> Any:
    return {
        "Invoice": {"InvoiceID": invoice_id},
        "Account": {"Code": "090"},
        "Date": "2026-03-10",
        "Amount": Decimal(amount),
        "Reference": reference,
    }


async def _contact(gateway: Gateway, name: str = "Acme A/S") -> str:
    answer = await gateway.call(
        "PUT", "/Contacts", params=BATCH, body={"Contacts": [{"Name": name}]}
    )
    return str(answer["Contacts"][0]["ContactID"])


async def _bills(gateway: Gateway, *bills: Any) -> list[dict[str, Any]]:
    answer = await gateway.call("PUT", "/Invoices", params=BATCH, body={"Invoices": list(bills)})
    return list(answer["Invoices"])


async def test_a_contact_batch_answers_each_contact_with_its_id(gateway: Gateway) -> None:
    names = ["Nordic Paper ApS", "Fjord Freight A/S"]
    answer = await gateway.call(
        "PUT",
        "/Contacts",
        params=BATCH,
        body={"Contacts": [{"Name": n} for n in names]},
        idempotency_key="rx-contacts-" + uuid.uuid4().hex,
    )

    created = answer["Contacts"]
    assert [c["Name"] for c in created] == names
    assert all(c["StatusAttributeString"] == "OK" for c in created)
    ids = [str(uuid.UUID(c["ContactID"])) for c in created]
    listed = await gateway.call(
        "GET",
        "/Contacts",
        params={"where": 'ContactStatus=="ACTIVE"', "page": "1", "pageSize": "1000"},
    )
    assert {c["ContactID"]: c["Name"] for c in listed["Contacts"]} == dict(
        zip(ids, names, strict=True)
    )
    assert listed["pagination"]["page"] == 1


async def test_a_contact_name_taken_fails_that_contact_alone(gateway: Gateway) -> None:
    await _contact(gateway, "Acme A/S")
    answer = await gateway.call(
        "PUT",
        "/Contacts",
        params=BATCH,
        body={"Contacts": [{"Name": "acme a/s"}, {"Name": "Other ApS"}]},
    )

    taken, other = answer["Contacts"]
    assert taken["StatusAttributeString"] == "ERROR"
    assert "already assigned to another contact" in validation_messages(taken)[0]
    assert other["StatusAttributeString"] == "OK"


async def test_a_bill_batch_answers_ids_and_the_bills_are_found_by_url(gateway: Gateway) -> None:
    contact = await _contact(gateway)
    created = await _bills(gateway, _bill(contact, "B-1"), _bill(contact, "B-2", "250.50"))

    assert [b["InvoiceNumber"] for b in created] == ["B-1", "B-2"]
    assert [b["Status"] for b in created] == ["AUTHORISED", "AUTHORISED"]
    assert [Decimal(str(b["Total"])) for b in created] == [Decimal("100"), Decimal("250.5")]
    assert all(validation_messages(b) == [] for b in created)
    found = await gateway.call(
        "GET",
        "/Invoices",
        params={"ContactIDs": contact, "InvoiceNumbers": "B-1,B-2", "page": "1"},
    )
    by_url = {b["Url"]: b["InvoiceID"] for b in found["Invoices"]}
    assert by_url == {
        "https://roger.example/bills/B-1": created[0]["InvoiceID"],
        "https://roger.example/bills/B-2": created[1]["InvoiceID"],
    }


async def test_a_200_batch_answer_says_which_bills_failed_and_why(gateway: Gateway) -> None:
    contact = await _contact(gateway)
    created = await _bills(
        gateway,
        _bill(contact, "B-1"),
        _bill(contact, "B-2", account="999"),
        _bill(str(uuid.uuid4()), "B-3"),
    )

    good, bad_account, no_contact = created
    assert good["StatusAttributeString"] == "OK"
    assert bad_account["StatusAttributeString"] == "ERROR"
    assert bad_account["InvoiceID"] == ZERO_UUID
    assert validation_messages(bad_account)[0] == (
        "Account code '999' is not a valid code for this document."
    )
    assert no_contact["StatusAttributeString"] == "ERROR"
    assert validation_messages(no_contact) == [
        "The contact with the specified ContactID could not be found."
    ]
    found = await gateway.call("GET", "/Invoices", params={"ContactIDs": contact, "page": "1"})
    assert [b["InvoiceNumber"] for b in found["Invoices"]] == ["B-1"]


async def test_a_summarized_batch_is_a_400_with_the_failed_ones_messages(
    gateway: Gateway,
) -> None:
    contact = await _contact(gateway)
    with pytest.raises(Refused) as refused:
        await gateway.call(
            "PUT",
            "/Invoices",
            params={"summarizeErrors": "true"},
            body={"Invoices": [_bill(contact, "B-1"), _bill(contact, "B-2", account="999")]},
        )

    assert refused.value.status == 400
    elements = refused.value.body["Elements"]
    failed = [e for e in elements if validation_messages(e)]
    assert [e["InvoiceNumber"] for e in failed] == ["B-2"]
    assert validation_messages(failed[0])[0] == (
        "Account code '999' is not a valid code for this document."
    )
    assert refused.value.message.startswith(
        "Account code '999' is not a valid code for this document."
    )


async def test_payments_batch_and_the_bill_shows_them_by_reference(gateway: Gateway) -> None:
    contact = await _contact(gateway)
    one, two = await _bills(gateway, _bill(contact, "B-1"), _bill(contact, "B-2"))
    answer = await gateway.call(
        "PUT",
        "/Payments",
        params=BATCH,
        body={
            "Payments": [
                _payment(one["InvoiceID"], "40.00", "Roger payment P-1"),
                _payment(two["InvoiceID"], "100.01", "Roger payment P-2"),
            ]
        },
    )

    paid, too_much = answer["Payments"]
    assert paid["StatusAttributeString"] == "OK"
    assert Decimal(str(paid["Amount"])) == Decimal("40")
    assert too_much["StatusAttributeString"] == "ERROR"
    assert validation_messages(too_much) == [
        "Payment amount exceeds the amount outstanding on this document"
    ]
    found = await gateway.call("GET", "/Invoices", params={"IDs": one["InvoiceID"], "page": "1"})
    [bill] = found["Invoices"]
    assert Decimal(str(bill["AmountDue"])) == Decimal("60")
    [payment] = bill["Payments"]
    assert (payment["PaymentID"], payment["Reference"]) == (paid["PaymentID"], "Roger payment P-1")


async def test_a_credit_note_is_found_by_its_reference(gateway: Gateway) -> None:
    contact = await _contact(gateway)
    note = {
        "Type": "ACCPAYCREDIT",
        "Contact": {"ContactID": contact},
        "CreditNoteNumber": "CN-1",
        "Reference": "Roger credit note CN-1",
        "Date": "2026-03-01",
        "CurrencyCode": "DKK",
        "LineAmountTypes": "NoTax",
        "Status": "AUTHORISED",
        "LineItems": [
            {
                "Description": "Refund",
                "Quantity": Decimal("1"),
                "UnitAmount": Decimal("25"),
                "AccountCode": "429",
            }
        ],
    }
    [created] = (
        await gateway.call("PUT", "/CreditNotes", params=BATCH, body={"CreditNotes": [note]})
    )["CreditNotes"]

    found = await gateway.call(
        "GET", "/CreditNotes", params={"where": 'Type=="ACCPAYCREDIT"', "page": "1"}
    )
    by_reference = {c.get("Reference"): c["CreditNoteID"] for c in found["CreditNotes"]}
    assert by_reference == {"Roger credit note CN-1": created["CreditNoteID"]}


async def test_the_same_idempotency_key_replays_the_first_answer(gateway: Gateway) -> None:
    key = "rx-contacts-" + uuid.uuid4().hex
    body = {"Contacts": [{"Name": "Once Only ApS"}]}
    first = await gateway.call("PUT", "/Contacts", params=BATCH, body=body, idempotency_key=key)
    again = await gateway.call("PUT", "/Contacts", params=BATCH, body=body, idempotency_key=key)

    assert again["Contacts"][0]["ContactID"] == first["Contacts"][0]["ContactID"]
    listed = await gateway.call("GET", "/Contacts")
    assert len(listed["Contacts"]) == 1


async def test_past_the_minute_limit_xero_answers_429_with_retry_after(gateway: Gateway) -> None:
    gateway.limit_per_minute(2)
    await gateway.call("GET", "/Contacts")
    await gateway.call("GET", "/Contacts")

    with pytest.raises(RateLimited) as limited:
        await gateway.call("GET", "/Contacts")

    assert limited.value.problem == "minute"
    assert 1 <= limited.value.retry_after_s <= 60
    assert limited.value.code == "xero_rate_limited"


async def test_a_dead_token_is_a_401(gateway: Gateway) -> None:
    with pytest.raises(Unauthorized) as dead:
        await gateway.call_with_token("not-a-token-xero-issued", "GET", "/Contacts")

    assert dead.value.status == 401
    assert dead.value.code == "xero_unauthorized"
