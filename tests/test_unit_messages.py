"""Units hear of a dispatch by SMS to their duty phone and, where configured, by mail over real SMTP."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Callable, Iterator
from email import message_from_bytes
from email.header import decode_header, make_header

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import Envelope, Session
from sqlalchemy import select, update

from intake.cases import apply, get_case
from intake.config import EmailConfig
from intake.models import CaseEvent, OutboundMessage, OutboundStatus
from intake.report import Contact, Report
from intake.runtime import Runtime
from intake.states import Action
from intake.submit import submit
from routing.models import Department

UNIT_MAIL = "duty@water.example.gov.cn"


class Inbox:
    """An SMTP server's handler that keeps what it receives (refusing one address, as servers do)."""

    def __init__(self) -> None:
        self.mails: list[Envelope] = []

    async def handle_RCPT(
        self, server: object, session: Session, envelope: Envelope, address: str, options: list
    ) -> str:
        if address.startswith("nobody@"):
            return "550 5.1.1 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: object, session: Session, envelope: Envelope) -> str:
        self.mails.append(envelope)
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> Iterator[Inbox]:
    inbox = Inbox()
    with socket.socket() as probe:  # a free port: Controller checks readiness by connecting to its port
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    config = EmailConfig(
        smtp_host="127.0.0.1", smtp_port=port, security="none", from_address="12345@huairou.example.gov.cn"
    )
    monkeypatch.setattr(runtime.config, "email", config)
    try:
        yield inbox
    finally:
        controller.stop()


def dispatch(runtime: Runtime, unit: str = "water") -> str:
    number = submit(
        Report(
            channel="web", source_id=str(uuid.uuid4()), text="青春路停水两天", contact=Contact(phone="+8613812348000")
        )
    ).case_number
    with runtime.db.transaction() as session:
        case = get_case(session, number)
        apply(session, case, Action.QUEUE, actor="system")
        apply(session, case, Action.DISPATCH, actor="user:agent1", department_code=unit)
    return number


def test_dispatch_reaches_the_units_duty_phone_and_mailbox(
    runtime: Runtime, places: None, smtp: Inbox, run_worker: Callable[[], None]
) -> None:
    with runtime.db.transaction() as session:
        session.execute(update(Department).where(Department.code == "water").values(email=UNIT_MAIL))
    number = dispatch(runtime)
    with runtime.db.transaction() as session:
        duty = session.scalar(select(Department.duty_phone).where(Department.code == "water"))
        mails = session.scalars(select(OutboundMessage.to).where(OutboundMessage.channel == "email")).all()
        assert mails == [UNIT_MAIL]
        texts = session.scalars(select(OutboundMessage.to).where(OutboundMessage.channel == "sms")).all()
        assert sorted(texts) == sorted(["+8613812348000", duty])
    run_worker()
    (envelope,) = smtp.mails
    assert envelope.rcpt_tos == [UNIT_MAIL]
    mail = message_from_bytes(envelope.original_content)
    assert str(make_header(decode_header(mail["Subject"]))) == f"【怀柔12345】案件{number}"
    assert "请于" in mail.get_payload(decode=True).decode("utf-8")
    with runtime.db.transaction() as session:
        sent = session.scalars(select(OutboundMessage).where(OutboundMessage.channel == "email")).one()
        assert sent.status == OutboundStatus.SENT and sent.provider_id == "".join(mail["Message-ID"].split())[:64]
        kinds = session.scalars(select(CaseEvent.kind).where(CaseEvent.kind == "unit_notified")).all()
        assert kinds == ["unit_notified"]


def test_a_refused_address_fails_at_once_and_no_mail_without_configuration(
    runtime: Runtime, places: None, smtp: Inbox, run_worker: Callable[[], None], monkeypatch: pytest.MonkeyPatch
) -> None:
    with runtime.db.transaction() as session:
        session.execute(update(Department).where(Department.code == "water").values(email="nobody@example.gov.cn"))
    dispatch(runtime)
    run_worker()
    with runtime.db.transaction() as session:
        refused = session.scalars(select(OutboundMessage).where(OutboundMessage.channel == "email")).one()
        assert refused.status == OutboundStatus.FAILED and refused.attempts == 1
        assert "refused the recipient" in (refused.error or "")
    monkeypatch.setattr(runtime.config, "email", EmailConfig())
    dispatch(runtime)
    with runtime.db.transaction() as session:
        assert len(session.scalars(select(OutboundMessage).where(OutboundMessage.channel == "email")).all()) == 1
    assert smtp.mails == []
