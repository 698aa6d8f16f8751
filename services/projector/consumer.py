"""Kafka in and out for the projector: records to the application, outbox to commands.

Positions come from our own store (the tracking table), not from Kafka's
committed offsets: on every assignment the consumer seeks to where the last
commit of state left off. Kafka commits are kept only so lag is visible.
"""

from __future__ import annotations

import asyncio

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from prometheus_client import Counter, Gauge
from psycopg_pool import AsyncConnectionPool

from services.projector.application import SyncApplication
from shared.contracts.topics import DOMAIN_EVENTS, XERO_COMMANDS, XERO_RESULTS
from shared.logging import get_logger
from shared.messaging.kafka import durable_producer, manual_consumer
from shared.settings import Settings

log = get_logger("projector")

RECORDS = Counter("rx_projector_records_total", "records processed", ["topic"])
COMMANDS_SENT = Counter(
    "rx_projector_commands_published_total", "commands published from the outbox"
)
OUTBOX_DEPTH = Gauge("rx_projector_outbox_unpublished", "commands decided but not yet on Kafka")


class _SeekToTracked(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, consumer: AIOKafkaConsumer, app: SyncApplication) -> None:
        self.consumer, self.app = consumer, app

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        pass

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        for tp in assigned:
            position = await asyncio.to_thread(self.app.position, tp.topic, tp.partition)
            if position is not None:
                self.consumer.seek(tp, position)


class Projector:
    def __init__(self, settings: Settings, app: SyncApplication, pool: AsyncConnectionPool) -> None:
        self.settings, self.app, self.pool = settings, app, pool
        self.producer = durable_producer(settings.kafka_bootstrap, "rx-projector")
        self._outbox_wakeup = asyncio.Event()
        self._stopping = asyncio.Event()
        self.kafka_ok = False

    async def run(self) -> None:
        """Consumes until stopped; a failure (database or Kafka away) restarts the consumer."""
        await self.producer.start()
        relay = asyncio.create_task(self._relay_outbox(), name="outbox-relay")
        backoff = 1.0
        try:
            while not self._stopping.is_set():
                try:
                    await self._consume()
                except Exception as exc:  # noqa: BLE001 - logged, retried; positions are in PG
                    log.error("consumer_failed", error=repr(exc), retry_in_s=backoff)
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, 30.0)
        finally:
            self._stopping.set()
            self._outbox_wakeup.set()
            await relay
            await self.producer.stop()

    async def _consume(self) -> None:
        consumer = manual_consumer(
            self.settings.kafka_bootstrap,
            "rx-projector" + self.settings.group_suffix,
            "rx-projector",
        )
        consumer.subscribe(
            [DOMAIN_EVENTS, XERO_RESULTS], listener=_SeekToTracked(consumer, self.app)
        )
        await consumer.start()
        self.kafka_ok = True
        try:
            while not self._stopping.is_set():
                batch = await consumer.getmany(timeout_ms=500, max_records=500)
                for tp, records in batch.items():
                    for record in records:
                        await asyncio.to_thread(
                            self.app.process, tp.topic, tp.partition, record.offset, record.value
                        )
                        RECORDS.labels(tp.topic).inc()
                if batch:
                    self._outbox_wakeup.set()
                    await consumer.commit()
        finally:
            self.kafka_ok = False
            await consumer.stop()

    def stop(self) -> None:
        self._stopping.set()

    async def _relay_outbox(self) -> None:
        while not self._stopping.is_set():
            try:
                sent = await self._publish_outbox()
            except Exception as exc:  # noqa: BLE001 - keep relaying; the rows stay unpublished
                log.error("outbox_relay_failed", error=repr(exc))
                sent = 0
            if sent == 0:
                try:
                    await asyncio.wait_for(self._outbox_wakeup.wait(), timeout=1.0)
                except TimeoutError:
                    pass
                self._outbox_wakeup.clear()

    async def _publish_outbox(self) -> int:
        """Publishes unpublished commands, and again those unanswered for too long."""
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                "SELECT command_id, company_id, payload FROM projector_outbox "
                "WHERE answered_at IS NULL AND (published_at IS NULL "
                "   OR published_at < now() - make_interval(secs => %s)) "
                "ORDER BY issued_at, command_id LIMIT 500",
                (self.settings.command_resend_after_s,),
            )
            rows = await cur.fetchall()
        if not rows:
            OUTBOX_DEPTH.set(0)
            return 0
        futures = [
            await self.producer.send(
                XERO_COMMANDS,
                payload,
                key=company_id.encode(),
                headers=[("rx-command-id", cid.encode())],
            )
            for cid, company_id, payload in rows
        ]
        await asyncio.gather(*futures)
        async with self.pool.connection() as conn:
            await conn.execute(
                "UPDATE projector_outbox SET published_at = now() WHERE command_id = ANY(%s)",
                ([r[0] for r in rows],),
            )
        COMMANDS_SENT.inc(len(rows))
        return len(rows)
