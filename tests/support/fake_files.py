"""A scripted network and DNS for the writer's file downloads (services/xero_writer/fetch.py).

    net = FakeNetwork({"93.184.216.34": ok(b"%PDF-1.7 ...")})
    dns = FakeDns({"files.example.com": ["93.184.216.34"]})
    body = await fetch(url, sha, rules, backend=net, resolver=dns)
    assert net.connected == [("93.184.216.34", 443)]

Each connection to an address answers that address's scripted HTTP/1.1 response;
``FakeNetwork.connected`` lists every (address, port) a connection was opened to, so a test
can show that nothing was fetched.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import httpcore

from shared.contracts.commands import UploadAttachment, command_id
from tests.support.writer_commands import COMPANY, TENANT


def ok(body: bytes, content_type: str = "application/pdf") -> list[bytes]:
    return [
        b"HTTP/1.1 200 OK\r\n",
        f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n\r\n".encode(),
        body,
    ]


def redirect(location: str, status: int = 302) -> list[bytes]:
    head = f"HTTP/1.1 {status} Found\r\nLocation: {location}\r\nContent-Length: 0\r\n\r\n"
    return [head.encode()]


def status(code: int) -> list[bytes]:
    return [f"HTTP/1.1 {code} Whatever\r\nContent-Length: 0\r\n\r\n".encode()]


class FakeDns:
    """``fetch.Resolve`` from a table; an unknown host does not resolve (OSError)."""

    def __init__(self, table: dict[str, list[str]]) -> None:
        self.table, self.asked = table, list[str]()

    async def __call__(self, host: str, port: int) -> list[str]:
        self.asked.append(host)
        try:
            return list(self.table[host])
        except KeyError:
            raise OSError(f"no such host {host}") from None


class FakeNetwork(httpcore.AsyncNetworkBackend):
    """Answers by the address connected to; ``hang``: addresses that never answer."""

    def __init__(self, answers: dict[str, list[bytes]], hang: Iterable[str] = ()) -> None:
        self.answers, self.hang = answers, set(hang)
        self.connected: list[tuple[str, int]] = []

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        self.connected.append((host, port))
        if host in self.hang:
            await asyncio.Event().wait()
        if host not in self.answers:
            raise httpcore.ConnectError(f"connection refused to {host}:{port}")
        return httpcore.AsyncMockStream(list(self.answers[host]))

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("no unix sockets here")

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


def sha256(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def upload_attachment(
    filename: str,
    body: bytes,
    *,
    url: str | None = None,
    content_type: str = "application/pdf",
    invoice_id: str = "",
    key: str | None = None,
) -> UploadAttachment:
    """The projector's command to attach ``body`` as ``filename`` to bill ``invoice_id``."""
    return UploadAttachment(
        command_id=command_id(COMPANY, "attachment", key or filename, sha256(body)),
        company_id=COMPANY,
        tenant_id=TENANT,
        issued_at=datetime(2026, 3, 2, 9, 0, tzinfo=UTC),
        document_kind="bill",
        document_id="bill",
        target="Invoices",
        xero_document_id=invoice_id,
        filename=filename,
        content_type=content_type,
        size=len(body),
        sha256=sha256(body),
        url=url or f"https://files.example.com/{filename}",
    )
