"""Reporting back to the city (反馈): each step of a city order's case, signed, from a worker, retried.

Steps and the callback's ``event``: the unit signs for it (``accept``), reports its result (``result``,
with its photos), returns it with a reason (``return``; the center invalidating it is a return too) and
asks for more time (``extension``). Transitions reach us through :func:`intake.cases.on_transition`; an
extension request changes no status (routing records it as an ``extension_requested`` history entry), so
a session listener picks those entries up before their transaction commits.

Each callback is an :class:`~intake.models.OutboundMessage` of the ``city`` channel (``to`` is the
platform's name, ``body`` the JSON), sent by :func:`send_callback` through :mod:`intake.outbound`: queued
in the case's transaction, sent after commit, retried by RQ and the sweeper, and every attempt in the
case's history. A result's photos are read at sending time, so the stored body stays small.

Callbacks carry ``eventid`` (one per history entry) so that the city can drop a retried duplicate, and
``processtime`` so that it can order them: retries can deliver an older step after a newer one.
"""

from __future__ import annotations

import base64
import json
import logging
import time
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import requests
from sqlalchemy import event as sa_event
from sqlalchemy import select
from sqlalchemy.orm import Session

from channels.city.adapter import CHANNEL, local_text, signed_headers
from channels.city.settings import city_settings
from intake.errors import DeliveryFailed
from intake.models import Attachment, AttachmentStatus, Blob, Case, CaseEvent, OutboundMessage
from intake.outbound import queue_message
from intake.runtime import get_runtime
from intake.states import Action, CaseStatus

if TYPE_CHECKING:
    from channels.city.models import CityOrder

log = logging.getLogger(__name__)

#: Our actions the city hears of, and the callback ``event`` each becomes.
CALLBACK_ACTIONS: dict[Action, str] = {
    Action.ACCEPT: "accept",
    Action.REPORT_RESULT: "result",
    Action.RETURN: "return",
    Action.INVALIDATE: "return",
}
#: The history entry routing records for a unit's extension request.
EXTENSION_KIND = "extension_requested"
#: The city's order state each callback puts the order in (0 pending, 1 in progress, 2 done).
_STATE_AFTER = {"accept": 1, "result": 2, "return": 0, "extension": 1}
#: Photos inlined in one result callback, in bytes all together; the rest are listed without data.
MAX_INLINE_PHOTO_BYTES = 20 * 1024 * 1024
#: HTTP statuses worth retrying: the city's server is busy or down, not refusing the callback.
_TRANSIENT_STATUSES = frozenset({408, 425, 429})
_PENDING_EXTENSIONS = "gridline_city_extension_events"


def queue_callbacks(
    session: Session, case: Case, orders: Sequence[CityOrder], event_name: str, event: CaseEvent
) -> None:
    """Queue one callback per city order the case answers for (in the case's transaction)."""
    settings = city_settings(get_runtime().config)
    if event.id is None:
        session.flush()  # the history entry's id is the callback's eventid
    for order in orders:
        platform = settings.platforms.get(order.platform)
        if platform is None or not platform.callback_url:
            log.info("city platform %s has no callback_url; step %s not reported", order.platform, event_name)
            continue
        body = json.dumps(_payload(case, order, event_name, event), ensure_ascii=False)
        queue_message(session, channel=CHANNEL, to=order.platform, body=body, case=case, actor=event.actor)


def _payload(case: Case, order: CityOrder, event_name: str, event: CaseEvent) -> dict[str, Any]:
    zone = ZoneInfo(get_runtime().config.server.timezone)
    detail = event.detail or {}
    actor = event.actor.split(":", 1)[1] if ":" in event.actor else event.actor
    payload: dict[str, Any] = {
        "workordercode": order.order_code,
        "event": event_name,
        "eventid": str(event.id),
        "state": _STATE_AFTER[event_name],
        "processtime": local_text(event.at, zone),
        "disposaldeptid": detail.get("department") or case.department_code or "",
        "handlerid": actor,
        "casenumber": case.number,
    }
    if event_name == "result":
        payload["content"] = detail.get("result", "")
        payload["attachments"] = []  # filled in at sending time
    elif event_name == "return":
        # A unit's return carries its reason; the center's invalidation a reason code and a note.
        payload["reason"] = detail.get("note") or detail.get("reason", "")
        if event.kind == Action.INVALIDATE.value:
            payload["reasoncode"] = detail.get("reason", "")
    elif event_name == "extension":
        payload["reason"] = detail.get("reason", "")
        payload["extendto"] = local_text(datetime.fromisoformat(detail["until"]), zone)
    return payload


# --- merging: a city order joins a case the unit already works on ------------------------------------


def catch_up_merged(session: Session, case: Case, holder: Case, event: CaseEvent) -> None:
    """The city's steps its order missed by joining ``holder`` late: signed for, result reported.

    A city order's case merged into a case that a unit has already signed for (or reported a result
    on) would never hear of those steps, which happened before it joined. Each is reported once now,
    with the surviving case's original history entry (its ``eventid`` and ``processtime``); the steps
    after the merge reach the city from the surviving case's transitions like any other.
    """
    from channels.city.models import CityOrder

    joined = [case.id]
    carried = (event.detail or {}).get("carried") or []
    if carried:
        joined += list(session.scalars(select(Case.id).where(Case.number.in_(carried))))
    orders = list(session.scalars(select(CityOrder).where(CityOrder.case_id.in_(joined)).order_by(CityOrder.id)))
    if not orders:
        return
    missed = {CaseStatus.ACCEPTED: (Action.ACCEPT,), CaseStatus.HANDLED: (Action.ACCEPT, Action.REPORT_RESULT)}
    for action in missed.get(holder.status, ()):
        step = session.scalar(
            select(CaseEvent)
            .where(CaseEvent.case_id == holder.id, CaseEvent.kind == action.value)
            .order_by(CaseEvent.id.desc())
            .limit(1)
        )
        if step is not None:
            log.info("city order(s) of case %s joined case %s late: %s reported", case.number, holder.number, action)
            queue_callbacks(session, holder, orders, CALLBACK_ACTIONS[action], step)


# --- extension requests: a history entry, not a transition ----------------------------------------------


def _collect_extension_requests(session: Session, flush_context: Any) -> None:
    # after_flush: the entries have their ids, and session.new still lists what was just written.
    found = [obj for obj in session.new if isinstance(obj, CaseEvent) and obj.kind == EXTENSION_KIND]
    if found:
        session.info.setdefault(_PENDING_EXTENSIONS, []).extend(found)


def _queue_extension_callbacks(session: Session) -> None:
    if not session.info.get(_PENDING_EXTENSIONS) and not any(
        isinstance(obj, CaseEvent) and obj.kind == EXTENSION_KIND for obj in session.new
    ):
        return
    session.flush()  # before_commit runs before the commit's own flush: write (and collect) the entries now
    from channels.city.orders import orders_of

    for entry in session.info.pop(_PENDING_EXTENSIONS, []):
        orders = orders_of(session, entry.case)
        if orders:
            queue_callbacks(session, entry.case, orders, "extension", entry)


def _drop_pending(session: Session, *args: Any) -> None:
    session.info.pop(_PENDING_EXTENSIONS, None)


_listening = False


def listen_for_extension_requests() -> None:
    """Watch every ORM session for extension requests (once per process)."""
    global _listening
    if _listening:
        return
    sa_event.listen(Session, "after_flush", _collect_extension_requests)
    sa_event.listen(Session, "before_commit", _queue_extension_callbacks)
    sa_event.listen(Session, "after_rollback", _drop_pending)
    _listening = True


# --- sending (the worker) ------------------------------------------------------------------------------------


def send_callback(message: OutboundMessage) -> str:
    """POST one callback to the platform, signed; returns its eventid. Raises on failure so that RQ retries."""
    runtime = get_runtime()
    platform = city_settings(runtime.config).platforms.get(message.to)
    if platform is None or not platform.callback_url:
        raise DeliveryFailed(f"city platform {message.to!r} has no callback_url", permanent=True)
    if not platform.secret:
        raise DeliveryFailed(f"city platform {message.to!r} has no secret to sign with", permanent=True)
    payload = json.loads(message.body)
    if payload.get("event") == "result":
        payload["attachments"] = _result_photos(int(payload["eventid"]))
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
    headers = signed_headers(platform.secret, "POST", platform.callback_url, body, time.time())
    headers["Content-Type"] = "application/json; charset=utf-8"
    try:
        response = requests.post(
            platform.callback_url, data=body, headers=headers, timeout=platform.callback_timeout_seconds
        )
    except requests.RequestException as err:
        raise DeliveryFailed(f"city platform {message.to} unreachable: {type(err).__name__}") from err
    status = response.status_code
    if status >= 500 or status in _TRANSIENT_STATUSES:
        raise DeliveryFailed(f"city platform {message.to} answered HTTP {status}")
    answer = _answer(response)
    if status >= 400 or answer.get("success") is False:
        # The city refuses this callback (unknown order, bad field, bad signature): a retry cannot help.
        raise DeliveryFailed(
            f"city platform {message.to} refused callback (HTTP {status}, code {answer.get('code')}): "
            f"{str(answer.get('message', ''))[:200]}",
            permanent=True,
        )
    log.info("city platform %s took %s callback for message %s", message.to, payload.get("event"), message.id)
    return str(payload["eventid"])


def _answer(response: requests.Response) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _result_photos(event_id: int) -> list[dict[str, Any]]:
    """The unit's result photos, base64 inline up to :data:`MAX_INLINE_PHOTO_BYTES` together."""
    with get_runtime().db.transaction() as session:
        rows = session.execute(
            select(Attachment.id, Attachment.filename, Attachment.content_type, Attachment.size, Attachment.sha256)
            .where(Attachment.event_id == event_id, Attachment.status == AttachmentStatus.STORED)
            .order_by(Attachment.id)
        ).all()
        photos: list[dict[str, Any]] = []
        budget = MAX_INLINE_PHOTO_BYTES
        for row in rows:
            item: dict[str, Any] = {
                "filename": row.filename,
                "contenttype": row.content_type,
                "size": row.size,
                "sha256": row.sha256,
            }
            if row.size is not None and row.size <= budget:
                data = session.scalar(select(Blob.data).where(Blob.sha256 == row.sha256))
                item["data"] = base64.b64encode(data or b"").decode("ascii")
                budget -= row.size
            else:
                item["omitted"] = True  # over the size budget of one callback
            photos.append(item)
    return photos
