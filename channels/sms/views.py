"""``POST /channels/sms/twilio``: Twilio's inbound-message webhook, answered with TwiML."""

from __future__ import annotations

import logging

from flask import Blueprint, Response, request
from sqlalchemy import select
from twilio.twiml.messaging_response import MessagingResponse
from werkzeug.exceptions import RequestEntityTooLarge

from channels.common import check_twilio_signature
from channels.errors import ChannelError, MalformedPayload
from channels.sms.adapter import CHANNEL, InboundSms, Intent, parse, parse_receipt
from intake import InvalidReport, submit
from intake.i18n import translate
from intake.models import Case, ReportRecord
from intake.outbound import is_opted_out, record_delivery, set_opt_out
from intake.survey import Satisfaction, answer_by_phone
from intake.web import csrf, runtime

log = logging.getLogger(__name__)

bp = Blueprint("sms", __name__)
csrf.exempt(bp)


def twiml(text: str | None = None, status: int = 200, error: str | None = None) -> Response:
    reply = MessagingResponse()
    if text:
        reply.message(text)
    response = Response(str(reply), status=status, mimetype="application/xml")
    if error:
        # Twilio shows the body of a failed webhook in its debugger; say what was wrong there too.
        response.headers["X-Gridline-Error"] = error.encode("ascii", "backslashreplace").decode()
    return response


@bp.errorhandler(RequestEntityTooLarge)
def too_large(err: RequestEntityTooLarge) -> Response:
    return twiml(status=413, error=f"body larger than {runtime().config.server.max_request_bytes} bytes")


@bp.post("/channels/sms/twilio")
def inbound() -> Response:
    rt = runtime()
    if request.mimetype != "application/x-www-form-urlencoded":
        return twiml(status=415, error="expected application/x-www-form-urlencoded")
    try:
        raw = request.get_data(cache=True)
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError as err:
            raise MalformedPayload("body is not UTF-8") from err
        if rt.config.twilio.validate_signatures:
            check_twilio_signature(request, rt.config.twilio.auth_token, rt.config.public_url)
        message = parse(request.form, raw)
        text = _handle(message)
    except (ChannelError, InvalidReport) as err:
        status = err.status if isinstance(err, ChannelError) else 400
        log.warning("SMS webhook refused (%s): %s", status, err)
        return twiml(status=status, error=str(err))
    return twiml(text)


@bp.post("/channels/sms/twilio/status")
def delivery_status() -> Response:
    """Twilio's status callback for a message we sent (passed as StatusCallback when sending)."""
    rt = runtime()
    try:
        if rt.config.twilio.validate_signatures:
            check_twilio_signature(request, rt.config.twilio.auth_token, rt.config.public_url)
        receipt = parse_receipt(request.form)
    except ChannelError as err:
        log.warning("SMS status callback refused (%s): %s", err.status, err)
        return twiml(status=err.status, error=str(err))
    if not record_delivery(CHANNEL, receipt.message_sid, receipt.status, receipt.error_code):
        log.info("status callback for a message that is not ours: %s", receipt.message_sid)
    return Response(status=204)


def _handle(message: InboundSms) -> str | None:
    rt = runtime()
    t = lambda key, **values: translate(key, message.lang, **values)  # noqa: E731
    if message.intent is Intent.STOP:
        with rt.db.transaction() as session:
            set_opt_out(session, CHANNEL, message.phone, True)
        return t("sms.stopped")
    if message.intent is Intent.START:
        with rt.db.transaction() as session:
            set_opt_out(session, CHANNEL, message.phone, False)
        return t("sms.started")
    if message.intent in (Intent.HELP, Intent.STATUS_QUERY) and is_opted_out(rt.db.engine, CHANNEL, message.phone):
        return None
    if message.intent is Intent.HELP:
        return t("sms.help")
    if message.intent is Intent.STATUS_QUERY:
        return _status_reply(message, t)
    if message.intent is Intent.RATING and (reply := _rating_reply(message, t)) is not None:
        return reply
    assert message.report is not None
    result = submit(message.report)
    if result.opted_out:
        return None  # stored, but the citizen asked for no messages
    if result.new_case:
        return t("sms.case_opened", number=result.case_number)
    return t("sms.case_joined", number=result.case_number)


def _status_reply(message: InboundSms, t: object) -> str:
    rt = runtime()
    with rt.db.transaction() as session:
        # Only the case's own reporters may ask about it by SMS.
        case = session.scalar(
            select(Case)
            .join(ReportRecord, ReportRecord.case_id == Case.id)
            .where(Case.number == message.case_number, ReportRecord.contact_phone == message.phone)
            .limit(1)
        )
        if case is None:
            return t("sms.case_not_found", number=message.case_number)  # type: ignore[operator]
        surviving = session.get(Case, case.merged_into_id) if case.merged_into_id is not None else None
        if surviving is not None:
            # Merged: what the citizen wants to know is how the case that took theirs is doing.
            state = t(f"status.{surviving.status.value}")  # type: ignore[operator]
            return t("sms.case_merged_status", number=case.number, into=surviving.number, status=state)  # type: ignore[operator]
        state = t(f"status.{case.status.value}")  # type: ignore[operator]
    return t("sms.case_status", number=message.case_number, status=state)  # type: ignore[operator]


def _rating_reply(message: InboundSms, t: object) -> str | None:
    """Record the answer to the satisfaction question; None when no closed case awaits one."""
    assert message.rating is not None
    with runtime().db.transaction() as session:
        case = answer_by_phone(session, message.phone, Satisfaction(message.rating), channel=CHANNEL)
        if case is None:
            return None
        number = case.number
    return t("sms.rated", number=number, answer=t(f"satisfaction.{message.rating}"))  # type: ignore[operator]
