"""The ``ivr:`` section of ``config.yaml``: the phone menu, the call queue, the Twilio Voice driver.

The intake core keeps the section as raw data (``Config.ivr``); this module validates it (errors name
the key, ``ivr.menu.options.5.action``) and caches the result per configuration object. ``ivr.ari``
belongs to the Asterisk driver and is validated by :mod:`ivr.ari.settings`.

Every prompt is a pair of texts, Simplified Chinese and English; a prompt left out of the file keeps
its default from :data:`DEFAULT_PROMPTS`. Prompt texts may hold ``{placeholders}`` (listed there).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from intake.config import Config
from intake.errors import ConfigError
from intake.i18n import LANGUAGES, Language

#: What a key of the main menu can do.
MenuAction = Literal["queue", "status", "message", "voicemail", "callback"]

#: Every prompt the menu speaks, zh and en. Placeholders: ``case_status``/``case_not_found``: {number}
#: (spoken digit by digit) and {status}; ``queue_position``: {position}, {size}, {minutes}.
DEFAULT_PROMPTS: dict[str, dict[str, str]] = {
    "greeting": {
        "zh": "您好，欢迎致电怀柔区12345市民服务热线。",
        "en": "Welcome to the Huairou District 12345 citizen service hotline.",
    },
    "language": {"zh": "普通话服务请按1。", "en": "For English, press 2."},
    "main": {
        "zh": "反映问题请按1；查询诉求办理进度请按2；留言或预约回电请按3；人工服务请按0。",
        "en": "To report a problem, press 1. To hear the status of a case, press 2. "
        "To leave a message or ask for a call back, press 3. For an operator, press 0.",
    },
    "invalid": {"zh": "您的输入有误。", "en": "That is not a valid choice."},
    "no_input": {"zh": "我们没有收到您的按键。", "en": "We did not receive your choice."},
    "goodbye": {"zh": "感谢您的来电，再见。", "en": "Thank you for calling. Goodbye."},
    "case_entry": {
        "zh": "请输入14位诉求编号，以井号键结束。",
        "en": "Please key in the 14 digits of your case number, then press the pound key.",
    },
    "case_invalid": {"zh": "诉求编号应为14位数字。", "en": "A case number has 14 digits."},
    "case_status": {"zh": "诉求{number}，当前状态：{status}。", "en": "Case {number}: {status}."},
    "case_not_found": {
        "zh": "未找到您名下的诉求{number}，请核对编号。",
        "en": "No case {number} was reported from this number. Please check it.",
    },
    "message_menu": {
        "zh": "留言请按1；预约回电请按2。",
        "en": "To leave a voice message, press 1. To ask for a call back, press 2.",
    },
    "about_case": {
        "zh": "您有一件正在办理的诉求。本次留言如与该诉求有关请按1，反映新问题请按2。",
        "en": "You have a case in progress. If your message is about it, press 1. For a new problem, press 2.",
    },
    "record": {
        "zh": "请在提示音后留言，说明问题和地点，按井号键结束。",
        "en": "After the tone, please say what the problem is and where. Press the pound key when you are done.",
    },
    "record_thanks": {
        "zh": "您的留言已收到，我们会尽快处理。",
        "en": "We have your message and will deal with it soon.",
    },
    "callback_ok": {
        "zh": "已为您预约回电，工作人员将按您的来电顺序尽快与您联系。",
        "en": "We will call you back in the order you called, as soon as we can.",
    },
    "queue_enter": {"zh": "正在为您转接人工服务，请稍候。", "en": "Please hold while we connect you to an agent."},
    "queue_position": {"zh": "您现在排在第{position}位。", "en": "You are number {position} in line."},
    "queue_options": {
        "zh": "如不想等待，留言请按1，预约回电请按2，您的排队顺序将保留。",
        "en": "Rather not wait? Press 1 to leave a message or 2 for a call back; you keep your place.",
    },
    "no_agents": {"zh": "现在没有空闲的话务员。", "en": "No agent is free at the moment."},
    "connecting": {"zh": "正在为您接通话务员。", "en": "Connecting you to an agent now."},
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Prompt(_Strict):
    zh: str = Field(min_length=1)
    en: str = Field(min_length=1)

    def text(self, lang: str) -> str:
        return self.en if lang == "en" else self.zh


class MenuOption(_Strict):
    """What one key of the main menu does."""

    action: MenuAction
    #: Queue priority for ``queue``: 1 urgent … 4 low (lower numbers are answered first).
    priority: int = Field(3, ge=1, le=4)


class MenuSettings(_Strict):
    """The phone menu, shared by the Twilio and Asterisk drivers."""

    #: Seconds the caller has to press a key after a prompt ends.
    timeout_seconds: int = Field(5, ge=1, le=60)
    #: Seconds allowed between two keys of a case number.
    digit_timeout_seconds: int = Field(5, ge=1, le=60)
    #: How often a prompt is repeated after no input or a wrong key before the fallback.
    max_retries: int = Field(2, ge=0, le=10)
    #: What happens when the main menu gets no choice ``max_retries`` times over: leave a message or hang up.
    no_input_fallback: Literal["voicemail", "hangup"] = "voicemail"
    #: Key → language of the first question.
    languages: dict[str, Language] = {"1": "zh", "2": "en"}
    #: The language of a caller who chose none.
    default_language: Language = "zh"
    #: Key of the main menu → what it does.
    options: dict[str, MenuOption] = {
        "1": MenuOption(action="queue", priority=3),
        "2": MenuOption(action="status"),
        "3": MenuOption(action="message"),
        "0": MenuOption(action="queue", priority=2),
    }
    #: Digits of a case number keyed in for its status (YYYYMMDD + the day's six-digit ordinal).
    case_number_digits: int = Field(14, ge=9, le=16)
    #: Longest voice message, in seconds.
    record_max_seconds: int = Field(120, ge=5, le=3600)
    #: Seconds of silence that end a voice message.
    record_silence_seconds: int = Field(5, ge=1, le=60)
    #: Seconds a waiting caller has to press a key after the position announcement.
    queue_key_seconds: int = Field(5, ge=1, le=60)
    #: The call queue's name (the Twilio queue is ``<queue>-<priority>``).
    queue: str = Field("hotline", pattern=r"^[a-z][a-z0-9-]{0,40}$")
    #: Prompt name → texts; names left out keep their default (:data:`DEFAULT_PROMPTS`).
    prompts: dict[str, Prompt] = Field(
        default_factory=lambda: {key: Prompt(**texts) for key, texts in DEFAULT_PROMPTS.items()}
    )

    @field_validator("options", "languages")
    @classmethod
    def _keys(cls, value: dict[str, Any]) -> dict[str, Any]:
        for key in value:
            if len(key) != 1 or key not in "0123456789*#":
                raise ValueError(f"{key!r} is not a phone key (0-9, * or #)")
        return value

    @field_validator("prompts", mode="before")
    @classmethod
    def _defaults(cls, value: Any) -> Any:
        if not isinstance(value, dict):
            return value
        unknown = sorted(set(value) - DEFAULT_PROMPTS.keys())
        if unknown:
            raise ValueError(f"unknown prompt(s) {', '.join(unknown)}; known: {', '.join(DEFAULT_PROMPTS)}")
        return {**DEFAULT_PROMPTS, **value}

    @model_validator(mode="after")
    def _complete(self) -> MenuSettings:
        if not self.options:
            raise ValueError("options: the main menu needs at least one key")
        if not self.languages or set(self.languages.values()) - set(LANGUAGES):
            raise ValueError(f"languages: map keys to {', '.join(LANGUAGES)}")
        return self

    def prompt(self, key: str, lang: str) -> str:
        return self.prompts[key].text(lang)


class QueueSettings(_Strict):
    """The call queue and how agents are offered calls (ACD)."""

    #: Roles whose users take calls when their console presence is ``available``.
    agent_roles: list[str] = ["agent", "supervisor"]
    #: Seconds an agent's phone rings before the call is offered to the next agent.
    agent_ring_seconds: int = Field(20, ge=5, le=120)
    #: Seconds an agent's leg waits on ``<Dial><Queue>`` for a caller (the caller may have hung up meanwhile).
    agent_dial_timeout_seconds: int = Field(10, ge=1, le=120)
    #: Presence an agent gets after an offered call rang out unanswered (agent_ui.presence values).
    missed_call_presence: Literal["break", "offline"] = "break"
    #: Seconds between the scheduler's checks for waiting calls and free agents.
    dispatch_interval_seconds: int = Field(10, ge=1, le=300)


class TwilioVoiceSettings(_Strict):
    """The Twilio Voice driver."""

    #: ``<Say language>`` per menu language.
    say_language: dict[Language, str] = {"zh": "zh-CN", "en": "en-US"}
    #: ``<Say voice>`` per menu language; empty: Twilio's default voice for the language.
    voice: dict[Language, str] = {"zh": "", "en": ""}
    #: Played to waiting callers between position announcements; empty: a pause of ``hold_pause_seconds``.
    hold_music_url: str = ""
    #: Seconds of silence between two announcements when no hold music is set.
    hold_pause_seconds: int = Field(20, ge=1, le=600)
    #: The hotline's Twilio number (E.164), the caller id of calls that ring agents.
    number: str = ""
    #: Where an agent is rung: ``client:{username}`` (Twilio Voice SDK in the console) or a number
    #: pattern. Empty: agents are not rung; they dial in to ``/ivr/twilio/agent/<user id>`` themselves.
    agent_endpoint: str = "client:{username}"

    @field_validator("hold_music_url")
    @classmethod
    def _url(cls, value: str) -> str:
        if value and not value.startswith(("http://", "https://")):
            raise ValueError("must be an http(s) URL")
        return value


class IvrSettings(_Strict):
    menu: MenuSettings = MenuSettings()
    queue: QueueSettings = QueueSettings()
    twilio: TwilioVoiceSettings = TwilioVoiceSettings()
    #: The Asterisk driver's section, validated by :mod:`ivr.ari.settings`.
    ari: dict[str, Any] = {}


_cache: dict[int, tuple[Config, IvrSettings]] = {}


def ivr_settings(config: Config) -> IvrSettings:
    """The validated ``ivr`` section of ``config``; raises :class:`ConfigError` naming the key."""
    cached = _cache.get(id(config))
    if cached is not None and cached[0] is config:
        return cached[1]
    settings = parse_ivr_settings(getattr(config, "ivr", None) or {})
    _cache[id(config)] = (config, settings)
    return settings


def parse_ivr_settings(section: dict[str, Any]) -> IvrSettings:
    """Validate a raw ``ivr`` section (a mapping as read from YAML)."""
    try:
        return IvrSettings.model_validate(section)
    except ValidationError as err:
        problems = [
            "ivr." + ".".join(str(part) for part in error["loc"]) + f": {error['msg']}" for error in err.errors()
        ]
        raise ConfigError("invalid configuration:\n  " + "\n  ".join(problems)) from err
