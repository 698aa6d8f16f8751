"""What a consumer has read of one partition, holds, and set aside for later.

Records are keyed by company, so one partition carries many companies' records in one order.
A company with a month-end backlog must not hold up a company behind it on the same partition
(issue 14: fairness), so a consumer may *defer* a company once it holds its *share*: the
company's records past that are skipped while the partition is read on for the other
companies, and read again from the first of them once the company is ``ready`` (what counts
as held and as ready is the consumer's own: the writer's unanswered commands, the
projector's records applied since it last caught up). Offsets taken while something is
deferred are remembered, so reading again never takes a record twice; once every company
read again is deferred again, the reading jumps back to where it had been (what lies between
is taken or deferred), so a backlog is not read over and over.

The committed offset never passes a record that is neither taken nor read again:
``committable`` is the lowest of the records in flight, the deferred ones and the read
position. Used by ``services/xero_writer/scheduler.py`` and ``services/projector/fair_reading.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class PartitionProgress:
    """One partition's progress (offsets are the partition's Kafka offsets).

    ``in_flight``: taken and not yet done with (the writer: not answered on Kafka).
    ``deferred``: company id -> the offset of its first record set aside. ``taken``: offsets
    taken while something was deferred.
    ``read_to``: where reading stands (one past the last record read, or where it was sent
    back to); None until a record is read after an assignment. ``high``: the furthest it
    stood. ``rereading``: companies read again whose records before ``high`` may be due.
    """

    in_flight: set[int] = field(default_factory=set)
    deferred: dict[str, int] = field(default_factory=dict)
    taken: set[int] = field(default_factory=set)
    read_to: int | None = None
    high: int | None = None
    rereading: set[str] = field(default_factory=set)

    def committable(self) -> int | None:
        """The offset to commit: every record below it is answered or skipped for good.
        None until a record was read since the partition was assigned (the records in flight
        alone do not say what lies below them)."""
        if self.read_to is None:
            return None
        return min([*self.in_flight, *self.deferred.values(), self.read_to])

    def take(self, offset: int, company_id: str, held: int, share: int) -> bool:
        """Whether to take the record at ``offset`` of ``company_id``, which holds ``held``
        unanswered commands of its ``share``. False for a record taken before (read again
        after a seek), for a company deferred, and for the first record over the share
        (the company is then deferred from it). A record taken is then ``took``."""
        self.read_to = offset + 1
        if self.high is None or self.read_to >= self.high:
            self.high = self.read_to
            self.rereading.clear()
        if offset in self.taken or company_id in self.deferred:
            return False
        if held >= share:
            self.deferred[company_id] = offset
            self.rereading.discard(company_id)
            return False
        return True

    def took(self, offset: int) -> None:
        """The record at ``offset`` was taken (queued, a duplicate, or dead-lettered)."""
        if self.deferred or self.rereading:
            self.taken.add(offset)

    def seek(self, ready: Callable[[str], bool]) -> int | None:
        """Where reading must go on from, if not where it stands: back to the first record
        of the deferred companies that are ``ready`` (no longer deferred: their records are
        taken or deferred afresh), or on to ``high`` once every company read again is
        deferred again. Forgets the taken offsets no read can reach again."""
        back = {company: offset for company, offset in self.deferred.items() if ready(company)}
        for company in back:
            del self.deferred[company]
        self.rereading |= back.keys()
        target: int | None = None
        if back:
            lowest = min(back.values())
            self.read_to = lowest if self.read_to is None else min(self.read_to, lowest)
            target = self.read_to
        elif (
            not self.rereading
            and self.read_to is not None
            and self.high is not None
            and self.read_to < self.high
        ):
            self.read_to = target = self.high
        floor = self.committable()
        if target is not None and self.taken and floor is not None:
            self.taken = {offset for offset in self.taken if offset >= floor}
        return target

    def forget(self) -> None:
        """The partition was taken away: what it set aside is read from the committed offset
        by whoever holds it now."""
        self.deferred.clear()
        self.taken.clear()
        self.rereading.clear()
        self.read_to = self.high = None
