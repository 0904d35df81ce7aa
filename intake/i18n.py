"""Two languages, Simplified Chinese and English, from message catalogs kept beside the code.

Each package registers its own catalog (``register({"key": {"zh": ..., "en": ...}})``). The
language of a web request comes from ``?lang=``, then the ``lang`` cookie, then Accept-Language.
"""

from __future__ import annotations

from typing import Literal

Language = Literal["zh", "en"]
LANGUAGES: tuple[Language, ...] = ("zh", "en")

_catalog: dict[str, dict[str, str]] = {}


def register(messages: dict[str, dict[str, str]]) -> None:
    for key, texts in messages.items():
        missing = set(LANGUAGES) - texts.keys()
        if missing:
            raise ValueError(f"message {key!r} lacks {sorted(missing)}")
        _catalog[key] = texts


def translate(key: str, lang: str, **values: object) -> str:
    texts = _catalog.get(key)
    if texts is None:
        return key
    text = texts.get(lang) or texts["zh"]
    return text.format(**values) if values else text


def pick_language(query: str | None, cookie: str | None, accept: str | None, default: str) -> Language:
    for candidate in (query, cookie):
        if candidate in LANGUAGES:
            return candidate  # type: ignore[return-value]
    if accept:
        for part in accept.split(","):
            tag = part.split(";")[0].strip().lower()
            if tag.startswith("zh"):
                return "zh"
            if tag.startswith("en"):
                return "en"
    return "en" if default == "en" else "zh"


register(
    {
        "status.received": {"zh": "已接收", "en": "Received"},
        "status.verifying": {"zh": "核实中", "en": "Being verified"},
        "status.invalid": {"zh": "无效", "en": "Invalid"},
        "status.merged": {"zh": "已合并", "en": "Merged"},
        "status.dispatched": {"zh": "已派遣", "en": "Dispatched"},
        "status.accepted": {"zh": "处置中", "en": "Being handled"},
        "status.handled": {"zh": "已处置", "en": "Handled"},
        "status.checked": {"zh": "已核查", "en": "Checked"},
        "status.closed": {"zh": "已结案", "en": "Closed"},
        "event.received": {"zh": "诉求已接收", "en": "Report received"},
        "event.queue": {"zh": "进入坐席受理队列", "en": "Queued for verification"},
        "event.invalidate": {"zh": "经核实为无效诉求", "en": "Found invalid on verification"},
        "event.merge": {"zh": "与相同问题合并办理", "en": "Merged with a report of the same problem"},
        "event.dispatch": {"zh": "已派遣至承办单位", "en": "Dispatched to the responsible unit"},
        "event.accept": {"zh": "承办单位已签收", "en": "Signed for by the responsible unit"},
        "event.report_result": {"zh": "承办单位已反馈处置结果", "en": "The unit reported its result"},
        "event.close": {"zh": "已结案", "en": "Closed"},
        "event.reopen": {"zh": "已重新办理", "en": "Reopened"},
        "sms.closed_survey": {
            "zh": "【怀柔12345】您的诉求{number}已办结：{result}。请回复数字评价：1满意 2基本满意 3不满意。",
            "en": "[Huairou 12345] Your case {number} is closed: {result}. "
            "Reply 1 satisfied, 2 basically satisfied, 3 not satisfied.",
        },
        "event.rated": {"zh": "反映人评价", "en": "Rated by the reporter"},
        "satisfaction.1": {"zh": "满意", "en": "Satisfied"},
        "satisfaction.2": {"zh": "基本满意", "en": "Basically satisfied"},
        "satisfaction.3": {"zh": "不满意", "en": "Not satisfied"},
        "sms.status_update": {
            "zh": "【怀柔12345】您的诉求{number}状态更新：{status}。",
            "en": "[Huairou 12345] Your case {number} is now: {status}.",
        },
    }
)
