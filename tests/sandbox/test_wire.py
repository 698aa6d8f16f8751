"""Xero's wire format: envelope, MS-JSON dates, inputs in either date form, 404 bodies."""

from __future__ import annotations

import datetime as dt
import re

import httpx

from tests.support.sandbox_helpers import new_contact


def raw(books, method: str, path: str, **kwargs):
    headers = {
        "Authorization": "Bearer " + books.token["access_token"],
        "xero-tenant-id": books.tenant_id,
        "Accept": "application/json",
        **kwargs.pop("headers", {}),
    }
    return httpx.request(method, books.sandbox.accounting_url + path, headers=headers, **kwargs)


def invoice_body(contact_id: str, date: str) -> dict:
    return {
        "Invoices": [
            {
                "Type": "ACCPAY",
                "Contact": {"ContactID": contact_id},
                "Date": date,
                "DueDate": date,
                "Status": "AUTHORISED",
                "LineItems": [
                    {"Description": "x", "Quantity": 1, "UnitAmount": 10, "AccountCode": "429"}
                ],
            }
        ]
    }


def test_envelope_and_ms_dates(books):
    contact = new_contact(books, "Wire Ltd")
    response = raw(books, "PUT", "/Invoices", json=invoice_body(contact, "2026-11-02"))
    assert response.status_code == 200
    body = response.json()
    assert set(body) >= {"Id", "Status", "ProviderName", "DateTimeUTC", "Invoices"}
    assert body["Status"] == "OK"
    assert re.fullmatch(r"/Date\(\d+\)/", body["DateTimeUTC"])
    invoice = body["Invoices"][0]
    assert invoice["Date"] == "/Date(1793577600000+0000)/"
    assert invoice["DateString"] == "2026-11-02T00:00:00"
    assert re.fullmatch(r"/Date\(\d+\+0000\)/", invoice["UpdatedDateUTC"])
    assert '"Total":12.50' in response.text  # two decimals on the wire, as Xero writes them


def test_sdk_ms_date_input_is_accepted(books):
    contact = new_contact(books, "Ms Date Ltd")
    response = raw(books, "PUT", "/Invoices", json=invoice_body(contact, "/Date(1793577600000)/"))
    assert response.json()["Invoices"][0]["Date"] == "/Date(1793577600000+0000)/"


def test_bad_date_is_post_data_invalid(books):
    contact = new_contact(books, "Bad Date Ltd")
    response = raw(books, "PUT", "/Invoices", json=invoice_body(contact, "2017-12-14 0:0"))
    assert response.status_code == 400
    assert response.json()["Type"] == "PostDataInvalidException"
    assert response.json()["ErrorNumber"] == 14


def test_enum_outside_the_spec_is_refused(books):
    contact = new_contact(books, "Enum Ltd")
    body = invoice_body(contact, "2026-11-02")
    body["Invoices"][0]["Status"] = "APPROVED"
    response = raw(books, "PUT", "/Invoices", json=body)
    assert response.status_code == 400
    assert books.ledger()["invoices"] == []


def test_query_booleans_are_case_insensitive(books):
    for flag in ("False", "false", "FALSE"):
        response = raw(
            books,
            "PUT",
            "/Contacts",
            params={"summarizeErrors": flag},
            json={"Contacts": [{"Name": ""}]},
        )
        assert response.status_code == 200
        assert response.json()["Contacts"][0]["StatusAttributeString"] == "ERROR"


def test_unknown_id_is_404_with_xeros_plain_sentence(books):
    # Xero-OpenAPI#163, Xero-Java#32: the body is this sentence, not JSON.
    for path in ("/Invoices/0b2c66c4-0000-4000-8000-000000000000", "/NoSuchThing"):
        response = raw(books, "GET", path)
        assert response.status_code == 404
        assert response.content == b"The resource you're looking for cannot be found"
        assert response.headers["content-type"].startswith("text/html")
        assert response.headers["xero-correlation-id"]


def test_if_modified_since(books):
    contact_id = new_contact(books, "Before Ltd")
    # The sandbox's clock, not ours: another test may have moved it on (idempotency windows).
    [created] = books.api.get_contact(books.tenant_id, contact_id).contacts
    since = created.updated_date_utc + dt.timedelta(seconds=1)
    later = books.api.get_contacts(books.tenant_id, if_modified_since=since)
    assert later.contacts == []
    earlier = books.api.get_contacts(
        books.tenant_id, if_modified_since=since - dt.timedelta(minutes=5)
    )
    assert [c.name for c in earlier.contacts] == ["Before Ltd"]


def test_bad_where_is_query_parse_exception(books):
    response = raw(books, "GET", "/Contacts", params={"where": 'Nope=="x"'})
    assert response.status_code == 400
    assert response.json()["Type"] == "QueryParseException"


def test_malformed_where_filters_are_answered_400_never_500(books):
    for where in (
        'Name=="unterminated',
        "Name==",
        '((Status=="ACTIVE")',
        "Date >= DateTime(2026, 13, 45)",
        'AccountID=GUID("not-a-guid")',
        "Name.Contains(",
    ):
        for path in ("/Contacts", "/Invoices", "/Accounts"):
            response = raw(books, "GET", path, params={"where": where})
            assert response.status_code == 400, (path, where, response.text)
            assert response.json()["Type"] == "QueryParseException"
