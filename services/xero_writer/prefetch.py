"""Attachment files downloaded ahead of their upload, outside every lane (issue 10, bulkheads).

A file can take up to its deadline (30 s) to arrive or fail; a company's lane must not
wait for it, or every other command of the company (and, under a shared limit, of other
companies) would. So each ``UploadAttachment`` is held back from its lane while its file
downloads in a task of its own; once the file is in hand (or refused), the command joins
its lane and the upload is one ordinary Xero call under the organisation's limiter.

Bulkheads: each company has ``per_company`` slots; a slot is held from the start of a
download until its upload is answered (or the download fails), so a company's slow or
large files queue behind each other and never take another company's slot, and the
writer holds at most ``per_company`` files (10 MB each at most) per company in memory.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from services.xero_writer.attachment_ops import Downloads
from services.xero_writer.fetch import UNREACHABLE, FileRefused
from shared.contracts.commands import UploadAttachment
from shared.logging import get_logger

log = get_logger("xero_writer")

PER_COMPANY = 3


@dataclass
class _Held:
    outcome: bytes | FileRefused
    slot: asyncio.Semaphore | None  # released when the upload is answered


@dataclass
class Prefetcher:
    """Downloads files in tasks of their own; an ``attachment_ops.FileSource`` for the lanes.

    ``start(cmd, ready)`` begins the download and calls ``ready()`` when the outcome is in
    hand; ``get(cmd)`` gives it (downloading now if it was never started: a command
    queued again); ``done(command_id)`` frees its slot and memory once it is answered.
    A command answered before is not downloaded at all.
    """

    downloads: Downloads
    # Whether the command has a final answer on record: its file is not needed (the policy
    # answers it from the record), so it is not downloaded again.
    answered: Callable[[str], Awaitable[bool]] | None = None
    per_company: int = PER_COMPANY
    _slots: dict[str, asyncio.Semaphore] = field(default_factory=dict)
    _held: dict[str, _Held] = field(default_factory=dict)
    _tasks: dict[str, asyncio.Task[None]] = field(default_factory=dict)

    def start(self, cmd: UploadAttachment, ready: Callable[[], None]) -> None:
        if cmd.command_id in self._tasks or cmd.command_id in self._held:
            return
        self._tasks[cmd.command_id] = asyncio.create_task(
            self._download(cmd, ready), name=f"file-{cmd.command_id}"
        )

    def busy(self, command_id: str) -> bool:
        """Whether the command's file is still downloading."""
        return command_id in self._tasks

    async def _download(self, cmd: UploadAttachment, ready: Callable[[], None]) -> None:
        try:
            if self.answered is not None and await self.answered(cmd.command_id):
                self._held[cmd.command_id] = _Held(FileRefused(UNREACHABLE, "answered"), None)
                self._tasks.pop(cmd.command_id, None)
                ready()
                return
        except Exception as exc:  # noqa: BLE001 - our database: the download decides
            log.warning("answer_lookup_failed", command_id=cmd.command_id, error=repr(exc))
        slot = self._slots.setdefault(cmd.company_id, asyncio.Semaphore(self.per_company))
        await slot.acquire()
        outcome: bytes | FileRefused
        try:
            outcome = await self.downloads.get(cmd)
        except FileRefused as exc:
            outcome = exc
        except asyncio.CancelledError:
            slot.release()
            self._tasks.pop(cmd.command_id, None)
            raise
        except Exception as exc:  # noqa: BLE001 - any fault of a file is the file's alone
            outcome = FileRefused(UNREACHABLE, repr(exc))
        if isinstance(outcome, FileRefused):
            log.warning(
                "attachment_not_fetched",
                company_id=cmd.company_id,
                command_id=cmd.command_id,
                reason=outcome.message,
                detail=outcome.detail,
            )
            slot.release()  # nothing held in memory
            self._held[cmd.command_id] = _Held(outcome, None)
        else:
            self._held[cmd.command_id] = _Held(outcome, slot)
        self._tasks.pop(cmd.command_id, None)
        ready()

    async def get(self, cmd: UploadAttachment) -> bytes:
        held = self._held.get(cmd.command_id)
        if held is None:
            return await self.downloads.get(cmd)
        if isinstance(held.outcome, FileRefused):
            raise held.outcome
        return held.outcome

    def done(self, command_id: str) -> None:
        held = self._held.pop(command_id, None)
        if held is not None and held.slot is not None:
            held.slot.release()

    async def stop(self) -> None:
        """Cancels the downloads in progress (their commands are read again after a restart)."""
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
