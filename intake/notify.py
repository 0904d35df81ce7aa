"""Status updates to reporters: on the steps a citizen cares about, an SMS to each reporter.

A case's reporters are those of its own reports and of every duplicate merged into it, whatever
channel each came through: a hotline caller, an SMS sender and an app user about the same broken
manhole all hear the surviving case's progress. When a case is merged, its own reporters are told the
number of the case that now carries their report.

Only reporters who left a mobile number are texted. Internal reporters leave none — a grid worker's
report, a camera's incident, a leader's assignment and a city order are the government's own finding
(主动发现) — so they are never asked the citizens' satisfaction question (回访); they follow the outcome
where they reported it (the grid worker's report list, the leader's page, the city's step reports).
"""

from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from intake.cases import latest_result, on_transition
from intake.i18n import register, translate
from intake.models import Case, CaseEvent, ReportRecord
from intake.outbound import has_sender, queue_message
from intake.states import Action

#: Actions after which every reporter of the case hears the new status.
NOTIFY_ACTIONS = frozenset({Action.DISPATCH, Action.INVALIDATE, Action.CLOSE, Action.REOPEN, Action.MERGE})
NOTIFY_CHANNEL = "sms"

register(
    {
        "sms.merged": {
            "zh": "【怀柔12345】您的诉求{number}与诉求{into}为同一问题，已合并办理，当前状态：{status}。"
            "此后进展将以{into}通知您。",
            "en": "[Huairou 12345] Your case {number} is the same problem as case {into} and is handled with it "
            "(now: {status}). Further news comes under {into}.",
        },
    }
)


def merged_into(session: Session, case: Case) -> Case | None:
    """The case a merged duplicate now belongs to."""
    return session.get(Case, case.merged_into_id) if case.merged_into_id is not None else None


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
    result = latest_result(session, case, RESULT_SMS_CHARS) if action is Action.CLOSE else ""
    target = merged_into(session, case) if action is Action.MERGE else None
    seen: set[str] = set()
    for phone, meta in rows:
        if phone in seen or not phone.startswith("+"):
            continue
        seen.add(phone)
        lang = (meta or {}).get("lang", "zh")
        if action is Action.CLOSE:
            # The result and the satisfaction question (回访); the reply is read by intake.survey.
            body = translate("sms.closed_survey", lang, number=case.number, result=result)
        elif action is Action.MERGE and target is not None:
            status = translate(f"status.{target.status.value}", lang)
            body = translate("sms.merged", lang, number=case.number, into=target.number, status=status)
        else:
            status = translate(f"status.{case.status.value}", lang)
            body = translate("sms.status_update", lang, number=case.number, status=status)
        queue_message(session, channel=NOTIFY_CHANNEL, to=phone, body=body, case=case)


#: Characters of the unit's result quoted in the closing SMS.
RESULT_SMS_CHARS = 80
