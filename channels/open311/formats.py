"""GeoReport v2 output in both formats: XML (the spec's required one) and JSON (the Spark convention).

One value renders both ways: lists become a wrapper element with one child per item (``services`` →
``service``, ``service_requests`` → ``request``, ...), ``True``/``False`` become ``true``/``false``,
``None`` an empty element in XML and ``null`` in JSON. Text is UTF-8 with the XML declaration.
"""

from __future__ import annotations

import json
import re
from typing import Any
from xml.etree import ElementTree

from flask import Response

JSON_TYPE = "application/json; charset=utf-8"
XML_TYPE = "text/xml; charset=utf-8"
FORMATS = ("xml", "json")
#: Characters XML 1.0 cannot carry at all, even escaped.
_NOT_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")

#: The element of each item of a list, by the list's element.
ITEM_TAGS = {
    "services": "service",
    "attributes": "attribute",
    "values": "value",
    "service_requests": "request",
    "errors": "error",
    "endpoints": "endpoint",
    "formats": "format",
}


def render(value: Any, fmt: str, root: str, status: int = 200) -> Response:
    """``value`` as a response in ``fmt``; ``root`` names the XML root element (``services``, ...)."""
    if fmt == "json":
        body = json.dumps(value, ensure_ascii=False)
        return Response(body, status=status, content_type=JSON_TYPE)
    element = ElementTree.Element(root)
    _fill(element, value)
    xml = ElementTree.tostring(element, encoding="unicode", short_empty_elements=True)
    return Response('<?xml version="1.0" encoding="utf-8"?>\n' + xml, status=status, content_type=XML_TYPE)


def errors(status: int, descriptions: list[str], fmt: str) -> Response:
    """The spec's error list; the HTTP status and each error's code agree."""
    items = [{"code": status, "description": description} for description in descriptions]
    return render(items, fmt, "errors", status=status)


def _fill(element: ElementTree.Element, value: Any) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            _fill(ElementTree.SubElement(element, key), item)
    elif isinstance(value, list):
        tag = ITEM_TAGS.get(element.tag, "item")
        for item in value:
            _fill(ElementTree.SubElement(element, tag), item)
    elif value is None:
        return
    elif isinstance(value, bool):
        element.text = "true" if value else "false"
    else:
        element.text = _NOT_XML.sub("", str(value))
