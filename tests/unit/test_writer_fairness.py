"""One writer, one partition, a month-end backlog and a small company behind it: the small
company's command is taken at once, the backlog waits on Kafka beyond its share and is read
again from where it was set aside (issue 14: fairness within one writer)."""

from __future__ import annotations

from typing import Any

from aiokafka import ConsumerRecord, TopicPartition

from services.xero_writer.scheduler import Item, Writer
from shared.contracts.commands import encode
from shared.settings import Settings
from tests.support.writer_commands import create_bill

TOPIC = "rx.xero-commands.v1"


class _Consumer:
    """The part of aiokafka's consumer the writer's back-pressure uses."""

    def __init__(self, assigned: set[TopicPartition]) -> None:
        self.assigned, self.held = assigned, set[TopicPartition]()
        self.seeks: list[tuple[TopicPartition, int]] = []

    def assignment(self) -> set[TopicPartition]:
        return set(self.assigned)

    def paused(self) -> set[TopicPartition]:
        return set(self.held)

    def pause(self, *tps: TopicPartition) -> None:
        self.held |= set(tps)

    def resume(self, *tps: TopicPartition) -> None:
        self.held -= set(tps)

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self.seeks.append((tp, offset))


def _writer(share: int, *tps: TopicPartition) -> tuple[Writer, _Consumer, list[Item]]:
    writer = Writer(Settings(writer_company_share=share), tokens=None, attempts=None, xero=None)  # type: ignore[arg-type]
    consumer = _Consumer(set(tps))
    writer.loop.consumer = consumer  # type: ignore[assignment]
    lanes: list[Item] = []
    writer._enqueue = lanes.append  # type: ignore[method-assign, assignment]  # no Xero: the lanes' input
    return writer, consumer, lanes


def _record(tp: TopicPartition, offset: int, company: str) -> ConsumerRecord[Any, Any]:
    command = create_bill(f"{company}-{offset}", "c-1").model_copy(update={"company_id": company})
    return ConsumerRecord(
        tp.topic, tp.partition, offset, 0, 0, company.encode(), encode(command), None, 0, 0, ()
    )


async def test_a_backlog_beyond_its_share_waits_and_the_company_behind_it_goes_first() -> None:
    tp = TopicPartition(TOPIC, 3)
    writer, consumer, lanes = _writer(2, tp)
    log = ["big"] * 5 + ["small"]
    for offset, company in enumerate(log):
        await writer._accept(_record(tp, offset, company))

    assert [(i.held_by, i.offset) for i in lanes] == [("big", 0), ("big", 1), ("small", 5)]
    await writer._before_poll()
    assert consumer.seeks == []  # the backlog holds its share: nothing more is read of it
    assert writer._committable() == {tp: 0}

    for item in lanes[:2]:
        writer._answered_on_kafka(item)
    writer._answered_on_kafka(lanes[2])
    assert writer._committable() == {tp: 2}  # not past the first record set aside
    await writer._before_poll()
    assert consumer.seeks == [(tp, 2)]

    for offset in range(2, 5):  # Kafka hands the partition again from offset 2
        await writer._accept(_record(tp, offset, log[offset]))
    # The backlog's next share, then it is set aside again at offset 4.
    assert [(i.held_by, i.offset) for i in lanes[3:]] == [("big", 2), ("big", 3)]
    assert writer._committable() == {tp: 2}
    # Reading jumps back to where it stood: offset 5 (the small company's) is not read twice.
    await writer._before_poll()
    assert consumer.seeks == [(tp, 2), (tp, 6)]
    assert writer._committable() == {tp: 2}


async def test_a_partition_full_of_several_backlogs_is_paused_alone() -> None:
    busy, quiet = TopicPartition(TOPIC, 3), TopicPartition(TOPIC, 4)
    writer, consumer, _ = _writer(250, busy, quiet)
    cap = writer.partition_cap
    writer.progress[busy].in_flight.update(range(cap))
    writer.progress[quiet].in_flight.update(range(3))

    await writer._before_poll()  # returns: the others' partitions are still read
    assert consumer.held == {busy}
    # Answered down to half: read again.
    writer.progress[busy].in_flight = set(range(cap // 2 - 1))
    await writer._before_poll()
    assert consumer.held == set()
