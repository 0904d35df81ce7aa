"""The closed loop as an explicit state machine.

received → verifying → invalid | merged | dispatched → accepted → handled → checked → closed,
with a department's return (退单) back to verifying, a failed check back to accepted, deadline
extensions that keep the status, and reopening after close. :data:`TRANSITIONS` is the whole
definition; :func:`intake.cases.apply` is the only code that changes a case's status.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class CaseStatus(StrEnum):
    RECEIVED = "received"  # stored, not yet in the agents' queue (the worker enriches it)
    VERIFYING = "verifying"  # in the agents' queue: real? duplicate? where? what kind?
    INVALID = "invalid"
    MERGED = "merged"  # a duplicate, folded into another case
    DISPATCHED = "dispatched"  # sent to a department or town
    ACCEPTED = "accepted"  # the unit signed for it (签收)
    HANDLED = "handled"  # the unit reported a result
    CHECKED = "checked"  # the center checked the result (核查)
    CLOSED = "closed"


class Action(StrEnum):
    QUEUE = "queue"
    INVALIDATE = "invalidate"
    MERGE = "merge"
    DISPATCH = "dispatch"
    ACCEPT = "accept"
    RETURN = "return"  # 退单
    EXTEND = "extend"  # deadline extension; the status stays
    REPORT_RESULT = "report_result"
    CHECK_PASS = "check_pass"
    CHECK_FAIL = "check_fail"
    CLOSE = "close"
    REOPEN = "reopen"


@dataclass(frozen=True)
class Transition:
    sources: frozenset[CaseStatus]
    #: ``None``: the action keeps the current status (an extension).
    target: CaseStatus | None


S = CaseStatus
TRANSITIONS: dict[Action, Transition] = {
    Action.QUEUE: Transition(frozenset({S.RECEIVED}), S.VERIFYING),
    Action.INVALIDATE: Transition(frozenset({S.RECEIVED, S.VERIFYING}), S.INVALID),
    Action.MERGE: Transition(frozenset({S.RECEIVED, S.VERIFYING}), S.MERGED),
    Action.DISPATCH: Transition(frozenset({S.VERIFYING}), S.DISPATCHED),
    Action.ACCEPT: Transition(frozenset({S.DISPATCHED}), S.ACCEPTED),
    Action.RETURN: Transition(frozenset({S.DISPATCHED, S.ACCEPTED}), S.VERIFYING),
    Action.EXTEND: Transition(frozenset({S.DISPATCHED, S.ACCEPTED}), None),
    Action.REPORT_RESULT: Transition(frozenset({S.ACCEPTED}), S.HANDLED),
    Action.CHECK_PASS: Transition(frozenset({S.HANDLED}), S.CHECKED),
    Action.CHECK_FAIL: Transition(frozenset({S.HANDLED}), S.ACCEPTED),
    Action.CLOSE: Transition(frozenset({S.CHECKED}), S.CLOSED),
    Action.REOPEN: Transition(frozenset({S.CLOSED, S.INVALID}), S.VERIFYING),
}

#: Statuses in which a case is finished; new messages from the reporter open a new case.
FINAL_STATUSES: frozenset[CaseStatus] = frozenset({S.INVALID, S.MERGED, S.CLOSED})
OPEN_STATUSES: frozenset[CaseStatus] = frozenset(CaseStatus) - FINAL_STATUSES


def target_status(status: CaseStatus, action: Action) -> CaseStatus | None:
    """The status ``action`` leads to from ``status``; ``None`` if the action is not allowed there."""
    transition = TRANSITIONS[action]
    if status not in transition.sources:
        return None
    return transition.target or status


def allowed_actions(status: CaseStatus) -> list[Action]:
    return [action for action, tr in TRANSITIONS.items() if status in tr.sources]
