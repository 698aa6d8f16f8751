"""Roger's documents through the running pipeline, for end-to-end tests: a company connected
to a fresh sandbox organisation, events posted to ingest, a document waited for in the read
API until a condition holds (``synced`` is such a condition), and the document Xero made
found in the sandbox's ledger by its Roger URL, with amounts compared to the cent.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from tests.fixtures.pipeline import Pipeline, wait_for


def company(pipeline: Pipeline, currencies: tuple[str, ...] = ()) -> tuple[str, str]:
    company_id = f"kinds-{uuid.uuid4().hex[:8]}"
    tenant = pipeline.new_organisation(f"Org {company_id}", "DKK", currencies)
    pipeline.connect(company_id, tenant)
    return company_id, tenant


def wait_doc(
    pipeline: Pipeline,
    company_id: str,
    kind: str,
    roger_id: str,
    done: Callable[[dict[str, Any]], bool],
    what: str,
    timeout: float = 90,
) -> dict[str, Any]:
    def check() -> dict[str, Any] | None:
        doc = pipeline.doc(company_id, kind, roger_id)
        return doc if doc and done(doc) else None

    return wait_for(check, timeout, what)  # type: ignore[no-any-return]


def synced(doc: dict[str, Any]) -> bool:
    return doc["state"] == "synced" and all(
        p["state"] in ("synced", "deleted") for p in doc["payments"]
    )


def send(pipeline: Pipeline, *events: dict[str, Any]) -> None:
    r = pipeline.post_events(list(events))
    assert r.status_code == 202, r.text


def invoice(ledger: dict[str, Any], kind: str, roger_id: str) -> dict[str, Any]:
    [found] = [i for i in ledger["invoices"] if i.get("Url", "").endswith(f"/{kind}s/{roger_id}")]
    return found


def amount(value: Any) -> Decimal:
    return Decimal(str(value)).quantize(Decimal("0.01"))
