"""The one consumer loop: every service reads Kafka through it.

Each record is handled on its own. A failure that is the record's (it cannot be
stored or decided on) is retried within a bounded budget with exponential
backoff and jitter, then the record is dead-lettered with its original bytes
and the partition moves on: one record never stops anyone. A record that
cannot even be decoded or validated is dead-lettered at once (no retry reads
the same bytes differently).

A failure that is nobody's record (PostgreSQL or Kafka away) is not spent
against the record's budget: the loop stops consuming, waits, reconnects and
reads again from the last committed (or tracked) position. Progress is at
least once; handlers make their effects idempotent.

Written on aiokafka rather than faststream's subscribers: faststream's Kafka
ack policies either commit before the handler, commit after it raised, or
re-read a poison record forever, and its ``ack()`` commits every assigned
partition (docs/pitfalls.md); none of them gives a retry budget or a dead letter.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import psycopg
import psycopg_pool
from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaError
from aiokafka.structs import OffsetAndMetadata
from prometheus_client import Counter, Histogram
from pydantic import ValidationError
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_exponential_jitter

from shared.logging import get_logger
from shared.messaging.dead_letters import DeadLetter, DeadLetterWriter
from shared.messaging.kafka import Security, kafka_security, manual_consumer
from shared.settings import KafkaSettings

log = get_logger("consumer")

RECORDS = Counter("rx_consumer_records_total", "records handled", ["consumer", "topic", "outcome"])
RESTARTS = Counter("rx_consumer_restarts_total", "consumer restarts after outages", ["consumer"])
FAILED_ATTEMPTS = Counter(
    "rx_consumer_failed_attempts_total",
    "attempts at one record that raised (each retry of the budget, and the last)",
    ["consumer", "topic"],
)
HANDLING = Histogram(
    "rx_consumer_handling_seconds",
    "time to handle one partition's fetched records, retries and dead letters included",
    ["consumer", "topic"],
)


# How long one partition may be read on while ``admit`` lets none of its records through.
SKIP_READING_S = 1.0


class Handler(Protocol):
    async def __call__(self, record: ConsumerRecord[Any, Any]) -> None: ...


class BatchHandler(Protocol):
    """Handles one partition's fetched records together (e.g. in one transaction).

    All or nothing: it raises if any record failed, leaving none of them handled, and the
    loop then hands the records to ``handle`` one at a time, so only the failing record
    spends a retry budget and is dead-lettered."""

    async def __call__(self, records: Sequence[ConsumerRecord[Any, Any]]) -> None: ...


@dataclass(frozen=True)
class RetryBudget:
    """How often a record's own failure is retried before it is dead-lettered.

    The defaults spend about 1.5 s on a poison record, far below Kafka's
    ``max.poll.interval.ms`` (300 s), so the consumer never leaves its group.
    """

    attempts: int = 5
    first_backoff_s: float = 0.1
    max_backoff_s: float = 1.0


def is_outage(exc: BaseException) -> bool:
    """True when ``exc`` says a dependency is away, not that the record is bad.

    PostgreSQL connection and lock failures (``OperationalError``, which does not cover
    ``DataError`` such as a NUL byte), an exhausted pool, and Kafka errors that Kafka
    itself calls retriable (connection, timeout, leader moves).
    """
    if isinstance(exc, psycopg.OperationalError | psycopg_pool.PoolTimeout):
        return True
    if isinstance(exc, KafkaError):
        return bool(getattr(exc, "retriable", False))
    return isinstance(exc, ConnectionError | TimeoutError)


class Outage(Exception):
    """A dependency is away: stop consuming and come back later."""


class Unprocessable(Exception):
    """Raised by a handler for a record that can never be handled (invalid, conflicting):
    it is dead-lettered at once with this message as the reason, without retries."""


# Reading the same bytes fails the same way every time: no retry can help these.
_UNREADABLE = (Unprocessable, ValidationError, UnicodeDecodeError, json.JSONDecodeError)


def describe(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}"


class _SeekOnAssign(ConsumerRebalanceListener):  # type: ignore[misc]
    """Seeks each partition assigned to the service's own position; ``rebalanced(tps)`` is
    called first, before any await (aiokafka runs this beside the loop), so the loop hands out
    nothing it fetched before and the service forgets what it knew of those partitions."""

    def __init__(
        self,
        consumer: AIOKafkaConsumer,
        position: Callable[[TopicPartition], Awaitable[int | None]],
        rebalanced: Callable[[set[TopicPartition]], None],
    ) -> None:
        self._consumer, self._position, self._rebalanced = consumer, position, rebalanced

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        self._rebalanced(revoked)

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        self._rebalanced(assigned)
        for tp in assigned:
            position = await self._position(tp)
            if position is not None:
                self._consumer.seek(tp, position)


class ConsumerLoop:
    """Reads ``topics`` as consumer group ``group_id`` and hands each record to ``handle``.

    Hooks (all optional):
      - ``position(tp)``: where to start a partition on assignment (the service's own
        durable record of progress); else Kafka's committed offset.
      - ``after_dead_letter(record, letter)``: called once a record was dead-lettered, e.g.
        to record its position and show the failure on its document. It must not raise
        for a record's own fault (it is retried like a handler, then logged).
      - ``committable()``: the offsets safe to commit now; else one past each handled record.
      - ``before_poll()``: awaited before each fetch (back-pressure).
      - ``after_batch()``: awaited after each fetched batch was handled.
      - ``before_stop()``: awaited on a graceful stop, before the last commit.
      - ``handle_batch(records)``: handles each partition's fetched records at once (see
        ``BatchHandler``); on its failure (not an outage) the records go one by one
        through ``handle`` with the retry budget and the dead letter.
      - ``admit(tp, records)``: which of a partition's fetched records to handle now; the
        others are neither handled nor committed (the service reads them again later, e.g.
        after a seek in ``before_poll``, and says what is committable).
      - ``on_rebalance(tps)``: with ``position``, called at once (not awaited, before any
        other await of the rebalance) with the partitions revoked or assigned.

    Partitions are handled in the order of ``topics`` within each fetch, so a service that
    names its answers' topic first has them applied before a backlog of new facts.
    """

    def __init__(
        self,
        *,
        name: str,
        bootstrap: str,
        group_id: str,
        topics: Sequence[str],
        security: Security | None = None,
        handle: Handler,
        dead_letters: DeadLetterWriter,
        budget: RetryBudget = RetryBudget(),
        position: Callable[[TopicPartition], Awaitable[int | None]] | None = None,
        after_dead_letter: Callable[[ConsumerRecord[Any, Any], DeadLetter], Awaitable[None]]
        | None = None,
        committable: Callable[[], dict[TopicPartition, int]] | None = None,
        before_poll: Callable[[], Awaitable[object]] | None = None,
        after_batch: Callable[[], Awaitable[None]] | None = None,
        before_stop: Callable[[], Awaitable[None]] | None = None,
        max_records: int = 500,
        handle_batch: BatchHandler | None = None,
        admit: Callable[
            [TopicPartition, Sequence[ConsumerRecord[Any, Any]]],
            Sequence[ConsumerRecord[Any, Any]],
        ]
        | None = None,
        on_rebalance: Callable[[set[TopicPartition]], None] | None = None,
    ) -> None:
        self.name, self.group_id, self.topics = name, group_id, list(topics)
        self._bootstrap, self._security = bootstrap, security
        self._handle, self._dead_letters, self._budget = handle, dead_letters, budget
        self._position, self._after_dead_letter = position, after_dead_letter
        self._committable, self._before_poll = committable, before_poll
        self._after_batch, self._before_stop = after_batch, before_stop
        self._max_records = max_records
        self._handle_batch = handle_batch
        self._admit = admit
        self._rebalances = 0  # counted by the position hook's listener
        self._on_rebalance = on_rebalance
        self._stopping = asyncio.Event()
        self._handled: dict[TopicPartition, int] = {}
        self.consumer: AIOKafkaConsumer | None = None
        self.kafka_ok = False

    def stop(self) -> None:
        self._stopping.set()

    def _rebalanced(self, tps: set[TopicPartition]) -> None:
        self._rebalances += 1
        if self._on_rebalance is not None:
            self._on_rebalance(tps)

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    async def run(self) -> None:
        """Consumes until ``stop()``; an outage restarts the consumer after a growing pause."""
        backoff = 1.0
        while not self._stopping.is_set():
            try:
                await self._consume()
                backoff = 1.0
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - an outage: logged, waited out, retried
                RESTARTS.labels(self.name).inc()
                log.error(
                    "consumer_restarting",
                    consumer=self.name,
                    error=describe(exc),
                    retry_in_s=backoff,
                )
                try:
                    await asyncio.wait_for(self._stopping.wait(), timeout=backoff)
                except TimeoutError:
                    pass
                backoff = min(backoff * 2, 30.0)

    async def _consume(self) -> None:
        consumer = manual_consumer(self._bootstrap, self.group_id, self.name, self._security)
        if self._position is not None:
            listener = _SeekOnAssign(consumer, self._position, self._rebalanced)
            consumer.subscribe(self.topics, listener=listener)
        else:
            consumer.subscribe(self.topics)
        self.consumer = consumer
        self._handled.clear()
        await consumer.start()
        self.kafka_ok = True
        try:
            while not self._stopping.is_set():
                if self._before_poll is not None:
                    await self._before_poll()
                batch = await self._fetch(consumer)
                rebalances = self._rebalances
                for tp, records in sorted(batch.items(), key=self._topic_order):
                    if self._rebalances != rebalances:
                        # The partitions were handed out again and sought to the service's
                        # own positions (which may be behind these records): read from there.
                        break
                    admitted = await self._admitted(consumer, tp, records)
                    if admitted:
                        await self._handle_partition(tp, admitted)
                if batch and self._after_batch is not None:
                    await self._after_batch()
                await self._commit()
        finally:
            self.kafka_ok = False
            try:
                if self._stopping.is_set() and self._before_stop is not None:
                    await self._before_stop()
                await self._commit()
            finally:
                await consumer.stop()

    async def _fetch(
        self, consumer: AIOKafkaConsumer
    ) -> dict[TopicPartition, list[ConsumerRecord[Any, Any]]]:
        """Up to ``max_records`` of every partition that has records in hand.

        aiokafka's ``getmany`` hands out partitions in the order their data arrived and stops
        at ``max_records``, so a partition with a deep backlog (one company's month end) came
        alone, round after round, while the records of the other partitions waited in the
        buffer (issue 14: fairness). The first call waits for anything; the others only take
        what is already fetched."""
        batch = await consumer.getmany(timeout_ms=500, max_records=self._max_records)
        if batch:
            for tp in consumer.assignment() - consumer.paused() - batch.keys():
                more = await consumer.getmany(tp, timeout_ms=0, max_records=self._max_records)
                batch.update(more)
        return batch

    async def _admitted(
        self,
        consumer: AIOKafkaConsumer,
        tp: TopicPartition,
        records: Sequence[ConsumerRecord[Any, Any]],
    ) -> Sequence[ConsumerRecord[Any, Any]]:
        """The records ``admit`` lets through; while it lets none of a partition's through,
        the partition is read on at once (for up to ``SKIP_READING_S``): records set aside
        cost their reading only, not a round of every other partition's handling each
        (issue 14: a company behind a 10,000-record backlog waited 5 s for it to be read)."""
        if self._admit is None:
            return records
        admitted = self._admit(tp, records)
        deadline = asyncio.get_running_loop().time() + SKIP_READING_S
        rebalances = self._rebalances
        while not admitted and asyncio.get_running_loop().time() < deadline:
            more = await consumer.getmany(tp, timeout_ms=100, max_records=self._max_records)
            if self._rebalances != rebalances:
                if more.get(tp):
                    # Read from the new assignment's position and not handled: read them
                    # again (the listener's own seek, if still to come, wins).
                    consumer.seek(tp, more[tp][0].offset)
                break
            if not more.get(tp):
                break
            admitted = self._admit(tp, more[tp])
        return admitted

    def _topic_order(self, item: tuple[TopicPartition, list[Any]]) -> tuple[int, int, int]:
        """The topics in the order given (Xero's answers before new facts), and within one,
        the shortest run of records first: a few records of a quiet partition do not wait
        behind a backlog's batch."""
        tp, records = item
        rank = self.topics.index(tp.topic) if tp.topic in self.topics else len(self.topics)
        return (rank, len(records), tp.partition)

    async def _handle_partition(
        self, tp: TopicPartition, records: Sequence[ConsumerRecord[Any, Any]]
    ) -> None:
        """The batch handler first, if any; record by record if it failed or is absent."""
        with HANDLING.labels(self.name, tp.topic).time():
            await self._handle_records(tp, records)

    async def _handle_records(
        self, tp: TopicPartition, records: Sequence[ConsumerRecord[Any, Any]]
    ) -> None:
        if self._handle_batch is not None and len(records) > 1:
            try:
                await self._handle_batch(records)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if is_outage(exc):
                    raise Outage(describe(exc)) from exc
                # Isolation: one bad record must not fail its neighbours; each goes alone.
                log.warning(
                    "batch_split",
                    consumer=self.name,
                    topic=tp.topic,
                    partition=tp.partition,
                    records=len(records),
                    error=describe(exc),
                )
            else:
                for record in records:
                    RECORDS.labels(self.name, record.topic, "handled").inc()
                self._handled[tp] = records[-1].offset + 1
                return
        for record in records:
            await self.handle_one(record)
            self._handled[tp] = record.offset + 1

    def _wait(self) -> wait_exponential_jitter:
        b = self._budget
        return wait_exponential_jitter(
            multiplier=b.first_backoff_s, max=b.max_backoff_s, jitter=b.first_backoff_s
        )

    async def handle_one(self, record: ConsumerRecord[Any, Any]) -> None:
        """Handles one record within the budget, else dead-letters it. Raises only ``Outage``."""
        failures: list[datetime] = []
        try:
            async for attempt in AsyncRetrying(
                stop=stop_after_attempt(self._budget.attempts),
                wait=self._wait(),
                retry=retry_if_exception(
                    lambda e: not is_outage(e) and not isinstance(e, _UNREADABLE)
                ),
                reraise=True,
            ):
                with attempt:
                    try:
                        await self._handle(record)
                    except Exception:
                        failures.append(datetime.now(UTC))
                        FAILED_ATTEMPTS.labels(self.name, record.topic).inc()
                        raise
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if is_outage(exc):
                raise Outage(describe(exc)) from exc
            await self._give_up(record, exc, failures)
            return
        RECORDS.labels(self.name, record.topic, "handled").inc()

    async def _give_up(
        self, record: ConsumerRecord[Any, Any], exc: BaseException, failures: list[datetime]
    ) -> None:
        letter = DeadLetter(
            source_topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            value=record.value or b"",
            key=record.key,
            headers=list(record.headers or ()),
            reason=str(exc) if isinstance(exc, Unprocessable) else describe(exc),
            error=type(exc).__name__,
            consumer=self.group_id,
            attempts=len(failures),
            first_failed_at=failures[0] if failures else datetime.now(UTC),
            last_failed_at=failures[-1] if failures else datetime.now(UTC),
        )
        await self._dead_letters.write(letter)  # Kafka away: raises, the record is read again
        RECORDS.labels(self.name, record.topic, "dead_lettered").inc()
        if self._after_dead_letter is None:
            return
        try:
            async for attempt in AsyncRetrying(
                stop=stop_after_attempt(self._budget.attempts),
                wait=self._wait(),
                retry=retry_if_exception(lambda e: not is_outage(e)),
                reraise=True,
            ):
                with attempt:
                    await self._after_dead_letter(record, letter)
        except Exception as hook_exc:
            if is_outage(hook_exc):
                raise Outage(describe(hook_exc)) from hook_exc
            log.error(
                "after_dead_letter_failed",
                consumer=self.name,
                topic=record.topic,
                partition=record.partition,
                offset=record.offset,
                error=describe(hook_exc),
            )

    async def _commit(self) -> None:
        consumer = self.consumer
        if consumer is None:
            return
        positions = self._committable() if self._committable is not None else self._handled
        assigned = consumer.assignment()
        offsets = {
            tp: OffsetAndMetadata(pos, "") for tp, pos in positions.items() if tp in assigned
        }
        if not offsets:
            return
        try:
            await consumer.commit(offsets)
        except KafkaError as exc:  # a rebalance: the next commit catches up
            log.warning("commit_failed", consumer=self.name, error=describe(exc))


def consumer_loop(
    settings: KafkaSettings,
    group: str,
    topics: Sequence[str],
    handle: Handler,
    dead_letters: DeadLetterWriter,
    **hooks: Any,
) -> ConsumerLoop:
    """A ``ConsumerLoop`` for consumer group ``group`` (plus ``settings.group_suffix``, which
    lets test runs and rebuilds form groups of their own); ``hooks`` as ``ConsumerLoop``'s."""
    return ConsumerLoop(
        name=group,
        bootstrap=settings.kafka_bootstrap,
        security=kafka_security(settings),
        group_id=group + settings.group_suffix,
        topics=topics,
        handle=handle,
        dead_letters=dead_letters,
        **hooks,
    )
