"""Line tracking checked against the organisation's tracking categories before sending.

Unknown category or option -> the document fails with a reason naming both, and nothing is
sent; the categories are read once and kept (``org_facts.py``), read again on a miss, and
forgotten when Xero refuses tracking anyway.
"""

from __future__ import annotations

from decimal import Decimal

from services.xero_writer import org_facts
from services.xero_writer.org_facts import OrgFacts
from shared.contracts.commands import BillLine, CreateBill, UpdateBill
from shared.contracts.roger_events import Tracking
from tests.support.fake_xero import FakeXero, writer_on
from tests.support.writer_commands import create_bill, create_credit_note


def _contact(xero: FakeXero) -> str:
    xero.contacts["c-1"] = {"ContactID": "c-1", "Name": "Messe Stande ApS"}
    return "c-1"


def _tracked(bill: CreateBill, *tracking: tuple[str, str]) -> CreateBill:
    line = BillLine(
        description="Stand rental",
        quantity=Decimal("1"),
        unit_amount=Decimal("2000.00"),
        account_code="429",
        tracking=tuple(Tracking(name=n, option=o) for n, o in tracking),
    )
    return bill.model_copy(update={"lines": (line,)})


def _with_facts(clock: list[float]) -> OrgFacts:
    """A cache shared by every batch of the test, as the writer's lanes share one."""
    facts = OrgFacts(ttl_s=300, clock=lambda: clock[0])
    org_facts.FACTS.set(facts)
    return facts


async def test_an_unknown_option_fails_the_bill_naming_category_and_option() -> None:
    w = writer_on()
    w.xero.tracking_categories = {"Region": ["North", "South"]}
    bill = _tracked(create_bill("MS-2", _contact(w.xero)), ("Region", "Atlantis"))

    [result] = (await w.run(bill)).values()

    assert result.type == "XeroCommandFailed"
    message = result.message or ""
    assert 'tracking option "Atlantis"' in message and 'category "Region"' in message
    assert '"North", "South"' in message and "retry" in message
    assert w.xero.invoices == {}
    assert not w.xero.calls_to("PUT", "/Invoices")


async def test_an_unknown_category_fails_only_its_own_bill_in_a_batch() -> None:
    w = writer_on()
    w.xero.tracking_categories = {"Region": ["North"]}
    contact = _contact(w.xero)
    good = _tracked(create_bill("G-1", contact), ("region", "NORTH"))
    bad = _tracked(create_bill("B-1", contact), ("Project", "Expo 2026"))
    plain = create_bill("P-1", contact)

    results = await w.run(good, bad, plain)

    assert results[good.command_id].type == "XeroBillCreated"
    assert results[plain.command_id].type == "XeroBillCreated"
    failed = results[bad.command_id]
    assert failed.type == "XeroCommandFailed"
    assert 'tracking category "Project" (option "Expo 2026")' in (failed.message or "")
    assert '"Region"' in (failed.message or "")
    assert len(w.xero.invoices) == 2


async def test_bills_without_tracking_never_read_the_categories() -> None:
    w = writer_on()
    await w.run(create_bill("P-1", _contact(w.xero)))
    assert not w.xero.calls_to("GET", "/TrackingCategories")


async def test_categories_are_read_once_and_again_when_a_line_names_a_new_option() -> None:
    clock = [1000.0]
    _with_facts(clock)
    w = writer_on()
    contact = _contact(w.xero)
    w.xero.tracking_categories = {"Region": ["North"]}

    first = await w.run(_tracked(create_bill("A-1", contact), ("Region", "North")))
    second = await w.run(_tracked(create_bill("A-2", contact), ("Region", "North")))
    assert [r.type for r in (*first.values(), *second.values())] == ["XeroBillCreated"] * 2
    assert len(w.xero.calls_to("GET", "/TrackingCategories")) == 1  # kept

    # The accountant adds an option in Xero: a line naming it reads the categories again.
    w.xero.tracking_categories["Region"].append("Atlantis")
    clock[0] += 10
    [added] = (await w.run(_tracked(create_bill("A-3", contact), ("Region", "Atlantis")))).values()
    assert added.type == "XeroBillCreated"
    assert len(w.xero.calls_to("GET", "/TrackingCategories")) == 2

    # Past the TTL, the next tracked bill reads them again.
    clock[0] += 301
    await w.run(_tracked(create_bill("A-4", contact), ("Region", "North")))
    assert len(w.xero.calls_to("GET", "/TrackingCategories")) == 3


async def test_xero_refusing_tracking_forgets_the_kept_categories_and_names_the_tracking() -> None:
    clock = [1000.0]
    facts = _with_facts(clock)
    w = writer_on()
    contact = _contact(w.xero)
    w.xero.tracking_categories = {"Region": ["North"]}
    await w.run(_tracked(create_bill("A-1", contact), ("Region", "North")))

    # Archived in Xero after we read it: our copy still has it, Xero refuses.
    w.xero.tracking_categories = {}
    [refused] = (await w.run(_tracked(create_bill("A-2", contact), ("Region", "North")))).values()

    assert refused.type == "XeroCommandFailed"
    assert "Unknown tracking details" in (refused.message or "")
    assert '"Region": "North"' in (refused.message or "")
    [again] = (await w.run(_tracked(create_bill("A-3", contact), ("Region", "North")))).values()
    assert 'tracking category "Region"' in (again.message or "")
    assert facts is org_facts.FACTS.get()


async def test_credit_notes_and_updates_are_checked_too() -> None:
    w = writer_on()
    w.xero.tracking_categories = {"Region": ["North"]}
    contact = _contact(w.xero)
    [made] = (await w.run(_tracked(create_bill("U-1", contact), ("Region", "North")))).values()
    tracked = _tracked(create_bill("U-1", contact), ("Region", "West"))
    update = UpdateBill(
        **tracked.model_dump(exclude={"kind", "command_id", "due_date"}),
        command_id="update-u-1",
        invoice_id=made.xero_id or "",
    )
    note = create_credit_note("CN-1", contact, Decimal("50"))
    note = note.model_copy(update={"lines": tracked.lines})

    results = await w.run(note)
    [updated] = (await w.run(update)).values()

    assert 'option "West"' in (results[note.command_id].message or "")
    assert updated.type == "XeroCommandFailed" and 'option "West"' in (updated.message or "")
    assert w.xero.credit_notes == {}
