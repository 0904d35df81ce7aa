"""What an agent does to the case they hold: correct it, mark it invalid, dispatch it, let it go.

Every action needs the agent's live claim on the case (a supervisor may act on any case), goes
through :func:`intake.cases.apply` or records its change, and so lands in the case's history.
"""

from __future__ import annotations

import math
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from agent_ui.errors import ActionRefused
from intake.auth import Role
from intake.cases import apply, get_case, record
from intake.categories import load as load_categories
from intake.errors import CaseNotFound, IllegalTransition
from intake.i18n import translate
from intake.models import Case, CaseEvent, OutboundStatus, User, utcnow
from intake.outbound import queue_message
from intake.runtime import get_runtime
from intake.states import Action, CaseStatus
from routing.calendar import calendar_for
from routing.deadlines import verify_due
from routing.models import Department
from routing.rules import Proposal, propose
from routing.settings import routing_settings

#: Reasons an agent picks from when marking a case invalid (free text may follow).
INVALID_REASONS = ("spam", "test", "not_government", "duplicate_call", "insufficient", "other")
#: Fields an agent may correct while verifying.
EDITABLE = ("category", "priority", "address", "lat", "lon")


def _held_case(session: Session, number: str, user: User) -> Case:
    try:
        case = get_case(session, number, for_update=True)
    except CaseNotFound as err:
        raise ActionRefused(404, f"no case {number}") from err
    holds = case.claimed_by_id == user.id and case.lease_until is not None and case.lease_until >= utcnow()
    if not holds and user.role != Role.SUPERVISOR:
        raise ActionRefused(409, "take the case first (Next case): you do not hold it")
    return case


def update_case(number: str, user: User, changes: dict[str, Any]) -> dict[str, Any]:
    """Correct category, priority, address or point; returns what changed."""
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise ActionRefused(400, f"{sorted(unknown)[0]}: not a field an agent can change")
    clean = _validated(changes)
    with get_runtime().db.transaction() as session:
        case = _held_case(session, number, user)
        changed = {key: [getattr(case, key), value] for key, value in clean.items() if getattr(case, key) != value}
        for key, (_, value) in changed.items():
            setattr(case, key, value)
        if "priority" in changed and case.status is CaseStatus.VERIFYING and case.queued_at is not None:
            config = get_runtime().config
            case.due_at = verify_due(routing_settings(config), calendar_for(config), case.priority, case.queued_at)
        if {"lat", "lon"} & changed.keys():
            case.grid_code = None  # re-located: routing puts it into its cell again
            _locate(session, case)
        if changed:
            case.updated_at = utcnow()
            case.version += 1
            record(session, case, "updated", actor=f"user:{user.username}", channel="console", detail=changed)
    return {key: new for key, (_, new) in changed.items()}


def _validated(changes: dict[str, Any]) -> dict[str, Any]:
    clean: dict[str, Any] = {}
    if "category" in changes:
        if changes["category"] not in load_categories():
            raise ActionRefused(400, "category: not in the taxonomy")
        clean["category"] = changes["category"]
    if "priority" in changes:
        if changes["priority"] not in (1, 2, 3, 4):
            raise ActionRefused(400, "priority: must be 1 (urgent) to 4 (low)")
        clean["priority"] = changes["priority"]
    if "address" in changes:
        address = str(changes["address"] or "").strip()
        if len(address) > 500:
            raise ActionRefused(400, "address: longer than 500 characters")
        clean["address"] = address or None
    if ("lat" in changes) != ("lon" in changes):
        raise ActionRefused(400, "lat/lon: give both")
    if "lat" in changes:
        lat, lon = changes["lat"], changes["lon"]
        if not all(isinstance(v, int | float) and math.isfinite(v) for v in (lat, lon)):
            raise ActionRefused(400, "lat/lon: must be numbers")
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            raise ActionRefused(400, "lat/lon: out of range")
        clean["lat"], clean["lon"] = float(lat), float(lon)
    return clean


def _locate(session: Session, case: Case) -> None:
    from routing.geo import locate_cases

    locate_cases(session, [case])


def invalidate(number: str, user: User, reason: str, note: str = "") -> None:
    if reason not in INVALID_REASONS:
        raise ActionRefused(400, f"reason: use any of {', '.join(INVALID_REASONS)}")
    with get_runtime().db.transaction() as session:
        case = _held_case(session, number, user)
        _apply(session, case, Action.INVALIDATE, user, reason=reason, detail={"note": note[:500]} if note else None)
        case.claimed_by_id = None
        case.lease_until = None


def dispatch(number: str, user: User, department: str, override_reason: str = "") -> None:
    """Send the case to a unit. Routing proposes one; choosing another needs a reason."""
    override_reason = override_reason.strip()[:500]
    with get_runtime().db.transaction() as session:
        case = _held_case(session, number, user)
        if session.scalar(select(Department.code).where(Department.code == department)) is None:
            raise ActionRefused(400, f"department: no unit {department!r}")
        proposal = propose(routing_settings(get_runtime().config), category=case.category, grid_code=case.grid_code)
        overridden = proposal.unit is not None and proposal.unit != department
        if overridden and not override_reason:
            raise ActionRefused(400, f"override_reason: routing proposes {proposal.unit}; say why you choose another")
        detail: dict[str, Any] = {"proposed": proposal.unit, "basis": proposal.basis, "rule": proposal.rule}
        if overridden:
            detail["override_reason"] = override_reason
        case.route_reason = proposal_text(proposal, "zh")[:200]
        _apply(session, case, Action.DISPATCH, user, department_code=department, detail=detail)
        case.claimed_by_id = None
        case.lease_until = None


def proposal_text(proposal: Proposal, lang: str | None = None) -> str:
    """Why routing proposes this unit, for the agent (the rule's name, or the default owner)."""
    from intake.web import lang as request_lang

    language = lang or request_lang()
    return translate(f"console.route.{proposal.basis}", language, rule=proposal.rule or "", reason=proposal.reason)


def merge(number: str, user: User, into: str) -> None:
    """Fold the held case into an open case about the same problem; its reporters follow that case."""
    from agent_ui.duplicates import TARGET_STATUSES

    with get_runtime().db.transaction() as session:
        case = _held_case(session, number, user)
        try:
            target = get_case(session, into, for_update=True)
        except CaseNotFound as err:
            raise ActionRefused(400, f"into: no case {into}") from err
        if target.id == case.id or target.status not in TARGET_STATUSES:
            raise ActionRefused(409, f"into: case {into} is not an open case to merge into")
        event = _apply(session, case, Action.MERGE, user, merged_into=target)
        # The surviving case's history says what joined it, from which channel (and what followed it).
        detail: dict[str, Any] = {"from": case.number, "from_channel": case.channel}
        if event.detail.get("carried"):
            detail["carried"] = event.detail["carried"]
        record(session, target, "merged_in", actor=f"user:{user.username}", channel="console", detail=detail)
        case.claimed_by_id = None
        case.lease_until = None


#: Longest question an agent may send in one SMS, in characters.
MAX_QUESTION_CHARS = 200


def ask_for_info(number: str, user: User, question: str, lang: str) -> None:
    """Text the reporter a question; their SMS reply joins this case (threaded by their number)."""
    question = question.strip()
    if not question or len(question) > MAX_QUESTION_CHARS:
        raise ActionRefused(400, f"question: 1 to {MAX_QUESTION_CHARS} characters")
    with get_runtime().db.transaction() as session:
        case = _held_case(session, number, user)
        if not case.reporter_phone or not case.reporter_phone.startswith("+"):
            raise ActionRefused(409, "the reporter left no mobile number to text")
        body = translate("console.ask.sms", lang, number=case.number, question=question)
        message = queue_message(
            session, channel="sms", to=case.reporter_phone, body=body, case=case, actor=f"user:{user.username}"
        )
        if message.status == OutboundStatus.SUPPRESSED:
            raise ActionRefused(409, "the reporter opted out of SMS (STOP): call them instead")
        record(
            session,
            case,
            "info_requested",
            actor=f"user:{user.username}",
            channel="console",
            detail={"question": question},
        )


def _apply(session: Session, case: Case, action: Action, user: User, **kwargs: Any) -> CaseEvent:
    try:
        return apply(session, case, action, actor=f"user:{user.username}", channel="console", **kwargs)
    except IllegalTransition as err:
        raise ActionRefused(409, str(err)) from err


def reveal_phone(number: str, user: User) -> str | None:
    """The reporter's full number, for a call back; every look is in the case's history."""
    with get_runtime().db.transaction() as session:
        try:
            case = get_case(session, number)
        except CaseNotFound as err:
            raise ActionRefused(404, f"no case {number}") from err
        record(session, case, "phone_viewed", actor=f"user:{user.username}", channel="console")
        return case.reporter_phone


def departments(lang: str) -> list[tuple[str, str]]:
    with get_runtime().db.transaction() as session:
        rows = session.execute(
            select(Department.code, Department.name_zh, Department.name_en).order_by(Department.kind, Department.code)
        ).all()
    return [(code, name_en if lang == "en" and name_en else name_zh) for code, name_zh, name_en in rows]
