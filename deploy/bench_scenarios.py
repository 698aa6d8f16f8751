"""The benchmark's scenarios on a running stack: limits on, steady-rate latency, fairness.

Each scenario connects companies of its own (new sandbox organisations), so no scenario's
documents count in another's figures. Latency is measured from the moment ingest answered
202 for an event to the moment the sandbox created the bill (its ``UpdatedDateUTC``; only
bills are sent in the latency scenarios, so nothing updates them afterwards). The sandbox
and this script share the machine's clock.

Used by ``deploy.bench``; figures only, no assertions (issue 14: targets are measured by
``make bench``, never by a timed test).
"""

from __future__ import annotations

import json
import math
import random
import subprocess
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from deploy.apps import DEV_SECRETS, connect_company, spawn, wait
from deploy.stack import terminate
from services.ingest.signature import sign
from shared.contracts.topics import TOPICS, XERO_COMMANDS
from shared.messaging.offsets import company_partition

MS_DATE_START = len("/Date(")


@dataclass
class Stack:
    """The running stack as the scenarios see it."""

    ports: dict[str, int]
    env: dict[str, str]
    run: Path
    procs: dict[str, subprocess.Popen[bytes]]
    # Every process that ran, by service, for peak memory (the writer is restarted).
    history: dict[str, list[subprocess.Popen[bytes]]] = field(default_factory=dict)
    peaks: dict[str, float] = field(default_factory=dict)

    @property
    def sandbox(self) -> str:
        return f"http://127.0.0.1:{self.ports['sandbox']}"

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}"

    def sample_memory(self) -> None:
        """Records each live process's peak resident memory (VmHWM) before it can end."""
        for name, proc in self.procs.items():
            mib = peak_mib(proc.pid)
            if mib is not None:
                self.peaks[name] = max(self.peaks.get(name, 0.0), mib)

    def restart_writer(self, **settings: str) -> None:
        """The writer again with other ``RX_`` settings (batch size, per-minute limit)."""
        self.sample_memory()
        old = self.procs["writer"]
        terminate(old.pid, old, 40)
        env = {**self.env, **settings}
        self.procs["writer"] = spawn("writer", self.ports["writer"], env, self.run / "writer.log")

    def sandbox_limits(self, **limits: Any) -> None:
        httpx.put(f"{self.sandbox}/_sandbox/settings", json={"limits": limits}).raise_for_status()


def peak_mib(pid: int) -> float | None:
    """The process's peak resident memory (VmHWM), MiB; None once it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def bill_event(company: str, number: str, rng: random.Random, lines: int = 0) -> dict[str, Any]:
    """A ``bill.submitted`` of 1-5 lines (or ``lines``) with a matching total."""
    out, total = [], 0
    for n in range(lines or rng.randint(1, 5)):
        qty, cents = rng.randint(1, 9), rng.randint(100, 99999)
        out.append(
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
    vendor = rng.randint(0, 6)
    return event(
        "bill.submitted",
        company,
        {
            "bill_id": number,
            "vendor": {"id": f"v{vendor}", "name": f"Vendor {vendor}"},
            "invoice_number": number,
            "issue_date": "2026-11-02",
            "due_date": "2026-12-02",
            "currency": "DKK",
            "amount_type": "inclusive",
            "lines": out,
            "total": f"{total // 100}.{total % 100:02d}",
            "attachments": [],
        },
    )


def event(type_: str, company: str, data: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "type": type_,
        "version": 1,
        "company_id": company,
        "occurred_at": "2026-11-20T09:00:00+01:00",
        "data": data,
    }


def post(stack: Stack, events: list[dict[str, Any]], client: httpx.Client) -> float:
    """Sends one signed request; returns the wall-clock time (epoch s) of ingest's 202."""
    body = json.dumps({"events": events}).encode()
    signature = sign(DEV_SECRETS["RX_WEBHOOK_SECRETS"], int(time.time()), body)
    r = client.post(
        f"{stack.url('ingest')}/v1/events",
        content=body,
        timeout=120,
        headers={"Roger-Signature": signature},
    )
    r.raise_for_status()
    return time.time()


def send_all(
    stack: Stack, events: list[dict[str, Any]], per_request: int = 500, senders: int = 4
) -> float:
    """Sends events as fast as ingest takes them, from ``senders`` clients at once (as
    Roger's backend, with several workers, would); returns seconds until the last 202.

    Each company's events go through one sender, in order, so no company's payment
    overtakes its bill."""
    streams: list[list[dict[str, Any]]] = [[] for _ in range(senders)]
    owner: dict[str, int] = {}
    for e in events:
        streams[owner.setdefault(e["company_id"], len(owner) % senders)].append(e)

    def send(stream: list[dict[str, Any]]) -> None:
        with httpx.Client() as client:
            for i in range(0, len(stream), per_request):
                post(stack, stream[i : i + per_request], client)

    started = time.monotonic()
    with ThreadPoolExecutor(senders) as pool:
        list(pool.map(send, [s for s in streams if s]))
    return time.monotonic() - started


def connect(stack: Stack, prefix: str, count: int) -> dict[str, str]:
    """``count`` new companies, each connected to an organisation of its own: company → tenant."""
    return connect_named(stack, [f"{prefix}-{i}" for i in range(count)])


def connect_named(stack: Stack, companies: list[str]) -> dict[str, str]:
    """These companies, each connected to an organisation of its own: company → tenant."""
    return {
        c: connect_company(stack.sandbox, stack.env, c, stack.run, organisation=f"Org {c}")
        for c in companies
    }


def partition_of(company: str) -> int:
    """The partition of the commands topic (and every topic keyed by company) holding the
    company's records."""
    partitions = next(t.partitions for t in TOPICS if t.name == XERO_COMMANDS)
    return company_partition(company, partitions)


def small_companies(big: str, count: int, sharing: int) -> list[str]:
    """``count`` company ids, the first ``sharing`` of them on ``big``'s partition and the
    others not: where they land decides whether a backlog can hold them up, so it is chosen,
    not left to the names."""
    on: list[str] = []
    off: list[str] = []
    i = 0
    while len(on) < sharing or len(off) < count - sharing:
        company = f"small-{i}"
        (on if partition_of(company) == partition_of(big) else off).append(company)
        i += 1
    return on[:sharing] + off[: count - sharing]


def created_at(stack: Stack, tenant: str) -> dict[str, float]:
    """When the sandbox created each bill: InvoiceNumber → epoch seconds."""
    ledger = httpx.get(f"{stack.sandbox}/_sandbox/organisations/{tenant}/ledger", timeout=120)
    ledger.raise_for_status()
    out: dict[str, float] = {}
    for invoice in ledger.json()["invoices"]:
        if invoice.get("Type") != "ACCPAY":
            continue
        raw = str(invoice["UpdatedDateUTC"])[MS_DATE_START:]
        millis = int(raw.split("+")[0].split(")")[0])
        out[str(invoice["InvoiceNumber"])] = millis / 1000
    return out


def wait_created(
    stack: Stack, tenants: dict[str, str], counts: dict[str, int], limit: float
) -> None:
    """Until each company's organisation holds ``counts[company]`` bills."""
    auth = {"Authorization": f"Bearer {DEV_SECRETS['RX_SERVICE_TOKENS']}"}

    def done() -> bool:
        stack.sample_memory()
        for company in tenants:
            summary = httpx.get(
                f"{stack.url('projector')}/v1/companies/{company}/summary", headers=auth, timeout=30
            ).json()
            if summary["counts"]["bill"]["synced"] < counts[company]:
                return False
        return True

    wait(done, limit, "every bill synced")


def percentiles(values: list[float]) -> dict[str, float]:
    """p50/p95/p99 (nearest rank) and max, in seconds to the millisecond."""
    ordered = sorted(values)
    if not ordered:
        return {"p50": math.nan, "p95": math.nan, "p99": math.nan, "max": math.nan}

    def rank(p: float) -> float:
        return round(ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)], 3)

    return {"p50": rank(50), "p95": rank(95), "p99": rank(99), "max": round(ordered[-1], 3)}


def limits_on(stack: Stack, bills: int, window_s: float) -> dict[str, Any]:
    """Documents per minute for one organisation with a backlog, at Xero's limits (60 calls a
    minute, 5 at once; the writer's and the sandbox's limits both on), with the writer's
    batches of 50, then the same with batches of one, in the same run.

    Xero's minute is a sliding window, so the first minute may hold a burst of 60 calls on
    top of the pipeline's own pace: the rate at the ceiling is what the sandbox created in
    the *second* minute after the first bill (the backlog must outlast it: more than 3,000
    bills), else, for a smaller backlog, the whole backlog over its time (pipeline-bound,
    said in ``bound``). Batches of one would take a minute per 60 bills, so their rate is
    what the sandbox created in the first ``window_s`` seconds."""
    rng = random.Random(2)
    stack.sandbox_limits(enabled=True, per_minute=60, concurrent=5)
    batched = connect(stack, "limits", 1)
    stack.restart_writer(RX_XERO_BATCH_SIZE="1")
    single = connect(stack, "single", 1)
    ((b_company, b_tenant),) = batched.items()
    ((s_company, s_tenant),) = single.items()
    # Batches of one first: its window is measured while the writer does nothing else.
    started = time.time()
    send_all(stack, [bill_event(s_company, f"S-{n}", rng) for n in range(bills)])
    # The load generator idles through the window; the sandbox's timestamps are the measure.
    time.sleep(max(0.0, started + window_s + 30 - time.time()))
    made = sorted(created_at(stack, s_tenant).values())
    first = made[0] if made else started
    single_count = sum(1 for t in made if t <= first + window_s)
    single_rate = single_count / window_s * 60
    stack.restart_writer()
    started = time.time()
    send_all(stack, [bill_event(b_company, f"B-{n}", rng) for n in range(bills)])
    wait_created(stack, batched, {b_company: bills}, 1800)
    made = sorted(created_at(stack, b_tenant).values())
    overall = len(made) / max(made[-1] - started, 1e-3) * 60
    second = [t for t in made if made[0] + 60 <= t < made[0] + 120]
    limited = made[-1] >= made[0] + 120
    batched_rate = len(second) if limited else overall
    return {
        "backlog_bills": bills,
        "bound": "xero-limits (second minute)" if limited else "pipeline (whole backlog)",
        "documents_per_min": round(batched_rate),
        "documents_per_min_overall": round(overall),
        "share_of_ceiling": round(batched_rate / 3000, 3),
        "batches_of_one_per_min": round(single_rate, 1),
        "batches_of_one_window_s": window_s,
        "ratio_to_batches_of_one": round(batched_rate / max(single_rate, 1e-9), 1),
    }


def steady_latency(stack: Stack, companies: int, rate: int, seconds: int) -> dict[str, Any]:
    """Acceptance to Xero's creation of the bill, for bills sent at a steady ``rate`` events/s
    spread over ``companies`` organisations (limits on, as in production), in requests of a
    tenth of a second's events."""
    rng = random.Random(3)
    tenants = connect(stack, "steady", companies)
    names = list(tenants)
    accepted: dict[tuple[str, str], float] = {}
    per_tick, tick = max(1, rate // 10), 0.1
    sent: dict[str, int] = dict.fromkeys(names, 0)
    start = time.monotonic()
    behind = 0
    with httpx.Client() as client:
        for n in range(int(seconds / tick)):
            batch = []
            for k in range(per_tick):
                company = names[(n * per_tick + k) % len(names)]
                number = f"L-{sent[company]}"
                sent[company] += 1
                batch.append((company, number, bill_event(company, number, rng)))
            at = post(stack, [e for _, _, e in batch], client)
            for company, number, _ in batch:
                accepted[(company, number)] = at
            pause = start + (n + 1) * tick - time.monotonic()
            if pause > 0:
                time.sleep(pause)  # pacing the load generator, not waiting for a result
            else:
                behind += 1
    sending_s = time.monotonic() - start
    wait_created(stack, tenants, sent, 900)
    latencies = []
    for company, tenant in tenants.items():
        for number, made in created_at(stack, tenant).items():
            if (company, number) in accepted:
                latencies.append(made - accepted[(company, number)])
    return {
        "companies": companies,
        "target_events_per_s": rate,
        "sent_events_per_s": round(len(accepted) / sending_s, 1),
        "ticks_behind_schedule": behind,
        "bills": len(latencies),
        "latency_s": percentiles(latencies),
    }


def fairness(stack: Stack, backlog: int, small: int) -> dict[str, Any]:
    """One company's ``backlog`` bills sent at once, then ``small`` companies' three bills each
    right after, a third of them on the backlog's partition: the small companies'
    acceptance-to-Xero latency (all, and those sharing the partition), and when the backlog
    was done. Limits on."""
    rng = random.Random(4)
    big = connect(stack, "month-end", 1)
    sharing = max(1, small // 3)
    smalls = connect_named(stack, small_companies("month-end-0", small, sharing))
    ((big_company, big_tenant),) = big.items()
    started = time.time()
    send_all(stack, [bill_event(big_company, f"M-{n}", rng) for n in range(backlog)])
    backlog_accepted = time.time() - started
    accepted: dict[tuple[str, str], float] = {}
    with httpx.Client() as client:
        for company in smalls:
            events = [bill_event(company, f"T-{n}", rng) for n in range(3)]
            at = post(stack, events, client)
            for e in events:
                accepted[(company, e["data"]["bill_id"])] = at
    wait_created(stack, smalls, dict.fromkeys(smalls, 3), 900)
    latencies = {
        company: [
            made - accepted[(company, number)] for number, made in created_at(stack, tenant).items()
        ]
        for company, tenant in smalls.items()
    }
    wait_created(stack, big, {big_company: backlog}, 3600)
    made = created_at(stack, big_tenant)
    return {
        "backlog_bills": backlog,
        "backlog_accepted_s": round(backlog_accepted, 1),
        "backlog_in_xero_s": round(max(made.values()) - started, 1),
        "small_companies": small,
        "small_latency_s": percentiles([s for c in smalls for s in latencies[c]]),
        "sharing_partition": sharing,
        "sharing_latency_s": percentiles([s for c in list(smalls)[:sharing] for s in latencies[c]]),
    }


def timed(label: str, run: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    print(f"[{datetime.now(UTC):%H:%M:%S}] {label} ...", flush=True)
    started = time.monotonic()
    out = run()
    out["scenario_s"] = round(time.monotonic() - started, 1)
    print(f"[{datetime.now(UTC):%H:%M:%S}] {label}: {json.dumps(out)}", flush=True)
    return out
