"""A company's sync state: what Roger said, what Xero holds, and what is still owed.

Plain data, folded from facts (``facts.py``) and Xero's answers (``answers.py``);
``decisions.py`` reads it to decide the commands. Roger's data is held as the
contract's typed models (``shared/contracts/roger_events.py``), times as
timezone-aware instants: two ``occurred_at`` values are compared as instants,
whatever their UTC offsets (``2026-10-25T02:10+01:00`` is later than
``2026-10-25T02:50+02:00``). Calendar dates (issue, due, paid on) stay ``date``:
they are never shifted by an offset. The eventsourcing aggregate in
``aggregate.py`` stores only the facts and answers; this state is rebuilt from them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Literal

from services.projector.domain.documents import Documents
from shared.contracts.domain_events import ConnectionData
from shared.contracts.roger_events import (
    BillData,
    BillPaidData,
    CreditNoteData,
    ReceiptData,
    Vendor,
)

DocState = Literal["pending", "waiting", "synced", "failed", "deleted"]
DocKind = Literal["bill", "receipt", "credit_note"]
DocKey = tuple[str, str]  # (kind, Roger id)
DocumentData = BillData | ReceiptData | CreditNoteData
# What Roger said was paid: a bill.paid, or a receipt itself (paid in full on ``paid_on``).
PaidData = BillPaidData | ReceiptData
HistoryEntry = dict[str, Any]  # one JSON object of a document's history (read API)

RECEIPT_PAYMENT = "receipt"  # the payment id of a receipt's one payment


def instant(at: datetime) -> datetime:
    """``at`` as a timezone-aware instant; a naive time (never sent by our producers) is UTC."""
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


@dataclass
class VendorLink:
    """A Roger vendor and the Xero contact it is linked to."""

    vendor_id: str
    vendor: Vendor  # the latest Roger vendor record
    version_at: datetime  # occurred_at of that record
    contact_id: str | None = None
    # vendor.updated asks for the contact to follow: the version asked for, and the one shown
    update_version_at: datetime | None = None
    synced_version_at: datetime | None = None
    failure: str | None = None  # Xero's refusal to find or create the contact
    attempt: int = 0
    outstanding: str | None = None  # command id in flight
    # The contact as Xero last said (roger.sync-back): "archived", or "merged" into
    # ``merged_into``; None while active as far as we know.
    contact_status: str | None = None
    merged_into: str | None = None


@dataclass
class Payment:
    """One Roger payment of a bill (or a receipt's own payment) and the Xero payment made of it.

    ``data`` is Roger's latest version of it (by ``version_at``); ``made`` is the version the
    payment in Xero (``xero_id``) was made from, ``made_amount`` what Xero applied. A payment
    is deleted in Xero and made again when Roger's latest version differs from ``made``, or
    when its bill must be edited (Xero refuses edits of a bill that has payments).
    """

    payment_id: str
    data: PaidData | None = None  # what Roger paid, once known
    version_at: datetime | None = None  # occurred_at of ``data`` (a bill.paid's)
    reversed: bool = False
    state: DocState = "pending"
    reason: str | None = None
    xero_id: str | None = None  # the payment in Xero now; None while there is none
    made: PaidData | None = None  # what the payment in Xero was made from
    made_amount: Decimal | None = None  # what Xero applied, in the bill's currency
    # Foreign-currency payments: the rate Xero booked (units per one of the base currency)
    # and whose it is ("roger" or "xero"); None in the base currency.
    currency_rate: Decimal | None = None
    currency_rate_source: str | None = None
    sent: PaidData | None = None  # what the CreatePayment in flight asks for
    refused_by_rule: bool = False  # failed by the projector's own check, not by Xero
    attempt: int = 0
    outstanding: str | None = None

    @property
    def amount(self) -> Decimal | None:
        """The amount paid, in ``currency``; None for a receipt: whatever is due, in full."""
        return self.data.amount if isinstance(self.data, BillPaidData) else None

    def again(self, reason: str | None = None) -> None:
        """Made again (a new command id): after Roger's newer version, a retry or a removal."""
        self.state, self.reason, self.attempt = "pending", reason, self.attempt + 1
        self.refused_by_rule = False


@dataclass
class Allocation:
    """A credit note's allocation to the bill it applies to.

    ``xero_id`` is the allocation in Xero now (its AllocationID; None while there is none,
    or when nothing was due to allocate). It is removed again (``DeleteAllocation``) when
    its bill is deleted in Roger, or edited: Xero voids or edits only a bill with no credit
    allocated; after an edit it is made again (a new attempt).
    """

    bill_id: str
    state: DocState = "pending"
    reason: str | None = None
    amount: Decimal | None = None
    xero_id: str | None = None
    attempt: int = 0
    outstanding: str | None = None


@dataclass
class AttachmentSync:
    filename: str
    sha256: str
    state: DocState = "pending"
    reason: str | None = None
    xero_id: str | None = None
    attempt: int = 0
    outstanding: str | None = None


@dataclass
class XeroSide:
    """What Xero last said of a document we synced, from ``roger.sync-back``
    (``xero_changes.py``): changes made in Xero by a person, never by us.

    ``summary`` is the line a person reads ("paid in Xero on 2026-11-03"); ``status`` is
    Xero's (AUTHORISED, PAID, VOIDED, DELETED); money is in the bill's currency as Xero
    holds it. ``edited_since_sync``: Xero's fields were edited after the version we last
    sent, so a newer Roger version would overwrite the accountant's edit (a conflict).
    ``gone``: "voided" or "deleted" in Xero.
    """

    status: str | None = None
    summary: str = ""
    at: datetime | None = None  # Xero's UpdatedDateUTC of the latest change
    total: Decimal | None = None
    amount_paid: Decimal | None = None
    amount_due: Decimal | None = None
    currency: str | None = None
    date: str | None = None
    due_date: str | None = None
    contact_id: str | None = None
    # Payments made in Xero, not by Roger: {"xero_id", "date", "amount", "reference"} (text)
    payments: list[dict[str, str | None]] = field(default_factory=list)
    # Fields edited in Xero: {"field", "before", "after", "at"} (text), oldest first
    edits: list[dict[str, str | None]] = field(default_factory=list)
    edited_since_sync: bool = False
    gone: str | None = None  # "voided" | "deleted"


@dataclass
class Conflict:
    """Roger and Xero changed the same document: both versions, and which one Xero holds.

    Held until a person decides: ``POST .../retry`` sends Roger's version (and clears
    this); leaving it keeps Xero's. ``roger`` and ``xero`` are the differing fields as
    text; ``xero_holds`` is "xero" (the accountant's change stands in Xero) or "roger".
    """

    reason: str
    at: datetime
    roger: dict[str, str | None]
    xero: dict[str, str | None]
    xero_holds: str = "xero"


@dataclass
class Document:
    """A bill, a receipt (a bill paid in full) or a vendor credit note."""

    kind: DocKind
    roger_id: str
    data: DocumentData | None = None  # the latest Roger version
    version_at: datetime | None = None  # occurred_at of that version
    synced_version_at: datetime | None = None  # the version Xero holds
    deleted: bool = False
    state: DocState = "pending"
    reason: str | None = None
    xero_id: str | None = None
    xero_number: str | None = None
    xero_total: Decimal | None = None
    warnings: list[str] = field(default_factory=list)
    attempt: int = 0
    outstanding: str | None = None
    payments: dict[str, Payment] = field(default_factory=dict)
    allocation: Allocation | None = None
    attachments: dict[str, AttachmentSync] = field(default_factory=dict)
    # What Xero says of it (roger.sync-back) and a conflict held for a person. Plain
    # defaults: a snapshot pickled before these fields reads the class's None.
    in_xero: XeroSide | None = None
    conflict: Conflict | None = None
    # Xero's bill was voided or deleted there (or is missing) and a person asked for it
    # again: the CreateBill says so (``remake_gone``), so the writer makes a new bill
    # instead of answering with the gone one it finds by Url. Cleared once made.
    remake_gone: bool = False

    @property
    def key(self) -> DocKey:
        return (self.kind, self.roger_id)

    @property
    def vendor_id(self) -> str | None:
        return self.data.vendor.id if self.data is not None else None

    def warn(self, message: str) -> None:
        if message not in self.warnings:
            self.warnings.append(message)

    def fail(self, reason: str) -> None:
        self.state, self.reason = "failed", reason

    def reopen(self) -> None:
        """Roger's newer version or a person's retry: a failed document goes again."""
        if self.state == "failed":
            self.state, self.reason, self.attempt = "pending", None, self.attempt + 1

    @property
    def retryable(self) -> bool:
        """Whether it, or one of its payments, its allocation or attachments, failed."""
        return (
            self.state == "failed"
            or any(p.state == "failed" for p in self.payments.values())
            or (self.allocation is not None and self.allocation.state == "failed")
            or any(a.state == "failed" for a in self.attachments.values())
        )


@dataclass
class Outstanding:
    """What a command in flight is for, so its answer lands in the right place."""

    command_kind: str
    doc: DocKey | None = None  # None for contact commands
    vendor_id: str | None = None
    sub_id: str | None = None  # payment id or attachment filename
    version_at: datetime | None = None  # the Roger version the command sends


@dataclass
class CompanyState:
    company_id: str
    connection: ConnectionData | None = None
    vendors: dict[str, VendorLink] = field(default_factory=dict)
    # Every document, the ones not in use packed (documents.py: memory and load time).
    docs: Documents = field(default_factory=Documents)
    seen_events: set[str] = field(default_factory=set)
    outstanding: dict[str, Outstanding] = field(default_factory=dict)
    answered: set[str] = field(default_factory=set)
    # The credit notes' keys, so "what is allocated to this bill" reads the credit notes
    # alone, not every document (it is asked on every answer about a bill).
    credit_notes: set[DocKey] = field(default_factory=set)
    # Documents by the vendor their latest Roger version names (``set_version`` keeps it), so
    # a vendor's change or Xero's answer about its contact reads its documents alone.
    by_vendor: dict[str, set[DocKey]] = field(default_factory=dict)
    seq: dict[DocKey, int] = field(default_factory=dict)  # order of first mention
    # Bills made directly in Xero (roger.sync-back BillCreatedInXero), by InvoiceID: the
    # bill as Xero described it (JSON). None until the first (older snapshots lack it).
    xero_bills: dict[str, dict[str, Any]] | None = None

    def doc(self, kind: DocKind, roger_id: str) -> Document:
        """The document, created empty (no Roger version yet) on first mention."""
        key = (kind, roger_id)
        if key not in self.docs:
            self.seq[key] = len(self.docs)
            self.docs[key] = Document(kind=kind, roger_id=roger_id)
            if kind == "credit_note":
                self.credit_notes.add(key)
        return self.docs[key]

    def allocated_to(self, bill_id: str) -> list[Document]:
        """The credit notes allocated (or to be allocated) to the bill ``bill_id``."""
        return [
            note
            for note in (self.docs[key] for key in self.credit_notes)
            if note.allocation is not None and note.allocation.bill_id == bill_id
        ]

    def set_version(self, doc: Document, data: DocumentData, at: datetime) -> None:
        """Roger's new version ``data`` (of ``occurred_at`` ``at``) becomes the document's latest,
        filed under the vendor it names."""
        before = doc.vendor_id
        doc.data, doc.version_at = data, at
        if before is not None and before != data.vendor.id:
            self.by_vendor.get(before, set()).discard(doc.key)
        self.by_vendor.setdefault(data.vendor.id, set()).add(doc.key)

    def docs_of_vendor(self, vendor_id: str) -> list[Document]:
        """The documents whose latest Roger version names this vendor, in order of first
        mention (as ``docs``)."""
        keys = self.by_vendor.get(vendor_id, set())
        found = [self.docs[key] for key in keys if self.docs[key].vendor_id == vendor_id]
        found.sort(key=lambda d: self.seq[d.key])
        return found


@dataclass
class Effects:
    """What one fact or answer touched: for the read model and the decisions that follow."""

    touched: set[DocKey] = field(default_factory=set)
    vendors: set[str] = field(default_factory=set)
    history: list[tuple[DocKey, HistoryEntry]] = field(default_factory=list)

    def note(self, key: DocKey, entry: HistoryEntry) -> None:
        self.touched.add(key)
        self.history.append((key, entry))
