"""A month-end backlog of facts does not hold up a small company whose facts share its
partition (issue 14: fairness in the projector): the small company's bill is applied after
one turn of the backlog, not after all of it, and every backlog bill is still applied once.

Small turns on purpose (``pipeline_env``): 4 records of one company per turn, so a backlog of
40 bills is deferred and read again ten times.
"""

from __future__ import annotations

import uuid

import psycopg
import pytest

from shared.contracts.topics import DOMAIN_EVENTS
from tests.fixtures.pipeline import Pipeline, wait_for
from tests.support.event_builders import bill, line
from tests.support.partitions import sharing_a_partition

BACKLOG = 40


@pytest.fixture
def pipeline_env() -> dict[str, str]:
    return {"RX_PROJECTOR_COMPANY_SHARE": "4"}


def applied_order(dsn: str, companies: tuple[str, ...]) -> list[tuple[str, str]]:
    """(company, bill id) in the order the projector first wrote each bill's history."""
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT company_id, roger_id FROM sync_history WHERE company_id = ANY(%s) "
            "AND kind = 'bill' GROUP BY company_id, roger_id ORDER BY min(seq)",
            (list(companies),),
        ).fetchall()
    return [(c, r) for c, r in rows]


def test_a_backlog_of_facts_does_not_hold_up_the_company_behind_it(
    pipeline: Pipeline, fresh_database: str
) -> None:
    big, small = sharing_a_partition(f"pfair-{uuid.uuid4().hex[:6]}", DOMAIN_EVENTS)
    for company in (big, small):
        pipeline.connect(company, pipeline.new_organisation(f"Org {company}"))
    lines = [line("Paper", "1", "100.00")]
    backlog = [bill(big, f"M-{n}", lines, "100.00", number=f"M-{n}") for n in range(BACKLOG)]
    # One request: on the partition, the small company's fact is behind the whole backlog.
    posted = pipeline.post_events([*backlog, bill(small, "T-1", lines, "100.00", number="T-1")])
    assert posted.status_code == 202

    order = wait_for(
        lambda: (o := applied_order(fresh_database, (big, small))) and len(o) == BACKLOG + 1 and o,
        120,
        "every bill applied",
    )

    before = order.index((small, "T-1"))
    assert before < BACKLOG // 2, f"the small company waited for {before} of the backlog's bills"
    assert sorted(order) == sorted([(big, f"M-{n}") for n in range(BACKLOG)] + [(small, "T-1")])
    # Deferred and read again in turns, the backlog's bills are applied in their order.
    assert [r for c, r in order if c == big] == [f"M-{n}" for n in range(BACKLOG)]
