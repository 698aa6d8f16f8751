"""A company's Xero connection becomes usable: tokens stored encrypted, the fact on Kafka.

The OAuth flow (its own issue) ends here; until then developers and tests call
``establish`` with a token set from the sandbox's ``POST /_sandbox/grants``.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from shared.contracts.domain_events import ConnectionData, DomainEvent
from shared.contracts.topics import DOMAIN_EVENTS
from shared.db import open_pool
from shared.messaging.kafka import durable_producer, kafka_security
from shared.settings import ConnectionsSettings
from shared.xero.token_store import TokenStore


async def establish(
    settings: ConnectionsSettings,
    company_id: str,
    token_set: dict[str, Any],
    connection: ConnectionData,
) -> None:
    pool = await open_pool(settings.database_url, max_size=2)
    try:
        store = TokenStore(pool, [k.get_secret_value() for k in settings.token_keys])
        await store.setup()
        await store.put(company_id, connection.tenant_id, token_set)
    finally:
        await pool.close()
    now = datetime.now(UTC)
    fact = DomainEvent(
        event_id=str(uuid.uuid4()),
        type="XeroConnectionEstablished",
        company_id=company_id,
        occurred_at=now,
        source="connect",
        data=connection.model_dump(),  # no secrets: tokens never go on Kafka
    )
    producer = durable_producer(settings.kafka_bootstrap, "rx-connect", kafka_security(settings))
    await producer.start()
    try:
        await producer.send_and_wait(DOMAIN_EVENTS, fact.to_bytes(), key=company_id.encode())
    finally:
        await producer.stop()
