"""Every event type for ten companies, duplicated and shuffled: Xero ends exactly as the
events imply, document by document (the ledger checker reports no difference)."""

from __future__ import annotations

import random
import uuid
from decimal import Decimal
from functools import partial
from typing import Any

from tests.fixtures.pipeline import FileServer, Pipeline, wait_for
from tests.support import event_builders as ev
from tests.support.delivery import deliver
from tests.support.ledger_checker import Chart, compare, compare_attachments, expected_ledger

VENDORS = ["Nordic Paper Supply ApS", "ACME A/S", "Café Øresund", "Blue Fjord Logistics"]


def lines(rng: random.Random, n: int) -> tuple[list[dict[str, Any]], str]:
    out, total = [], Decimal("0")
    for i in range(n):
        qty, unit = Decimal(rng.randint(1, 5)), Decimal(rng.randint(1000, 50000)) / 100
        out.append(
            ev.line(
                f"Item {i}",
                str(qty),
                str(unit),
                rng.choice(["429", "493", None]),
                rng.choice(["INPUT2", None]),
            )
        )
        total += (qty * unit).quantize(Decimal("0.01"))
    return out, str(total)


def company_events(c: str, rng: random.Random, files: FileServer) -> list[dict[str, Any]]:
    vendors = [ev.vendor(f"ven_{i}", name) for i, name in enumerate(VENDORS)]
    evs: list[dict[str, Any]] = []

    def bill(bill_id: str, **kw: Any) -> tuple[dict[str, Any], str]:
        ls, total = lines(rng, rng.randint(1, 4))
        e = ev.bill(c, bill_id, ls, total, ven=rng.choice(vendors), number=f"N-{bill_id}", **kw)
        evs.append(e)
        return e, total

    for i in range(3):  # paid, some in two parts
        _, total = bill(f"paid{i}")
        if i % 2:
            half = str((Decimal(total) / 2).quantize(Decimal("0.01")))
            evs += [
                ev.paid(c, f"paid{i}", f"p{i}a", half),
                ev.paid(c, f"paid{i}", f"p{i}b", str(Decimal(total) - Decimal(half))),
            ]
        else:
            evs.append(ev.paid(c, f"paid{i}", f"p{i}", total))
    first, _ = bill("edited")  # edited before any payment
    ls, total = lines(rng, 2)
    evs.append(
        ev.bill(
            c,
            "edited",
            ls,
            total,
            type_="bill.updated",
            ven=first["data"]["vendor"],
            number="N-edited-2",
            minute=30,
        )
    )
    bill("deleted")
    evs.append(ev.deleted(c, "deleted"))
    _, total = bill("reversed")
    evs += [ev.paid(c, "reversed", "pr", total), ev.reversed_(c, "reversed", "pr")]
    credited, total = bill("credited")
    credit = str((Decimal(total) / 4).quantize(Decimal("0.01")))
    evs.append(
        ev.credit_note(
            c,
            "cn1",
            [ev.line("Credit", "1", credit)],
            credit,
            applies_to="credited",
            ven=credited["data"]["vendor"],  # a credit note comes from the bill's vendor
        )
    )
    pdf = files.add(f"{c}-scan.pdf", f"%PDF-1.4 scan of {c}".encode())
    bill("attached", attachments=[pdf])
    for r in range(2):
        ls, total = lines(rng, 1)
        evs.append(
            ev.receipt(
                c, f"r{r}", ls, total, account=rng.choice(["091", None]), ven=rng.choice(vendors)
            )
        )
    evs.append(ev.vendor_updated(c, {**vendors[0], "email": f"ap@{c}.example"}))
    return evs


def payments_by_document(events: list[dict[str, Any]]) -> dict[str, set[str]]:
    """Every payment each document will show: bill payments (reversed too), a receipt's own."""
    out: dict[str, set[str]] = {}
    for e in events:
        data = e["data"]
        if e["type"] in ("bill.paid", "payment.reversed"):
            out.setdefault(data["bill_id"], set()).add(data["payment_id"])
        elif e["type"] == "receipt.submitted":
            out[data["receipt_id"]] = {"receipt"}
    return out


def settled(
    pipeline: Pipeline, company_id: str, events: list[dict[str, Any]], expected_docs: int
) -> bool:
    docs = pipeline.documents(company_id)
    if len(docs) != expected_docs:
        return False
    payments = payments_by_document(events)
    for d in docs:
        if {p["payment_id"] for p in d["payments"]} != payments.get(d["roger_id"], set()):
            return False  # some copies are still on their way

        assert d["state"] != "failed", d
        assert not any("not allocated" in w for w in d["warnings"]), d
        if d["state"] not in ("synced", "deleted"):
            return False
        if any(p["state"] not in ("synced", "deleted") for p in d["payments"]):
            return False
        if any("allocation" in w for w in d["warnings"]):
            return False
    return True


def test_ten_companies_every_event_type_duplicated_and_shuffled(
    pipeline: Pipeline, kafka_bootstrap: str, file_server: FileServer
) -> None:
    rng = random.Random(61)
    run = uuid.uuid4().hex[:6]
    companies = {f"mixed-{run}-{i}": [] for i in range(10)}  # type: dict[str, list[dict[str, Any]]]
    tenants = {}
    for c in companies:
        tenants[c] = pipeline.new_organisation(f"Org {c}")
        pipeline.connect(c, tenants[c])
        companies[c] = company_events(c, rng, file_server)
    deliver(pipeline, kafka_bootstrap, [e for evs in companies.values() for e in evs], 2, rng)

    docs_per_company = (
        3 + 1 + 1 + 1 + 1 + 1 + 1 + 2
    )  # paid, edited, deleted, reversed, credited, cn, attached, receipts
    for c in companies:
        wait_for(partial(settled, pipeline, c, companies[c], docs_per_company), 600, f"{c} settled")
    for c, evs in companies.items():
        ledger = pipeline.ledger(tenants[c])
        expected = expected_ledger(evs, Chart.from_ledger(ledger))
        differences = compare(expected, ledger) + compare_attachments(expected, ledger)
        assert differences == [], (c, differences)
