"""xero_inbound's pure parts: Xero's signature, the payload, and what counts as a change
made in Xero (docs/contracts/roger-sync-back.md)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import jsonschema
import pytest
from pydantic import ValidationError

from services.xero_inbound.notifications import XeroEvent, XeroPayload
from services.xero_inbound.schema import SCHEMA_PATH, rendered, sync_back_schema
from services.xero_inbound.signature import signed_by_xero, xero_signature
from services.xero_inbound.sync_back import (
    OurWrite,
    bill_changes,
    bill_view,
    contact_changes,
    contact_view,
    roger_document,
)
from shared.settings import InboundSettings
from shared.xero.client import xero_moment

APP = "https://app.roger.example"
T0 = datetime(2026, 11, 30, 1, 0, tzinfo=UTC)


def invoice(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "InvoiceID": "6c0e3d7f-2a4b-4c1d-8e9f-0a1b2c3d4e5f",
        "Type": "ACCPAY",
        "InvoiceNumber": "B-2",
        "Status": "AUTHORISED",
        "Contact": {"ContactID": "1d2c3b4a-5e6f-4a7b-8c9d-0e1f2a3b4c5d"},
        "CurrencyCode": "DKK",
        "DateString": "2026-11-02T00:00:00",
        "DueDateString": "2026-12-02T00:00:00",
        "Total": 100.0,
        "AmountPaid": 0.0,
        "AmountDue": 100.0,
        "Url": f"{APP}/companies/acme%2Fdk/bills/b%202",
        "UpdatedDateUTC": "/Date(1764464400000+0000)/",
        "Payments": [],
    }
    body.update(changes)
    return body


def payment(reference: str, amount: float = 100.0, pid: str = "p-1") -> dict[str, Any]:
    return {
        "PaymentID": pid,
        "Date": "/Date(1764028800000+0000)/",
        "Amount": amount,
        "Reference": reference,
        "Status": "AUTHORISED",
    }


def types(changes: list[Any]) -> list[str]:
    return [c.type for c in changes]


# ------------------------------------------------------------------ signature


def test_a_signature_under_any_current_key_verifies_and_nothing_else_does() -> None:
    body = b'{"events":[]}'
    good = xero_signature("new-key", body)
    assert signed_by_xero(body, good, ["old-key", "new-key"])
    assert not signed_by_xero(body, good, ["old-key"])
    assert not signed_by_xero(body + b" ", good, ["new-key"])
    assert not signed_by_xero(body, None, ["new-key"])
    assert not signed_by_xero(body, "", ["new-key"])
    assert not signed_by_xero(body, "ø" + good, ["new-key"])


def test_the_signature_is_base64_hmac_sha256_of_the_raw_body() -> None:
    # Xero's documented example shape: base64 of a 32-byte digest.
    import base64

    assert len(base64.b64decode(xero_signature("k", b"x"))) == 32


def test_the_webhook_key_is_a_secret_refused_outside_development() -> None:
    with pytest.raises(ValidationError, match="RX_XERO_WEBHOOK_KEYS"):
        InboundSettings(
            env="production",
            token_keys=["dGVzdC1vbmx5LWtleS1uZXZlci1pbi1wcm9kLTAxMjM="],
            xero_client_secret="real",
        )
    settings = InboundSettings(
        env="production",
        token_keys=["dGVzdC1vbmx5LWtleS1uZXZlci1pbi1wcm9kLTAxMjM="],
        xero_client_secret="real",
        xero_webhook_keys="a, b",
    )
    assert [k.get_secret_value() for k in settings.xero_webhook_keys] == ["a", "b"]


# ------------------------------------------------------------------ payload


def test_xeros_payload_reads_with_naive_dates_as_utc() -> None:
    raw = {
        "events": [
            {
                "resourceUrl": "https://api.xero.com/api.xro/2.0/Invoices/x",
                "resourceId": "x",
                "eventDateUtc": "2025-12-02T00:44:09.923",
                "eventType": "UPDATE",
                "eventCategory": "INVOICE",
                "tenantId": "t",
                "tenantType": "ORGANISATION",
            }
        ],
        "firstEventSequence": 76,
        "lastEventSequence": 76,
        "entropy": "FXNGWLCCGVANWHKILRUB",
    }
    payload = XeroPayload.model_validate_json(json.dumps(raw))
    [event] = payload.events
    assert event.event_date_utc == datetime(2025, 12, 2, 0, 44, 9, 923000, tzinfo=UTC)
    assert XeroEvent.from_bytes(event.to_bytes()) == event


def test_xero_dates_in_both_forms() -> None:
    assert xero_moment("/Date(1764464400000+0000)/") == datetime(2025, 11, 30, 1, 0, tzinfo=UTC)
    assert xero_moment("2026-11-02T00:00:00") == datetime(2026, 11, 2, tzinfo=UTC)
    assert xero_moment(None) is None


# ------------------------------------------------------------------ rules


def test_the_url_names_the_roger_document_only_on_rogers_host() -> None:
    doc = roger_document(f"{APP}/companies/acme%2Fdk/bills/b%202", APP)
    assert doc is not None and (doc.kind, doc.roger_id) == ("bill", "b 2")
    assert roger_document("https://evil.example/companies/a/bills/b", APP) is None
    assert roger_document(None, APP) is None


def test_a_bill_made_in_xero_is_announced_once() -> None:
    now = bill_view(invoice(Url=None))
    assert types(bill_changes(None, now, APP, None, None)) == ["BillCreatedInXero"]
    assert bill_changes(now, now, APP, None, T0) == []
    assert bill_changes(None, bill_view(invoice(Url=None, Status="DELETED")), APP, None, None) == []


def test_our_own_bill_and_payment_are_never_echoed() -> None:
    created = bill_view(invoice())
    assert bill_changes(None, created, APP, None, None) == []
    paid = bill_view(
        invoice(
            Status="PAID",
            AmountPaid=100.0,
            AmountDue=0.0,
            Payments=[payment("Roger payment b 2/p1")],
        )
    )
    assert bill_changes(created, paid, APP, None, T0) == []


def test_payments_made_in_xero_say_paid_or_part_paid() -> None:
    before = bill_view(invoice())
    part = bill_view(invoice(AmountPaid=40.0, AmountDue=60.0, Payments=[payment("cash", 40)]))
    [change] = bill_changes(before, part, APP, None, T0)
    assert change.type == "BillPartPaidInXero" and change.payment is not None
    assert change.payment.amount == Decimal("40")
    full = bill_view(
        invoice(
            Status="PAID",
            AmountPaid=100.0,
            AmountDue=0.0,
            Payments=[payment("cash", 40), payment("bank", 60, "p-2")],
        )
    )
    assert types(bill_changes(part, full, APP, None, T0)) == ["BillPaidInXero"]


def test_a_void_is_ours_only_when_our_latest_result_says_so() -> None:
    before = bill_view(invoice())
    voided = bill_view(invoice(Status="VOIDED"))
    ours = OurWrite(status="VOIDED", total=None, recorded_at=T0 + timedelta(seconds=1))
    assert bill_changes(before, voided, APP, ours, T0) == []
    created = OurWrite(status="AUTHORISED", total=Decimal("100"), recorded_at=T0)
    assert types(bill_changes(before, voided, APP, created, T0)) == ["BillVoidedInXero"]
    stale = OurWrite(status="VOIDED", total=None, recorded_at=T0 - timedelta(seconds=1))
    assert types(bill_changes(before, voided, APP, stale, T0)) == ["BillVoidedInXero"]
    deleted = bill_view(invoice(Status="DELETED"))
    assert types(bill_changes(before, deleted, APP, None, T0)) == ["BillDeletedInXero"]


def test_edits_in_xero_list_each_field_before_and_after() -> None:
    before = bill_view(invoice())
    edited = bill_view(invoice(Total=120.0, AmountDue=120.0, DueDateString="2026-12-20T00:00:00"))
    [change] = bill_changes(before, edited, APP, None, T0)
    assert change.type == "BillEditedInXero"
    assert {(c.field, c.before, c.after) for c in change.changes} == {
        ("total", "100.0", "120.0"),
        ("due_date", "2026-12-02", "2026-12-20"),
    }
    ours = OurWrite(status="AUTHORISED", total=Decimal("120"), recorded_at=T0 + timedelta(1))
    assert bill_changes(before, edited, APP, ours, T0) == []


def test_contacts_archived_or_merged_once() -> None:
    active = contact_view({"ContactID": "c", "Name": "Paper", "ContactStatus": "ACTIVE"})
    archived = contact_view({"ContactID": "c", "Name": "Paper", "ContactStatus": "ARCHIVED"})
    merged = contact_view(
        {"ContactID": "c", "Name": "Paper", "ContactStatus": "ARCHIVED", "MergedToContactID": "d"}
    )
    assert types(contact_changes(active, archived)) == ["ContactArchivedInXero"]
    assert types(contact_changes(active, merged)) == ["ContactMergedInXero"]
    assert contact_changes(archived, archived) == []
    assert contact_changes(None, active) == []


def test_events_validate_against_the_checked_in_schema_and_ids_are_stable() -> None:
    assert (
        SCHEMA_PATH.read_text() == rendered()
    )  # regenerate: python -m services.xero_inbound.schema
    before = bill_view(invoice())
    part = bill_view(invoice(AmountPaid=40.0, AmountDue=60.0, Payments=[payment("cash", 40)]))
    [change] = bill_changes(before, part, APP, None, T0)
    one = change.addressed("acme/dk", "t", APP, T0)
    two = change.addressed("acme/dk", "t", APP, T0 + timedelta(hours=1))
    assert one.id == two.id
    assert one.roger_document is not None and one.roger_document.roger_id == "b 2"
    jsonschema.validate(json.loads(one.to_bytes()), sync_back_schema())
