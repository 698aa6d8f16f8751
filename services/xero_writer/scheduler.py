"""The writer's heart: Kafka records into per-company lanes, lanes into batched Xero calls.

Consumption and execution are decoupled: the shared consumer loop
(``shared.messaging.consumer``) hands each record to ``_accept``, which queues it
on its company's lane (an unreadable command is dead-lettered there), and each
lane runs on its own, under its organisation's limiter (held in PostgreSQL and shared by
every writer instance: ``shared_limits.py``). An attachment's file is downloaded first, in
a task of its own (``prefetch.py``), and only then does its upload join the lane: a slow
file never holds a lane. A company holds at most its share of read, unanswered commands; its
records past that are set aside and read again later, so a month-end backlog does not hold up
the companies behind it on its partition (``shared/messaging/partition_progress.py``). A
partition's offset is committed only up to its oldest record not yet answered on Kafka, so a
crash re-reads (and the executor's lookups dedupe) rather than loses.
"""

from __future__ import annotations

import asyncio
from collections import Counter as Tally
from collections import defaultdict, deque
from dataclasses import dataclass
from typing import Any

from aiokafka import ConsumerRecord, TopicPartition
from prometheus_client import Counter, Gauge, Histogram
from pydantic import ValidationError

from services.xero_writer import attachment_ops, executor, org_facts
from services.xero_writer.attachment_ops import Downloads
from services.xero_writer.attempts import Attempts
from services.xero_writer.budget import DayBudgetNotices
from services.xero_writer.fetch import FetchRules
from services.xero_writer.policy import Policy, request_size
from services.xero_writer.prefetch import Prefetcher
from services.xero_writer.session import OrgSession
from services.xero_writer.shared_limits import Limits, SharedLimiter
from shared.contracts.commands import AnyCommand, UploadAttachment, decode, encode
from shared.contracts.results import XeroResult
from shared.contracts.topics import XERO_COMMANDS, XERO_RESULTS
from shared.logging import get_logger
from shared.messaging.consumer import ConsumerLoop, Unprocessable
from shared.messaging.dead_letters import DeadLetter, DeadLetterWriter
from shared.messaging.kafka import durable_producer, kafka_security
from shared.messaging.partition_progress import PartitionProgress
from shared.settings import WriterSettings
from shared.xero.client import XeroClient
from shared.xero.token_store import Access, TokenStore

log = get_logger("xero_writer")

RESULTS = Counter("rx_writer_results_total", "results published", ["type"])
BATCH = Histogram("rx_writer_batch_size", "commands per Xero batch", buckets=(1, 2, 5, 10, 20, 50))
QUEUED = Gauge("rx_writer_queued_commands", "commands waiting in lanes")


def has_room(held: int, share: int) -> bool:
    """Whether a company set aside, now holding ``held`` unanswered commands, is read again:
    once it answered half its share (a re-read then brings a few batches, not one)."""
    return held <= share // 2


# Commands read and not yet answered, per partition and in all: memory's backstop, above
# what the companies' shares (``WriterSettings.writer_company_share``) let a few busy
# companies hold. A full partition is paused alone; the others are still read.
PARTITION_SHARES = 4
PARTITIONS = 12
# Below Xero's 3.5 MB a request, with room for the envelope and Xero's longer field names.
BATCH_MAX_BYTES = 3_000_000


@dataclass
class Item:
    tp: TopicPartition
    offset: int
    command: AnyCommand
    held_by: str = ""  # the record's key: whose share it counts against


class Writer:
    def __init__(
        self, settings: WriterSettings, tokens: TokenStore, attempts: Attempts, xero: XeroClient
    ) -> None:
        self.settings, self.tokens, self.attempts, self.xero = settings, tokens, attempts, xero
        self.producer = durable_producer(
            settings.kafka_bootstrap, "rx-writer", kafka_security(settings)
        )
        self.dead_letters = DeadLetterWriter(self.producer)
        self.lanes: dict[str, deque[Item]] = defaultdict(deque)
        self.lane_tasks: dict[str, asyncio.Task[None]] = {}
        self.limiters: dict[str, SharedLimiter] = {}
        self.progress: dict[TopicPartition, PartitionProgress] = defaultdict(PartitionProgress)
        # Unanswered commands per company (record key), against its share.
        self.held: Tally[str] = Tally()
        self.share = settings.writer_company_share
        self.partition_cap = PARTITION_SHARES * self.share
        self.queued: dict[str, Item] = {}  # command id -> its queued item
        # Each organisation's tracking categories and base currency, read once and kept.
        self.org_facts = org_facts.OrgFacts()
        self.prefetcher = Prefetcher(
            Downloads(FetchRules.of(settings.attachment_allowed_hosts)), self._answered
        )
        self._stopping = asyncio.Event()
        self._capacity = asyncio.Event()
        self._capacity.set()
        self.loop = ConsumerLoop(
            name="rx-writer",
            bootstrap=settings.kafka_bootstrap,
            security=kafka_security(settings),
            group_id="rx-writer" + settings.group_suffix,
            topics=[XERO_COMMANDS],
            handle=self._accept,
            dead_letters=self.dead_letters,
            committable=self._committable,
            before_poll=self._before_poll,
            before_stop=self._drain,
        )
        self.policy = Policy(
            access=lambda company_id, force=False: tokens.access(
                company_id, xero.refresh, force=force
            ),
            attempts=attempts,
            open_session=self._session,
            park=self._park,
            day_spent=DayBudgetNotices(lambda: attempts.pool),
        )

    # ---- consuming -------------------------------------------------------------------------

    @property
    def kafka_ok(self) -> bool:
        return self.loop.kafka_ok

    async def run(self) -> None:
        """Consumes until stopped (an outage restarts the consumer from the committed offsets)."""
        await self.producer.start()
        try:
            await self.loop.run()
        finally:
            await self.producer.stop()

    def stop(self) -> None:
        self._stopping.set()
        self.loop.stop()
        self._capacity.set()

    async def _before_poll(self) -> None:
        """Reads again each deferred company's records once it answered half its share (and
        jumps on once they are deferred again); pauses a partition holding ``partition_cap``
        unanswered commands and resumes it at half; waits while all partitions together hold
        ``PARTITIONS * partition_cap``."""
        consumer = self.loop.consumer
        if consumer is not None:
            assigned = consumer.assignment()
            for tp, progress in self.progress.items():
                if tp not in assigned:
                    progress.forget()
                elif (target := progress.seek(self._has_room)) is not None:
                    consumer.seek(tp, target)
            paused = consumer.paused()
            cap = self.partition_cap
            full = {tp for tp in assigned if len(self.progress[tp].in_flight) >= cap}
            drained = {
                tp for tp in paused & assigned if len(self.progress[tp].in_flight) < cap // 2
            }
            if full - paused:
                consumer.pause(*(full - paused))
            if drained:
                consumer.resume(*drained)
        await self._capacity.wait()

    def _has_room(self, company_id: str) -> bool:
        return has_room(self.held[company_id], self.share)

    def _in_flight(self) -> int:
        return sum(len(p.in_flight) for p in self.progress.values())

    async def _accept(self, record: ConsumerRecord[Any, Any]) -> None:
        tp = TopicPartition(record.topic, record.partition)
        progress = self.progress[tp]
        # The key is the company id (the projector's outbox keys each command by it).
        company_id = (record.key or b"").decode(errors="replace")
        if not progress.take(record.offset, company_id, self.held[company_id], self.share):
            return
        try:
            command = decode(record.value or b"")
        except ValidationError as exc:
            progress.took(record.offset)  # dead-lettered: never read again
            raise Unprocessable(f"unreadable command: {exc}") from exc
        if command.command_id in self.queued:
            progress.took(record.offset)
            return  # the copy already queued will answer for both
        progress.in_flight.add(record.offset)
        item = Item(tp, record.offset, command, company_id)
        self.held[company_id] += 1
        self.queued[command.command_id] = item
        if self._in_flight() >= self.partition_cap * PARTITIONS:
            self._capacity.clear()
        if isinstance(command, UploadAttachment):
            # The file first, outside the lane; the upload joins the lane once it is in hand.
            self.prefetcher.start(command, lambda: self._enqueue(item))
        else:
            self._enqueue(item)
        # Last: had anything above raised, the loop's retry must find the record not taken.
        progress.took(record.offset)

    def _enqueue(self, item: Item) -> None:
        if self._stopping.is_set():
            return  # never attempted: read again after the restart
        command = item.command
        self.lanes[command.company_id].append(item)
        QUEUED.inc()
        task = self.lane_tasks.get(command.company_id)
        if task is None or task.done():
            self.lane_tasks[command.company_id] = asyncio.create_task(
                self._run_lane(command.company_id), name=f"lane-{command.company_id}"
            )

    async def _answered(self, command_id: str) -> bool:
        return bool(await self.attempts.answers([command_id]))

    def _committable(self) -> dict[TopicPartition, int]:
        return {tp: pos for tp, p in self.progress.items() if (pos := p.committable()) is not None}

    async def _drain(self) -> None:
        """Graceful shutdown: each lane finishes the batch in hand (bounded), then stops.

        What is still queued was never attempted; it is read again after the restart.
        """
        await self.prefetcher.stop()
        lanes = [t for t in self.lane_tasks.values() if not t.done()]
        if lanes:
            _, late = await asyncio.wait(lanes, timeout=self.settings.xero_timeout_s + 5)
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)

    # ---- executing -------------------------------------------------------------------------

    def _next_batch(self, lane: deque[Item]) -> list[Item]:
        """The oldest command and up to a batch of others of its kind, wherever they queue.

        Commands in flight never depend on each other (the projector sends the next step
        only after Xero answered the last), so taking them out of order is safe.
        """
        kind = lane[0].command.kind
        # Kinds Xero takes in batches share one call; the others are one call each, so a
        # short run of them keeps answers flowing.
        limit = self.settings.xero_batch_size if executor.batchable(kind) else 5
        batch: list[Item] = []
        size = 0
        for item in (i for i in lane if i.command.kind == kind):
            # Also by size: Xero takes at most 3.5 MB a request, whatever the count.
            size += request_size(item.command)
            if len(batch) == limit or (batch and size > BATCH_MAX_BYTES):
                break
            batch.append(item)
        taken = {id(item) for item in batch}
        rest = [item for item in lane if id(item) not in taken]
        lane.clear()
        lane.extend(rest)
        return batch

    async def _run_lane(self, company_id: str) -> None:
        # This lane's uploads take their files from the downloads done ahead (its own context).
        attachment_ops.FILES.set(self.prefetcher)
        org_facts.FACTS.set(self.org_facts)
        lane = self.lanes[company_id]
        while lane and not self._stopping.is_set():
            batch = self._next_batch(lane)
            QUEUED.dec(len(batch))
            BATCH.observe(len(batch))
            try:
                results = await self.policy.carry_out(company_id, [i.command for i in batch])
                await self._publish(self._with_budget(batch[0].command.tenant_id, results))
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - our own storage or Kafka: try again later
                log.error("lane_failed", company_id=company_id, error=repr(exc))
                lane.extendleft(reversed(batch))
                QUEUED.inc(len(batch))
                await asyncio.sleep(2)
                continue
            for item in batch:
                self._answered_on_kafka(item)

    def _answered_on_kafka(self, item: Item) -> None:
        """``item``'s result is on Kafka: its offset may be committed, its company's share
        has room again."""
        self.prefetcher.done(item.command.command_id)
        self.queued.pop(item.command.command_id, None)
        self.progress[item.tp].in_flight.discard(item.offset)
        self.held[item.held_by] -= 1
        if self._in_flight() < self.partition_cap * PARTITIONS // 2:
            self._capacity.set()

    def _session(self, access: Access) -> OrgSession:
        # Xero's limits are held in the database, so they hold across writer instances.
        limiter = self.limiters.get(access.tenant_id)
        if limiter is None:
            limiter = self.limiters[access.tenant_id] = SharedLimiter(
                lambda: self.attempts.pool,
                access.tenant_id,
                self.settings.xero_client_id,
                Limits(
                    per_minute=self.settings.xero_calls_per_minute,
                    concurrent=self.settings.xero_concurrent_calls,
                    per_day=self.settings.xero_calls_per_day,
                    app_per_minute=self.settings.xero_app_calls_per_minute,
                    lease_s=self.settings.xero_call_lease_s,
                ),
            )
        return OrgSession(self.xero, limiter, access)

    async def _park(self, commands: list[AnyCommand], reason: str) -> None:
        """Xero is away past the retry budget: each command goes to the dead-letter topic
        (for ``dlq list``), and stays outstanding in the projector's outbox, which sends it
        again later; ``dlq list`` then shows the letter ``resolved``."""
        for c in commands:
            item = self.queued.get(c.command_id)
            await self.dead_letters.write(
                DeadLetter(
                    source_topic=XERO_COMMANDS,
                    partition=item.tp.partition if item else -1,
                    offset=item.offset if item else -1,
                    value=encode(c),
                    key=c.company_id.encode(),
                    headers=[("rx-command-id", c.command_id.encode())],
                    reason=reason,
                    error="parked",
                    consumer="rx-writer" + self.settings.group_suffix,
                )
            )

    def _with_budget(self, tenant_id: str, results: list[XeroResult]) -> list[XeroResult]:
        """The results with Xero's calls left today for the organisation, as its last answer
        said (the integration page shows it: the budget this writer spends)."""
        left = self.xero.remaining.get(tenant_id.lower())
        if left is None or left.day is None:
            return results
        return [r.model_copy(update={"day_calls_remaining": left.day}) for r in results]

    async def _publish(self, results: list[XeroResult]) -> None:
        futures = [
            await self.producer.send(XERO_RESULTS, r.to_bytes(), key=r.company_id.encode())
            for r in results
        ]
        await asyncio.gather(*futures)
        logged = {"company_id", "command_id", "type", "xero_id", "message"}
        for r in results:
            RESULTS.labels(r.type).inc()
            log.info("xero_result", **r.model_dump(include=logged))
