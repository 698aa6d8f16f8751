"""The Xero ledger that a company's Roger events imply, compared with what Xero holds.

An oracle for tests: it reads only the Roger events (and, for tax, the
organisation's own chart and tax rates as Xero lists them) and does its own
arithmetic. It imports nothing from the services, so a mistake in them cannot
hide here.

Where the contract leaves the outcome to timing it accepts both outcomes: a bill
deleted in Roger may be absent from Xero or VOIDED there, a reversed payment
absent or DELETED. Scenarios keep away from the orders the contract makes
company-visible failures of (an edit or a deletion after a payment).
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

CENT = Decimal("0.01")


def cents(value: Any) -> Decimal:
    return Decimal(str(value)).quantize(CENT, rounding=ROUND_HALF_UP)


def same_name(a: str, b: str) -> bool:
    def norm(s: str) -> str:
        s = "".join(c for c in unicodedata.normalize("NFKD", s) if not unicodedata.combining(c))
        return " ".join(re.sub(r"[^\w\s]", " ", s.casefold()).split())

    return norm(a) == norm(b)


@dataclass
class ExpectedDocument:
    kind: str  # bill, receipt, credit_note
    roger_id: str
    vendor_id: str
    number: str
    currency: str
    total: Decimal
    lines: int
    deleted: bool = False
    payments: list[tuple[Decimal, str]] = field(default_factory=list)  # (amount, account code)
    credited: Decimal = Decimal("0")
    applies_to: str | None = None
    attachments: set[tuple[str, str]] = field(default_factory=set)  # (file name, sha256)


@dataclass
class ExpectedLedger:
    vendors: dict[str, list[str]] = field(default_factory=dict)  # id -> names it went by
    updated_vendors: dict[str, dict[str, Any]] = field(default_factory=dict)
    documents: dict[tuple[str, str], ExpectedDocument] = field(default_factory=dict)


@dataclass
class Chart:
    """What Xero's own lists say about accounts and tax, for computing exclusive totals."""

    default_account: str
    default_payment_account: str
    account_tax: dict[str, str]
    rates: dict[str, Decimal]

    @classmethod
    def from_ledger(
        cls,
        ledger: dict[str, Any],
        default_account: str = "429",
        default_payment_account: str = "090",
    ) -> Chart:
        return cls(
            default_account,
            default_payment_account,
            {a["Code"]: a.get("TaxType", "NONE") for a in ledger["accounts"] if a.get("Code")},
            {t["TaxType"]: Decimal(str(t["EffectiveRate"])) for t in ledger["tax_rates"]},
        )


def document_total(data: dict[str, Any], chart: Chart) -> Decimal:
    total = Decimal("0")
    for line in data["lines"]:
        amount = cents(Decimal(line["quantity"]) * Decimal(line["unit_amount"]))
        total += amount
        if data["amount_type"] == "exclusive":
            account = line.get("category_code") or chart.default_account
            rate = chart.rates[line.get("tax_type") or chart.account_tax[account]]
            total += cents(amount * rate / 100)
    return total


def instant(event: dict[str, Any]) -> datetime:
    """An event's ``occurred_at`` as an instant: versions with other UTC offsets compare by
    time, never by their text (``roger-events.md``: RFC 3339 with offset)."""
    return datetime.fromisoformat(event["occurred_at"])


def _latest(events: list[dict[str, Any]]) -> dict[str, Any]:
    return max(events, key=instant)


def expected_ledger(events: list[dict[str, Any]], chart: Chart) -> ExpectedLedger:
    unique = {e["id"]: e for e in events}.values()
    by_doc: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    paid: dict[str, dict[str, list[dict[str, Any]]]] = defaultdict(lambda: defaultdict(list))
    reversed_ids: set[tuple[str, str]] = set()
    deleted: set[str] = set()
    expected = ExpectedLedger()
    vendor_updates: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for e in unique:
        data = e["data"]
        if "vendor" in data:
            expected.vendors.setdefault(data["vendor"]["id"], []).append(data["vendor"]["name"])
        if e["type"] in ("bill.submitted", "bill.updated"):
            by_doc[("bill", data["bill_id"])].append(e)
        elif e["type"] == "receipt.submitted":
            by_doc[("receipt", data["receipt_id"])].append(e)
        elif e["type"] == "credit_note.submitted":
            by_doc[("credit_note", data["credit_note_id"])].append(e)
        elif e["type"] == "bill.paid":
            paid[data["bill_id"]][data["payment_id"]].append(e)
        elif e["type"] == "payment.reversed":
            reversed_ids.add((data["bill_id"], data["payment_id"]))
        elif e["type"] == "bill.deleted":
            deleted.add(data["bill_id"])
        elif e["type"] == "vendor.updated":
            vendor_updates[data["vendor"]["id"]].append(e)
    expected.updated_vendors = {
        v: _latest(es)["data"]["vendor"] for v, es in vendor_updates.items()
    }

    for (kind, roger_id), versions in by_doc.items():
        data = _latest(versions)["data"]
        number = (
            data.get(
                {
                    "bill": "invoice_number",
                    "receipt": "receipt_number",
                    "credit_note": "credit_note_number",
                }[kind]
            )
            or roger_id
        )
        doc = ExpectedDocument(
            kind,
            roger_id,
            data["vendor"]["id"],
            number,
            data["currency"],
            document_total(data, chart),
            len(data["lines"]),
            deleted=kind == "bill" and roger_id in deleted,
            applies_to=data.get("applies_to_bill_id"),
            attachments={(a["filename"], a["sha256"]) for a in data.get("attachments") or []},
        )
        # Xero takes no payment of nothing (it settles a zero-total document itself), and
        # never one in another currency than its document's (no amount changes currency).
        if kind == "receipt" and doc.total > 0:
            doc.payments.append(
                (doc.total, data.get("payment_account_code") or chart.default_payment_account)
            )
        for payment_id, versions in (
            sorted(paid.get(roger_id, {}).items()) if kind == "bill" else ()
        ):
            p = _latest(versions)["data"]  # a payment's latest version, as a document's
            if (
                (roger_id, payment_id) not in reversed_ids
                and p["currency"] == doc.currency
                and cents(p["amount"]) > 0
            ):
                doc.payments.append(
                    (
                        cents(p["amount"]),
                        p.get("payment_account_code") or chart.default_payment_account,
                    )
                )
        expected.documents[(kind, roger_id)] = doc
    for doc in list(expected.documents.values()):
        bill = expected.documents.get(("bill", doc.applies_to or ""))
        if doc.kind == "credit_note" and bill and not bill.deleted:
            due = bill.total - sum(a for a, _ in bill.payments) - bill.credited
            doc.credited = min(doc.total, due)  # the rest stays an open credit
            bill.credited += doc.credited
    return expected


def _url_id(url: str | None) -> tuple[str, str] | None:
    match = re.search(r"/(bill|receipt)s/([^/]+)$", url or "")
    return (match.group(1), match.group(2)) if match else None


def compare(expected: ExpectedLedger, ledger: dict[str, Any]) -> list[str]:
    """Every way Xero's ledger differs from what the events imply; empty when they agree."""
    diffs: list[str] = []
    contacts = [c for c in ledger["contacts"] if c.get("ContactStatus", "ACTIVE") == "ACTIVE"]
    contact_of: dict[str, str] = {}
    for vendor_id, names in sorted(expected.vendors.items()):
        wanted = expected.updated_vendors.get(vendor_id)
        matches = [
            c
            for c in contacts
            if (wanted and c["Name"] == wanted["name"].strip())
            or (not wanted and any(same_name(c["Name"], n) for n in names))
        ]
        # A vendor whose documents all left Roger before reaching Xero (deleted, or moved to
        # another vendor) may or may not have got its contact: the timing decides.
        optional = not any(
            d.vendor_id == vendor_id and not d.deleted for d in expected.documents.values()
        )
        if optional and not matches:
            continue
        if len(matches) != 1:
            diffs.append(f"vendor {vendor_id}: {len(matches)} matching contacts, want 1")
            continue
        contact_of[vendor_id] = matches[0]["ContactID"]
        if wanted and (wanted.get("email") or None) != (matches[0].get("EmailAddress") or None):
            got_email = matches[0].get("EmailAddress")
            diffs.append(f"vendor {vendor_id}: email {got_email!r}, want {wanted.get('email')!r}")
    if len(contacts) != len(set(contact_of.values())) and len(contact_of) == len(expected.vendors):
        diffs.append(f"{len(contacts)} active contacts, want {len(set(contact_of.values()))}")

    invoices: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for inv in ledger["invoices"]:
        key = _url_id(inv.get("Url"))
        if inv["Type"] != "ACCPAY" or key is None:
            diffs.append(
                f"unexpected invoice {inv.get('InvoiceNumber')} ({inv['Type']}, {inv.get('Url')})"
            )
            continue
        invoices[key].append(inv)
    notes = defaultdict(list)
    for note in ledger["credit_notes"]:
        notes[note.get("CreditNoteNumber")].append(note)

    for key, doc in sorted(expected.documents.items()):
        label = f"{doc.kind} {doc.roger_id}"
        if doc.kind == "credit_note":
            found = notes.pop(doc.number, [])
        else:
            found = invoices.pop(key, [])
        if doc.deleted:
            diffs += [
                f"{label}: deleted in Roger but {i['Status']} in Xero"
                for i in found
                if i["Status"] not in ("VOIDED", "DELETED")
            ]
            continue
        if len(found) != 1:
            diffs.append(f"{label}: {len(found)} documents in Xero, want 1")
            continue
        diffs += _compare_document(label, doc, found[0], contact_of)
    diffs += [f"unexpected document for {k}" for k in invoices]
    diffs += [f"unexpected credit note {n}" for n in notes]
    diffs += _compare_payments(expected, ledger)
    return diffs


def _compare_document(
    label: str, doc: ExpectedDocument, found: dict[str, Any], contact_of: dict[str, str]
) -> list[str]:
    diffs = []
    checks = [
        ("number", found.get("InvoiceNumber", found.get("CreditNoteNumber")), doc.number),
        ("currency", found.get("CurrencyCode"), doc.currency),
        ("total", cents(found["Total"]), doc.total),
        ("lines", len(found.get("LineItems") or []), doc.lines),
        (
            "contact",
            found["Contact"]["ContactID"],
            contact_of.get(doc.vendor_id, found["Contact"]["ContactID"]),
        ),
    ]
    if doc.kind == "credit_note":
        applied = cents(found["Total"]) - cents(found.get("RemainingCredit", found["Total"]))
        checks += [
            ("allocated", applied, doc.credited),
            ("status", found["Status"], "AUTHORISED" if applied < doc.total else "PAID"),
        ]
    else:
        paid = sum((a for a, _ in doc.payments), Decimal("0"))
        due = doc.total - paid - doc.credited
        checks += [
            ("amount paid", cents(found.get("AmountPaid", 0)), paid),
            ("amount credited", cents(found.get("AmountCredited", 0)), doc.credited),
            ("amount due", cents(found.get("AmountDue", 0)), due),
            ("status", found["Status"], "PAID" if due == 0 else "AUTHORISED"),
        ]
    diffs += [
        f"{label}: {what} {got!r}, want {want!r}" for what, got, want in checks if got != want
    ]
    return diffs


def _compare_payments(expected: ExpectedLedger, ledger: dict[str, Any]) -> list[str]:
    wanted: Counter[tuple[str, str, Decimal, str]] = Counter()
    for doc in expected.documents.values():
        if doc.kind != "credit_note" and not doc.deleted:
            for amount, account in doc.payments:
                wanted[(doc.kind, doc.roger_id, amount, account)] += 1
    urls = {i["InvoiceID"]: _url_id(i.get("Url")) for i in ledger["invoices"]}
    got: Counter[tuple[str, str, Decimal, str]] = Counter()
    for p in ledger["payments"]:
        if p.get("Status") == "DELETED":
            continue
        key = urls.get(p["Invoice"]["InvoiceID"]) or ("?", "?")
        got[(key[0], key[1], cents(p["Amount"]), p["Account"]["Code"])] += 1
    diffs = [
        f"payment {k} in Xero {n - wanted[k]} time(s) too many"
        for k, n in got.items()
        if n > wanted[k]
    ]
    diffs += [
        f"payment {k} missing from Xero {n - got[k]} time(s)"
        for k, n in wanted.items()
        if n > got[k]
    ]
    return diffs


def compare_attachments(expected: ExpectedLedger, ledger: dict[str, Any]) -> list[str]:
    ids = {i["InvoiceID"]: _url_id(i.get("Url")) for i in ledger["invoices"]}
    got: dict[tuple[str, str] | None, set[tuple[str, str]]] = defaultdict(set)
    for a in ledger["attachments"]:
        got[ids.get(a["document_id"])].add((a["FileName"], a["sha256"]))
    return [
        f"{doc.kind} {doc.roger_id}: attachments {sorted(got.get(key, set()))}, "
        f"want {sorted(doc.attachments)}"
        for key, doc in expected.documents.items()
        if doc.kind != "credit_note" and not doc.deleted and got.get(key, set()) != doc.attachments
    ]
