"""What a channel adapter hands to intake: a :class:`Report`, free of any database or network."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

#: Longest report text kept, in characters; longer text is refused by :func:`intake.submit`.
MAX_TEXT_CHARS = 20_000


@dataclass(frozen=True)
class Contact:
    phone: str | None = None  # E.164 where the channel knows it
    name: str | None = None
    email: str | None = None


@dataclass(frozen=True)
class Location:
    lat: float | None = None
    lon: float | None = None
    address: str | None = None

    @property
    def has_point(self) -> bool:
        return self.lat is not None and self.lon is not None


@dataclass(frozen=True)
class AttachmentIn:
    """An attachment: either its bytes (uploaded with the report) or a URL a worker downloads."""

    filename: str = ""
    content_type: str = "application/octet-stream"
    data: bytes | None = None
    url: str | None = None


@dataclass(frozen=True)
class Report:
    """One message from one source, normalized.

    ``(channel, source_id)`` identifies it: submitting the same pair again is a no-op that returns
    the first result, so senders may retry freely.
    """

    channel: str
    source_id: str
    text: str = ""
    contact: Contact = Contact()
    location: Location = Location()
    category: str | None = None
    attachments: tuple[AttachmentIn, ...] = ()
    received_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    #: The sender's own timestamp, if it gives one.
    source_time: datetime | None = None
    #: The payload exactly as received, and its media type.
    raw: bytes = b""
    raw_content_type: str = ""
    #: Conversational channels (SMS): a message joins the sender's open case instead of opening one.
    thread_by_contact: bool = False
    #: The number of the case this report continues (a mail reply found by its Message-ID): it joins
    #: that case while it is open, and opens a new one otherwise.
    continues_case: str | None = None
    priority: int | None = None
    meta: dict[str, Any] = field(default_factory=dict)
