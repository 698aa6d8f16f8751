"""Kafka clients configured the one safe way for this project.

Every producer may send, and every consumer fetch, a record of up to
``MAX_RECORD_BYTES`` (the broker and topics are configured alike by ``deploy``),
so the contract's largest document passes every hop.

Every client (these two, the admin clients of ``deploy.topics`` and the dead-letter tools)
authenticates as ``kafka_security(settings)`` says: SASL (SCRAM) and TLS from ``KafkaSettings``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.helpers import create_ssl_context

from shared.contracts.topics import MAX_RECORD_BYTES
from shared.settings import KafkaSettings

# aiokafka keyword arguments of one principal (kafka_security); {} is PLAINTEXT, anonymous.
Security = Mapping[str, Any]


def kafka_security(settings: KafkaSettings) -> dict[str, Any]:
    """aiokafka keyword arguments for ``settings``' security protocol, SASL user and TLS.

    ``{}`` for PLAINTEXT. Raises ``ValueError`` when SASL is asked for without a user name
    and password, so a service never silently connects anonymously.
    """
    protocol = settings.kafka_security_protocol
    if protocol == "PLAINTEXT":
        return {}
    security: dict[str, Any] = {"security_protocol": protocol}
    if protocol in ("SSL", "SASL_SSL"):
        security["ssl_context"] = create_ssl_context(cafile=settings.kafka_ssl_cafile)
    if protocol.startswith("SASL_"):
        password = settings.kafka_sasl_password
        if not settings.kafka_sasl_username or password is None:
            raise ValueError(
                f"RX_KAFKA_SECURITY_PROTOCOL={protocol} needs RX_KAFKA_SASL_USERNAME and "
                "RX_KAFKA_SASL_PASSWORD"
            )
        security |= {
            "sasl_mechanism": settings.kafka_sasl_mechanism,
            "sasl_plain_username": settings.kafka_sasl_username,
            "sasl_plain_password": password.get_secret_value(),
        }
    return security


BATCH_BYTES = 1024 * 1024


def durable_producer(
    bootstrap: str, client_id: str, security: Security | None = None
) -> AIOKafkaProducer:
    """acks=all + idempotence: an acknowledged record is on every in-sync replica, once.
    ``security``: ``kafka_security(settings)``."""
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        client_id=client_id,
        acks="all",
        enable_idempotence=True,
        linger_ms=5,
        # aiokafka waits for a partition's batch to be sent and acknowledged once it is full:
        # at the default 16 KiB, a request of 500 events waited for some 40 round trips one
        # after another (issue 14: most of ingest's time per request). One MiB a batch holds
        # a request's share of a partition; a larger record still goes in a batch of its own.
        max_batch_size=BATCH_BYTES,
        max_request_size=MAX_RECORD_BYTES,
        **(security or {}),
    )


def manual_consumer(
    bootstrap: str, group_id: str | None, client_id: str, security: Security | None = None
) -> AIOKafkaConsumer:
    """No auto-commit: progress is recorded where the effects are (pitfalls.md).

    A new group starts from the beginning, never silently from "latest".
    ``security``: ``kafka_security(settings)``.
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
        **(security or {}),
    )
