"""``make demo``: the whole job on one machine, start to finish.

Starts Kafka, PostgreSQL, the Xero sandbox and the three services in a temp
dir, connects the example company to a sandbox organisation, sends
``bill_submitted.json`` then ``bill_paid.json`` (signed, over HTTP), prints the
Xero contact, bill and payment as the sandbox holds them, and stops everything.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from deploy.apps import DEV_SECRETS, SERVICES, dev_env, seed_sandbox, spawn, stop_all, wait
from deploy.stack import Kafka, Postgres, free_port, start_kafka, start_postgres
from deploy.topics import ensure_topics
from services.ingest.signature import sign

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "docs" / "contracts" / "examples"
COMPANY, BILL = "acme-dk", "bill_01HZX4"


def pick(record: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {k: record.get(k) for k in keys}


def show(title: str, value: Any) -> None:
    print(f"\n{title}:\n{json.dumps(value, indent=2)}", flush=True)


def run_demo(run: Path, procs: list[subprocess.Popen[bytes]], kafka: Kafka, pg: Postgres) -> None:
    ensure_topics(kafka.bootstrap)
    ports = {name: free_port() for name in SERVICES}
    sandbox = f"http://127.0.0.1:{ports['sandbox']}"
    env = dev_env(kafka.bootstrap, pg.create_database("rogerxero"), sandbox)
    for name in SERVICES:
        procs.append(spawn(name, ports[name], env, run / f"{name}.log"))
        print(f"{name:10s} http://127.0.0.1:{ports[name]}", flush=True)
    tenant = seed_sandbox(sandbox, env, COMPANY, run)

    for example in ("bill_submitted.json", "bill_paid.json"):
        body = (EXAMPLES / example).read_bytes()
        signature = sign(DEV_SECRETS["RX_WEBHOOK_SECRETS"], int(time.time()), body)
        r = httpx.post(
            f"http://127.0.0.1:{ports['ingest']}/v1/events",
            content=body,
            headers={"Roger-Signature": signature},
        )
        print(f"POST /v1/events {example}: {r.status_code} {r.text}", flush=True)

    read = f"http://127.0.0.1:{ports['projector']}/v1/companies/{COMPANY}/documents/bill/{BILL}"
    auth = {"Authorization": f"Bearer {DEV_SECRETS['RX_SERVICE_TOKENS']}"}

    def synced() -> dict[str, Any] | None:
        doc: dict[str, Any] = httpx.get(read, headers=auth).json()
        payments_done = doc.get("payments") and all(p["state"] == "synced" for p in doc["payments"])
        return doc if doc.get("state") == "synced" and payments_done else None

    doc = wait(synced, 120, "the bill and its payment to sync")
    ledger = httpx.get(f"{sandbox}/_sandbox/organisations/{tenant}/ledger").json()
    [contact], [bill], [payment] = ledger["contacts"], ledger["invoices"], ledger["payments"]
    show("Roger's view of the bill", pick(doc, "state", "xero_id", "xero_number", "payments"))
    show("Xero contact", pick(contact, "ContactID", "Name", "EmailAddress", "TaxNumber"))
    lines = [
        pick(li, "Description", "Quantity", "UnitAmount", "AccountCode", "TaxType", "LineAmount")
        for li in bill["LineItems"]
    ]
    show(
        "Xero bill",
        pick(
            bill,
            "InvoiceID",
            "Type",
            "InvoiceNumber",
            "Status",
            "CurrencyCode",
            "SubTotal",
            "TotalTax",
            "Total",
            "AmountDue",
            "AmountPaid",
        )
        | {"LineItems": lines},
    )
    show(
        "Xero payment",
        pick(payment, "PaymentID", "Amount", "Status", "Reference")
        | {"Account": payment.get("Account", {}).get("Code")},
    )


def main() -> None:
    run = Path(tempfile.mkdtemp(prefix="rx-demo-"))
    run.chmod(0o755)  # PostgreSQL runs as its own OS user when we are root
    procs: list[subprocess.Popen[bytes]] = []
    kafka = pg = None
    try:
        print("starting Kafka and PostgreSQL …", flush=True)
        kafka = start_kafka(run / "kafka")
        pg = start_postgres(run / "pg")
        run_demo(run, procs, kafka, pg)
    finally:
        stop_all(run, procs, pg, kafka)
        print("\nstopped everything", flush=True)


if __name__ == "__main__":
    main()
