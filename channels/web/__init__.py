"""Website submissions (网站填报): the public form, its JSON twin and the tracking page."""

from __future__ import annotations

from channels.common import Channel
from channels.web.views import bp
from intake.i18n import register

register(
    {
        # Page frame, shared look for citizen-facing pages.
        "web.site_title": {"zh": "怀柔区接诉即办", "en": "Huairou District 12345"},
        "web.site_subtitle": {
            "zh": "12345市民服务热线 · 网上诉求",
            "en": "Citizen service hotline · report online",
        },
        "web.nav.report": {"zh": "我要反映", "en": "Report a problem"},
        "web.nav.track": {"zh": "进度查询", "en": "Track a case"},
        "web.lang_switch_label": {"zh": "切换语言", "en": "Switch language"},
        "web.footer": {
            "zh": "北京市怀柔区12345市民服务热线 · 紧急情况请拨打110、119、120",
            "en": "Huairou District, Beijing · 12345 citizen hotline · In an emergency call 110, 119 or 120",
        },
        # The form.
        "web.report.title": {"zh": "反映问题", "en": "Report a problem"},
        "web.report.intro": {
            "zh": "发现城市管理问题？请填写下表，我们将核实后派遣至承办单位办理。",
            "en": "Seen a problem in the city? Fill in this form; we verify it and send it to the unit responsible.",
        },
        "web.required": {"zh": "必填", "en": "required"},
        "web.optional": {"zh": "选填", "en": "optional"},
        "web.field.description": {"zh": "问题描述", "en": "What is the problem?"},
        "web.field.description_hint": {
            "zh": "发生了什么、持续多久、影响到谁，请尽量具体",
            "en": "What happened, since when, who is affected: the more specific the better",
        },
        "web.field.category": {"zh": "问题类型", "en": "Category"},
        "web.field.category_none": {"zh": "不确定（由工作人员分类）", "en": "Not sure (staff will classify it)"},
        "web.field.address": {"zh": "地址", "en": "Address"},
        "web.field.address_hint": {
            "zh": "如：怀柔区青春路与府前街交叉口东北角",
            "en": "e.g. 12 Qingchun Road, Huairou",
        },
        "web.field.location": {"zh": "地图位置", "en": "Map point"},
        "web.field.location_hint": {
            "zh": "可点击按钮自动填写，或手动输入经纬度",
            "en": "Use the button to fill it in, or type the coordinates",
        },
        "web.field.lat": {"zh": "纬度", "en": "Latitude"},
        "web.field.lon": {"zh": "经度", "en": "Longitude"},
        "web.locate": {"zh": "使用我的位置", "en": "Use my location"},
        "web.locate.busy": {"zh": "正在定位…", "en": "Locating…"},
        "web.locate.done": {"zh": "已填入当前位置", "en": "Your location was filled in"},
        "web.locate.failed": {
            "zh": "无法获取位置，请手动填写或只填地址",
            "en": "Could not get your location; type it or give the address only",
        },
        "web.locate.unsupported": {"zh": "此浏览器不支持定位", "en": "This browser cannot share its location"},
        "web.field.photos": {"zh": "照片", "en": "Photos"},
        "web.field.photos_hint": {
            "zh": "最多{max}张，每张不超过{size}（JPEG、PNG、GIF、WebP、HEIC）",
            "en": "Up to {max}, each at most {size} (JPEG, PNG, GIF, WebP, HEIC)",
        },
        "web.field.photos_again": {
            "zh": "表单未提交成功，如需附带照片请重新选择。",
            "en": "The form was not sent; please choose your photos again.",
        },
        "web.field.phone": {"zh": "联系电话", "en": "Phone"},
        "web.field.phone_hint": {
            "zh": "用于回访和查询进度，不会公开",
            "en": "For follow-up calls and tracking; never published",
        },
        "web.submit": {"zh": "提交", "en": "Submit"},
        "web.submitting": {"zh": "正在提交…", "en": "Sending…"},
        "web.errors.summary": {
            "zh": "请修改标出的内容后重新提交。",
            "en": "Please correct the marked fields and submit again.",
        },
        # Field problems (adapter.Problem keys).
        "web.error.required": {"zh": "此项必填", "en": "This field is required"},
        "web.error.too_long": {
            "zh": "不能超过{max}字（现为{length}字）",
            "en": "At most {max} characters (this has {length})",
        },
        "web.error.unknown_category": {"zh": "请从列表中选择问题类型", "en": "Choose a category from the list"},
        "web.error.not_number": {"zh": "请填写数字，如 40.3165", "en": "Enter a number, e.g. 40.3165"},
        "web.error.type_number": {"zh": "应为数字", "en": "must be a number"},
        "web.error.type_string": {"zh": "应为字符串", "en": "must be a string"},
        "web.error.lat_range": {"zh": "纬度应在 -90 到 90 之间", "en": "Latitude must be between -90 and 90"},
        "web.error.lon_range": {"zh": "经度应在 -180 到 180 之间", "en": "Longitude must be between -180 and 180"},
        "web.error.point_incomplete": {"zh": "纬度和经度需同时填写", "en": "Give both latitude and longitude"},
        "web.error.phone": {
            "zh": "请填写有效的手机号码或带区号的固定电话",
            "en": "Enter a valid mobile number, or a landline with its area code",
        },
        "web.error.photo_count": {"zh": "最多上传{max}张照片", "en": "At most {max} photos"},
        "web.error.photo_size": {"zh": "“{name}”超过{size}", "en": "“{name}” is larger than {size}"},
        "web.error.photo_type": {
            "zh": "“{name}”不是支持的图片（JPEG、PNG、GIF、WebP、HEIC）",
            "en": "“{name}” is not a supported image (JPEG, PNG, GIF, WebP, HEIC)",
        },
        "web.error.photo_base64": {
            "zh": "“{name}”的 data_base64 不是有效的 Base64",
            "en": "data_base64 of “{name}” is not valid base64",
        },
        "web.error.photos_shape": {
            "zh": "应为对象列表，每项含 filename、content_type、data_base64",
            "en": "must be a list of objects with filename, content_type and data_base64",
        },
        "web.error.unknown_field": {"zh": "未知字段", "en": "unknown field"},
        "web.error.not_json": {"zh": "请求体不是有效的 JSON", "en": "the body is not valid JSON"},
        "web.error.not_utf8": {"zh": "请求体不是 UTF-8 编码", "en": "the body is not UTF-8"},
        "web.error.not_object": {"zh": "请求体应为 JSON 对象", "en": "the body must be a JSON object"},
        "web.error.lang": {"zh": "应为 zh 或 en", "en": "must be zh or en"},
        "web.error.idempotency_key": {
            "zh": "应为1到{max}个可见 ASCII 字符",
            "en": "must be 1 to {max} visible ASCII characters",
        },
        "web.error.csrf": {
            "zh": "页面已过期，请检查内容后重新提交。",
            "en": "This page expired; please check the form and submit again.",
        },
        # Confirmation.
        "web.done.title": {"zh": "提交成功", "en": "Report received"},
        "web.done.number": {"zh": "您的诉求编号", "en": "Your case number"},
        "web.done.keep": {
            "zh": "请保存此编号。凭编号和联系电话后四位可随时查询办理进度。",
            "en": "Keep this number: with it and the last four digits of your phone you can track the case.",
        },
        "web.done.duplicate": {
            "zh": "此前已收到同一份提交，未重复登记。",
            "en": "We had already received this submission; it was not registered twice.",
        },
        "web.done.track": {"zh": "查询办理进度", "en": "Track this case"},
        "web.done.another": {"zh": "再反映一个问题", "en": "Report another problem"},
        # Tracking.
        "web.track.title": {"zh": "办理进度查询", "en": "Track a case"},
        "web.track.intro": {
            "zh": "请输入诉求编号和提交时所留电话的后四位。",
            "en": "Enter the case number and the last four digits of the phone you gave.",
        },
        "web.field.number": {"zh": "诉求编号", "en": "Case number"},
        "web.field.number_hint": {"zh": "如 20250101-000123", "en": "e.g. 20250101-000123"},
        "web.field.last4": {"zh": "电话后四位", "en": "Last four digits of your phone"},
        "web.track.submit": {"zh": "查询", "en": "Look up"},
        "web.track.not_found": {
            "zh": "未找到匹配的诉求，请核对编号和电话后四位。",
            "en": "No case matches that number and phone. Please check both.",
        },
        "web.track.bad_number": {
            "zh": "编号格式为“日期-序号”，如 20250101-000123",
            "en": "A case number looks like 20250101-000123",
        },
        "web.track.bad_last4": {"zh": "请输入4位数字", "en": "Enter four digits"},
        "web.track.status": {"zh": "当前状态", "en": "Status"},
        "web.track.submitted": {"zh": "提交时间", "en": "Submitted"},
        "web.track.merged_into": {
            "zh": "与同一问题的诉求 {number} 合并办理",
            "en": "Merged into case {number} about the same problem",
        },
        "web.track.category": {"zh": "问题类型", "en": "Category"},
        "web.track.history": {"zh": "办理过程", "en": "History"},
        "web.event.other": {"zh": "状态更新", "en": "Status update"},
        # Other pages.
        "web.rate_limited.title": {"zh": "操作过于频繁", "en": "Too many requests"},
        "web.rate_limited.body": {
            "zh": "请稍后再试。如情况紧急，请拨打12345。",
            "en": "Please try again later. If it is urgent, call 12345.",
        },
        "web.too_large.title": {"zh": "上传内容过大", "en": "Upload too large"},
        "web.too_large.body": {
            "zh": "一次提交的内容合计不能超过{size}，请减少或压缩照片后重试。",
            "en": "One submission may be at most {size} in all; send fewer or smaller photos.",
        },
        "web.back": {"zh": "返回", "en": "Back"},
    }
)

CHANNEL = Channel(name="web", blueprint=bp)
