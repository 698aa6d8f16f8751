"""Attachment downloads open no door (issue 13, SSRF): only https to public addresses,
every hop checked, redirects re-checked, a deadline and a size cap, plain-word refusals."""

from __future__ import annotations

import re

import pytest

from services.xero_writer import fetch as f
from services.xero_writer.fetch import FetchRules, FileRefused, fetch
from tests.support.fake_files import FakeDns, FakeNetwork, ok, redirect, sha256, status

PDF = b"%PDF-1.7 a bill"
PUBLIC = "93.184.216.34"
RULES = FetchRules()
DNS = FakeDns(
    {
        "files.example.com": [PUBLIC],
        "localhost": ["127.0.0.1"],
        "internal.example.com": ["10.1.2.3"],
        "mixed.example.com": [PUBLIC, "192.168.1.10"],
        "127.0.0.1": ["127.0.0.1"],
        "169.254.169.254": ["169.254.169.254"],
        "10.0.0.7": ["10.0.0.7"],
        "172.16.5.5": ["172.16.5.5"],
        "192.168.0.1": ["192.168.0.1"],
        "100.64.0.1": ["100.64.0.1"],
        "224.0.0.1": ["224.0.0.1"],
        "0.0.0.0": ["0.0.0.0"],
        "240.0.0.1": ["240.0.0.1"],
        "::1": ["::1"],
        "fd00:ec2::254": ["fd00:ec2::254"],
        "fe80::1": ["fe80::1"],
        "::ffff:127.0.0.1": ["::ffff:127.0.0.1"],
        "2002:7f00:1::": ["2002:7f00:1::"],
        PUBLIC: [PUBLIC],
    }
)


def _internal_detail_absent(message: str) -> None:
    """No address, port, status code or exception in what the company reads."""
    assert not re.search(r"\d+\.\d+\.|::|(?<!-)\b[1-5]\d\d\b|Error|HTTP|connect", message), message


async def _refused(url: str, net: FakeNetwork, rules: FetchRules = RULES) -> str:
    with pytest.raises(FileRefused) as caught:
        await fetch(url, sha256(PDF), rules, backend=net, resolver=DNS)
    _internal_detail_absent(caught.value.message)
    return caught.value.message


async def test_a_public_https_file_is_fetched_and_checked() -> None:
    net = FakeNetwork({PUBLIC: ok(PDF)})

    body = await fetch(
        "https://files.example.com/f.pdf?sig=1", sha256(PDF), RULES, backend=net, resolver=DNS
    )

    assert body == PDF
    assert net.connected == [(PUBLIC, 443)]


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/secret",
        "https://localhost:8443/secret",
        "https://169.254.169.254/latest/meta-data/",
        "https://10.0.0.7/",
        "https://172.16.5.5/",
        "https://192.168.0.1/",
        "https://100.64.0.1/",
        "https://224.0.0.1/",
        "https://0.0.0.0/",
        "https://240.0.0.1/",
        "https://[::1]/",
        "https://[fd00:ec2::254]/latest/meta-data/",
        "https://[fe80::1]/",
        "https://[::ffff:127.0.0.1]/",
        "https://[2002:7f00:1::]/",
        "https://internal.example.com/report.pdf",
        "https://mixed.example.com/report.pdf",
    ],
)
async def test_an_address_that_is_not_public_is_refused_and_nothing_is_fetched(url: str) -> None:
    net = FakeNetwork({})

    message = await _refused(url, net)

    assert message == f.NOT_ALLOWED
    assert net.connected == []


@pytest.mark.parametrize(
    "url", ["http://files.example.com/f.pdf", "ftp://files.example.com/f.pdf", "file:///etc/passwd"]
)
async def test_only_https_without_the_allow_list(url: str) -> None:
    net = FakeNetwork({PUBLIC: ok(PDF)})

    assert await _refused(url, net) == f.NOT_ALLOWED
    assert net.connected == []


async def test_credentials_in_the_link_are_refused() -> None:
    net = FakeNetwork({PUBLIC: ok(PDF)})

    assert await _refused("https://user:pw@files.example.com/f.pdf", net) == f.NOT_ALLOWED
    assert net.connected == []


async def test_a_redirect_to_a_private_address_is_refused_before_it_is_followed() -> None:
    net = FakeNetwork(
        {PUBLIC: redirect("https://internal.example.com/admin"), "10.1.2.3": ok(b"secret")}
    )

    message = await _refused("https://files.example.com/f.pdf", net)

    assert message == f.NOT_ALLOWED
    assert net.connected == [(PUBLIC, 443)]  # the internal host was never called


async def test_a_redirect_to_plain_http_is_refused() -> None:
    net = FakeNetwork({PUBLIC: redirect("http://files.example.com/f.pdf")})

    assert await _refused("https://files.example.com/f.pdf", net) == f.NOT_ALLOWED
    assert net.connected == [(PUBLIC, 443)]


async def test_a_public_redirect_is_followed_three_times_at_most() -> None:
    follows = FakeNetwork({PUBLIC: redirect("/next")})

    assert await _refused("https://files.example.com/f.pdf", follows) == f.TOO_MANY_REDIRECTS
    assert len(follows.connected) == 4  # the link and three redirects


async def test_a_relative_redirect_to_the_file_is_followed() -> None:
    class Then(FakeNetwork):
        async def connect_tcp(self, host: str, port: int, *a: object, **kw: object) -> object:  # type: ignore[override]
            self.answers[host] = ok(PDF) if self.connected else redirect("/real.pdf")
            return await super().connect_tcp(host, port)

    net = Then({})

    body = await fetch(
        "https://files.example.com/f.pdf", sha256(PDF), RULES, backend=net, resolver=DNS
    )

    assert body == PDF
    assert len(net.connected) == 2


async def test_the_allow_list_lets_its_own_host_use_http_and_loopback() -> None:
    net = FakeNetwork({"127.0.0.1": ok(PDF)})
    rules = FetchRules.of(["127.0.0.1"])

    body = await fetch("http://127.0.0.1:8765/f.pdf", sha256(PDF), rules, backend=net)

    assert body == PDF
    assert net.connected == [("127.0.0.1", 8765)]


async def test_the_allow_list_names_hosts_not_addresses_behind_other_names() -> None:
    net = FakeNetwork({"127.0.0.1": ok(PDF)})
    rules = FetchRules.of(["127.0.0.1"])

    assert await _refused("http://localhost:8765/f.pdf", net, rules) == f.NOT_ALLOWED
    assert await _refused("https://localhost:8765/f.pdf", net, rules) == f.NOT_ALLOWED
    assert net.connected == []


async def test_a_file_over_the_cap_is_refused_from_its_declared_length() -> None:
    rules = FetchRules(max_bytes=10)
    net = FakeNetwork({PUBLIC: ok(PDF)})

    message = await _refused("https://files.example.com/f.pdf", net, rules)

    assert message == f.too_large(10)


async def test_a_file_over_the_cap_is_refused_while_it_is_read() -> None:
    rules = FetchRules(max_bytes=10)
    chunked = [
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
        b"8\r\n12345678\r\n",
        b"8\r\n12345678\r\n",
        b"0\r\n\r\n",
    ]
    net = FakeNetwork({PUBLIC: chunked})

    assert await _refused("https://files.example.com/f.pdf", net, rules) == f.too_large(10)


async def test_a_slow_link_is_cut_at_the_deadline() -> None:
    rules = FetchRules(deadline_s=0.2)
    net = FakeNetwork({}, hang=[PUBLIC])

    message = await _refused("https://files.example.com/f.pdf", net, rules)

    assert message == "the file took longer than 0.2 seconds to download"


@pytest.mark.parametrize(
    ("code", "message"),
    [(404, f.NOT_FOUND), (410, f.NOT_FOUND), (403, f.DENIED), (500, f.UNREACHABLE)],
)
async def test_an_error_answer_is_told_in_plain_words(code: int, message: str) -> None:
    net = FakeNetwork({PUBLIC: status(code)})

    assert await _refused("https://files.example.com/f.pdf", net) == message


async def test_an_unreachable_or_unknown_host_is_told_in_plain_words() -> None:
    assert await _refused("https://files.example.com/f.pdf", FakeNetwork({})) == f.UNREACHABLE
    assert await _refused("https://nowhere.example.com/f.pdf", FakeNetwork({})) == f.UNREACHABLE


async def test_a_file_that_is_not_the_one_roger_hashed_is_refused() -> None:
    net = FakeNetwork({PUBLIC: ok(b"%PDF-1.7 another bill")})

    assert await _refused("https://files.example.com/f.pdf", net) == f.CHECKSUM
