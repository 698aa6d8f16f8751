"""Create the project's Kafka topics (``shared.contracts.topics.TOPICS``) on a broker.

Separate from ``deploy.stack`` because it needs aiokafka, which only the venv has.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from shared.contracts.topics import MAX_RECORD_BYTES, TOPICS, TopicSpec

TOPIC_ALREADY_EXISTS = 36
# A single-node broker can hold only one replica, whatever production uses.
REPLICATION_FACTOR = 1


class TopicError(RuntimeError):
    pass


async def ensure_topics_async(
    bootstrap: str,
    specs: Iterable[TopicSpec] = TOPICS,
    timeout_ms: int = 30_000,
    *,
    security: Mapping[str, Any] | None = None,
) -> list[str]:
    """Create every topic of ``specs`` that is missing; return the names created.

    Existing topics are left as they are, so this is safe to run on every start.
    ``security``: ``shared.messaging.kafka.kafka_security`` of a principal allowed to create.
    """
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap, request_timeout_ms=timeout_ms, **(security or {})
    )
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [spec for spec in specs if spec.name not in existing]
        if not missing:
            return []
        response = await admin.create_topics([_new_topic(spec) for spec in missing], timeout_ms)
        _raise_on_errors(response.to_object()["topic_errors"])
        return [spec.name for spec in missing]
    finally:
        await admin.close()


def ensure_topics(
    bootstrap: str,
    specs: Iterable[TopicSpec] = TOPICS,
    *,
    security: Mapping[str, Any] | None = None,
) -> list[str]:
    """Blocking form of :func:`ensure_topics_async`, for CLIs and sync fixtures."""
    return asyncio.run(ensure_topics_async(bootstrap, specs, security=security))


def topic_config(spec: TopicSpec) -> dict[str, str]:
    """The topic's settings as created: its own, plus the project's record size limit.

    ``max.message.bytes`` is set on every topic, not left to the broker's default, so a
    production broker with Kafka's 1 MB default still takes the contract's largest document.
    """
    return {**spec.config, "max.message.bytes": str(MAX_RECORD_BYTES)}


def _new_topic(spec: TopicSpec) -> NewTopic:
    return NewTopic(
        name=spec.name,
        num_partitions=spec.partitions,
        replication_factor=REPLICATION_FACTOR,
        topic_configs=topic_config(spec),
    )


def _raise_on_errors(topic_errors: list[dict[str, object]]) -> None:
    # Another process may create the same topic between our list and our create: that is fine.
    failed = [
        f"{error['topic']}: code {error['error_code']} {error.get('error_message') or ''}".strip()
        for error in topic_errors
        if error["error_code"] not in (0, TOPIC_ALREADY_EXISTS)
    ]
    if failed:
        raise TopicError("could not create topics: " + "; ".join(failed))
