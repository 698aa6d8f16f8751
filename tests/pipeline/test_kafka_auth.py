"""Kafka with authentication (issue 13): a broker started the way ``deploy.stack up --secure``
starts it (SCRAM-SHA-512 users, StandardAuthorizer, per-service ACLs) refuses a client without
credentials, and ingest's principal cannot write the commands topic (only the projector may)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiokafka.errors import KafkaError

from deploy.stack import (
    ADMIN_USER,
    Kafka,
    KafkaUsers,
    acl_lines,
    apply_acls,
    client_security,
    start_kafka,
)
from deploy.topics import ensure_topics
from shared.contracts.topics import DOMAIN_EVENTS, XERO_COMMANDS
from shared.messaging.kafka import durable_producer, kafka_security, manual_consumer
from shared.settings import KafkaSettings

pytestmark = pytest.mark.stack


def _security(user: str, password: str) -> dict[str, Any]:
    return kafka_security(KafkaSettings.model_validate(client_security(user, password)))


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Kafka, KafkaUsers]]:
    users = KafkaUsers.generate()
    kafka = start_kafka(tmp_path_factory.mktemp("secured-kafka"), users=users)
    try:
        assert apply_acls(kafka, users) == len(acl_lines())
        ensure_topics(kafka.bootstrap, security=_security(ADMIN_USER, users.admin_password))
        yield kafka, users
    finally:
        kafka.stop()


def _record(company: str) -> bytes:
    return json.dumps({"company_id": company, "probe": True}).encode()


async def _send(bootstrap: str, topic: str, security: dict[str, Any] | None) -> None:
    producer = durable_producer(bootstrap, "rx-auth-probe", security)
    await producer.start()
    try:
        await producer.send_and_wait(topic, _record("acme"), key=b"acme")
    finally:
        await producer.stop()


def test_the_broker_config_names_no_anonymous_access(
    secured: tuple[Kafka, KafkaUsers],
) -> None:
    kafka, users = secured
    props = (kafka.run_dir / "server.properties").read_text()
    assert "allow.everyone.if.no.acl.found=false" in props
    assert "PLAINTEXT://" not in props.replace("SASL_PLAINTEXT://", "")
    assert (kafka.run_dir / "server.properties").stat().st_mode & 0o077 == 0
    assert not any(p in Path(kafka.log_path).read_text() for p in users.passwords.values())


async def test_a_client_without_credentials_is_refused(
    secured: tuple[Kafka, KafkaUsers],
) -> None:
    kafka, _ = secured
    with pytest.raises(KafkaError):
        await _send(kafka.bootstrap, DOMAIN_EVENTS, None)


async def test_a_wrong_password_is_refused(secured: tuple[Kafka, KafkaUsers]) -> None:
    kafka, _ = secured
    with pytest.raises(KafkaError):
        await _send(kafka.bootstrap, DOMAIN_EVENTS, _security("rx-ingest", "not-the-password"))


async def test_ingest_writes_facts_but_not_commands(secured: tuple[Kafka, KafkaUsers]) -> None:
    kafka, users = secured
    ingest = _security("rx-ingest", users.passwords["rx-ingest"])
    await _send(kafka.bootstrap, DOMAIN_EVENTS, ingest)  # allowed: its own topic
    with pytest.raises(KafkaError) as refused:
        await _send(kafka.bootstrap, XERO_COMMANDS, ingest)
    assert "Authorization" in type(refused.value).__name__ or "authoriz" in str(refused.value)
    # The projector, whose topic it is, may; and only the writer may read it.
    await _send(
        kafka.bootstrap, XERO_COMMANDS, _security("rx-projector", users.passwords["rx-projector"])
    )
    writer = manual_consumer(
        kafka.bootstrap,
        "rx-writer-auth-probe",
        "rx-writer",
        _security("rx-writer", users.passwords["rx-writer"]),
    )
    await writer.start()
    try:
        writer.subscribe([XERO_COMMANDS])
        batch = await writer.getmany(timeout_ms=15_000)
        assert sum(len(records) for records in batch.values()) >= 1
    finally:
        await writer.stop()


def test_kafka_security_from_settings() -> None:
    """What every client is given: nothing for PLAINTEXT, SASL user (and TLS) otherwise, and
    a refusal to start with SASL but no user rather than connecting anonymously."""
    assert kafka_security(KafkaSettings.model_validate({})) == {}
    sasl = _security("rx-writer", "pw")
    assert sasl == {
        "security_protocol": "SASL_PLAINTEXT",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "rx-writer",
        "sasl_plain_password": "pw",
    }
    tls = kafka_security(
        KafkaSettings.model_validate(
            {**client_security("rx-writer", "pw"), "kafka_security_protocol": "SASL_SSL"}
        )
    )
    assert tls["security_protocol"] == "SASL_SSL" and tls["ssl_context"] is not None
    with pytest.raises(ValueError, match="RX_KAFKA_SASL_USERNAME"):
        kafka_security(KafkaSettings.model_validate({"kafka_security_protocol": "SASL_SSL"}))


def test_only_the_projector_may_write_commands_and_only_the_writer_read_them() -> None:
    lines = acl_lines()
    writes = {line.split()[0] for line in lines if f"WRITE TOPIC {XERO_COMMANDS} " in line}
    reads = {line.split()[0] for line in lines if f"READ TOPIC {XERO_COMMANDS} " in line}
    assert writes == {"User:rx-projector"}
    assert reads == {"User:rx-writer"}
