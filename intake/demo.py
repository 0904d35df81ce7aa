"""Demo users and a handful of demo reports for an empty database (places come from routing)."""

from __future__ import annotations

import logging
import secrets
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from intake.auth import Role, create_user
from intake.phones import normalize_phone
from intake.report import Contact, Location, Report
from intake.submit import submit

log = logging.getLogger(__name__)

#: (username, role, display name, department)
DEMO_USERS: list[tuple[str, Role, str, str | None]] = [
    ("agent1", Role.AGENT, "坐席员 王丽", None),
    ("agent2", Role.AGENT, "坐席员 张伟", None),
    ("supervisor", Role.SUPERVISOR, "值班长 李娜", None),
    ("urban", Role.DEPARTMENT, "城管委 刘强", "urban-management"),
    ("quanhe", Role.DEPARTMENT, "泉河街道 陈静", "town-110116001"),
    ("leader", Role.LEADER, "区领导 赵敏", None),
    ("admin", Role.ADMIN, "管理员", None),
]

#: (text, address, lat, lon, category, phone) of sample website reports.
DEMO_REPORTS: list[tuple[str, str, float, float, str, str]] = [
    (
        "青春路12号门前井盖缺失，夜间行人容易踩空。",
        "泉河街道青春路12号",
        40.3225,
        116.6392,
        "manhole-cover",
        "13812348000",
    ),
    (
        "开放路与迎宾路交叉口红绿灯不亮，早高峰拥堵。",
        "龙山街道开放路",
        40.3091,
        116.6268,
        "traffic-signal",
        "13911112222",
    ),
    ("雁栖湖西岸有人倾倒建筑垃圾。", "雁栖镇雁栖湖西岸", 40.4012, 116.6601, "construction-waste", "13700003333"),
    (
        "Street light out on Fuqian Street for a week.",
        "泉河街道府前街",
        40.3240,
        116.6410,
        "street-light",
        "13655554444",
    ),
]


def load_users(session: Session, password: str | None) -> str:
    password = password or secrets.token_urlsafe(9)
    for username, role, display, department in DEMO_USERS:
        create_user(session, username, role, password, display_name=display, department_code=department)
    return password


def submit_reports() -> list[str]:
    numbers = []
    start = datetime.now(UTC) - timedelta(minutes=len(DEMO_REPORTS) * 7)
    for index, (text, address, lat, lon, category, phone) in enumerate(DEMO_REPORTS):
        result = submit(
            Report(
                channel="web",
                source_id=f"demo-{index + 1}",
                text=text,
                contact=Contact(phone=normalize_phone(phone)),
                location=Location(lat=lat, lon=lon, address=address),
                category=category,
                received_at=start + timedelta(minutes=index * 7),
                meta={"lang": "en" if text.isascii() else "zh", "demo": True},
            )
        )
        numbers.append(result.case_number)
    return numbers
