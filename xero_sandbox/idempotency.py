"""The Idempotency-Key store: per app, 6 minutes from the first call.

The same key with the same request replays the first response without running it again
(a concurrent duplicate waits for the first); the same key with another request is a 400.
Errors are remembered too, as Xero does.
"""

from __future__ import annotations

import asyncio
import hashlib
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
    def __init__(self) -> None:
        self._entries: dict[tuple[str, str], Entry] = {}

    def clear(self) -> None:
        self._entries.clear()

    def lookup(self, client_id: str, key: str, now: datetime) -> Entry | None:
        self._expire(now)
        return self._entries.get((client_id, key))

    def begin(self, client_id: str, key: str, fp: str, now: datetime, ttl: int) -> Entry:
        entry = Entry(fingerprint=fp, expires_at=now + timedelta(seconds=ttl))
        self._entries[(client_id, key)] = entry
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
        for key, entry in list(self._entries.items()):
            if entry.expires_at <= now and entry.response is not None:
                del self._entries[key]


def mismatch_message(key: str) -> str:
    return f"Idempotency Key: {key} is used with a different request."


def too_long_message(key: str) -> str:
    return (
        f"Idempotency Key: {key} exceeds the maximum length of {MAX_KEY_LENGTH} characters "
        f"(length {len(key)})."
    )
