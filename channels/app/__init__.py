"""The citizen app (社管通): phone + SMS code sign-in, reports with photos and location, "my reports",
as an installable mobile web page (manifest + service worker) on a JSON API."""

from __future__ import annotations

from channels.app.views import bp
from channels.common import Channel
from intake.i18n import register

register(
    {
        "app.name": {"zh": "怀柔社管通", "en": "Huairou Citizen App"},
        "app.short_name": {"zh": "社管通", "en": "Citizen App"},
        "app.description": {
            "zh": "随手拍，反映身边问题，查看办理结果",
            "en": "Report problems near you and follow them",
        },
        "app.code.sms": {
            "zh": "【怀柔社管通】您的登录验证码为{code}，{minutes}分钟内有效。如非本人操作请忽略。",
            "en": "[Huairou Citizen App] Your sign-in code is {code}, valid for {minutes} minutes.",
        },
        "app.event.other": {"zh": "状态更新", "en": "Status update"},
        "app.page.title": {"zh": "社管通", "en": "Citizen App"},
        "app.page.sign_in": {"zh": "手机号登录", "en": "Sign in with your mobile"},
        "app.page.sign_in_intro": {
            "zh": "登录后可随手拍反映问题，并查看办理进度和结果。",
            "en": "Sign in to report problems with photos and follow what happens to them.",
        },
        "app.page.phone": {"zh": "手机号", "en": "Mobile number"},
        "app.page.get_code": {"zh": "获取验证码", "en": "Get a code"},
        "app.page.code": {"zh": "短信验证码", "en": "Code from the SMS"},
        "app.page.sign_in_button": {"zh": "登录", "en": "Sign in"},
        "app.page.sign_out": {"zh": "退出", "en": "Sign out"},
        "app.page.tab.report": {"zh": "随手拍", "en": "Report"},
        "app.page.tab.mine": {"zh": "我的诉求", "en": "My reports"},
        "app.page.description": {"zh": "问题描述", "en": "What is the problem?"},
        "app.page.category": {"zh": "问题类型", "en": "Category"},
        "app.page.category_none": {"zh": "不确定（由工作人员分类）", "en": "Not sure (staff will classify it)"},
        "app.page.address": {"zh": "地址", "en": "Address"},
        "app.page.locate": {"zh": "使用当前位置", "en": "Use my location"},
        "app.page.photos": {"zh": "照片", "en": "Photos"},
        "app.page.submit": {"zh": "提交", "en": "Send"},
        "app.page.code_sent": {"zh": "验证码已发送，请查收短信", "en": "The code is on its way by SMS"},
        "app.page.sent": {"zh": "提交成功，诉求编号", "en": "Sent: case number"},
        "app.page.error": {"zh": "操作失败", "en": "That did not work"},
        "app.page.offline": {"zh": "网络不可用，请稍后重试", "en": "No network; try again later"},
        "app.page.located": {"zh": "已定位", "en": "Located"},
        "app.page.locate_failed": {"zh": "无法定位，请填写地址", "en": "No location; type the address"},
        "app.page.result": {"zh": "办理结果", "en": "Result"},
        "app.page.merged_into": {"zh": "已与同类诉求合并办理", "en": "Handled together with"},
        "app.page.rate": {"zh": "请评价", "en": "How satisfied are you?"},
        "app.page.rated": {"zh": "您的评价", "en": "Your rating"},
        "app.page.no_reports": {"zh": "还没有诉求记录", "en": "No reports yet"},
        "app.page.history": {"zh": "办理过程", "en": "History"},
    }
)

CHANNEL = Channel(name="app", blueprint=bp)
