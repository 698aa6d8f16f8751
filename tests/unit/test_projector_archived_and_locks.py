"""Issue 12 in the projector: a vendor's contact merged in Xero, and the lock-date policy."""

from __future__ import annotations

from decimal import Decimal

from services.projector.domain.state import CompanyState
from shared.contracts.commands import CreateBill
from tests.support.projector_facts import answer, bill_data, connected, fact, step, vendor

MERGED = (
    "the vendor's Xero contact contact-old was merged into contact contact-new in Xero "
    "(MergedToContactID): posted to that contact, which is the vendor's contact from now on"
)


def test_a_bill_posted_to_the_survivor_moves_the_vendor_and_says_so() -> None:
    state = CompanyState("acme")
    step(state, connected())
    [ensure] = step(state, fact("BillSubmitted", bill_data("b1", ven=vendor()), day=10))
    [create] = step(state, answer(ensure, "XeroContactLinked", xero_id="contact-old"))
    assert isinstance(create, CreateBill) and create.contact_id == "contact-old"

    step(
        state,
        answer(
            create,
            "XeroBillCreated",
            xero_id="inv-1",
            xero_total=Decimal("21.00"),
            contact_id="contact-new",
            message=MERGED,
        ),
    )

    doc = state.docs[("bill", "b1")]
    assert (doc.state, doc.warnings) == ("synced", [MERGED])
    assert state.vendors["ven_1"].contact_id == "contact-new"
    [second] = step(state, fact("BillSubmitted", bill_data("b2", ven=vendor()), day=11))
    assert isinstance(second, CreateBill) and second.contact_id == "contact-new"


def test_the_lock_date_policy_of_the_connection_goes_with_each_document() -> None:
    state = CompanyState("acme")
    step(state, connected())
    [ensure] = step(state, fact("BillSubmitted", bill_data("b1", ven=vendor()), day=10))
    [create] = step(state, answer(ensure, "XeroContactLinked", xero_id="c"))
    assert isinstance(create, CreateBill) and create.lock_date_policy == "fail"

    chosen = connected(day=12)
    step(state, fact(chosen.type, {**chosen.data, "lock_date_policy": "next_open_day"}, day=12))
    [later] = step(state, fact("BillSubmitted", bill_data("b2", ven=vendor()), day=13))
    assert isinstance(later, CreateBill) and later.lock_date_policy == "next_open_day"
