"""A case that is both a city order and a leader's assignment: the earlier finish deadline wins, whatever
order the transition hooks run in, and a local extension moves neither deadline."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from channels.city.orders import keep_city_deadlines
from channels.leader.assign import flag_case, on_dispatch
from intake import cases
from intake.auth import create_user
from intake.cases import apply, get_case
from intake.models import Case, User
from intake.processing import process_received
from intake.runtime import Runtime
from intake.states import Action
from tests.conftest import PASSWORD
from tests.support import RecordingServer
from tests.test_city_orders import city_peer, city_time, local, order, push, stored

__all__ = ["city_peer"]  # the city's side (a real HTTP server), a fixture of tests/test_city_orders.py


def swap_city_and_leader_hooks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Run the city's hook before the leader's instead of after (routing's stays first)."""
    hooks = list(cases._transition_hooks)
    city, leader = hooks.index(keep_city_deadlines), hooks.index(on_dispatch)
    hooks[city], hooks[leader] = hooks[leader], hooks[city]
    monkeypatch.setattr(cases, "_transition_hooks", hooks)


def city_case(runtime: Runtime, live_server: str, peer: RecordingServer, due: datetime) -> str:
    body = order("order_push.json", peer.url, dispatchtime=city_time(local()), processlimited=city_time(due))
    assert push(live_server, body).status_code == 200
    process_received()
    return stored(runtime)[1].number


def flag(runtime: Runtime, number: str, due: datetime) -> None:
    with runtime.db.transaction() as session:
        leader = session.scalar(select(User).where(User.username == "leader1"))
        if leader is None:
            leader = create_user(session, "leader1", "leader", PASSWORD)
            session.flush()
        flag_case(session, number, leader, instruction="限期办结", priority=2, due_at=due)


def dispatch_and_accept(runtime: Runtime, number: str) -> Case:
    with runtime.db.transaction() as session:
        case = get_case(session, number)
        apply(session, case, Action.DISPATCH, actor="user:agent1", department_code="water")
        apply(session, case, Action.ACCEPT, actor="user:water1")
    return stored(runtime)[1]


@pytest.mark.parametrize("hook_order", ["registered", "swapped"])
def test_an_earlier_leaders_deadline_beats_the_citys(
    runtime: Runtime,
    live_server: str,
    city_peer: RecordingServer,
    places: None,
    monkeypatch: pytest.MonkeyPatch,
    hook_order: str,
) -> None:
    if hook_order == "swapped":
        swap_city_and_leader_hooks(monkeypatch)
    city_due = local(10).replace(hour=18, minute=0, second=0)
    leader_due = local(1).replace(second=0)
    number = city_case(runtime, live_server, city_peer, city_due)
    flag(runtime, number, leader_due)
    case = dispatch_and_accept(runtime, number)
    assert case.finish_due_at == leader_due and case.due_at == leader_due
    assert case.respond_due_at is not None and case.respond_due_at <= leader_due
    assert case.feedback_due_at == leader_due
    # A supervisor's extension moves neither the leader's deadline nor the city's.
    with runtime.db.transaction() as session:
        held = get_case(session, number)
        apply(session, held, Action.EXTEND, actor="user:boss", reason="同意", due_at=city_due + timedelta(days=5))
        assert held.finish_due_at == leader_due and held.due_at == leader_due


@pytest.mark.parametrize("hook_order", ["registered", "swapped"])
def test_an_earlier_city_deadline_beats_a_later_leaders(
    runtime: Runtime,
    live_server: str,
    city_peer: RecordingServer,
    places: None,
    monkeypatch: pytest.MonkeyPatch,
    hook_order: str,
) -> None:
    if hook_order == "swapped":
        swap_city_and_leader_hooks(monkeypatch)
    city_due = local(2).replace(hour=18, minute=0, second=0)
    leader_due = local(6).replace(second=0)
    number = city_case(runtime, live_server, city_peer, city_due)
    flag(runtime, number, leader_due)
    case = dispatch_and_accept(runtime, number)
    assert case.finish_due_at == city_due and case.due_at == city_due
    # The city grants more time by a resend: still capped by the leader's deadline.
    later = local(8).replace(hour=18, minute=0, second=0)
    resent = order("order_push.json", city_peer.url, dispatchtime=city_time(local()), processlimited=city_time(later))
    assert push(live_server, resent).status_code == 200
    _, after = stored(runtime)
    assert after.finish_due_at == leader_due and after.due_at == leader_due


def test_a_leader_flagging_a_city_case_with_a_unit_tightens_it(
    runtime: Runtime, live_server: str, city_peer: RecordingServer, places: None
) -> None:
    city_due = local(10).replace(hour=18, minute=0, second=0)
    number = city_case(runtime, live_server, city_peer, city_due)
    assert dispatch_and_accept(runtime, number).finish_due_at == city_due
    leader_due = local(1).replace(second=0)
    flag(runtime, number, leader_due)
    with runtime.db.transaction() as session:
        held = get_case(session, number)
        assert held.finish_due_at == leader_due and held.due_at == leader_due
        # A later step that puts the city's deadline back (a failed check) keeps the leader's.
        apply(session, held, Action.REPORT_RESULT, actor="user:water1", reason="已处置")
        apply(session, held, Action.CHECK_FAIL, actor="user:agent1", reason="未处置到位")
        assert held.finish_due_at == leader_due and held.due_at == leader_due
