"""Xero's limits held in PostgreSQL, so they hold across every writer instance.

Xero counts per organisation (tenant) and app: at most 5 calls at once, 60 a minute and
5,000 a day, and per app 10,000 a minute across all organisations (docs/xero/xero-facts.md,
section 3). An in-process limiter (``limits.OrgLimiter``) is right for one writer; two
writers would each allow 60 a minute for the same organisation. Here the counts live in
the writer's database, and every instance asks it before each call:

- ``writer_limits``, a row per organisation: its calls of the last minute (at most
  ``per_minute``, a rolling window), its day window (start, count), its 429 pause, and its
  concurrency leases (holder id, expiry). A lease ends when its call ends, or at its
  expiry if the instance died: a killed instance's slots come back after ``lease_s`` at
  most. A call counts in the minute from when it is sent until a minute after its answer
  came (until a minute after its lease's expiry if no answer is recorded): Xero counts it
  at some moment in between, so however long the network takes, no 60 s of Xero's, fixed
  or rolling, sees more than ``per_minute`` of our calls.
- ``writer_app_limit``, a row per Xero app: calls in 5-second buckets over the last
  minute; a call goes only while the buckets that touch the last 60 s hold fewer than
  ``app_per_minute`` (never more than the limit in any 60 s, at the price of up to 5 s of
  slack).

One statement takes a turn (``writer_limit_acquire``: counts, checks and records under
the organisation's row lock, then the app row's, always in that order, so no deadlock) and
one gives the slot back (``writer_limit_release``). Time is PostgreSQL's clock, so
instances never disagree on it. A refused turn says how long to wait; the caller sleeps
that long (polls, for a slot held elsewhere) and asks again. Each organisation has its
own row and its own waiters, so one company's backlog never delays another's (only the
app-wide limit is shared by all).
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

from prometheus_client import Counter
from psycopg_pool import AsyncConnectionPool

from shared.db import ensure_schema
from shared.logging import get_logger

log = get_logger("xero_writer.limits")

WAITS = Counter(
    "rx_writer_limit_waits_total",
    "calls that waited for a Xero limit (shared limiter), by the limit that held them",
    ["limit"],
)

# A slot held by another instance frees when its call ends: poll for it between these.
SLOT_POLL_S = (0.05, 0.25)
# Never sleep longer than this between asks: a pause lifted or a day reset is seen soon.
MAX_SLEEP_S = 5.0

DDL = """
CREATE TABLE IF NOT EXISTS writer_limits (
    tenant_id TEXT PRIMARY KEY,
    recent TIMESTAMPTZ[] NOT NULL DEFAULT '{}',
    day_start TIMESTAMPTZ NOT NULL DEFAULT 'epoch',
    day_count INTEGER NOT NULL DEFAULT 0,
    paused_until TIMESTAMPTZ NOT NULL DEFAULT 'epoch',
    holders TEXT[] NOT NULL DEFAULT '{}',
    expiries TIMESTAMPTZ[] NOT NULL DEFAULT '{}'
);
CREATE TABLE IF NOT EXISTS writer_app_limit (
    app TEXT PRIMARY KEY,
    bucket BIGINT NOT NULL DEFAULT 0,
    counts INTEGER[] NOT NULL DEFAULT '{}'
);
CREATE OR REPLACE FUNCTION writer_limit_acquire(
    p_tenant TEXT, p_app TEXT, p_holder TEXT,
    p_per_minute INTEGER, p_concurrent INTEGER, p_per_day INTEGER, p_app_per_minute INTEGER,
    p_lease_s DOUBLE PRECISION,
    OUT wait_s DOUBLE PRECISION, OUT reason TEXT, OUT day_left_s DOUBLE PRECISION
) LANGUAGE plpgsql AS $fn$
DECLARE
    r writer_limits%ROWTYPE;
    a writer_app_limit%ROWTYPE;
    t TIMESTAMPTZ;
    v_bucket BIGINT;
    v_shift INTEGER;
    v_counts INTEGER[];
    v_waits DOUBLE PRECISION[];
BEGIN
    INSERT INTO writer_limits (tenant_id) VALUES (p_tenant) ON CONFLICT DO NOTHING;
    SELECT * INTO r FROM writer_limits WHERE tenant_id = p_tenant FOR UPDATE;
    t := clock_timestamp();
    IF t >= r.day_start + interval '1 day' THEN
        r.day_start := t;
        r.day_count := 0;
    END IF;
    r.recent := ARRAY(
        SELECT c FROM unnest(r.recent) AS c WHERE c > t - interval '1 minute' ORDER BY c
    );
    SELECT coalesce(array_agg(h ORDER BY e), '{}'), coalesce(array_agg(e ORDER BY e), '{}')
      INTO r.holders, r.expiries
      FROM unnest(r.holders, r.expiries) AS x(h, e) WHERE e > t;
    day_left_s := 0;
    v_waits := ARRAY[
        extract(epoch FROM r.paused_until - t),
        CASE WHEN r.day_count >= p_per_day
             THEN extract(epoch FROM r.day_start + interval '1 day' - t) ELSE 0 END,
        CASE WHEN cardinality(r.recent) >= p_per_minute
             THEN extract(epoch FROM r.recent[cardinality(r.recent) - p_per_minute + 1]
                                     + interval '1 minute' - t)
             ELSE 0 END
    ];
    wait_s := greatest(v_waits[1], v_waits[2], v_waits[3], 0);
    IF wait_s > 0 THEN
        reason := (ARRAY['paused', 'day', 'minute'])[array_position(v_waits, wait_s)];
        IF reason = 'day' THEN
            day_left_s := wait_s;
        END IF;
        RETURN;
    END IF;
    IF cardinality(r.holders) >= p_concurrent THEN
        reason := 'concurrent';
        wait_s := extract(epoch FROM r.expiries[1] - t);
        RETURN;
    END IF;
    INSERT INTO writer_app_limit (app) VALUES (p_app) ON CONFLICT DO NOTHING;
    SELECT * INTO a FROM writer_app_limit WHERE app = p_app FOR UPDATE;
    v_bucket := floor(extract(epoch FROM t) / 5)::BIGINT;
    v_shift := least(greatest(v_bucket - a.bucket, 0), 13)::INTEGER;
    -- Bucket 1 is the current 5 s; 13 of them cover the last 60 s and a little more.
    v_counts := array_fill(0, ARRAY[v_shift]) || a.counts[1:13 - v_shift];
    v_counts := v_counts || array_fill(0, ARRAY[13 - cardinality(v_counts)]);
    IF (SELECT sum(n) FROM unnest(v_counts) AS n) >= p_app_per_minute THEN
        reason := 'app';
        wait_s := 5 - (extract(epoch FROM t) - v_bucket * 5);
        RETURN;
    END IF;
    v_counts[1] := v_counts[1] + 1;
    UPDATE writer_app_limit SET bucket = v_bucket, counts = v_counts WHERE app = p_app;
    -- Counted in the minute from now until a minute after its answer: the release puts the
    -- answer's time in place of this stamp (the lease's expiry, if it never comes).
    UPDATE writer_limits SET
        recent = r.recent || (t + make_interval(secs => p_lease_s)),
        day_start = r.day_start,
        day_count = r.day_count + 1,
        holders = r.holders || p_holder,
        expiries = r.expiries || (t + make_interval(secs => p_lease_s))
      WHERE tenant_id = p_tenant;
    IF r.day_count + 1 >= p_per_day THEN
        day_left_s := extract(epoch FROM r.day_start + interval '1 day' - t);
    END IF;
    reason := NULL;
    wait_s := 0;
END
$fn$;
CREATE OR REPLACE FUNCTION writer_limit_release(p_tenant TEXT, p_holder TEXT)
RETURNS VOID LANGUAGE plpgsql AS $fn$
DECLARE
    r writer_limits%ROWTYPE;
    i INTEGER;
    j INTEGER;
BEGIN
    SELECT * INTO r FROM writer_limits WHERE tenant_id = p_tenant FOR UPDATE;
    i := array_position(r.holders, p_holder);
    IF i IS NULL THEN
        RETURN;  -- the lease ran out first
    END IF;
    j := array_position(r.recent, r.expiries[i]);
    IF j IS NOT NULL THEN
        r.recent[j] := clock_timestamp();
    END IF;
    UPDATE writer_limits SET
        recent = r.recent,
        holders = r.holders[:i - 1] || r.holders[i + 1:],
        expiries = r.expiries[:i - 1] || r.expiries[i + 1:]
      WHERE tenant_id = p_tenant;
END
$fn$;
"""

RELEASE = "SELECT writer_limit_release(%(tenant)s, %(holder)s)"

PAUSE = """
INSERT INTO writer_limits (tenant_id, paused_until)
VALUES (%(tenant)s, clock_timestamp() + make_interval(secs => %(s)s))
ON CONFLICT (tenant_id) DO UPDATE SET
    paused_until = greatest(writer_limits.paused_until, excluded.paused_until)
"""


@dataclass(frozen=True)
class Limits:
    """Xero's numbers (defaults: Xero's documented ones) and the lease of a slot.

    ``lease_s``: how long a slot stays held if its holder never gives it back (a killed
    instance); longer than any call lasts (the client's timeout), so a live call keeps it.
    """

    per_minute: int = 60
    concurrent: int = 5
    per_day: int = 5000
    app_per_minute: int = 10_000
    lease_s: float = 60.0


@dataclass(frozen=True)
class Turn:
    """One answer of ``writer_limit_acquire``: ``reason`` None when the call may go (its
    slot is then held under ``holder``); otherwise the limit that holds it (``paused``,
    ``day``, ``minute``, ``concurrent`` or ``app``) and ``wait_s`` until it may free.
    ``day_left_s`` > 0: the day budget is spent, calls go again in that many seconds."""

    holder: str
    reason: str | None
    wait_s: float
    day_left_s: float


async def setup(pool: AsyncConnectionPool) -> None:
    """Creates the tables and the function (idempotent; every instance may run it)."""
    await ensure_schema(pool, DDL)


class SharedLimiter:
    """One organisation's limiter whose counts are shared by every writer instance.

    The interface of ``limits.OrgLimiter``: ``async with limiter.call():`` waits for a turn
    (raises what PostgreSQL raises when the database is away: the lane tries again),
    ``pause(seconds)`` holds every instance's calls to the organisation (Xero's
    Retry-After), ``day_wait()`` says how long the day budget still holds (0: not spent).
    """

    def __init__(
        self,
        pool: Callable[[], AsyncConnectionPool],
        tenant_id: str,
        app: str,
        limits: Limits = Limits(),  # noqa: B008 - frozen
    ) -> None:
        self._pool, self.tenant_id, self.app, self.limits = pool, tenant_id, app, limits
        # Locally: never more waiters asking than there are slots, and one asking at a
        # time, in order (the others queue here, not in the database).
        self._slots = asyncio.Semaphore(limits.concurrent)
        self._turn = asyncio.Lock()
        self._paused_until = 0.0  # monotonic; this instance's own 429s, known at once
        self._day_until = 0.0  # monotonic; the day budget spent until then
        self._pauses: set[asyncio.Task[None]] = set()
        self._instance = uuid.uuid4().hex[:8]

    def day_wait(self) -> float:
        """Seconds until calls go again when the organisation's day budget is spent, else 0."""
        return max(0.0, self._day_until - time.monotonic())

    def pause(self, seconds: float) -> None:
        """Every instance holds the organisation's calls for ``seconds`` (Xero's
        Retry-After); recorded in the background (the caller is not async)."""
        self._paused_until = max(self._paused_until, time.monotonic() + seconds)
        task = asyncio.create_task(self._record_pause(seconds))
        self._pauses.add(task)
        task.add_done_callback(self._pauses.discard)

    async def _record_pause(self, seconds: float) -> None:
        try:
            async with self._pool().connection() as conn:
                await conn.execute(PAUSE, {"tenant": self.tenant_id, "s": seconds})
        except Exception as exc:  # noqa: BLE001 - our own pause still holds this instance
            log.warning("limit_pause_not_shared", tenant_id=self.tenant_id, error=repr(exc))

    async def try_acquire(self) -> Turn:
        """Asks once for a turn (one statement); the slot is held when ``reason`` is None."""
        holder = f"{self._instance}-{uuid.uuid4().hex[:12]}"
        lim = self.limits
        async with self._pool().connection() as conn:
            cur = await conn.execute(
                "SELECT wait_s, reason, day_left_s FROM writer_limit_acquire"
                "(%s, %s, %s, %s, %s, %s, %s, %s)",
                (
                    self.tenant_id,
                    self.app,
                    holder,
                    lim.per_minute,
                    lim.concurrent,
                    lim.per_day,
                    lim.app_per_minute,
                    lim.lease_s,
                ),
            )
            row = await cur.fetchone()
        assert row is not None  # a function with OUT parameters always answers one row
        wait_s, reason, day_left_s = float(row[0] or 0), row[1], float(row[2] or 0)
        if day_left_s > 0:
            self._day_until = time.monotonic() + day_left_s
        return Turn(holder, reason, wait_s, day_left_s)

    async def release(self, holder: str) -> None:
        """Gives the slot back (one statement); if this fails, the lease runs out instead."""
        try:
            async with self._pool().connection() as conn:
                await conn.execute(RELEASE, {"holder": holder, "tenant": self.tenant_id})
        except Exception as exc:  # noqa: BLE001 - the lease expires: the slot comes back
            log.warning("limit_release_failed", tenant_id=self.tenant_id, error=repr(exc))

    async def _wait_turn(self) -> str:
        held: set[str] = set()
        async with self._turn:
            while True:
                local = self._paused_until - time.monotonic()
                if local > 0:
                    held.add("paused")
                    await asyncio.sleep(min(local, MAX_SLEEP_S))
                    continue
                turn = await self.try_acquire()
                if turn.reason is None:
                    for reason in held:
                        WAITS.labels(reason).inc()
                    return turn.holder
                held.add(turn.reason)
                if turn.reason in ("concurrent", "app"):
                    # Freed when another instance's call ends: poll, a little at random so
                    # instances do not ask in step.
                    sleep = min(max(turn.wait_s, 0.0), random.uniform(*SLOT_POLL_S))
                else:
                    sleep = min(turn.wait_s, MAX_SLEEP_S)
                await asyncio.sleep(max(sleep, 0.01))

    @asynccontextmanager
    async def call(self) -> AsyncIterator[None]:
        async with self._slots:
            holder = await self._wait_turn()
            try:
                yield
            finally:
                await self.release(holder)
