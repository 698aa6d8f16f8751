"""A partition's progress: a company over its share is set aside and read again later, no
record is taken twice, and the committed offset never passes a record not yet answered."""

from __future__ import annotations

from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from services.xero_writer.scheduler import has_room
from shared.messaging.partition_progress import PartitionProgress

SHARE = 3


class Partition:
    """A partition's log read in order as the writer reads it: ``step`` reads one record,
    ``answer`` answers a company's oldest command, ``poll`` is the writer's before-poll."""

    def __init__(self, log: list[str]) -> None:
        self.log, self.position = log, 0
        self.progress = PartitionProgress()
        self.held: Counter[str] = Counter()
        self.in_flight: dict[str, list[int]] = {}
        self.taken: list[int] = []
        self.answered: set[int] = set()

    def step(self) -> None:
        offset, company = self.position, self.log[self.position]
        self.position += 1
        if self.progress.take(offset, company, self.held[company], SHARE):
            self.progress.took(offset)
            self.taken.append(offset)
            self.held[company] += 1
            self.progress.in_flight.add(offset)
            self.in_flight.setdefault(company, []).append(offset)

    def answer(self, company: str) -> None:
        offset = self.in_flight[company].pop(0)
        self.progress.in_flight.discard(offset)
        self.held[company] -= 1
        self.answered.add(offset)

    def poll(self) -> None:
        target = self.progress.seek(lambda c: has_room(self.held[c], SHARE))
        if target is not None:
            self.position = target

    def waiting(self) -> list[str]:
        return [c for c, offsets in self.in_flight.items() if offsets]


def test_a_backlog_over_its_share_is_set_aside_and_the_company_behind_it_is_read() -> None:
    part = Partition(["big"] * 10 + ["small"])

    for _ in range(11):
        part.step()

    assert part.taken == [0, 1, 2, 10]  # the small company's record is read past the backlog
    assert part.progress.deferred == {"big": 3}
    assert part.progress.committable() == 0
    for _ in range(3):
        part.answer("big")
    part.answer("small")
    assert part.progress.committable() == 3  # not past the first record set aside

    part.poll()
    assert part.position == 3  # read again from the first record set aside
    for _ in range(4):
        part.step()
    assert part.taken == [0, 1, 2, 10, 3, 4, 5]
    assert part.progress.deferred == {"big": 6}
    # Deferred again: what lies ahead up to where reading stood is taken or deferred.
    part.poll()
    assert part.position == 11
    assert part.progress.committable() == 3


def test_two_backlogs_read_again_in_turn_skip_nothing() -> None:
    # "b" is set aside at 5 and "a" at 10; "b" is read again first, and is part-way through
    # when "a" may be read again: reading goes on from where it stands, not from 10.
    part = Partition(["a", "b", "a", "b", "b", "b", "b", "b", "b", "a", "a", "c"])
    for _ in range(12):
        part.step()
    assert part.progress.deferred == {"b": 5, "a": 10}
    part.answer("b")
    part.answer("b")
    part.poll()
    assert part.position == 5
    part.step()  # b's offset 5 is taken
    part.answer("a")
    part.answer("a")
    part.poll()
    assert part.position == 6
    while part.position < len(part.log):
        part.step()
    assert sorted(part.taken) == [0, 1, 2, 3, 4, 5, 6, 9, 10, 11]
    assert part.progress.deferred == {"b": 7}
    assert part.progress.committable() == 4


def test_a_company_that_has_not_answered_half_its_share_stays_set_aside() -> None:
    part = Partition(["big"] * 6)
    for _ in range(6):
        part.step()
    part.answer("big")

    part.poll()

    assert part.position == 6 and part.progress.deferred == {"big": 3}


def test_a_partition_taken_away_forgets_what_it_set_aside_and_commits_nothing_yet() -> None:
    part = Partition(["big"] * 6)
    for _ in range(6):
        part.step()
    part.answer("big")

    part.progress.forget()

    assert part.progress.deferred == {} and part.progress.taken == set()
    # Records still in flight do not say what lies below them: nothing to commit until the
    # partition is read again from the committed offset.
    assert part.progress.committable() is None


@settings(max_examples=200, deadline=None)
@given(
    log=st.lists(st.sampled_from(["a", "b", "c", "d"]), min_size=20, max_size=80),
    moves=st.lists(st.integers(min_value=0, max_value=5), min_size=200, max_size=600),
)
def test_every_record_is_taken_once_and_nothing_unanswered_is_committed(
    log: list[str], moves: list[int]
) -> None:
    """Any interleaving of reads, answers and polls: no record is taken twice; the committed
    offset never passes a record not answered; draining takes every record."""
    part = Partition(log)

    def check() -> None:
        assert len(part.taken) == len(set(part.taken))
        floor = part.progress.committable()
        if floor is not None:
            assert all(offset in part.answered for offset in range(floor))

    for move in moves:
        waiting = part.waiting()
        if move <= 2 and part.position < len(log):
            part.step()
        elif move <= 4 and waiting:
            part.answer(waiting[move % len(waiting)])
        else:
            part.poll()
        check()
    # Drain: answer everything, poll, read to the end, until nothing is left.
    for _ in range(10 * len(log) + 10):
        for company in part.waiting():
            while part.in_flight[company]:
                part.answer(company)
        part.poll()
        while part.position < len(log):
            part.step()
        check()
        if not part.waiting() and not part.progress.deferred:
            break
    assert sorted(part.taken) == list(range(len(log)))
    assert part.progress.committable() == len(log)
