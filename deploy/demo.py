"""``make demo``: the whole job on one machine, start to finish.

Starts Kafka, PostgreSQL, the Xero sandbox and the three services in a temp
dir, connects the example company to a sandbox organisation, sends
``bill_submitted.json`` then ``bill_paid.json`` (signed, over HTTP), prints the
Xero contact, bill and payment as the sandbox holds them, and stops everything.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from deploy.stack import free_port, start_kafka, start_postgres
from deploy.topics import ensure_topics

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO.parent / "shared" / "contracts" / "examples"
WEBHOOK_SECRET, SERVICE_TOKEN = "dev-webhook-secret", "dev-service-token"
CLIENT_ID, CLIENT_SECRET = "roger-dev-client", "roger-dev-secret"


def wait(check: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if result := check():
                return result
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise SystemExit(f"demo: timed out waiting for {what}")


def main() -> None:
    run = Path(tempfile.mkdtemp(prefix="rx-demo-"))
    run.chmod(0o755)
    procs: list[subprocess.Popen[bytes]] = []
    kafka = postgres = None
    try:
        print("starting Kafka and PostgreSQL …", flush=True)
        kafka = start_kafka(run / "kafka")
        postgres = start_postgres(run / "pg")
        ensure_topics(kafka.bootstrap)
        dsn = postgres.create_database("rogerxero")
        ports = {name: free_port() for name in ("sandbox", "ingest", "projector", "writer")}
        sandbox = f"http://127.0.0.1:{ports['sandbox']}"
        env = {
            **os.environ,
            "RX_KAFKA_BOOTSTRAP": kafka.bootstrap,
            "RX_DATABASE_URL": dsn,
            "RX_WEBHOOK_SECRETS": WEBHOOK_SECRET,
            "RX_SERVICE_TOKENS": SERVICE_TOKEN,
            "RX_XERO_CLIENT_ID": CLIENT_ID,
            "RX_XERO_CLIENT_SECRET": CLIENT_SECRET,
            "RX_XERO_ACCOUNTING_URL": f"{sandbox}/api.xro/2.0",
            "RX_XERO_IDENTITY_URL": sandbox,
            "RX_XERO_TOKEN_URL": f"{sandbox}/connect/token",
            "RX_XERO_REVOKE_URL": f"{sandbox}/connect/revocation",
        }
        cli = [sys.executable, "-m", "services.cli"]
        for name, port in ports.items():
            args = [*cli, name, "--port", str(port)]
            log = open(run / f"{name}.log", "wb")  # noqa: SIM115 - the child owns it
            procs.append(
                subprocess.Popen(args, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
            )
            url = f"http://127.0.0.1:{port}"
            probe = f"{url}/api.xro/2.0/Organisation" if name == "sandbox" else f"{url}/readyz"
            wait(
                lambda p=probe, n=name: (
                    httpx.get(p, timeout=2).status_code in (200, 401, 403)
                    if n == "sandbox"
                    else httpx.get(p, timeout=2).status_code == 200
                ),
                90,
                name,
            )
            print(f"{name:10s} {url}", flush=True)

        httpx.post(
            f"{sandbox}/_sandbox/clients",
            json={
                "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET,
                "redirect_uris": ["http://127.0.0.1/cb"],
            },
        ).raise_for_status()
        tenant = httpx.post(
            f"{sandbox}/_sandbox/organisations",
            json={
                "name": "Acme Danmark ApS",
                "base_currency": "DKK",
                "currencies": [],
            },
        ).json()["tenant_id"]
        grant = httpx.post(
            f"{sandbox}/_sandbox/grants",
            json={
                "client_id": CLIENT_ID,
                "tenant_ids": [tenant],
                "scopes": [
                    "offline_access",
                    "accounting.transactions",
                    "accounting.contacts",
                    "accounting.settings",
                ],
            },
        )
        grant.raise_for_status()
        token_file = run / "token.json"
        token_file.write_text(grant.text)
        subprocess.run(
            [*cli, "connect-dev", "acme-dk", tenant, "--token-file", str(token_file)],
            cwd=REPO,
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        token_file.unlink()

        sys.path.insert(0, str(REPO))
        from services.ingest.signature import sign

        for example in ("bill_submitted.json", "bill_paid.json"):
            body = (EXAMPLES / example).read_bytes()
            r = httpx.post(
                f"http://127.0.0.1:{ports['ingest']}/v1/events",
                content=body,
                headers={"Roger-Signature": sign(WEBHOOK_SECRET, int(time.time()), body)},
            )
            print(f"POST /v1/events {example}: {r.status_code} {r.text}", flush=True)

        read = (
            f"http://127.0.0.1:{ports['projector']}/v1/companies/acme-dk/documents/bill/bill_01HZX4"
        )
        auth = {"Authorization": f"Bearer {SERVICE_TOKEN}"}

        def synced() -> dict[str, Any] | None:
            doc = httpx.get(read, headers=auth).json()
            done = doc.get("state") == "synced" and all(
                p["state"] == "synced" for p in doc["payments"]
            )
            return doc if done and doc["payments"] else None

        doc = wait(synced, 120, "the bill and its payment to sync")
        ledger = httpx.get(f"{sandbox}/_sandbox/organisations/{tenant}/ledger").json()
        contact = ledger["contacts"][0]
        bill = ledger["invoices"][0]
        payment = ledger["payments"][0]
        print(
            "\nRoger's view:",
            json.dumps({k: doc[k] for k in ("state", "xero_id", "payments")}, indent=2),
        )
        print(
            "\nXero contact:",
            json.dumps(
                {k: contact.get(k) for k in ("ContactID", "Name", "EmailAddress", "TaxNumber")},
                indent=2,
            ),
        )
        print(
            "\nXero bill:",
            json.dumps(
                {
                    k: bill.get(k)
                    for k in (
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
                }
                | {
                    "Lines": [
                        {
                            k: li.get(k)
                            for k in (
                                "Description",
                                "Quantity",
                                "UnitAmount",
                                "AccountCode",
                                "TaxType",
                                "LineAmount",
                            )
                        }
                        for li in bill["LineItems"]
                    ]
                },
                indent=2,
            ),
        )
        print(
            "\nXero payment:",
            json.dumps(
                {k: payment.get(k) for k in ("PaymentID", "Amount", "Status", "Reference")}
                | {"Account": payment.get("Account", {}).get("Code")},
                indent=2,
            ),
        )
    finally:
        for proc in reversed(procs):
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(40)
            except subprocess.TimeoutExpired:
                proc.kill()
        if postgres:
            postgres.stop()
        if kafka:
            kafka.stop()
        shutil.rmtree(run, ignore_errors=True)
        print("\nstopped everything", flush=True)


if __name__ == "__main__":
    main()
