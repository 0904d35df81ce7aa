"""The closed loop after dispatch: the unit signs for a case, returns it, asks for more time and
reports the result; the center decides extensions, checks the result and closes the case.

Every step goes through :func:`intake.cases.apply` (or records its event), so it is in the case's
history, and the transition hooks (clocks, notifications, the live queue) follow. Department
users act only on their own unit's cases; supervisors and admins on any.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from intake.auth import Role
from intake.cases import apply, get_case, record
from intake.errors import CaseNotFound, IllegalTransition
from intake.models import Attachment, AttachmentStatus, Case, CaseEvent, User, utcnow
from intake.states import Action, CaseStatus
from intake.submit import store_blob
from routing.errors import ActionDenied

#: Ways the center checks a unit's result (核查).
CHECK_METHODS = ("callback", "grid_worker", "camera", "site_visit")
#: Longest note or reason, in characters.
MAX_NOTE_CHARS = 2000
#: Most photos with one result, and the largest one, in bytes.
MAX_RESULT_PHOTOS = 9
MAX_PHOTO_BYTES = 10 * 1024 * 1024
PHOTO_TYPES = frozenset({"image/jpeg", "image/png", "image/webp", "image/gif"})
#: Roles that act for the center (verify, check, close, decide extensions).
CENTER_ROLES = frozenset({Role.AGENT, Role.SUPERVISOR, Role.ADMIN})
SUPERVISING_ROLES = frozenset({Role.SUPERVISOR, Role.ADMIN})


@dataclass(frozen=True)
class Photo:
    filename: str
    content_type: str
    data: bytes


def _actor(user: User) -> str:
    return f"user:{user.username}"


def case_for_update(session: Session, number: str) -> Case:
    """The case, locked for this transaction; 404 as :class:`ActionDenied` when there is none."""
    try:
        return get_case(session, number, for_update=True)
    except CaseNotFound as err:
        raise ActionDenied(404, f"no case {number}") from err


def _unit_case(session: Session, number: str, user: User) -> Case:
    """A case the user's unit holds (or any case, for a supervisor)."""
    case = case_for_update(session, number)
    if Role(user.role) in SUPERVISING_ROLES:
        return case
    if user.role != Role.DEPARTMENT or not user.department_code or case.department_code != user.department_code:
        raise ActionDenied(403, f"case {number} is not with your unit")
    return case


def _apply(session: Session, case: Case, action: Action, user: User, **kwargs: Any) -> CaseEvent:
    channel = "department" if user.role == Role.DEPARTMENT else "console"
    try:
        return apply(session, case, action, actor=_actor(user), channel=channel, **kwargs)
    except IllegalTransition as err:
        raise ActionDenied(409, str(err)) from err


def _text(value: str, field: str, *, required: bool = True) -> str:
    value = (value or "").strip()
    if required and not value:
        raise ActionDenied(400, f"{field}: required")
    if len(value) > MAX_NOTE_CHARS:
        raise ActionDenied(400, f"{field}: longer than {MAX_NOTE_CHARS} characters")
    return value


def sign(session: Session, number: str, user: User) -> Case:
    """签收: the unit takes responsibility; the finish clock now counts."""
    case = _unit_case(session, number, user)
    _apply(session, case, Action.ACCEPT, user, detail={"department": case.department_code})
    return case


def return_case(session: Session, number: str, user: User, reason: str) -> Case:
    """退单: not ours; back to the agents to re-route. Counted, and shown to supervisors."""
    reason = _text(reason, "reason")
    case = _unit_case(session, number, user)
    department = case.department_code
    _apply(session, case, Action.RETURN, user, reason=reason, detail={"department": department})
    case.return_count += 1
    case.extension_until = None
    return case


def request_extension(session: Session, number: str, user: User, until: datetime, reason: str) -> Case:
    """延期申请: the unit asks for a later finish deadline; a supervisor decides."""
    reason = _text(reason, "reason")
    case = _unit_case(session, number, user)
    if case.status not in (CaseStatus.DISPATCHED, CaseStatus.ACCEPTED):
        raise ActionDenied(409, f"case {number} is {case.status.value}: no deadline to extend")
    current = case.finish_due_at or case.due_at
    if until <= utcnow() or (current is not None and until <= current):
        raise ActionDenied(400, "until: must be later than the current deadline")
    case.extension_until = until
    record(
        session,
        case,
        "extension_requested",
        actor=_actor(user),
        channel="department",
        detail={"until": until.isoformat(), "reason": reason, "from": current.isoformat() if current else None},
    )
    return case


def decide_extension(session: Session, number: str, user: User, *, approve: bool, note: str = "") -> Case:
    """A supervisor approves (the finish clock moves) or refuses a requested extension."""
    if Role(user.role) not in SUPERVISING_ROLES:
        raise ActionDenied(403, "only a supervisor decides extensions")
    case = case_for_update(session, number)
    if case.extension_until is None:
        raise ActionDenied(409, f"case {number} has no pending extension request")
    until = case.extension_until
    case.extension_until = None
    if approve:
        reason = _text(note, "note", required=False) or "approved"
        _apply(session, case, Action.EXTEND, user, due_at=until, reason=reason)
    else:
        record(
            session,
            case,
            "extension_refused",
            actor=_actor(user),
            channel="console",
            detail={"until": until.isoformat(), "note": _text(note, "note", required=False)},
        )
    return case


def report_result(session: Session, number: str, user: User, note: str, photos: list[Photo] | None = None) -> Case:
    """办结反馈: the unit reports what it did, with photos; the center checks it next."""
    note = _text(note, "note")
    photos = photos or []
    if len(photos) > MAX_RESULT_PHOTOS:
        raise ActionDenied(400, f"photos: at most {MAX_RESULT_PHOTOS}")
    for photo in photos:
        if photo.content_type not in PHOTO_TYPES:
            raise ActionDenied(415, f"photos: {photo.filename or 'a file'} is {photo.content_type}, not a picture")
        if len(photo.data) > MAX_PHOTO_BYTES:
            raise ActionDenied(413, f"photos: {photo.filename or 'a file'} is larger than {MAX_PHOTO_BYTES} bytes")
    case = _unit_case(session, number, user)
    event = _apply(session, case, Action.REPORT_RESULT, user, detail={"result": note, "photos": len(photos)})
    session.flush()
    for photo in photos:
        session.add(
            Attachment(
                case_id=case.id,
                event_id=event.id,
                filename=photo.filename[:255],
                content_type=photo.content_type,
                status=AttachmentStatus.STORED,
                size=len(photo.data),
                sha256=store_blob(session, photo.data),
            )
        )
    return case


def check(session: Session, number: str, user: User, *, passed: bool, method: str, note: str = "") -> Case:
    """核查: the center confirms the result (call back, grid worker, camera); a failure sends it back."""
    if Role(user.role) not in CENTER_ROLES:
        raise ActionDenied(403, "only the center checks results")
    if method not in CHECK_METHODS:
        raise ActionDenied(400, f"method: use any of {', '.join(CHECK_METHODS)}")
    note = _text(note, "note", required=not passed)
    case = case_for_update(session, number)
    detail = {"method": method, "note": note} if note else {"method": method}
    if passed:
        _apply(session, case, Action.CHECK_PASS, user, detail=detail)
    else:
        _apply(session, case, Action.CHECK_FAIL, user, reason=note, detail=detail)
    return case


def close(session: Session, number: str, user: User, note: str = "") -> Case:
    """结案: every reporter hears the result and is asked how satisfied they are."""
    if Role(user.role) not in CENTER_ROLES:
        raise ActionDenied(403, "only the center closes cases")
    case = case_for_update(session, number)
    note = _text(note, "note", required=False)
    _apply(session, case, Action.CLOSE, user, detail={"note": note} if note else None)
    return case


def reopen(session: Session, number: str, user: User, reason: str) -> Case:
    """A supervisor reopens a closed case (a "not satisfied" answer, most often) for another round."""
    if Role(user.role) not in SUPERVISING_ROLES:
        raise ActionDenied(403, "only a supervisor reopens cases")
    reason = _text(reason, "reason")
    case = case_for_update(session, number)
    _apply(session, case, Action.REOPEN, user, reason=reason)
    case.satisfaction = None
    return case
