"""Contacts: uniqueness, batches in both summarizeErrors modes, reads."""

from __future__ import annotations

import pytest
from xero_python.accounting import Contact, Contacts
from xero_python.exceptions import AccountingBadRequestException, NotFoundException

from tests.support.sandbox_helpers import new_contact

DUPLICATE = (
    "The contact name {} is already assigned to another contact. "
    "The contact name must be unique across all active contacts."
)


def test_duplicate_name_is_refused_case_insensitively(books):
    new_contact(books, "Nordic Paper Supply ApS")
    with pytest.raises(AccountingBadRequestException) as caught:
        books.api.create_contacts(
            books.tenant_id, Contacts(contacts=[Contact(name="NORDIC paper supply aps")])
        )
    error = caught.value.error_data
    assert error["Type"] == "ValidationException"
    assert error["ErrorNumber"] == 10
    assert error["Message"] == "A validation exception occurred"
    element = error["Elements"][0]
    assert element["ValidationErrors"] == [{"Message": DUPLICATE.format("NORDIC paper supply aps")}]
    assert element["ContactID"] == "00000000-0000-0000-0000-000000000000"


def test_archived_contact_name_can_be_reused(books):
    contact_id = new_contact(books, "Old Supplier")
    books.api.update_contact(
        books.tenant_id,
        contact_id,
        Contacts(contacts=[Contact(contact_id=contact_id, contact_status="ARCHIVED")]),
    )
    new_contact(books, "Old Supplier")
    # …and an archived contact cannot be edited.
    with pytest.raises(AccountingBadRequestException) as caught:
        books.api.update_contact(
            books.tenant_id,
            contact_id,
            Contacts(contacts=[Contact(contact_id=contact_id, email_address="a@b.example")]),
        )
    assert "Archived contacts cannot currently be edited" in caught.value.reason


def test_summarize_errors_false_creates_good_and_reports_bad(books):
    new_contact(books, "Taken")
    result = books.api.create_contacts(
        books.tenant_id,
        Contacts(
            contacts=[Contact(name="Good One"), Contact(name="taken"), Contact(name="Good Two")]
        ),
        summarize_errors=False,
    )
    states = [c.status_attribute_string for c in result.contacts]
    assert states == ["OK", "ERROR", "OK"]
    assert result.contacts[1].validation_errors[0].message == DUPLICATE.format("taken")
    assert result.contacts[1].has_validation_errors is True
    names = sorted(c["Name"] for c in books.ledger()["contacts"])
    assert names == ["Good One", "Good Two", "Taken"]


def test_post_updates_by_contact_id(books):
    contact_id = new_contact(books, "Supplier A", email_address="old@a.example")
    result = books.api.update_or_create_contacts(
        books.tenant_id,
        Contacts(contacts=[Contact(contact_id=contact_id, email_address="new@a.example")]),
        summarize_errors=False,
    )
    assert result.contacts[0].email_address == "new@a.example"
    assert result.contacts[0].name == "Supplier A"
    assert len(books.ledger()["contacts"]) == 1


def test_put_does_not_update(books):
    contact_id = new_contact(books, "Supplier B")
    result = books.api.create_contacts(
        books.tenant_id,
        Contacts(contacts=[Contact(contact_id=contact_id, name="Renamed")]),
        summarize_errors=False,
    )
    assert result.contacts[0].status_attribute_string == "ERROR"
    assert books.ledger()["contacts"][0]["Name"] == "Supplier B"


def test_unknown_contact_id_is_404(books):
    with pytest.raises(NotFoundException):
        books.api.get_contact(books.tenant_id, "7a1b2c3d-0000-4000-8000-000000000000")


def test_where_ids_search_and_paging(books):
    ids = [new_contact(books, f"Vendor {n:02d}", email_address=f"v{n}@x.example") for n in range(5)]
    found = books.api.get_contacts(books.tenant_id, where='Name=="vendor 03"')
    assert [c.contact_id for c in found.contacts] == [ids[3]]
    found = books.api.get_contacts(books.tenant_id, where='Name.Contains("Vendor 0")')
    assert len(found.contacts) == 5
    found = books.api.get_contacts(books.tenant_id, i_ds=[ids[1], ids[2]])
    assert sorted(c.contact_id for c in found.contacts) == sorted(ids[1:3])
    found = books.api.get_contacts(books.tenant_id, search_term="v4@x")
    assert [c.contact_id for c in found.contacts] == [ids[4]]
    page = books.api.get_contacts(books.tenant_id, page=2, page_size=2)
    assert [c.name for c in page.contacts] == ["Vendor 02", "Vendor 03"]
    assert page.pagination.page_count == 3
    assert page.pagination.item_count == 5


def test_invalid_email_is_refused(books):
    with pytest.raises(AccountingBadRequestException) as caught:
        books.api.create_contacts(
            books.tenant_id, Contacts(contacts=[Contact(name="X", email_address="not-an-email")])
        )
    assert caught.value.reason == "Email address must be valid."
