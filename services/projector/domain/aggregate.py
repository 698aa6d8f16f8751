"""``CompanySync``: one event-sourced aggregate per company.

Each stored event is one thing that happened to the company: a fact (Roger
event, connection change, retry), a Xero answer, a change made in Xero
(``roger.sync-back``: recorded, never decided on), or a fact that could not be
applied and was dead-lettered. Stored events hold only that input (as JSON
objects) and the decision time; their bodies re-run the rules (``facts``,
``answers``, then ``decisions``), so replaying the events rebuilds exactly the
state, and the commands, that were decided live.

Snapshots (``CompanySync.Snapshot``) bound a company's load time: the state is
stored as it stands every so many events (``application.SNAPSHOT_EVERY``), and a
load replays only the events after the latest snapshot. What one event touched
(``last_effects``, ``last_commands``) is not part of the state: a snapshot leaves
it out and a loaded aggregate starts with none.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from eventsourcing.domain import Aggregate, event
from eventsourcing.domain import Snapshot as BaseSnapshot

from services.projector.domain import answers, decisions, facts, xero_changes
from services.projector.domain.state import CompanyState, DocKind, Effects
from shared.contracts.commands import AnyCommand
from shared.contracts.domain_events import DomainEvent
from shared.contracts.results import XeroResult

_NAMESPACE = uuid.UUID("0b7d5a52-93a4-4f4e-8f0e-7f1f7c0f7d10")


def company_aggregate_id(company_id: str) -> uuid.UUID:
    return uuid.uuid5(_NAMESPACE, company_id)


_TRANSIENT = ("last_effects", "last_commands")


class CompanySnapshot(BaseSnapshot):
    """A company's state at one version, without what its last event touched."""

    @classmethod
    def take(cls, aggregate: Any) -> CompanySnapshot:
        snapshot = super().take(aggregate)
        for name in _TRANSIENT:
            snapshot.state.pop(name, None)
        return snapshot

    def mutate(self, _: None) -> Any:
        aggregate: Any = super().mutate(_)
        aggregate.last_effects = Effects()
        aggregate.last_commands = []
        return aggregate


class CompanySync(Aggregate):
    Snapshot = CompanySnapshot

    @staticmethod
    def create_id(company_id: str, app_url: str) -> uuid.UUID:
        return company_aggregate_id(company_id)

    @event("Started")
    def __init__(self, company_id: str, app_url: str) -> None:
        self.company_id = company_id
        self.app_url = app_url
        self.state = CompanyState(company_id=company_id)
        self.last_effects = Effects()
        self.last_commands: list[AnyCommand] = []

    def _decide(self, effects: Effects, decided_at: datetime) -> None:
        self.last_effects = effects
        self.last_commands = decisions.decide(self.state, effects, decided_at, self.app_url)

    @event("FactRecorded")
    def record_fact(self, fact: dict[str, Any], decided_at: datetime) -> None:
        """``fact``: a ``DomainEvent`` as JSON (``model_dump(mode="json")``)."""
        self._decide(facts.apply_fact(self.state, DomainEvent.model_validate(fact)), decided_at)

    @event("XeroAnswerRecorded")
    def record_answer(self, result: dict[str, Any], decided_at: datetime) -> None:
        """``result``: a ``XeroResult`` as JSON (``model_dump(mode="json")``)."""
        self._decide(
            answers.apply_result(self.state, XeroResult.model_validate(result)), decided_at
        )

    @event("XeroChangeRecorded")
    def record_xero_change(self, change: dict[str, Any], decided_at: datetime) -> None:
        """``change``: a ``roger.sync-back`` record as JSON (``xero_changes.SyncBackRecord``).
        Recorded only: no command is ever decided from a change made in Xero."""
        record = xero_changes.SyncBackRecord.model_validate(change)
        self.last_effects = xero_changes.apply_change(self.state, record)
        self.last_commands = []

    @event("FactDeadLettered")
    def record_dead_letter(
        self, event_id: str, kind: DocKind, roger_id: str, reason: str, decided_at: datetime
    ) -> None:
        """The fact ``event_id`` about document (``kind``, ``roger_id``) could not be applied."""
        self.last_effects = facts.fact_failed(
            self.state, event_id, kind, roger_id, reason, decided_at
        )
        self.last_commands = []
