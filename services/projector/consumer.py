"""Kafka in and out for the projector: records to the application, outbox to commands.

Topics read: ``rx.xero-results.v1``, ``rx.domain-events.v1`` and ``roger.sync-back`` (what
changed in Xero, deduplicated by the record's id).

Records come through the shared consumer loop (``shared.messaging.consumer``), a
partition's fetched records at once (one transaction, ``process_batch``), except a
company's records past its turn, which wait while the companies behind it on the partition
have theirs applied (``fair_reading.py``: a backlog never holds up the others); if that
fails they go one by one, and a record that keeps failing is dead-lettered, then
``SyncApplication.record_failure`` tracks its position and shows the failure on its
document, so the partition moves on. Positions come from our own store (the
tracking table), not from Kafka's committed offsets: on every assignment the
consumer seeks to where the last commit of state left off (never past a record that
waits its turn). Kafka commits are kept only so lag is visible.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from aiokafka import ConsumerRecord, TopicPartition
from psycopg_pool import AsyncConnectionPool
from pydantic import ValidationError

from services.projector.application import SyncApplication
from services.projector.fair_reading import FairReading
from shared.contracts.commands import decode
from shared.contracts.results import XeroResult
from shared.contracts.topics import DOMAIN_EVENTS, ROGER_SYNC_BACK, XERO_RESULTS
from shared.logging import get_logger
from shared.messaging.consumer import consumer_loop
from shared.messaging.dead_letters import DeadLetter, DeadLetterWriter
from shared.messaging.kafka import durable_producer, kafka_security
from shared.messaging.outbox import OutboxRelay, OutboxRow
from shared.settings import ProjectorSettings

log = get_logger("projector")


class Projector:
    """The projector's worker: the consumer loop and the outbox relay, started and stopped
    together. ``kafka_ok`` is the consumer's readiness."""

    def __init__(
        self, settings: ProjectorSettings, app: SyncApplication, pool: AsyncConnectionPool
    ) -> None:
        self.settings, self.app, self.pool = settings, app, pool
        self.fair = FairReading(settings.projector_company_share)
        self.producer = durable_producer(
            settings.kafka_bootstrap, "rx-projector", kafka_security(settings)
        )
        dead_letters = DeadLetterWriter(self.producer)
        self.relay = OutboxRelay(
            pool,
            self.producer,
            dead_letters,
            name="projector",
            resend_after_s=settings.command_resend_after_s,
            on_quarantine=self._command_unpublishable,
        )
        self.loop = consumer_loop(
            settings,
            "rx-projector",
            # Answers first in each fetch: Xero's answers never wait behind a backlog of facts.
            # roger.sync-back: what changed in Xero, shown on the documents (never acted on).
            [XERO_RESULTS, DOMAIN_EVENTS, ROGER_SYNC_BACK],
            self._handle,
            dead_letters,
            position=self._position,
            after_dead_letter=self._dead_lettered,
            after_batch=self._wake_relay,
            handle_batch=self._handle_batch,
            admit=self._admit,
            before_poll=self._seek,
            committable=self.fair.committable,
            on_rebalance=self._rebalanced,
        )

    @property
    def kafka_ok(self) -> bool:
        return self.loop.kafka_ok

    async def run(self) -> None:
        await self.producer.start()
        await OutboxRelay.setup(self.pool)
        self.relay.start()
        try:
            await self.loop.run()
        finally:
            await self.relay.stop()
            await self.producer.stop()

    def stop(self) -> None:
        self.loop.stop()

    def _admit(
        self, tp: TopicPartition, records: Sequence[ConsumerRecord[Any, Any]]
    ) -> list[ConsumerRecord[Any, Any]]:
        consumer = self.loop.consumer
        end = consumer.highwater(tp) if consumer is not None else None
        return self.fair.admit(tp, records, end)

    async def _seek(self) -> None:
        """Before each fetch: a deferred company whose turn came is read again, and a
        partition read again past everyone's turn jumps back on (``FairReading.seeks``)."""
        consumer = self.loop.consumer
        if consumer is not None:
            for tp, offset in self.fair.seeks(consumer.assignment()).items():
                consumer.seek(tp, offset)

    async def _handle(self, record: ConsumerRecord[Any, Any]) -> None:
        tp = TopicPartition(record.topic, record.partition)
        if not self.fair.current(tp, [record.offset]):
            return  # admitted before the partition was assigned again: read again from there
        commands = await asyncio.to_thread(
            self.app.process,
            record.topic,
            record.partition,
            record.offset,
            record.value,
            self.fair.track_to(tp, record.offset),
        )
        self.fair.done(tp, [record.offset])
        if commands:
            self.relay.wake()

    async def _handle_batch(self, records: Sequence[ConsumerRecord[Any, Any]]) -> None:
        """One partition's fetched records in one transaction (``SyncApplication.process_batch``);
        if it raises, the loop goes record by record through ``_handle``."""
        first = records[0]
        tp = TopicPartition(first.topic, first.partition)
        if not self.fair.current(tp, (r.offset for r in records)):
            return  # admitted before the partition was assigned again: read again from there
        commands = await asyncio.to_thread(
            self.app.process_batch,
            first.topic,
            first.partition,
            [(r.offset, r.value) for r in records],
            self.fair.track_to(tp, records[-1].offset),
        )
        self.fair.done(tp, [r.offset for r in records])
        if commands:
            # Sent now, not after the fetch's other partitions (issue 14: latency).
            self.relay.wake()

    def _rebalanced(self, tps: set[TopicPartition]) -> None:
        """Partitions revoked or assigned (at once, beside the loop): nothing admitted before
        is applied, and what they had applied ahead is read again from the table."""
        for tp in tps:
            self.fair.forget(tp)
            self.app.forget_ahead(f"{tp.topic}:{tp.partition}")

    async def _position(self, tp: TopicPartition) -> int | None:
        """Where a partition assigned starts: the tracked position. What was read ahead of it
        is read again (``FairReading.forget``)."""
        self.fair.forget(tp)
        return await asyncio.to_thread(self.app.position, tp.topic, tp.partition)

    async def _dead_lettered(self, record: ConsumerRecord[Any, Any], letter: DeadLetter) -> None:
        tp = TopicPartition(record.topic, record.partition)
        if not self.fair.current(tp, [record.offset]):
            return  # admitted before the partition was assigned again: read again from there
        try:
            await asyncio.to_thread(
                self.app.record_failure,
                record.topic,
                record.partition,
                record.offset,
                record.value,
                letter.reason,
                self.fair.track_to(tp, record.offset),
            )
        finally:
            self.fair.done(tp, [record.offset])  # dead-lettered: never read again

    async def _wake_relay(self) -> None:
        self.relay.wake()

    async def _command_unpublishable(self, row: OutboxRow, reason: str) -> None:
        """A command too large for Kafka never reaches the writer: answer it ourselves, so its
        document shows ``failed`` with the reason instead of waiting forever."""
        try:
            command = decode(row.payload)
        except (ValidationError, ValueError):
            log.error("unpublishable_command_unreadable", message_id=row.message_id)
            return
        answer = XeroResult(
            result_id=command.command_id,
            type="XeroCommandFailed",
            command_id=command.command_id,
            command_kind=command.kind,
            company_id=command.company_id,
            document_kind=command.document_kind,
            document_id=command.document_id,
            message=f"the document is too large to send to Xero ({reason})",
        )
        await self.producer.send_and_wait(
            XERO_RESULTS, answer.to_bytes(), key=command.company_id.encode()
        )
