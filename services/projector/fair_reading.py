"""Which of a partition's fetched records the projector applies now, and which wait their turn.

Records are keyed by company, so one partition carries many companies' records in one order,
and the projector applies a partition's records in that order. A company's month-end backlog
(10,000 facts) was therefore applied in full, at a few hundred records a second, before any
company behind it on the partition was heard of (issue 14: fairness; 25 s measured).

So a company may have ``share`` records of a partition applied since the partition was last
caught up (or since it was last read again); its records past that are *deferred*: skipped
while the partition is read on for the companies behind it, and read again from the first of
them once the reading has passed the partition's end as it stood when the company was
deferred (everyone waiting then has had a turn), or after ``max_wait_s`` whatever the end
(the end as the broker reported it, which a transaction marker could hold out of reach). The
bookkeeping of what was taken, deferred and read again is ``shared.messaging.partition_progress``.

The tracked position (``SyncApplication``'s tracking row, where a restart reads from) never
passes a deferred record: ``track_to``. What is applied ahead of it is recorded in the same
transaction (``rx_projector_ahead``), so reading again from the position after a restart or a
reassignment skips it (no second event, dead letter or history line). Records admitted
before the partition was assigned again are not applied at all (``current``): their
``track_to`` would not know what was deferred. A record's company is its key: every
producer keys by company id (a record without one shares the empty company).
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from aiokafka import ConsumerRecord, TopicPartition

from shared.messaging.partition_progress import PartitionProgress


class FairReading:
    """The projector's per-partition reading order (see the module's docstring).

    ``share``: records of one company applied per turn (``ProjectorSettings``).
    ``clock``: monotonic seconds (a fake in unit tests). Not thread-safe: the consumer loop's
    task calls it.
    """

    def __init__(
        self,
        share: int,
        max_wait_s: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.share, self.max_wait_s, self.clock = share, max_wait_s, clock
        self.progress: dict[TopicPartition, PartitionProgress] = defaultdict(PartitionProgress)
        # Records of each company applied since the partition was caught up or it was read again.
        self.held: dict[TopicPartition, Counter[str]] = defaultdict(Counter)
        # Deferred company -> (the partition's end when it was deferred, when).
        self.due: dict[TopicPartition, dict[str, tuple[int, float]]] = defaultdict(dict)
        # The position below which every record is applied (``track_to`` of the last done).
        self.applied_to: dict[TopicPartition, int] = {}
        # Admitted and not yet done, since the partition was last (re)assigned.
        self.pending: dict[TopicPartition, set[int]] = defaultdict(set)

    def admit(
        self,
        tp: TopicPartition,
        records: Sequence[ConsumerRecord[Any, Any]],
        end: int | None,
    ) -> list[ConsumerRecord[Any, Any]]:
        """The records of ``records`` (one partition's fetch, in offset order) to apply now.

        ``end``: the partition's high watermark as last reported (None if unknown). Each
        record admitted must then be ``done`` once applied or dead-lettered."""
        progress, held, due = self.progress[tp], self.held[tp], self.due[tp]
        admitted = []
        for record in records:
            company = company_of(record)
            deferred = company in progress.deferred
            if progress.take(record.offset, company, held[company], self.share):
                held[company] += 1
                admitted.append(record)
                self.pending[tp].add(record.offset)
            elif not deferred and company in progress.deferred:
                due[company] = (record.offset + 1 if end is None else end, self.clock())
        if end is not None and progress.read_to is not None and progress.read_to >= end:
            # Caught up: nobody waits behind anyone, every turn starts afresh.
            for company in [c for c in held if c not in progress.deferred]:
                del held[company]
        return admitted

    def current(self, tp: TopicPartition, offsets: Iterable[int]) -> bool:
        """Whether the records at ``offsets`` were admitted since the partition was last
        (re)assigned and are not done: only those may be applied (a record admitted before
        ``forget`` is read again from the tracked position; applied now, its ``track_to``
        would no longer know what was deferred)."""
        pending = self.pending.get(tp, set())
        return all(offset in pending for offset in offsets)

    def done(self, tp: TopicPartition, offsets: Sequence[int]) -> None:
        """The records at ``offsets`` (in order, the last admitted so far among them) were
        applied or dead-lettered: never taken again. Ignored unless ``current`` (the
        partition was assigned again meanwhile: it is read again from the tracked position)."""
        if not offsets or not self.current(tp, offsets):
            return
        progress, pending = self.progress[tp], self.pending[tp]
        for offset in offsets:
            progress.took(offset)
            pending.discard(offset)
        self.applied_to[tp] = self.track_to(tp, offsets[-1])

    def track_to(self, tp: TopicPartition, offset: int) -> int:
        """The position to track once the record at ``offset`` (and every record admitted
        before it) is applied: one past it, or the first deferred record below that."""
        return min([offset + 1, *self.progress[tp].deferred.values()])

    def seeks(self, assigned: set[TopicPartition]) -> dict[TopicPartition, int]:
        """Where to send each assigned partition's reading before the next fetch: back to the
        first record of the deferred companies whose turn came, or on past what was read.
        Forgets partitions no longer assigned."""
        targets: dict[TopicPartition, int] = {}
        now = self.clock()
        for tp in list(self.progress):
            if tp not in assigned:
                self.forget(tp)
                continue
            progress, due = self.progress[tp], self.due[tp]
            # The furthest read, not where reading stands: a company deferred again while
            # read again has its turn as soon as what arrived since was read once.
            high = progress.high if progress.high is not None else -1
            turn = {
                company
                for company in progress.deferred
                if high >= due.get(company, (0, now))[0]
                or now - due.get(company, (0, now))[1] >= self.max_wait_s
            }
            for company in turn:
                due.pop(company, None)
                self.held[tp].pop(company, None)
            target = progress.seek(turn.__contains__)
            if target is not None:
                targets[tp] = target
        return targets

    def committable(self) -> dict[TopicPartition, int]:
        """Kafka offsets safe to commit: what the tracking row holds, so lag shows (the
        projector reads its own position from the tracking row)."""
        return dict(self.applied_to)

    def forget(self, tp: TopicPartition) -> None:
        """The partition was (re)assigned or taken away: reading starts afresh from the tracked
        position, and what was applied ahead of it is applied again (a no-op, see above)."""
        self.progress.pop(tp, None)
        self.held.pop(tp, None)
        self.due.pop(tp, None)
        self.applied_to.pop(tp, None)
        self.pending.pop(tp, None)


def company_of(record: ConsumerRecord[Any, Any]) -> str:
    """The record's company: its key (ingest, the writer and xero_inbound key by company id)."""
    return (record.key or b"").decode(errors="replace")
