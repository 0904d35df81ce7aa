"""The seat agents' and supervisors' web console: sign-in, presence, the live queue, claims."""

from __future__ import annotations

from typing import Any

from intake.i18n import register

register(
    {
        "console.title": {"zh": "怀柔12345 坐席工作台", "en": "Huairou 12345 agent console"},
        "console.login.title": {"zh": "坐席登录", "en": "Sign in"},
        "console.login.username": {"zh": "用户名", "en": "Username"},
        "console.login.password": {"zh": "密码", "en": "Password"},
        "console.login.submit": {"zh": "登录", "en": "Sign in"},
        "console.login.failed": {"zh": "用户名或密码错误", "en": "Wrong username or password"},
        "console.login.locked": {
            "zh": "连续登录失败次数过多，账号已临时锁定，请15分钟后再试",
            "en": "Too many failed sign-ins: the account is locked for 15 minutes",
        },
        "console.logout": {"zh": "退出", "en": "Sign out"},
        "console.queue.title": {"zh": "待受理队列", "en": "Waiting for verification"},
        "console.queue.empty": {"zh": "队列为空", "en": "The queue is empty"},
        "console.queue.next": {"zh": "下一件 (N)", "en": "Next case (N)"},
        "console.queue.none_left": {"zh": "暂无待受理案件", "en": "No case is waiting"},
        "console.col.number": {"zh": "编号", "en": "Number"},
        "console.col.channel": {"zh": "来源", "en": "Channel"},
        "console.col.priority": {"zh": "优先级", "en": "Priority"},
        "console.col.waiting": {"zh": "等待(分钟)", "en": "Waiting (min)"},
        "console.col.summary": {"zh": "摘要", "en": "Summary"},
        "console.presence": {"zh": "状态", "en": "Status"},
        "console.presence.available": {"zh": "空闲", "en": "Available"},
        "console.presence.busy": {"zh": "忙碌", "en": "Busy"},
        "console.presence.break": {"zh": "小休", "en": "Break"},
        "console.presence.offline": {"zh": "离线", "en": "Offline"},
        "console.case.not_found": {"zh": "未找到该案件", "en": "No such case"},
        "console.case.reports": {"zh": "诉求内容", "en": "Reports"},
        "console.case.history": {"zh": "办理记录", "en": "History"},
        "console.case.reporter": {"zh": "反映人", "en": "Reporter"},
        "console.case.held": {"zh": "由您受理中", "en": "You hold this case"},
        "console.back": {"zh": "返回队列", "en": "Back to the queue"},
        "console.case.reveal": {"zh": "显示完整号码", "en": "Show full number"},
        "console.case.grid": {"zh": "网格", "en": "Grid cell"},
        "console.case.category": {"zh": "问题类型", "en": "Category"},
        "console.case.save": {"zh": "保存", "en": "Save"},
        "console.case.department": {"zh": "承办单位", "en": "Responsible unit"},
        "console.case.dispatch": {"zh": "派遣", "en": "Dispatch"},
        "console.case.invalid_reason": {"zh": "无效原因", "en": "Why invalid"},
        "console.case.invalidate": {"zh": "标记无效", "en": "Mark invalid"},
        "console.case.earlier": {"zh": "该反映人以往诉求", "en": "This reporter's earlier cases"},
        "event.claimed": {"zh": "坐席领取", "en": "Taken by an agent"},
        "event.released": {"zh": "退回队列", "en": "Given back to the queue"},
        "event.updated": {"zh": "信息更正", "en": "Details corrected"},
        "event.phone_viewed": {"zh": "查看完整号码", "en": "Full number viewed"},
        "event.report_added": {"zh": "补充诉求", "en": "Report added"},
        "event.message_queued": {"zh": "短信待发", "en": "Message queued"},
        "event.message_sent": {"zh": "短信已发", "en": "Message sent"},
        "event.message_delivered": {"zh": "短信已送达", "en": "Message delivered"},
        "event.message_suppressed": {"zh": "已退订，未发短信", "en": "Opted out: no message sent"},
        "console.wallboard": {"zh": "值班监控", "en": "Wallboard"},
        "console.wall.waiting": {"zh": "待受理", "en": "Waiting"},
        "console.wall.longest": {"zh": "最长等待(分钟)", "en": "Longest wait (min)"},
        "console.wall.in_hand": {"zh": "受理中", "en": "Being verified"},
        "console.wall.overdue": {"zh": "超期未办结", "en": "Past deadline"},
        "console.wall.by_channel": {"zh": "各渠道待受理", "en": "Waiting by channel"},
        "console.wall.agents": {"zh": "坐席状态", "en": "Agents"},
        "console.case.candidates": {"zh": "疑似重复", "en": "Possible duplicates"},
        "console.case.no_candidates": {"zh": "未发现疑似重复案件", "en": "No likely duplicate found"},
        "console.case.similarity": {"zh": "相似度", "en": "similarity"},
        "console.case.merge": {"zh": "合并到此件", "en": "Merge into this"},
        "event.merged_in": {"zh": "合并了重复诉求", "en": "A duplicate was merged in"},
        "event.merge_moved": {
            "zh": "所并入的案件又并入另一案件，随之转入",
            "en": "The case it was merged into was merged on; it follows",
        },
        "console.dup.near": {"zh": "相距{metres}米", "en": "{metres} m away"},
        "console.dup.cell": {"zh": "同一网格", "en": "same grid cell"},
        "console.dup.category_same": {"zh": "同一类别", "en": "same category"},
        "console.dup.category_related": {"zh": "相近类别", "en": "related category"},
        "console.dup.text": {"zh": "内容相似{percent}%", "en": "text {percent}% alike"},
        "console.dup.score": {"zh": "匹配度", "en": "match"},
        "console.case.report_from": {"zh": "来自案件", "en": "from case"},
        "console.case.report_contact": {"zh": "反映人", "en": "reporter"},
        "console.case.merged_into": {"zh": "已并入案件", "en": "Merged into case"},
        "console.case.ask": {"zh": "短信询问反映人", "en": "Ask the reporter by SMS"},
        "console.case.ask_send": {"zh": "发送", "en": "Send"},
        "console.ask.sms": {
            "zh": "【怀柔12345】关于您的诉求{number}：{question}（直接回复本短信即可）",
            "en": "[Huairou 12345] About your case {number}: {question} (just reply to this message)",
        },
        "event.info_requested": {"zh": "向反映人询问", "en": "Asked the reporter"},
        "console.priority.1": {"zh": "紧急", "en": "Urgent"},
        "console.priority.2": {"zh": "高", "en": "High"},
        "console.priority.3": {"zh": "一般", "en": "Normal"},
        "console.priority.4": {"zh": "低", "en": "Low"},
        "console.invalid.spam": {"zh": "骚扰/垃圾信息", "en": "Spam"},
        "console.invalid.test": {"zh": "测试", "en": "Test"},
        "console.invalid.not_government": {"zh": "非政府职能事项", "en": "Not a government matter"},
        "console.invalid.duplicate_call": {"zh": "重复来电", "en": "Repeated call"},
        "console.invalid.insufficient": {"zh": "信息不足无法核实", "en": "Too little to verify"},
        "console.invalid.other": {"zh": "其他", "en": "Other"},
    }
)


# The map page (一图呈现) and its case-location widget: agent_ui/maps.py, static/console/map.js.
register(
    {
        "map.title": {"zh": "一图呈现", "en": "One map"},
        "map.filter.category": {"zh": "问题类型", "en": "Category"},
        "map.filter.channel": {"zh": "来源渠道", "en": "Channel"},
        "map.filter.status": {"zh": "办理状态", "en": "Status"},
        "map.filter.all": {"zh": "全部", "en": "All"},
        "map.legend": {"zh": "图例", "en": "Legend"},
        "map.overdue": {"zh": "已超期", "en": "Overdue"},
        "map.open_case": {"zh": "查看案件", "en": "Open the case"},
        "map.cases_shown": {"zh": "地图上 {count} 件在办案件", "en": "{count} open cases on the map"},
        "map.cases_truncated": {
            "zh": "案件过多，仅显示最新的 {limit} 件，请用筛选缩小范围",
            "en": "Too many cases: only the newest {limit} are shown; narrow the filters",
        },
        "map.cells_truncated": {
            "zh": "网格过多，仅显示 {limit} 个，请放大地图",
            "en": "Too many grid cells: only {limit} are shown; zoom in",
        },
        "map.cells_hint": {"zh": "放大地图可显示网格", "en": "Zoom in to see the grid cells"},
        "map.failed": {"zh": "地图数据加载失败，请刷新重试", "en": "The map data could not be loaded; reload to retry"},
        "map.layer.towns": {"zh": "乡镇街道", "en": "Towns and subdistricts"},
        "map.layer.communities": {"zh": "社区（村）", "en": "Communities and villages"},
        "map.layer.cells": {"zh": "网格", "en": "Grid cells"},
        "map.layer.cases": {"zh": "在办案件", "en": "Open cases"},
        "map.channel.web": {"zh": "网站", "en": "Website"},
        "map.channel.sms": {"zh": "短信", "en": "SMS"},
        "map.channel.hotline": {"zh": "12345热线", "en": "Hotline"},
    }
)


# The statistics page (一库统计): agent_ui/stats.py, templates/console/stats.html, routing/stats.py.
register(
    {
        "stats.title": {"zh": "统计分析", "en": "Statistics"},
        "stats.from": {"zh": "起始日期", "en": "From"},
        "stats.to": {"zh": "截止日期", "en": "To"},
        "stats.sort": {"zh": "排序", "en": "Sort by"},
        "stats.show": {"zh": "查询", "en": "Show"},
        "stats.period.this_month": {"zh": "本月", "en": "This month"},
        "stats.period.last_month": {"zh": "上月", "en": "Last month"},
        "stats.period.this_year": {"zh": "本年", "en": "This year"},
        "stats.period.last_30_days": {"zh": "近30天", "en": "Last 30 days"},
        "stats.bad_date": {
            "zh": "日期参数 {name} 无效：{value}（格式为 YYYY-MM-DD）",
            "en": "Date {name} is not valid: {value} (use YYYY-MM-DD)",
        },
        "stats.bad_period": {"zh": "截止日期早于起始日期", "en": "The period ends before it begins"},
        "stats.bad_view": {"zh": "view 参数只能是 {views}", "en": "view must be one of {views}"},
        "stats.overall": {"zh": "全区合计", "en": "Overall"},
        "stats.units": {"zh": "承办单位排名", "en": "Units ranked"},
        "stats.export": {"zh": "导出CSV", "en": "Export CSV"},
        "stats.no_cases": {"zh": "该时段内没有案件", "en": "No cases in this period"},
        "stats.public_share": {"zh": "群众反映占比", "en": "From the public"},
        "stats.by_sources": {"zh": "按来源", "en": "By source"},
        "stats.by_categories": {"zh": "按问题类型", "en": "By category"},
        "stats.by_areas": {"zh": "按街道乡镇", "en": "By town"},
        "stats.uncategorised": {"zh": "未分类", "en": "Not categorised"},
        "stats.no_area": {"zh": "未定位", "en": "No location"},
        "stats.kind.public": {"zh": "群众反映", "en": "From the public"},
        "stats.kind.internal": {"zh": "主动发现", "en": "Found by the government"},
        "stats.rate.response_rate": {"zh": "响应率", "en": "Response rate"},
        "stats.rate.resolution_rate": {"zh": "解决率", "en": "Resolution rate"},
        "stats.rate.satisfaction_rate": {"zh": "满意率", "en": "Satisfaction rate"},
        "stats.rate.on_time_rate": {"zh": "按期办结率", "en": "On-time rate"},
        "stats.sort.response_rate": {"zh": "响应率", "en": "Response rate"},
        "stats.sort.resolution_rate": {"zh": "解决率", "en": "Resolution rate"},
        "stats.sort.satisfaction_rate": {"zh": "满意率", "en": "Satisfaction rate"},
        "stats.sort.on_time_rate": {"zh": "按期办结率", "en": "On-time rate"},
        "stats.sort.dispatched": {"zh": "派遣件数", "en": "Dispatched"},
        "stats.col.code": {"zh": "代码", "en": "Code"},
        "stats.col.unit": {"zh": "承办单位", "en": "Unit"},
        "stats.col.received": {"zh": "受理件数", "en": "Received"},
        "stats.col.dispatched": {"zh": "派遣件数", "en": "Dispatched"},
        "stats.col.closed": {"zh": "结案件数", "en": "Closed"},
        "stats.col.overdue": {"zh": "超期件数", "en": "Overdue"},
        "stats.col.returns": {"zh": "退单次数", "en": "Returns"},
        "stats.col.returned": {"zh": "退单件数", "en": "Cases returned"},
        "stats.col.urges": {"zh": "催办次数", "en": "Urges"},
        "stats.col.satisfied": {"zh": "满意", "en": "Satisfied"},
        "stats.col.basically_satisfied": {"zh": "基本满意", "en": "Basically satisfied"},
        "stats.col.not_satisfied": {"zh": "不满意", "en": "Not satisfied"},
        "stats.col.sources": {"zh": "来源", "en": "Source"},
        "stats.col.categories": {"zh": "问题类型", "en": "Category"},
        "stats.col.areas": {"zh": "街道乡镇", "en": "Town"},
        "stats.col.cases": {"zh": "件数", "en": "Cases"},
        "stats.col.share": {"zh": "占比", "en": "Share"},
        "stats.col.kind": {"zh": "类别", "en": "Kind"},
        "stats.channel.hotline": {"zh": "热线电话", "en": "Hotline"},
        "stats.channel.sms": {"zh": "短信", "en": "SMS"},
        "stats.channel.web": {"zh": "网站填报", "en": "Website"},
        "stats.channel.app": {"zh": "社管通App", "en": "Citizen app"},
        "stats.channel.email": {"zh": "电子邮件", "en": "Email"},
        "stats.channel.partner": {"zh": "平台推送", "en": "Partner platforms"},
        "stats.channel.camera": {"zh": "探头巡查", "en": "Camera alarms"},
        "stats.channel.grid": {"zh": "网格员上报", "en": "Grid workers"},
        "stats.channel.leader": {"zh": "领导指派", "en": "Leader assignments"},
        "stats.channel.city": {"zh": "市级派单", "en": "City dispatch orders"},
        "stats.definitions": {
            "zh": "统计对象为所选时段内受理（创建）的案件及其当前状态。响应率：已派遣案件中在签收时限内签收的比例"
            "（未签收且未超签收时限的不计）；解决率：已结案案件中反映人评价为满意或基本满意的比例；"
            "满意率：已评价案件中满意与基本满意之和的比例；按期办结率：已处置案件中在办结时限内处置的比例。"
            "各单位数据按案件当前承办单位统计；退单按退单单位和退单时间统计。",
            "en": "Counts the cases received (created) in the period, as they stand now. Response rate: dispatched "
            "cases signed for within the respond clock (those not yet signed for and still inside it are left out); "
            "resolution rate: closed cases the reporter rated satisfied or basically satisfied; satisfaction rate: "
            "satisfied plus basically satisfied among rated cases; on-time rate: handled cases handled within the "
            "finish clock. A unit's figures are those of the cases it holds now; returns count against the unit "
            "that returned the case, in the period it did.",
        },
    }
)


# The closed loop: routing's proposal, the department side and the center's follow-up.
register(
    {
        "console.col.due": {"zh": "受理时限", "en": "Due"},
        "call.title": {"zh": "来电", "en": "Incoming call"},
        "nav.leader": {"zh": "领导指派", "en": "My assignments"},
        "callback.title": {"zh": "回拨任务", "en": "Call-back tasks"},
        "callback.empty": {"zh": "暂无回拨任务", "en": "No call-back waiting"},
        "callback.done": {"zh": "已回拨", "en": "Called back"},
        "callback.reason.abandoned": {"zh": "排队中挂断", "en": "hung up while waiting"},
        "callback.reason.requested": {"zh": "来电人要求回拨", "en": "asked to be called back"},
        "callback.reason.queue": {"zh": "排队中要求回拨", "en": "asked while waiting"},
        "console.wall.hotline": {"zh": "热线来电", "en": "Hotline"},
        "console.wall.calls_waiting": {"zh": "排队来电", "en": "Callers waiting"},
        "console.wall.longest_call": {"zh": "最长排队", "en": "longest wait"},
        "console.wall.calls_24h": {"zh": "24小时来电", "en": "Calls in 24 h"},
        "console.wall.answered": {"zh": "接通", "en": "answered"},
        "console.wall.abandoned": {"zh": "放弃", "en": "abandoned"},
        "console.wall.open_callbacks": {"zh": "待回拨", "en": "Call-backs open"},
        "console.wall.agents_available": {"zh": "空闲坐席", "en": "agents free"},
        "call.waited": {"zh": "排队", "en": "waited"},
        "call.history": {"zh": "来电人以往诉求", "en": "The caller's earlier cases"},
        "call.text": {"zh": "来电内容", "en": "What the caller reports"},
        "call.join": {"zh": "并入未办结案件", "en": "Add to their open case"},
        "call.create": {"zh": "生成工单", "en": "Create the case"},
        "console.wall.attention": {"zh": "待督办事项", "en": "Needs a supervisor"},
        "console.wall.reason.extension": {"zh": "延期申请待审批", "en": "extension requested"},
        "console.wall.reason.escalated": {"zh": "超期升级督办", "en": "escalated: overdue"},
        "console.wall.reason.returns": {"zh": "多次退单", "en": "returned repeatedly"},
        "console.wall.reason.dissatisfied": {"zh": "反映人不满意", "en": "reporter not satisfied"},
        "console.returned": {"zh": "退单", "en": "Returned"},
        "console.countdown.left": {"zh": "剩余", "en": "left"},
        "console.countdown.overdue": {"zh": "已超期", "en": "overdue"},
        "console.case.address": {"zh": "地址检索", "en": "Address search"},
        "console.case.map": {"zh": "位置", "en": "Location"},
        "console.route.proposed": {"zh": "系统建议", "en": "Routing proposes"},
        "console.route.override_reason": {"zh": "改派原因（必填）", "en": "Why another unit (required)"},
        "console.route.rule": {"zh": "规则{rule}：{reason}", "en": "rule {rule}: {reason}"},
        "console.route.default_owner": {"zh": "属地兜底（{reason}）", "en": "default owner ({reason})"},
        "console.route.town_center": {"zh": "属地兜底：所在街乡镇分中心", "en": "default owner: the town's sub-center"},
        "console.route.no_location": {"zh": "无位置，请人工选择", "en": "no location: choose the unit"},
        "unit.title": {"zh": "本单位待办", "en": "My unit's cases"},
        "unit.empty": {"zh": "暂无待办案件", "en": "Nothing to do"},
        "unit.back": {"zh": "返回待办列表", "en": "Back to the list"},
        "unit.col.status": {"zh": "状态", "en": "Status"},
        "unit.col.due": {"zh": "时限", "en": "Due"},
        "unit.col.urges": {"zh": "催办次数", "en": "Urges"},
        "unit.respond_due": {"zh": "签收时限", "en": "Sign for it by"},
        "unit.finish_due": {"zh": "办结时限", "en": "Finish by"},
        "unit.feedback_due": {"zh": "反馈时限", "en": "Report back by"},
        "unit.countdown": {"zh": "当前时限", "en": "Current deadline"},
        "unit.extension_pending": {"zh": "延期申请待批至", "en": "Extension requested until"},
        "unit.returns": {"zh": "退单次数", "en": "Times returned"},
        "unit.satisfaction": {"zh": "满意度", "en": "Satisfaction"},
        "unit.sign": {"zh": "签收", "en": "Sign for it"},
        "unit.return": {"zh": "退单", "en": "Return it"},
        "unit.return_reason": {"zh": "退单原因", "en": "Why it is not ours"},
        "unit.extension": {"zh": "申请延期", "en": "Ask for more time"},
        "unit.extension_until": {"zh": "延期至", "en": "New deadline"},
        "unit.extension_reason": {"zh": "延期理由", "en": "Why"},
        "unit.report_result": {"zh": "办结反馈", "en": "Report the result"},
        "unit.result_note": {"zh": "处置结果", "en": "What was done"},
        "unit.result_photos": {"zh": "现场照片", "en": "Photos"},
        "followup.note": {"zh": "备注", "en": "Note"},
        "followup.urge": {"zh": "催办", "en": "Urge the unit"},
        "followup.approve_extension": {"zh": "批准延期至", "en": "Approve the extension to"},
        "followup.refuse_extension": {"zh": "不予延期", "en": "Refuse the extension"},
        "followup.check_method": {"zh": "核查方式", "en": "Checked by"},
        "followup.method.callback": {"zh": "坐席回访", "en": "Calling the reporter back"},
        "followup.method.grid_worker": {"zh": "网格员核查", "en": "A grid worker"},
        "followup.method.camera": {"zh": "视频核查", "en": "A camera"},
        "followup.method.site_visit": {"zh": "现场核查", "en": "A site visit"},
        "followup.check_pass": {"zh": "核查通过", "en": "Check passed"},
        "followup.check_fail": {"zh": "核查不通过，退回承办单位", "en": "Check failed: back to the unit"},
        "followup.fail_reason": {"zh": "不通过原因", "en": "What is still wrong"},
        "followup.close": {"zh": "结案并回访", "en": "Close and ask the reporters"},
        "followup.reopen": {"zh": "重新办理", "en": "Reopen"},
        "followup.reopen_reason": {"zh": "重办原因", "en": "Why reopen"},
        "event.return": {"zh": "退单", "en": "Returned by the unit"},
        "event.extend": {"zh": "批准延期", "en": "Extension approved"},
        "event.extension_requested": {"zh": "申请延期", "en": "Extension requested"},
        "event.extension_refused": {"zh": "不予延期", "en": "Extension refused"},
        "event.check_pass": {"zh": "核查通过", "en": "Check passed"},
        "event.check_fail": {"zh": "核查不通过", "en": "Check failed"},
    }
)


def init_worker() -> None:
    from agent_ui.live import announce_transition
    from agent_ui.presence import HEARTBEAT_TIMEOUT_SECONDS, expire_silent_agents
    from intake.cases import on_transition
    from intake.processing import register_periodic

    register_periodic(expire_silent_agents, HEARTBEAT_TIMEOUT_SECONDS // 2)
    on_transition(announce_transition)


def init_app(app: Any) -> None:
    from agent_ui.followup import bp as followup
    from agent_ui.maps import bp as map_bp
    from agent_ui.stats import bp as stats_bp
    from agent_ui.views import bp

    app.register_blueprint(bp)
    app.register_blueprint(followup)
    app.register_blueprint(map_bp)
    app.register_blueprint(stats_bp)
