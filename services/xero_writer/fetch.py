"""Roger's files, downloaded from their pre-signed links without opening a door (issue 13).

An attachment's URL comes from an event, so it is somebody else's input: the writer
must never be the tool that reads an internal endpoint (SSRF). The rules:

- only ``https``; ``http`` only for a host on ``WriterSettings.attachment_allowed_hosts``
  (the demo's and the tests' own file servers);
- every TCP connection (the first hop and every redirect) is made by ``GuardedBackend``,
  which resolves the host itself, refuses it if *any* of its addresses is loopback,
  private, link-local (cloud metadata: 169.254.169.254, fd00:ec2::254), multicast,
  reserved, unspecified or otherwise not global, and connects to the very address it
  checked (no second resolution a rebinding DNS could answer differently). A host on the
  allow-list skips the address check;
- redirects are followed by hand, at most ``max_redirects``, each checked as above;
- one overall deadline (``deadline_s``) over every hop, and the size cap (the contract's
  10 MB) before and while reading; the SHA-256 Roger sent must match;
- no proxy from the environment (httpcore reads none), no cookies, no credentials.

A refusal raises ``FileRefused`` with words a company can read (``message``) and the
internal detail for our logs only (``detail``): never an internal address, port or status.
"""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import httpcore
import httpx

MAX_BYTES = 10 * 1024 * 1024  # the contract's attachment limit (roger-events.md), and Xero's
DEADLINE_S = 30.0
MAX_REDIRECTS = 3
REDIRECTS = {301, 302, 303, 307, 308}

# Cloud metadata endpoints, named for the reader: all are already outside the global
# address space, so the general rule refuses them too.
METADATA = {
    ipaddress.ip_address("169.254.169.254"),  # AWS, GCP, Azure, OpenStack
    ipaddress.ip_address("fd00:ec2::254"),  # AWS over IPv6
    ipaddress.ip_address("100.100.100.200"),  # Alibaba Cloud
}

NOT_ALLOWED = (
    "the file's link is not allowed: Roger's files are downloaded only over https "
    "from addresses on the public internet"
)
UNREACHABLE = "the file could not be downloaded from its link"
NOT_FOUND = "the file was not found at its link (the link may have expired)"
DENIED = "the file's link refused to give the file (the link may have expired)"
TOO_MANY_REDIRECTS = "the file's link sent us on too many redirects"
CHECKSUM = "the downloaded file does not match the SHA-256 checksum Roger sent"


def too_slow(deadline_s: float) -> str:
    return f"the file took longer than {deadline_s:g} seconds to download"


def too_large(max_bytes: int) -> str:
    return f"the file is larger than {max_bytes // (1024 * 1024)} MB, the most Xero takes"


class FileRefused(Exception):
    """A file not fetched: ``message`` for the company (plain words, nothing internal),
    ``detail`` for our logs."""

    def __init__(self, message: str, detail: str = "") -> None:
        super().__init__(message)
        self.message, self.detail = message, detail or message


class AddressRefused(Exception):
    """Raised inside a connection attempt: the host resolves to an address we never call."""


Address = ipaddress.IPv4Address | ipaddress.IPv6Address
# host, port -> the addresses it resolves to (textual IPs)
Resolve = Callable[[str, int], Awaitable[list[str]]]


async def resolve(host: str, port: int) -> list[str]:
    """The system resolver, off the event loop (``loop.getaddrinfo``)."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]).split("%", 1)[0] for info in infos]


def forbidden(ip: Address) -> bool:
    """Whether the writer must never connect to ``ip``: anything but a global unicast
    address (an IPv4 address inside IPv6, mapped or 6to4, is judged as itself)."""
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour
        if embedded is not None:
            return forbidden(embedded)
        if ip.teredo is not None:
            return True
    return (
        ip in METADATA
        or ip.is_loopback
        or ip.is_private
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
        or not ip.is_global
    )


def _ip_literal(host: str) -> str | None:
    """``host`` when it is an IP address (no DNS then), else None."""
    try:
        return str(ipaddress.ip_address(host.strip("[]").split("%", 1)[0]))
    except ValueError:
        return None


def _host_key(host: str) -> str:
    return host.strip().strip("[]").lower().rstrip(".")


@dataclass(frozen=True)
class FetchRules:
    """``allowed_hosts``: hosts that may use http and any address (exact names, any case)."""

    allowed_hosts: frozenset[str] = frozenset()
    deadline_s: float = DEADLINE_S
    max_bytes: int = MAX_BYTES
    max_redirects: int = MAX_REDIRECTS

    @classmethod
    def of(cls, allowed_hosts: Iterable[str], **kw: Any) -> FetchRules:
        return cls(frozenset(_host_key(h) for h in allowed_hosts if h.strip()), **kw)

    def allows(self, host: str) -> bool:
        return _host_key(host) in self.allowed_hosts


@dataclass
class GuardedBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network backend with the address rule at every TCP connection."""

    rules: FetchRules
    resolver: Resolve = resolve
    inner: httpcore.AsyncNetworkBackend = field(default_factory=httpcore.AnyIOBackend)

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        if self.rules.allows(host):
            return await self.inner.connect_tcp(host, port, timeout, local_address, socket_options)
        try:
            literal = _ip_literal(host)
            found = [literal] if literal else await self.resolver(host, port)
            addresses = [ipaddress.ip_address(a) for a in found]
        except (OSError, ValueError) as exc:
            raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from exc
        refused = [a for a in addresses if forbidden(a)]
        if refused or not addresses:
            raise AddressRefused(f"{host} resolves to {', '.join(map(str, refused)) or 'nothing'}")
        last: Exception | None = None
        for address in addresses:
            try:
                return await self.inner.connect_tcp(
                    str(address), port, timeout, local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout, OSError) as exc:
                last = exc
        raise httpcore.ConnectError(f"cannot connect to {host}: {last!r}")

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise AddressRefused("unix sockets are never used for files")

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


def _checked_url(url: str, rules: FetchRules) -> httpx.URL:
    """``url`` parsed; raises ``FileRefused`` unless its scheme and host may be fetched."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, ValueError, TypeError) as exc:
        raise FileRefused(NOT_ALLOWED, f"unreadable URL: {exc}") from exc
    host = parsed.host
    if not host or parsed.userinfo:
        raise FileRefused(NOT_ALLOWED, "URL without a host, or with credentials")
    if parsed.scheme == "https" or (parsed.scheme == "http" and rules.allows(host)):
        return parsed
    raise FileRefused(NOT_ALLOWED, f"scheme {parsed.scheme!r} for host {host!r}")


async def fetch(
    url: str,
    expected_sha256: str,
    rules: FetchRules,
    *,
    backend: httpcore.AsyncNetworkBackend | None = None,
    resolver: Resolve = resolve,
) -> bytes:
    """The file at ``url`` (its body, at most ``rules.max_bytes``), checked against
    Roger's SHA-256, within ``rules.deadline_s`` in all. Raises ``FileRefused``.

    ``backend`` and ``resolver``: the network and DNS under the guard (tests script
    them); None and ``resolve`` are the real ones.
    """
    guarded = GuardedBackend(rules, resolver, backend or httpcore.AnyIOBackend())
    try:
        async with asyncio.timeout(rules.deadline_s):
            body = await _follow(url, rules, guarded)
    except TimeoutError as exc:
        raise FileRefused(too_slow(rules.deadline_s), "overall deadline") from exc
    if hashlib.sha256(body).hexdigest() != expected_sha256.strip().lower():
        raise FileRefused(CHECKSUM)
    return body


async def _follow(url: str, rules: FetchRules, backend: GuardedBackend) -> bytes:
    timeouts = {"connect": rules.deadline_s, "read": rules.deadline_s, "pool": rules.deadline_s}
    async with httpcore.AsyncConnectionPool(network_backend=backend, retries=0) as pool:
        current = _checked_url(url, rules)
        for hop in range(rules.max_redirects + 1):
            request = httpcore.Request(
                "GET",
                httpcore.URL(
                    scheme=current.raw_scheme,
                    host=current.raw_host,
                    port=current.port,
                    target=current.raw_path,
                ),
                headers=[(b"Host", current.netloc), (b"Accept", b"*/*")],
                extensions={"timeout": timeouts},
            )
            try:
                response = await pool.handle_async_request(request)
                try:
                    status = response.status
                    headers = {k.lower(): v for k, v in response.headers}
                    if status in REDIRECTS and b"location" in headers:
                        location = headers[b"location"].decode("latin-1")
                    else:
                        return await _read(status, headers, response, rules)
                finally:
                    await response.aclose()
            except AddressRefused as exc:
                raise FileRefused(NOT_ALLOWED, str(exc)) from exc
            except httpcore.TimeoutException as exc:
                raise FileRefused(too_slow(rules.deadline_s), repr(exc)) from exc
            except (httpcore.NetworkError, httpcore.ProtocolError, OSError) as exc:
                raise FileRefused(UNREACHABLE, repr(exc)) from exc
            if hop == rules.max_redirects:
                break
            try:
                current = _checked_url(str(current.join(location)), rules)
            except httpx.InvalidURL as exc:
                raise FileRefused(NOT_ALLOWED, f"unreadable redirect: {exc}") from exc
    raise FileRefused(TOO_MANY_REDIRECTS, f"more than {rules.max_redirects} redirects")


async def _read(
    status: int, headers: dict[bytes, bytes], response: httpcore.Response, rules: FetchRules
) -> bytes:
    if status in (404, 410):
        raise FileRefused(NOT_FOUND, f"answered {status}")
    if status in (401, 403):
        raise FileRefused(DENIED, f"answered {status}")
    if status != 200:
        raise FileRefused(UNREACHABLE, f"answered {status}")
    declared = headers.get(b"content-length", b"").strip()
    if declared.isdigit() and int(declared) > rules.max_bytes:
        raise FileRefused(too_large(rules.max_bytes), f"Content-Length {int(declared)}")
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_stream():
        size += len(chunk)
        if size > rules.max_bytes:
            raise FileRefused(too_large(rules.max_bytes), "body over the cap")
        chunks.append(chunk)
    return b"".join(chunks)
