"""Leader assignments (领导指派): a leader opens or flags a case with an instruction and a priority; the
case carries the mark and the stricter deadline, and the leader follows it under "my assignments"."""

from __future__ import annotations

from channels.common import Channel
from channels.leader.views import bp
from intake.i18n import register

register(
    {
        "leader.mark": {"zh": "领导指派", "en": "Leader's assignment"},
        "leader.title": {"zh": "我的指派", "en": "My assignments"},
        "leader.none": {"zh": "暂无指派事项", "en": "No assignments yet"},
        "leader.instruction": {"zh": "领导批示", "en": "Instruction"},
        "leader.due": {"zh": "限办时间", "en": "Finish by"},
        "leader.new": {"zh": "新建指派事项", "en": "New assignment"},
        "leader.text": {"zh": "事项内容", "en": "What is the problem"},
        "leader.address": {"zh": "地点", "en": "Where"},
        "leader.create": {"zh": "指派", "en": "Assign"},
        "leader.flag": {"zh": "对已有案件批示", "en": "Flag an existing case"},
        "leader.flag_button": {"zh": "批示督办", "en": "Flag it"},
        "event.leader_assigned": {"zh": "领导批示", "en": "A leader's instruction"},
    }
)


def _setup() -> None:
    from channels.leader.assign import leader_cap, on_dispatch
    from intake.cases import on_transition
    from routing.deadlines import register_deadline_cap

    register_deadline_cap(leader_cap)
    on_transition(on_dispatch)


CHANNEL = Channel(name="leader", blueprint=bp, setup=_setup)
