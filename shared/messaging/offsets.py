"""Consumer groups' positions: lag per partition, and moving a group back over a range.

The SRE tools ``roger-xero lag`` and ``roger-xero replay`` (services/cli.py) use these.

Moving a group back is safe because every consumer dedupes what it already did (ingest by
(company, event id) and body hash, the writer by looking up in Xero what an earlier attempt
made, the connect flow by the result's command id). Kafka lets only a group with no active
members have its offsets changed, so ``plan_replay`` refuses a group that has members.
The projector keeps its positions in PostgreSQL (its tracking table) and seeks there on every
assignment: moving its Kafka offsets would change nothing, so its group is refused too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.partitioner import murmur2
from aiokafka.structs import OffsetAndMetadata

from shared.messaging.kafka import Security

# Groups whose positions live outside Kafka -> what to do instead of moving their offsets.
POSITIONS_ELSEWHERE: dict[str, str] = {
    "rx-projector": (
        "the projector keeps its positions in PostgreSQL (tracking table) and ignores the "
        "group's Kafka offsets; to rebuild its read model use `roger-xero rebuild`"
    ),
}


class ReplayRefused(RuntimeError):
    """The group cannot be moved now; the message says why and what to do."""


@dataclass(frozen=True)
class PartitionLag:
    """One partition of one group: ``committed`` is ``None`` when the group never committed
    there (it then starts at the beginning, so the whole partition is its lag)."""

    group: str
    topic: str
    partition: int
    committed: int | None
    end: int
    beginning: int

    @property
    def lag(self) -> int:
        """Records past the group's committed offset (count)."""
        start = self.beginning if self.committed is None else max(self.committed, self.beginning)
        return max(self.end - start, 0)


@dataclass(frozen=True)
class PartitionMove:
    """Where one partition's committed offset goes: from ``current`` back to ``new``; the
    group then reads ``current - new`` records again. ``wanted_end`` is the end (exclusive)
    of the range asked for: a group cannot stop there and goes on to ``current``."""

    partition: int
    current: int
    new: int
    wanted_end: int

    @property
    def records(self) -> int:
        return max(self.current - self.new, 0)


@dataclass(frozen=True)
class ReplayPlan:
    topic: str
    group: str
    company_id: str | None
    moves: tuple[PartitionMove, ...]

    @property
    def records(self) -> int:
        return sum(m.records for m in self.moves)

    def describe(self) -> str:
        """What ``apply_replay`` will do, in words, one line per partition that moves."""
        who = f" (company {self.company_id}'s partition)" if self.company_id else ""
        lines = [f"group {self.group} on {self.topic}{who}:"]
        for m in self.moves:
            lines.append(
                f"  partition {m.partition}: committed offset {m.current} -> {m.new}, "
                f"{m.records} record(s) read again (asked: {m.new}..{m.wanted_end - 1})"
            )
        if not self.moves:
            lines.append("  nothing to move: the group has not read past the range yet")
        lines.append(
            f"in all {self.records} record(s) read again; every consumer dedupes what it did"
            + (", other companies on the same partition are read again too" if who else "")
        )
        return "\n".join(lines)


def company_partition(company_id: str, partitions: int) -> int:
    """The partition a record keyed by ``company_id`` is on: Kafka's default partitioner
    (murmur2 of the UTF-8 key, sign bit cleared, modulo the partition count), as our producers
    and Roger's Java producers use."""
    return (murmur2(company_id.encode()) & 0x7FFFFFFF) % partitions


async def _admin(bootstrap: str, security: Security | None) -> AIOKafkaAdminClient:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **(security or {}))
    await admin.start()
    return admin


async def _consumer(bootstrap: str, security: Security | None) -> AIOKafkaConsumer:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, **(security or {})
    )
    await consumer.start()
    return consumer


async def active_members(admin: AIOKafkaAdminClient, group: str) -> int:
    """How many members the group has now (0: empty, dead or unknown)."""
    count = 0
    for response in await admin.describe_consumer_groups([group]):
        for described in response.groups:
            # DescribeGroupsResponse: (error_code, group_id, state, protocol_type, protocol,
            # members, ...); the fields are positional across the versions aiokafka speaks.
            if described[1] == group:
                count += len(described[5])
    return count


async def group_lag(
    bootstrap: str, groups: Sequence[str] | None = None, security: Security | None = None
) -> list[PartitionLag]:
    """Lag of every partition each group has committed on (``groups``: all consumer groups),
    sorted by group, topic, partition. ``security``: ``shared.messaging.kafka.kafka_security``
    of a principal allowed to describe the groups and topics."""
    admin = await _admin(bootstrap, security)
    try:
        names = (
            list(groups)
            if groups
            else sorted(g[0] for g in await admin.list_consumer_groups() if g[1] in ("consumer",))
        )
        committed = {g: await admin.list_consumer_group_offsets(g) for g in names}
    finally:
        await admin.close()
    every = sorted({tp for offsets in committed.values() for tp in offsets})
    if not every:
        return []
    consumer = await _consumer(bootstrap, security)
    try:
        ends = await consumer.end_offsets(every)
        beginnings = await consumer.beginning_offsets(every)
    finally:
        await consumer.stop()
    return [
        PartitionLag(
            group,
            tp.topic,
            tp.partition,
            None if meta.offset < 0 else meta.offset,
            ends[tp],
            beginnings[tp],
        )
        for group in names
        for tp, meta in sorted(committed[group].items())
    ]


async def plan_replay(
    bootstrap: str,
    topic: str,
    group: str,
    *,
    from_offset: int | None = None,
    to_offset: int | None = None,
    from_time: datetime | None = None,
    to_time: datetime | None = None,
    company_id: str | None = None,
    security: Security | None = None,
) -> ReplayPlan:
    """Where each partition of ``topic`` (only ``company_id``'s, if given) would move for
    ``group`` to read the range again: offsets ``from_offset``..``to_offset`` (inclusive), or
    the records written from ``from_time`` up to ``to_time`` (timezone-aware instants).
    Without an end the range runs to the group's committed offset.

    Raises ``ReplayRefused`` when the group has active members, keeps its positions outside
    Kafka, has never committed on the topic, or the range is empty or backwards; ``ValueError``
    when neither or both of an offset and a time start are given.
    """
    if (from_offset is None) == (from_time is None):
        raise ValueError("give a start: --from-offset or --from-time (one of them)")
    if (to_offset is not None and from_time is not None) or (
        to_time is not None and from_offset is not None
    ):
        raise ValueError("a range is offsets or times, not both")
    for instant in (from_time, to_time):
        if instant is not None and instant.tzinfo is None:
            raise ValueError("times need a timezone (e.g. 2026-11-30T01:00:00+00:00)")
    base = next((g for g in POSITIONS_ELSEWHERE if group.startswith(g)), None)
    if base is not None:
        raise ReplayRefused(f"{group}: {POSITIONS_ELSEWHERE[base]}")
    admin = await _admin(bootstrap, security)
    try:
        members = await active_members(admin, group)
        if members:
            raise ReplayRefused(
                f"group {group} has {members} active member(s); Kafka moves only an empty "
                "group's offsets: stop its consumers (the service) first"
            )
        described = await admin.describe_topics([topic])
        committed = await admin.list_consumer_group_offsets(group)
    finally:
        await admin.close()
    count = sum(len(t.get("partitions", [])) for t in described)
    if not count:
        raise ReplayRefused(f"no topic {topic}")
    chosen = (
        [company_partition(company_id, count)] if company_id is not None else list(range(count))
    )
    tps = [TopicPartition(topic, p) for p in chosen]
    if not any(tp in committed and committed[tp].offset >= 0 for tp in tps):
        raise ReplayRefused(f"group {group} has committed nothing on {topic}")
    consumer = await _consumer(bootstrap, security)
    try:
        beginnings = await consumer.beginning_offsets(tps)
        ends = await consumer.end_offsets(tps)
        starts = await _offsets_at(consumer, tps, from_time, ends) if from_time else {}
        stops = await _offsets_at(consumer, tps, to_time, ends) if to_time else {}
    finally:
        await consumer.stop()
    moves = []
    for tp in tps:
        meta = committed.get(tp)
        if meta is None or meta.offset < 0:
            continue  # never read: the group will read it all anyway
        current = meta.offset
        start = from_offset if from_offset is not None else starts[tp]
        # to_offset is inclusive; a time end is the first record at or after it (exclusive).
        end = to_offset + 1 if to_offset is not None else stops.get(tp, current)
        if end <= start and (to_offset is not None or to_time is not None):
            raise ReplayRefused(f"partition {tp.partition}: the range {start}..{end - 1} is empty")
        new = max(start, beginnings[tp])  # records before the beginning are gone (retention)
        if new < current:
            moves.append(PartitionMove(tp.partition, current, new, min(end, current)))
    return ReplayPlan(topic, group, company_id, tuple(moves))


async def _offsets_at(
    consumer: AIOKafkaConsumer,
    tps: list[TopicPartition],
    instant: datetime,
    ends: dict[TopicPartition, int],
) -> dict[TopicPartition, int]:
    # The first offset whose timestamp is at or after the instant; none: the partition's end.
    found = await consumer.offsets_for_times({tp: int(instant.timestamp() * 1000) for tp in tps})
    return {tp: (found[tp].offset if found.get(tp) else ends[tp]) for tp in tps}


async def apply_replay(bootstrap: str, plan: ReplayPlan, security: Security | None = None) -> None:
    """Commits each move's new offset for the plan's group.

    The commit is made outside the group (no join, generation -1), which Kafka accepts only
    while the group has no members: a consumer that started since the plan makes the broker
    refuse it (raised as aiokafka's ``CommitFailedError``/``KafkaError``), and nothing moves.
    """
    if not plan.moves:
        return
    admin = await _admin(bootstrap, security)
    try:
        if members := await active_members(admin, plan.group):
            raise ReplayRefused(f"group {plan.group} has {members} active member(s) now")
    finally:
        await admin.close()
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=plan.group,
        enable_auto_commit=False,
        **(security or {}),
    )
    await consumer.start()
    try:
        tps = [TopicPartition(plan.topic, m.partition) for m in plan.moves]
        consumer.assign(tps)  # assigned by hand: the group is not joined
        await consumer.commit(
            {
                TopicPartition(plan.topic, m.partition): OffsetAndMetadata(m.new, "rx-replay")
                for m in plan.moves
            }
        )
    finally:
        await consumer.stop()
