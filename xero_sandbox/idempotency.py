"""The Idempotency-Key store: per app, 6 minutes from the first call.

The same key with the same request replays the first response without running it again
(a concurrent duplicate waits for the first); the same key with another request is a 400.
Errors are remembered too, as Xero does.
"""

from __future__ import annotations

import asyncio
import hashlib
import heapq
import itertools
from dataclasses import dataclass, field
from datetime import datetime, timedelta

MAX_KEY_LENGTH = 128


@dataclass
class StoredResponse:
    status: int
    body: bytes
    media_type: str
    headers: dict[str, str]


@dataclass
class Entry:
    fingerprint: str
    expires_at: datetime
    response: StoredResponse | None = None
    done: asyncio.Event = field(default_factory=asyncio.Event)


def fingerprint(method: str, path: str, query: str, tenant_id: str, body: bytes) -> str:
    digest = hashlib.sha256()
    for part in (method.upper(), path, query, tenant_id.lower()):
        digest.update(part.encode())
        digest.update(b"\0")
    digest.update(body)
    return digest.hexdigest()


class IdempotencyStore:
    """Entries by (app, key), and a heap of their expiries, so that forgetting the expired
    ones costs what expired, not a scan of every live key on each request (it was two
    thirds of the sandbox's time at 100 events/s: issue 14)."""

    def __init__(self) -> None:
        self._entries: dict[tuple[str, str], Entry] = {}
        self._expiries: list[tuple[datetime, int, tuple[str, str], Entry]] = []
        self._order = itertools.count()

    def clear(self) -> None:
        self._entries.clear()
        self._expiries.clear()

    def lookup(self, client_id: str, key: str, now: datetime) -> Entry | None:
        self._expire(now)
        return self._entries.get((client_id, key))

    def begin(self, client_id: str, key: str, fp: str, now: datetime, ttl: int) -> Entry:
        entry = Entry(fingerprint=fp, expires_at=now + timedelta(seconds=ttl))
        self._entries[(client_id, key)] = entry
        heapq.heappush(
            self._expiries, (entry.expires_at, next(self._order), (client_id, key), entry)
        )
        return entry

    def finish(self, entry: Entry, response: StoredResponse) -> None:
        entry.response = response
        entry.done.set()

    def abandon(self, client_id: str, key: str, entry: Entry) -> None:
        # The request never produced a response (client vanished mid-flight): forget it so
        # a retry runs again instead of waiting forever.
        if self._entries.get((client_id, key)) is entry:
            del self._entries[(client_id, key)]
        entry.done.set()

    def _expire(self, now: datetime) -> None:
        in_flight = []
        while self._expiries and self._expiries[0][0] <= now:
            item = heapq.heappop(self._expiries)
            _, _, key, entry = item
            if self._entries.get(key) is not entry:
                continue  # replaced or abandoned since
            if entry.response is None:
                in_flight.append(item)  # still running: forgotten once it has answered
            else:
                del self._entries[key]
        for item in in_flight:
            heapq.heappush(self._expiries, item)


def mismatch_message(key: str) -> str:
    return f"Idempotency Key: {key} is used with a different request."


def too_long_message(key: str) -> str:
    return (
        f"Idempotency Key: {key} exceeds the maximum length of {MAX_KEY_LENGTH} characters "
        f"(length {len(key)})."
    )
