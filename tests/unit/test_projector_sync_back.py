"""What comes back from Xero (``roger.sync-back``) in a document's state, and conflicts.

A change made in Xero is recorded on the document (``in_xero``, history) and never
decides a command; Roger's change that meets one is held for a person (``conflict``),
never pushed over the accountant's change, and a person's retry sends Roger's version.
"""

from __future__ import annotations

import json
import uuid
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from services.projector.application import IN_MEMORY, SyncApplication
from services.projector.domain import decisions, xero_changes
from services.projector.domain.aggregate import CompanySync
from services.projector.domain.projection import document_row
from services.projector.domain.state import CompanyState
from services.projector.domain.xero_changes import SyncBackRecord
from shared.contracts.commands import (
    AnyCommand,
    CreateBill,
    CreatePayment,
    DeletePayment,
    UpdateBill,
    VoidBill,
)
from shared.contracts.topics import ROGER_SYNC_BACK
from tests.support.projector_facts import (
    APP,
    COMPANY,
    NOW,
    answer,
    at,
    bill_data,
    connected,
    fact,
    paid_data,
    step,
)

APP_URL = "https://app.roger.example"


def change(
    type_: str,
    *,
    roger_id: str | None = "b1",
    xero_id: str = "inv-1",
    status: str = "AUTHORISED",
    total: str = "21.00",
    paid: str = "0.00",
    due: str = "21.00",
    payment: dict[str, Any] | None = None,
    contact: dict[str, Any] | None = None,
    changes: list[dict[str, Any]] | None = None,
    day: int = 26,
    record_id: str | None = None,
) -> dict[str, Any]:
    """A ``roger.sync-back`` record as xero_inbound publishes it (docs/contracts)."""
    bill: dict[str, Any] | None = (
        None
        if contact is not None
        else {
            "xero_id": xero_id,
            "number": "INV-1",
            "status": status,
            "contact_id": "contact-paper",
            "currency": "DKK",
            "date": "2026-11-02",
            "due_date": "2026-12-02",
            "total": total,
            "amount_paid": paid,
            "amount_due": due,
            "url": f"{APP_URL}/companies/{COMPANY}/bills/{roger_id}" if roger_id else None,
            "updated_at": at(day).isoformat(),
            "payments": [],
        }
    )
    return {
        "id": record_id or str(uuid.uuid4()),
        "type": type_,
        "company_id": COMPANY,
        "tenant_id": "tenant-a",
        "xero_id": contact["xero_id"] if contact else xero_id,
        "occurred_at": at(day).isoformat(),
        "detected_at": at(day, 10).isoformat(),
        "roger_document": {"kind": "bill", "roger_id": roger_id} if roger_id else None,
        "bill": bill,
        "payment": payment,
        "contact": contact,
        "changes": changes or [],
    }


def record(state: CompanyState, raw: dict[str, Any]) -> list[AnyCommand]:
    """Applies a sync-back record as the aggregate does: recorded, nothing decided."""
    xero_changes.apply_change(state, SyncBackRecord.model_validate(raw))
    return []


def synced_bill(state: CompanyState, total: str = "21.00") -> CreateBill:
    step(state, connected())
    [ensure] = step(state, fact("BillSubmitted", bill_data("b1", total=total), day=2))
    [create] = step(state, answer(ensure, "XeroContactLinked", xero_id="contact-paper"))
    assert isinstance(create, CreateBill)
    step(state, answer(create, "XeroBillCreated", xero_id="inv-1", xero_total=Decimal(total)))
    return create


def by_hand(amount: str, on: str = "2026-11-03") -> dict[str, Any]:
    return {
        "xero_id": "pay-x",
        "date": on,
        "amount": amount,
        "reference": "paid by hand",
        "status": "AUTHORISED",
    }


def test_paid_in_xero_shows_on_the_document_and_decides_nothing() -> None:
    company = CompanySync(company_id=COMPANY, app_url=APP)
    company.record_fact(connected().model_dump(mode="json"), NOW)
    company.record_fact(fact("BillSubmitted", bill_data("b1"), day=2).model_dump(mode="json"), NOW)
    [ensure] = company.last_commands
    company.record_answer(
        answer(ensure, "XeroContactLinked", xero_id="contact-paper").model_dump(mode="json"), NOW
    )
    [create] = company.last_commands
    company.record_answer(
        answer(create, "XeroBillCreated", xero_id="inv-1", xero_total=Decimal(21)).model_dump(
            mode="json"
        ),
        NOW,
    )

    raw = change("BillPaidInXero", status="PAID", paid="21.00", due="0.00", payment=by_hand("21"))
    company.record_xero_change(raw, NOW)

    assert company.last_commands == []  # a change in Xero never writes back to Xero
    doc = company.state.docs[("bill", "b1")]
    assert doc.state == "synced" and doc.conflict is None
    row = document_row(COMPANY, doc, company.state)
    in_xero = row["detail"]["in_xero"]
    assert in_xero["summary"] == "paid in Xero on 2026-11-03 (21)"
    assert in_xero["status"] == "PAID" and in_xero["amount_due"] == "0.00"
    assert in_xero["payments"][0]["reference"] == "paid by hand"
    [(key, entry)] = company.last_effects.history
    assert key == ("bill", "b1")
    assert entry["source"] == "xero" and entry["type"] == "BillPaidInXero"
    assert entry["note"] == "paid in Xero on 2026-11-03 (21)"


def test_the_same_change_twice_is_recorded_once() -> None:
    state = CompanyState(COMPANY)
    synced_bill(state)
    raw = change("BillPartPaidInXero", paid="5.00", due="16.00", payment=by_hand("5"))
    first = xero_changes.apply_change(state, SyncBackRecord.model_validate(raw))
    again = xero_changes.apply_change(state, SyncBackRecord.model_validate(raw))
    assert len(first.history) == 1 and again.history == [] and not again.touched
    side = state.docs[("bill", "b1")].in_xero
    assert side is not None and len(side.payments) == 1
    assert side.summary == "part-paid in Xero on 2026-11-03: 5 paid, 16.00 due"


def test_a_change_about_a_document_we_do_not_have_changes_nothing() -> None:
    state = CompanyState(COMPANY)
    synced_bill(state)
    effects = xero_changes.apply_change(
        state, SyncBackRecord.model_validate(change("BillVoidedInXero", roger_id="unknown"))
    )
    assert not effects.touched and ("bill", "unknown") not in state.docs


def test_edited_in_xero_then_updated_in_roger_is_held_for_a_person_then_retried() -> None:
    state = CompanyState(COMPANY)
    synced_bill(state)
    edit = [{"field": "total", "before": "21.00", "after": "25.00"}]
    record(state, change("BillEditedInXero", total="25.00", due="25.00", changes=edit))
    doc = state.docs[("bill", "b1")]
    assert doc.state == "synced" and doc.conflict is None  # Xero's change alone: shown only
    assert doc.in_xero is not None and doc.in_xero.edited_since_sync

    held = step(state, fact("BillUpdated", bill_data("b1", total="30.00"), day=27))

    assert held == []  # Roger's version is not pushed over the accountant's edit
    assert doc.state == "failed" and doc.reason is not None and "conflict" in doc.reason
    conflict = document_row(COMPANY, doc, state)["detail"]["conflict"]
    assert conflict["roger"]["total"] == "30.00" and conflict["xero"]["total"] == "25.00"
    assert conflict["xero_holds"] == "xero"
    assert document_row(COMPANY, doc)["retryable"] is True

    [update] = step(state, fact("DocumentRetryRequested", {"kind": "bill", "roger_id": "b1"}))

    assert isinstance(update, UpdateBill) and update.total == Decimal("30.00")
    assert doc.conflict is None
    step(state, answer(update, "XeroBillUpdated", xero_id="inv-1", xero_total=Decimal(30)))
    assert doc.state == "synced"
    assert doc.in_xero is not None and not doc.in_xero.edited_since_sync


def test_a_roger_update_waiting_to_go_when_xero_edits_is_held_too() -> None:
    state = CompanyState(COMPANY)
    step(state, connected())
    [ensure] = step(state, fact("BillSubmitted", bill_data("b1"), day=2))
    [create] = step(state, answer(ensure, "XeroContactLinked", xero_id="contact-paper"))
    step(state, answer(create, "XeroBillCreated", xero_id="inv-1", xero_total=Decimal(21)))
    [pay] = step(state, fact("BillPaid", paid_data("b1", "p1", "21.00"), day=3))
    # Roger's update waits for the payment in flight (one step at a time per bill)
    assert step(state, fact("BillUpdated", bill_data("b1", total="22.00"), day=4)) == []
    doc = state.docs[("bill", "b1")]
    edit = [{"field": "due_date", "before": "2026-12-02", "after": "2026-12-24"}]
    record(state, change("BillEditedInXero", changes=edit))
    # The payment's answer frees the bill's next step, but the bill is held now.
    decided = step(state, answer(pay, "XeroPaymentCreated", xero_id="pay-1", amount=Decimal(21)))
    assert not [c for c in decided if isinstance(c, UpdateBill | DeletePayment)]
    assert doc.state == "failed" and doc.conflict is not None


def test_voided_in_xero_then_deleted_in_roger_agree_and_nothing_is_voided() -> None:
    state = CompanyState(COMPANY)
    synced_bill(state)
    record(state, change("BillVoidedInXero", status="VOIDED"))
    doc = state.docs[("bill", "b1")]
    assert doc.in_xero is not None and doc.in_xero.summary == "voided in Xero on 2026-11-26"

    commands = step(state, fact("BillDeleted", {"bill_id": "b1"}, day=27))

    assert not [c for c in commands if isinstance(c, VoidBill)]
    assert doc.state == "deleted"


def test_a_roger_payment_of_a_bill_voided_in_xero_is_held() -> None:
    state = CompanyState(COMPANY)
    synced_bill(state)
    record(state, change("BillVoidedInXero", status="VOIDED"))

    commands = step(state, fact("BillPaid", paid_data("b1", "p1", "21.00"), day=27))

    assert commands == []
    doc = state.docs[("bill", "b1")]
    assert doc.state == "failed" and doc.conflict is not None
    assert doc.payments["p1"].state == "waiting"
    assert doc.payments["p1"].reason == decisions.HELD
    # The person's retry makes the bill again in Xero from Roger's version.
    [again] = step(state, fact("DocumentRetryRequested", {"kind": "bill", "roger_id": "b1"}))
    assert isinstance(again, CreateBill) and doc.xero_id is None


def test_paid_in_xero_then_paid_in_roger_is_held_not_paid_twice() -> None:
    state = CompanyState(COMPANY)
    synced_bill(state)
    record(
        state,
        change("BillPaidInXero", status="PAID", paid="21.00", due="0.00", payment=by_hand("21")),
    )

    commands = step(state, fact("BillPaid", paid_data("b1", "p1", "21.00"), day=27))

    assert commands == []
    doc = state.docs[("bill", "b1")]
    assert doc.conflict is not None and "more than the 0.00 Xero has due" in doc.conflict.reason


def test_part_paid_in_xero_leaves_room_for_rogers_payment_of_the_rest() -> None:
    state = CompanyState(COMPANY)
    synced_bill(state)
    record(state, change("BillPartPaidInXero", paid="5.00", due="16.00", payment=by_hand("5")))

    [pay] = step(state, fact("BillPaid", paid_data("b1", "p1", "16.00"), day=27))

    assert isinstance(pay, CreatePayment) and pay.amount == Decimal("16.00")


def test_roger_payment_pending_when_xero_is_paid_by_hand_is_held() -> None:
    state = CompanyState(COMPANY)
    step(state, connected())
    [ensure] = step(state, fact("BillSubmitted", bill_data("b1"), day=2))
    # The payment comes before the bill is in Xero: it waits for the bill.
    step(state, fact("BillPaid", paid_data("b1", "p1", "21.00"), day=3))
    [create] = step(state, answer(ensure, "XeroContactLinked", xero_id="contact-paper"))
    record(
        state,
        change("BillPaidInXero", status="PAID", paid="21.00", due="0.00", payment=by_hand("21")),
    )
    decided = step(state, answer(create, "XeroBillCreated", xero_id="inv-1", xero_total=21))
    assert not [c for c in decided if isinstance(c, CreatePayment)]


def test_bills_made_in_xero_are_listed_for_the_company() -> None:
    state = CompanyState(COMPANY)
    synced_bill(state)
    record(state, change("BillCreatedInXero", roger_id=None, xero_id="inv-x", total="50.00"))
    assert state.xero_bills is not None
    assert state.xero_bills["inv-x"]["total"] == "50.00"
    assert state.xero_bills["inv-x"]["number"] == "INV-1"


def test_a_contact_archived_or_merged_in_xero_shows_on_its_vendors_documents() -> None:
    state = CompanyState(COMPANY)
    synced_bill(state)
    contact = {
        "xero_id": "contact-paper",
        "name": "Nordic Paper",
        "status": "ARCHIVED",
        "merged_into": "contact-2",
        "updated_at": at(26).isoformat(),
    }
    effects = xero_changes.apply_change(
        state, SyncBackRecord.model_validate(change("ContactMergedInXero", contact=contact))
    )
    assert ("bill", "b1") in effects.touched
    link = state.vendors["ven_1"]
    assert link.contact_status == "merged" and link.merged_into == "contact-2"
    side = state.docs[("bill", "b1")].in_xero
    assert side is not None and side.summary.startswith("contact merged in Xero into contact-2")
    roger = document_row(COMPANY, state.docs[("bill", "b1")], state)["detail"]["roger"]
    assert roger["contact_id"] == "contact-paper" and roger["contact_status"] == "merged"


def test_reconcile_resends_what_xero_lacks_under_new_command_ids() -> None:
    state = CompanyState(COMPANY)
    create = synced_bill(state)
    [pay] = step(state, fact("BillPaid", paid_data("b1", "p1", "21.00"), day=3))
    step(state, answer(pay, "XeroCommandFailed", message="Xero was down"))  # never in Xero

    def resend(what: str, **more: Any) -> list[AnyCommand]:
        data = {"kind": "bill", "roger_id": "b1", "resend": what, "reason": "test", **more}
        return step(state, fact("DocumentRetryRequested", data))

    [again] = resend("payment", payment_id="p1")
    assert isinstance(again, CreatePayment) and again.command_id != pay.command_id
    step(state, answer(again, "XeroPaymentCreated", xero_id="pay-2", amount=Decimal(21)))

    first = resend("update")  # a person's choice of Roger's version over Xero's
    # Xero refuses edits of a bill with payments: the payment leaves first, then the update.
    assert [type(c) for c in first] == [DeletePayment]
    [update] = step(state, answer(first[0], "XeroPaymentDeleted", xero_id="pay-2"))
    assert isinstance(update, UpdateBill) and update.total == Decimal("21.00")
    step(state, answer(update, "XeroBillUpdated", xero_id="inv-1", xero_total=Decimal(21)))

    [remake] = [c for c in resend("document") if isinstance(c, CreateBill)]
    assert remake.command_id != create.command_id


def test_the_application_reads_sync_back_records_and_refuses_unreadable_ones() -> None:
    app = SyncApplication("", APP, persistence=IN_MEMORY)
    offset = 0

    def feed(topic: str, value: bytes) -> list[AnyCommand]:
        nonlocal offset
        offset += 1
        return app.process(topic, 0, offset, value)

    feed("rx.domain-events.v1", connected().to_bytes())
    [ensure] = feed("rx.domain-events.v1", fact("BillSubmitted", bill_data("b1"), day=2).to_bytes())
    linked = answer(ensure, "XeroContactLinked", xero_id="contact-paper")
    [create] = feed("rx.xero-results.v1", linked.to_bytes())
    done = answer(create, "XeroBillCreated", xero_id="inv-1", xero_total=Decimal(21))
    feed("rx.xero-results.v1", done.to_bytes())

    raw = change("BillVoidedInXero", status="VOIDED")
    assert feed(ROGER_SYNC_BACK, json.dumps(raw).encode()) == []
    # Unreadable: refused, so the consumer loop dead-letters it (roger.sync-back.dlq) and
    # moves on; the change already shown stays.
    with pytest.raises(ValidationError):
        feed(ROGER_SYNC_BACK, b"{not json")
    side = app.company(COMPANY).state.docs[("bill", "b1")].in_xero
    assert side is not None and side.gone == "voided"


def test_a_bill_moved_by_a_contact_merge_is_no_conflict_in_either_order() -> None:
    merged = {
        "xero_id": "contact-paper",
        "name": "Nordic Paper",
        "status": "ARCHIVED",
        "merged_into": "contact-2",
    }
    moved = [{"field": "contact_id", "before": "contact-paper", "after": "contact-2"}]
    for first_merge in (True, False):
        state = CompanyState(COMPANY)
        synced_bill(state)
        records = [
            change("ContactMergedInXero", contact=merged),
            change("BillEditedInXero", changes=moved),
        ]
        for raw in records if first_merge else records[::-1]:
            record(state, raw)

        [update] = step(state, fact("BillUpdated", bill_data("b1", total="30.00"), day=27))

        assert isinstance(update, UpdateBill), first_merge
        assert state.docs[("bill", "b1")].conflict is None


def test_a_resend_of_a_payment_already_in_xero_is_refused_and_changes_nothing() -> None:
    state = CompanyState(COMPANY)
    synced_bill(state)
    [pay] = step(state, fact("BillPaid", paid_data("b1", "p1", "21.00"), day=3))
    step(state, answer(pay, "XeroPaymentCreated", xero_id="pay-1", amount=Decimal(21)))
    doc = state.docs[("bill", "b1")]
    data = {"kind": "bill", "roger_id": "b1", "resend": "payment", "payment_id": "p1"}

    # The domain leaves it (a fact published before the read API refused it).
    assert step(state, fact("DocumentRetryRequested", {**data, "reason": "t"})) == []
    payment = doc.payments["p1"]
    assert (payment.state, payment.xero_id) == ("synced", "pay-1")
    assert doc.state == "synced"

    # The read API refuses it: 409 naming why, and 404 for a payment it does not have.
    from services.projector.api import ResendRequest, resend_refusal
    from services.projector.views import DocumentState

    row = document_row(COMPANY, doc, state)
    payments = {
        p["payment_id"]: {"state": p["state"], "xero_id": p["xero_id"], "reversed": False}
        for p in row["payments"]
    }
    found = DocumentState(row["state"], row["retryable"], False, payments, row["xero_id"])
    body = ResendRequest(resend="payment", payment_id="p1")
    refused = resend_refusal(found, body)
    assert refused is not None and refused.status == 409
    assert refused.code == "payment_in_xero" and "pay-1" in refused.message
    unknown = resend_refusal(found, ResendRequest(resend="payment", payment_id="p9"))
    assert unknown is not None and unknown.status == 404
    # The bill itself is in Xero: resending it would overwrite an accountant's edit there.
    in_xero = resend_refusal(found, ResendRequest(resend="document"))
    assert in_xero is not None and in_xero.status == 409 and in_xero.code == "document_in_xero"
    gone = DocumentState(row["state"], row["retryable"], False, payments, row["xero_id"], True)
    assert resend_refusal(gone, ResendRequest(resend="document")) is None  # voided there
    never = DocumentState(row["state"], row["retryable"], False, payments)
    assert resend_refusal(never, ResendRequest(resend="document")) is None  # Xero never got it


def test_a_resend_of_a_payment_xero_never_got_makes_it() -> None:
    state = CompanyState(COMPANY)
    synced_bill(state)
    [pay] = step(state, fact("BillPaid", paid_data("b1", "p1", "21.00"), day=3))
    step(state, answer(pay, "XeroCommandFailed", message="Xero was down"))
    doc = state.docs[("bill", "b1")]
    assert doc.payments["p1"].state == "failed" and doc.payments["p1"].xero_id is None

    data = {"kind": "bill", "roger_id": "b1", "resend": "payment", "payment_id": "p1"}
    [again] = step(state, fact("DocumentRetryRequested", data))

    assert isinstance(again, CreatePayment) and again.command_id != pay.command_id


def test_a_retry_after_a_void_in_xero_asks_the_writer_to_make_a_new_bill() -> None:
    state = CompanyState(COMPANY)
    create = synced_bill(state)
    assert create.remake_gone is False  # a first CreateBill takes our bill found by Url
    record(state, change("BillVoidedInXero", status="VOIDED"))
    step(state, fact("BillUpdated", bill_data("b1", total="30.00"), day=27))  # held
    doc = state.docs[("bill", "b1")]
    assert doc.conflict is not None

    [again] = step(state, fact("DocumentRetryRequested", {"kind": "bill", "roger_id": "b1"}))

    assert isinstance(again, CreateBill) and again.remake_gone is True
    step(state, answer(again, "XeroBillCreated", xero_id="inv-2", xero_total=Decimal(30)))
    assert (doc.state, doc.xero_id, doc.remake_gone) == ("synced", "inv-2", False)


def test_a_payment_deleted_in_xero_shows_and_rogers_own_waits_for_a_person() -> None:
    state = CompanyState(COMPANY)
    synced_bill(state)
    [pay] = step(state, fact("BillPaid", paid_data("b1", "p1", "21.00"), day=3))
    step(state, answer(pay, "XeroPaymentCreated", xero_id="pay-1", amount=Decimal(21)))
    gone = {**by_hand("21"), "xero_id": "pay-1", "reference": "Roger payment p1"}
    raw = change("PaymentDeletedInXero", paid="0.00", due="21.00", payment=gone)
    assert record(state, raw) == []  # nothing made again on its own
    doc = state.docs[("bill", "b1")]
    payment = doc.payments["p1"]
    assert payment.state == "failed" and "deleted in Xero by a person" in (payment.reason or "")
    assert doc.in_xero is not None and doc.in_xero.amount_due == Decimal("21.00")
    assert doc.in_xero.summary is not None and doc.in_xero.summary.startswith("payment of 21")
    assert all(p.get("xero_id") != "pay-1" for p in doc.in_xero.payments)
