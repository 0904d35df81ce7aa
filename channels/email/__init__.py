"""Email (邮件): inbound mail becomes reports (SMTP receiver, IMAP poller), replies thread onto their
case by Message-ID; outbound mail to units and to reporters who wrote by mail, over SMTP."""

from __future__ import annotations

from channels.common import Channel
from intake.i18n import register

register(
    {
        "email.ack.subject": {"zh": "回复：{subject}【诉求编号{number}】", "en": "Re: {subject} [case {number}]"},
        "email.ack.body": {
            "zh": "您好！您的来信已收到，诉求编号为{number}。我们将核实后派遣至承办单位办理，办理进展将通过邮件告知。"
            "如需补充情况或照片，请直接回复本邮件。\n\n怀柔区12345市民服务热线",
            "en": "Hello, we have received your mail as case {number}. We will verify it and send it to the unit "
            "responsible, and tell you by mail how it goes. To add details or photos, just reply to this mail.\n\n"
            "Huairou District 12345 citizen hotline",
        },
        "email.notice.subject": {"zh": "诉求{number}进展：{status}", "en": "Case {number}: {status}"},
        "email.notice.body": {
            "zh": "您好！您反映的诉求{number}当前状态：{status}。如有补充，请直接回复本邮件。",
            "en": "Hello, your case {number} is now: {status}. To add anything, just reply to this mail.",
        },
        "email.notice.result": {"zh": "办理结果：{result}", "en": "Result: {result}"},
        "email.notice.merged": {
            "zh": "您反映的问题与诉求{into}为同一问题，已合并办理（当前状态：{status}），此后进展以{into}通知您。",
            "en": "It is the same problem as case {into} and is handled with it (now: {status}); "
            "further news comes under {into}.",
        },
        "event.email_auto_reply": {"zh": "收到自动回复邮件", "en": "An automatic reply arrived"},
        "event.email_bounced": {"zh": "邮件退信", "en": "A mail bounced"},
    }
)


def _setup() -> None:
    from channels.email.notify import notify_mail_reporters
    from channels.email.outbound import send_email
    from intake.cases import on_transition
    from intake.outbound import register_sender

    register_sender("email", send_email)
    on_transition(notify_mail_reporters)


CHANNEL = Channel(name="email", setup=_setup)
