"""``CompanySync``: one event-sourced aggregate per company.

Each stored event is one thing that happened to the company (a Roger fact, a
Xero answer, a retry). Its body re-runs the rules, so replaying the events
rebuilds exactly the state, and the commands, that were decided live.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from eventsourcing.domain import Aggregate, event

from services.projector.domain import rules
from services.projector.domain.state import CompanyState
from shared.contracts.domain_events import DomainEvent
from shared.contracts.results import XeroResult

_NAMESPACE = uuid.UUID("0b7d5a52-93a4-4f4e-8f0e-7f1f7c0f7d10")


def company_aggregate_id(company_id: str) -> uuid.UUID:
    return uuid.uuid5(_NAMESPACE, company_id)


class CompanySync(Aggregate):
    @staticmethod
    def create_id(company_id: str, app_url: str) -> uuid.UUID:
        return company_aggregate_id(company_id)

    @event("Started")
    def __init__(self, company_id: str, app_url: str) -> None:
        self.company_id = company_id
        self.app_url = app_url
        self.state = CompanyState(company_id=company_id)
        self.last_effects = rules.Effects()
        self.last_commands: list[rules.Command] = []

    def _decide(self, effects: rules.Effects, decided_at: datetime) -> None:
        self.last_effects = effects
        self.last_commands = rules.decide(self.state, effects, decided_at, self.app_url)

    @event("FactRecorded")
    def record_fact(self, fact: dict[str, Any], decided_at: datetime) -> None:
        self._decide(rules.apply_fact(self.state, DomainEvent.model_validate(fact)), decided_at)

    @event("XeroAnswerRecorded")
    def record_answer(self, result: dict[str, Any], decided_at: datetime) -> None:
        self._decide(rules.apply_result(self.state, XeroResult.model_validate(result)), decided_at)
