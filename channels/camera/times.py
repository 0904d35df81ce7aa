"""Camera clocks: ISO times with or without an offset, epoch seconds, and the zeros of an unset clock.

Cameras send ``2022-01-31T13:53:05+01:00``, ``2021-02-07T11:19:41.225+08:00``, ``2009-11-14T15:27Z``,
local times with no offset (Dahua's ``LocaleTime`` ``2019-01-31 18:04:58``), epoch seconds (Dahua's
``UTC``, Frigate), and from a camera whose clock was never set ``0000-00-00T00:00:00`` or a mangled
offset (``11:46:3100:00``). What cannot be read is None with a note; the receive time then stands in.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

_ISO = re.compile(
    r"^\s*(\d{4})-(\d{1,2})-(\d{1,2})[T ](\d{1,2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?"
    r"\s*(Z|[+-]\d{2}:?\d{2})?\s*$",
    re.IGNORECASE,
)
#: Epoch seconds (optionally with a fraction): Dahua's UTC field, Frigate's times.
_EPOCH = re.compile(r"^\s*\d{9,11}(?:\.\d+)?\s*$")
#: Earliest camera time taken at face value; older means a clock that was never set (1970, 2000-01-01).
EARLIEST = datetime(2010, 1, 1, tzinfo=UTC)
#: A camera time this far ahead of our clock is wrong, not early.
MAX_AHEAD = timedelta(days=1)


def parse_time(value: object, zone: str, now: datetime | None = None) -> tuple[datetime | None, str | None]:
    """``(aware datetime or None, note or None)`` for a camera's time field."""
    if value is None or value == "":
        return None, None
    now = now or datetime.now(UTC)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return _plausible(datetime.fromtimestamp(float(value), UTC), str(value), now)
    text = str(value).strip()
    if _EPOCH.match(text):
        return _plausible(datetime.fromtimestamp(float(text), UTC), text, now)
    match = _ISO.match(text)
    if not match:
        return None, f"time {text[:40]!r} unreadable; the receive time is used"
    year, month, day, hour, minute, second, fraction, offset = match.groups()
    try:
        naive = datetime(
            int(year),
            int(month),
            int(day),
            int(hour),
            int(minute),
            int(second or 0),
            int((fraction or "0")[:6].ljust(6, "0")),
        )
    except ValueError:
        return None, f"time {text[:40]!r} is not a date (clock not set?); the receive time is used"
    note = None
    if offset is None:
        moment = naive.replace(tzinfo=ZoneInfo(zone))
        note = f"time {text[:40]!r} has no UTC offset; {zone} assumed"
    elif offset.upper() == "Z":
        moment = naive.replace(tzinfo=UTC)
    else:
        sign = -1 if offset[0] == "-" else 1
        digits = offset[1:].replace(":", "")
        moment = naive.replace(tzinfo=UTC) - sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    found, problem = _plausible(moment.astimezone(UTC), text, now)
    return found, problem or note


def _plausible(moment: datetime, text: str, now: datetime) -> tuple[datetime | None, str | None]:
    if moment < EARLIEST or moment > now + MAX_AHEAD:
        return None, f"time {text[:40]!r} is implausible (camera clock not set?); the receive time is used"
    return moment, None
