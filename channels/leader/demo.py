"""Demo: the district leader opens an assignment (领导指派) and flags a citizen's case with an instruction."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from channels.common import DemoContext
from channels.leader.assign import NewCase, create_case, flag_case
from intake.models import Case, ReportRecord, User, utcnow

LEADER = "leader"
#: The website report the leader flags (intake/demo.py's first one: the missing manhole cover).
FLAGGED = ("web", "demo-1")


def load(context: DemoContext) -> list[str]:
    runtime = context.runtime
    with runtime.db.transaction() as session:
        leader = session.scalar(select(User).where(User.username == LEADER))
        if leader is None:
            return [f"no user {LEADER!r}: no leader assignment"]
        session.expunge(leader)
    now = utcnow()
    create_case(
        leader,
        NewCase(
            text="京加路怀柔段多处路面坑槽，夜间车辆颠簸，已有电动车摔倒，请组织排查修复。",
            instruction="请交通局牵头，三日内完成修复并报结果。",
            priority=2,
            due_at=now + timedelta(days=3),
            category="road-damage",
            address="泉河街道京加路沿线",
            lat=40.3352,
            lon=116.6415,
            client_id="demo-leader-1",
        ),
        lang="zh",
    )
    flagged = ""
    with runtime.db.transaction() as session:
        number = session.scalar(
            select(Case.number)
            .join(ReportRecord, ReportRecord.case_id == Case.id)
            .where(ReportRecord.channel == FLAGGED[0], ReportRecord.source_id == FLAGGED[1])
        )
        if number is not None:
            flag_case(
                session,
                number,
                leader,
                instruction="井盖缺失危及行人安全，请今天内处置。",
                priority=1,
                due_at=now + timedelta(days=1),
            )
            flagged = f"; case {number} (website) carries the leader's instruction"
    url = runtime.config.public_url
    return [
        f"1 leader's assignment{flagged}",
        f"try: {url}/leader, sign in as {LEADER} (the demo password): new assignments and instructions on cases",
    ]
