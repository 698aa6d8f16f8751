"""Failures on demand, per organisation: errors, slowness, and the dangerous one, a change
applied and then the connection dropped before the answer leaves.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from .settings import Faults, Settings


@dataclass
class FaultPlan:
    error_status: int | None = None
    delay_seconds: float = 0.0
    drop: bool = False
    latency_seconds: float = 0.0


def _fires(rate: float, rng: random.Random) -> bool:
    return rate > 0 and rng.random() < rate


def plan_for(settings: Settings, tenant_id: str, method: str, rng: random.Random) -> FaultPlan:
    faults: Faults | None = settings.faults.get(tenant_id) or settings.faults.get("*")
    if faults is None:
        return FaultPlan()
    plan = FaultPlan(latency_seconds=faults.latency_seconds)
    if faults.error_next > 0:
        faults.error_next -= 1
        plan.error_status = faults.error_status
        return plan
    if _fires(faults.error_rate, rng):
        plan.error_status = faults.error_status
        return plan
    delayed = not faults.delay_methods or method.upper() in faults.delay_methods
    if delayed and faults.delay_next > 0:
        faults.delay_next -= 1
        plan.delay_seconds = faults.delay_seconds
    elif delayed and _fires(faults.delay_rate, rng):
        plan.delay_seconds = faults.delay_seconds
    if method.upper() in faults.drop_methods:
        if faults.drop_next > 0:
            faults.drop_next -= 1
            plan.drop = True
        elif _fires(faults.drop_rate, rng):
            plan.drop = True
    return plan
