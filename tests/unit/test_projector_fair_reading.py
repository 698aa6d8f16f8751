"""The projector's reading order: a company's backlog past its turn waits while the companies
behind it on the partition are applied, the tracked position never passes a record not yet
applied, each company's records are applied in their order, and nothing is left behind."""

from __future__ import annotations

from typing import Any

from aiokafka import ConsumerRecord, TopicPartition
from hypothesis import given, settings
from hypothesis import strategies as st

from services.projector.fair_reading import FairReading

TP = TopicPartition("rx.domain-events.v1", 3)


def record(offset: int, company: str) -> ConsumerRecord[Any, Any]:
    return ConsumerRecord(
        topic=TP.topic,
        partition=TP.partition,
        offset=offset,
        timestamp=0,
        timestamp_type=0,
        key=company.encode(),
        value=b"{}",
        checksum=None,
        serialized_key_size=len(company),
        serialized_value_size=2,
        headers=(),
    )


class Partition:
    """One partition read as the projector reads it: ``fetch`` takes up to ``size`` records
    from where the consumer stands and applies what is admitted (one transaction that stores
    ``track_to``), ``poll`` is the before-fetch seek, ``restart`` reads again from the tracked
    position with nothing remembered (a crash, or the partition assigned afresh)."""

    def __init__(self, log: list[str], share: int, size: int) -> None:
        self.log, self.size = log, size
        self.now = 0.0
        self.fair = FairReading(share, clock=lambda: self.now)
        self.position = 0  # the consumer's fetch position
        self.tracked = 0  # the tracking row
        self.applied: list[int] = []  # every application, repeats included

    def fetch(self) -> list[int]:
        end = min(self.position + self.size, len(self.log))
        records = [record(o, self.log[o]) for o in range(self.position, end)]
        self.position = end
        admitted = [r.offset for r in self.fair.admit(TP, records, len(self.log))]
        if admitted:
            self.tracked = max(self.tracked, self.fair.track_to(TP, admitted[-1]))
            self.applied += admitted
            self.fair.done(TP, admitted)
        return admitted

    def poll(self) -> None:
        for tp, offset in self.fair.seeks({TP}).items():
            assert tp == TP
            self.position = offset

    def restart(self) -> None:
        self.fair.forget(TP)
        self.position = self.tracked

    def drain(self) -> None:
        for _ in range(10 * len(self.log) + 50):
            self.poll()
            self.fetch()
            if self.position >= len(self.log) and not self.fair.progress[TP].deferred:
                return
        raise AssertionError("the partition was never read to its end")


def test_a_company_behind_a_backlog_is_applied_after_one_turn_of_it() -> None:
    part = Partition(["big"] * 2000 + ["small"], share=500, size=500)

    part.drain()

    small = part.applied.index(2000)
    assert part.applied[:small] == list(range(500))  # one turn of the backlog, then the small
    assert sorted(part.applied) == list(range(2001))
    assert len(part.applied) == 2001  # nothing applied twice


def test_the_tracked_position_stays_at_the_first_record_waiting_its_turn() -> None:
    part = Partition(["big"] * 12 + ["small"], share=4, size=20)

    part.fetch()

    assert part.applied == [0, 1, 2, 3, 12]
    assert part.tracked == 4  # the small company's record went first, the position waits
    assert part.fair.committable() == {TP: 4}
    part.restart()  # a crash now reads from the first record deferred
    assert part.position == 4


def test_a_deferred_company_gets_its_turn_once_reading_passed_the_end_it_was_deferred_at() -> None:
    log = ["big"] * 10
    part = Partition(log, share=2, size=3)

    part.fetch()  # 0, 1 taken; big deferred at 2 while the partition ends at 10
    part.poll()
    assert part.position == 3  # not yet its turn: the others behind it come first
    part.fetch()
    part.fetch()
    part.fetch()  # read to 10
    part.poll()
    assert part.position == 2  # its turn: read again from its first record set aside


def test_a_deferred_company_gets_its_turn_after_max_wait_even_if_the_end_is_out_of_reach() -> None:
    part = Partition(["big"] * 10, share=2, size=3)
    part.fetch()
    part.log += ["other"] * 5  # the end moves on as fast as it is read

    part.now += part.fair.max_wait_s
    part.poll()

    assert part.position == 2


def test_caught_up_every_company_starts_a_fresh_turn() -> None:
    part = Partition(["steady"] * 3, share=4, size=10)
    part.fetch()
    part.log += ["steady"] * 3

    part.fetch()

    assert part.applied == [0, 1, 2, 3, 4, 5]  # 6 > share, yet nobody waited behind it
    assert not part.fair.progress[TP].deferred


COMPANIES = st.sampled_from(["big", "big", "big", "other", "a", "b"])


@settings(max_examples=300, deadline=None)
@given(
    log=st.lists(COMPANIES, max_size=120),
    more=st.lists(COMPANIES, max_size=40),
    share=st.integers(1, 8),
    size=st.integers(1, 12),
    steps=st.lists(st.sampled_from(["fetch", "fetch", "poll", "grow", "restart"]), max_size=80),
)
def test_any_reading_applies_every_record_in_each_companys_order_and_tracks_none_past(
    log: list[str], more: list[str], share: int, size: int, steps: list[str]
) -> None:
    part = Partition(list(log), share, size)
    for step in steps:
        if step == "fetch":
            part.fetch()
        elif step == "poll":
            part.poll()
        elif step == "grow" and more:
            part.log.append(more.pop())
        elif step == "restart":
            part.restart()
        # The tracked position never passes a record not applied: a crash loses nothing.
        assert set(range(part.tracked)) <= set(part.applied)
    part.drain()

    assert set(part.applied) == set(range(len(part.log)))
    first: dict[int, int] = {}
    for offset in part.applied:
        first.setdefault(offset, len(first))
    for company in set(part.log):
        mine = [o for o in sorted(first, key=first.__getitem__) if part.log[o] == company]
        assert mine == sorted(mine), f"{company}'s records applied out of order"
    if "restart" not in steps:
        assert len(part.applied) == len(set(part.applied))  # nothing applied twice


def test_records_admitted_before_the_partition_was_assigned_again_are_not_applied() -> None:
    """aiokafka assigns partitions from its own task, while the loop may still hold records
    fetched before: applied then, their position would no longer know what was deferred."""
    part = Partition(["big"] * 12 + ["small"] * 3, share=4, size=20)
    part.fetch()  # big 0-3 and small 12-14 applied, big deferred at 4: tracked 4
    part.log += ["other"] * 2
    stale = [r.offset for r in part.fair.admit(TP, [record(15, "other"), record(16, "other")], 17)]
    assert stale == [15, 16] and part.fair.current(TP, stale)

    part.restart()  # assigned again: read again from 4
    assert not part.fair.current(TP, stale)
    part.fair.done(TP, stale)  # what a handler in flight would say: ignored
    assert part.fair.committable() == {} and part.tracked == 4
    part.drain()
    assert set(part.applied) == set(range(17))
