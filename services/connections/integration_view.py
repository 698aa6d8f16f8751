"""The integration page's HTML and its two static scripts: pure functions, every value escaped.

The page (what the help article shows after "Finish"): the connection and its organisation,
documents by state, the failed ones with Xero's own reason and a Retry button, what waits and
why, the day's Xero budget as far as this process knows it, and a chart of documents synced
per hour over the last 7 days, drawn by Chart.js.

Chart.js is vendored (``static/chart-4.4.7.umd.js``, MIT, its licence beside it) and served
by us at ``/setup-assets/``: the page must not depend on a CDN at run time, and the page's
Content-Security-Policy allows exactly these two files by their SHA-384 (the script tags
carry the same hash as Subresource Integrity), so no other script can run.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from html import escape
from pathlib import Path
from typing import Any

from services.connections.sync_status import SyncStatus
from services.connections.templates import (
    BILL_STATUS_CHOICES,
    LOCK_DATE_CHOICES,
    _form,
    _page,
    message,
)

STATIC = Path(__file__).with_name("static")
ASSETS_PATH = "/setup-assets/"


@dataclass(frozen=True)
class Asset:
    name: str
    body: bytes
    sri: str  # "sha384-<base64>": the script tag's integrity and the CSP's hash source


def _asset(name: str) -> Asset:
    body = (STATIC / name).read_bytes()
    digest = base64.b64encode(hashlib.sha384(body).digest()).decode()
    return Asset(name, body, f"sha384-{digest}")


CHART = _asset("chart-4.4.7.umd.js")
CHART_INIT = _asset("integration.js")
ASSETS = {a.name: a for a in (CHART, CHART_INIT)}
# What the integration page adds to the CSP's script-src.
SCRIPT_SOURCES = f"'{CHART.sri}' '{CHART_INIT.sri}'"

STATES = ("pending", "waiting", "synced", "failed", "deleted")
KIND_NAMES = {"bill": "Bills", "receipt": "Receipts", "credit_note": "Credit notes"}
DAY_LIMIT = 5000  # Xero: calls per organisation per day (1,000 on the Starter tier)

_STATUS_TEXT = {
    "connected": "",
    "pending_setup": "Setup is not finished: choose the organisation and default accounts.",
    "not_connected": "Roger is not connected to Xero. Documents wait until you connect.",
    "disconnected": "Roger is disconnected from Xero. New documents wait until you connect again.",
    "needs_reconnect": (
        "Xero no longer accepts Roger's access to your organisation (the connection was "
        "revoked or expired). Documents wait until you connect again."
    ),
}


@dataclass(frozen=True)
class Budget:
    remaining: int | None  # Xero's X-DayLimit-Remaining, as last heard
    # When the writer heard it (None: this process's own last call to Xero, time not kept).
    heard_at: datetime | None = None


def _connection_table(view: dict[str, Any]) -> str:
    rows = [
        ("Status", view["status"].replace("_", " ")),
        ("Organisation", view.get("organisation_name") or view.get("tenant_id") or ""),
        ("Default account", view.get("default_account_code") or ""),
        ("Payment account", view.get("default_payment_account_code") or ""),
        ("Locked period", dict(LOCK_DATE_CHOICES).get(view.get("lock_date_policy") or "fail", "")),
        (
            "New bills in Xero",
            dict(BILL_STATUS_CHOICES).get(view.get("bill_status") or "AUTHORISED", ""),
        ),
        ("Connected", view.get("connected_at") or ""),
        ("Last sync", view.get("last_sync_at") or "not yet"),
    ]
    if view["status"] != "connected":
        rows = rows[:2]
    cells = "".join(
        f'<tr><th>{escape(k)}</th><td id="{escape(k.lower().replace(" ", "_"))}">'
        f"{escape(str(v))}</td></tr>"
        for k, v in rows
    )
    return f"<table>{cells}</table>"


def _counts(status: SyncStatus) -> str:
    head = "".join(f"<th>{escape(s)}</th>" for s in STATES)
    rows = "".join(
        f"<tr><th>{escape(KIND_NAMES.get(kind, kind))}</th>"
        + "".join(
            f'<td id="count-{escape(kind)}-{s}">{int(by_state.get(s, 0))}</td>' for s in STATES
        )
        + "</tr>"
        for kind, by_state in status.counts.items()
    )
    return f'<h2>Documents</h2><table class="grid"><tr><th></th>{head}</tr>{rows}</table>'


def _link(doc: dict[str, Any]) -> str:
    url = doc.get("xero_url")
    if not url:
        return ""
    return f'<a href="{escape(url)}" target="_blank" rel="noopener noreferrer">Open in Xero</a>'


def _doc_name(doc: dict[str, Any]) -> str:
    kind = KIND_NAMES.get(doc["kind"], doc["kind"]).rstrip("s").lower()
    number = f" ({doc['xero_number']})" if doc.get("xero_number") else ""
    return f"{kind} {doc['roger_id']}{number}"


def _failed(base: str, csrf: str, docs: list[dict[str, Any]], can_retry: bool) -> str:
    if not docs:
        return '<h2>Failed</h2><p id="no-failed">Nothing failed.</p>'
    rows = ""
    for doc in docs:
        reasons = [doc.get("reason") or ""] + [
            f"payment {p.get('payment_id')}: {p.get('reason')}"
            for p in doc.get("payments") or []
            if p.get("state") == "failed"
        ]
        button = (
            _form(
                f"{base}/retry",
                csrf,
                f'<input type="hidden" name="kind" value="{escape(doc["kind"])}">'
                f'<input type="hidden" name="roger_id" value="{escape(doc["roger_id"])}">'
                f'<button type="submit" aria-label="Retry {escape(doc["roger_id"])}">'
                "Retry</button>",
            )
            if can_retry
            else ""
        )
        rows += (
            f'<tr class="failed-doc" data-roger-id="{escape(doc["roger_id"])}">'
            f"<td>{escape(_doc_name(doc))}</td>"
            f'<td class="reason">{escape("; ".join(r for r in reasons if r))}</td>'
            f"<td>{_link(doc)}</td><td>{button}</td></tr>"
        )
    return (
        "<h2>Failed</h2><p>Xero refused these; its own reason is shown. Fix the cause in "
        "Xero or Roger, then retry.</p>"
        f'<table class="grid" id="failed">{rows}</table>'
    )


def _waiting(status: SyncStatus, connected: bool) -> str:
    rows = "".join(
        f'<tr class="waiting-doc"><td>{escape(_doc_name(d))}</td>'
        f"<td>{escape(d.get('reason') or '')}</td></tr>"
        for d in status.waiting
    )
    pending = sum(c.get("pending", 0) for c in status.counts.values())
    lines = []
    if pending:
        age = status.oldest_pending_age_s or 0.0
        lines.append(f"{pending} document(s) are on their way to Xero; the oldest for {_age(age)}.")
    if not connected and (pending or rows):
        lines.append("They wait until Roger is connected to Xero.")
    intro = "".join(f"<p>{escape(x)}</p>" for x in lines)
    table = f'<table class="grid" id="waiting">{rows}</table>' if rows else ""
    if not (intro or table):
        intro = '<p id="no-waiting">Nothing waits.</p>'
    return f"<h2>What waits, and why</h2>{intro}{table}"


def _age(seconds: float) -> str:
    if seconds < 120:
        return f"{int(seconds)} s"
    if seconds < 7200:
        return f"{int(seconds // 60)} min"
    return f"{seconds / 3600:.1f} h"


def _budget(budget: Budget, connected: bool) -> str:
    if not connected:
        return ""
    if budget.remaining is not None:
        when = (
            f"at {budget.heard_at.astimezone(UTC):%Y-%m-%d %H:%M} UTC, after the last call "
            "that sent a document"
            if budget.heard_at is not None
            else "at this service's last call to Xero"
        )
        known = (
            f'<p>Xero said <strong id="budget-left">{budget.remaining}</strong> of the '
            f"organisation's {DAY_LIMIT:,} calls a day were left, {when}.</p>"
        )
    else:
        known = (
            '<p id="budget-left">Not known on this page yet: Xero tells the calls left in '
            "each answer, and the service that sends documents keeps that count "
            "(metric rx_xero_day_calls_remaining).</p>"
        )
    return (
        "<h2>Xero API budget today</h2>"
        + known
        + "<p>Xero allows 5,000 calls a day per organisation (1,000 on its Starter plan). "
        "Its day is a fixed window that starts with the organisation's first call, and Xero "
        "does not say when it resets until the budget is spent: then documents wait, with "
        "the time Xero gives, and go on by themselves.</p>"
    )


def _chart(status: SyncStatus) -> str:
    rows: list[dict[str, str | int]] = [
        {
            "label": datetime.fromisoformat(h["hour"]).strftime("%a %d %H:00"),
            "synced": int(h["synced"]),
        }
        for h in status.per_hour
    ]
    total = sum(int(h["synced"]) for h in status.per_hour)
    # A JSON data block is never run; "<" escaped so no value can close the element.
    data = json.dumps(rows).replace("<", "\\u003c")
    return (
        "<h2>Documents synced per hour, last 7 days (UTC)</h2>"
        f'<p><span id="synced-7d">{total}</span> synced in the last 7 days.</p>'
        '<div class="chart"><canvas id="synced-chart" role="img" '
        f'aria-label="Documents synced per hour: {total} in 7 days"></canvas></div>'
        f'<script type="application/json" id="synced-data">{data}</script>'
        f'<script src="{ASSETS_PATH}{CHART.name}" integrity="{CHART.sri}"></script>'
        f'<script src="{ASSETS_PATH}{CHART_INIT.name}" integrity="{CHART_INIT.sri}"></script>'
    )


def _latest(status: SyncStatus) -> str:
    if not status.synced:
        return ""
    items = "".join(
        f'<li class="synced-doc">{escape(_doc_name(d))} {_link(d)}</li>' for d in status.synced
    )
    return f"<h2>Latest in Xero</h2><ul>{items}</ul>"


def integration_page(
    base: str,
    csrf: str,
    view: dict[str, Any],
    status: SyncStatus | None,
    budget: Budget,
    notice: str,
) -> str:
    """The page for one company; ``status`` None when the projector could not be read."""
    state = view["status"]
    connected = state == "connected"
    kind = "warn" if state in ("needs_reconnect", "disconnected") else "ok"
    body = notice + message(_STATUS_TEXT.get(state, ""), kind) + _connection_table(view)
    if state in ("not_connected", "disconnected", "needs_reconnect"):
        label = "Reconnect to Xero" if state == "needs_reconnect" else "Connect to Xero"
        body += _form(f"{base}/connect", csrf, f'<p><button type="submit">{label}</button></p>')
    elif state == "pending_setup":
        body += f'<p><a href="{escape(base)}">Finish the setup</a></p>'
    if status is None:
        body += message(
            "The documents' sync state cannot be read right now. Reload in a moment.", "err"
        )
    else:
        body += (
            _counts(status)
            + _failed(base, csrf, status.failed, connected)
            + _waiting(status, connected)
            + _budget(budget, connected)
            + _chart(status)
            + _latest(status)
        )
    if connected:
        body += _form(
            f"{base}/categories",
            csrf,
            '<p><button type="submit">Import categories again</button></p>',
        ) + _form(
            f"{base}/disconnect",
            csrf,
            '<p><button type="submit" class="danger">Disconnect</button></p>',
            confirm="Disconnect Roger from Xero? Documents will wait until you connect again.",
        )
    return _page("Xero integration", body)
