"""Company ids chosen for where Kafka puts them (records are keyed by company id)."""

from __future__ import annotations

from shared.contracts.topics import TOPICS
from shared.messaging.offsets import company_partition


def sharing_a_partition(prefix: str, topic: str) -> tuple[str, str]:
    """Two company ids, ``prefix``-0, -1, ..., whose records land on one partition of
    ``topic``."""
    partitions = next(t.partitions for t in TOPICS if t.name == topic)
    seen: dict[int, str] = {}
    i = 0
    while True:
        company = f"{prefix}-{i}"
        partition = company_partition(company, partitions)
        if partition in seen:
            return seen[partition], company
        seen[partition] = company
        i += 1


def one_per_partition(prefix: str, topic: str) -> list[str]:
    """Company ids, ``prefix``-0, -1, ..., one on each partition of ``topic``, in partition
    order: whichever partitions a consumer is given, it has work."""
    partitions = next(t.partitions for t in TOPICS if t.name == topic)
    chosen: dict[int, str] = {}
    i = 0
    while len(chosen) < partitions:
        company = f"{prefix}-{i}"
        chosen.setdefault(company_partition(company, partitions), company)
        i += 1
    return [chosen[p] for p in sorted(chosen)]
