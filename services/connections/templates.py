"""The setup page's HTML: pure functions from data to markup, every value escaped."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable
from html import escape
from typing import Any

from shared.contracts.commands import BillStatus

STEPS = ("Connect", "Allow access", "Organisation", "Default accounts", "Finish")

_STYLE = """
body{font-family:system-ui,sans-serif;max-width:44em;margin:2em auto;padding:0 1em;color:#1e2a35}
h1{font-size:1.5em} ol.steps{display:flex;gap:1em;padding:0;list-style:none;color:#8a97a3}
ol.steps li.on{color:#13b5ea;font-weight:600} label{display:block;margin:.8em 0 .3em}
select{min-width:24em;padding:.3em} .msg{padding:.7em 1em;border-radius:4px;margin:1em 0}
.ok{background:#e6f7ee;border:1px solid #7cc79b} .err{background:#fdecea;border:1px solid #e3867c}
.warn{background:#fff6e0;border:1px solid #e6c15c}
button{background:#13b5ea;color:#fff;border:0;padding:.6em 1.4em;font-size:1em;cursor:pointer}
button.danger{background:#c0392b} table{border-collapse:collapse}
td,th{text-align:left;padding:.3em 1em .3em 0} h2{font-size:1.15em;margin-top:1.6em}
table.grid td,table.grid th{border-bottom:1px solid #dde3e8;padding:.3em .8em .3em 0}
table.grid form{margin:0} table.grid button{padding:.3em .9em}
.chart{position:relative;height:16em}
"""


# The one script: asks before a form marked data-confirm is sent (Disconnect). Inline and
# allowed by its hash in the Content-Security-Policy; no inline event handlers anywhere.
_SCRIPT = (
    'document.addEventListener("submit",function(e){'
    'var m=e.target.getAttribute("data-confirm");'
    "if(m&&!window.confirm(m)){e.preventDefault();}});"
)


def _csp_hash(text: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()


STYLE_HASH = _csp_hash(_STYLE)
SCRIPT_HASH = _csp_hash(_SCRIPT)


def _page(title: str, body: str, step: int | None = None) -> str:
    steps = ""
    if step is not None:
        items = "".join(
            f'<li class="{"on" if i == step else ""}">{i + 1}. {escape(name)}</li>'
            for i, name in enumerate(STEPS)
        )
        steps = f'<ol class="steps">{items}</ol>'
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)} | Roger × Xero</title><style>{_STYLE}</style>"
        f"<script>{_SCRIPT}</script></head>"
        f"<body><h1>{escape(title)}</h1>{steps}{body}</body></html>"
    )


def message(text: str | None, kind: str = "ok") -> str:
    if not text:
        return ""
    role = ' role="alert"' if kind == "err" else ""
    return f'<div class="msg {kind}"{role}>{escape(text)}</div>'


def _form(action: str, csrf: str, inner: str, confirm: str | None = None) -> str:
    asks = f' data-confirm="{escape(confirm)}"' if confirm else ""
    return (
        f'<form method="post" action="{escape(action)}"{asks}>'
        f'<input type="hidden" name="csrf" value="{escape(csrf)}">{inner}</form>'
    )


def refusal_page(text: str) -> str:
    return _page(
        "Xero connection refused",
        message(text, "err") + "<p>Start the Xero setup again from Roger.</p>",
    )


def too_large_page() -> str:
    return _page(
        "Form too large",
        message("The form sent was larger than this page ever sends.", "err")
        + "<p>Go back and try again.</p>",
    )


def session_missing_page() -> str:
    return _page(
        "Setup link not valid",
        message("This setup link is missing, not valid, or has expired.", "err")
        + "<p>Open the Xero integration again from Roger's settings to get a new link.</p>",
    )


def form_refused_page() -> str:
    return _page(
        "Form not accepted",
        message("This form was not sent from this page, or the page is out of date.", "err")
        + "<p>Reload the page and try again.</p>",
    )


def connect_step(base: str, csrf: str, status: str, notice: str) -> str:
    intro = {
        "needs_reconnect": message(
            "Xero no longer accepts Roger's access to your organisation (the connection was "
            "revoked or expired). Documents wait until you connect again.",
            "warn",
        ),
        "disconnected": message(
            "Roger is disconnected from Xero. New documents wait until you connect again.", "warn"
        ),
    }.get(status, "")
    button = "Reconnect to Xero" if status == "needs_reconnect" else "Connect to Xero"
    body = (
        f"{notice}{intro}<p>Roger sends your approved bills and payments to Xero. "
        "Connecting opens Xero, where you allow Roger access to your organisation.</p>"
        + _form(f"{base}/connect", csrf, f'<button type="submit">{button}</button>')
    )
    return _page("Connect Roger to Xero", body, step=0)


def organisation_step(
    base: str, csrf: str, organisations: list[dict[str, Any]], chosen: str | None, notice: str
) -> str:
    if not organisations:
        body = notice + message(
            "Xero gave Roger access to no organisation. Connect again and tick the "
            "organisation Roger should sync to.",
            "err",
        )
        return _page("Choose the Xero organisation", body + _reconnect(base, csrf), step=2)
    # Nothing pre-selected unless ``chosen``: a browser would otherwise select the first
    # organisation, and one click would connect whichever that is (issue 13).
    placeholder = (
        "" if chosen else '<option value="" disabled selected>Choose an organisation</option>'
    )
    options = placeholder + "".join(
        f'<option value="{escape(o["tenant_id"])}"'
        f"{' selected' if o['tenant_id'] == chosen else ''}>"
        f"{escape(o['name'])}{_currency(o)}</option>"
        for o in organisations
    )
    inner = (
        '<label for="tenant_id">Which Xero organisation should this Roger company sync to?'
        f'</label><select id="tenant_id" name="tenant_id" required>{options}</select>'
        '<p><button type="submit">Continue</button></p>'
    )
    body = notice + _form(f"{base}/organisation", csrf, inner)
    return _page("Choose the Xero organisation", body, step=2)


def _currency(organisation: dict[str, Any]) -> str:
    currency = organisation.get("base_currency")
    return f" ({escape(currency)})" if currency else ""


def _reconnect(base: str, csrf: str) -> str:
    return _form(f"{base}/connect", csrf, '<button type="submit">Connect again</button>')


def _options(accounts: Iterable[dict[str, Any]], selected: str | None) -> str:
    return "".join(
        f'<option value="{escape(a["code"])}"{" selected" if a["code"] == selected else ""}>'
        f"{escape(a['code'])} – {escape(a['name'] or '')}</option>"
        for a in accounts
    )


def defaults_step(
    base: str,
    csrf: str,
    organisation: str,
    accounts: list[dict[str, Any]],
    expense: str | None,
    payment: str | None,
    notice: str,
    lock_date_policy: str = "fail",
    bill_status: str = "AUTHORISED",
) -> str:
    active = [a for a in accounts if a.get("status") == "ACTIVE" and a.get("code")]
    expense_accounts = [a for a in active if a.get("type") != "BANK"]
    payment_accounts = [a for a in active if a.get("enable_payments")]
    inner = (
        f'<p>Organisation: <strong id="organisation">{escape(organisation)}</strong> '
        f'(<a href="{escape(base)}?step=organisation">choose another</a>)</p>'
        '<label for="default_account_code">Default account for expenses without a category'
        f'</label><select id="default_account_code" name="default_account_code">'
        f"{_options(expense_accounts, expense or '429')}</select>"
        '<label for="default_payment_account_code">Account that payments are made from</label>'
        '<select id="default_payment_account_code" name="default_payment_account_code">'
        f"{_options(payment_accounts, payment)}</select>"
        '<label><input type="checkbox" id="import_categories" name="import_categories" '
        'value="yes" checked> Import categories (Xero\'s chart of accounts) into Roger</label>'
        '<label for="lock_date_policy">A document dated in a period locked in Xero</label>'
        '<select id="lock_date_policy" name="lock_date_policy">'
        f"{_lock_options(lock_date_policy)}</select>"
        '<label for="bill_status">Status of new bills in Xero</label>'
        '<select id="bill_status" name="bill_status">'
        f"{_bill_status_options(bill_status)}</select>"
        '<p><button type="submit">Finish</button></p>'
    )
    body = notice + _form(f"{base}/finish", csrf, inner)
    return _page("Choose the default accounts", body, step=3)


LOCK_DATE_CHOICES = (
    ("fail", "Show it as failed, with the lock date and the fix"),
    ("next_open_day", "Post it on the first open day after the lock date, and say so"),
)


def _lock_options(chosen: str) -> str:
    return "".join(
        f'<option value="{value}"{" selected" if value == chosen else ""}>{escape(label)}</option>'
        for value, label in LOCK_DATE_CHOICES
    )


# The status new bills get in Xero (ConnectionData.bill_status), as Xero names each.
BILL_STATUS_CHOICES = (
    ("AUTHORISED", "Awaiting payment (approved; payments are recorded)"),
    ("SUBMITTED", "Awaiting approval (payments wait until approved in Xero)"),
    ("DRAFT", "Draft (payments wait until approved in Xero)"),
)


def bill_status_of(value: str) -> BillStatus:
    """A form's choice of status for new bills; anything unknown is the default."""
    return "DRAFT" if value == "DRAFT" else "SUBMITTED" if value == "SUBMITTED" else "AUTHORISED"


def _bill_status_options(chosen: str) -> str:
    return "".join(
        f'<option value="{value}"{" selected" if value == chosen else ""}>{escape(label)}</option>'
        for value, label in BILL_STATUS_CHOICES
    )
