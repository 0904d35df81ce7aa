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


def init_worker() -> None:
    from agent_ui.live import announce_transition
    from agent_ui.presence import HEARTBEAT_TIMEOUT_SECONDS, expire_silent_agents
    from intake.cases import on_transition
    from intake.processing import register_periodic

    register_periodic(expire_silent_agents, HEARTBEAT_TIMEOUT_SECONDS // 2)
    on_transition(announce_transition)


def init_app(app: Any) -> None:
    from agent_ui.views import bp

    app.register_blueprint(bp)
