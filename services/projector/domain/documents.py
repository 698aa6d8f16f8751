"""A company's documents: the ones in use as objects, the others packed.

A company's state holds every document it ever had; a five-year customer has 100,000 and
more. As objects they cost about 4.7 KB each and 45 µs each to unpickle from a snapshot, so a
company's memory and load time grew with its history (issue 14: 15 s and 1.3 GB to load
100,000 documents). ``Documents`` keeps the ``LIVE`` documents used last as objects and packs
the others: each one's pickle, compressed against a dictionary made from a typical document
(tens to a few hundred bytes each; about 50 µs to unpack or pack). A snapshot stores the packed
form, so loading a company unpacks nothing until a document is used.

Packing is invisible to the rules: ``docs[key]`` returns the document, unpacked on first use.
Documents are packed only by ``trim``, which the application calls after a transaction is
saved, when no rule holds a document. Each mapping keeps the dictionary its documents were
packed with (it is pickled with them), so changing ``Document`` or the sample never makes an
older snapshot unreadable. Pickle reads only our own snapshots (``snapshots.py``).
"""

from __future__ import annotations

import pickle
import zlib
from collections.abc import Iterator, Mapping, MutableMapping
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from services.projector.domain.state import DocKey, Document

# Documents kept as objects per company: a month-end batch's working set, not its history.
LIVE = 1000
_LEVEL = 1  # zlib's fastest: the dictionary does most of the work


@cache
def sample_dictionary() -> bytes:
    """A typical document's pickle: zlib's preset dictionary for packing documents."""
    from services.projector.domain.state import Document
    from shared.contracts.roger_events import BillData

    data = BillData.model_validate(
        {
            "bill_id": "bill_0000000000",
            "vendor": {"id": "ven_0000000000", "name": "Vendor ApS", "country": "DK"},
            "invoice_number": "INV-0000",
            "issue_date": date(2026, 1, 1),
            "due_date": date(2026, 1, 31),
            "currency": "DKK",
            "amount_type": "inclusive",
            "lines": [
                {
                    "description": "Paper",
                    "quantity": "1",
                    "unit_amount": "100.00",
                    "category_code": "429",
                    "tax_type": "INPUT2",
                    "tracking": [],
                }
            ],
            "total": "100.00",
            "attachments": [],
        }
    )
    doc = Document(kind="bill", roger_id=data.bill_id, data=data)
    doc.version_at = doc.synced_version_at = datetime(2026, 1, 1, tzinfo=UTC)
    doc.state, doc.xero_id = "synced", "00000000-0000-0000-0000-000000000000"
    doc.xero_total = Decimal("100.00")
    return pickle.dumps(doc, protocol=5)


class Documents(MutableMapping["DocKey", "Document"]):
    """``DocKey -> Document``, in order of first mention; the ``LIVE`` used last as objects."""

    def __init__(self, docs: Mapping[DocKey, Document] | None = None) -> None:
        self._docs: dict[DocKey, Document | bytes] = {}
        self._live: dict[DocKey, None] = {}  # the objects among them, least recently used first
        self._dictionary = sample_dictionary()
        for key, doc in (docs or {}).items():
            self[key] = doc

    def __getitem__(self, key: DocKey) -> Document:
        value = self._docs[key]
        if isinstance(value, bytes):
            unpacker = zlib.decompressobj(zdict=self._dictionary)
            value = pickle.loads(unpacker.decompress(value) + unpacker.flush())  # noqa: S301
            self._docs[key] = value
        self._used(key)
        return value

    def __setitem__(self, key: DocKey, doc: Document) -> None:
        self._docs[key] = doc
        self._used(key)

    def __delitem__(self, key: DocKey) -> None:
        del self._docs[key]
        self._live.pop(key, None)

    def __contains__(self, key: object) -> bool:
        return key in self._docs

    def __iter__(self) -> Iterator[DocKey]:
        return iter(self._docs)

    def __len__(self) -> int:
        return len(self._docs)

    def __repr__(self) -> str:
        return f"Documents({len(self._docs)} documents, {len(self._live)} unpacked)"

    def _used(self, key: DocKey) -> None:
        self._live.pop(key, None)
        self._live[key] = None

    def _pack(self, doc: Document) -> bytes:
        packer = zlib.compressobj(_LEVEL, zdict=self._dictionary)
        return packer.compress(pickle.dumps(doc, protocol=5)) + packer.flush()

    @property
    def unpacked(self) -> int:
        """How many documents are held as objects now."""
        return len(self._live)

    def trim(self, live: int | None = None) -> None:
        """Packs the documents used least recently until at most ``live`` (``LIVE``) are
        objects. Call it only when no rule holds a document (a held one would be changed
        unseen)."""
        limit = LIVE if live is None else live
        while len(self._live) > limit:
            key = next(iter(self._live))
            del self._live[key]
            value = self._docs[key]
            if not isinstance(value, bytes):
                self._docs[key] = self._pack(value)

    def __getstate__(self) -> dict[str, Any]:
        # Every document packed; the objects in use stay objects here.
        packed = {
            key: value if isinstance(value, bytes) else self._pack(value)
            for key, value in self._docs.items()
        }
        return {"dictionary": self._dictionary, "packed": packed}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self._dictionary = state["dictionary"]
        self._docs = dict(state["packed"])
        self._live = {}
