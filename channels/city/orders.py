"""Work orders from the city: the first push opens a case, a resend of the same code updates it, and the
city's deadline stays the case's deadline whatever routing's clocks say.

The first push goes through :func:`intake.submit` (source id ``<platform>:<code>``), so it is durable and
idempotent before the city is answered; the :class:`~channels.city.models.CityOrder` row follows in a
second transaction. If the process dies in between, the city's retry finds submit's stored report and
creates the row then.

Deadlines: routing's transition hook (:func:`routing.deadlines.update_clocks`, registered before ours
because ``routing`` is wired before ``channels``) sets the clocks from its rules at dispatch, extension,
return. :func:`keep_city_deadlines`, registered after it, then puts the city's deadline back, reading
it from ``city_orders.deadline`` of the case and of every case merged into it: that column is the
marker. It never needs routing to be installed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from channels.city.adapter import CHANNEL, CityOrderIn, attachment_for, join_address
from channels.city.callbacks import CALLBACK_ACTIONS, catch_up_merged, queue_callbacks
from channels.city.models import CityOrder
from channels.city.settings import PlatformSettings
from intake import submit
from intake.cases import apply, record
from intake.models import Attachment, AttachmentStatus, Case, CaseEvent, ReportRecord, utcnow
from intake.queue import QUEUE_MEDIA, after_commit, enqueue
from intake.runtime import get_runtime
from intake.states import FINAL_STATUSES, Action, CaseStatus
from intake.submit import SUMMARY_CHARS
from routing.deadlines import settle_deadlines

log = logging.getLogger(__name__)

ACTOR = f"channel:{CHANNEL}"
#: The clock that runs in each status of the closed loop (as in ``routing.deadlines.CLOCK_OF_STATUS``,
#: repeated so that this channel works without the routing package).
#: Actions after which the clocks may have moved (so the city's deadline is put back).
_CLOCK_ACTIONS = frozenset(
    {Action.QUEUE, Action.DISPATCH, Action.EXTEND, Action.RETURN, Action.REOPEN, Action.CHECK_FAIL, Action.MERGE}
)
#: The reason an extension the city granted (a resend with a later deadline) carries in the history.
CITY_EXTENSION_REASON = "市级平台延长处理时限"
#: Attempts at the order row when two pushes of a new code race each other.
_ROW_ATTEMPTS = 3


@dataclass(frozen=True)
class Received:
    case_number: str
    #: True: the first push of this code; False: a resend.
    new_order: bool
    #: What the resend changed (empty for the first push and for an identical resend).
    changed: tuple[str, ...] = ()


def receive(order: CityOrderIn, raw: bytes, platform: PlatformSettings) -> Received:
    """Store one push: open the case on the first, update order and case on a resend."""
    result = submit(order.report(raw, platform.priority))
    runtime = get_runtime()
    for _ in range(_ROW_ATTEMPTS):
        try:
            with runtime.db.transaction() as session:
                row = session.scalar(
                    select(CityOrder)
                    .where(CityOrder.platform == order.platform, CityOrder.order_code == order.code)
                    .with_for_update()
                )
                case = session.scalar(select(Case).where(Case.number == result.case_number).with_for_update())
                assert case is not None
                if row is None:
                    session.add(_new_row(order, case))
                    if order.deadline is not None:
                        session.flush()
                        settle_deadlines(session, case)
                    new_order, changed = True, ()
                else:
                    new_order, changed = False, _update(session, row, case, order)
        except IntegrityError:
            log.info("city order %s/%s stored concurrently; reading it back", order.platform, order.code)
            continue
        log.info(
            "city order %s/%s %s case %s%s",
            order.platform,
            order.code,
            "opened" if new_order else "updated",
            result.case_number,
            f" ({', '.join(changed)})" if changed else "",
        )
        return Received(result.case_number, new_order, changed)
    raise RuntimeError(f"could not store city order {order.platform}/{order.code}")


def _new_row(order: CityOrderIn, case: Case) -> CityOrder:
    now = utcnow()
    return CityOrder(
        platform=order.platform,
        order_code=order.code,
        case_id=case.id,
        city_category=order.city_category,
        category=order.category,
        content=order.content,
        area=order.area,
        place=order.place,
        dispatched_at=order.dispatched_at,
        deadline=order.deadline,
        state=order.state,
        order_type=order.order_type,
        attachment_urls=list(order.attachment_urls),
        payload=order.payload,
        pushes=1,
        created_at=now,
        updated_at=now,
    )


def _update(session: Session, row: CityOrder, case: Case, order: CityOrderIn) -> tuple[str, ...]:
    """Apply a resend to the order row and the case; record what changed in the case's history.

    A detail the center has not touched since (the case still shows the city's previous value) follows
    the order; one an agent corrected (the address, the category) keeps the agent's value, and the
    history says the city changed it.
    """
    changes: dict[str, dict[str, object]] = {}
    kept: list[str] = []
    # A finished case is a record: the history says what the city changed, the case stays as it was.
    open_case = case.status not in FINAL_STATUSES
    if order.content != row.content:
        changes["content"] = {}
        if open_case and case.description == row.content:
            case.description = order.content
            case.summary = _summary(order.content)
        else:
            kept.append("content")
    old_address, new_address = join_address(row.area, row.place), order.address
    if new_address != old_address:
        changes["address"] = {"from": old_address, "to": new_address}
        if open_case and (case.address or "") == old_address:
            case.address = new_address or None
        else:
            kept.append("address")
    if order.category != row.category or order.city_category != row.city_category:
        changes["category"] = {"from": row.city_category, "to": order.city_category, "maps_to": order.category}
        if open_case and case.category == row.category and order.category != row.category:
            case.category = order.category
        elif order.category != row.category:
            kept.append("category")
    if order.state != row.state:
        changes["state"] = {"from": row.state, "to": order.state}
    if order.order_type != row.order_type:
        changes["order_type"] = {"from": row.order_type, "to": order.order_type}
    new_urls = [url for url in order.attachment_urls if url not in row.attachment_urls]
    if new_urls:
        changes["attachments"] = {"added": len(new_urls)}
        _add_attachments(session, row, case, new_urls)
    old_deadline = row.deadline
    if order.deadline != old_deadline:
        changes["deadline"] = {"from": _iso(old_deadline), "to": _iso(order.deadline)}
    row.content, row.area, row.place = order.content, order.area, order.place
    row.city_category, row.category = order.city_category, order.category
    row.deadline, row.state, row.order_type = order.deadline, order.state, order.order_type
    row.attachment_urls = [*row.attachment_urls, *new_urls]
    row.payload = order.payload
    row.pushes += 1
    row.updated_at = utcnow()
    if not changes:
        return ()
    detail: dict[str, object] = {"order_code": row.order_code, "push": row.pushes, "changed": changes}
    if kept:
        detail["kept_center_value"] = kept
    record(session, case, "city_order_updated", actor=ACTOR, channel=CHANNEL, detail=detail)
    if "deadline" in changes and order.deadline is not None:
        _new_deadline(session, case, old_deadline, order.deadline)
    return tuple(changes)


def _new_deadline(session: Session, case: Case, old: datetime | None, new: datetime) -> None:
    """The city moved its deadline: a later one in the loop is the extension the city granted."""
    holder = session.get(Case, case.merged_into_id) if case.merged_into_id else case
    assert holder is not None
    if (
        holder.status in (CaseStatus.DISPATCHED, CaseStatus.ACCEPTED)
        and (old is None or new > old)
        and (holder.finish_due_at is None or new > holder.finish_due_at)
    ):
        # Through apply(): routing moves the feedback clock along, and the history shows an extension.
        apply(session, holder, Action.EXTEND, actor=ACTOR, channel=CHANNEL, reason=CITY_EXTENSION_REASON, due_at=new)
        if holder.extension_until is not None and holder.extension_until <= new:
            holder.extension_until = None  # the unit's request is answered
        return
    deadline, _ = settle_deadlines(session, holder)
    if deadline is not None:
        holder.warned_at = None
        if deadline > utcnow():
            holder.overdue_at = None


def _add_attachments(session: Session, row: CityOrder, case: Case, urls: list[str]) -> None:
    """Attachments a resend adds: pending rows on the order's first report, downloaded by a worker."""
    report_id = session.scalar(
        select(ReportRecord.id).where(
            ReportRecord.channel == CHANNEL, ReportRecord.source_id == f"{row.platform}:{row.order_code}"
        )
    )
    assert report_id is not None
    for url in urls:
        item = attachment_for(url)
        session.add(
            Attachment(
                report_id=report_id,
                case_id=case.id,
                filename=item.filename,
                content_type=item.content_type,
                source_url=url,
                status=AttachmentStatus.PENDING,
                attempts=0,
            )
        )
    after_commit(session, lambda: enqueue(QUEUE_MEDIA, "intake.media.download_attachments", report_id))


# --- the city's deadline against routing's clocks ---------------------------------------------------


def orders_of(session: Session, case: Case) -> list[CityOrder]:
    """The city orders this case answers for: its own and those of cases merged into it."""
    merged = select(Case.id).where(Case.merged_into_id == case.id)
    return list(
        session.scalars(
            select(CityOrder)
            .where(or_(CityOrder.case_id == case.id, CityOrder.case_id.in_(merged)))
            .order_by(CityOrder.id)
        )
    )


def city_deadline(session: Session, case: Case) -> datetime | None:
    deadlines = [order.deadline for order in orders_of(session, case) if order.deadline is not None]
    return min(deadlines) if deadlines else None


def keep_city_deadlines(session: Session, case: Case, action: Action, event: CaseEvent) -> None:
    """Transition hook, after routing's: put the city's deadline back, report the step to the city.

    The city's deadline is the finish deadline whatever clocks routing has set
    (:func:`routing.deadlines.settle_deadlines`, which also lets an earlier leader's deadline win); an
    extension approved here does not move it: the city grants its own by resending the order.
    """
    if action is Action.QUEUE and case.channel != CHANNEL:
        return  # the intake batch: only a city case can hold an order this early; no query per case
    if action not in _CLOCK_ACTIONS and action not in CALLBACK_ACTIONS:
        return
    holder = case
    if action is Action.MERGE and case.merged_into_id is not None:
        # A merged city order now binds the case it joined.
        holder = session.get(Case, case.merged_into_id) or case
    orders = orders_of(session, holder)
    if not orders:
        return
    if action in _CLOCK_ACTIONS:
        # The same outcome whichever hook runs last (a leader's deadline, if earlier, still wins).
        deadline, _ = settle_deadlines(session, holder)
        if deadline is not None:
            # A new dict: the JSON column does not notice changes made inside the old one.
            event.detail = {**(event.detail or {}), "city_deadline": _iso(deadline)}
    if action in CALLBACK_ACTIONS:
        queue_callbacks(session, case, orders, CALLBACK_ACTIONS[action], event)
    elif action is Action.MERGE and holder is not case:
        catch_up_merged(session, case, holder, event)


def _summary(text: str) -> str:
    first_line = next((line.strip() for line in text.splitlines() if line.strip()), "")
    return first_line[:SUMMARY_CHARS]


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None
