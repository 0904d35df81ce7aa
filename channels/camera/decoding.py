"""Reading what cameras really send: text under a wrong charset label, XML with a bare ``&``, junk.

Each reader returns what it managed to read plus notes saying what it repaired, so that the raw alarm
records both; it raises :class:`~channels.errors.MalformedPayload` (naming the problem) only when
nothing sensible is left.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from typing import Any

from channels.errors import MalformedPayload

#: Chinese firmware writes GBK/GB2312 strings (channel names, rule names) into documents labelled
#: UTF-8. GB18030 is the superset of both and decodes any of them.
CHINESE_FALLBACK = "gb18030"
#: ``&`` not starting an entity or character reference: devices interpolate names into XML unescaped.
_BARE_AMP = re.compile(rb"&(?!(?:amp|lt|gt|quot|apos|#[0-9]+|#x[0-9a-fA-F]+);)")
#: Control characters XML 1.0 forbids; some firmware pads fields with NUL.
_CONTROL = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f]")
_DECLARED = re.compile(rb"""^\s*<\?xml[^>]*encoding\s*=\s*["']([A-Za-z0-9._-]+)["']""")


def decode_text(raw: bytes, charset: str | None) -> tuple[str, list[str]]:
    """The text of ``raw``: its declared charset (default UTF-8), else GB18030, else UTF-8 with U+FFFD."""
    declared = (charset or "utf-8").strip().strip('"').lower() or "utf-8"
    try:
        return raw.decode(declared), []
    except (UnicodeDecodeError, LookupError):
        pass
    try:
        return raw.decode(CHINESE_FALLBACK), [f"bytes are not {declared}; read as GB18030 (GBK/GB2312)"]
    except UnicodeDecodeError:
        return raw.decode("utf-8", errors="replace"), [f"bytes are not {declared} nor GB18030; bad bytes replaced"]


def parse_xml(raw: bytes, charset: str | None = None) -> tuple[ET.Element, list[str]]:
    """Parse an XML document, repairing what devices commonly break; raise MalformedPayload otherwise."""
    notes: list[str] = []
    body = raw
    start = body.find(b"<")
    if start < 0:
        raise MalformedPayload("XML body: no element at all")
    if body[:start].strip():
        notes.append(f"{start} bytes of junk before the XML dropped")
    body = body[start:]
    if b"<!DOCTYPE" in body[:4096].upper():
        # Entity declarations are how XML bombs work; no camera needs a DOCTYPE.
        raise MalformedPayload("XML body: a DOCTYPE is not accepted")
    declared = _DECLARED.match(body)
    text, decode_notes = decode_text(body, charset or (declared.group(1).decode() if declared else None))
    notes += decode_notes
    try:
        return ET.fromstring(text), notes
    except ET.ParseError as first:
        repaired = text.encode("utf-8")
        fixes = []
        if _BARE_AMP.search(repaired):
            repaired = _BARE_AMP.sub(b"&amp;", repaired)
            fixes.append("bare & escaped")
        if _CONTROL.search(repaired):
            repaired = _CONTROL.sub(b"", repaired)
            fixes.append("control characters dropped")
        if not fixes:
            raise MalformedPayload(f"XML body: {first}") from first
        try:
            # Bytes now: the declaration's charset no longer applies, so parse with an explicit UTF-8 one.
            parser = ET.XMLParser(encoding="utf-8")
            parser.feed(repaired)
            return parser.close(), [*notes, *fixes]
        except ET.ParseError as err:
            raise MalformedPayload(f"XML body: {first} (still after repair: {err})") from err


def parse_json(raw: bytes, charset: str | None = None) -> tuple[Any, list[str]]:
    text, notes = decode_text(raw, charset)
    try:
        return json.loads(text), notes
    except json.JSONDecodeError as err:
        raise MalformedPayload(f"JSON body: {err.msg} at line {err.lineno} column {err.colno}") from err


def local(tag: str) -> str:
    """``{http://www.hikvision.com/ver20/XMLSchema}eventType`` → ``eventType``."""
    return tag.rsplit("}", 1)[-1]


def children(element: ET.Element) -> dict[str, ET.Element]:
    """An element's children by local name (the first of each), whatever namespace the device used."""
    found: dict[str, ET.Element] = {}
    for child in element:
        found.setdefault(local(child.tag), child)
    return found


def find_locals(element: ET.Element, names: frozenset[str]) -> dict[str, ET.Element]:
    """The first descendant with each of ``names`` as its local name, in any namespace (one pass)."""
    found: dict[str, ET.Element] = {}
    for node in element.iter():
        if node is element:
            continue
        name = local(node.tag)
        if name in names and name not in found:
            found[name] = node
            if len(found) == len(names):
                break
    return found


def text_of(element: ET.Element | None) -> str:
    return (element.text or "").strip() if element is not None else ""
