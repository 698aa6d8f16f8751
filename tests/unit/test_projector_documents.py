"""A company's documents packed when not in use: read back as they were, changes kept, a
snapshot stores them packed (compressed) and loads with none unpacked, and older snapshots
(uncompressed, documents as a plain dict) still load."""

from __future__ import annotations

import base64
import copy
import pickle
from typing import Any

import pytest

from services.projector.application import IN_MEMORY, SyncApplication
from services.projector.domain import documents, facts
from services.projector.domain.documents import Documents
from services.projector.domain.state import CompanyState
from services.projector.snapshots import CompanyStateAsCompressedPickle, CompanyStateAsPickle
from shared.contracts.topics import DOMAIN_EVENTS
from tests.support.projector_facts import APP, COMPANY, bill_data, connected, fact, step


def company(bills: int) -> CompanyState:
    state = CompanyState(COMPANY)
    step(state, connected())
    for n in range(bills):
        facts.apply_fact(state, fact("BillSubmitted", bill_data(f"b{n}")))
    return state


def test_packed_documents_read_back_as_they_were() -> None:
    state = company(5)
    before = copy.deepcopy(dict(state.docs.items()))

    state.docs.trim(live=0)

    assert state.docs.unpacked == 0
    assert len(state.docs) == 5 and ("bill", "b3") in state.docs  # without unpacking
    assert state.docs.unpacked == 0
    assert dict(state.docs.items()) == before


def test_a_change_to_a_document_is_kept_when_it_is_packed_again() -> None:
    state = company(3)
    state.docs.trim(live=0)

    state.docs[("bill", "b1")].fail("refused by Xero")
    state.docs.trim(live=0)

    assert state.docs[("bill", "b1")].reason == "refused by Xero"
    assert state.docs[("bill", "b2")].state != "failed"


def test_the_documents_used_last_stay_unpacked() -> None:
    state = company(4)
    state.docs[("bill", "b0")]  # used last

    state.docs.trim(live=1)

    assert state.docs.unpacked == 1
    state.docs[("bill", "b0")]
    assert state.docs.unpacked == 1  # it was the one kept
    state.docs[("bill", "b1")]
    assert state.docs.unpacked == 2


def test_a_snapshot_stores_documents_packed_and_loads_none_unpacked() -> None:
    state = company(50)
    transcoding = CompanyStateAsCompressedPickle()

    loaded = transcoding.decode(transcoding.encode(state))

    assert loaded.docs.unpacked == 0
    assert loaded == state
    assert state.docs.unpacked == 50  # taking the snapshot packed no document in use


def test_a_snapshot_from_before_documents_were_packed_loads() -> None:
    state = company(3)
    older = copy.copy(state)
    older.docs = dict(state.docs.items())  # type: ignore[assignment]  # as pickled before
    text = base64.b64encode(pickle.dumps(older, protocol=5)).decode("ascii")

    loaded = CompanyStateAsPickle().decode(text)

    assert isinstance(loaded.docs, Documents)
    assert loaded == state


def test_the_projector_writes_compressed_snapshots_and_reads_the_older_ones() -> None:
    app = SyncApplication("", APP, persistence=IN_MEMORY)
    try:
        transcoder: Any = app.mapper.transcoder
        assert transcoder.types[CompanyState].name == CompanyStateAsCompressedPickle.name
        assert CompanyStateAsPickle.name in transcoder.names
    finally:
        app.close()


def test_the_projector_keeps_at_most_live_documents_unpacked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(documents, "LIVE", 3)
    app = SyncApplication("", APP, persistence=IN_MEMORY)
    try:
        records = [connected(), *(fact("BillSubmitted", bill_data(f"b{n}")) for n in range(10))]
        app.process_batch(DOMAIN_EVENTS, 0, [(o, r.to_bytes()) for o, r in enumerate(records)])
        new = fact("BillSubmitted", bill_data("b-new")).to_bytes()
        app.process(DOMAIN_EVENTS, 0, len(records), new)

        docs = app.company(COMPANY).state.docs
        assert len(docs) == 11 and docs.unpacked == 3
    finally:
        app.close()
