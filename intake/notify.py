"""Status updates to reporters: on the steps a citizen cares about, an SMS to each reporter."""

from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from intake.cases import on_transition
from intake.i18n import translate
from intake.models import Case, CaseEvent, ReportRecord
from intake.outbound import has_sender, queue_message
from intake.states import Action

#: Actions after which every reporter of the case hears the new status.
NOTIFY_ACTIONS = frozenset({Action.DISPATCH, Action.INVALIDATE, Action.CLOSE, Action.REOPEN})
NOTIFY_CHANNEL = "sms"


@on_transition
def notify_reporters(session: Session, case: Case, action: Action, event: CaseEvent) -> None:
    if action not in NOTIFY_ACTIONS or not has_sender(NOTIFY_CHANNEL):
        return
    # The case's own reporters and those of every duplicate merged into it.
    merged = select(Case.id).where(Case.merged_into_id == case.id)
    rows = session.execute(
        select(ReportRecord.contact_phone, ReportRecord.meta)
        .where(
            or_(ReportRecord.case_id == case.id, ReportRecord.case_id.in_(merged)),
            ReportRecord.contact_phone.is_not(None),
        )
        .order_by(ReportRecord.id)
    ).all()
    result = _latest_result(session, case) if action is Action.CLOSE else ""
    seen: set[str] = set()
    for phone, meta in rows:
        if phone in seen or not phone.startswith("+"):
            continue
        seen.add(phone)
        lang = (meta or {}).get("lang", "zh")
        if action is Action.CLOSE:
            # The result and the satisfaction question (回访); the reply is read by intake.survey.
            body = translate("sms.closed_survey", lang, number=case.number, result=result)
        else:
            status = translate(f"status.{case.status.value}", lang)
            body = translate("sms.status_update", lang, number=case.number, status=status)
        queue_message(session, channel=NOTIFY_CHANNEL, to=phone, body=body, case=case)


#: Characters of the unit's result quoted in the closing SMS.
RESULT_SMS_CHARS = 80


def _latest_result(session: Session, case: Case) -> str:
    detail = session.scalar(
        select(CaseEvent.detail)
        .where(CaseEvent.case_id == case.id, CaseEvent.kind == Action.REPORT_RESULT.value)
        .order_by(CaseEvent.id.desc())
        .limit(1)
    )
    text = str((detail or {}).get("result", "")).strip()
    return text if len(text) <= RESULT_SMS_CHARS else text[: RESULT_SMS_CHARS - 1] + "…"
