"""The writer's shared limiter on the real PostgreSQL: two limiter objects, each with its
own connection pool, stand for two writer instances on the same organisation.

Counts only, never timing: each test asks for turns and counts what was granted.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable

import pytest
from psycopg_pool import AsyncConnectionPool

from services.xero_writer import shared_limits
from services.xero_writer.shared_limits import Limits, SharedLimiter, Turn
from shared.db import open_pool

APP = "rx-test-app"

Instances = Callable[[str, Limits], tuple[SharedLimiter, SharedLimiter]]


@pytest.fixture
async def instances(fresh_database: str) -> AsyncIterator[Instances]:
    """Makes two limiters for one tenant, one per pool (per 'instance')."""
    pools = [await open_pool(fresh_database, max_size=8) for _ in range(2)]
    await shared_limits.setup(pools[0])
    await shared_limits.setup(pools[1])  # every instance runs it: idempotent

    def make(tenant: str, limits: Limits) -> tuple[SharedLimiter, SharedLimiter]:
        a, b = (SharedLimiter(lambda p=p: p, tenant, APP, limits) for p in pools)  # type: ignore[misc]
        return a, b

    yield make
    for pool in pools:
        await pool.close()


def tenant() -> str:
    return f"tenant-{uuid.uuid4().hex[:8]}"


async def take(limiter: SharedLimiter) -> Turn:
    """One turn, given back at once (the slot is not what is counted)."""
    turn = await limiter.try_acquire()
    if turn.reason is None:
        await limiter.release(turn.holder)
    return turn


async def test_two_instances_share_the_minute_window(instances: Instances) -> None:
    a, b = instances(tenant(), Limits(per_minute=7, concurrent=5))

    turns = [await take(a if i % 2 else b) for i in range(20)]

    granted = [t for t in turns if t.reason is None]
    assert len(granted) == 7
    assert {t.reason for t in turns if t.reason is not None} == {"minute"}
    # The first refusal must wait for the oldest of the 7 to leave the minute.
    assert 0 < turns[7].wait_s <= 60


async def test_two_instances_asking_at_once_never_pass_the_minute_limit(
    instances: Instances,
) -> None:
    a, b = instances(tenant(), Limits(per_minute=9, concurrent=50))

    turns = await asyncio.gather(*(take(a if i % 2 else b) for i in range(40)))

    assert sum(t.reason is None for t in turns) == 9


async def test_two_instances_never_hold_more_than_the_concurrent_slots(
    instances: Instances,
) -> None:
    a, b = instances(tenant(), Limits(per_minute=1000, concurrent=3))
    inside, peak, done = 0, 0, 0

    async def one(limiter: SharedLimiter) -> None:
        nonlocal inside, peak, done
        async with limiter.call():
            inside += 1
            peak = max(peak, inside)
            await asyncio.sleep(0.02)  # holds the slot while others ask
            inside -= 1
            done += 1

    await asyncio.gather(*(one(a if i % 2 else b) for i in range(24)))

    assert done == 24
    assert peak <= 3


async def test_slots_held_by_one_instance_are_refused_to_the_other(instances: Instances) -> None:
    a, b = instances(tenant(), Limits(concurrent=3))
    held = [await a.try_acquire() for _ in range(3)]
    assert all(t.reason is None for t in held)

    assert (await b.try_acquire()).reason == "concurrent"

    await a.release(held[0].holder)
    assert (await take(b)).reason is None


async def test_a_killed_instances_slots_come_back_after_their_lease(
    instances: Instances,
) -> None:
    a, b = instances(tenant(), Limits(concurrent=2, lease_s=1.0))
    # Instance a takes both slots and dies: it never gives them back.
    assert [(await a.try_acquire()).reason for _ in range(2)] == [None, None]
    assert (await b.try_acquire()).reason == "concurrent"

    # Both leases run out: b gets both slots (asked until then, within a deadline).
    assert [(await granted(b)).reason for _ in range(2)] == [None, None]
    assert (await b.try_acquire()).reason == "concurrent"


async def granted(limiter: SharedLimiter, within_s: float = 30) -> Turn:
    """Asks for a turn until one is granted, or ``within_s`` passed (the last refusal)."""
    deadline = asyncio.get_running_loop().time() + within_s
    turn = await limiter.try_acquire()
    while turn.reason is not None and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.1)
        turn = await limiter.try_acquire()
    return turn


async def test_a_pause_after_a_429_holds_the_other_instance(instances: Instances) -> None:
    a, b = instances(tenant(), Limits())
    a.pause(30)
    await asyncio.gather(*a._pauses)  # recorded in the background

    turn = await b.try_acquire()

    assert turn.reason == "paused"
    assert 0 < turn.wait_s <= 30


async def test_the_day_budget_is_shared_and_told(instances: Instances) -> None:
    a, b = instances(tenant(), Limits(per_day=3))
    assert [(await take(a)).reason, (await take(a)).reason] == [None, None]
    assert b.day_wait() == 0

    assert (await take(b)).reason is None  # the third: the day is spent

    assert 86_000 < b.day_wait() <= 86_400
    refused = await take(a)
    assert refused.reason == "day"
    assert 86_000 < a.day_wait() <= 86_400


async def test_the_app_wide_limit_spans_organisations_and_instances(
    instances: Instances,
) -> None:
    limits = Limits(app_per_minute=6)
    pairs = [instances(tenant(), limits) for _ in range(3)]

    turns = [await take(pairs[i % 3][i % 2]) for i in range(15)]

    assert sum(t.reason is None for t in turns) == 6
    assert {t.reason for t in turns[6:]} == {"app"}


async def test_one_organisations_spent_minute_never_holds_another(instances: Instances) -> None:
    busy, _ = instances(tenant(), Limits(per_minute=2))
    calm, _ = instances(tenant(), Limits(per_minute=2))

    assert [(await take(busy)).reason for _ in range(3)] == [None, None, "minute"]
    assert (await take(calm)).reason is None


async def test_the_limiter_waits_its_turn_through_call(instances: Instances) -> None:
    """``call()`` (the writer's way in) takes turns from both instances until the minute
    limit: the calls past it are still waiting when the granted ones are done."""
    a, b = instances(tenant(), Limits(per_minute=4))
    finished = 0
    four = asyncio.Event()

    async def one(limiter: SharedLimiter) -> None:
        nonlocal finished
        async with limiter.call():
            finished += 1
            if finished == 4:
                four.set()

    tasks = [asyncio.create_task(one(a if i % 2 else b)) for i in range(6)]
    await asyncio.wait_for(four.wait(), 20)
    await asyncio.sleep(0)  # a fifth, if it were let through, would be in by now
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)

    assert finished == 4


async def test_the_pool_is_asked_once_per_turn(instances: Instances) -> None:
    """A granted call costs two statements: the turn and the slot given back."""
    a, _ = instances(tenant(), Limits())
    statements: list[str] = []
    pool = a._pool()

    class Counting:
        def __init__(self, inner: AsyncConnectionPool) -> None:
            self.inner = inner

        def connection(self) -> object:
            statements.append("connection")
            return self.inner.connection()

    a._pool = lambda: Counting(pool)  # type: ignore[assignment,return-value]
    async with a.call():
        pass

    assert statements == ["connection", "connection"]


async def test_a_call_counts_in_the_minute_until_a_minute_after_its_answer(
    instances: Instances,
) -> None:
    """Xero counts a call when it arrives, somewhere between our asking and the answer: so
    ours counts from the turn until a minute after the slot is given back."""
    a, b = instances(tenant(), Limits(per_minute=1, lease_s=30))
    first = await a.try_acquire()
    assert first.reason is None

    in_flight = await b.try_acquire()
    await a.release(first.holder)
    answered = await b.try_acquire()

    assert in_flight.reason == answered.reason == "minute"
    assert in_flight.wait_s > 60  # its lease's expiry, plus the minute
    assert 59 < answered.wait_s <= 60
