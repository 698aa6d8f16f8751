"""A month-end backlog does not hold up a small company whose commands share its partition
(issue 14: fairness within one writer), and reading the backlog again in parts makes each of
its bills once.

Small shares on purpose (``pipeline_env``): a company may hold 4 unanswered commands, in
batches of 2, so a backlog of 40 bills is set aside and read again many times.
"""

from __future__ import annotations

import uuid
from collections import Counter

import httpx
import pytest

from shared.contracts.topics import XERO_COMMANDS
from tests.fixtures.pipeline import Pipeline, wait_for
from tests.support.event_builders import bill, line
from tests.support.partitions import sharing_a_partition

BACKLOG = 40


@pytest.fixture
def pipeline_env() -> dict[str, str]:
    return {"RX_WRITER_COMPANY_SHARE": "4", "RX_XERO_BATCH_SIZE": "2"}


def bills_in_xero(pipeline: Pipeline, tenant: str) -> Counter[str]:
    """The organisation's bills, counted by InvoiceNumber."""
    invoices = pipeline.ledger(tenant)["invoices"]
    return Counter(i["InvoiceNumber"] for i in invoices if i["Type"] == "ACCPAY")


def test_a_backlog_does_not_hold_up_the_company_behind_it(pipeline: Pipeline) -> None:
    big, small = sharing_a_partition(f"fair-{uuid.uuid4().hex[:6]}", XERO_COMMANDS)
    tenants = {}
    for company in (big, small):
        tenants[company] = pipeline.new_organisation(f"Org {company}")
        pipeline.connect(company, tenants[company])
    # The backlog's organisation takes 2 s for each write: 20 calls of 2 bills, one at a time.
    httpx.put(
        f"{pipeline.sandbox_url}/_sandbox/settings",
        json={
            "faults": {
                tenants[big]: {
                    "delay_rate": 1.0,
                    "delay_seconds": 2,
                    "delay_methods": ["PUT"],
                    "drop_methods": [],
                }
            }
        },
    ).raise_for_status()
    lines = [line("Paper", "1", "100.00")]
    backlog_numbers = [f"M-{n}" for n in range(BACKLOG)]
    backlog = [bill(big, n, lines, "100.00", number=n) for n in backlog_numbers]
    assert pipeline.post_events(backlog).status_code == 202
    # The backlog's commands are on the partition (Xero holds the first of its bills) before
    # the small company's.
    wait_for(lambda: sum(bills_in_xero(pipeline, tenants[big]).values()) > 0, 180, "a first bill")

    assert (
        pipeline.post_events([bill(small, "T-1", lines, "100.00", number="T-1")]).status_code == 202
    )

    wait_for(lambda: bills_in_xero(pipeline, tenants[small]) == {"T-1": 1}, 180, "the small bill")
    made = sum(bills_in_xero(pipeline, tenants[big]).values())
    assert made < BACKLOG // 2, f"the small company waited for {made} of the backlog's bills"
    # Read again in parts, the backlog still makes each bill once.
    wait_for(lambda: len(bills_in_xero(pipeline, tenants[big])) == BACKLOG, 300, "the backlog")
    assert bills_in_xero(pipeline, tenants[big]) == dict.fromkeys(backlog_numbers, 1)
