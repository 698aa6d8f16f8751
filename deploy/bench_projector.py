"""The projector's own figures, through its application on a PostgreSQL of its own (no Kafka).

    python -m deploy.bench_projector [--quick] [--json out.json]

- records/s: the same records (20 companies, bills and Xero's answers) processed one record
  per transaction (``SyncApplication.process``, as before batching) and one partition batch
  of 500 per transaction (``process_batch``, as the consumer loop now hands them), each on a
  fresh database, on the same machine in the same run: compare the ratio, not the absolute.
- restart-to-first-event: a company's history of 1,000, 10,000 and (not with --quick)
  100,000 documents (each a ``BillSubmitted``; built directly through the application),
  then, in a fresh process (a restarted projector, empty cache), the time to load the
  company and process one new record, and that process's peak memory; once with the
  company's snapshots (as now), once after deleting them (a full replay, as before
  snapshots).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg

from deploy.stack import start_postgres
from services.projector.application import SyncApplication
from shared.contracts.commands import AnyCommand
from shared.contracts.domain_events import DomainEvent
from shared.contracts.results import XeroResult
from shared.contracts.topics import DOMAIN_EVENTS, XERO_RESULTS
from shared.logging import configure_logging

APP_URL = "https://app.roger.example"
BATCH = 500


def fact(company: str, type_: str, data: dict[str, Any]) -> bytes:
    return DomainEvent(
        event_id=str(uuid.uuid4()),
        type=type_,  # type: ignore[arg-type]
        company_id=company,
        occurred_at=datetime(2026, 11, 20, tzinfo=UTC),
        source="http",
        data=data,
    ).to_bytes()


def bill(bill_id: str, vendor: int) -> dict[str, Any]:
    return {
        "bill_id": bill_id,
        "vendor": {"id": f"v{vendor}", "name": f"Vendor {vendor}", "country": "DK"},
        "invoice_number": f"INV-{bill_id}",
        "issue_date": "2026-11-02",
        "due_date": "2026-12-02",
        "currency": "DKK",
        "amount_type": "inclusive",
        "total": "21.00",
        "attachments": [],
        "lines": [
            {
                "description": "Paper",
                "quantity": "2",
                "unit_amount": "10.50",
                "category_code": None,
                "tax_type": "INPUT2",
                "tracking": [],
            }
        ],
    }


def connected(company: str) -> bytes:
    data = {
        "tenant_id": f"t-{company}",
        "default_account_code": "429",
        "default_payment_account_code": "090",
    }
    return fact(company, "XeroConnectionEstablished", data)


def answer(cmd: AnyCommand, n: int) -> bytes:
    kind = {"EnsureContact": "XeroContactLinked", "CreateBill": "XeroBillCreated"}[cmd.kind]
    return XeroResult(
        result_id=cmd.command_id,
        type=kind,  # type: ignore[arg-type]
        command_id=cmd.command_id,
        command_kind=cmd.kind,
        company_id=cmd.company_id,
        document_kind=cmd.document_kind,
        document_id=cmd.document_id,
        xero_id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"{cmd.command_id}:{n}")),
    ).to_bytes()


def feed(app: SyncApplication, facts: list[bytes], batched: bool) -> tuple[int, float]:
    """Processes ``facts``, then answers every command decided (contacts, then bills) until
    none is left: (records processed, seconds)."""
    offsets = {DOMAIN_EVENTS: 0, XERO_RESULTS: 0}
    count, started = 0, time.perf_counter()

    def run(topic: str, values: list[bytes]) -> list[AnyCommand]:
        nonlocal count
        out: list[AnyCommand] = []
        records = [(offsets[topic] + i, v) for i, v in enumerate(values)]
        offsets[topic] += len(values)
        count += len(values)
        if batched:
            for i in range(0, len(records), BATCH):
                out += app.process_batch(topic, 0, records[i : i + BATCH])
        else:
            for offset, value in records:
                out += app.process(topic, 0, offset, value)
        return out

    commands = run(DOMAIN_EVENTS, facts)
    while commands:
        commands = run(XERO_RESULTS, [answer(c, i) for i, c in enumerate(commands)])
    return count, time.perf_counter() - started


def history(company: str, documents: int) -> list[bytes]:
    return [connected(company)] + [
        fact(company, "BillSubmitted", bill(f"b{i}", i % 50)) for i in range(documents)
    ]


def throughput(dsn: str, batched: bool, companies: int, bills: int) -> dict[str, float]:
    app = SyncApplication(dsn, APP_URL)
    try:
        names = [f"co-{i}" for i in range(companies)]
        facts = [connected(c) for c in names]
        facts += [
            fact(c, "BillSubmitted", bill(f"b{b}", b % 7)) for b in range(bills) for c in names
        ]
        count, seconds = feed(app, facts, batched)
    finally:
        app.close()
    return {"records": count, "seconds": round(seconds, 2), "records_per_s": round(count / seconds)}


def restart_child(dsn: str, company: str) -> None:
    """In a fresh process: load ``company`` and process one new record; prints JSON."""
    started = time.perf_counter()
    app = SyncApplication(dsn, APP_URL)
    position = app.position(DOMAIN_EVENTS, 0) or 0
    app.process(DOMAIN_EVENTS, 0, position, fact(company, "BillSubmitted", bill("new", 1)))
    seconds = time.perf_counter() - started
    peak = next(
        int(line.split()[1]) / 1024
        for line in Path("/proc/self/status").read_text().splitlines()
        if line.startswith("VmHWM:")
    )
    app.close()
    print(json.dumps({"seconds": round(seconds, 3), "peak_rss_mib": round(peak)}))


def restart(dsn: str, documents: int) -> dict[str, Any]:
    company = f"big-{documents}"
    app = SyncApplication(dsn, APP_URL)
    try:
        _, build_s = feed(app, history(company, documents), batched=True)
    finally:
        app.close()

    def child() -> dict[str, Any]:
        out = subprocess.run(
            [sys.executable, "-m", "deploy.bench_projector", "--restart-child", dsn, company],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        return dict(json.loads(out.strip().splitlines()[-1]))

    with psycopg.connect(dsn) as conn:
        stored = conn.execute("SELECT count(*) FROM rx_projector_events").fetchone()
    with_snapshots = child()
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("DELETE FROM rx_projector_snapshots")
    full_replay = child()
    return {
        "documents": documents,
        "stored_events": stored[0] if stored else None,
        "build_s": round(build_s, 1),
        "with_snapshots": with_snapshots,
        "full_replay": full_replay,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer records, 1,000 docs only")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--restart-child", nargs=2, metavar=("DSN", "COMPANY"))
    args = parser.parse_args()
    # A line per record would be most of what is measured (and of the output).
    configure_logging("bench-projector", "WARNING")
    if args.restart_child:
        restart_child(*args.restart_child)
        return
    run = Path(tempfile.mkdtemp(prefix="rx-bench-projector-"))
    run.chmod(0o755)
    pg = start_postgres(run / "pg")
    try:
        results = measure(pg, args.quick)
        print(json.dumps(results, indent=2))
        if args.json is not None:
            args.json.write_text(json.dumps(results, indent=2))
    finally:
        pg.stop()


def measure(pg: Any, quick: bool) -> dict[str, Any]:
    """The figures above, as a dict (also used by ``deploy.bench``)."""
    configure_logging("bench-projector", "WARNING")
    companies, bills = (10, 30) if quick else (20, 100)
    one = throughput(pg.create_database("one_by_one"), False, companies, bills)
    batch = throughput(pg.create_database("batched"), True, companies, bills)
    sizes = (1000,) if quick else (1000, 10000, 100000)
    return {
        "projector_one_by_one": one,
        "projector_batched": batch,
        "batch_speedup": round(batch["records_per_s"] / one["records_per_s"], 1),
        "restart": [restart(pg.create_database(f"restart_{n}"), n) for n in sizes],
    }


if __name__ == "__main__":
    main()
