"""Kafka clients configured the one safe way for this project."""

from __future__ import annotations

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer


def durable_producer(bootstrap: str, client_id: str) -> AIOKafkaProducer:
    # acks=all + idempotence: an acknowledged record is on every in-sync replica, once.
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        client_id=client_id,
        acks="all",
        enable_idempotence=True,
        linger_ms=5,
    )


def manual_consumer(bootstrap: str, group_id: str, client_id: str) -> AIOKafkaConsumer:
    # No auto-commit: progress is recorded where the effects are (pitfalls.md); a new group
    # starts from the beginning, never silently from "latest".
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
    )
