"""Matching a Roger vendor to an existing Xero contact: never two suppliers in one contact."""

from __future__ import annotations

from typing import Any

from services.xero_writer.contacts import contact_payload, find_contact, normalise_name
from shared.contracts.roger_events import Vendor


def _contact(contact_id: str, name: str, **fields: Any) -> dict[str, Any]:
    return {"ContactID": contact_id, "Name": name, "ContactStatus": "ACTIVE", **fields}


def test_names_compare_without_case_accents_punctuation_or_repeated_spaces() -> None:
    assert normalise_name("ACME A/S") == normalise_name("Acme A/S ")
    assert normalise_name("Café  Øresund") == normalise_name("CAFE ØRESUND")
    assert normalise_name("Acme") != normalise_name("Acme Nordic")


def test_our_contact_number_beats_everything_else() -> None:
    contacts = [
        _contact("by-tax", "ACME A/S", TaxNumber="DK12345678"),
        _contact("ours", "Renamed in Xero", ContactNumber="ven-1"),
    ]
    vendor = Vendor(id="ven-1", name="ACME A/S", tax_number="DK12345678")

    match = find_contact(vendor, contacts)

    assert match.contact is not None and match.contact["ContactID"] == "ours"
    assert match.note is None


def test_tax_number_beats_name_and_archived_contacts_never_match() -> None:
    contacts = [
        _contact("by-name", "Acme A/S"),
        _contact("by-tax", "Third", TaxNumber="DK 1234 5678"),
        {**_contact("archived", "ACME A/S", TaxNumber="DK12345678"), "ContactStatus": "ARCHIVED"},
    ]
    vendor = Vendor(id="v", name="ACME A/S", tax_number="DK12345678")
    assert find_contact(vendor, contacts).contact == contacts[1]
    vendor = Vendor(id="v", name="acme  a/s")
    assert find_contact(vendor, contacts).contact == contacts[0]
    assert find_contact(Vendor(id="v", name="Nobody"), contacts).contact is None


def test_a_shared_mailbox_with_other_tax_numbers_is_another_supplier() -> None:
    alpha = _contact(
        "alpha",
        "Alpha Print ApS",
        EmailAddress="post@shared-bookkeeping.example",
        TaxNumber="DK11111111",
        ContactNumber="ven_alpha",
    )
    beta = Vendor(
        id="ven_beta",
        name="Beta Freight ApS",
        email="POST@shared-bookkeeping.example",
        tax_number="DK22222222",
    )

    match = find_contact(beta, [alpha])

    assert match.contact is None and not match.blocked
    assert match.note is None  # different tax numbers: certainly not the same supplier


def test_a_shared_mailbox_alone_is_no_match_and_the_candidate_is_named() -> None:
    alpha = _contact("alpha", "Alpha Print ApS", EmailAddress="post@shared.example")
    beta = Vendor(id="ven_beta", name="Beta Freight ApS", email="post@shared.example")

    match = find_contact(beta, [alpha])

    assert match.contact is None and not match.blocked
    assert match.note is not None
    assert "'Alpha Print ApS'" in match.note and "alpha" in match.note


def test_the_same_name_with_another_tax_number_is_blocked_and_named() -> None:
    other = _contact("other", "Nordic Paper ApS", TaxNumber="DK99999999")
    vendor = Vendor(id="v", name="NORDIC PAPER APS", tax_number="DK12345678")

    match = find_contact(vendor, [other])

    assert match.contact is None and match.blocked
    assert match.note is not None and "'Nordic Paper ApS'" in match.note
    assert "DK99999999" in match.note


def test_a_contact_of_another_vendor_matched_by_name_is_linked_with_a_note() -> None:
    theirs = _contact("theirs", "Acme A/S", ContactNumber="ven-other")

    match = find_contact(Vendor(id="ven-1", name="ACME a/s"), [theirs])

    assert match.contact == theirs
    assert match.note is not None and "ven-other" in match.note


def test_contacts_we_create_carry_the_vendor_id_and_updates_leave_it() -> None:
    vendor = Vendor(id="ven_alpha", name=" Alpha Print ApS ", tax_number="DK11111111")

    assert contact_payload(vendor, create=True)["ContactNumber"] == "ven_alpha"
    assert "ContactNumber" not in contact_payload(vendor)
    long_id = Vendor(id="v" * 51, name="Long")
    assert "ContactNumber" not in contact_payload(long_id, create=True)
