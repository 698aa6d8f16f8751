"""The test servers are real: Kafka groups, offsets and transactions work, PostgreSQL answers."""

from __future__ import annotations

import socket
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import psycopg
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from deploy import stack
from shared.contracts.topics import TOPICS

pytestmark = pytest.mark.stack

DEADLINE_S = 30.0


@pytest.fixture
async def admin(kafka_bootstrap: str) -> AsyncIterator[AIOKafkaAdminClient]:
    client = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await client.start()
    try:
        yield client
    finally:
        await client.close()


async def new_topic(admin: AIOKafkaAdminClient, partitions: int = 1) -> str:
    # Auto-creation is off on the test broker, so each test makes its own private topic.
    name = f"test-{uuid.uuid4().hex[:12]}"
    await admin.create_topics([NewTopic(name, partitions, 1)])
    return name


async def consume(consumer: AIOKafkaConsumer, count: int) -> list[tuple[bytes, bytes]]:
    """Poll until ``count`` records arrived or the deadline passed."""
    got: list[tuple[bytes, bytes]] = []
    deadline = time.monotonic() + DEADLINE_S
    while len(got) < count and time.monotonic() < deadline:
        batches = await consumer.getmany(timeout_ms=500)
        got += [(r.key or b"", r.value or b"") for recs in batches.values() for r in recs]
    return got


def consumer(bootstrap: str, group: str | None, **kwargs: object) -> AIOKafkaConsumer:
    return AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        **kwargs,  # type: ignore[arg-type]
    )


async def test_catalogue_topics_exist_with_their_partitions_and_config(
    admin: AIOKafkaAdminClient,
) -> None:
    described = {t["topic"]: t for t in await admin.describe_topics([s.name for s in TOPICS])}
    for spec in TOPICS:
        assert described[spec.name]["error_code"] == 0, spec.name
        assert len(described[spec.name]["partitions"]) == spec.partitions, spec.name
    resources = [ConfigResource(ConfigResourceType.TOPIC, s.name) for s in TOPICS]
    responses = await admin.describe_configs(resources)
    actual = {
        res[3]: {entry[0]: entry[1] for entry in res[4]}
        for response in responses
        for res in response.resources
    }
    for spec in TOPICS:
        for key, value in spec.config.items():
            assert actual[spec.name][key] == value, (spec.name, key)


async def test_produce_then_consume_in_a_group_with_committed_offsets(
    kafka_bootstrap: str, admin: AIOKafkaAdminClient
) -> None:
    topic = await new_topic(admin, partitions=3)
    sent = [(f"company-{i % 5}".encode(), f"event-{i}".encode()) for i in range(30)]
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    await producer.start()
    try:
        for key, value in sent:
            await producer.send(topic, value, key=key)
        await producer.flush()
    finally:
        await producer.stop()

    group = f"group-{uuid.uuid4().hex[:8]}"
    first = consumer(kafka_bootstrap, group)
    first.subscribe([topic])
    await first.start()
    try:
        got = await consume(first, len(sent))
        await first.commit()
    finally:
        await first.stop()
    assert sorted(got) == sorted(sent)

    committed = await admin.list_consumer_group_offsets(group)
    assert sum(meta.offset for meta in committed.values()) == len(sent)
    assert {tp.topic for tp in committed} == {topic}

    # A restarted member resumes from the committed offsets: nothing is delivered twice.
    second = consumer(kafka_bootstrap, group)
    second.subscribe([topic])
    await second.start()
    try:
        assert await second.getmany(timeout_ms=1000) == {}
        partitions = second.assignment()
        assert len(partitions) == 3
        positions = [await second.position(tp) for tp in partitions]
        assert sum(positions) == len(sent)
    finally:
        await second.stop()


async def test_transaction_commits_output_and_consumer_offsets_atomically(
    kafka_bootstrap: str, admin: AIOKafkaAdminClient
) -> None:
    source, sink = await new_topic(admin), await new_topic(admin)
    plain = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await plain.start()
    try:
        for i in range(3):
            await plain.send_and_wait(source, f"in-{i}".encode(), key=b"c1")
    finally:
        await plain.stop()

    group = f"txn-{uuid.uuid4().hex[:8]}"
    reader = consumer(kafka_bootstrap, group, isolation_level="read_committed")
    reader.subscribe([source])
    txn = AIOKafkaProducer(
        bootstrap_servers=kafka_bootstrap, transactional_id=f"tx-{uuid.uuid4().hex[:8]}"
    )
    await reader.start()
    await txn.start()
    try:
        inputs = await consume(reader, 3)
        assert len(inputs) == 3
        tp = TopicPartition(source, 0)
        async with txn.transaction():
            for _, value in inputs:
                await txn.send(sink, value.replace(b"in", b"out"), key=b"c1")
            await txn.send_offsets_to_transaction({tp: await reader.position(tp)}, group)
        # Aborted records must stay invisible to read_committed readers.
        await txn.begin_transaction()
        await txn.send_and_wait(sink, b"aborted", key=b"c1")
        await txn.abort_transaction()
    finally:
        await txn.stop()
        await reader.stop()

    committed = await admin.list_consumer_group_offsets(group)
    assert committed[TopicPartition(source, 0)].offset == 3

    check = consumer(kafka_bootstrap, None, isolation_level="read_committed")
    check.assign([TopicPartition(sink, 0)])
    await check.start()
    try:
        outputs = await consume(check, 3)
        # The aborted record and the transaction markers sit after the committed records; the
        # end offset proves the aborted record reached the log and was skipped, not lost.
        end = (await check.end_offsets([TopicPartition(sink, 0)]))[TopicPartition(sink, 0)]
        assert await consume_more(check) == []
    finally:
        await check.stop()
    assert [value for _, value in outputs] == [b"out-0", b"out-1", b"out-2"]
    assert end >= 5  # 3 committed records + commit marker + aborted record (+ abort marker)


async def consume_more(check: AIOKafkaConsumer) -> list[tuple[bytes, bytes]]:
    batches = await check.getmany(timeout_ms=1000)
    return [(r.key or b"", r.value or b"") for recs in batches.values() for r in recs]


def test_postgres_answers(postgres_dsn: str) -> None:
    with psycopg.connect(postgres_dsn, connect_timeout=10) as conn:
        assert conn.execute("select 1").fetchone() == (1,)
        version = conn.execute("show server_version_num").fetchone()
    assert version is not None and int(version[0]) >= 140000


def test_fresh_database_is_new_empty_and_writable(fresh_database: str, postgres_dsn: str) -> None:
    with psycopg.connect(fresh_database) as conn:
        name = conn.execute("select current_database()").fetchone()
        tables = conn.execute(
            "select count(*) from information_schema.tables where table_schema = 'public'"
        ).fetchone()
        conn.execute("create table t (id int primary key)")
        conn.execute("insert into t values (1)")
        assert conn.execute("select id from t").fetchall() == [(1,)]
    assert name is not None and name[0].startswith("test_")
    assert tables == (0,)
    assert fresh_database != postgres_dsn


def test_metadata_probe_sees_the_broker(kafka_bootstrap: str) -> None:
    host, port = kafka_bootstrap.rsplit(":", 1)
    brokers, controller = stack.metadata_probe(host, int(port))
    assert brokers == 1
    assert controller >= 0


def test_broker_that_cannot_bind_fails_fast_with_its_log(tmp_path: Path) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        started = time.monotonic()
        with pytest.raises(stack.StackError, match="kafka exited") as failure:
            stack.start_kafka(tmp_path, port, controller_port=stack.free_port(), timeout=60)
    assert "Address already in use" in str(failure.value)
    assert time.monotonic() - started < 60


def test_status_of_an_empty_run_dir_says_down(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert stack.main(["status", "--run-dir", str(tmp_path)]) == 3
    out = capsys.readouterr().out
    assert "kafka    down" in out and "postgres down" in out
