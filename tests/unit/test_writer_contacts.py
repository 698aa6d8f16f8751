"""The writer never merges two suppliers into one Xero contact (shared-billing-email case)."""

from __future__ import annotations

from shared.contracts.commands import EnsureContact, UpdateContact, command_id
from shared.contracts.roger_events import Vendor
from tests.support.fake_xero import writer_on
from tests.support.writer_commands import COMPANY, ISSUED, TENANT

MAILBOX = "post@shared-bookkeeping.example"
ALPHA = Vendor(id="ven_alpha", name="Alpha Print ApS", email=MAILBOX, tax_number="DK11111111")
BETA = Vendor(id="ven_beta", name="Beta Freight ApS", email=MAILBOX, tax_number="DK22222222")


def _head(kind: str, vendor: Vendor) -> dict[str, object]:
    return {
        "command_id": command_id(COMPANY, kind, vendor.id, vendor.name),
        "company_id": COMPANY,
        "tenant_id": TENANT,
        "issued_at": ISSUED,
        "document_kind": "vendor",
        "document_id": vendor.id,
    }


def ensure(vendor: Vendor) -> EnsureContact:
    return EnsureContact(**_head("contact", vendor), vendor=vendor)  # type: ignore[arg-type]


def update(contact_id: str, vendor: Vendor) -> UpdateContact:
    return UpdateContact(**_head("update", vendor), contact_id=contact_id, vendor=vendor)  # type: ignore[arg-type]


async def test_two_suppliers_sharing_a_mailbox_get_a_contact_each_and_keep_their_names() -> None:
    w = writer_on()

    [alpha] = (await w.run(ensure(ALPHA))).values()
    [beta] = (await w.run(ensure(BETA))).values()
    renamed = BETA.model_copy(update={"name": "Beta Freight & Logistics ApS"})
    [updated] = (await w.run(update(beta.xero_id or "", renamed))).values()

    assert alpha.type == beta.type == "XeroContactLinked"
    assert alpha.xero_id != beta.xero_id
    assert updated.type == "XeroContactUpdated"
    contacts = w.xero.contacts
    assert (
        contacts[alpha.xero_id or ""]["Name"],
        contacts[alpha.xero_id or ""]["ContactNumber"],
    ) == (
        "Alpha Print ApS",
        "ven_alpha",
    )
    assert (
        contacts[beta.xero_id or ""]["Name"],
        contacts[beta.xero_id or ""]["ContactNumber"],
    ) == (
        "Beta Freight & Logistics ApS",
        "ven_beta",
    )
    assert beta.message is None  # other tax numbers: certainly another supplier, no doubt


async def test_our_contact_is_found_by_the_vendor_id_after_a_person_renamed_it() -> None:
    w = writer_on()
    [first] = (await w.run(ensure(ALPHA))).values()
    w.xero.contacts[first.xero_id or ""]["Name"] = "Alpha Print (do not use old address)"
    w.xero.contacts[first.xero_id or ""]["TaxNumber"] = ""

    [again] = (await w.run(ensure(ALPHA.model_copy(update={"name": "Alpha Print A/S"})))).values()

    assert again.xero_id == first.xero_id
    assert len(w.xero.contacts) == 1


async def test_a_shared_mailbox_without_tax_numbers_creates_a_contact_and_names_the_candidate() -> (
    None
):
    w = writer_on()
    alpha = ALPHA.model_copy(update={"tax_number": None})
    beta = BETA.model_copy(update={"tax_number": None})
    [first] = (await w.run(ensure(alpha))).values()

    [second] = (await w.run(ensure(beta))).values()

    assert second.type == "XeroContactLinked" and second.xero_id != first.xero_id
    assert second.message is not None
    assert "'Alpha Print ApS'" in second.message and (first.xero_id or "") in second.message
    assert len(w.xero.contacts) == 2


async def test_the_same_name_with_another_tax_number_creates_nothing_and_names_the_contact() -> (
    None
):
    w = writer_on()
    [first] = (await w.run(ensure(ALPHA))).values()
    namesake = Vendor(id="ven_other", name="ALPHA PRINT APS", tax_number="DK33333333")

    [second] = (await w.run(ensure(namesake))).values()

    assert second.type == "XeroCommandFailed"
    assert second.message is not None
    assert "'Alpha Print ApS'" in second.message and "DK11111111" in second.message
    assert len(w.xero.contacts) == 1
    assert w.xero.calls_to("PUT", "/Contacts")[1:] == []  # nothing sent to be created
    assert first.xero_id in w.xero.contacts


async def test_two_suppliers_of_one_name_in_one_batch_are_not_merged_when_tax_differs() -> None:
    w = writer_on()
    one = Vendor(id="ven_1", name="Nordic Paper ApS", tax_number="DK11111111")
    two = Vendor(id="ven_2", name="nordic paper aps", tax_number="DK22222222")

    results = await w.run(ensure(one), ensure(two))

    first, second = results[ensure(one).command_id], results[ensure(two).command_id]
    assert first.type == "XeroContactLinked"
    assert second.type == "XeroCommandFailed"
    assert second.message is not None and "Nordic Paper ApS" in second.message
    assert len(w.xero.contacts) == 1
