"""Changing cases: the only place a status changes, and every change lands in the history."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from intake.errors import CaseNotFound, IllegalTransition
from intake.models import Case, CaseEvent, utcnow
from intake.states import Action, CaseStatus, target_status

log = logging.getLogger(__name__)

#: Actions whose event is shown on the public tracking page.
PUBLIC_ACTIONS = frozenset(
    {
        Action.QUEUE,
        Action.INVALIDATE,
        Action.MERGE,
        Action.DISPATCH,
        Action.ACCEPT,
        Action.REPORT_RESULT,
        Action.CLOSE,
        Action.REOPEN,
    }
)

#: Called after every applied action, inside its transaction: ``hook(session, case, action, event)``.
TransitionHook = Callable[[Session, Case, Action, CaseEvent], None]
_transition_hooks: list[TransitionHook] = []


def on_transition(hook: TransitionHook) -> TransitionHook:
    """Register ``hook`` to run after each action (notifications, routing clocks, ...)."""
    if hook not in _transition_hooks:
        _transition_hooks.append(hook)
    return hook


def record(
    session: Session,
    case: Case,
    kind: str,
    *,
    actor: str,
    channel: str | None = None,
    detail: dict[str, Any] | None = None,
    public: bool = False,
    from_status: str | None = None,
    to_status: str | None = None,
    at: datetime | None = None,
) -> CaseEvent:
    """Append one entry to the case's history."""
    event = CaseEvent(
        case=case,
        at=at or utcnow(),
        actor=actor,
        channel=channel,
        kind=kind,
        detail=detail or {},
        public=public,
        from_status=from_status,
        to_status=to_status,
    )
    session.add(event)
    return event


def apply(
    session: Session,
    case: Case,
    action: Action,
    *,
    actor: str,
    channel: str | None = None,
    reason: str | None = None,
    department_code: str | None = None,
    merged_into: Case | None = None,
    due_at: datetime | None = None,
    detail: dict[str, Any] | None = None,
) -> CaseEvent:
    """Apply ``action`` to ``case``: check it is allowed, change the case, record it, run the hooks.

    Raises :class:`IllegalTransition` when the case's status does not allow the action, and
    :class:`ValueError` when the action lacks what it needs (a department, a reason, ...).
    """
    old = case.status
    new = target_status(old, action)
    if new is None:
        raise IllegalTransition(case.number, old.value, action.value)
    detail = dict(detail or {})
    now = utcnow()
    if action in (Action.INVALIDATE, Action.RETURN, Action.REOPEN, Action.CHECK_FAIL, Action.EXTEND) and not reason:
        raise ValueError(f"{action.value} needs a reason")
    if reason:
        detail["reason"] = reason
    if action is Action.DISPATCH:
        if not department_code:
            raise ValueError("dispatch needs a department")
        case.department_code = department_code
        detail["department"] = department_code
    elif action is Action.MERGE:
        if merged_into is None or merged_into.id == case.id:
            raise ValueError("merge needs another case to merge into")
        case.merged_into_id = merged_into.id
        detail["into"] = merged_into.number
        carried = _carry_merged(session, case, merged_into, actor=actor, channel=channel, at=now)
        if carried:
            detail["carried"] = carried
    elif action is Action.EXTEND:
        if due_at is None:
            raise ValueError("an extension needs the new deadline")
        detail["from"] = case.due_at.isoformat() if case.due_at else None
        case.due_at = due_at
        detail["to"] = due_at.isoformat()
    elif action is Action.QUEUE:
        case.queued_at = now
    elif action is Action.RETURN:
        case.department_code = None
    if new is CaseStatus.CLOSED:
        case.closed_at = now
    elif action is Action.REOPEN:
        case.closed_at = None
    case.status = new
    case.updated_at = now
    case.version = (case.version or 0) + 1
    event = record(
        session,
        case,
        action.value,
        actor=actor,
        channel=channel,
        detail=detail,
        public=action in PUBLIC_ACTIONS,
        from_status=old.value,
        to_status=new.value,
        at=now,
    )
    for hook in _transition_hooks:
        hook(session, case, action, event)
    return event


def _carry_merged(
    session: Session, case: Case, target: Case, *, actor: str, channel: str | None, at: datetime
) -> list[str]:
    """Duplicates merged into ``case`` follow it into ``target``: merging stays one level deep.

    Whoever reads "the cases merged into X" (notices to reporters, the city's orders, the reports on
    the case page) then finds every duplicate, however the merges were chained.
    """
    followers = session.scalars(select(Case).where(Case.merged_into_id == case.id).with_for_update()).all()
    for follower in followers:
        follower.merged_into_id = target.id
        follower.updated_at = at
        follower.version = (follower.version or 0) + 1
        record(
            session,
            follower,
            "merge_moved",
            actor=actor,
            channel=channel,
            detail={"from": case.number, "into": target.number},
            at=at,
        )
    return [follower.number for follower in followers]


def get_case(session: Session, number: str, *, for_update: bool = False) -> Case:
    query = select(Case).where(Case.number == number)
    if for_update:
        query = query.with_for_update()
    case = session.scalar(query)
    if case is None:
        raise CaseNotFound(number)
    return case


def latest_results(session: Session, case_ids: Sequence[int]) -> dict[int, str]:
    """Case id → the result its unit reported last (cases without one are left out)."""
    if not case_ids:
        return {}
    latest = (
        select(func.max(CaseEvent.id))
        .where(CaseEvent.case_id.in_(case_ids), CaseEvent.kind == Action.REPORT_RESULT.value)
        .group_by(CaseEvent.case_id)
    )
    rows = session.execute(select(CaseEvent.case_id, CaseEvent.detail).where(CaseEvent.id.in_(latest))).all()
    return {case_id: str((detail or {}).get("result", "")).strip() for case_id, detail in rows}


def latest_result(session: Session, case: Case, max_chars: int | None = None) -> str:
    """The result the case's unit reported last ("" if none), cut to ``max_chars`` with an ellipsis."""
    text = latest_results(session, [case.id]).get(case.id, "")
    return shorten(text, max_chars) if max_chars else text


def shorten(text: str, max_chars: int) -> str:
    return text if len(text) <= max_chars else text[: max_chars - 1] + "…"
