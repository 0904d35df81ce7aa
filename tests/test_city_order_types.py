"""Every kind of city work order (工单类型) the platform pushes opens a case that says which kind it is.

``order_push.json`` (an event, 0) and ``order_hazard.json`` (a hazard, 3) are the captured pushes of
``test_city_orders``; the warning (1), risk (2) and device (4) orders are the same push with the type the
platform sets for them, which is the only difference the city's format makes between them.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from intake.models import ReportRecord
from intake.runtime import Runtime
from tests.support import RecordingServer
from tests.test_city_orders import city_peer, order, push, stored

__all__ = ["city_peer"]


@pytest.mark.parametrize(
    ("workordertype", "kind"),
    [(0, "event"), (1, "warning"), (2, "risk"), (3, "hazard"), (4, "device")],
    ids=["event", "warning", "risk", "hazard", "device"],
)
def test_each_kind_of_order_opens_a_case_marked_with_its_kind(
    runtime: Runtime, live_server: str, city_peer: RecordingServer, workordertype: int, kind: str
) -> None:
    code = f"SJ2025061200{workordertype:04d}"
    answer = push(live_server, order("order_push.json", city_peer.url, workordercode=code, workordertype=workordertype))
    assert answer.status_code == 200, answer.text
    assert answer.json()["resultData"]["workordercode"] == code
    row, case = stored(runtime, code)
    assert row.order_type == workordertype and case.channel == "city"
    with runtime.db.transaction() as session:
        report = session.scalars(select(ReportRecord).where(ReportRecord.case_id == case.id)).one()
        assert report.meta["order_type"] == kind and report.source_id == f"beijing:{code}"
