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
        # API errors, by their stable code (channels.app.errors.error_code); {field} is a field's label.
        "app.error.error": {"zh": "操作失败，请稍后重试", "en": "That did not work; try again later"},
        "app.error.not_signed_in": {"zh": "登录已失效，请重新登录", "en": "Please sign in again"},
        "app.error.code_wrong": {"zh": "验证码不正确", "en": "That code is not right"},
        "app.error.code_expired": {"zh": "验证码已失效，请重新获取", "en": "The code has expired: ask for a new one"},
        "app.error.code_exhausted": {
            "zh": "验证码错误次数过多，请重新获取",
            "en": "Too many wrong codes: ask for a new one",
        },
        "app.error.code_too_soon": {
            "zh": "验证码刚刚已发送，请{seconds}秒后再试",
            "en": "A code was sent moments ago: try again in {seconds} s",
        },
        "app.error.code_hourly_limit": {
            "zh": "本小时获取验证码次数过多，请稍后再试",
            "en": "Too many codes this hour: try again later",
        },
        "app.error.rate_limited": {"zh": "操作过于频繁，请稍后再试", "en": "Too many attempts: try again later"},
        "app.error.invalid_phone": {
            "zh": "请输入11位手机号码（以1开头）",
            "en": "Enter a mainland mobile number (11 digits starting with 1)",
        },
        "app.error.invalid_body": {"zh": "请求格式不正确", "en": "The request could not be read"},
        "app.error.required": {"zh": "请填写{field}", "en": "{field} is required"},
        "app.error.too_long": {"zh": "{field}内容过长", "en": "{field} is too long"},
        "app.error.too_large": {"zh": "照片文件过大", "en": "A photo is too large"},
        "app.error.invalid_photo": {
            "zh": "照片格式不支持或无法读取（支持 JPEG、PNG、GIF、WebP、HEIC）",
            "en": "A photo could not be read (JPEG, PNG, GIF, WebP or HEIC)",
        },
        "app.error.invalid_field": {"zh": "{field}填写有误", "en": "{field} is not valid"},
        "app.error.not_found": {"zh": "未找到您的这件诉求", "en": "No such case of yours"},
        "app.error.conflict": {
            "zh": "诉求当前状态下不能进行此操作",
            "en": "That cannot be done while the case is in this state",
        },
        "app.field.description": {"zh": "问题描述", "en": "Description"},
        "app.field.address": {"zh": "地址", "en": "Address"},
        "app.field.category": {"zh": "问题类型", "en": "Category"},
        "app.field.lat": {"zh": "纬度", "en": "Latitude"},
        "app.field.lon": {"zh": "经度", "en": "Longitude"},
        "app.field.photos": {"zh": "照片", "en": "Photos"},
        "app.field.phone": {"zh": "手机号", "en": "Mobile number"},
        "app.field.code": {"zh": "验证码", "en": "Code"},
        "app.field.client_id": {"zh": "客户端编号", "en": "client_id"},
        "app.field.satisfaction": {"zh": "评价", "en": "Rating"},
        "app.field.text": {"zh": "问题描述", "en": "Description"},
    }
)

CHANNEL = Channel(name="app", blueprint=bp)
