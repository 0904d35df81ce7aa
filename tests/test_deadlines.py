"""Deadline clocks: which clocks a case gets, and how every action through apply() moves them."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from intake.cases import apply, get_case
from intake.models import Case, CaseEvent, utcnow
from intake.report import Contact, Report
from intake.runtime import Runtime
from intake.states import Action, CaseStatus
from intake.submit import submit
from routing.calendar import calendar_for
from routing.deadlines import clocks_for, verify_due
from routing.settings import Duration, RoutingSettings, routing_settings

#: The routing section these tests run with (instead of config.yaml's, which the center may change).
ROUTING: dict[str, Any] = {
    "deadlines": {
        "default": {"respond": "2h", "finish": "3d", "feedback": "5wd"},
        "priority": {1: {"respond": "30m", "finish": "24h"}, 4: {"finish": "10wd"}},
        "category": {"manhole-cover": {"finish": "12h"}},
        "verify": {1: "10m", 2: "30m", 3: "2h"},
    },
    "calendar": {"weekend": [6, 7], "holidays": [], "workdays": []},
}


def settings(**deadlines: Any) -> RoutingSettings:
    return RoutingSettings.model_validate({"deadlines": deadlines})


def d(text: str) -> Duration:
    return Duration.parse(text)


# --- which clocks -------------------------------------------------------------------------------


def test_the_default_clocks_apply_when_nothing_overrides_them() -> None:
    clocks = clocks_for(settings(default={"respond": "2h", "finish": "5wd", "feedback": "7wd"}), "garbage", 3)
    assert (clocks.respond, clocks.finish, clocks.feedback) == (d("2h"), d("5wd"), d("7wd"))
    # A default that leaves a clock out falls back to the built-in one: every clock is always set.
    partial = clocks_for(settings(default={"respond": "1h"}), None, None)
    assert partial.respond == d("1h") and partial.finish == d("5wd") and partial.feedback == d("7wd")


def test_a_class_override_covers_its_subclasses_and_a_subclass_override_beats_it() -> None:
    config = settings(
        category={"public-facilities": {"respond": "1h", "finish": "3d"}, "manhole-cover": {"finish": "24h"}}
    )
    manhole = clocks_for(config, "manhole-cover", 3)
    assert (manhole.respond, manhole.finish, manhole.feedback) == (d("1h"), d("24h"), d("7wd"))
    light = clocks_for(config, "street-light", 3)  # the same class, no override of its own
    assert (light.respond, light.finish) == (d("1h"), d("3d"))
    assert clocks_for(config, "garbage", 3).finish == d("5wd")  # another class
    # A code outside the taxonomy still matches its own key.
    assert clocks_for(settings(category={"drone-sighting": {"finish": "2h"}}), "drone-sighting", 3).finish == d("2h")


def test_the_stricter_of_category_and_priority_wins_clock_by_clock() -> None:
    config = settings(
        priority={1: {"respond": "30m", "finish": "2wd"}, 2: {"finish": "2wd"}},
        category={"manhole-cover": {"respond": "2h", "finish": "24h"}, "garbage": {"finish": "3d"}},
    )
    urgent_manhole = clocks_for(config, "manhole-cover", 1)
    assert urgent_manhole.respond == d("30m")  # the priority's
    assert urgent_manhole.finish == d("24h")  # the category's: 24 h is sooner than 2 working days
    assert clocks_for(config, "garbage", 2).finish == d("2wd")  # 2 working days is sooner than 3 days
    assert clocks_for(config, "manhole-cover", 3).finish == d("24h")  # no priority override: the category's
    # A tie from the Monday reference start goes to the real-time clock, never the longer one later.
    tie = settings(priority={2: {"finish": "1wd"}}, category={"garbage": {"finish": "1d"}})
    assert clocks_for(tie, "garbage", 2).finish == d("1d")
    swapped = settings(priority={2: {"finish": "1d"}}, category={"garbage": {"finish": "1wd"}})
    assert clocks_for(swapped, "garbage", 2).finish == d("1d")


def test_a_priority_override_applies_even_when_looser_than_the_default() -> None:
    config = settings(priority={4: {"finish": "10wd"}})
    assert clocks_for(config, "garbage", 4).finish == d("10wd")
    assert clocks_for(config, "garbage", 3).finish == d("5wd")


def test_the_verification_countdown_follows_priority(runtime: Runtime) -> None:
    config = RoutingSettings.model_validate(ROUTING)
    calendar = calendar_for(runtime.config)
    now = utcnow()
    assert verify_due(config, calendar, 1, now) == now + timedelta(minutes=10)
    assert verify_due(config, calendar, 3, now) == now + timedelta(hours=2)
    assert verify_due(config, calendar, 4, now) is None  # no limit configured for low priority


# --- transitions through apply() --------------------------------------------------------------------


@pytest.fixture
def routing(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> RoutingSettings:
    """Run with :data:`ROUTING` as the configuration's routing section."""
    config = runtime.config.model_copy(update={"routing": ROUTING})
    monkeypatch.setattr(runtime, "config", config)
    return routing_settings(config)


def new_case(runtime: Runtime, *, priority: int | None = None, category: str | None = None) -> str:
    report = Report(
        channel="web",
        source_id=f"s-{uuid.uuid4()}",
        text="井盖缺失",
        contact=Contact(phone="+8613800000001"),
        priority=priority,
        category=category,
    )
    return submit(report).case_number


def act(runtime: Runtime, number: str, action: Action, **kwargs: Any) -> tuple[Case, CaseEvent]:
    """Apply one action in its own transaction; the case and event come back detached."""
    defaults: dict[str, Any] = {}
    if action is Action.DISPATCH:
        defaults["department_code"] = "water"
    if action in (Action.RETURN, Action.REOPEN, Action.CHECK_FAIL, Action.EXTEND, Action.INVALIDATE):
        defaults["reason"] = "测试原因"
    with runtime.db.transaction() as session:
        case = get_case(session, number, for_update=True)
        event = apply(session, case, action, actor="user:test", **{**defaults, **kwargs})
        session.flush()
        session.expunge_all()
    return case, event


def mark(runtime: Runtime, number: str) -> None:
    """Give the case all three supervision marks, as supervision would have."""
    with runtime.db.transaction() as session:
        case = get_case(session, number)
        case.warned_at = case.overdue_at = case.escalated_at = utcnow()


def marks(case: Case) -> tuple[Any, Any, Any]:
    return case.warned_at, case.overdue_at, case.escalated_at


def through(runtime: Runtime, number: str, *actions: Action) -> None:
    for action in actions:
        act(runtime, number, action)


def test_the_worker_queues_cases_with_the_countdown_of_their_priority(
    runtime: Runtime, routing: RoutingSettings, run_worker: Callable[[], None]
) -> None:
    urgent = new_case(runtime, priority=1)
    normal = new_case(runtime)
    run_worker()  # the real intake batch: apply(QUEUE) per case
    with runtime.db.transaction() as session:
        for number, minutes in ((urgent, 10), (normal, 120)):
            case = get_case(session, number)
            assert case.status is CaseStatus.VERIFYING
            assert case.queued_at is not None
            assert case.due_at == case.queued_at + timedelta(minutes=minutes)
            event = session.scalars(
                select(CaseEvent).where(CaseEvent.case_id == case.id, CaseEvent.kind == "queue")
            ).one()
            assert event.detail["verify_due"] == case.due_at.isoformat()


def test_dispatch_starts_the_three_clocks(runtime: Runtime, routing: RoutingSettings) -> None:
    number = new_case(runtime)
    through(runtime, number, Action.QUEUE)
    case, event = act(runtime, number, Action.DISPATCH)
    now = event.at
    calendar = calendar_for(runtime.config)
    assert case.dispatched_at == now and case.accepted_at is None and case.handled_at is None
    assert case.respond_due_at == now + timedelta(hours=2)
    assert case.finish_due_at == now + timedelta(days=3)
    assert case.feedback_due_at == calendar.add(now, Duration.parse("5wd"))
    assert case.due_at == case.respond_due_at
    assert event.detail["clocks"] == {"respond": "2h", "finish": "3d", "feedback": "5wd"}
    assert event.detail["finish_due"] == case.finish_due_at.isoformat()
    assert event.detail["department"] == "water"  # apply()'s own detail is kept


def test_dispatch_uses_the_category_and_priority_of_the_case(runtime: Runtime, routing: RoutingSettings) -> None:
    number = new_case(runtime, priority=1, category="manhole-cover")
    through(runtime, number, Action.QUEUE)
    case, event = act(runtime, number, Action.DISPATCH)
    assert case.respond_due_at == event.at + timedelta(minutes=30)  # priority 1
    assert case.finish_due_at == event.at + timedelta(hours=12)  # manhole-cover beats priority 1's 24h
    assert event.detail["clocks"]["finish"] == "12h"


def test_signing_for_reporting_and_a_failed_check_move_the_running_clock(
    runtime: Runtime, routing: RoutingSettings
) -> None:
    number = new_case(runtime)
    through(runtime, number, Action.QUEUE)
    dispatched, _ = act(runtime, number, Action.DISPATCH)
    mark(runtime, number)
    accepted, event = act(runtime, number, Action.ACCEPT)
    assert accepted.accepted_at == event.at
    assert accepted.due_at == dispatched.finish_due_at  # finishing counts from the dispatch
    warned, overdue, escalated = marks(accepted)
    assert warned is None and overdue is not None and escalated is not None  # a warning is per clock
    mark(runtime, number)
    handled, event = act(runtime, number, Action.REPORT_RESULT)
    assert handled.handled_at == event.at
    assert handled.due_at == dispatched.feedback_due_at
    assert marks(handled)[0] is None and None not in marks(handled)[1:]
    failed, _ = act(runtime, number, Action.CHECK_FAIL)
    assert failed.status is CaseStatus.ACCEPTED and failed.due_at == dispatched.finish_due_at
    assert marks(failed)[0] is None
    through(runtime, number, Action.REPORT_RESULT)
    checked, _ = act(runtime, number, Action.CHECK_PASS)
    assert checked.due_at == dispatched.feedback_due_at  # feedback still runs until closing
    mark(runtime, number)
    closed, _ = act(runtime, number, Action.CLOSE)
    assert closed.due_at is None
    assert None not in marks(closed)  # kept for the statistics: did it go past a deadline?
    assert closed.finish_due_at == dispatched.finish_due_at  # kept: was it finished in time?


def test_an_extension_moves_finishing_and_feedback(runtime: Runtime, routing: RoutingSettings) -> None:
    number = new_case(runtime)
    through(runtime, number, Action.QUEUE)
    dispatched, _ = act(runtime, number, Action.DISPATCH)
    # Extended before signing for it: the respond clock keeps running, finishing moves.
    new_finish = dispatched.finish_due_at + timedelta(days=2)
    extended, event = act(runtime, number, Action.EXTEND, due_at=new_finish)
    assert extended.finish_due_at == new_finish
    assert extended.feedback_due_at == dispatched.feedback_due_at + timedelta(days=2)
    assert extended.due_at == dispatched.respond_due_at
    assert event.detail["finish_due"] == new_finish.isoformat()
    through(runtime, number, Action.ACCEPT)
    mark(runtime, number)
    later = new_finish + timedelta(days=1)
    extended, _ = act(runtime, number, Action.EXTEND, due_at=later)
    assert extended.due_at == extended.finish_due_at == later
    assert extended.feedback_due_at == dispatched.feedback_due_at + timedelta(days=3)
    warned, overdue, escalated = marks(extended)
    assert warned is None and overdue is None and escalated is not None  # the extension forgives lateness


def test_a_return_or_reopening_restarts_the_countdown_and_a_new_dispatch_a_new_round(
    runtime: Runtime, routing: RoutingSettings
) -> None:
    number = new_case(runtime, priority=2)
    through(runtime, number, Action.QUEUE, Action.DISPATCH, Action.ACCEPT)
    mark(runtime, number)
    returned, event = act(runtime, number, Action.RETURN)
    assert returned.status is CaseStatus.VERIFYING
    assert returned.due_at == event.at + timedelta(minutes=30)
    assert event.detail["verify_due"] == returned.due_at.isoformat()
    assert marks(returned) == (None, None, None)
    redispatched, event = act(runtime, number, Action.DISPATCH)
    assert redispatched.dispatched_at == event.at and redispatched.accepted_at is None
    through(runtime, number, Action.ACCEPT, Action.REPORT_RESULT, Action.CHECK_PASS, Action.CLOSE)
    reopened, event = act(runtime, number, Action.REOPEN)
    assert reopened.due_at == event.at + timedelta(minutes=30)


@pytest.mark.parametrize("action", [Action.INVALIDATE, Action.MERGE])
def test_a_case_leaving_the_loop_has_no_deadline(runtime: Runtime, routing: RoutingSettings, action: Action) -> None:
    number = new_case(runtime)
    other = new_case(runtime)
    through(runtime, number, Action.QUEUE)
    extra: dict[str, Any] = {}
    with runtime.db.transaction() as session:
        if action is Action.MERGE:
            extra["merged_into"] = get_case(session, other)
        case = get_case(session, number)
        assert case.due_at is not None
        apply(session, case, action, actor="user:test", reason="重复", **extra)
        assert case.due_at is None
