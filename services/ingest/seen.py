"""Events ingest has already put on Kafka, per company, with a hash of what they said.

A redelivery (same company, same event id, same body) is acknowledged, not republished. The
same id with a different body is a conflict (:class:`EventConflict`): Roger reused an id or
changed an event after sending it, and neither version may silently win.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from psycopg_pool import AsyncConnectionPool

from shared.contracts.roger_events import RogerEvent, content_hash
from shared.db import ensure_schema

# Keyed by (company_id, event_id): an event id is unique within its company only as far as we
# can rely on, and one company's id must never hide another's event. The earlier table
# (ingest_published_events, keyed by event id alone) is no longer read; old data is not moved.
DDL = """
CREATE TABLE IF NOT EXISTS ingest_seen_events (
    company_id TEXT NOT NULL,
    event_id TEXT NOT NULL,
    body_sha256 TEXT NOT NULL,
    published_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (company_id, event_id)
)
"""

Key = tuple[str, str]  # (company_id, event_id)


@dataclass(frozen=True)
class Conflict:
    company_id: str
    event_id: str
    stored_sha256: str
    received_sha256: str

    def as_dict(self) -> dict[str, str]:
        return {
            "company_id": self.company_id,
            "event_id": self.event_id,
            "stored_sha256": self.stored_sha256,
            "received_sha256": self.received_sha256,
        }


class EventConflict(Exception):
    """An event id already published for the company with another body (SHA-256 of the
    canonical JSON, ``shared.contracts.roger_events.content_hash``). Nothing of the request or
    record was published. ``conflicts`` lists every one found; the attributes name the first.
    """

    def __init__(self, conflicts: list[Conflict]) -> None:
        first = conflicts[0]
        self.conflicts = conflicts
        self.event_id, self.company_id = first.event_id, first.company_id
        self.stored_hash, self.new_hash = first.stored_sha256, first.received_sha256
        super().__init__(
            f"event {first.event_id} of company {first.company_id} was already received with "
            f"another body (sha256 {first.stored_sha256}, now {first.received_sha256})"
        )


class SeenEvents:
    def __init__(self, pool: AsyncConnectionPool) -> None:
        self._pool = pool

    async def setup(self) -> None:
        await ensure_schema(self._pool, DDL)

    async def hashes(self, keys: Iterable[Key]) -> dict[Key, str]:
        """The stored body hash of each (company_id, event_id) already published."""
        pairs = list(keys)
        if not pairs:
            return {}
        companies, events = [c for c, _ in pairs], [e for _, e in pairs]
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                "SELECT s.company_id, s.event_id, s.body_sha256 FROM ingest_seen_events s "
                "JOIN unnest(%s::text[], %s::text[]) AS k(company_id, event_id) "
                "USING (company_id, event_id)",
                (companies, events),
            )
            return {(row[0], row[1]): row[2] for row in await cur.fetchall()}

    async def already_published(self, event_ids: Iterable[str]) -> set[str]:
        """Event ids published for any company (the readiness probe's query)."""
        ids = list(event_ids)
        if not ids:
            return set()
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                "SELECT event_id FROM ingest_seen_events WHERE event_id = ANY(%s)", (ids,)
            )
            return {row[0] for row in await cur.fetchall()}

    async def mark_published(self, rows: Iterable[tuple[str, str, str]]) -> None:
        """Remembers (company_id, event_id, body_sha256) rows; the first body stays."""
        values = list(rows)
        if not values:
            return
        # Two deliveries racing past `hashes` are both published (at least once, as before);
        # the first row stays, so a later delivery is compared with the first body. One
        # statement for the whole request (arrays unnested), so one round trip.
        companies, events, digests = (list(column) for column in zip(*values, strict=True))
        async with self._pool.connection() as conn:
            await conn.execute(
                "INSERT INTO ingest_seen_events (company_id, event_id, body_sha256) "
                "SELECT * FROM unnest(%s::text[], %s::text[], %s::text[]) "
                "ON CONFLICT (company_id, event_id) DO NOTHING",
                (companies, events, digests),
            )


def sort_out(
    events: list[RogerEvent], stored: dict[Key, str]
) -> tuple[list[tuple[RogerEvent, str]], int]:
    """Splits ``events`` into the new ones (each once, with its body hash) and a duplicate count.

    ``stored`` maps (company_id, event_id) to the hash published before (:meth:`SeenEvents.hashes`).
    Raises :class:`EventConflict` when any event, against ``stored`` or against another event
    of the same list, has the same key and another body.
    """
    fresh: dict[Key, tuple[RogerEvent, str]] = {}
    conflicts: list[Conflict] = []
    for event in events:
        key = (event.company_id, event.id)
        digest = content_hash(event)
        earlier = stored.get(key) or (fresh[key][1] if key in fresh else None)
        if earlier is not None and earlier != digest:
            conflicts.append(Conflict(event.company_id, event.id, earlier, digest))
        elif earlier is None:
            fresh[key] = (event, digest)
    if conflicts:
        raise EventConflict(conflicts)
    return list(fresh.values()), len(events) - len(fresh)
