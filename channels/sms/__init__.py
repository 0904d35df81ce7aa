"""SMS through Twilio (短信): inbound webhook, status queries, STOP/START, MMS, outbound updates."""

from __future__ import annotations

from channels.common import Channel
from channels.sms.views import bp
from intake.i18n import register


def _setup() -> None:
    from channels.common import twilio_media_policy
    from channels.sms.outbound import media_auth, send_sms
    from intake.media import register_media_auth, register_media_policy
    from intake.outbound import register_sender

    register_sender("sms", send_sms)
    register_media_auth("sms", media_auth)
    register_media_policy("sms", twilio_media_policy)


register(
    {
        "sms.rated": {
            "zh": "【怀柔12345】已收到您对诉求{number}的评价：{answer}。感谢您的反馈！",
            "en": "[Huairou 12345] Thank you: we recorded '{answer}' for case {number}.",
        },
        "sms.case_opened": {
            "zh": "【怀柔12345】已受理您的诉求，编号{number}。继续回复将补充到此件；"
            "发送“新 内容”另立新件；发送“CX {number}”查询进度；回复“退订”不再接收短信。",
            "en": "[Huairou 12345] Received as case {number}. Replies are added to it; send 'NEW <text>' "
            "for a new case, 'CX {number}' for its status, STOP to opt out.",
        },
        "sms.case_joined": {
            "zh": "【怀柔12345】已补充到您的诉求{number}。如需另立新件，请发送“新 内容”。",
            "en": "[Huairou 12345] Added to your case {number}. Send 'NEW <text>' to open a new case instead.",
        },
        "sms.case_status": {
            "zh": "【怀柔12345】诉求{number}当前状态：{status}。",
            "en": "[Huairou 12345] Case {number}: {status}.",
        },
        "sms.case_merged_status": {
            "zh": "【怀柔12345】诉求{number}已与同一问题的诉求{into}合并办理，当前状态：{status}。",
            "en": "[Huairou 12345] Case {number} was merged into case {into} about the same problem: {status}.",
        },
        "sms.case_not_found": {
            "zh": "【怀柔12345】未找到您名下的诉求{number}，请核对编号。",
            "en": "[Huairou 12345] No case {number} was reported from this number. Please check it.",
        },
        "sms.stopped": {
            "zh": "【怀柔12345】您已退订，将不再收到短信通知。回复START可恢复。",
            "en": "[Huairou 12345] You are unsubscribed and will get no more messages. Reply START to resubscribe.",
        },
        "sms.started": {
            "zh": "【怀柔12345】您已恢复接收短信通知。",
            "en": "[Huairou 12345] You are subscribed again.",
        },
        "sms.help": {
            "zh": "【怀柔12345】直接发送问题描述即可反映诉求；“CX 编号”查询进度；"
            "“新 内容”另立新件；“退订”停止通知。热线69612345。",
            "en": "[Huairou 12345] Text your problem to report it; 'CX <number>' for status; 'NEW <text>' "
            "for a new case; STOP to opt out. Hotline 69612345.",
        },
    }
)

CHANNEL = Channel(name="sms", blueprint=bp, setup=_setup)
