"""The one submit path: durable, idempotent, numbered, validated."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from intake import AttachmentIn, Contact, InvalidReport, Location, Report, submit
from intake.models import Attachment, Blob, Case, CaseEvent, ReportRecord
from intake.numbering import local_day
from intake.runtime import Runtime
from intake.states import CaseStatus


def report(source_id: str = "r-1", **fields: object) -> Report:
    values: dict[str, object] = {"channel": "web", "source_id": source_id, "text": "井盖丢失"}
    values.update(fields)
    return Report(**values)  # type: ignore[arg-type]


def test_submit_stores_case_report_and_history(runtime: Runtime) -> None:
    result = submit(
        report(
            text="第一行：井盖丢失\n第二行：详情",
            contact=Contact(phone="+8613812348000"),
            location=Location(lat=40.32, lon=116.63, address="泉河街道青春路12号"),
            category="manhole-cover",
            raw=b"description=%E4%BA%95",
            raw_content_type="application/x-www-form-urlencoded",
        )
    )
    assert result.new_case and not result.duplicate
    assert re.fullmatch(r"\d{8}-000001", result.case_number)
    with runtime.db.transaction() as session:
        case = session.scalars(select(Case)).one()
        assert case.summary == "第一行：井盖丢失" and case.reporter_phone == "+8613812348000"
        stored = session.get(ReportRecord, result.report_id)
        assert stored is not None and stored.raw == b"description=%E4%BA%95"
        event = session.scalars(select(CaseEvent)).one()
        assert (event.kind, event.channel, event.actor, event.public) == ("received", "web", "citizen", True)


def test_five_retries_make_one_report(runtime: Runtime) -> None:
    results = [submit(report()) for _ in range(5)]
    assert {r.case_number for r in results} == {results[0].case_number}
    assert [r.duplicate for r in results] == [False, True, True, True, True]
    with runtime.db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(ReportRecord)) == 1


def test_concurrent_retries_of_one_report_make_one_report(runtime: Runtime) -> None:
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda _: submit(report("same")), range(16)))
    assert len({r.case_number for r in results}) == 1
    assert sum(not r.duplicate for r in results) == 1
    with runtime.db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(ReportRecord)) == 1
        assert session.scalar(select(func.count()).select_from(Case)) == 1


def test_case_numbers_are_unique_dense_and_sort_by_time_under_concurrency(runtime: Runtime) -> None:
    with ThreadPoolExecutor(8) as pool:
        numbers = list(pool.map(lambda i: submit(report(f"c-{i}")).case_number, range(60)))
    assert len(set(numbers)) == 60
    day = local_day(datetime.now(UTC), "Asia/Shanghai")
    assert sorted(numbers) == [f"{day}-{i:06d}" for i in range(1, 61)]
    with runtime.db.transaction() as session:
        by_time = session.scalars(select(Case.number).order_by(Case.created_at, Case.id)).all()
    assert sorted(by_time) == sorted(numbers)


def test_case_numbers_follow_the_local_day(runtime: Runtime) -> None:
    # 17:30 UTC on 25 Nov is 01:30 on 26 Nov in Beijing.
    late = submit(report("late", received_at=datetime(2026, 11, 25, 17, 30, tzinfo=UTC)))
    assert late.case_number == "20261126-000001"
    early = submit(report("early", received_at=datetime(2026, 11, 25, 15, 0, tzinfo=UTC)))
    assert early.case_number == "20261125-000001"


def test_uploaded_attachment_is_stored_once_by_content(runtime: Runtime) -> None:
    photo = AttachmentIn(filename="a.jpg", content_type="image/jpeg", data=b"\xff\xd8photo\xff\xd9")
    submit(report("a", attachments=(photo,)))
    submit(report("b", attachments=(photo,)))
    with runtime.db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(Attachment)) == 2
        assert session.scalar(select(func.count()).select_from(Blob)) == 1
        assert set(session.scalars(select(Attachment.status))) == {"stored"}


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"text": "  "}, "text"),
        ({"text": "x" * 20_001}, "text"),
        ({"source_id": ""}, "source_id"),
        ({"channel": ""}, "channel"),
        ({"location": Location(lat=40.0)}, "location"),
        ({"location": Location(lat=95.0, lon=116.0)}, "lat"),
        ({"location": Location(lat=40.0, lon=float("nan"))}, "lon"),
        ({"priority": 9}, "priority"),
        ({"attachments": (AttachmentIn(filename="x"),)}, "attachments"),
    ],
)
def test_invalid_reports_are_refused_naming_the_field(runtime: Runtime, fields: dict, field: str) -> None:
    with pytest.raises(InvalidReport) as caught:
        submit(report(**fields))
    assert caught.value.field == field
    with runtime.db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(Case)) == 0


def test_oversized_upload_is_refused(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runtime.config.worker, "max_attachment_bytes", 1024)
    big = AttachmentIn(filename="big.jpg", content_type="image/jpeg", data=b"\x00" * 2048)
    with pytest.raises(InvalidReport, match="larger than 1024 bytes"):
        submit(report(attachments=(big,)))


def test_a_report_continuing_a_case_joins_it_while_it_is_open(runtime: Runtime) -> None:
    first = submit(report("mail-1"))
    reply = submit(report("mail-2", text="补充：在路口东侧", continues_case=first.case_number))
    assert reply.case_number == first.case_number and not reply.new_case
    with runtime.db.transaction() as session:
        case = session.scalars(select(Case).where(Case.number == first.case_number)).one()
        kinds = session.scalars(select(CaseEvent.kind).where(CaseEvent.case_id == case.id).order_by(CaseEvent.id))
        assert list(kinds) == ["received", "report_added"]
        case.status = CaseStatus.CLOSED  # the reply to a closed case is a new problem
    later = submit(report("mail-3", text="又坏了", continues_case=first.case_number))
    assert later.new_case and later.case_number != first.case_number
    unknown = submit(report("mail-4", text="另一件事", continues_case="20990101-000001"))
    assert unknown.new_case
