"""What the writer has read of one partition of commands, holds, and set aside.

Commands are keyed by company, so one partition carries many companies' commands in one
order. A company with a month-end backlog must not hold up a company behind it on the same
partition (issue 14: fairness within one writer), and the writer must not hold the whole
backlog in memory. So a company may hold at most its *share* of read, unanswered commands;
its records past that are *deferred*: skipped while the partition is read on for the other
companies, and read again from the first of them once the company has answered half its
share. Offsets taken while something is deferred are remembered, so reading again never
takes a record twice.

The committed offset never passes a record that is neither answered nor read again:
``committable`` is the lowest of the records in flight, the deferred ones and the read
position. A crash reads again from there, and the executor's look-ups dedupe what was done.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field


def has_room(held: int, share: int) -> bool:
    """Whether a company set aside, now holding ``held`` unanswered commands, is read again:
    once it answered half its share (a re-read then brings a few batches, not one)."""
    return held <= share // 2


@dataclass
class PartitionProgress:
    """One partition's progress (offsets are Kafka offsets of ``rx.xero-commands``).

    ``in_flight``: read and not yet answered on Kafka. ``deferred``: company id -> the offset
    of its first record set aside. ``taken``: offsets taken while something was deferred.
    ``read_to``: one past the last record read in this pass (it moves back on a seek).
    """

    in_flight: set[int] = field(default_factory=set)
    deferred: dict[str, int] = field(default_factory=dict)
    taken: set[int] = field(default_factory=set)
    read_to: int | None = None

    def committable(self) -> int | None:
        """The offset to commit: every record below it is answered or skipped for good."""
        floor = [*self.in_flight, *self.deferred.values()]
        if self.read_to is not None:
            floor.append(self.read_to)
        return min(floor) if floor else None

    def take(self, offset: int, company_id: str, held: int, share: int) -> bool:
        """Whether to take the record at ``offset`` of ``company_id``, which holds ``held``
        unanswered commands of its ``share``. False for a record taken before (read again
        after a seek), for a company deferred, and for the first record over the share
        (the company is then deferred from it)."""
        self.read_to = offset + 1
        if offset in self.taken:
            return False
        if company_id in self.deferred:
            return False
        if held >= share:
            self.deferred[company_id] = offset
            return False
        if self.deferred:
            self.taken.add(offset)
        return True

    def resume(self, ready: Callable[[str], bool]) -> int | None:
        """The offset to read again from, for the deferred companies that are ``ready`` (they
        are no longer deferred: their records are taken or deferred afresh); None if none
        is. Forgets the taken offsets no read can reach again."""
        back = [offset for company, offset in self.deferred.items() if ready(company)]
        for company in [c for c in self.deferred if ready(c)]:
            del self.deferred[company]
        if back:
            self.read_to = min(back) if self.read_to is None else min(self.read_to, *back)
        floor = self.committable()
        if self.taken and floor is not None:
            self.taken = {offset for offset in self.taken if offset >= floor}
        return min(back) if back else None

    def forget(self) -> None:
        """The partition was taken away: what it set aside is read from the committed offset
        by whoever holds it now."""
        self.deferred.clear()
        self.taken.clear()
        self.read_to = None
