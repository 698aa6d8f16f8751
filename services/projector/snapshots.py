"""How a company's state is stored in a snapshot (eventsourcing's JSON transcoder).

The state is plain dataclasses holding the contracts' pydantic models, decimals
and aware datetimes; pickling it whole (then base64, as the transcoder writes
JSON) keeps every type exact without a transcoding per class. Snapshots are a
cache of what the stored events rebuild: the transcoding's name carries a
version, so a snapshot of an older state layout can be dropped
(``DELETE FROM rx_projector_snapshots``) and is then rebuilt from events.
Only the projector writes and reads this table (pickle must never read
untrusted bytes).
"""

from __future__ import annotations

import base64
import pickle
from typing import Any

from eventsourcing.persistence import Transcoding

from services.projector.domain.documents import Documents
from services.projector.domain.state import CompanyState


class CompanyStateAsPickle(Transcoding):
    """``CompanyState`` <-> base64 text of its pickle (protocol 5)."""

    type = CompanyState
    name = "company_state_pickle_v1"

    def encode(self, obj: Any) -> str:
        return base64.b64encode(pickle.dumps(obj, protocol=5)).decode("ascii")

    def decode(self, data: Any) -> CompanyState:
        state = pickle.loads(base64.b64decode(data))  # noqa: S301 - our own table, see above
        if not isinstance(state, CompanyState):
            raise TypeError(f"snapshot holds {type(state).__name__}, not CompanyState")
        if not isinstance(state.docs, Documents):
            state.docs = Documents(state.docs)  # a snapshot from before documents were packed
        return state
