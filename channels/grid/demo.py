"""Demo: the register of grid workers (the fixture's CSV) and a worker's report with a GPS point and a photo,
sent to the workers' API with a device token as the phone page sends it."""

from __future__ import annotations

import json
from pathlib import Path

from channels.app.otp import code_delivery_note
from channels.common import DemoContext
from channels.grid.workers import import_workers, issue_token, worker_by_code

FIXTURES = Path(__file__).parent / "fixtures"
WORKER = "HR0001"
#: Where the demo camera watches too (channels/camera/demo.py): the two reports are one problem.
POINT = (40.3301, 116.6368)


def load(context: DemoContext) -> list[str]:
    runtime = context.runtime
    with runtime.db.transaction() as session:
        done = import_workers(session, FIXTURES / "workers.csv")
        worker = worker_by_code(session, WORKER)
        assert worker is not None
        token = issue_token(session, worker, "demo phone", days=1)
        name, phone, cell = worker.name, worker.phone, worker.grid_code
    sample = json.loads((FIXTURES / "report.json").read_text(encoding="utf-8"))
    body = {
        "description": "府前街与青春路口东南角两辆货车长期占用人行道停放，行人只能绕行机动车道。",
        "category": "illegal-parking",
        "address": "泉河街道府前街与青春路口东南角",
        "lat": POINT[0],
        "lon": POINT[1],
        "client_id": "demo-grid-0001",
        "photos": sample["photos"],
    }
    response = context.client.post(
        "/api/v1/grid/reports", json=body, headers={"Authorization": f"Bearer {token}", "Accept-Language": "zh"}
    )
    if response.status_code not in (200, 201):
        raise RuntimeError(f"the grid workers' API refused the demo report: {response.status_code} {response.text}")
    url = runtime.config.public_url
    return [
        f"{done.created} grid workers registered; a report with a GPS point and a photo from {WORKER} {name}",
        f"try: {url}/grid, sign in as {WORKER} {name} (cell {cell}) with {phone.removeprefix('+86')}; "
        + code_delivery_note(),
    ]
