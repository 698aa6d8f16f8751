"""The writer's index of an organisation's bills: read in full once per contact, then only
what Xero says changed (services/xero_writer/bill_index.py)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from services.xero_writer.bill_index import FRESH_S, MAX_AGE_S, OVERLAP, BillIndex


def ms(moment: datetime) -> str:
    return f"/Date({int(moment.timestamp() * 1000)})/"


class Books:
    """Bills with Xero's UpdatedDateUTC, answering GET /Invoices as Xero does (ContactIDs,
    If-Modified-Since, DateTimeUTC); ``stamped``: whether answers carry DateTimeUTC."""

    def __init__(self, stamped: bool = True) -> None:
        self.now = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
        self.bills: dict[str, dict[str, Any]] = {}
        self.calls: list[dict[str, Any]] = []
        self.stamped = stamped

    def put(self, invoice_id: str, contact: str, status: str = "AUTHORISED") -> None:
        self.now += timedelta(seconds=1)
        self.bills[invoice_id] = {
            "InvoiceID": invoice_id,
            "Type": "ACCPAY",
            "Status": status,
            "Contact": {"ContactID": contact, "Name": "x"},
            "LineItems": [{"Description": "kept out of the index"}],
            "UpdatedDateUTC": ms(self.now),
            "_at": self.now,
        }

    async def call(self, method: str, path: str, **kw: Any) -> dict[str, Any]:
        assert (method, path) == ("GET", "/Invoices")
        self.calls.append(kw)
        since = kw.get("if_modified_since")
        contacts = kw["params"].get("ContactIDs")
        found = [
            {k: v for k, v in b.items() if k != "_at"}
            for b in self.bills.values()
            if (since is None or b["_at"] > since)
            and (contacts is None or b["Contact"]["ContactID"] in contacts.split(","))
        ]
        answer: dict[str, Any] = {"Invoices": found, "pagination": {"pageCount": 1}}
        if self.stamped:
            answer["DateTimeUTC"] = ms(self.now)
        return answer


def ids(bills: list[dict[str, Any]]) -> set[str]:
    return {b["InvoiceID"] for b in bills}


def test_a_contact_is_read_in_full_once_then_only_what_changed() -> None:
    books, index = Books(), BillIndex(fresh_s=0)
    books.put("a1", "A")
    books.put("b1", "B")
    assert ids(asyncio.run(index.bills(books.call, {"A"}))) == {"a1"}
    assert books.calls[-1]["params"]["ContactIDs"] == "A"
    assert "if_modified_since" not in books.calls[-1]
    stamp = books.now
    books.put("a2", "A")
    assert ids(asyncio.run(index.bills(books.call, {"A"}))) == {"a1", "a2"}
    # One read of the organisation's changes since Xero's last answer (less the overlap).
    assert len(books.calls) == 2
    assert books.calls[-1]["if_modified_since"] == stamp - OVERLAP
    assert "ContactIDs" not in books.calls[-1]["params"]
    # A new contact: its changes and its whole history.
    assert ids(asyncio.run(index.bills(books.call, {"A", "B"}))) == {"a1", "a2", "b1"}
    assert books.calls[-1]["params"]["ContactIDs"] == "B"


def test_a_bill_voided_or_moved_to_another_contact_in_xero_is_seen() -> None:
    books, index = Books(), BillIndex(fresh_s=0)
    books.put("a1", "A")
    books.put("b1", "B")
    asyncio.run(index.bills(books.call, {"A", "B"}))
    books.put("a1", "B")  # the accountant moved it
    books.put("b1", "B", status="VOIDED")
    bills = asyncio.run(index.bills(books.call, {"A", "B"}))
    assert {(b["InvoiceID"], b["Contact"]["ContactID"], b["Status"]) for b in bills} == {
        ("a1", "B", "AUTHORISED"),
        ("b1", "B", "VOIDED"),
    }
    assert ids(asyncio.run(index.bills(books.call, {"A"}))) == set()
    assert all("LineItems" not in b for b in bills)  # what is kept stays small


def test_without_xeros_clock_every_look_reads_in_full() -> None:
    books, index = Books(stamped=False), BillIndex()
    books.put("a1", "A")
    asyncio.run(index.bills(books.call, {"A"}))
    asyncio.run(index.bills(books.call, {"A"}))
    assert [c["params"].get("ContactIDs") for c in books.calls] == ["A", "A"]
    assert all("if_modified_since" not in c for c in books.calls)


def test_an_old_index_is_read_again_in_full() -> None:
    now = [0.0]
    books, index = Books(), BillIndex(clock=lambda: now[0])
    books.put("a1", "A")
    asyncio.run(index.bills(books.call, {"A"}))
    now[0] = MAX_AGE_S + 1
    asyncio.run(index.bills(books.call, {"A"}))
    assert books.calls[-1]["params"].get("ContactIDs") == "A"
    assert "if_modified_since" not in books.calls[-1]


def test_changes_are_read_at_most_every_fresh_s_unless_rechecked() -> None:
    now = [0.0]
    books, index = Books(), BillIndex(clock=lambda: now[0])
    books.put("a1", "A")
    asyncio.run(index.bills(books.call, {"A"}))
    books.put("a2", "A")  # a person keyed it in Xero just now
    now[0] = FRESH_S / 2
    assert ids(asyncio.run(index.bills(books.call, {"A"}))) == {"a1"}
    assert len(books.calls) == 1  # no call: the look is fresh enough
    assert ids(asyncio.run(index.bills(books.call, {"A"}, recheck=True))) == {"a1", "a2"}
    books.put("a3", "A")
    now[0] = FRESH_S * 2
    assert ids(asyncio.run(index.bills(books.call, {"A"}))) == {"a1", "a2", "a3"}


def test_what_the_writer_made_is_in_the_index_without_a_read() -> None:
    books, index = Books(), BillIndex()
    books.put("a1", "A")
    asyncio.run(index.bills(books.call, {"A"}))
    books.put("a2", "A")  # as our PUT made it, and answered it
    index.note([{k: v for k, v in books.bills["a2"].items() if k != "_at"}])
    assert ids(asyncio.run(index.bills(books.call, {"A"}))) == {"a1", "a2"}
    assert len(books.calls) == 1


def test_a_new_contacts_read_never_moves_past_changes_not_yet_read() -> None:
    now = [0.0]
    books, index = Books(), BillIndex(clock=lambda: now[0])
    books.put("a1", "A")
    books.put("b1", "B")
    asyncio.run(index.bills(books.call, {"A"}))
    books.put("a2", "A")  # a change the fresh look does not read yet
    for _ in range(20):
        books.put("c1", "C")  # Xero's clock moves on well past OVERLAP
    now[0] = FRESH_S / 2
    asyncio.run(index.bills(books.call, {"B"}))  # B read in full, changes not read
    assert ids(asyncio.run(index.bills(books.call, {"A"}, recheck=True))) == {"a1", "a2"}
