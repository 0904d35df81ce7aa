"""The phone menu engine on its own: every path, both languages, retries, fallbacks, its state as data."""

from __future__ import annotations

import json
from typing import Any

import pytest

from intake.errors import ConfigError
from ivr.errors import InvalidCallState, UnexpectedEvent
from ivr.menu import (
    WAITING_ACTIONS,
    Bridged,
    CallInfo,
    CallState,
    DigitsEntered,
    Engine,
    Enqueue,
    FindOpenCase,
    Gather,
    Hangup,
    LeaveQueue,
    Lookup,
    LookupDone,
    NoInput,
    OpenCaseFound,
    QueueLeft,
    QueueUnavailable,
    QueueWait,
    Record,
    RecordingDone,
    RequestCallback,
    Say,
    Step,
    spoken_digits,
)
from ivr.settings import DEFAULT_PROMPTS, parse_ivr_settings

CALL = CallInfo("CA" + "1" * 32, "+8613812348000", "+861069612345")


def engine(**menu: Any) -> Engine:
    return Engine(parse_ivr_settings({"menu": menu}).menu)


def texts(step: Step) -> list[str]:
    """Everything the caller hears in this step, in order."""
    spoken: list[str] = []
    for action in step.actions:
        if isinstance(action, Say):
            spoken.append(action.text)
        elif isinstance(action, Gather | Record):
            spoken += [say.text for say in action.prompts]
    return spoken


def walk(eng: Engine, *events: Any, call: CallInfo = CALL) -> Step:
    step = eng.start(call)
    for event in events:
        step = eng.step(step.state, event)
    return step


def test_the_call_opens_with_the_greeting_and_the_language_question_in_both_languages() -> None:
    step = engine().start(CALL)
    assert step.state.node == "language" and step.state.seq == 0
    [gather] = step.actions
    assert isinstance(gather, Gather)
    assert (gather.num_digits, gather.timeout_seconds, gather.barge_in) == (1, 5, True)
    assert [(say.prompt, say.lang) for say in gather.prompts] == [
        ("greeting", "zh"),
        ("greeting", "en"),
        ("language", "zh"),
        ("language", "en"),
    ]
    assert "12345" in gather.prompts[0].text and "For English, press 2." in texts(step)


@pytest.mark.parametrize(
    ("key", "lang", "expected"), [("1", "zh", "反映问题请按1"), ("2", "en", "To report a problem")]
)
def test_language_choice_leads_to_the_main_menu_in_that_language(key: str, lang: str, expected: str) -> None:
    step = walk(engine(), DigitsEntered(key))
    assert (step.state.node, step.state.lang, step.state.path) == ("main", lang, [f"lang:{lang}"])
    [gather] = step.actions
    assert isinstance(gather, Gather) and gather.prompts[0].lang == lang
    assert texts(step)[0].startswith(expected)


def test_a_known_language_skips_the_question() -> None:
    step = engine().start(CallInfo("CA" + "2" * 32, language="en"))
    assert step.state.node == "main" and step.state.lang == "en"
    assert texts(step)[0].startswith("Welcome") and "press 1" in texts(step)[1]


def test_no_choice_of_language_repeats_then_takes_the_default() -> None:
    eng = engine(max_retries=2)
    step = walk(eng, NoInput())
    assert step.state.node == "language" and step.state.retries == 1
    assert texts(step)[:2] == ["我们没有收到您的按键。", "We did not receive your choice."]
    step = walk(eng, NoInput(), DigitsEntered("9"))
    assert texts(step)[:2] == ["您的输入有误。", "That is not a valid choice."]
    step = walk(eng, NoInput(), DigitsEntered("9"), NoInput())
    assert (step.state.node, step.state.lang) == ("main", "zh")
    assert step.state.path == ["language:no_input", "language:invalid", "language:no_input", "lang:default"]


def test_wrong_key_in_the_main_menu_says_so_and_repeats() -> None:
    step = walk(engine(), DigitsEntered("1"), DigitsEntered("7"))
    assert step.state.node == "main" and step.state.retries == 1
    assert texts(step) == ["您的输入有误。", DEFAULT_PROMPTS["main"]["zh"]]
    step = walk(engine(), DigitsEntered("2"), DigitsEntered("7"))
    assert texts(step) == ["That is not a valid choice.", DEFAULT_PROMPTS["main"]["en"]]


def test_no_input_in_the_main_menu_falls_back_to_a_voice_message_or_goodbye() -> None:
    step = walk(engine(max_retries=1), DigitsEntered("1"), NoInput(), NoInput())
    assert step.state.node == "find_case" and step.actions == [FindOpenCase()]
    assert step.state.path[-3:] == ["main:no_input", "main:no_input", "main:fallback"]
    step = walk(engine(max_retries=1, no_input_fallback="hangup"), DigitsEntered("1"), NoInput(), NoInput())
    assert step.state.node == "done" and isinstance(step.actions[-1], Hangup)
    assert texts(step) == ["感谢您的来电，再见。"]


def test_report_a_problem_queues_the_call_and_operator_queues_it_urgently() -> None:
    step = walk(engine(), DigitsEntered("1"), DigitsEntered("1"))
    assert step.actions == [step.actions[0], Enqueue("hotline", 3)]
    assert texts(step) == ["正在为您转接人工服务，请稍候。"]
    assert (step.state.node, step.state.priority, step.state.path) == ("queued", 3, ["lang:zh", "main:1", "queue:3"])
    step = walk(engine(), DigitsEntered("2"), DigitsEntered("0"))
    assert step.actions[-1] == Enqueue("hotline", 2) and texts(step) == [
        "Please hold while we connect you to an agent."
    ]


def test_waiting_caller_hears_the_position_and_can_leave_for_a_call_back() -> None:
    step = walk(engine(), DigitsEntered("1"), DigitsEntered("1"), QueueWait(position=3, size=4, wait_seconds=95))
    [gather] = step.actions
    assert isinstance(gather, Gather) and gather.num_digits == 1
    assert texts(step) == ["您现在排在第3位。", DEFAULT_PROMPTS["queue_options"]["zh"]]
    assert gather.prompts[0].values == {"position": "3", "size": "4", "minutes": "2"}
    silent = engine().step(step.state, NoInput())
    assert silent.actions == [] and silent.state.node == "queued"
    wrong = engine().step(step.state, DigitsEntered("5"))
    assert texts(wrong) == ["您的输入有误。"] and wrong.state.node == "queued"
    leaving = engine().step(step.state, DigitsEntered("2"))
    assert leaving.actions == [LeaveQueue()] and leaving.state.node == "leaving"
    left = engine().step(leaving.state, QueueLeft("leave"))
    assert left.actions[0] == RequestCallback("queue") and isinstance(left.actions[-1], Hangup)
    assert texts(left) == [DEFAULT_PROMPTS["callback_ok"]["zh"], "感谢您的来电，再见。"]
    assert left.state.path[-2:] == ["queue:leave:callback", "callback"]


def test_waiting_caller_can_leave_for_a_voice_message() -> None:
    step = walk(engine(), DigitsEntered("2"), DigitsEntered("1"), QueueWait(1), DigitsEntered("1"), QueueLeft("leave"))
    assert step.actions == [FindOpenCase()]
    step = engine().step(step.state, OpenCaseFound(None))
    [record] = step.actions
    assert isinstance(record, Record) and record.finish_on_key == "#"
    assert (record.max_seconds, record.silence_seconds) == (120, 5)
    assert texts(step) == [DEFAULT_PROMPTS["record"]["en"]]


def test_no_agent_offers_a_message_or_a_call_back_at_once() -> None:
    step = walk(engine(), DigitsEntered("1"), DigitsEntered("1"), QueueUnavailable())
    assert step.state.node == "message"
    assert texts(step) == ["现在没有空闲的话务员。", "留言请按1；预约回电请按2。"]
    assert step.state.path[-1] == "queue:no_agents"
    step = engine().step(step.state, DigitsEntered("2"))
    assert step.actions[0] == RequestCallback("requested")


def test_agent_takes_the_call_then_the_call_ends() -> None:
    step = walk(engine(), DigitsEntered("1"), DigitsEntered("1"), QueueWait(1), Bridged("7"))
    assert texts(step) == ["正在为您接通话务员。"] and step.state.node == "connected"
    end = engine().step(step.state, QueueLeft("bridged"))
    assert end.actions == [Hangup()] and end.state.node == "done"


def test_hanging_up_in_the_queue_is_recorded_as_abandoned() -> None:
    step = walk(engine(), DigitsEntered("1"), DigitsEntered("1"), QueueLeft("hangup"))
    assert step.actions == [] and step.state.node == "done" and step.state.path[-1] == "queue:abandoned"


def test_queue_error_offers_a_message_or_a_call_back() -> None:
    step = walk(engine(), DigitsEntered("1"), DigitsEntered("1"), QueueLeft("error"))
    assert step.state.node == "message" and texts(step)[0] == "现在没有空闲的话务员。"


@pytest.mark.parametrize(
    ("lang_key", "status", "expected"),
    [
        ("1", "verifying", "诉求2 0 2 6 1 1 2 6, 0 0 0 1 2 3，当前状态：核实中。"),
        ("2", "dispatched", "Case 2 0 2 6 1 1 2 6, 0 0 0 1 2 3: Dispatched."),
    ],
)
def test_status_query_looks_the_case_up_and_answers_only_its_status(lang_key: str, status: str, expected: str) -> None:
    step = walk(engine(), DigitsEntered(lang_key), DigitsEntered("2"))
    [gather] = step.actions
    assert isinstance(gather, Gather) and (gather.num_digits, gather.finish_on_key) == (14, "#")
    step = engine().step(step.state, DigitsEntered("20261126000123"))
    assert step.actions == [Lookup("20261126-000123")] and step.state.node == "lookup"
    answered = engine().step(step.state, LookupDone(status))
    assert texts(answered)[0] == expected
    assert answered.state.node == "main" and answered.state.path[-1] == "status:found"


def test_status_query_for_someone_elses_or_no_case_says_not_found() -> None:
    step = walk(engine(), DigitsEntered("1"), DigitsEntered("2"), DigitsEntered("20261126000123#"), LookupDone(None))
    assert texts(step)[0] == "未找到您名下的诉求2 0 2 6 1 1 2 6, 0 0 0 1 2 3，请核对编号。"
    assert step.state.path[-1] == "status:not_found" and step.state.case_number is None


def test_a_case_number_of_the_wrong_length_is_asked_again_then_back_to_the_menu() -> None:
    eng = engine(max_retries=1)
    step = walk(eng, DigitsEntered("1"), DigitsEntered("2"), DigitsEntered("2026112"))
    assert texts(step) == ["诉求编号应为14位数字。", DEFAULT_PROMPTS["case_entry"]["zh"]]
    step = eng.step(step.state, NoInput())
    assert step.state.node == "main" and texts(step) == [DEFAULT_PROMPTS["main"]["zh"]]


def test_voice_message_about_the_open_case_or_a_new_problem() -> None:
    step = walk(engine(), DigitsEntered("1"), DigitsEntered("3"), DigitsEntered("1"))
    assert step.actions == [FindOpenCase()]
    asked = engine().step(step.state, OpenCaseFound("20261126-000001"))
    assert asked.state.node == "about_case" and texts(asked) == [DEFAULT_PROMPTS["about_case"]["zh"]]
    about = engine().step(asked.state, DigitsEntered("1"))
    assert about.state.about_open_case is True and isinstance(about.actions[0], Record)
    fresh = engine().step(asked.state, DigitsEntered("2"))
    assert fresh.state.about_open_case is False
    silent = walk(engine(max_retries=0), DigitsEntered("1"), DigitsEntered("3"), DigitsEntered("1"))
    silent = engine(max_retries=0).step(engine().step(silent.state, OpenCaseFound("x")).state, NoInput())
    assert silent.state.about_open_case is False and isinstance(silent.actions[0], Record)
    done = engine().step(about.state, RecordingDone("https://example/RE1", 14))
    assert texts(done) == ["您的留言已收到，我们会尽快处理。", "感谢您的来电，再见。"]
    assert done.actions[-1] == Hangup() and done.state.path[-1] == "voicemail"


def test_an_empty_recording_is_asked_again_then_goodbye() -> None:
    eng = engine(max_retries=1)
    step = walk(eng, DigitsEntered("1"), DigitsEntered("3"), DigitsEntered("1"), OpenCaseFound(None), NoInput())
    assert isinstance(step.actions[0], Record) and texts(step)[0] == "我们没有收到您的按键。"
    step = eng.step(step.state, NoInput())
    assert step.actions[-1] == Hangup() and step.state.path[-1] == "voicemail:empty"


def test_call_back_from_the_menu() -> None:
    step = walk(engine(), DigitsEntered("2"), DigitsEntered("3"), DigitsEntered("2"))
    assert step.actions[0] == RequestCallback("requested")
    assert texts(step) == [DEFAULT_PROMPTS["callback_ok"]["en"], "Thank you for calling. Goodbye."]
    assert step.state.node == "done" and step.state.path == ["lang:en", "main:3", "message:2", "callback"]


def test_configured_keys_and_prompts_are_used() -> None:
    eng = engine(
        options={"9": {"action": "callback"}, "1": {"action": "voicemail"}},
        prompts={"main": {"zh": "回电请按9。", "en": "Press 9 for a call back."}},
        languages={"8": "en"},
        default_language="en",
    )
    step = eng.start(CALL)
    assert [say.lang for say in step.actions[0].prompts] == ["en", "en"]  # type: ignore[union-attr]
    step = eng.step(step.state, DigitsEntered("8"))
    assert texts(step) == ["Press 9 for a call back."]
    assert eng.step(step.state, DigitsEntered("9")).actions[0] == RequestCallback("requested")
    assert eng.step(step.state, DigitsEntered("1")).actions == [FindOpenCase()]


def test_unexpected_events_are_refused_and_leave_the_state_alone() -> None:
    step = walk(engine(), DigitsEntered("1"))
    before = step.state.to_dict()
    with pytest.raises(UnexpectedEvent, match="LookupDone at node 'main'"):
        engine().step(step.state, LookupDone("closed"))
    assert step.state.to_dict() == before


def test_state_is_small_json_and_survives_a_round_trip() -> None:
    eng = engine()
    step = walk(eng, DigitsEntered("1"), DigitsEntered("2"))
    data = json.loads(json.dumps(step.state.to_dict()))
    restored = CallState.from_dict(data)
    assert restored == step.state and len(json.dumps(data)) < 400
    assert eng.step(restored, DigitsEntered("20261126000123")).actions == [Lookup("20261126-000123")]
    with pytest.raises(InvalidCallState):
        CallState.from_dict({**data, "node": "nowhere"})
    with pytest.raises(InvalidCallState):
        CallState.from_dict({"nodes": "main"})


def test_every_step_bumps_seq_and_ends_with_at_most_one_waiting_action() -> None:
    eng = engine()
    paths = [
        [DigitsEntered("1"), DigitsEntered("1"), QueueWait(2), DigitsEntered("1"), QueueLeft("leave")],
        [DigitsEntered("2"), DigitsEntered("2"), DigitsEntered("20261126000123"), LookupDone(None)],
        [NoInput(), NoInput(), NoInput(), NoInput(), NoInput(), NoInput()],
    ]
    for events in paths:
        step = eng.start(CALL)
        for seq, event in enumerate(events, start=1):
            step = eng.step(step.state, event)
            assert step.state.seq == seq
            waiting = [action for action in step.actions if isinstance(action, WAITING_ACTIONS)]
            assert len(waiting) <= 1 and (not waiting or step.actions[-1] is waiting[0])


def test_spoken_digits() -> None:
    assert spoken_digits("20261126-000123") == "2 0 2 6 1 1 2 6, 0 0 0 1 2 3"


@pytest.mark.parametrize(
    ("section", "named"),
    [
        ({"menu": {"options": {"5": {"action": "dance"}}}}, "ivr.menu.options.5.action"),
        ({"menu": {"options": {"12": {"action": "status"}}}}, "ivr.menu.options"),
        ({"menu": {"prompts": {"mian": {"zh": "x", "en": "y"}}}}, "unknown prompt"),
        ({"menu": {"prompts": {"main": {"zh": "只有中文"}}}}, "ivr.menu.prompts.main.en"),
        ({"menu": {"languages": {"1": "fr"}}}, "ivr.menu.languages.1"),
        ({"menu": {"timeout_seconds": 0}}, "ivr.menu.timeout_seconds"),
        ({"queue": {"agent_ring_seconds": 1}}, "ivr.queue.agent_ring_seconds"),
        ({"twilio": {"hold_music_url": "music.mp3"}}, "ivr.twilio.hold_music_url"),
        ({"menu": {"queue": "Hot Line"}}, "ivr.menu.queue"),
    ],
)
def test_a_wrong_ivr_setting_names_its_key(section: dict[str, Any], named: str) -> None:
    with pytest.raises(ConfigError, match=named.replace(".", r"\.")):
        parse_ivr_settings(section)


def test_the_shipped_menu_is_valid_and_bilingual() -> None:
    from intake.config import load_config
    from ivr.settings import ivr_settings

    settings = ivr_settings(load_config())
    assert set(settings.menu.prompts) == set(DEFAULT_PROMPTS)
    for key, prompt in settings.menu.prompts.items():
        assert prompt.zh and prompt.en and prompt.zh != prompt.en, key
    assert {option.action for option in settings.menu.options.values()} >= {"queue", "status", "message"}
