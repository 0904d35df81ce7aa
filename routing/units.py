"""Units (承办单位): import the district's departments and town sub-centers with their contacts.

``gridline units import units.csv`` with the columns ``code, name_zh`` and optionally ``name_en,
kind (department | town_center), area_code, duty_phone, email, head_name, head_phone``. Like the
other imports it checks the whole file first, writes nothing when a row is wrong (the error names
every bad line), and is an upsert: the same file twice changes nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from intake.phones import normalize_phone
from routing.errors import UnitImportError
from routing.importing import read_csv
from routing.models import Department

REQUIRED_COLUMNS = ("code", "name_zh")
KINDS = ("department", "town_center")
#: Unit codes are what routing rules and users name: lower-case letters, digits and dashes.
_CODE = re.compile(r"^[a-z0-9][a-z0-9-]{0,31}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_LIMITS = {"name_zh": 100, "name_en": 100, "head_name": 100, "email": 254}


@dataclass(frozen=True)
class UnitImport:
    created: int
    updated: int
    unchanged: int


def import_units(session: Session, path: str | Path) -> UnitImport:
    source = str(path)
    rows: list[dict[str, Any]] = []
    problems: list[tuple[str, str]] = []
    seen: dict[str, int] = {}
    for line, record in read_csv(source, REQUIRED_COLUMNS, UnitImportError):
        try:
            row = _unit(record)
        except ValueError as err:
            problems.append((f"line {line}", str(err)))
            continue
        if row["code"] in seen:
            problems.append((f"line {line}", f"code {row['code']} is also on line {seen[row['code']]}"))
            continue
        seen[row["code"]] = line
        rows.append(row)
    if problems:
        raise UnitImportError(source, problems)
    existing = {unit.code: unit for unit in session.scalars(select(Department).where(Department.code.in_(seen)))}
    created = updated = 0
    for row in rows:
        unit = existing.get(row["code"])
        if unit is None:
            session.add(Department(**row))
            created += 1
        elif any(getattr(unit, key) != value for key, value in row.items()):
            for key, value in row.items():
                setattr(unit, key, value)
            updated += 1
    session.flush()
    return UnitImport(created=created, updated=updated, unchanged=len(rows) - created - updated)


def _unit(record: dict[str, str | None]) -> dict[str, Any]:
    value = {key: (text or "").strip() for key, text in record.items() if key}
    code = value.get("code", "")
    if not _CODE.match(code):
        raise ValueError(f"code {code!r}: lower-case letters, digits and dashes, at most 32")
    if not value.get("name_zh"):
        raise ValueError("name_zh: required")
    for key, limit in _LIMITS.items():
        if len(value.get(key, "")) > limit:
            raise ValueError(f"{key}: longer than {limit} characters")
    kind = value.get("kind") or "department"
    if kind not in KINDS:
        raise ValueError(f"kind {kind!r}: use {' or '.join(KINDS)}")
    area = value.get("area_code") or None
    if area is not None and not (area.isdigit() and len(area) in (6, 9, 12)):
        raise ValueError(f"area_code {area!r}: 6, 9 or 12 digits")
    if kind == "town_center" and area is None:
        raise ValueError("area_code: required for a town_center")
    email = value.get("email") or None
    if email is not None and not _EMAIL.match(email):
        raise ValueError(f"email {email!r} is not an address")
    phones = {}
    for key in ("duty_phone", "head_phone"):
        raw = value.get(key) or None
        phone = normalize_phone(raw) if raw else None
        if raw and (phone is None or not phone.startswith("+")):
            raise ValueError(f"{key}: {raw!r} is not a phone number")
        phones[key] = phone
    return {
        "code": code,
        "name_zh": value["name_zh"],
        "name_en": value.get("name_en", ""),
        "kind": kind,
        "area_code": area,
        "email": email,
        "head_name": value.get("head_name") or None,
        **phones,
    }
