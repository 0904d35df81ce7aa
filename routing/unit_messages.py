"""Messages to units: a new case dispatched to them, a failed check sending one back, and the
texts supervision sends (warnings, escalations, urges). Always from a worker, recorded on the case.
"""

from __future__ import annotations

import logging
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from intake.cases import record
from intake.i18n import register, translate
from intake.models import Case, CaseEvent
from intake.outbound import has_sender, queue_message
from intake.phones import normalize_phone
from intake.runtime import get_runtime
from intake.states import Action
from routing.models import Department

log = logging.getLogger(__name__)

#: The channels messages to units go out on: SMS to the duty phone, and mail where configured.
SMS_CHANNEL = "sms"
EMAIL_CHANNEL = "email"
#: Characters of the case summary quoted in a dispatch SMS.
SUMMARY_SMS_CHARS = 40

register(
    {
        "sms.unit_dispatched": {
            "zh": "【怀柔12345】新派单{number}：{summary}。请于{due}前签收办理。",
            "en": "[Huairou 12345] New case {number}: {summary}. Please sign for it by {due}.",
        },
        "sms.unit_check_failed": {
            "zh": "【怀柔12345】案件{number}核查未通过：{reason}。请重新处置。",
            "en": "[Huairou 12345] Case {number} failed its check: {reason}. Please deal with it again.",
        },
        "event.unit_notified": {"zh": "已通知承办单位", "en": "Unit notified"},
        "email.unit_subject": {"zh": "【怀柔12345】案件{number}", "en": "[Huairou 12345] Case {number}"},
    }
)


def text_unit(session: Session, case: Case, phone: str | None, body: str, actor: str, whom: str) -> None:
    """Queue an SMS to a unit's phone, if SMS can be sent and the unit has a number it can reach."""
    if not has_sender(SMS_CHANNEL):
        return
    to = normalize_phone(phone)
    if to is None or not to.startswith("+"):
        # Which number is wrong is in the unit's record; the log names only the unit.
        log.warning(
            "unit %s has no %s phone that SMS can reach; case %s not texted", case.department_code, whom, case.number
        )
        return
    queue_message(session, channel=SMS_CHANNEL, to=to, body=body, case=case, actor=actor)


def notify_unit(session: Session, case: Case, action: Action, event: CaseEvent) -> None:
    """Transition hook: the unit hears of a case dispatched to it, or sent back after a failed check.

    Runs after :func:`routing.deadlines.update_clocks` (registered first), so the clocks are set.
    """
    if action not in (Action.DISPATCH, Action.CHECK_FAIL) or not case.department_code:
        return
    unit = session.get(Department, case.department_code)
    if unit is None:
        return
    config = get_runtime().config
    lang = config.server.default_language
    if action is Action.DISPATCH:
        due = case.respond_due_at.astimezone(ZoneInfo(config.server.timezone)) if case.respond_due_at else None
        summary = case.summary if len(case.summary) <= SUMMARY_SMS_CHARS else case.summary[:SUMMARY_SMS_CHARS] + "…"
        body = translate(
            "sms.unit_dispatched",
            lang,
            number=case.number,
            summary=summary,
            due=due.strftime("%m-%d %H:%M") if due else "—",
        )
    else:
        body = translate("sms.unit_check_failed", lang, number=case.number, reason=event.detail.get("reason", ""))
    # In the system the case is already on the unit's list (/dept); the history says who was told.
    record(session, case, "unit_notified", actor="system", detail={"unit": unit.code, "action": action.value})
    text_unit(session, case, unit.duty_phone, body, event.actor, "duty")
    if unit.email and config.email.configured and has_sender(EMAIL_CHANNEL):
        # The first line of a mail message is its subject (channels/email).
        subject = translate("email.unit_subject", lang, number=case.number)
        queue_message(session, channel=EMAIL_CHANNEL, to=unit.email, body=f"{subject}\n{body}", case=case)
