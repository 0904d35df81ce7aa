"""The closed loop: every (status, action) pair either follows the table or raises, and is recorded."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select

from intake.cases import apply, get_case
from intake.errors import IllegalTransition
from intake.models import CaseEvent, utcnow
from intake.report import Contact, Report
from intake.runtime import Runtime
from intake.states import TRANSITIONS, Action, CaseStatus, allowed_actions, target_status
from intake.submit import submit


#: What each action needs besides the case.
def _kwargs(session, action: Action, other: str | None = None) -> dict:  # type: ignore[no-untyped-def]
    if action is Action.DISPATCH:
        return {"department_code": "water"}
    if action is Action.MERGE:
        assert other is not None, "make the case to merge into before the transaction"
        return {"merged_into": get_case(session, other)}
    if action is Action.EXTEND:
        return {"due_at": utcnow() + timedelta(days=3), "reason": "需要协调供电部门"}
    if action in (Action.INVALIDATE, Action.RETURN, Action.REOPEN, Action.CHECK_FAIL):
        return {"reason": "测试原因"}
    return {}


#: A path from received to each status, through legal actions only.
PATHS: dict[CaseStatus, list[Action]] = {
    CaseStatus.RECEIVED: [],
    CaseStatus.VERIFYING: [Action.QUEUE],
    CaseStatus.INVALID: [Action.QUEUE, Action.INVALIDATE],
    CaseStatus.MERGED: [Action.QUEUE, Action.MERGE],
    CaseStatus.DISPATCHED: [Action.QUEUE, Action.DISPATCH],
    CaseStatus.ACCEPTED: [Action.QUEUE, Action.DISPATCH, Action.ACCEPT],
    CaseStatus.HANDLED: [Action.QUEUE, Action.DISPATCH, Action.ACCEPT, Action.REPORT_RESULT],
    CaseStatus.CHECKED: [Action.QUEUE, Action.DISPATCH, Action.ACCEPT, Action.REPORT_RESULT, Action.CHECK_PASS],
    CaseStatus.CLOSED: [
        Action.QUEUE,
        Action.DISPATCH,
        Action.ACCEPT,
        Action.REPORT_RESULT,
        Action.CHECK_PASS,
        Action.CLOSE,
    ],
}


def _new_case() -> str:
    report = Report(
        channel="web", source_id=f"s-{uuid.uuid4()}", text="路灯不亮", contact=Contact(phone="+8613800000001")
    )
    return submit(report).case_number


def _case_in(runtime: Runtime, status: CaseStatus) -> str:
    number = _new_case()
    other = _new_case()
    with runtime.db.transaction() as session:
        case = get_case(session, number)
        for action in PATHS[status]:
            apply(session, case, action, actor="user:test", **_kwargs(session, action, other))
        assert case.status is status
    return number


def test_every_status_is_reachable_and_every_action_has_a_path() -> None:
    assert set(PATHS) == set(CaseStatus)
    used = {action for path in PATHS.values() for action in path}
    assert used | {Action.RETURN, Action.EXTEND, Action.CHECK_FAIL, Action.REOPEN} == set(Action)


@pytest.mark.parametrize("status", list(CaseStatus))
def test_each_action_from_each_status_follows_the_table(runtime: Runtime, status: CaseStatus) -> None:
    for action in Action:
        number = _case_in(runtime, status)
        other = _new_case()
        with runtime.db.transaction() as session:
            case = get_case(session, number)
            events_before = len([e for e in case.events if e.kind == action.value])
            expected = target_status(status, action)
            if expected is None:
                with pytest.raises(IllegalTransition, match=f"cannot {action.value} a case that is {status.value}"):
                    apply(session, case, action, actor="user:test", **_kwargs(session, action, other))
                assert case.status is status
                continue
            event = apply(
                session, case, action, actor="user:test", channel="console", **_kwargs(session, action, other)
            )
            assert case.status is expected
            assert (event.from_status, event.to_status, event.kind) == (status.value, expected.value, action.value)
            assert len([e for e in case.events if e.kind == action.value]) == events_before + 1


def test_actions_refuse_missing_details(runtime: Runtime) -> None:
    number = _case_in(runtime, CaseStatus.VERIFYING)
    with runtime.db.transaction() as session:
        case = get_case(session, number)
        with pytest.raises(ValueError, match="department"):
            apply(session, case, Action.DISPATCH, actor="user:a")
        with pytest.raises(ValueError, match="reason"):
            apply(session, case, Action.INVALIDATE, actor="user:a")
        with pytest.raises(ValueError, match="another case"):
            apply(session, case, Action.MERGE, actor="user:a", merged_into=case)
        assert case.status is CaseStatus.VERIFYING


def test_the_whole_loop_with_return_extension_failed_check_and_reopen(runtime: Runtime) -> None:
    number = _case_in(runtime, CaseStatus.VERIFYING)
    steps = [
        (Action.DISPATCH, {"department_code": "water"}),
        (Action.RETURN, {"reason": "不属于本单位职责"}),
        (Action.DISPATCH, {"department_code": "urban-management"}),
        (Action.ACCEPT, {}),
        (Action.EXTEND, {"due_at": utcnow() + timedelta(days=5), "reason": "等待材料"}),
        (Action.REPORT_RESULT, {}),
        (Action.CHECK_FAIL, {"reason": "现场仍未修复"}),
        (Action.REPORT_RESULT, {}),
        (Action.CHECK_PASS, {}),
        (Action.CLOSE, {}),
        (Action.REOPEN, {"reason": "市民不满意"}),
    ]
    with runtime.db.transaction() as session:
        case = get_case(session, number)
        for action, kwargs in steps:
            apply(session, case, action, actor="user:test", **kwargs)
        assert case.status is CaseStatus.VERIFYING and case.closed_at is None
    with runtime.db.transaction() as session:
        kinds = session.scalars(
            select(CaseEvent.kind)
            .where(CaseEvent.case_id == case.id, CaseEvent.kind.not_like("message_%"))
            .order_by(CaseEvent.id)
        ).all()
        extension = session.scalars(select(CaseEvent).where(CaseEvent.kind == "extend")).one()
    assert kinds == ["received", "queue"] + [action.value for action, _ in steps]
    assert extension.from_status == extension.to_status == "accepted"
    assert extension.detail["reason"] == "等待材料"


def test_allowed_actions_match_the_table() -> None:
    for status in CaseStatus:
        assert set(allowed_actions(status)) == {a for a, t in TRANSITIONS.items() if status in t.sources}
