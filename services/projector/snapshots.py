"""How a company's state is stored in a snapshot (eventsourcing's JSON transcoder).

The state is plain dataclasses holding the contracts' pydantic models, decimals
and aware datetimes; pickling it whole keeps every type exact without a
transcoding per class. The pickle is compressed (zlib, fastest: a large company's
snapshot is tens of megabytes, held several times over while JSON and base64 are
decoded on a load) and written as base64, as the transcoder writes JSON.
Snapshots are a cache of what the stored events rebuild: each transcoding's name
carries a version, older ones stay readable, and a snapshot of an older state
layout can also be dropped (``DELETE FROM rx_projector_snapshots``) and is then
rebuilt from events. Only the projector writes and reads this table (pickle
must never read untrusted bytes).
"""

from __future__ import annotations

import base64
import pickle
import zlib
from typing import Any

from eventsourcing.persistence import Transcoding

from services.projector.domain.documents import Documents
from services.projector.domain.state import CompanyState


def _company_state(state: object) -> CompanyState:
    if not isinstance(state, CompanyState):
        raise TypeError(f"snapshot holds {type(state).__name__}, not CompanyState")
    if not isinstance(state.docs, Documents):
        state.docs = Documents(state.docs)  # a snapshot from before documents were packed
    return state


class CompanyStateAsPickle(Transcoding):
    """``CompanyState`` <- base64 text of its pickle (protocol 5): snapshots written before
    they were compressed; read only."""

    type = CompanyState
    name = "company_state_pickle_v1"

    def encode(self, obj: Any) -> str:
        return base64.b64encode(pickle.dumps(obj, protocol=5)).decode("ascii")

    def decode(self, data: Any) -> CompanyState:
        return _company_state(pickle.loads(base64.b64decode(data)))  # noqa: S301 - our own table


class CompanyStateAsCompressedPickle(Transcoding):
    """``CompanyState`` <-> base64 text of its compressed pickle (protocol 5)."""

    type = CompanyState
    name = "company_state_pickle_zlib_v1"

    def encode(self, obj: Any) -> str:
        packed = zlib.compress(pickle.dumps(obj, protocol=5), 1)
        return base64.b64encode(packed).decode("ascii")

    def decode(self, data: Any) -> CompanyState:
        raw = zlib.decompress(base64.b64decode(data))
        return _company_state(pickle.loads(raw))  # noqa: S301 - our own table, see above
