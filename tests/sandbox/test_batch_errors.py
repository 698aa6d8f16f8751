"""One bad element in a batch: Xero answers it alone, with every message it breaks."""

from __future__ import annotations

from tests.support.sandbox_helpers import authorised_bill, new_contact, raw

ZERO = "00000000-0000-0000-0000-000000000000"
UNKNOWN_CONTACT = "The contact with the specified ContactID could not be found."
STRANGER = "6f3c1d8e-0000-4000-8000-00000000abcd"


def test_unknown_contact_id_fails_its_element_only_summarized(books):
    contact = new_contact(books, "Batch One Ltd")
    bills = [
        authorised_bill(contact, "B-1"),
        authorised_bill(STRANGER, "B-2"),
        authorised_bill(contact, "B-3"),
    ]
    answer = raw(books, "PUT", "/Invoices", json={"Invoices": bills})
    assert answer.status_code == 400
    body = answer.json()
    assert body["Type"] == "ValidationException" and body["ErrorNumber"] == 10
    first, bad, third = body["Elements"]
    assert [first["InvoiceNumber"], bad["InvoiceNumber"], third["InvoiceNumber"]] == [
        "B-1",
        "B-2",
        "B-3",
    ]
    assert first["ValidationErrors"] == [] and third["ValidationErrors"] == []
    assert first["InvoiceID"] != ZERO and third["InvoiceID"] != ZERO
    assert bad["InvoiceID"] == ZERO and bad["HasErrors"] is True
    assert bad["ValidationErrors"] == [{"Message": UNKNOWN_CONTACT}]


def test_unknown_contact_id_fails_its_element_only_with_summarize_errors_false(books):
    contact = new_contact(books, "Batch Two Ltd")
    bills = [authorised_bill(contact, f"N-{n}") for n in range(50)]
    bills[17] = authorised_bill(STRANGER, "N-17")
    answer = raw(
        books, "PUT", "/Invoices", params={"summarizeErrors": "false"}, json={"Invoices": bills}
    )
    assert answer.status_code == 200
    elements = answer.json()["Invoices"]
    statuses = [e["StatusAttributeString"] for e in elements]
    assert statuses == ["OK"] * 17 + ["ERROR"] + ["OK"] * 32
    assert elements[17]["ValidationErrors"] == [{"Message": UNKNOWN_CONTACT}]
    assert len(books.ledger()["invoices"]) == 49


def test_unknown_ids_in_credit_note_payment_and_contact_batches_fail_alone(books):
    contact = new_contact(books, "Batch Three Ltd")
    bill = raw(books, "PUT", "/Invoices", json={"Invoices": [authorised_bill(contact)]})
    bill_id = bill.json()["Invoices"][0]["InvoiceID"]
    note = {
        "Type": "ACCPAYCREDIT",
        "Status": "AUTHORISED",
        "Date": "2026-11-02",
        "LineItems": [{"Description": "x", "Quantity": 1, "UnitAmount": 5, "AccountCode": "429"}],
    }
    notes = raw(
        books,
        "PUT",
        "/CreditNotes",
        params={"summarizeErrors": "false"},
        json={
            "CreditNotes": [
                {**note, "Contact": {"ContactID": contact}},
                {**note, "Contact": {"ContactID": STRANGER}},
            ]
        },
    )
    assert [e["StatusAttributeString"] for e in notes.json()["CreditNotes"]] == ["OK", "ERROR"]
    pay = {"Account": {"Code": "090"}, "Date": "2026-11-20", "Amount": 10}
    payments = raw(
        books,
        "PUT",
        "/Payments",
        json={
            "Payments": [
                {**pay, "Invoice": {"InvoiceID": bill_id}},
                {**pay, "Invoice": {"InvoiceID": STRANGER}},
            ]
        },
    )
    assert payments.status_code == 400
    good, bad = payments.json()["Elements"]
    assert good["ValidationErrors"] == [] and bad["ValidationErrors"]
    contacts = raw(
        books,
        "POST",
        "/Contacts",
        params={"summarizeErrors": "false"},
        json={"Contacts": [{"Name": "Fresh Ltd"}, {"ContactID": STRANGER, "Name": "Ghost"}]},
    )
    assert contacts.status_code == 200
    answered = contacts.json()["Contacts"]
    assert [c["StatusAttributeString"] for c in answered] == ["OK", "ERROR"]
    assert answered[1]["ValidationErrors"] == [{"Message": UNKNOWN_CONTACT}]


def test_unknown_id_in_the_url_is_still_404(books):
    answer = raw(
        books,
        "POST",
        f"/Invoices/{STRANGER}",
        json={"Invoices": [{"Reference": "x"}]},
    )
    assert answer.status_code == 404


def test_every_message_of_an_element_is_answered(books):
    contact = new_contact(books, "Many Faults Ltd")
    bill = authorised_bill(contact, CurrencyCode="SEK")
    del bill["DueDate"]
    bill["LineItems"] = [
        {"Description": "a", "Quantity": 1, "UnitAmount": 5, "AccountCode": "999"},
        {
            "Description": "b",
            "Quantity": 1,
            "UnitAmount": 5,
            "AccountCode": "429",
            "TaxType": "NOPE",
            "Tracking": [{"Name": "Region", "Option": "North"}],
        },
    ]
    answer = raw(books, "PUT", "/Invoices", json={"Invoices": [bill]})
    assert answer.status_code == 400
    messages = [m["Message"] for m in answer.json()["Elements"][0]["ValidationErrors"]]
    assert messages == [
        "Organisation is not subscribed to currency SEK",
        "Account code '999' is not a valid code for this document.",
        "The TaxType code NOPE does not exist or cannot be used for this type of transaction.",
        "Unknown tracking details. A Tracking Category did not match a known Active "
        "TrackingCategory",
        "Due date cannot be empty.",
    ]


def test_every_message_of_a_payment_is_answered(books):
    contact = new_contact(books, "Pay Faults Ltd")
    draft = raw(
        books,
        "PUT",
        "/Invoices",
        json={"Invoices": [authorised_bill(contact, Status="DRAFT")]},
    ).json()["Invoices"][0]
    payment = {
        "Invoice": {"InvoiceID": draft["InvoiceID"]},
        "Account": {"Code": "429"},
        "Date": "2026-11-20",
        "Amount": 0,
    }
    answer = raw(books, "PUT", "/Payments", json={"Payments": [payment]})
    assert answer.status_code == 400
    messages = [m["Message"] for m in answer.json()["Elements"][0]["ValidationErrors"]]
    assert messages == [
        "Account type is invalid for making a payment to/from",
        "Payment amount must be greater than zero.",
        "Payments can only be made against Authorised documents",
    ]
