"""Leader assignments (领导指派): a leader opens a case, or flags an open one, with an instruction (批示),
a priority and perhaps a deadline of their own; the case carries the mark and the stricter deadline.

"Stricter": the case's priority is raised to the leader's (never lowered), so the routing clocks of
that priority apply from dispatch; and where the leader set a deadline, none of the unit's clocks runs
past it, an approved extension included (a city order's deadline too gives way to an earlier leader's:
:func:`routing.deadlines.settle_deadlines`). Flagging a case that is with a unit already tightens its
running clocks at once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, aliased

from channels.app.errors import Conflict, InvalidField, NotFound
from channels.leader.models import LeaderAssignment
from intake import Contact, Location, Report, submit
from intake.cases import get_case, record
from intake.errors import CaseNotFound
from intake.models import Case, CaseEvent, User, utcnow
from intake.runtime import get_runtime
from intake.states import FINAL_STATUSES, Action, CaseStatus

log = logging.getLogger(__name__)

CHANNEL = "leader"
MAX_INSTRUCTION_CHARS = 500
EVENT = "leader_assigned"
#: The due times a leader's deadline caps, in the order the unit meets them.
CLOCK_COLUMNS = ("respond_due_at", "finish_due_at", "feedback_due_at")
#: Statuses in which a unit's clocks run.
WITH_UNIT = frozenset({CaseStatus.DISPATCHED, CaseStatus.ACCEPTED, CaseStatus.HANDLED})


@dataclass(frozen=True)
class NewCase:
    text: str
    instruction: str
    priority: int
    due_at: datetime | None
    category: str | None = None
    address: str | None = None
    lat: float | None = None
    lon: float | None = None
    client_id: str = ""


def _check(instruction: str, priority: int, due_at: datetime | None) -> None:
    if not instruction.strip():
        raise InvalidField("instruction", "required")
    if len(instruction) > MAX_INSTRUCTION_CHARS:
        raise InvalidField("instruction", f"longer than {MAX_INSTRUCTION_CHARS} characters")
    if priority not in (1, 2, 3, 4):
        raise InvalidField("priority", "1 (urgent) to 4 (low)")
    if due_at is not None and due_at <= utcnow():
        raise InvalidField("due", "must be in the future")


def create_case(leader: User, new: NewCase, *, lang: str) -> tuple[str, bool]:
    """Open a case for the leader (one submit path, channel ``leader``); returns (number, duplicate)."""
    _check(new.instruction, new.priority, new.due_at)
    result = submit(
        Report(
            channel=CHANNEL,
            source_id=f"{leader.id}:{new.client_id}",
            text=new.text,
            contact=Contact(name=leader.display_name or leader.username),
            location=Location(lat=new.lat, lon=new.lon, address=new.address),
            category=new.category,
            priority=new.priority,
            meta={"leader": leader.username, "instruction": new.instruction, "lang": lang},
        )
    )
    if result.duplicate:
        return result.case_number, True
    with get_runtime().db.transaction() as session:
        case = get_case(session, result.case_number, for_update=True)
        _assign(session, case, leader, new.instruction, new.priority, new.due_at, created=True)
    log.info("leader %s opened case %s", leader.username, result.case_number)
    return result.case_number, False


def flag_case(
    session: Session, number: str, leader: User, *, instruction: str, priority: int, due_at: datetime | None
) -> Case:
    """Mark an open case with the leader's instruction; flagging again updates it."""
    _check(instruction, priority, due_at)
    try:
        case = get_case(session, number, for_update=True)
    except CaseNotFound as err:
        raise NotFound(f"no case {number}") from err
    if case.status in FINAL_STATUSES:
        raise Conflict(f"case {number} is {case.status.value}: reopen it first")
    _assign(session, case, leader, instruction, priority, due_at, created=False)
    log.info("leader %s flagged case %s", leader.username, number)
    return case


def _assign(
    session: Session,
    case: Case,
    leader: User,
    instruction: str,
    priority: int,
    due_at: datetime | None,
    *,
    created: bool,
) -> None:
    row = session.scalar(
        select(LeaderAssignment).where(LeaderAssignment.case_id == case.id, LeaderAssignment.leader_id == leader.id)
    )
    if row is None:
        row = LeaderAssignment(case_id=case.id, leader_id=leader.id, created_case=created)
        session.add(row)
    row.instruction, row.priority, row.due_at = instruction.strip(), priority, due_at
    session.flush()
    case.priority = min(case.priority, priority)
    record(
        session,
        case,
        EVENT,
        actor=f"user:{leader.username}",
        channel=CHANNEL,
        detail={
            "note": instruction.strip(),
            "priority": priority,
            "due": due_at.isoformat() if due_at else None,
            "leader": leader.display_name or leader.username,
        },
    )
    if case.status in WITH_UNIT:
        tighten(session, case)
    elif case.status is CaseStatus.VERIFYING:
        _verify_sooner(case)


def _verify_sooner(case: Case) -> None:
    """Waiting for an agent: the verification countdown of the raised priority, if it ends sooner."""
    from routing.calendar import calendar_for
    from routing.deadlines import verify_due
    from routing.settings import routing_settings

    config = get_runtime().config
    due = verify_due(routing_settings(config), calendar_for(config), case.priority, utcnow())
    if due is not None and (case.due_at is None or due < case.due_at):
        case.due_at = due


def _assigned_to(case_id: int) -> Any:
    """The assignments a case carries: its own and those of the duplicates merged into it."""
    merged = select(Case.id).where(Case.merged_into_id == case_id)
    return or_(LeaderAssignment.case_id == case_id, LeaderAssignment.case_id.in_(merged))


def strictest_due(session: Session, case_id: int) -> datetime | None:
    due = session.scalar(select(func.min(LeaderAssignment.due_at)).where(_assigned_to(case_id)))
    # SQLite hands an aggregate back without the column's time zone; it is stored in UTC.
    return due.replace(tzinfo=UTC) if due is not None and due.tzinfo is None else due


def leader_cap(session: Session, case: Case) -> datetime | None:
    """The deadline none of the unit's clocks may pass (registered with :mod:`routing.deadlines`)."""
    return strictest_due(session, case.id)


def tighten(session: Session, case: Case) -> None:
    """Bring the unit's clocks in line with the case's priority now and every leader's deadline."""
    from routing.deadlines import current_clock, settle_deadlines

    _priority_clocks(case)
    running = current_clock(case)
    if running is not None and running[1] is not None:
        case.due_at = running[1]
    # Every leader's deadline caps the clocks, a city order's deadline (if any) stays the finish unless
    # later: the same outcome whichever transition hook runs last.
    settle_deadlines(session, case)


def _priority_clocks(case: Case) -> None:
    """A priority raised after dispatch: its clocks, counted from the dispatch, if they end sooner."""
    if case.dispatched_at is None:
        return
    from routing.calendar import calendar_for
    from routing.deadlines import CLOCK_NAMES, clocks_for
    from routing.settings import routing_settings

    config = get_runtime().config
    clocks = clocks_for(routing_settings(config), case.category, case.priority)
    calendar = calendar_for(config)
    for name in CLOCK_NAMES:
        due = calendar.add(case.dispatched_at, getattr(clocks, name))
        current = getattr(case, f"{name}_due_at")
        if current is None or due < current:
            setattr(case, f"{name}_due_at", due)


def on_dispatch(session: Session, case: Case, action: Action, event: CaseEvent) -> None:
    """Transition hook, after routing's clocks: a marked case keeps its leader's stricter deadline.

    A marked case merged into another passes its mark on: the surviving case carries the leader's
    priority and deadline (at once if it is with a unit already, else from its dispatch), and the
    leader follows the surviving case.
    """
    if action is Action.MERGE and case.merged_into_id is not None:
        rows = (
            session.execute(select(LeaderAssignment.priority).where(LeaderAssignment.case_id == case.id))
            .scalars()
            .all()
        )
        holder = session.get(Case, case.merged_into_id)
        if not rows or holder is None:
            return
        holder.priority = min(holder.priority, *rows)
        if holder.status in WITH_UNIT:
            tighten(session, holder)
        elif holder.status is CaseStatus.VERIFYING:
            _verify_sooner(holder)
        return
    # Dispatch, and an approved extension: neither carries a clock past a leader's deadline.
    if action not in (Action.DISPATCH, Action.EXTEND):
        return
    if session.scalar(select(LeaderAssignment.id).where(_assigned_to(case.id)).limit(1)) is None:
        return
    tighten(session, case)
    event.detail = {**(event.detail or {}), "leader_due": _iso(case.finish_due_at)}


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def marked_case_ids() -> Any:
    """A subquery of the cases that carry a leader's mark: assigned ones, and those duplicates were merged into."""
    duplicate = aliased(Case)
    return select(func.coalesce(duplicate.merged_into_id, duplicate.id)).join(
        LeaderAssignment, LeaderAssignment.case_id == duplicate.id
    )


def marks(session: Session, case_ids: list[int] | None = None) -> dict[int, dict[str, Any]]:
    """Case id → its leader mark (the strictest priority and deadline, the leaders' names).

    A duplicate's assignments mark the case it was merged into (merges are one level deep).
    """
    carrier = func.coalesce(Case.merged_into_id, Case.id)
    query = (
        select(carrier, func.min(LeaderAssignment.priority), func.min(LeaderAssignment.due_at), func.count())
        .join(Case, Case.id == LeaderAssignment.case_id)
        .group_by(carrier)
    )
    if case_ids is not None:
        query = query.where(carrier.in_(case_ids))
    out: dict[int, dict[str, Any]] = {}
    for case_id, priority, due, count in session.execute(query).all():
        if due is not None and due.tzinfo is None:
            due = due.replace(tzinfo=UTC)
        out[case_id] = {"priority": priority, "due_at": due, "leaders": count}
    return out


def assignments_of(session: Session, leader: User) -> list[tuple[LeaderAssignment, Case]]:
    """The leader's assignments, newest first, with their cases."""
    rows = session.execute(
        select(LeaderAssignment, Case)
        .join(Case, Case.id == LeaderAssignment.case_id)
        .where(LeaderAssignment.leader_id == leader.id)
        .order_by(LeaderAssignment.id.desc())
    ).all()
    return [(row[0], row[1]) for row in rows]
