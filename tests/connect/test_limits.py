"""Issue 13: the setup page checks the session before reading a byte of a form and caps the
body; setup links live at most 30 minutes and die at the next connect or disconnect; every
page has a strict content security policy; odd input is a 4xx, never a 500."""

from __future__ import annotations

import base64
import hashlib
import re
import socket
import time
from urllib.parse import urlsplit

import httpx

from services.connections import session
from tests.fixtures.connect import TOKEN_KEY, ConnectPipeline
from tests.fixtures.pipeline import SERVICE_TOKEN

FOUR_HUNDRED_MB = 400 * 1024 * 1024


def _raw_post(
    p: ConnectPipeline, path: str, head: dict[str, str], body: bytes = b""
) -> tuple[int, bytes]:
    """Sends the headers (and ``body``, not necessarily all that Content-Length announces)
    and reads the status line: an answer that needs the rest of the body never comes."""
    url = urlsplit(p.ingest_url)
    assert url.hostname and url.port
    lines = [f"POST {path} HTTP/1.1", f"Host: {url.netloc}", "Connection: close"]
    lines += [f"{k}: {v}" for k, v in head.items()]
    with socket.create_connection((url.hostname, url.port), timeout=15) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        answer = b""
        while b"\r\n\r\n" not in answer:
            chunk = sock.recv(65536)
            if not chunk:
                break
            answer += chunk
    status = int(answer.split(b" ", 2)[1])
    return status, answer


def _session_of(link: str) -> str:
    return link.split("session=")[1]


def _csrf(p: ConnectPipeline, company: str, sess: str) -> str:
    page = httpx.get(f"{p.ingest_url}/setup/{company}", cookies={"rx_setup": sess}, timeout=10)
    assert page.status_code == 200, page.text
    return page.text.split('name="csrf" value="')[1].split('"')[0]


def _the_session_is_checked_before_the_body_is_read(connect_pipeline: ConnectPipeline) -> None:
    p = connect_pipeline
    company = "limits-co"
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    # 400 MB announced, not one byte sent: without a session the answer comes at once.
    started = time.monotonic()
    status, _ = _raw_post(
        p, f"/setup/{company}/connect", {**form, "Content-Length": str(FOUR_HUNDRED_MB)}
    )
    assert status == 401 and time.monotonic() - started < 10
    # With a valid session: too large, also before the body.
    sess = _session_of(p.setup_link(company))
    cookie = {"Cookie": f"rx_setup={sess}"}
    status, _ = _raw_post(
        p,
        f"/setup/{company}/connect",
        {**form, **cookie, "Content-Length": str(FOUR_HUNDRED_MB)},
    )
    assert status == 413
    status, _ = _raw_post(
        p, f"/setup/{company}/connect", {**form, **cookie, "Content-Length": "9" * 5000}
    )
    assert status in (400, 413)  # the HTTP server itself may refuse such a header first
    # Chunked, no length announced: cut off after 64 KiB.
    chunk = b"a" * 40_000
    wire = b"".join(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n" for _ in range(3))
    status, _ = _raw_post(
        p,
        f"/setup/{company}/connect",
        {**form, **cookie, "Transfer-Encoding": "chunked"},
        wire + b"0\r\n\r\n",
    )
    assert status == 413
    # Odd forms from a valid session: refused, never a 500.
    csrf = _csrf(p, company, sess)
    for body in (
        b"csrf=" + csrf.encode() + b"&tenant_id=%00",
        b"csrf=" + csrf.encode() + b"&tenant_id=a%0A",
        b"csrf=%FF%FE&tenant_id=x",
        b"\xff\xfe\x00",
        b"&".join(b"f%d=1" % i for i in range(1000)),
    ):
        r = httpx.post(
            f"{p.ingest_url}/setup/{company}/organisation",
            content=body,
            headers=form,
            cookies={"rx_setup": sess},
            timeout=10,
        )
        assert 400 <= r.status_code < 500, (body[:40], r.status_code)
    # A form from another origin, or with a wrong CSRF field: 403 saying so (not "expired").
    for origin, field in (("https://evil.example", csrf), ("null", csrf), (None, "wrong")):
        r = httpx.post(
            f"{p.ingest_url}/setup/{company}/connect",
            data={"csrf": field},
            cookies={"rx_setup": sess},
            headers={"Origin": origin} if origin else {},
            timeout=10,
        )
        assert r.status_code == 403 and "Form not accepted" in r.text, (origin, r.status_code)
    # A small, valid form still works, with its own origin or none.
    r = httpx.post(
        f"{p.ingest_url}/setup/{company}/connect",
        data={"csrf": csrf},
        cookies={"rx_setup": sess},
        headers={"Origin": p.ingest_url},
        timeout=10,
    )
    assert r.status_code == 303, r.status_code
    r = httpx.post(
        f"{p.ingest_url}/setup/{company}/connect",
        data={"csrf": csrf},
        cookies={"rx_setup": sess},
        timeout=10,
    )
    assert r.status_code == 303 and r.headers["location"].startswith(p.authorize_url)


def _setup_links_are_short_and_die_at_reconnect_and_disconnect(
    connect_pipeline: ConnectPipeline,
) -> None:
    p = connect_pipeline
    company = "links-co"
    tenant = p.new_organisation("Links ApS")

    def opens(link: str) -> bool:
        r = httpx.get(link, timeout=10)
        return r.status_code == 303

    def page_opens(sess: str) -> bool:
        r = httpx.get(f"{p.ingest_url}/setup/{company}", cookies={"rx_setup": sess}, timeout=10)
        return r.status_code == 200

    r = p.api("POST", f"/v1/companies/{company}/xero/setup-session")
    now = time.time()
    assert r.status_code == 200 and now < r.json()["expires_at"] <= now + 1800 + 5
    before = r.json()["url"]
    assert opens(before)

    # A link signed with the real key but living 10 years (or 31 minutes): refused.
    (version,) = p.sql(
        "SELECT coalesce(max(version), 0) FROM xero_connection_profiles WHERE company_id = %s",
        (company,),
    )[0]
    for ttl in (10 * 365 * 86_400, 31 * 60):
        forged = session.issue(company, int(time.time()) + ttl, int(version), [TOKEN_KEY])
        assert not opens(f"{p.ingest_url}/setup/{company}?session={forged}")
        assert not page_opens(forged)

    p.connect_company(company, tenant)  # a connect: earlier links die
    assert not opens(before) and not page_opens(_session_of(before))
    connected = p.setup_link(company)
    assert opens(connected) and page_opens(_session_of(connected))

    p.callback(p.consent(p.start_connect(company), [tenant]))  # a reconnect: they die again
    assert p.connection(company)["status"] == "connected"
    assert not opens(connected) and not page_opens(_session_of(connected))
    reconnected = p.setup_link(company)
    assert opens(reconnected)

    r = p.api("DELETE", f"/v1/companies/{company}/xero/connection")  # and at disconnect
    assert r.status_code == 200
    assert not opens(reconnected) and not page_opens(_session_of(reconnected))
    assert opens(p.setup_link(company))


def _hash(text: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()


def _pages_send_a_strict_content_security_policy(connect_pipeline: ConnectPipeline) -> None:
    p = connect_pipeline
    company = "csp-co"
    link = p.setup_link(company)
    redirect = httpx.get(link, timeout=10)
    page = httpx.get(
        f"{p.ingest_url}/setup/{company}", cookies={"rx_setup": _session_of(link)}, timeout=10
    )
    denied = httpx.get(f"{p.ingest_url}/setup/{company}", timeout=10)
    assert (redirect.status_code, page.status_code, denied.status_code) == (303, 200, 401)
    for r in (redirect, page, denied):
        csp = r.headers["content-security-policy"]
        directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
        assert directives["default-src"] == "'none'"
        assert directives["frame-ancestors"] == "'none'"
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
        assert r.headers["x-frame-options"] == "DENY"
        # Our own forms need their Origin (no-referrer sends "null"); nothing leaves the site.
        expected = "no-referrer" if r is redirect else "same-origin"
        assert r.headers["referrer-policy"] == expected
    # The one inline style and script are exactly the ones the policy's hashes allow.
    csp = page.headers["content-security-policy"]
    scripts = re.findall(r"<script>(.*?)</script>", page.text, re.S)
    styles = re.findall(r"<style>(.*?)</style>", page.text, re.S)
    assert scripts and styles
    assert all(f"'{_hash(s)}'" in csp for s in scripts + styles)
    assert not re.search(r"\son[a-z]+=", page.text)  # no inline event handlers


def _odd_input_is_a_4xx_never_a_500(connect_pipeline: ConnectPipeline) -> None:
    p = connect_pipeline
    auth = {"Authorization": f"Bearer {SERVICE_TOKEN}"}
    base = p.ingest_url

    def status(method: str, path: str, **kw: object) -> int:
        return httpx.request(method, base + path, timeout=10, **kw).status_code  # type: ignore[arg-type]

    for company in ("acme%0A", "acme%0D%0A", "a%00b", "%00", "a" * 65, "%C2%B2", "a.b"):
        assert status("GET", f"/v1/companies/{company}/xero/connection", headers=auth) == 422
        r = httpx.post(
            f"{base}/v1/companies/{company}/xero/connect",
            json={"redirect_after": "/x"},
            headers=auth,
            timeout=10,
        )
        assert r.status_code == 422, company
        assert r.json()["error"]["code"] in ("invalid_company_id", "invalid_path")
        # Refused: 401 (no session for it), or 422 when the path holds a control character.
        refused = (401, 422)
        assert status("GET", f"/setup/{company}") in refused
        assert status("POST", f"/setup/{company}/connect", data={"csrf": "x"}) in refused
        assert status("GET", f"/setup/{company}?session={company}") in refused
    # The look-alike with a trailing newline is not the company.
    assert p.sql("SELECT count(*) FROM xero_oauth_states")[0][0] == 0
    for query in (
        "state=%00&code=%00",
        "state=a%0A",
        "state=" + "x" * 5000,
        "error=%00&state=%C2%B2",
    ):
        code = status("GET", f"/v1/xero/callback?{query}")
        assert 400 <= code < 500, query
        assert 400 <= status("GET", f"/v1/xero/authorize?{query}") < 500, query
    assert status("GET", "/v1/companies/acme/xero/accounts?tenant_id=%00", headers=auth) == 422
    for tenant in ("a\n", "\x00", "x" * 65, ""):
        r = httpx.put(
            f"{base}/v1/companies/acme/xero/organisation",
            json={"tenant_id": tenant},
            headers=auth,
            timeout=10,
        )
        assert r.status_code == 422, repr(tenant)
    for cookie in ("²", "a.b.c.d.e", "x" * 4000):
        raw = {b"Cookie": f"rx_setup={cookie}".encode()}  # UTF-8 bytes, as a client may send
        r = httpx.get(f"{base}/setup/acme", headers=raw, timeout=10)
        assert r.status_code == 401
    # Roger-Signature (ingest's webhook): odd values are refused, not a crash.
    for signature in ("t=²", "t=٣,v1=aa", "t=" + "9" * 5000 + ",v1=aa", "v1=", ",,,", "t=1,v1=ü"):
        r = httpx.post(
            f"{base}/v1/events",
            content=b"{}",
            headers={b"Roger-Signature": signature.encode(), b"Content-Type": b"application/json"},
            timeout=10,
        )
        assert 400 <= r.status_code < 500, signature


def test_odd_input_and_the_content_security_policy(connect_pipeline: ConnectPipeline) -> None:
    """One stack for both: odd input first, it counts states."""
    _odd_input_is_a_4xx_never_a_500(connect_pipeline)
    _pages_send_a_strict_content_security_policy(connect_pipeline)


def test_bodies_and_setup_links(connect_pipeline: ConnectPipeline) -> None:
    """One stack for both (each stack costs half a minute)."""
    _the_session_is_checked_before_the_body_is_read(connect_pipeline)
    _setup_links_are_short_and_die_at_reconnect_and_disconnect(connect_pipeline)
