"""Files download in tasks of their own, with per-company slots: one company's slow files
never take another company's turn (issue 10, bulkheads)."""

from __future__ import annotations

import asyncio

from services.xero_writer import fetch
from services.xero_writer.attachment_ops import Downloads
from services.xero_writer.fetch import FetchRules
from services.xero_writer.prefetch import Prefetcher
from shared.contracts.commands import UploadAttachment
from tests.support.fake_files import FakeDns, FakeNetwork, ok, upload_attachment

SLOW, FAST = "151.101.1.69", "93.184.216.34"
PDF = b"%PDF quick"


def _prefetcher(deadline_s: float = 5) -> tuple[Prefetcher, FakeNetwork]:
    net = FakeNetwork({FAST: ok(PDF)}, hang=[SLOW])
    dns = FakeDns({"slow.example.com": [SLOW], "fast.example.com": [FAST]})
    return Prefetcher(Downloads(FetchRules(deadline_s=deadline_s), net, dns), per_company=2), net


def _upload(company: str, n: int, host: str) -> UploadAttachment:
    cmd = upload_attachment(f"f{n}.pdf", PDF, url=f"https://{host}/f{n}.pdf", key=f"{company}{n}")
    return cmd.model_copy(update={"company_id": company})


async def test_a_companys_hanging_files_leave_another_companys_file_alone() -> None:
    prefetcher, _ = _prefetcher()
    ready: list[str] = []
    for n in range(4):  # more hanging files than company a has slots
        cmd = _upload("a", n, "slow.example.com")
        prefetcher.start(cmd, lambda c=cmd: ready.append(c.command_id))  # type: ignore[misc]
    other = _upload("b", 9, "fast.example.com")
    arrived = asyncio.Event()
    prefetcher.start(other, arrived.set)

    await asyncio.wait_for(arrived.wait(), 1)

    assert await prefetcher.get(other) == PDF
    assert ready == []  # a's files still hang, in their own tasks
    await prefetcher.stop()


async def test_a_file_past_its_deadline_is_answered_and_frees_its_slot() -> None:
    prefetcher, _ = _prefetcher(deadline_s=0.2)
    done = asyncio.Event()
    slow = _upload("a", 1, "slow.example.com")

    prefetcher.start(slow, done.set)
    await asyncio.wait_for(done.wait(), 2)

    try:
        await prefetcher.get(slow)
    except fetch.FileRefused as exc:
        assert exc.message == fetch.too_slow(0.2)
    else:
        raise AssertionError("a hanging file was answered")
    assert not prefetcher._slots["a"].locked()  # both slots free again
    prefetcher.done(slow.command_id)
