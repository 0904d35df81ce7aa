"""Inbound mail over real SMTP: the aiosmtpd receiver of ``gridline email-smtp`` started in the test,
mail sent with smtplib in the senders' own formats (QQ Mail, Outlook, 163/Coremail, Foxmail, Exchange,
Sieve, Postfix); our answers go out through the real outbound worker to a second SMTP server."""

from __future__ import annotations

import contextlib
import signal
import smtplib
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email import message_from_bytes
from email.header import decode_header, make_header
from email.message import Message

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import func, select

from channels.email import smtp_server
from channels.email.models import MailRecord
from intake.cases import apply, get_case
from intake.config import EmailConfig
from intake.models import Attachment, Case, CaseEvent, OutboundMessage, ReportRecord
from intake.runtime import Runtime
from intake.states import Action, CaseStatus
from tests.support import fixture_path
from tests.test_unit_messages import Inbox

OURS = "12345@huairou.example.gov.cn"
QQ_ID = "tencent_4C1E0B1D2A3F4B5C6D7E8F901A2B3C4D5E06@qq.com"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def eml(name: str, **replace: str) -> bytes:
    """A captured mail, with placeholders filled in and CRLF line ends, as it travels over SMTP."""
    raw = fixture_path("email", name).read_bytes()
    for key, value in replace.items():
        raw = raw.replace(b"{" + key.encode() + b"}", value.encode())
    return raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


@dataclass
class Mail:
    """Our SMTP receiver (the one ``gridline email-smtp`` runs) and the SMTP server our answers go to."""

    port: int
    outbox: Inbox

    def send(self, raw: bytes, *, sender: str = "zhang.wei@qq.com", to: str = OURS) -> dict[str, tuple[int, bytes]]:
        with smtplib.SMTP("127.0.0.1", self.port, timeout=10) as client:
            return client.sendmail(sender, [to], raw)

    def answers(self) -> list[Message]:
        return [message_from_bytes(envelope.original_content) for envelope in self.outbox.mails]


@pytest.fixture
def mail(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> Iterator[Mail]:
    outbox = Inbox()
    out_port = free_port()
    outgoing = Controller(outbox, hostname="127.0.0.1", port=out_port)
    outgoing.start()
    config = EmailConfig(
        smtp_host="127.0.0.1",
        smtp_port=out_port,
        security="none",
        from_address=OURS,
        inbound_addresses=[OURS, "jubao@huairou.example.gov.cn"],
        max_message_bytes=200_000,
    )
    monkeypatch.setattr(runtime.config, "email", config)
    port = free_port()
    receiver = smtp_server.controller("127.0.0.1", port)
    receiver.start()
    try:
        yield Mail(port, outbox)
    finally:
        receiver.stop()
        outgoing.stop()


def ident(value: object) -> str:
    """A Message-ID header's id: unfolded, without brackets."""
    return "".join(str(value or "").split()).strip("<>")


def header(message: Message, name: str) -> str:
    return str(make_header(decode_header(message[name] or "")))


def cases(runtime: Runtime) -> list[Case]:
    with runtime.db.transaction() as session:
        found = session.scalars(select(Case).order_by(Case.id)).all()
        session.expunge_all()
        return list(found)


def kinds(runtime: Runtime, number: str) -> list[str]:
    with runtime.db.transaction() as session:
        case_id = session.scalar(select(Case.id).where(Case.number == number))
        return list(session.scalars(select(CaseEvent.kind).where(CaseEvent.case_id == case_id).order_by(CaseEvent.id)))


def first_case(runtime: Runtime, mail: Mail, run_worker: Callable[[], None]) -> tuple[str, str]:
    """The QQ Mail citizen writes in; returns the case number and our acknowledgement's Message-ID."""
    assert mail.send(eml("plain_qqmail.eml")) == {}
    run_worker()
    (ack,) = mail.answers()
    (case,) = cases(runtime)
    return case.number, ident(ack["Message-ID"])


# --- a person's mail --------------------------------------------------------------------------


def test_plain_mail_opens_a_case_and_the_sender_gets_its_number(
    runtime: Runtime, mail: Mail, run_worker: Callable[[], None]
) -> None:
    number, ack_id = first_case(runtime, mail, run_worker)
    with runtime.db.transaction() as session:
        case = get_case(session, number)
        assert (case.channel, case.status) == ("email", CaseStatus.VERIFYING)
        report = session.scalars(select(ReportRecord)).one()
        assert report.contact_email == "zhang.wei@qq.com" and report.contact_name == "张伟"
        assert report.text.startswith("青春路12号井盖丢失\n\n您好：") and "请尽快处理" in report.text
        assert report.source_id == QQ_ID and report.raw_content_type == "message/rfc822"
        assert report.raw.startswith(b"Return-Path: <zhang.wei@qq.com>")
        assert report.source_time is not None and report.source_time.isoformat() == "2025-03-12T01:14:55+00:00"
        assert report.meta["via"] == "smtp" and report.meta["lang"] == "zh"
    (ack,) = mail.answers()
    assert mail.outbox.mails[0].rcpt_tos == ["zhang.wei@qq.com"]
    assert number in header(ack, "Subject") and "青春路12号井盖丢失" in header(ack, "Subject")
    assert ident(ack["In-Reply-To"]) == QQ_ID and ack["Auto-Submitted"] == "auto-replied"
    assert number in ack.get_payload(decode=True).decode("utf-8")
    with runtime.db.transaction() as session:
        stored = {(r.direction, r.kind, r.message_id) for r in session.scalars(select(MailRecord))}
    assert stored == {("in", "report", QQ_ID), ("out", "ack", ack_id)}


def test_outlook_mail_keeps_its_photo_and_decodes_gb2312(
    runtime: Runtime, mail: Mail, run_worker: Callable[[], None]
) -> None:
    assert mail.send(eml("outlook_with_photo.eml"), sender="li.na@example.com") == {}
    with runtime.db.transaction() as session:
        report = session.scalars(select(ReportRecord)).one()
        assert report.text.startswith("开放路路面塌陷\n\n开放路与迎宾路交叉口东北角路面塌陷")
        assert report.contact_name == "李娜"
        photo = session.scalars(select(Attachment)).one()
        assert (photo.filename, photo.content_type, photo.status) == ("路面塌陷.jpg", "image/jpeg", "stored")
        assert photo.size == 1029
    run_worker()
    assert header(mail.answers()[0], "Subject").startswith("回复：开放路路面塌陷【诉求编号")


def test_html_only_gbk_mail_becomes_plain_text(runtime: Runtime, mail: Mail) -> None:
    assert mail.send(eml("html_only_163.eml"), sender="wang_xs@163.com") == {}
    with runtime.db.transaction() as session:
        text = session.scalar(select(ReportRecord.text))
    assert text == "河道里倾倒建筑垃圾\n\n雁栖镇范各庄村东侧河道有人倾倒建筑垃圾，已经堆了好几车。\n王先生"


def test_damaged_mail_is_still_a_report(runtime: Runtime, mail: Mail) -> None:
    # GBK bytes under a UTF-8 label, no time zone in Date, and the closing MIME boundary missing.
    assert mail.send(eml("damaged_gbk_no_end.eml"), sender="zhao@old-mailer.example.cn") == {}
    with runtime.db.transaction() as session:
        report = session.scalars(select(ReportRecord)).one()
    assert report.text == "噪声扰民\n\n庙城镇某工地夜间施工噪声扰民，每天到凌晨两点。"


def test_the_same_mail_twice_is_one_report(runtime: Runtime, mail: Mail, run_worker: Callable[[], None]) -> None:
    for _ in range(3):  # the sending server did not hear our 250 and tries again
        assert mail.send(eml("plain_qqmail.eml")) == {}
    run_worker()
    assert len(cases(runtime)) == 1 and len(mail.answers()) == 1


# --- replies ----------------------------------------------------------------------------------


def test_a_reply_to_our_answer_joins_the_case_without_the_quotation(
    runtime: Runtime, mail: Mail, run_worker: Callable[[], None]
) -> None:
    number, ack_id = first_case(runtime, mail, run_worker)
    assert mail.send(eml("reply_foxmail.eml", IN_REPLY_TO=ack_id)) == {}
    run_worker()
    assert [case.number for case in cases(runtime)] == [number]
    with runtime.db.transaction() as session:
        reply = session.scalars(select(ReportRecord).order_by(ReportRecord.id.desc())).first()
        assert reply is not None and reply.channel == "email"
        assert reply.text == "回复：回复：青春路12号井盖丢失\n\n补充一下：井盖旁边还有一处路灯也不亮。"
        assert session.scalar(select(MailRecord.kind).where(MailRecord.message_id.like("tencent_9F8E%"))) == "reply"
    assert kinds(runtime, number)[-1] == "report_added"
    assert len(mail.answers()) == 1  # a reply gets no second acknowledgement


def test_a_reply_to_a_closed_case_opens_a_new_one(runtime: Runtime, mail: Mail, run_worker: Callable[[], None]) -> None:
    number, ack_id = first_case(runtime, mail, run_worker)
    with runtime.db.transaction() as session:
        apply(session, get_case(session, number), Action.INVALIDATE, actor="user:agent1", reason="重复")
    assert mail.send(eml("reply_foxmail.eml", IN_REPLY_TO=ack_id)) == {}
    numbers = [case.number for case in cases(runtime)]
    assert len(numbers) == 2 and numbers[0] == number


def test_status_updates_reach_the_mail_reporter_in_their_thread(
    runtime: Runtime, mail: Mail, run_worker: Callable[[], None], places: None
) -> None:
    number, ack_id = first_case(runtime, mail, run_worker)
    with runtime.db.transaction() as session:
        apply(session, get_case(session, number), Action.DISPATCH, actor="user:agent1", department_code="water")
    run_worker()
    notice = [m for m in mail.answers() if ident(m["Message-ID"]) != ack_id]
    to_reporter = [m for m in notice if m["To"] == "zhang.wei@qq.com"]
    assert len(to_reporter) == 1
    assert header(to_reporter[0], "Subject") == f"诉求{number}进展：已派遣"
    assert ident(to_reporter[0]["In-Reply-To"]) == QQ_ID and to_reporter[0]["Auto-Submitted"] == "auto-generated"
    # The citizen answers the notice: it joins the case too.
    notice_id = ident(to_reporter[0]["Message-ID"])
    assert mail.send(eml("reply_foxmail.eml", IN_REPLY_TO=notice_id)) == {}
    assert len(cases(runtime)) == 1 and kinds(runtime, number)[-1] == "report_added"


# --- machines' mail -----------------------------------------------------------------------------


def test_an_out_of_office_answer_opens_no_case(runtime: Runtime, mail: Mail, run_worker: Callable[[], None]) -> None:
    assert mail.send(eml("outlook_with_photo.eml"), sender="li.na@example.com") == {}
    run_worker()
    (ack,) = mail.answers()
    ack_id = ident(ack["Message-ID"])
    assert mail.send(eml("exchange_out_of_office.eml", IN_REPLY_TO=ack_id), sender="li.na@example.com") == {}
    run_worker()
    (case,) = cases(runtime)
    assert kinds(runtime, case.number)[-1] == "email_auto_reply"
    assert len(mail.answers()) == 1  # robots are never answered
    with runtime.db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(ReportRecord)) == 1
        auto = session.scalars(select(MailRecord).where(MailRecord.kind == "auto_reply")).one()
        assert auto.case_id == case.id


def test_a_vacation_answer_about_nothing_of_ours_is_kept_but_opens_nothing(runtime: Runtime, mail: Mail) -> None:
    assert mail.send(eml("sieve_vacation.eml"), sender="") == {}
    assert cases(runtime) == []
    with runtime.db.transaction() as session:
        kept = session.scalars(select(MailRecord)).one()
    assert (kept.kind, kept.case_id, kept.address) == ("auto_reply", None, "wang.fang@example.org")


def test_a_bounce_marks_our_mail_undelivered_and_opens_nothing(
    runtime: Runtime, mail: Mail, run_worker: Callable[[], None]
) -> None:
    number, ack_id = first_case(runtime, mail, run_worker)
    assert mail.send(eml("postfix_bounce.eml", BOUNCED_ID=ack_id), sender="") == {}
    assert [case.number for case in cases(runtime)] == [number]
    with runtime.db.transaction() as session:
        ack = session.scalars(select(OutboundMessage).where(OutboundMessage.channel == "email")).one()
        assert ack.status == "undelivered" and ack.error == "bounced: 5.1.1"
        event = session.scalars(select(CaseEvent).where(CaseEvent.kind == "email_bounced")).one()
        assert event.detail["recipient"] == "gone.user@example.net" and event.detail["status"] == "5.1.1"


def test_an_empty_mail_opens_nothing(runtime: Runtime, mail: Mail) -> None:
    assert mail.send(eml("empty.eml"), sender="someone@example.com") == {}
    assert cases(runtime) == []
    with runtime.db.transaction() as session:
        assert session.scalar(select(MailRecord.kind)) == "empty"


# --- what the receiver refuses -----------------------------------------------------------------


def test_mail_for_an_address_that_is_not_ours_is_refused(runtime: Runtime, mail: Mail) -> None:
    with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
        mail.send(eml("plain_qqmail.eml"), to="someone@other.example.com")
    code, reason = refused.value.recipients["someone@other.example.com"]
    assert code == 550 and b"relaying denied" in reason
    # The second report address is ours too, in any letter case.
    assert mail.send(eml("plain_qqmail.eml"), to="JuBao@huairou.example.gov.cn") == {}
    assert len(cases(runtime)) == 1


def test_an_oversized_mail_is_refused(runtime: Runtime, mail: Mail) -> None:
    big = eml("plain_qqmail.eml") + b"\r\n" + b"x" * 76 * 4000
    with pytest.raises((smtplib.SMTPSenderRefused, smtplib.SMTPDataError)) as refused:
        mail.send(big)
    assert refused.value.smtp_code == 552
    assert cases(runtime) == []


def test_a_storage_failure_answers_451_so_the_sender_retries(
    runtime: Runtime, mail: Mail, monkeypatch: pytest.MonkeyPatch
) -> None:
    def down(*args: object, **kwargs: object) -> None:
        raise ConnectionError("database is down")

    monkeypatch.setattr(smtp_server, "receive", down)
    with pytest.raises(smtplib.SMTPDataError) as failed:
        mail.send(eml("plain_qqmail.eml"))
    assert failed.value.smtp_code == 451
    monkeypatch.undo()


def test_gridline_email_smtp_runs_as_its_own_process(runtime: Runtime, backend: str, mail: Mail) -> None:
    if backend != "embedded":
        pytest.skip("the process is exercised once, on the embedded backend's database file")
    port = free_port()
    env = {
        "PATH": "/usr/bin:/bin",
        "GRIDLINE_DATABASE__URL": runtime.config.database_url,
        "GRIDLINE_REDIS__URL": runtime.redis_url,
        "GRIDLINE_EMAIL__INBOUND_ADDRESSES": f'["{OURS}"]',
        "GRIDLINE_EMAIL__LISTEN_PORT": str(port),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "intake.cli", "--log-level", "WARNING", "email-smtp"], env=env, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                with smtplib.SMTP("127.0.0.1", port, timeout=5) as client:
                    assert client.sendmail("wang_xs@163.com", [OURS], eml("html_only_163.eml")) == {}
                break
            except (ConnectionRefusedError, smtplib.SMTPServerDisconnected):
                assert process.poll() is None and time.monotonic() < deadline, (
                    process.stderr.read() if process.stderr else ""
                )
                time.sleep(0.2)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=15)
    (case,) = cases(runtime)
    assert case.channel == "email" and case.summary == "河道里倾倒建筑垃圾"


# --- IMAP polling (a real IMAP server: pymap's in-memory backend) --------------------------------


def start_pymap(port: int) -> subprocess.Popen[bytes]:
    """A pymap IMAP server (in-memory, IDLE supported) in its own process, with a mailbox ``Reports``."""
    import imaplib
    import shutil

    pymap = shutil.which("pymap", path=str(__import__("pathlib").Path(sys.executable).parent))
    if pymap is None:
        pytest.skip("pymap (an IMAP server, a test dependency) is not installed")
    server = subprocess.Popen(
        [pymap, "--host", "127.0.0.1", "--port", str(port), "--no-tls", "dict", "--demo-data"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 20
    while True:
        try:
            client = imaplib.IMAP4("127.0.0.1", port, timeout=5)
            break
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                server.kill()
                raise AssertionError("pymap did not start") from None
            time.sleep(0.2)
    client.login("demouser", "demopass")
    client.create("Reports")
    client.logout()
    return server


@dataclass
class Mailbox:
    """The district's mailbox on a real IMAP server, which a test may take down and bring back."""

    config: EmailConfig
    server: subprocess.Popen[bytes]

    def restart(self) -> None:
        """A new server on the same port (pymap's in-memory mailbox starts empty again)."""
        self.stop()
        self.server = start_pymap(self.config.imap_port)

    def stop(self) -> None:
        self.server.terminate()
        self.server.wait(timeout=10)


@pytest.fixture
def mailbox(runtime: Runtime, mail: Mail, monkeypatch: pytest.MonkeyPatch) -> Iterator[Mailbox]:
    port = free_port()
    config = runtime.config.email.model_copy(
        update={
            "imap_host": "127.0.0.1",
            "imap_port": port,
            "imap_security": "none",
            "imap_username": "demouser",
            "imap_password": "demopass",
            "imap_mailbox": "Reports",
            "timeout_seconds": 10,
        }
    )
    monkeypatch.setattr(runtime.config, "email", config)
    box = Mailbox(config, start_pymap(port))
    try:
        yield box
    finally:
        box.stop()


@pytest.fixture
def imap(mailbox: Mailbox) -> EmailConfig:
    """The email settings pointing at the real IMAP server."""
    return mailbox.config


def deliver_to_mailbox(config: EmailConfig, *raws: bytes) -> None:
    """Put mail into the mailbox as the mail system would (IMAP APPEND, unseen)."""
    import imaplib

    client = imaplib.IMAP4(config.imap_host, config.imap_port, timeout=5)
    client.login(config.imap_username, config.imap_password)
    for raw in raws:
        assert client.append(config.imap_mailbox, None, None, raw)[0] == "OK"
    client.logout()


def unseen(config: EmailConfig) -> list[bytes]:
    import imaplib

    client = imaplib.IMAP4(config.imap_host, config.imap_port, timeout=5)
    client.login(config.imap_username, config.imap_password)
    client.select(config.imap_mailbox)
    found = client.uid("SEARCH", "UNSEEN")[1][0].split()
    client.logout()
    return found


def test_imap_polling_takes_each_unseen_mail_once(
    runtime: Runtime, mail: Mail, imap: EmailConfig, run_worker: Callable[[], None]
) -> None:
    from channels.email.imap import poll_once

    deliver_to_mailbox(
        imap, eml("plain_qqmail.eml"), eml("outlook_with_photo.eml"), eml("sieve_vacation.eml"), eml("empty.eml")
    )
    assert len(unseen(imap)) == 4
    assert poll_once(imap) == 4
    assert unseen(imap) == []
    assert poll_once(imap) == 0
    found = cases(runtime)
    assert sorted(case.summary for case in found) == ["开放路路面塌陷", "青春路12号井盖丢失"]
    with runtime.db.transaction() as session:
        assert session.scalar(select(Attachment.filename)) == "路面塌陷.jpg"
        assert {meta["via"] for meta in session.scalars(select(ReportRecord.meta))} == {"imap"}
    # Marked unseen again (somebody clicked "mark as unread"): still one report each.
    import imaplib

    client = imaplib.IMAP4(imap.imap_host, imap.imap_port, timeout=5)
    client.login(imap.imap_username, imap.imap_password)
    client.select(imap.imap_mailbox)
    client.store("1:*", "-FLAGS", "(\\Seen)")
    client.logout()
    assert poll_once(imap) == 4
    assert len(cases(runtime)) == 2
    run_worker()
    assert sorted(str(m["To"]) for m in mail.answers()) == ["li.na@example.com", "zhang.wei@qq.com"]


@contextlib.contextmanager
def watching(config: EmailConfig) -> Iterator[threading.Thread]:
    """``gridline email-poll``'s watcher in a thread (as in its process), stopped at the end."""
    from channels.email.imap import watch

    stop = threading.Event()
    thread = threading.Thread(target=watch, args=(config, stop), daemon=True)
    thread.start()
    try:
        yield thread
    finally:
        stop.set()
        thread.join(timeout=15)
        assert not thread.is_alive(), "the IMAP watcher did not stop"


def wait_for_cases(runtime: Runtime, count: int, seconds: float = 10.0) -> list[Case]:
    deadline = time.monotonic() + seconds
    while len(found := cases(runtime)) < count:
        assert time.monotonic() < deadline, f"{len(found)} case(s) after {seconds} s, expected {count}"
        time.sleep(0.1)
    return found


def test_imap_idle_takes_mail_as_it_arrives(runtime: Runtime, mailbox: Mailbox) -> None:
    # Polling would come only after five minutes: whatever is taken sooner came through IDLE.
    config = mailbox.config.model_copy(update={"imap_poll_seconds": 300.0})
    deliver_to_mailbox(config, eml("plain_qqmail.eml"))  # waiting before the watcher starts
    with watching(config):
        wait_for_cases(runtime, 1)
        time.sleep(0.5)  # the watcher is idling now
        arrived = time.monotonic()
        deliver_to_mailbox(config, eml("outlook_with_photo.eml"))
        found = wait_for_cases(runtime, 2)
        assert time.monotonic() - arrived < 5
        deliver_to_mailbox(config, eml("sieve_vacation.eml"))  # an auto-reply: taken, opens nothing
        deadline = time.monotonic() + 10
        while unseen(config):
            assert time.monotonic() < deadline, "the auto-reply was never taken"
            time.sleep(0.1)
    assert sorted(case.summary for case in found) == ["开放路路面塌陷", "青春路12号井盖丢失"]
    assert len(cases(runtime)) == 2


def test_imap_without_idle_is_looked_at_every_poll_interval(
    runtime: Runtime, mailbox: Mailbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    from imapclient import IMAPClient

    has_capability = IMAPClient.has_capability
    monkeypatch.setattr(  # a server that does not offer IDLE (pymap always does)
        IMAPClient, "has_capability", lambda client, name: name != "IDLE" and has_capability(client, name)
    )
    config = mailbox.config.model_copy(update={"imap_poll_seconds": 0.3})
    with watching(config):
        time.sleep(0.5)
        deliver_to_mailbox(config, eml("plain_qqmail.eml"))
        (case,) = wait_for_cases(runtime, 1)
    assert case.summary == "青春路12号井盖丢失"


def test_imap_watcher_reconnects_when_the_server_comes_back(runtime: Runtime, mailbox: Mailbox) -> None:
    config = mailbox.config.model_copy(update={"imap_poll_seconds": 300.0})
    with watching(config) as thread:
        time.sleep(0.5)
        mailbox.restart()  # the connection drops; the first reconnection may find nobody listening
        deliver_to_mailbox(config, eml("plain_qqmail.eml"))
        (case,) = wait_for_cases(runtime, 1, seconds=20)
        assert thread.is_alive()
    assert case.summary == "青春路12号井盖丢失"


def test_gridline_email_poll_once(runtime: Runtime, backend: str, mail: Mail, imap: EmailConfig) -> None:
    if backend != "embedded":
        pytest.skip("the command is exercised once, on the embedded backend's database file")
    deliver_to_mailbox(imap, eml("html_only_163.eml"))
    env = {
        "PATH": "/usr/bin:/bin",
        "GRIDLINE_DATABASE__URL": runtime.config.database_url,
        "GRIDLINE_REDIS__URL": runtime.redis_url,
        "GRIDLINE_EMAIL__IMAP_HOST": imap.imap_host,
        "GRIDLINE_EMAIL__IMAP_PORT": str(imap.imap_port),
        "GRIDLINE_EMAIL__IMAP_SECURITY": "none",
        "GRIDLINE_EMAIL__IMAP_USERNAME": imap.imap_username,
        "GRIDLINE_EMAIL__IMAP_PASSWORD": imap.imap_password,
        "GRIDLINE_EMAIL__IMAP_MAILBOX": imap.imap_mailbox,
    }
    done = subprocess.run(
        [sys.executable, "-m", "intake.cli", "--log-level", "WARNING", "email-poll", "--once"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "email: 1 new message(s)"
    (case,) = cases(runtime)
    assert case.summary == "河道里倾倒建筑垃圾"
