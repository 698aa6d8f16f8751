"""Archived and merged contacts: Xero refuses new bills and credit notes for them."""

from __future__ import annotations

from tests.support.sandbox_helpers import authorised_bill, new_contact, raw

ARCHIVED = (
    "The contact with the specified contact details has been archived. "
    "The contact must be un-archived before creating new invoices or credit notes."
)


def _credit_note(contact_id: str) -> dict:
    return {
        "Type": "ACCPAYCREDIT",
        "Contact": {"ContactID": contact_id},
        "Date": "2026-11-02",
        "Status": "AUTHORISED",
        "LineItems": [
            {"Description": "Return", "Quantity": 1, "UnitAmount": 10, "AccountCode": "429"}
        ],
    }


def test_bill_and_credit_note_for_an_archived_contact_are_refused_in_xeros_words(books):
    contact = new_contact(books, "Gone Ltd")
    books.sandbox.archive_contact(books.tenant_id, contact)
    bills = raw(
        books,
        "PUT",
        "/Invoices",
        params={"summarizeErrors": "false"},
        json={"Invoices": [authorised_bill(contact)]},
    )
    assert bills.status_code == 200
    [element] = bills.json()["Invoices"]
    assert element["StatusAttributeString"] == "ERROR"
    assert element["ValidationErrors"] == [{"Message": ARCHIVED}]
    notes = raw(books, "PUT", "/CreditNotes", json={"CreditNotes": [_credit_note(contact)]})
    assert notes.status_code == 400
    assert notes.json()["Elements"][0]["ValidationErrors"] == [{"Message": ARCHIVED}]
    assert books.ledger()["invoices"] == [] and books.ledger()["credit_notes"] == []


def test_an_archived_contact_named_is_refused_not_duplicated(books):
    contact = new_contact(books, "Old Name ApS")
    books.sandbox.archive_contact(books.tenant_id, contact)
    bill = authorised_bill(contact)
    bill["Contact"] = {"Name": "old name aps"}
    answer = raw(books, "PUT", "/Invoices", json={"Invoices": [bill]})
    assert answer.status_code == 400
    assert answer.json()["Elements"][0]["ValidationErrors"] == [{"Message": ARCHIVED}]
    assert len(books.ledger()["contacts"]) == 1


def test_restored_contact_takes_bills_again(books):
    contact = new_contact(books, "Back Again Ltd")
    books.sandbox.archive_contact(books.tenant_id, contact)
    restored = books.sandbox.restore_contact(books.tenant_id, contact)
    assert restored["ContactStatus"] == "ACTIVE"
    answer = raw(books, "PUT", "/Invoices", json={"Invoices": [authorised_bill(contact)]})
    assert answer.status_code == 200, answer.text


def test_merge_archives_one_contact_names_the_survivor_and_moves_its_documents(books):
    survivor = new_contact(books, "Survivor A/S")
    merged = new_contact(books, "Survivor AS (dup)")
    first = raw(books, "PUT", "/Invoices", json={"Invoices": [authorised_bill(merged)]})
    bill_id = first.json()["Invoices"][0]["InvoiceID"]
    books.sandbox.merge_contacts(books.tenant_id, merged, survivor)
    [shown] = raw(books, "GET", f"/Contacts/{merged}").json()["Contacts"]
    assert shown["ContactStatus"] == "ARCHIVED"
    assert shown["MergedToContactID"] == survivor
    [moved] = raw(books, "GET", f"/Invoices/{bill_id}").json()["Invoices"]
    assert moved["Contact"]["ContactID"] == survivor
    again = raw(books, "PUT", "/Invoices", json={"Invoices": [authorised_bill(merged)]})
    assert again.status_code == 400
    assert again.json()["Elements"][0]["ValidationErrors"] == [{"Message": ARCHIVED}]
    listed = raw(books, "GET", "/Contacts").json()["Contacts"]
    assert [c["ContactID"] for c in listed] == [survivor]


def test_editing_an_archived_contact_is_refused(books):
    contact = new_contact(books, "Frozen Ltd")
    books.sandbox.archive_contact(books.tenant_id, contact)
    answer = raw(
        books,
        "POST",
        f"/Contacts/{contact}",
        json={"Contacts": [{"ContactID": contact, "EmailAddress": "ap@frozen.test"}]},
    )
    assert answer.status_code == 400
    assert answer.json()["Elements"][0]["ValidationErrors"] == [
        {
            "Message": "The specified contact details matched an archived contact. "
            "Archived contacts cannot currently be edited via the API."
        }
    ]
