"""Kafka clients configured the one safe way for this project.

Every producer may send, and every consumer fetch, a record of up to
``MAX_RECORD_BYTES`` (the broker and topics are configured alike by ``deploy``),
so the contract's largest document passes every hop.
"""

from __future__ import annotations

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from shared.contracts.topics import MAX_RECORD_BYTES


def durable_producer(bootstrap: str, client_id: str) -> AIOKafkaProducer:
    """acks=all + idempotence: an acknowledged record is on every in-sync replica, once."""
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        client_id=client_id,
        acks="all",
        enable_idempotence=True,
        linger_ms=5,
        max_request_size=MAX_RECORD_BYTES,
    )


def manual_consumer(bootstrap: str, group_id: str | None, client_id: str) -> AIOKafkaConsumer:
    """No auto-commit: progress is recorded where the effects are (pitfalls.md).

    A new group starts from the beginning, never silently from "latest".
    """
    return AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=group_id,
        client_id=client_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
        max_poll_interval_ms=300_000,
        session_timeout_ms=10_000,
        heartbeat_interval_ms=3_000,
        max_partition_fetch_bytes=MAX_RECORD_BYTES,
        fetch_max_bytes=4 * MAX_RECORD_BYTES,
    )
