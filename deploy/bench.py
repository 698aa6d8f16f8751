"""Throughput, latency and memory of the whole pipeline against the sandbox; prints its figures.

    python -m deploy.bench [--companies 20] [--bills 200] [--quick] [--json bench.json]
        [--skip limits,latency,fairness,projector]
    make bench

Starts its own Kafka, PostgreSQL, sandbox and services (like ``make demo``), then:

1. **Limits off** (the sandbox's and the writer's): every company's bills (1-5 lines, half
   of them paid) over HTTP, in requests of 500 from four clients at once (each company's
   events through one of them, in order): ingest's events/s, end-to-end documents/s until
   Xero holds every bill and payment, documents per Xero call.
2. **Limits on** (``bench_scenarios.limits_on``): one organisation's backlog, documents per
   minute as a share of the 3,000 that 60 calls of 50 allow, against batches of one.
3. **Steady rate** (``steady_latency``): 200 events/s over many companies; p50/p95/p99 from
   ingest's 202 to Xero's creation of the bill.
4. **Fairness** (``fairness``): a 10,000-bill backlog, then small companies' bills; their p99.
5. **The projector alone** (``deploy.bench_projector``, services stopped): records/s one
   record per transaction against one batch per transaction, and restart-to-first-event for
   companies with 1,000, 10,000 and 100,000 documents, with and without snapshots.

Peak memory is each service's highest resident set over the run. Prints a table, writes JSON.
Figures only: issue 14's targets are measured here, never by a timed test.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from deploy import bench_projector
from deploy.apps import DEV_SECRETS, SERVICES, dev_env, register_client, spawn, stop_all, wait
from deploy.bench_scenarios import (
    Stack,
    bill_event,
    connect,
    event,
    fairness,
    limits_on,
    peak_mib,
    send_all,
    steady_latency,
    timed,
)
from deploy.stack import free_port, start_kafka, start_postgres, terminate
from deploy.topics import ensure_topics

SCENARIOS = ("limits", "latency", "fairness", "projector")
# Xero's limits lifted for the first scenario, which measures the pipeline itself.
LIMITS_OFF = {"RX_XERO_CALLS_PER_MINUTE": "1000000", "RX_XERO_CALLS_PER_DAY": "100000000"}


def events_for(company: str, bills: int, rng: random.Random) -> list[dict[str, Any]]:
    """Each bill, and a payment in full for every other one."""
    out: list[dict[str, Any]] = []
    for b in range(bills):
        bill = bill_event(company, f"b{b}", rng)
        out.append(bill)
        if b % 2 == 0:
            data = {
                "bill_id": f"b{b}",
                "payment_id": f"p{b}",
                "amount": bill["data"]["total"],
                "currency": "DKK",
                "paid_on": "2026-11-24",
                "payment_account_code": None,
            }
            out.append(event("bill.paid", company, data))
    return out


def metric(text: str, name: str) -> float:
    return sum(float(m) for m in re.findall(rf"^{name}(?:{{[^}}]*}})? ([0-9.e+]+)$", text, re.M))


def limits_off(stack: Stack, companies: int, bills: int) -> dict[str, Any]:
    rng = random.Random(1)
    tenants = connect(stack, "bench", companies)
    events = [e for c in tenants for e in events_for(c, bills, rng)]
    started = time.monotonic()
    accepted = send_all(stack, events)
    auth = {"Authorization": f"Bearer {DEV_SECRETS['RX_SERVICE_TOKENS']}"}

    def all_synced() -> bool:
        stack.sample_memory()
        for c in tenants:
            summary = httpx.get(
                f"{stack.url('projector')}/v1/companies/{c}/summary", headers=auth
            ).json()
            if summary["counts"]["bill"]["synced"] != bills:
                return False
        for tenant in tenants.values():
            ledger = httpx.get(f"{stack.sandbox}/_sandbox/organisations/{tenant}/ledger").json()
            if len(ledger["payments"]) != (bills + 1) // 2:
                return False
        return True

    wait(all_synced, 1800, "every bill and payment synced")
    synced = time.monotonic() - started
    calls = metric(httpx.get(f"{stack.url('writer')}/metrics").text, "rx_writer_xero_calls_total")
    documents = companies * (bills + (bills + 1) // 2)
    return {
        "companies": companies,
        "events": len(events),
        "documents": documents,
        "ingest_events_per_s": round(len(events) / accepted),
        "documents_per_s": round(documents / synced, 1),
        "xero_calls": round(calls),
        "documents_per_call": round(documents / max(calls, 1), 1),
    }


def table(results: dict[str, Any]) -> str:
    rows: list[tuple[str, Any]] = []
    off = results["limits_off"]
    rows += [
        ("ingest events/s (pipeline running)", off["ingest_events_per_s"]),
        ("end to end documents/s (limits off)", off["documents_per_s"]),
        ("documents per Xero call (limits off)", off["documents_per_call"]),
    ]
    if on := results.get("limits_on"):
        rows += [
            ("limits on: documents/min, one organisation", on["documents_per_min"]),
            ("limits on: share of the 3,000/min ceiling", on["share_of_ceiling"]),
            ("limits on: what bound it", on["bound"]),
            ("limits on: batches of one, documents/min", on["batches_of_one_per_min"]),
            ("limits on: ratio to batches of one", on["ratio_to_batches_of_one"]),
        ]
    if steady := results.get("steady"):
        rate = steady["target_events_per_s"]
        for p in ("p50", "p95", "p99"):
            rows.append((f"{p} acceptance to Xero at {rate} events/s (s)", steady["latency_s"][p]))
        rows.append(("steady rate actually sent, events/s", steady["sent_events_per_s"]))
    if fair := results.get("fairness"):
        n = fair["backlog_bills"]
        rows.append(
            (f"small companies' p99 during a {n}-bill backlog (s)", fair["small_latency_s"]["p99"])
        )
        rows.append(
            ("  of them on the backlog's partition, p99 (s)", fair["sharing_latency_s"]["p99"])
        )
        rows.append((f"that {n}-bill backlog in Xero after (s)", fair["backlog_in_xero_s"]))
    if own := results.get("projector"):
        rows += [
            (
                "projector records/s, one per transaction",
                own["projector_one_by_one"]["records_per_s"],
            ),
            ("projector records/s, batched", own["projector_batched"]["records_per_s"]),
            ("projector batch speed-up", own["batch_speedup"]),
        ]
        for r in own["restart"]:
            n = r["documents"]
            rows.append(
                (f"restart to first event, {n} docs, snapshots (s)", r["with_snapshots"]["seconds"])
            )
            rows.append(
                (f"restart to first event, {n} docs, full replay (s)", r["full_replay"]["seconds"])
            )
            rows.append(
                (f"projector peak MiB, {n} docs, snapshots", r["with_snapshots"]["peak_rss_mib"])
            )
    rows += [(f"peak MiB {name}", round(mib)) for name, mib in results["peak_mib"].items()]
    width = max(len(label) for label, _ in rows)
    return "\n".join(f"{label:<{width}}  {value}" for label, value in rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--companies", type=int, default=20)
    parser.add_argument("--bills", type=int, default=200)
    parser.add_argument("--quick", action="store_true", help="minutes: fewer of everything")
    parser.add_argument("--skip", default="", help=f"comma separated, of {', '.join(SCENARIOS)}")
    parser.add_argument("--json", type=Path, default=Path("bench-results.json"))
    args = parser.parse_args()
    skip = {s for s in args.skip.split(",") if s}
    if unknown := skip - set(SCENARIOS):
        parser.error(f"--skip: unknown {', '.join(sorted(unknown))}")
    quick = args.quick
    if quick:
        args.companies, args.bills = min(args.companies, 5), min(args.bills, 20)
    run = Path(tempfile.mkdtemp(prefix="rx-bench-"))
    run.chmod(0o755)
    kafka = pg = None
    stack: Stack | None = None
    try:
        kafka, pg = start_kafka(run / "kafka"), start_postgres(run / "pg")
        ensure_topics(kafka.bootstrap)
        ports = {name: free_port() for name in SERVICES}
        sandbox = f"http://127.0.0.1:{ports['sandbox']}"
        env = dev_env(kafka.bootstrap, pg.create_database("rogerxero"), sandbox)
        env["RX_LOG_LEVEL"] = "WARNING"  # a line per record would be much of what is measured
        stack = Stack(ports, env, run, {})
        for name in SERVICES:
            extra = LIMITS_OFF if name == "writer" else {}
            stack.procs[name] = spawn(name, ports[name], {**env, **extra}, run / f"{name}.log")
        register_client(sandbox, env)
        stack.sandbox_limits(enabled=False)
        results: dict[str, Any] = {"quick": quick}
        results["limits_off"] = timed(
            "limits off", lambda: limits_off(stack, args.companies, args.bills)
        )
        if "limits" not in skip:
            bills, window = (600, 65.0) if quick else (7000, 90.0)
            results["limits_on"] = timed("limits on", lambda: limits_on(stack, bills, window))
        else:
            stack.restart_writer()  # Xero's limits from here on, as in production
        stack.sandbox_limits(enabled=True)
        if "latency" not in skip:
            companies, seconds = (20, 10) if quick else (100, 30)
            results["steady"] = timed(
                "steady 200 events/s", lambda: steady_latency(stack, companies, 200, seconds)
            )
        if "fairness" not in skip:
            backlog = 2000 if quick else 10000
            results["fairness"] = timed("fairness", lambda: fairness(stack, backlog, 10))
        stack.sample_memory()
        results["peak_mib"] = {name: round(mib) for name, mib in stack.peaks.items()}
        results["peak_mib"]["kafka"] = round(peak_mib(kafka.pid) or 0)
        # The projector's own figures want the machine to themselves: services stop first.
        for proc in reversed(list(stack.procs.values())):
            terminate(proc.pid, proc, 40)
        if "projector" not in skip:
            results["projector"] = timed(
                "projector alone", lambda: bench_projector.measure(pg, quick)
            )
        print(table(results))
        args.json.write_text(json.dumps(results, indent=2))
        print(f"written to {args.json}")
    finally:
        stop_all(run, list(stack.procs.values()) if stack else [], pg, kafka)


if __name__ == "__main__":
    main()
