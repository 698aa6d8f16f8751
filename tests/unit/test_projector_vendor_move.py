"""A bill that Roger moves to another vendor ends under that vendor's Xero contact.

bill.updated may name another vendor (the first was picked by mistake). The
rules never raise on it: the new vendor's contact is found or created first,
then the bill is updated with it; if Xero refuses the contact, the bill shows
``failed`` with Xero's reason, and a retry asks for the contact again.
"""

from __future__ import annotations

from decimal import Decimal

from services.projector.domain import decisions
from services.projector.domain.state import CompanyState
from shared.contracts.commands import CreateBill, EnsureContact, UpdateBill
from shared.contracts.domain_events import DomainEvent
from tests.support.projector_facts import answer, bill_data, connected, fact, step, vendor

FIRST = vendor("ven_print", "Tryk & Co ApS")
RIGHT = vendor("ven_freight", "Fragt Nord ApS")


def on_first_vendor(state: CompanyState) -> None:
    step(state, connected())
    [ensure] = step(state, fact("BillSubmitted", bill_data("b-moved", ven=FIRST), day=10))
    [create] = step(state, answer(ensure, "XeroContactLinked", xero_id="contact-print"))
    step(state, answer(create, "XeroBillCreated", xero_id="inv-moved"))


def moved() -> DomainEvent:
    return fact("BillUpdated", bill_data("b-moved", ven=RIGHT), day=11)


def test_the_new_vendors_contact_is_ensured_then_the_bill_updated_with_it() -> None:
    state = CompanyState("acme")
    on_first_vendor(state)

    [ensure] = step(state, moved())

    assert isinstance(ensure, EnsureContact) and ensure.vendor.id == "ven_freight"
    doc = state.docs[("bill", "b-moved")]
    assert (doc.state, doc.reason) == ("waiting", decisions.WAITING_FOR_CONTACT)

    [update] = step(state, answer(ensure, "XeroContactLinked", xero_id="contact-freight"))

    assert isinstance(update, UpdateBill)
    assert (update.invoice_id, update.contact_id) == ("inv-moved", "contact-freight")
    step(state, answer(update, "XeroBillUpdated", xero_id="inv-moved", xero_total=Decimal("21")))
    assert (doc.state, doc.xero_id, doc.warnings) == ("synced", "inv-moved", [])


def test_a_vendor_already_in_xero_takes_the_bill_at_once() -> None:
    state = CompanyState("acme")
    on_first_vendor(state)
    [ensure] = step(state, fact("BillSubmitted", bill_data("b-other", ven=RIGHT), day=10))
    [create] = step(state, answer(ensure, "XeroContactLinked", xero_id="contact-freight"))
    assert isinstance(create, CreateBill)

    [update] = step(state, moved())

    assert isinstance(update, UpdateBill) and update.contact_id == "contact-freight"


def test_a_contact_xero_refuses_shows_the_bill_failed_and_a_retry_asks_again() -> None:
    state = CompanyState("acme")
    on_first_vendor(state)
    [ensure] = step(state, moved())
    refusal = "The contact name Fragt Nord ApS is already assigned to another contact."

    assert step(state, answer(ensure, "XeroCommandFailed", message=refusal)) == []

    doc = state.docs[("bill", "b-moved")]
    assert doc.state == "failed" and refusal in (doc.reason or "")
    [again] = step(state, fact("DocumentRetryRequested", {"kind": "bill", "roger_id": "b-moved"}))
    assert isinstance(again, EnsureContact) and again.command_id != ensure.command_id
    [update] = step(state, answer(again, "XeroContactLinked", xero_id="contact-freight"))
    assert isinstance(update, UpdateBill) and update.contact_id == "contact-freight"
