"""xero_inbound's pure parts: Xero's signature, the payload, and what counts as a change
made in Xero (docs/contracts/roger-sync-back.md)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import jsonschema
import pytest
from pydantic import SecretStr, ValidationError

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
            token_keys=[SecretStr("dGVzdC1vbmx5LWtleS1uZXZlci1pbi1wcm9kLTAxMjM=")],
            xero_client_secret=SecretStr("real"),
        )
    # The keys as RX_XERO_WEBHOOK_KEYS gives them, comma separated: the settings' own
    # validation splits them.
    settings = InboundSettings.model_validate(
        {
            "env": "production",
            "token_keys": ["dGVzdC1vbmx5LWtleS1uZXZlci1pbi1wcm9kLTAxMjM="],
            "xero_client_secret": "real",
            "xero_webhook_keys": "a, b",
        }
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
    assert xero_moment("/Date(999999999999999999+0000)/") is None  # past datetime's range


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


def test_a_bill_never_looked_at_is_compared_with_our_last_write() -> None:
    # Issue 15, bug 1: voided (or its total edited) in Xero before inbound first looked.
    written = OurWrite(status="AUTHORISED", total=Decimal("100.00"), recorded_at=T0)
    voided = bill_view(invoice(Status="VOIDED"))
    [void] = bill_changes(None, voided, APP, written, None)
    assert void.type == "BillVoidedInXero" and void.bill == voided
    deleted = bill_view(invoice(Status="DELETED"))
    assert types(bill_changes(None, deleted, APP, written, None)) == ["BillDeletedInXero"]
    edited = bill_view(invoice(Total=120.0, AmountDue=120.0))
    [edit] = bill_changes(None, edited, APP, written, None)
    assert edit.type == "BillEditedInXero"
    assert [(c.field, c.before, c.after) for c in edit.changes] == [("total", "100.00", "120.0")]
    # Equal to our last write: our own echo, nothing.
    assert bill_changes(None, bill_view(invoice()), APP, written, None) == []
    ours = OurWrite(status="VOIDED", total=None, recorded_at=T0)
    assert bill_changes(None, voided, APP, ours, None) == []
    # Paid by Roger: the status moved (PAID) but neither a void nor an edit; no echo.
    paid = bill_view(
        invoice(
            Status="PAID",
            AmountPaid=100.0,
            AmountDue=0.0,
            Payments=[payment("Roger payment b 2/p1")],
        )
    )
    assert bill_changes(None, paid, APP, written, None) == []
    # Neither an earlier view nor a write of ours: nothing can be told apart.
    assert bill_changes(None, voided, APP, None, None) == []


def test_a_payment_deleted_in_xero_is_reported_and_one_roger_reversed_is_not() -> None:
    # Issue 15, bug 2.
    two = [payment("cash", 40), payment("Roger payment b 2/p1", 60, "p-2")]
    before = bill_view(invoice(Status="PAID", AmountPaid=100.0, AmountDue=0.0, Payments=two))
    # Xero's bill leaves a deleted payment out of its Payments.
    after = bill_view(invoice(AmountPaid=60.0, AmountDue=40.0, Payments=two[1:]))
    [change] = bill_changes(before, after, APP, None, T0)
    assert change.type == "PaymentDeletedInXero" and change.xero_id == after.xero_id
    assert change.payment is not None and change.payment.xero_id == "p-1"
    assert change.payment.status == "DELETED" and change.payment.amount == Decimal("40")
    assert change.bill == after
    # Listed as DELETED counts the same.
    listed = bill_view(
        invoice(AmountPaid=60.0, AmountDue=40.0, Payments=[{**two[0], "Status": "DELETED"}, two[1]])
    )
    assert types(bill_changes(before, listed, APP, None, T0)) == ["PaymentDeletedInXero"]
    # Roger's payment deleted by an accountant is Xero's change; reversed by Roger, ours.
    none_left = bill_view(invoice(AmountPaid=0.0, AmountDue=100.0, Payments=[]))
    assert types(bill_changes(before, none_left, APP, None, T0)) == ["PaymentDeletedInXero"] * 2
    reversed_ = bill_changes(before, none_left, APP, None, T0, frozenset({"p-2"}))
    assert [c.payment.xero_id for c in reversed_ if c.payment] == ["p-1"]
    # Each deletion has its own stable id, and the event matches the schema.
    event = change.addressed("acme/dk", "t", APP, T0)
    assert event.id == change.addressed("acme/dk", "t", APP, T0 + timedelta(1)).id
    jsonschema.validate(json.loads(event.to_bytes()), sync_back_schema())


def _webhook_app(max_body: int = 1024) -> Any:
    from fastapi import FastAPI

    from services.xero_inbound.routes import Inbound, inbound_router

    inbound = Inbound(InboundSettings(xero_webhook_keys=[SecretStr("k")]))
    inbound.start()
    app = FastAPI()
    app.include_router(inbound_router(inbound=inbound, max_body=max_body))
    return app


def test_an_oversized_webhook_is_refused_with_413_before_it_is_read_whole() -> None:
    # Issue 15, bug 3: unsigned 300 MB POSTs were read in full before the signature check.
    import asyncio
    from collections.abc import AsyncIterator

    import httpx

    pulled: list[int] = []

    async def endless() -> AsyncIterator[bytes]:
        for n in range(10_000):  # 10,000 x 512 B = 5 MB, if it were all read
            pulled.append(n)
            yield b"x" * 512

    async def run() -> list[int]:
        transport = httpx.ASGITransport(app=_webhook_app(max_body=1024))
        async with httpx.AsyncClient(transport=transport, base_url="http://ingest") as http:
            url = "/v1/xero/webhooks"
            streamed = await http.post(url, content=endless())
            declared = await http.post(url, content=b"{}", headers={"content-length": str(2 << 20)})
            body = b'{"events":[],"firstEventSequence":0,"lastEventSequence":0}'
            small_unsigned = await http.post(url, content=body)
            small_signed = await http.post(
                url, content=body, headers={"x-xero-signature": xero_signature("k", body)}
            )
            junk = b"not json"
            signed_junk = await http.post(
                url, content=junk, headers={"x-xero-signature": xero_signature("k", junk)}
            )
            return [
                streamed.status_code,
                declared.status_code,
                small_unsigned.status_code,
                small_signed.status_code,
                signed_junk.status_code,
            ]

    assert asyncio.run(run()) == [413, 413, 401, 200, 200]
    assert len(pulled) <= 4  # 1 KiB cap: a few 512 B chunks read, not 10,000
