"""The consumer loop's batch handler, without Kafka: a batch is handled at once, a failing
batch goes record by record (only the bad record is dead-lettered), an outage stops it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg
import pytest
from aiokafka import TopicPartition
from aiokafka.structs import ConsumerRecord

from shared.contracts.topics import DOMAIN_EVENTS, XERO_RESULTS
from shared.messaging.consumer import ConsumerLoop, Outage, RetryBudget
from shared.messaging.dead_letters import DeadLetter

TP = TopicPartition(DOMAIN_EVENTS, 0)


class FakeDeadLetters:
    def __init__(self) -> None:
        self.letters: list[DeadLetter] = []

    async def write(self, letter: DeadLetter) -> None:
        self.letters.append(letter)


def record(
    offset: int, value: bytes = b"ok", topic: str = DOMAIN_EVENTS
) -> ConsumerRecord[Any, Any]:
    return ConsumerRecord(
        topic=topic,
        partition=0,
        offset=offset,
        timestamp=0,
        timestamp_type=0,
        key=b"co-1",
        value=value,
        checksum=None,
        serialized_key_size=4,
        serialized_value_size=len(value),
        headers=[],
    )


def loop(handle: Any, handle_batch: Any, letters: FakeDeadLetters) -> ConsumerLoop:
    return ConsumerLoop(
        name="test",
        bootstrap="unused:9092",
        group_id="rx-test",
        topics=[XERO_RESULTS, DOMAIN_EVENTS],
        handle=handle,
        handle_batch=handle_batch,
        dead_letters=letters,  # type: ignore[arg-type]
        budget=RetryBudget(attempts=2, first_backoff_s=0.001, max_backoff_s=0.002),
    )


async def test_a_batch_is_handled_at_once_and_its_last_offset_is_committable() -> None:
    batches: list[list[int]] = []

    async def handle(r: ConsumerRecord[Any, Any]) -> None:
        raise AssertionError("one by one only after a failed batch")

    async def handle_batch(rs: Sequence[ConsumerRecord[Any, Any]]) -> None:
        batches.append([r.offset for r in rs])

    letters = FakeDeadLetters()
    consumer = loop(handle, handle_batch, letters)
    await consumer._handle_partition(TP, [record(3), record(4), record(5)])
    assert batches == [[3, 4, 5]]
    assert consumer._handled[TP] == 6 and letters.letters == []


async def test_a_failing_batch_goes_one_by_one_and_only_the_bad_record_is_dead_lettered() -> None:
    handled: list[int] = []

    async def handle(r: ConsumerRecord[Any, Any]) -> None:
        if r.value == b"bad":
            raise ValueError("rules said no")
        handled.append(r.offset)

    async def handle_batch(rs: Sequence[ConsumerRecord[Any, Any]]) -> None:
        if any(r.value == b"bad" for r in rs):
            raise ValueError("one of them is bad")
        handled.extend(r.offset for r in rs)

    letters = FakeDeadLetters()
    consumer = loop(handle, handle_batch, letters)
    await consumer._handle_partition(TP, [record(0), record(1, b"bad"), record(2)])
    assert handled == [0, 2]
    assert [letter.offset for letter in letters.letters] == [1]
    assert consumer._handled[TP] == 3


async def test_an_outage_in_a_batch_stops_the_consumer_without_dead_letters() -> None:
    async def handle(r: ConsumerRecord[Any, Any]) -> None:
        raise AssertionError("an outage is not a record's fault")

    async def handle_batch(rs: Sequence[ConsumerRecord[Any, Any]]) -> None:
        raise psycopg.OperationalError("connection refused")

    letters = FakeDeadLetters()
    consumer = loop(handle, handle_batch, letters)
    with pytest.raises(Outage):
        await consumer._handle_partition(TP, [record(0), record(1)])
    assert letters.letters == [] and TP not in consumer._handled


def test_answers_come_before_facts_in_each_fetch() -> None:
    consumer = loop(None, None, FakeDeadLetters())
    fetched: dict[TopicPartition, list[Any]] = {
        TopicPartition(DOMAIN_EVENTS, 0): [],
        TopicPartition(XERO_RESULTS, 1): [],
        TopicPartition(DOMAIN_EVENTS, 1): [],
    }
    order = [tp for tp, _ in sorted(fetched.items(), key=consumer._topic_order)]
    assert order[0] == TopicPartition(XERO_RESULTS, 1)


class _Buffered:
    """aiokafka's consumer as ``_fetch`` uses it: records already fetched, per partition,
    handed out as ``getmany`` does (in arrival order, stopping at ``max_records``)."""

    def __init__(self, buffered: dict[TopicPartition, list[int]], paused: set[TopicPartition]):
        self.buffered, self.held = buffered, paused

    def assignment(self) -> set[TopicPartition]:
        return set(self.buffered)

    def paused(self) -> set[TopicPartition]:
        return set(self.held)

    async def getmany(
        self, *partitions: TopicPartition, timeout_ms: int, max_records: int
    ) -> dict[TopicPartition, list[int]]:
        out: dict[TopicPartition, list[int]] = {}
        for tp, waiting in self.buffered.items():
            if (partitions and tp not in partitions) or tp in self.held or not waiting:
                continue
            out[tp], self.buffered[tp] = waiting[:max_records], waiting[max_records:]
            max_records -= len(out[tp])
            if max_records == 0:
                break
        return out


async def test_a_partitions_backlog_does_not_keep_the_others_records_waiting() -> None:
    consumer = loop(None, None, FakeDeadLetters())
    backlog, quiet, held = (TopicPartition(DOMAIN_EVENTS, p) for p in (0, 1, 2))
    fake = _Buffered({backlog: list(range(2000)), quiet: [7, 8], held: [9]}, paused={held})
    fetched = await consumer._fetch(fake)  # type: ignore[arg-type]
    assert {tp: len(r) for tp, r in fetched.items()} == {backlog: 500, quiet: 2}
    # The quiet partition's two records are handled before the backlog's batch.
    order = [tp for tp, _ in sorted(fetched.items(), key=consumer._topic_order)]
    assert order == [quiet, backlog]


def admitting_small() -> ConsumerLoop:
    """A loop whose ``admit`` lets through only the records of value ``small``."""
    return ConsumerLoop(
        name="test",
        bootstrap="unused:9092",
        group_id="rx-test",
        topics=[DOMAIN_EVENTS],
        handle=None,  # type: ignore[arg-type]
        dead_letters=FakeDeadLetters(),  # type: ignore[arg-type]
        admit=lambda tp, rs: [r for r in rs if r.value == b"small"],
    )


class BufferedConsumer:
    """``getmany(tp)`` hands out a partition's records in fetches of ``size``."""

    def __init__(self, records: list[ConsumerRecord[Any, Any]], size: int) -> None:
        self.records, self.size, self.calls = records, size, 0

    async def getmany(
        self, *tps: TopicPartition, timeout_ms: int = 0, max_records: int | None = None
    ) -> dict[TopicPartition, list[ConsumerRecord[Any, Any]]]:
        self.calls += 1
        taken, self.records = self.records[: self.size], self.records[self.size :]
        return {TP: taken} if taken else {}


async def test_a_partition_whose_records_are_all_set_aside_is_read_on_in_the_same_round() -> None:
    """A company behind a backlog that ``admit`` sets aside is reached in one round of the
    loop, not one fetch of the backlog per round of every other partition's handling."""
    backlog = [record(o) for o in range(100)]
    behind = record(100, b"small")

    consumer = admitting_small()
    kafka = BufferedConsumer([*backlog[10:], behind], size=10)

    admitted = await consumer._admitted(kafka, TP, backlog[:10])  # type: ignore[arg-type]

    assert [r.offset for r in admitted] == [100]
    assert kafka.calls == 10
    assert await consumer._admitted(kafka, TP, backlog[:10]) == []  # nothing more: caught up


async def test_records_read_while_the_partitions_are_handed_out_again_are_read_again() -> None:
    """A rebalance while the loop reads on past records set aside: what the read brought from
    the new assignment's position is not handled now, so it is sought back to, not lost."""
    sought: list[tuple[TopicPartition, int]] = []
    consumer = admitting_small()

    class Rebalancing:
        async def getmany(self, *tps: TopicPartition, **_: Any) -> dict[Any, Any]:
            consumer._rebalanced({TP})  # the listener, beside the loop: sought to 3
            return {TP: [record(3, b"small"), record(4, b"small")]}

        def seek(self, tp: TopicPartition, offset: int) -> None:
            sought.append((tp, offset))

    admitted = await consumer._admitted(Rebalancing(), TP, [record(8), record(9)])  # type: ignore[arg-type]

    assert admitted == [] and sought == [(TP, 3)]
