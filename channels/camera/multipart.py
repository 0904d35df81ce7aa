"""A forgiving multipart reader for what cameras post: form-data, mixed, x-mixed-replace.

Hikvision's HTTP listening mode posts ``multipart/form-data`` (the event as XML or JSON, then JPEG
parts); Dahua's event stream is ``multipart/x-mixed-replace`` with ``--myboundary``. Devices leave out
the closing boundary, repeat a boundary line, use LF instead of CRLF, or put a ``Content-Length`` in a
part; none of that loses the event. werkzeug's strict form parser is not used on purpose.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from channels.errors import MalformedPayload

_HEADER_END = re.compile(rb"\r?\n\r?\n")


@dataclass(frozen=True, slots=True)
class Part:
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";", 1)[0].strip().lower()

    @property
    def filename(self) -> str:
        disposition = self.headers.get("content-disposition", "")
        match = re.search(r'filename\s*=\s*"?([^";]+)"?', disposition) or re.search(
            r'name\s*=\s*"?([^";]+)"?', disposition
        )
        return match.group(1).strip() if match else ""


def boundary_of(content_type: str, body: bytes) -> str:
    """The boundary from the Content-Type header, else from the body's first ``--`` line."""
    match = re.search(r'boundary\s*=\s*"?([^";,\s]+)"?', content_type, re.IGNORECASE)
    if match:
        return match.group(1)
    first = body.lstrip()[:200].split(b"\n", 1)[0].strip()
    if first.startswith(b"--") and len(first) > 2:
        return first[2:].decode("latin-1")
    raise MalformedPayload("multipart body: no boundary in Content-Type and none at the start of the body")


def split(body: bytes, boundary: str, *, stream: bool = False) -> tuple[list[Part], list[str]]:
    """The parts of ``body`` and notes about what was tolerated.

    ``stream``: a piece of an endless ``x-mixed-replace`` stream, which never has a closing boundary.
    """
    delimiter = b"--" + boundary.encode("latin-1")
    notes: list[str] = []
    positions = [match.start() for match in re.finditer(rb"(?:^|\n)" + re.escape(delimiter), body)]
    if not positions:
        raise MalformedPayload(f"multipart body: boundary {boundary!r} does not occur")
    parts: list[Part] = []
    closed = False
    for index, position in enumerate(positions):
        start = body.index(delimiter, position) + len(delimiter)
        end = positions[index + 1] if index + 1 < len(positions) else len(body)
        segment = body[start:end]
        if segment.startswith(b"--"):
            closed = True
            break
        part = _part(segment)
        if part is not None:
            parts.append(part)
    if not closed and not stream:
        notes.append("multipart body has no closing boundary; read to its end")
    if not parts:
        raise MalformedPayload("multipart body: no part in it")
    return parts, notes


def _part(segment: bytes) -> Part | None:
    # The rest of the boundary line (transport padding), then headers up to a blank line.
    newline = segment.find(b"\n")
    if newline < 0:
        return None
    rest = segment[newline + 1 :]
    if not rest.strip():
        return None  # a repeated boundary line: firmware emits "--boundary" twice
    match = _HEADER_END.search(rest)
    if match is None or not _looks_like_headers(rest[: match.start()]):
        # No headers at all: the body starts at once (Dahua relays sometimes drop them).
        headers: dict[str, str] = {}
        content = rest
    else:
        headers = _headers(rest[: match.start()])
        content = rest[match.end() :]
    length = headers.get("content-length", "").strip()
    if length.isdigit() and int(length) <= len(content):
        content = content[: int(length)]
    elif content.endswith(b"\r\n"):
        content = content[:-2]
    elif content.endswith(b"\n"):
        content = content[:-1]
    return Part(headers=headers, body=content)


def _looks_like_headers(block: bytes) -> bool:
    lines = [line for line in block.splitlines() if line.strip()]
    return bool(lines) and all(re.match(rb"^[A-Za-z0-9-]+\s*:", line) for line in lines)


def _headers(block: bytes) -> dict[str, str]:
    headers: dict[str, str] = {}
    for line in block.decode("latin-1").splitlines():
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    return headers
