"""Claims on the agents' queue: head of the queue first, leases, and never two agents on one case."""

from __future__ import annotations

import threading
import uuid
from collections import Counter

import pytest
from sqlalchemy import select

from agent_ui.queue import claim_next, holder_of, release, release_all, renew
from intake import Report, submit
from intake.auth import create_user
from intake.models import Case, CaseEvent, User
from intake.runtime import Runtime
from tests.conftest import PASSWORD


def agents(runtime: Runtime, count: int) -> list[User]:
    users = []
    with runtime.db.transaction() as session:
        for index in range(count):
            users.append(create_user(session, f"agent{index}", "agent", PASSWORD))
        session.flush()
        for user in users:
            session.expunge(user)
    return users


def verifying_cases(runtime: Runtime, count: int, priority: int = 3) -> list[str]:
    numbers = [
        submit(Report(channel="web", source_id=str(uuid.uuid4()), text=f"问题{i}", priority=priority)).case_number
        for i in range(count)
    ]
    from intake.processing import process_received

    process_received()
    return numbers


def test_next_case_is_the_head_of_the_queue_and_stays_with_its_agent(runtime: Runtime) -> None:
    first, second = agents(runtime, 2)
    normal = verifying_cases(runtime, 2, priority=3)
    (urgent,) = verifying_cases(runtime, 1, priority=1)
    claim = claim_next(first)
    assert claim is not None and claim.number == urgent  # priority before age
    again = claim_next(first)
    assert again is not None and again.number == urgent  # an agent holds one case at a time
    other = claim_next(second)
    assert other is not None and other.number == normal[0]  # then the oldest
    assert holder_of(claim.case_id) == first.id
    with runtime.db.transaction() as session:
        kinds = session.scalars(select(CaseEvent.kind).where(CaseEvent.kind == "claimed")).all()
    assert len(kinds) == 2


def test_an_expired_lease_goes_back_to_the_queue(runtime: Runtime) -> None:
    first, second = agents(runtime, 2)
    verifying_cases(runtime, 1)
    claim = claim_next(first, lease_seconds=-1)  # already run out
    assert claim is not None
    assert holder_of(claim.case_id) is None
    taken = claim_next(second)
    assert taken is not None and taken.case_id == claim.case_id
    assert renew(first, claim.case_id) is None  # the first agent lost it
    assert renew(second, claim.case_id) is not None


def test_release_and_going_offline_give_cases_back(runtime: Runtime) -> None:
    (agent,) = agents(runtime, 1)
    verifying_cases(runtime, 2)
    claim = claim_next(agent)
    assert claim is not None and release(agent, claim.case_id, "wrong shift")
    assert holder_of(claim.case_id) is None
    claim = claim_next(agent)
    assert claim is not None
    assert release_all(agent, "offline") == 1
    with runtime.db.transaction() as session:
        assert session.scalar(select(Case.claimed_by_id).where(Case.id == claim.case_id)) is None
        reasons = [
            e.detail["reason"]
            for e in session.scalars(select(CaseEvent).where(CaseEvent.kind == "released").order_by(CaseEvent.id))
        ]
    assert reasons == ["wrong shift", "offline"]


@pytest.mark.timeout(120)
def test_many_concurrent_claims_never_share_a_case(runtime: Runtime) -> None:
    """40 agents press "next" at the same moment, twice, for 50 cases: each case has one holder."""
    users = agents(runtime, 40)
    verifying_cases(runtime, 50)
    barrier = threading.Barrier(len(users))
    results: dict[int, list[str | None]] = {}
    errors: list[BaseException] = []

    def work(user: User) -> None:
        try:
            taken = []
            for _ in range(2):
                barrier.wait(timeout=30)
                claim = claim_next(user)
                taken.append(claim.number if claim else None)
                if claim:
                    # Finished with it: it leaves the queue (as if dispatched), so the next claim is a new case.
                    with runtime.db.transaction() as session:
                        case = session.get(Case, claim.case_id)
                        assert case is not None
                        case.status = case.status.DISPATCHED  # type: ignore[assignment]
                        case.claimed_by_id = None
            results[user.id] = taken
        except BaseException as err:  # surfaced below
            errors.append(err)

    threads = [threading.Thread(target=work, args=(user,)) for user in users]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    claimed = [number for taken in results.values() for number in taken if number]
    assert len(claimed) == 50, Counter(claimed)  # every case was handed out ...
    assert len(set(claimed)) == 50  # ... to exactly one agent
