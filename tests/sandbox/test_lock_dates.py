"""Lock dates: nothing approved may be dated on or before them; drafts still may."""

from __future__ import annotations

from tests.support.sandbox_helpers import authorised_bill, new_contact, raw

PERIOD = "The document date cannot be before the period lock date, currently set at 31-Oct-2026"
YEAR_END = (
    "The document date cannot be before the end of year lock date, currently set at 30-Jun-2026"
)


def _messages(answer) -> list[str]:
    return [m["Message"] for m in answer.json()["Elements"][0]["ValidationErrors"]]


def test_organisation_shows_lock_dates_only_when_set(books):
    [org] = raw(books, "GET", "/Organisation").json()["Organisations"]
    assert "PeriodLockDate" not in org and "EndOfYearLockDate" not in org
    books.sandbox.set_lock_dates(books.tenant_id, period="2026-10-31", end_of_year="2026-06-30")
    [org] = raw(books, "GET", "/Organisation").json()["Organisations"]
    assert org["PeriodLockDate"] == "/Date(1793404800000+0000)/"
    assert org["EndOfYearLockDate"] == "/Date(1782777600000+0000)/"


def test_approved_documents_dated_on_or_before_a_lock_date_are_refused(books):
    contact = new_contact(books, "Locked Ltd")
    books.sandbox.set_lock_dates(books.tenant_id, period="2026-10-31", end_of_year="2026-06-30")
    on_lock = raw(
        books, "PUT", "/Invoices", json={"Invoices": [authorised_bill(contact, Date="2026-10-31")]}
    )
    assert on_lock.status_code == 400
    assert _messages(on_lock) == [PERIOD]
    both = raw(
        books, "PUT", "/Invoices", json={"Invoices": [authorised_bill(contact, Date="2026-05-01")]}
    )
    assert _messages(both) == [PERIOD, YEAR_END]
    note = {
        "Type": "ACCPAYCREDIT",
        "Contact": {"ContactID": contact},
        "Date": "2026-10-01",
        "Status": "AUTHORISED",
        "LineItems": [{"Description": "x", "Quantity": 1, "UnitAmount": 5, "AccountCode": "429"}],
    }
    refused_note = raw(books, "PUT", "/CreditNotes", json={"CreditNotes": [note]})
    assert _messages(refused_note) == [PERIOD]
    draft = raw(
        books,
        "PUT",
        "/Invoices",
        json={"Invoices": [authorised_bill(contact, Date="2026-10-31", Status="DRAFT")]},
    )
    assert draft.status_code == 200, draft.text
    draft_id = draft.json()["Invoices"][0]["InvoiceID"]
    approve = raw(
        books,
        "POST",
        f"/Invoices/{draft_id}",
        json={"Invoices": [{"Status": "AUTHORISED"}]},
    )
    assert _messages(approve) == [PERIOD]
    after = raw(books, "PUT", "/Invoices", json={"Invoices": [authorised_bill(contact)]})
    assert after.status_code == 200


def test_payments_dated_in_a_locked_period_are_refused(books):
    contact = new_contact(books, "Paid Late Ltd")
    bill = raw(books, "PUT", "/Invoices", json={"Invoices": [authorised_bill(contact)]})
    bill_id = bill.json()["Invoices"][0]["InvoiceID"]
    books.sandbox.set_lock_dates(books.tenant_id, period="2026-11-15")
    payment = {
        "Invoice": {"InvoiceID": bill_id},
        "Account": {"Code": "090"},
        "Date": "2026-11-15",
        "Amount": 10,
    }
    refused = raw(books, "PUT", "/Payments", json={"Payments": [payment]})
    assert _messages(refused) == [
        "The payment date cannot be before the period lock date, currently set at 15-Nov-2026"
    ]
    accepted = raw(
        books, "PUT", "/Payments", json={"Payments": [{**payment, "Date": "2026-11-16"}]}
    )
    assert accepted.status_code == 200
    books.sandbox.set_lock_dates(books.tenant_id)
    [org] = raw(books, "GET", "/Organisation").json()["Organisations"]
    assert "PeriodLockDate" not in org
