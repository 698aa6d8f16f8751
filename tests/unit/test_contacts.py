"""Matching a Roger vendor to an existing Xero contact."""

from __future__ import annotations

from services.xero_writer.contacts import find_contact, normalise_name
from shared.contracts.roger_events import Vendor


def test_names_compare_without_case_accents_punctuation_or_repeated_spaces() -> None:
    assert normalise_name("ACME A/S") == normalise_name("Acme A/S ")
    assert normalise_name("Café  Øresund") == normalise_name("CAFE ØRESUND")
    assert normalise_name("Acme") != normalise_name("Acme Nordic")


def test_tax_number_beats_email_beats_name() -> None:
    contacts = [
        {"ContactID": "by-name", "Name": "Acme A/S", "ContactStatus": "ACTIVE"},
        {
            "ContactID": "by-email",
            "Name": "Other",
            "EmailAddress": "AP@acme.example",
            "ContactStatus": "ACTIVE",
        },
        {
            "ContactID": "by-tax",
            "Name": "Third",
            "TaxNumber": "DK 1234 5678",
            "ContactStatus": "ACTIVE",
        },
        {
            "ContactID": "archived",
            "Name": "ACME A/S",
            "TaxNumber": "DK12345678",
            "ContactStatus": "ARCHIVED",
        },
    ]
    vendor = Vendor(id="v", name="ACME A/S", email="ap@acme.example", tax_number="DK12345678")
    assert find_contact(vendor, contacts)["ContactID"] == "by-tax"  # type: ignore[index]
    vendor = Vendor(id="v", name="ACME A/S", email="ap@acme.example")
    assert find_contact(vendor, contacts)["ContactID"] == "by-email"  # type: ignore[index]
    vendor = Vendor(id="v", name="acme  a/s")
    assert find_contact(vendor, contacts)["ContactID"] == "by-name"  # type: ignore[index]
    assert find_contact(Vendor(id="v", name="Nobody"), contacts) is None
