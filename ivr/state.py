"""Where a call's menu state lives between webhooks: one Redis key per call, with a TTL.

Besides the engine's :class:`~ivr.menu.CallState` it keeps the driver's last reply, so that a
repeated webhook (a provider's retry) gets the same answer instead of moving the menu on twice.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass

from intake.runtime import get_runtime
from ivr.errors import InvalidCallState
from ivr.menu import CallState

log = logging.getLogger(__name__)

#: Seconds a call's state is kept after its last step: longer than any call lasts.
STATE_TTL_SECONDS = 6 * 3600


@dataclass(frozen=True)
class Stored:
    state: CallState
    #: The driver's reply to the step that made ``state`` (TwiML for Twilio).
    reply: str


def _key(provider: str, call_id: str) -> str:
    return get_runtime().key("ivr", "call", provider, call_id)


def load(provider: str, call_id: str) -> Stored | None:
    raw = get_runtime().redis.get(_key(provider, call_id))
    if raw is None:
        return None
    try:
        data = json.loads(raw)
        return Stored(CallState.from_dict(data["state"]), data.get("reply", ""))
    except (ValueError, KeyError, TypeError, InvalidCallState):
        log.warning("unreadable menu state for call %s/%s; starting over", provider, call_id)
        return None


def save(provider: str, call_id: str, state: CallState, reply: str) -> None:
    payload = json.dumps({"state": state.to_dict(), "reply": reply}, ensure_ascii=False)
    get_runtime().redis.set(_key(provider, call_id), payload, ex=STATE_TTL_SECONDS)


def forget(provider: str, call_id: str) -> None:
    get_runtime().redis.delete(_key(provider, call_id))
