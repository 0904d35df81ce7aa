"""Deadline clocks (时限): which clocks a case gets, and keeping its due times in step with its status.

A dispatched case runs three clocks from the moment of dispatch: sign for it (``respond``), finish it
(``finish``) and report back (``feedback``). ``case.due_at`` always holds the due time of the clock
that runs now: the agents' verification countdown while it waits in the queue, then respond, finish
and feedback as the unit signs for it and reports its result.

Supervision's marks: ``warned_at`` belongs to the running clock, so each change of clock clears it
(a unit warned about signing for a case is warned again before finishing it). ``overdue_at`` (the
first time the case went past a deadline) and ``escalated_at`` belong to the unit's round: a dispatch
or a return starts a new round and clears them, an approved extension forgives the overdue mark, and
otherwise they stay, closing included, for the statistics (:mod:`routing.stats`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from intake.categories import load as load_categories
from intake.models import Case, CaseEvent
from intake.runtime import get_runtime
from intake.states import Action, CaseStatus
from routing.calendar import WorkCalendar, calendar_for
from routing.settings import CalendarSettings, Clocks, DeadlineSettings, Duration, RoutingSettings, routing_settings

log = logging.getLogger(__name__)

#: The clocks of a dispatched case, in the order they run.
CLOCK_NAMES: tuple[str, ...] = ("respond", "finish", "feedback")
#: The clock that runs in each status of the closed loop.
CLOCK_OF_STATUS: dict[CaseStatus, str] = {
    CaseStatus.DISPATCHED: "respond",
    CaseStatus.ACCEPTED: "finish",
    CaseStatus.HANDLED: "feedback",
}
#: Statuses in which a dispatched case's clocks are kept (checked: feedback still runs until closed).
_IN_LOOP = frozenset({CaseStatus.DISPATCHED, CaseStatus.ACCEPTED, CaseStatus.HANDLED, CaseStatus.CHECKED})
#: Where comparisons of clock lengths start: a Monday 09:00, where a working-day clock is at its shortest
#: in real time, so a real-time clock that wins a tie there is never the longer one from any other start.
REFERENCE_START = datetime(2024, 1, 1, 9, 0, tzinfo=UTC)

#: The built-in clocks, for any the configured default leaves out.
_BUILTIN = DeadlineSettings().default


def clocks_for(settings: RoutingSettings, category: str | None, priority: int | None) -> Clocks:
    """The clocks of a case of ``category`` and ``priority``, every one of them set.

    The default, overridden by the category's class and then its subclass, and by the priority; where
    both the category and the priority set a clock, the stricter one (due earlier from
    :data:`REFERENCE_START`, ignoring holidays) wins, and on a tie the real-time one.
    """
    deadlines = settings.deadlines
    by_category = _category_clocks(deadlines, category)
    by_priority = deadlines.priority.get(priority) if priority is not None else None
    reference = WorkCalendar(CalendarSettings(weekend=settings.calendar.weekend), "UTC")

    def length(duration: Duration) -> tuple[timedelta, bool]:
        return reference.add(REFERENCE_START, duration) - REFERENCE_START, duration.working_days

    resolved: dict[str, Duration | None] = {}
    for name in CLOCK_NAMES:
        candidates = [
            clock for clock in (getattr(by_category, name), getattr(by_priority, name, None)) if clock is not None
        ]
        if candidates:
            resolved[name] = min(candidates, key=length)
        else:
            resolved[name] = getattr(deadlines.default, name) or getattr(_BUILTIN, name)
    return Clocks(**resolved)


def _category_clocks(deadlines: DeadlineSettings, category: str | None) -> Clocks:
    """The overrides for ``category``: its class code's, then its own on top, clock by clock."""
    if not category:
        return Clocks()
    known = load_categories().get(category)
    layers = [known.class_code if known is not None else None, category]
    merged: dict[str, Duration] = {}
    for code in layers:
        overrides = deadlines.category.get(code) if code else None
        if overrides is not None:
            merged.update({name: getattr(overrides, name) for name in CLOCK_NAMES if getattr(overrides, name)})
    return Clocks(**merged)


def verify_due(settings: RoutingSettings, calendar: WorkCalendar, priority: int, since: datetime) -> datetime | None:
    """When agents should have verified a case of ``priority`` queued at ``since``; ``None``: no limit."""
    duration = settings.deadlines.verify.get(priority)
    return calendar.add(since, duration) if duration is not None else None


def current_clock(case: Case) -> tuple[str, datetime | None] | None:
    """The clock running for ``case`` in its status and its due time; ``None`` outside the loop."""
    name = CLOCK_OF_STATUS.get(case.status)
    if name is None:
        return None
    return name, getattr(case, f"{name}_due_at")


def update_clocks(session: Session, case: Case, action: Action, event: CaseEvent) -> None:
    """Transition hook: set the case's clocks for its new status and note them in the event."""
    config = get_runtime().config
    settings = routing_settings(config)
    calendar = calendar_for(config)
    now = event.at
    detail: dict[str, Any] = {}
    if action in (Action.QUEUE, Action.RETURN, Action.REOPEN):
        # Back in (or into) the agents' queue: their verification countdown runs from now.
        case.due_at = verify_due(settings, calendar, case.priority, now)
        detail["verify_due"] = _iso(case.due_at)
        if action is not Action.QUEUE:
            _clear_marks(case)  # the unit's round is over
    elif action is Action.DISPATCH:
        clocks = clocks_for(settings, case.category, case.priority)
        case.dispatched_at = now
        case.accepted_at = case.handled_at = None  # a new round after a return
        for name in CLOCK_NAMES:  # all from the dispatch: a late signature eats into finishing time
            setattr(case, f"{name}_due_at", calendar.add(now, getattr(clocks, name)))
        case.due_at = case.respond_due_at
        _clear_marks(case)
        detail["clocks"] = {name: str(getattr(clocks, name)) for name in CLOCK_NAMES}
        detail.update(_dues(case))
    elif action is Action.ACCEPT:
        case.accepted_at = now
        case.due_at = case.finish_due_at
        case.warned_at = None
    elif action is Action.REPORT_RESULT:
        case.handled_at = now
        case.due_at = case.feedback_due_at
        case.warned_at = None
    elif action is Action.EXTEND:
        # apply() has put the approved new deadline into due_at: it is the new finish deadline.
        new_finish = case.due_at
        old_finish = case.finish_due_at
        # Feedback keeps its distance behind finishing, so a later finish moves it too.
        if new_finish is not None and old_finish is not None and case.feedback_due_at is not None:
            case.feedback_due_at += max(new_finish - old_finish, timedelta(0))
        case.finish_due_at = new_finish
        running = current_clock(case)
        case.due_at = running[1] if running is not None else new_finish
        case.warned_at = case.overdue_at = None
        detail.update(_dues(case))
    elif action is Action.CHECK_FAIL:
        case.due_at = case.finish_due_at
        case.warned_at = None
    elif action in (Action.INVALIDATE, Action.MERGE, Action.CLOSE):
        case.due_at = None
    # CHECK_PASS changes nothing: the feedback clock keeps running until the case is closed.
    if detail:
        # A new dict: the JSON column does not notice changes made inside the old one.
        event.detail = {**(event.detail or {}), **detail}


# --- deadlines set outside routing: the city's (fixed) and a leader's (a cap) -------------------------

#: ``provider(session, case) -> datetime | None``: the earliest deadline some outside party set.
DeadlineProvider = Callable[[Session, Case], datetime | None]
_fixed_finish: list[DeadlineProvider] = []
_caps: list[DeadlineProvider] = []


def register_fixed_finish(provider: DeadlineProvider) -> None:
    """A deadline that *is* the case's finish deadline, whatever routing's clock says (a city order's)."""
    if provider not in _fixed_finish:
        _fixed_finish.append(provider)


def register_deadline_cap(provider: DeadlineProvider) -> None:
    """A deadline none of the unit's clocks may run past (a leader's instruction)."""
    if provider not in _caps:
        _caps.append(provider)


def settle_deadlines(session: Session, case: Case) -> tuple[datetime | None, datetime | None]:
    """Apply every outside deadline to ``case``'s clocks; return ``(fixed finish, cap)``.

    The outcome is the same whichever hook calls it, and however often: a fixed finish (the city's)
    replaces routing's finish clock, then every cap (a leader's) bounds all three clocks, so a case that is
    both a city order and a leader's assignment must finish by the earlier of the two. An extension
    approved here moves neither: the city grants its own (a resend), and a leader's deadline stands.
    """
    fixed = _earliest(provider(session, case) for provider in _fixed_finish)
    cap = _earliest(provider(session, case) for provider in _caps)
    if fixed is None and cap is None:
        return None, None
    if case.status in _IN_LOOP and case.dispatched_at is not None:
        if fixed is not None:
            case.finish_due_at = fixed
            # Signing for it cannot be due later than finishing, reporting back not earlier.
            if case.respond_due_at is None or case.respond_due_at > fixed:
                case.respond_due_at = fixed
            if case.feedback_due_at is None or case.feedback_due_at < fixed:
                case.feedback_due_at = fixed
        if cap is not None:
            for name in CLOCK_NAMES:
                due = getattr(case, f"{name}_due_at")
                if due is not None and due > cap:
                    setattr(case, f"{name}_due_at", cap)
        running = current_clock(case)
        if running is not None and running[1] is not None:
            case.due_at = running[1]
    elif case.status in (CaseStatus.RECEIVED, CaseStatus.VERIFYING) and fixed is not None:
        # Waiting for the agents: the deadline shows as finish_due_at and caps their countdown.
        finish = min(fixed, cap) if cap is not None else fixed
        case.finish_due_at = finish
        if case.due_at is None or case.due_at > finish:
            case.due_at = finish
    return fixed, cap


def _earliest(moments: Iterable[datetime | None]) -> datetime | None:
    found = [_aware(moment) for moment in moments if moment is not None]
    return min(found) if found else None


def _aware(moment: datetime) -> datetime:
    # SQLite hands some values back without the column's time zone; they are stored in UTC.
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def _clear_marks(case: Case) -> None:
    case.warned_at = case.overdue_at = case.escalated_at = None


def _dues(case: Case) -> dict[str, str | None]:
    return {f"{name}_due": _iso(getattr(case, f"{name}_due_at")) for name in CLOCK_NAMES}


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None
