"""Grid workers (网格员上报): reports from the worker's phone, and check tasks (核查) they answer on site."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from channels.common import Channel
from channels.grid.views import bp
from intake.i18n import register
from intake.models import Case, ReportRecord

register(
    {
        "grid.app_name": {"zh": "怀柔网格员", "en": "Huairou grid worker"},
        "grid.short_name": {"zh": "网格员", "en": "Grid worker"},
        "grid.code.sms": {
            "zh": "【怀柔网格】您的登录验证码为{code}，{minutes}分钟内有效。如非本人操作请忽略。",
            "en": "[Huairou grid] Your sign-in code is {code}, valid for {minutes} minutes.",
        },
        "grid.task.sms": {
            "zh": "【怀柔网格】您有一条核查任务：案件{number}（{summary}），请到现场核查并拍照反馈。",
            "en": "[Huairou grid] A check task for you: case {number} ({summary}). Please check on site with a photo.",
        },
        "grid.page.title": {"zh": "网格员上报", "en": "Grid worker reports"},
        "grid.page.sign_in": {"zh": "网格员登录", "en": "Grid worker sign-in"},
        "grid.page.phone": {"zh": "登记手机号", "en": "Registered mobile number"},
        "grid.page.get_code": {"zh": "获取验证码", "en": "Get a code"},
        "grid.page.code": {"zh": "短信验证码", "en": "Code from the SMS"},
        "grid.page.sign_in_button": {"zh": "登录", "en": "Sign in"},
        "grid.page.sign_out": {"zh": "退出", "en": "Sign out"},
        "grid.page.code_sent": {"zh": "验证码已发送，请查收短信", "en": "The code is on its way by SMS"},
        "grid.page.my_cell": {"zh": "我的网格", "en": "My grid cell"},
        "grid.page.tab.report": {"zh": "上报", "en": "Report"},
        "grid.page.tab.tasks": {"zh": "核查任务", "en": "Check tasks"},
        "grid.page.tab.mine": {"zh": "我的上报", "en": "My reports"},
        "grid.page.description": {"zh": "问题描述", "en": "What is the problem?"},
        "grid.page.category": {"zh": "问题类型", "en": "Category"},
        "grid.page.category_none": {"zh": "不确定", "en": "Not sure"},
        "grid.page.address": {"zh": "位置说明", "en": "Where exactly"},
        "grid.page.locate": {"zh": "获取GPS定位", "en": "Get the GPS point"},
        "grid.page.located": {"zh": "已定位", "en": "Located"},
        "grid.page.locate_failed": {"zh": "定位失败，请填写位置说明", "en": "No GPS fix; describe the place"},
        "grid.page.photos": {"zh": "现场照片", "en": "Photos"},
        "grid.page.submit": {"zh": "提交上报", "en": "Send the report"},
        "grid.page.sent": {"zh": "上报成功，案件编号", "en": "Sent: case number"},
        "grid.page.no_tasks": {"zh": "暂无核查任务", "en": "No check tasks"},
        "grid.page.no_reports": {"zh": "暂无上报记录", "en": "No reports yet"},
        "grid.page.merged_into": {"zh": "已与同一问题合并办理，案件", "en": "Handled together with case"},
        "grid.page.unit_result": {"zh": "承办单位反馈", "en": "The unit reports"},
        "grid.page.instruction": {"zh": "核查要求", "en": "What to check"},
        "grid.page.resolved": {"zh": "问题已解决", "en": "Solved on site"},
        "grid.page.not_resolved": {"zh": "问题未解决", "en": "Not solved"},
        "grid.page.note": {"zh": "核查说明", "en": "What you found"},
        "grid.page.answer": {"zh": "提交核查结果", "en": "Send the check"},
        "grid.page.answered": {"zh": "已反馈", "en": "Answered"},
        "grid.page.error": {"zh": "提交失败", "en": "Could not send"},
        "grid.page.offline": {"zh": "网络不可用，请稍后重试", "en": "No network; try again later"},
        "event.grid_check_requested": {"zh": "派发网格员核查", "en": "Sent to a grid worker to check"},
        "event.grid_check_answered": {"zh": "网格员核查反馈", "en": "The grid worker's check"},
        "console.grid.title": {"zh": "网格员核查", "en": "Grid worker checks"},
        "console.grid.instruction": {"zh": "核查要求", "en": "What to check"},
        "console.grid.send": {"zh": "派发网格员核查", "en": "Send to the cell's grid worker"},
        "console.grid.open": {"zh": "待网格员反馈", "en": "Waiting for the grid worker"},
        "console.grid.resolved": {"zh": "现场已解决", "en": "solved on site"},
        "console.grid.not_resolved": {"zh": "现场未解决", "en": "not solved on site"},
    }
)


def fill_worker_cell(session: Session, cases: Sequence[Case]) -> None:
    """Intake enricher: a worker's report without a GPS point lies in the worker's own cell."""
    todo = {case.id: case for case in cases if case.channel == "grid" and case.grid_code is None}
    if not todo:
        return
    rows = session.execute(
        select(ReportRecord.case_id, ReportRecord.meta)
        .where(ReportRecord.case_id.in_(todo), ReportRecord.channel == "grid")
        .order_by(ReportRecord.id)
    ).all()
    for case_id, meta in rows:
        case = todo[case_id]
        if case.grid_code is None and (meta or {}).get("grid_code"):
            case.grid_code = str(meta["grid_code"])


def _setup() -> None:
    from intake.processing import register_enricher

    register_enricher(fill_worker_cell)


def _panel_context() -> dict[str, Any]:
    return {"grid_check_tasks": _case_tasks}


def _case_tasks(number: str) -> list[dict[str, Any]]:
    from channels.grid.tasks import tasks_of_case
    from intake.web import runtime

    with runtime().db.transaction() as session:
        case_id = session.scalar(select(Case.id).where(Case.number == number))
        return tasks_of_case(session, case_id) if case_id is not None else []


bp.app_context_processor(_panel_context)

CHANNEL = Channel(name="grid", blueprint=bp, setup=_setup)
