"""Check tasks (核查) for grid workers: the center asks the worker of a handled case's cell to look at
the unit's result on site; the worker answers with photos, and the answer lands on the case.

The answer does not pass or fail the check by itself: it is the evidence. The center reads it on the
case page and checks the case with method ``grid_worker`` (:func:`routing.loop.check`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from channels.app.errors import Conflict, InvalidField, NotFound
from channels.grid.models import GridCheckTask, GridWorker, TaskStatus
from intake.cases import get_case, record
from intake.errors import CaseNotFound
from intake.i18n import translate
from intake.models import Attachment, AttachmentStatus, Case, CaseEvent, utcnow
from intake.outbound import queue_message
from intake.report import AttachmentIn
from intake.states import CaseStatus
from intake.submit import store_blob

log = logging.getLogger(__name__)

#: Statuses in which a case's result can be checked on site.
CHECKABLE = frozenset({CaseStatus.HANDLED})
#: Longest instruction from the center, in characters.
MAX_INSTRUCTION_CHARS = 500
#: Photos with one answer: at least one (the point of going there), at most this many.
MAX_ANSWER_PHOTOS = 6
#: Event kinds in the case's history.
EVENT_REQUESTED = "grid_check_requested"
EVENT_ANSWERED = "grid_check_answered"


@dataclass(frozen=True)
class TaskView:
    id: int
    status: str
    case_number: str
    case_status: str
    summary: str
    description: str
    address: str | None
    lat: float | None
    lon: float | None
    grid_code: str | None
    instruction: str
    result: str
    created_at: str
    answered_at: str | None
    resolved: bool | None
    answer_note: str | None

    def as_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def worker_of_cell(session: Session, grid_code: str) -> GridWorker | None:
    return session.scalar(
        select(GridWorker)
        .where(GridWorker.grid_code == grid_code, GridWorker.active.is_(True))
        .order_by(GridWorker.id)
        .limit(1)
    )


def create_task(
    session: Session, number: str, *, actor: str, instruction: str, worker_code: str | None, notify: bool
) -> GridCheckTask:
    """A check task for the worker of the case's cell (or the one named); one open task per case."""
    instruction = instruction.strip()
    if len(instruction) > MAX_INSTRUCTION_CHARS:
        raise InvalidField("instruction", f"longer than {MAX_INSTRUCTION_CHARS} characters")
    try:
        case = get_case(session, number, for_update=True)
    except CaseNotFound as err:
        raise NotFound(f"no case {number}") from err
    if case.status not in CHECKABLE:
        raise Conflict(f"case {number} is {case.status.value}: only a handled case's result is checked")
    if session.scalar(
        select(GridCheckTask.id).where(GridCheckTask.case_id == case.id, GridCheckTask.status == TaskStatus.OPEN)
    ):
        raise Conflict(f"case {number} has an open check task already")
    if worker_code:
        worker = session.scalar(select(GridWorker).where(GridWorker.code == worker_code, GridWorker.active.is_(True)))
        if worker is None:
            raise InvalidField("worker", f"no active grid worker {worker_code}")
    else:
        if not case.grid_code:
            raise Conflict(f"case {number} has no grid cell: name a worker")
        worker = worker_of_cell(session, case.grid_code)
        if worker is None:
            raise Conflict(f"no active grid worker looks after cell {case.grid_code}: name a worker")
    task = GridCheckTask(
        case_id=case.id, worker_id=worker.id, status=TaskStatus.OPEN, instruction=instruction, created_by=actor
    )
    session.add(task)
    session.flush()
    record(
        session,
        case,
        EVENT_REQUESTED,
        actor=actor,
        channel="grid",
        detail={"task": task.id, "worker": worker.code, "note": instruction},
    )
    if notify:
        body = translate("grid.task.sms", "zh", number=case.number, summary=case.summary[:40])
        queue_message(session, channel="sms", to=worker.phone, body=body, case=case, actor=actor)
    log.info("check task %s on case %s for grid worker %s", task.id, case.number, worker.code)
    return task


def open_tasks(session: Session, worker: GridWorker, *, include_answered: int = 20) -> list[TaskView]:
    """The worker's open tasks, oldest first, then their most recently answered ones."""
    open_rows = session.scalars(
        select(GridCheckTask)
        .where(GridCheckTask.worker_id == worker.id, GridCheckTask.status == TaskStatus.OPEN)
        .order_by(GridCheckTask.id)
    ).all()
    done_rows = session.scalars(
        select(GridCheckTask)
        .where(GridCheckTask.worker_id == worker.id, GridCheckTask.status == TaskStatus.ANSWERED)
        .order_by(GridCheckTask.answered_at.desc())
        .limit(include_answered)
    ).all()
    return [view(session, task) for task in [*open_rows, *done_rows]]


def task_of(session: Session, worker: GridWorker, task_id: int, *, for_update: bool = False) -> GridCheckTask:
    query = select(GridCheckTask).where(GridCheckTask.id == task_id, GridCheckTask.worker_id == worker.id)
    task = session.scalar(query.with_for_update() if for_update else query)
    if task is None:
        raise NotFound(f"no task {task_id} of yours")  # another worker's task is nobody's business
    return task


def view(session: Session, task: GridCheckTask) -> TaskView:
    case = task.case
    result = session.scalar(
        select(CaseEvent.detail)
        .where(CaseEvent.case_id == case.id, CaseEvent.kind == "report_result")
        .order_by(CaseEvent.id.desc())
        .limit(1)
    )
    return TaskView(
        id=task.id,
        status=task.status,
        case_number=case.number,
        case_status=case.status.value,
        summary=case.summary,
        description=case.description,
        address=case.address,
        lat=case.lat,
        lon=case.lon,
        grid_code=case.grid_code,
        instruction=task.instruction,
        result=str((result or {}).get("result", "")),
        created_at=task.created_at.isoformat(),
        answered_at=task.answered_at.isoformat() if task.answered_at else None,
        resolved=task.resolved,
        answer_note=task.answer_note,
    )


def answer_task(
    session: Session, worker: GridWorker, task_id: int, *, resolved: bool, note: str, photos: tuple[AttachmentIn, ...]
) -> GridCheckTask:
    """The worker's answer: solved on site or not, a note, and photos, as one entry of the case's history."""
    if not photos:
        raise InvalidField("photos", "take at least one photo of the site")
    if len(photos) > MAX_ANSWER_PHOTOS:
        raise InvalidField("photos", f"at most {MAX_ANSWER_PHOTOS}")
    if not resolved and not note:
        raise InvalidField("note", "say what is still wrong")
    task = task_of(session, worker, task_id, for_update=True)
    if task.status != TaskStatus.OPEN:
        raise Conflict(f"task {task_id} is {task.status}")
    case: Case = task.case
    now = utcnow()
    event = record(
        session,
        case,
        EVENT_ANSWERED,
        actor=f"grid:{worker.code}",
        channel="grid",
        at=now,
        detail={"task": task.id, "worker": worker.code, "resolved": resolved, "note": note, "photos": len(photos)},
    )
    session.flush()
    for photo in photos:
        assert photo.data is not None
        session.add(
            Attachment(
                case_id=case.id,
                event_id=event.id,
                filename=photo.filename[:255],
                content_type=photo.content_type,
                status=AttachmentStatus.STORED,
                size=len(photo.data),
                sha256=store_blob(session, photo.data),
                created_at=now,
            )
        )
    task.status = TaskStatus.ANSWERED
    task.answered_at = now
    task.resolved = resolved
    task.answer_note = note
    task.event_id = event.id
    log.info("grid worker %s answered task %s on case %s (resolved=%s)", worker.code, task.id, case.number, resolved)
    return task


def tasks_of_case(session: Session, case_id: int) -> list[dict[str, Any]]:
    """The case's check tasks for the console: who, when, what they found."""
    rows = session.execute(
        select(GridCheckTask, GridWorker.code, GridWorker.name)
        .join(GridWorker, GridWorker.id == GridCheckTask.worker_id)
        .where(GridCheckTask.case_id == case_id)
        .order_by(GridCheckTask.id)
    ).all()
    return [
        {
            "id": task.id,
            "status": task.status,
            "worker": code,
            "worker_name": name,
            "instruction": task.instruction,
            "created_at": task.created_at.isoformat(),
            "answered_at": task.answered_at.isoformat() if task.answered_at else None,
            "resolved": task.resolved,
            "note": task.answer_note,
            "photos": list(
                session.scalars(
                    select(Attachment.id).where(Attachment.event_id == task.event_id).order_by(Attachment.id)
                )
            )
            if task.event_id
            else [],
        }
        for task, code, name in rows
    ]
