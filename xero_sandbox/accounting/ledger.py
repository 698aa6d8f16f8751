"""Everything an organisation holds, rendered as the API would, for tests and the demo."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..state import Organisation
from . import contacts, invoices, payments
from .common import Ctx

if TYPE_CHECKING:
    from ..runtime import Sandbox


def ledger_of(sandbox: Sandbox, org: Organisation) -> dict[str, Any]:
    ctx = Ctx(
        sandbox=sandbox,
        org=org,
        caller=None,  # type: ignore[arg-type]
        method="GET",
        path_params={},
        # What the organisation holds: unit amounts as stored (4 decimals), not as a read
        # without unitdp=4 would round them.
        query={"unitdp": "4"},
        headers={},
        body=b"",
        now=sandbox.now(),
    )
    from . import bank_transactions, credit_notes

    return {
        "tenant_id": org.tenant_id,
        "name": org.name,
        "base_currency": org.base_currency,
        "currencies": org.currencies,
        "accounts": list(org.accounts.values()),
        "tax_rates": list(org.tax_rates.values()),
        "contacts": [contacts.render_contact(c) for c in org.contacts.values()],
        "invoices": [invoices.render(ctx, i) for i in org.invoices.values()],
        "credit_notes": [credit_notes.render(ctx, c) for c in org.credit_notes.values()],
        "allocations": [credit_notes.render_allocation(ctx, a) for a in org.allocations.values()],
        "payments": [payments.render(ctx, p) for p in org.payments.values()],
        "bank_transactions": [
            bank_transactions.render(ctx, b) for b in org.bank_transactions.values()
        ],
        "attachments": [
            {
                "document_id": document_id,
                "AttachmentID": a.attachment_id,
                "FileName": a.file_name,
                "MimeType": a.mime_type,
                "ContentLength": len(a.content),
                "sha256": a.sha256,
            }
            for document_id, items in org.attachments.items()
            for a in items
        ],
    }
