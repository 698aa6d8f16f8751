"""Approved documents: none without lines; a zero total is settled at once."""

from __future__ import annotations

from tests.support.sandbox_helpers import authorised_bill, new_contact, raw

NO_LINES = "Documents must have at least one line item to be approved."


def test_approved_document_without_lines_is_refused_but_a_draft_is_kept(books):
    contact = new_contact(books, "Empty Ltd")
    refused = raw(
        books, "PUT", "/Invoices", json={"Invoices": [authorised_bill(contact, LineItems=[])]}
    )
    assert refused.status_code == 400
    assert refused.json()["Elements"][0]["ValidationErrors"] == [{"Message": NO_LINES}]
    draft = raw(
        books,
        "PUT",
        "/Invoices",
        json={"Invoices": [authorised_bill(contact, LineItems=[], Status="DRAFT")]},
    )
    assert draft.status_code == 200
    draft_id = draft.json()["Invoices"][0]["InvoiceID"]
    approve = raw(
        books, "POST", f"/Invoices/{draft_id}", json={"Invoices": [{"Status": "AUTHORISED"}]}
    )
    assert approve.json()["Elements"][0]["ValidationErrors"] == [{"Message": NO_LINES}]


def test_approved_zero_total_documents_are_paid_at_once_and_take_no_payment(books):
    contact = new_contact(books, "Free Sample Ltd")
    zero = authorised_bill(contact)
    zero["LineItems"][0]["UnitAmount"] = 0
    answer = raw(books, "PUT", "/Invoices", json={"Invoices": [zero]})
    [bill] = answer.json()["Invoices"]
    assert bill["Status"] == "PAID" and bill["Total"] == 0 and bill["AmountDue"] == 0
    assert bill["FullyPaidOnDate"] == bill["Date"]
    assert bill["Payments"] == []
    payment = {
        "Invoice": {"InvoiceID": bill["InvoiceID"]},
        "Account": {"Code": "090"},
        "Date": "2026-11-20",
        "Amount": 1,
    }
    refused = raw(books, "PUT", "/Payments", json={"Payments": [payment]})
    assert refused.status_code == 400
    assert refused.json()["Elements"][0]["ValidationErrors"] == [
        {"Message": "Payments can only be made against Authorised documents"}
    ]
    note = {
        "Type": "ACCPAYCREDIT",
        "Contact": {"ContactID": contact},
        "Date": "2026-11-02",
        "Status": "AUTHORISED",
        "LineItems": [{"Description": "x", "Quantity": 1, "UnitAmount": 0, "AccountCode": "429"}],
    }
    [credit] = raw(books, "PUT", "/CreditNotes", json={"CreditNotes": [note]}).json()["CreditNotes"]
    assert credit["Status"] == "PAID" and credit["RemainingCredit"] == 0


def test_a_zero_total_paid_bill_can_still_be_voided(books):
    contact = new_contact(books, "Voided Sample Ltd")
    zero = authorised_bill(contact)
    zero["LineItems"][0]["UnitAmount"] = 0
    [bill] = raw(books, "PUT", "/Invoices", json={"Invoices": [zero]}).json()["Invoices"]
    voided = raw(
        books,
        "POST",
        f"/Invoices/{bill['InvoiceID']}",
        json={"Invoices": [{"Status": "VOIDED"}]},
    )
    assert voided.status_code == 200, voided.text
    assert voided.json()["Invoices"][0]["Status"] == "VOIDED"
