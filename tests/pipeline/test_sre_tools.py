"""The SRE tools on a real broker, through the CLI as a subprocess: `roger-xero lag`,
`roger-xero replay` (what it will do, asking first, refusing an active group) and the
dead-letter table of `roger-xero dlq list`."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.structs import OffsetAndMetadata

from shared.contracts.topics import ROGER_CATEGORIES, ROGER_EVENTS_DLQ
from shared.messaging.offsets import company_partition
from tests.fixtures.pipeline import ROOT, wait_for

PARTITIONS = 12  # every topic of shared.contracts.topics


@pytest.fixture
def env(kafka_bootstrap: str, fresh_database: str) -> dict[str, str]:
    return {
        **os.environ,
        "RX_ENV": "development",
        "RX_KAFKA_BOOTSTRAP": kafka_bootstrap,
        "RX_DATABASE_URL": fresh_database,
    }


def cli(env: dict[str, str], *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "services.cli", *args],
        cwd=ROOT,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


async def _produce(
    bootstrap: str,
    topic: str,
    records: list[tuple[str, bytes, int | None, list[tuple[str, bytes]]]],
) -> list[int]:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        offsets = []
        for key, value, timestamp_ms, headers in records:
            meta = await producer.send_and_wait(
                topic, value, key=key.encode(), timestamp_ms=timestamp_ms, headers=headers
            )
            offsets.append(meta.offset)
        return offsets
    finally:
        await producer.stop()


def produce(
    bootstrap: str,
    topic: str,
    company: str,
    count: int,
    timestamps: list[int] | None = None,
) -> list[int]:
    """``count`` records keyed by ``company``; returns their offsets (one partition)."""
    stamps = timestamps or [None] * count  # type: ignore[list-item]
    return asyncio.run(
        _produce(
            bootstrap,
            topic,
            [(company, f'{{"n": {i}}}'.encode(), stamps[i], []) for i in range(count)],
        )
    )


async def _commit(bootstrap: str, group: str, tp: TopicPartition, offset: int) -> None:
    # No auto-commit: on stop it would commit the consumer's own position over ours.
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False
    )
    await consumer.start()
    try:
        consumer.assign([tp])
        await consumer.commit({tp: OffsetAndMetadata(offset, "")})
    finally:
        await consumer.stop()


async def _committed(bootstrap: str, group: str, tp: TopicPartition) -> int | None:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False
    )
    await consumer.start()
    try:
        return await consumer.committed(tp)
    finally:
        await consumer.stop()


def committed(bootstrap: str, group: str, tp: TopicPartition) -> int | None:
    return asyncio.run(_committed(bootstrap, group, tp))


@pytest.fixture
def company() -> str:
    return f"sre-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def read_group(kafka_bootstrap: str, company: str) -> Iterator[tuple[str, TopicPartition, int]]:
    """A fresh group that has read 5 new records of ``company`` on roger.categories (which
    nothing else consumes): (group, its partition, the first of the 5 offsets)."""
    group = f"rx-sre-test-{uuid.uuid4().hex[:8]}"
    offsets = produce(kafka_bootstrap, ROGER_CATEGORIES, company, 5)
    tp = TopicPartition(ROGER_CATEGORIES, company_partition(company, PARTITIONS))
    asyncio.run(_commit(kafka_bootstrap, group, tp, offsets[-1] + 1))
    yield group, tp, offsets[0]


def test_the_partitioner_matches_the_producers(kafka_bootstrap: str, company: str) -> None:
    # --company picks the partition by the same hash our producers use; a wrong hash would
    # move another partition and replay nothing of the company's.
    async def partition_of() -> int:
        producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
        await producer.start()
        try:
            meta = await producer.send_and_wait(ROGER_CATEGORIES, b"{}", key=company.encode())
            return int(meta.partition)
        finally:
            await producer.stop()

    assert asyncio.run(partition_of()) == company_partition(company, PARTITIONS)


def test_lag_shows_each_partition_of_a_group(
    env: dict[str, str], kafka_bootstrap: str, read_group: tuple[str, TopicPartition, int]
) -> None:
    group, tp, first = read_group
    asyncio.run(_commit(kafka_bootstrap, group, tp, first + 2))  # 3 of the 5 not read
    done = cli(env, "lag", "--group", group)
    assert done.returncode == 0, done.stderr
    [row] = [line.split() for line in done.stdout.splitlines() if line.startswith(group + " ")]
    assert row[:3] == [group, ROGER_CATEGORIES, str(tp.partition)]
    assert int(row[3]) == first + 2 and int(row[5]) == int(row[4]) - (first + 2) >= 3
    assert f"{group}: {row[5]} record(s) behind" in done.stdout


def test_replay_says_what_it_will_do_and_asks_first(
    env: dict[str, str],
    kafka_bootstrap: str,
    company: str,
    read_group: tuple[str, TopicPartition, int],
) -> None:
    group, tp, first = read_group
    end = committed(kafka_bootstrap, group, tp)
    assert end == first + 5
    args = (
        "replay",
        "--topic",
        ROGER_CATEGORIES,
        "--group",
        group,
        "--from-offset",
        str(first + 1),
        "--to-offset",
        str(first + 2),
        "--company",
        company,
    )
    declined = cli(env, *args, stdin="n\n")
    assert declined.returncode == 1, declined.stderr
    expected = f"partition {tp.partition}: committed offset {end} -> {first + 1}, 4 record(s)"
    assert expected in declined.stdout
    assert f"asked: {first + 1}..{first + 2}" in declined.stdout
    assert "nothing moved" in declined.stdout
    assert committed(kafka_bootstrap, group, tp) == end

    accepted = cli(env, *args, stdin="y\n")
    assert accepted.returncode == 0, accepted.stderr
    assert "moved 1 partition(s); 4 record(s) to read again" in accepted.stdout
    assert committed(kafka_bootstrap, group, tp) == first + 1


def test_replay_by_time_finds_the_first_record_at_or_after_the_instant(
    env: dict[str, str], kafka_bootstrap: str, company: str
) -> None:
    group = f"rx-sre-test-{uuid.uuid4().hex[:8]}"
    # Timestamps after every earlier record of the partition (other tests write there too) and
    # within the broker's tolerance for future ones: a second apart from now on.
    t0 = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=1)
    stamps = [int((t0 + timedelta(seconds=s)).timestamp() * 1000) for s in range(4)]
    offsets = produce(kafka_bootstrap, ROGER_CATEGORIES, company, 4, stamps)
    tp = TopicPartition(ROGER_CATEGORIES, company_partition(company, PARTITIONS))
    asyncio.run(_commit(kafka_bootstrap, group, tp, offsets[-1] + 1))
    done = cli(
        env,
        "replay",
        "--topic",
        ROGER_CATEGORIES,
        "--group",
        group,
        "--from-time",
        (t0 + timedelta(milliseconds=500)).isoformat(),
        "--to-time",
        (t0 + timedelta(milliseconds=2500)).isoformat(),
        "--company",
        company,
        "--yes",
    )
    assert done.returncode == 0, done.stderr
    assert f"asked: {offsets[1]}..{offsets[2]}" in done.stdout
    assert committed(kafka_bootstrap, group, tp) == offsets[1]


def test_replay_refuses_a_group_with_active_members_and_moves_nothing(
    env: dict[str, str],
    kafka_bootstrap: str,
    company: str,
    read_group: tuple[str, TopicPartition, int],
) -> None:
    group, tp, first = read_group

    async def with_member() -> subprocess.CompletedProcess[str]:
        member = AIOKafkaConsumer(
            ROGER_CATEGORIES,
            bootstrap_servers=kafka_bootstrap,
            group_id=group,
            enable_auto_commit=False,
        )
        await member.start()
        try:
            deadline = asyncio.get_running_loop().time() + 60
            while not member.assignment():
                assert asyncio.get_running_loop().time() < deadline, "member never joined"
                await member.getmany(timeout_ms=200)
            args = ("replay", "--topic", ROGER_CATEGORIES, "--group", group)
            return await asyncio.to_thread(cli, env, *args, "--from-offset", str(first), "--yes")
        finally:
            await member.stop()

    done = asyncio.run(with_member())
    assert done.returncode == 3
    assert "active member" in done.stderr and "stop its consumers" in done.stderr
    assert committed(kafka_bootstrap, group, tp) == first + 5


def test_replay_refuses_the_projectors_group_whose_positions_are_in_postgresql(
    env: dict[str, str],
) -> None:
    args = ("replay", "--topic", "rx.domain-events.v1", "--group", "rx-projector")
    done = cli(env, *args, "--from-offset", "0", "--yes")
    assert done.returncode == 3 and "PostgreSQL" in done.stderr


def test_dlq_list_prints_a_table_for_people_and_json_lines_for_machines(
    env: dict[str, str], kafka_bootstrap: str, company: str
) -> None:
    failed_at = (datetime.now(UTC) - timedelta(hours=3, minutes=5)).isoformat()
    event = {
        "id": str(uuid.uuid4()),
        "type": "bill.paid",
        "company_id": company,
        "data": {"bill_id": "bill_42"},
    }
    headers = [
        ("rx-dlq-reason", b"data.amount: '12,00' is not a decimal\nsecond line"),
        ("rx-dlq-last-failed-at", failed_at.encode()),
    ]
    asyncio.run(
        _produce(
            kafka_bootstrap,
            ROGER_EVENTS_DLQ,
            [(company, json.dumps(event).encode(), None, headers)],
        )
    )
    table = cli(env, "dlq", "list", "--topic", ROGER_EVENTS_DLQ, "--company", company)
    assert table.returncode == 0, table.stderr
    header, row = table.stdout.splitlines()
    assert header.split() == ["COMPANY", "KIND", "DOCUMENT", "REASON", "AGE", "STATE"]
    assert row.split()[:3] == [company, "bill", "bill_42"]
    assert "data.amount: '12,00' is not a decimal second line" in row
    assert row.split()[-3:] == ["3h", "5m", "open"]

    lines = wait_for(
        lambda: cli(
            env, "dlq", "list", "--json", "--topic", ROGER_EVENTS_DLQ, "--company", company
        ).stdout.splitlines(),
        30,
        "the JSON line",
    )
    [entry] = map(json.loads, lines)
    assert (entry["key"], entry["kind"], entry["document"], entry["state"]) == (
        company,
        "bill",
        "bill_42",
        "open",
    )
    assert entry["headers"]["rx-dlq-reason"].startswith("data.amount")


def test_dlq_tools_say_when_what_they_were_asked_for_is_not_there(env: dict[str, str]) -> None:
    """A typo in a topic or a record must not read as "nothing failed" or "done"."""
    listed = cli(env, "dlq", "list", "--topic", "roger.event.dlq")
    assert listed.returncode == 2 and "not a dead-letter topic" in listed.stderr, listed.stderr
    assert ROGER_EVENTS_DLQ in listed.stderr

    missing = cli(env, "dlq", "replay", "--topic", ROGER_EVENTS_DLQ, "--record", "99:999999")
    assert missing.returncode == 1, (missing.stdout, missing.stderr)
    assert "no dead letter at 99:999999" in missing.stderr
