"""Throughput and memory of the whole pipeline against the sandbox; prints its figures.

    python -m deploy.bench [--companies 20] [--bills 50] [--quick] [--json bench.json]
    make bench

Starts its own Kafka, PostgreSQL, sandbox and services (like ``make demo``), sends every
company's bills (1-5 lines, half of them paid) over HTTP, and measures how long ingest takes
to accept them, how long until every document and payment is synced in Xero, how many Xero
calls that took, and each process's peak resident memory. Then, on the same PostgreSQL, the
projector's own figures (``deploy.bench_projector``): records/s one record per transaction
against one partition batch per transaction, and restart-to-first-event for a company with
1,000 and 10,000 documents, with and without snapshots. Prints a table and writes JSON.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

from deploy import bench_projector
from deploy.apps import (
    DEV_SECRETS,
    SERVICES,
    connect_company,
    dev_env,
    register_client,
    spawn,
    stop_all,
    wait,
)
from deploy.stack import free_port, start_kafka, start_postgres, terminate
from deploy.topics import ensure_topics
from services.ingest.signature import sign


def events_for(company: str, bills: int, rng: random.Random) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for b in range(bills):
        lines, total = [], 0
        for n in range(rng.randint(1, 5)):
            qty, cents = rng.randint(1, 9), rng.randint(100, 99999)
            lines.append(
                {
                    "description": f"Item {n}",
                    "quantity": str(qty),
                    "unit_amount": f"{cents // 100}.{cents % 100:02d}",
                    "category_code": "429",
                    "tax_type": "INPUT2",
                    "tracking": [],
                }
            )
            total += qty * cents
        money = f"{total // 100}.{total % 100:02d}"
        vendor = {"id": f"v{b % 7}", "name": f"Vendor {b % 7}"}
        data = {
            "bill_id": f"b{b}",
            "vendor": vendor,
            "invoice_number": f"INV-{b}",
            "issue_date": "2026-11-02",
            "due_date": "2026-12-02",
            "currency": "DKK",
            "amount_type": "inclusive",
            "lines": lines,
            "total": money,
            "attachments": [],
        }
        out.append(_event("bill.submitted", company, data))
        if b % 2 == 0:
            out.append(
                _event(
                    "bill.paid",
                    company,
                    {
                        "bill_id": f"b{b}",
                        "payment_id": f"p{b}",
                        "amount": money,
                        "currency": "DKK",
                        "paid_on": "2026-11-24",
                        "payment_account_code": None,
                    },
                )
            )
    return out


def _event(type_: str, company: str, data: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "type": type_,
        "version": 1,
        "company_id": company,
        "occurred_at": "2026-11-20T09:00:00+01:00",
        "data": data,
    }


def metric(text: str, name: str) -> float:
    return sum(float(m) for m in re.findall(rf"^{name}(?:{{[^}}]*}})? ([0-9.e+]+)$", text, re.M))


def peak_mib(pid: int) -> float | None:
    """The process's peak resident memory (VmHWM), MiB; None once it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def table(results: dict[str, Any]) -> str:
    rows = [
        ("ingest events/s (pipeline running)", results["ingest_events_per_s"]),
        ("end to end documents/s (limits off)", results["documents_per_s"]),
        ("documents per Xero call", results["documents_per_call"]),
        ("projector records/s, one per transaction", results["projector_one_by_one"]),
        ("projector records/s, batched", results["projector_batched"]),
        ("projector batch speed-up", results["batch_speedup"]),
    ]
    for r in results["restart"]:
        n = r["documents"]
        rows.append((f"restart to first event, {n} docs, snapshots (s)", r["snapshot_s"]))
        rows.append((f"restart to first event, {n} docs, full replay (s)", r["replay_s"]))
        rows.append((f"projector peak MiB, {n} docs, snapshots", r["snapshot_peak_mib"]))
    rows += [(f"peak MiB {name}", mib) for name, mib in results["peak_mib"].items()]
    width = max(len(label) for label, _ in rows)
    return "\n".join(f"{label:<{width}}  {value}" for label, value in rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--companies", type=int, default=20)
    parser.add_argument("--bills", type=int, default=50)
    parser.add_argument("--quick", action="store_true", help="a few minutes: fewer of everything")
    parser.add_argument("--json", type=Path, default=Path("bench-results.json"))
    args = parser.parse_args()
    if args.quick:
        args.companies, args.bills = min(args.companies, 5), min(args.bills, 20)
    run = Path(tempfile.mkdtemp(prefix="rx-bench-"))
    run.chmod(0o755)
    procs: list[subprocess.Popen[bytes]] = []
    kafka = pg = None
    try:
        kafka, pg = start_kafka(run / "kafka"), start_postgres(run / "pg")
        ensure_topics(kafka.bootstrap)
        ports = {name: free_port() for name in SERVICES}
        sandbox = f"http://127.0.0.1:{ports['sandbox']}"
        env = dev_env(kafka.bootstrap, pg.create_database("rogerxero"), sandbox)
        for name in SERVICES:
            procs.append(spawn(name, ports[name], env, run / f"{name}.log"))
        rng = random.Random(1)
        companies = [f"bench-{i}" for i in range(args.companies)]
        register_client(sandbox, env)
        tenants = [
            connect_company(sandbox, env, c, run, organisation=f"Org {c}") for c in companies
        ]
        events = [e for c in companies for e in events_for(c, args.bills, rng)]
        started = time.monotonic()
        for i in range(0, len(events), 500):
            body = json.dumps({"events": events[i : i + 500]}).encode()
            r = httpx.post(
                f"http://127.0.0.1:{ports['ingest']}/v1/events",
                content=body,
                timeout=60,
                headers={
                    "Roger-Signature": sign(
                        DEV_SECRETS["RX_WEBHOOK_SECRETS"], int(time.time()), body
                    )
                },
            )
            r.raise_for_status()
        accepted = time.monotonic() - started
        auth = {"Authorization": f"Bearer {DEV_SECRETS['RX_SERVICE_TOKENS']}"}

        def all_synced() -> bool:
            for c in companies:
                summary = httpx.get(
                    f"http://127.0.0.1:{ports['projector']}/v1/companies/{c}/summary", headers=auth
                ).json()
                if summary["counts"]["bill"]["synced"] != args.bills:
                    return False
            for tenant in tenants:
                ledger = httpx.get(f"{sandbox}/_sandbox/organisations/{tenant}/ledger").json()
                if len(ledger["payments"]) != (args.bills + 1) // 2:
                    return False
            return True

        wait(all_synced, 1800, "every bill and payment synced")
        synced = time.monotonic() - started
        writer_metrics = httpx.get(f"http://127.0.0.1:{ports['writer']}/metrics").text
        calls = metric(writer_metrics, "rx_writer_xero_calls_total")
        docs = args.companies * args.bills
        payments = args.companies * ((args.bills + 1) // 2)
        peaks = {
            name: round(peak_mib(proc.pid) or 0) for name, proc in zip(SERVICES, procs, strict=True)
        }
        peaks["kafka"] = round(peak_mib(kafka.pid) or 0)
        # The projector's own figures want the machine to themselves: services stop first.
        for proc in reversed(procs):
            terminate(proc.pid, proc, 40)
        own = bench_projector.measure(pg, args.quick)
        results: dict[str, Any] = {
            "conditions": {
                "companies": args.companies,
                "bills": docs,
                "payments": payments,
                "events": len(events),
                "quick": args.quick,
            },
            "ingest_events_per_s": round(len(events) / accepted),
            "documents_per_s": round((docs + payments) / synced, 1),
            "xero_calls": round(calls),
            "documents_per_call": round((docs + payments) / max(calls, 1), 1),
            "projector_one_by_one": own["projector_one_by_one"]["records_per_s"],
            "projector_batched": own["projector_batched"]["records_per_s"],
            "batch_speedup": own["batch_speedup"],
            "restart": [
                {
                    "documents": r["documents"],
                    "stored_events": r["stored_events"],
                    "snapshot_s": r["with_snapshots"]["seconds"],
                    "snapshot_peak_mib": r["with_snapshots"]["peak_rss_mib"],
                    "replay_s": r["full_replay"]["seconds"],
                    "replay_peak_mib": r["full_replay"]["peak_rss_mib"],
                }
                for r in own["restart"]
            ],
            "peak_mib": peaks,
        }
        print(table(results))
        args.json.write_text(json.dumps(results, indent=2))
        print(f"written to {args.json}")
    finally:
        stop_all(run, procs, pg, kafka)


if __name__ == "__main__":
    main()
