"""The register of grid workers: CSV import, device tokens, and who a bearer token belongs to.

``gridline grid-workers import FILE`` reads ``code,name,phone,grid_code[,active]`` (UTF-8, with or
without BOM, or GB18030 as exported by Excel on Chinese Windows). The whole file is checked first and
nothing is written if any line is wrong; every bad line is named. Workers missing from a file are left
as they are (``active`` = 0 retires one), so a file of one town's workers updates just those.
"""

from __future__ import annotations

import csv
import io
import logging
import re
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from sqlalchemy import String, cast, insert, literal, select, update
from sqlalchemy.orm import Session

from channels.app.errors import NotSignedIn
from channels.app.otp import new_token, token_digest
from channels.grid.models import GridWorker, GridWorkerToken
from intake.models import utcnow
from intake.phones import normalize_phone

log = logging.getLogger(__name__)

REQUIRED_COLUMNS = ("code", "name", "phone", "grid_code")
#: Problems spelled out in the error message; the rest are counted.
SHOWN_PROBLEMS = 20
#: Rows written per statement during an import.
WRITE_BATCH_ROWS = 2000
TOKEN_PREFIX = "gw_"
_CODE = re.compile(r"^[0-9A-Za-z_-]{1,32}$")
_CELL = re.compile(r"^\d{15}$")
_MOBILE = re.compile(r"^\+861[3-9]\d{9}$")
_TRUE = {"1", "true", "yes", "y", "是", ""}
_FALSE = {"0", "false", "no", "n", "否"}


class WorkerImportError(Exception):
    """The file cannot be imported; nothing of it was written. ``problems``: ``(line, what)``."""

    def __init__(self, source: str, problems: list[tuple[str, str]]) -> None:
        shown = [f"  {where}: {what}" for where, what in problems[:SHOWN_PROBLEMS]]
        if len(problems) > SHOWN_PROBLEMS:
            shown.append(f"  ... and {len(problems) - SHOWN_PROBLEMS} more")
        super().__init__(f"{source}: cannot import:\n" + "\n".join(shown))
        self.problems = problems


@dataclass(frozen=True)
class ImportResult:
    created: int
    updated: int
    unchanged: int


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("gb18030")


def import_workers(session: Session, path: str | Path) -> ImportResult:
    source = str(path)
    rows = list(csv.DictReader(io.StringIO(_decode(Path(path).read_bytes()))))
    problems: list[tuple[str, str]] = []
    header = set(rows[0].keys()) if rows else set()
    missing = [name for name in REQUIRED_COLUMNS if name not in header]
    if missing:
        raise WorkerImportError(source, [("header", f"missing column(s): {', '.join(missing)}")])
    from routing.models import GridCell  # the cells are routing's; only their codes are checked here

    known_cells = set(session.scalars(select(GridCell.code)))
    wanted: dict[str, dict[str, object]] = {}
    phones: dict[str, str] = {}
    for line, row in enumerate(rows, start=2):
        where = f"line {line}"
        code = (row.get("code") or "").strip()
        name = (row.get("name") or "").strip()
        phone = normalize_phone((row.get("phone") or "").strip())
        cell = (row.get("grid_code") or "").strip()
        active_text = (row.get("active") or "").strip().lower()
        if not _CODE.match(code):
            problems.append((where, f"code {code!r}: 1 to 32 letters, digits, - or _"))
            continue
        if code in wanted:
            problems.append((where, f"code {code} appears twice"))
        if not name or len(name) > 100:
            problems.append((where, "name: 1 to 100 characters"))
        if phone is None or not _MOBILE.match(phone):
            problems.append((where, "phone: a mainland mobile number (11 digits starting with 1)"))
        elif phone in phones and phones[phone] != code:
            problems.append((where, f"phone is also worker {phones[phone]}'s"))
        else:
            phones[phone] = code
        if not _CELL.match(cell):
            problems.append((where, f"grid_code {cell!r}: 15 digits"))
        elif known_cells and cell not in known_cells:
            problems.append((where, f"grid_code {cell}: no such grid cell"))
        if active_text not in _TRUE | _FALSE:
            problems.append((where, f"active {active_text!r}: 1 or 0"))
        wanted[code] = {"code": code, "name": name, "phone": phone, "grid_code": cell, "active": active_text in _TRUE}
    existing = {row.code: row for row in session.execute(select(GridWorker)).scalars()}
    # A phone may move from one worker to another only if the file takes it away from the first too.
    for worker in existing.values():
        taken_by = phones.get(worker.phone)
        if (
            taken_by
            and taken_by != worker.code
            and wanted.get(worker.code, {}).get("phone", worker.phone) == worker.phone
        ):
            problems.append((f"worker {taken_by}", f"phone belongs to worker {worker.code} already"))
    if problems:
        raise WorkerImportError(source, problems)
    now = utcnow()
    inserts, updates, unchanged = [], [], 0
    for code, fields in wanted.items():
        current = existing.get(code)
        if current is None:
            inserts.append({**fields, "created_at": now, "updated_at": now})
        elif any(getattr(current, key) != value for key, value in fields.items()):
            updates.append({"id": current.id, **fields, "updated_at": now})
        else:
            unchanged += 1
    if updates:
        # Free the phones that move first: the unique index would refuse a swap done row by row.
        moving = [row["id"] for row in updates if existing[str(row["code"])].phone != row["phone"]]
        for start in range(0, len(moving), WRITE_BATCH_ROWS):
            ids = moving[start : start + WRITE_BATCH_ROWS]
            session.execute(
                update(GridWorker)
                .where(GridWorker.id.in_(ids))
                .values(phone=literal("moving:") + cast(GridWorker.id, String))
            )
        for start in range(0, len(updates), WRITE_BATCH_ROWS):
            session.execute(update(GridWorker), updates[start : start + WRITE_BATCH_ROWS])
    for start in range(0, len(inserts), WRITE_BATCH_ROWS):
        session.execute(insert(GridWorker), inserts[start : start + WRITE_BATCH_ROWS])
    log.info("grid workers: %d created, %d updated, %d unchanged", len(inserts), len(updates), unchanged)
    return ImportResult(len(inserts), len(updates), unchanged)


def issue_token(session: Session, worker: GridWorker, label: str, *, days: int | None = None) -> str:
    """A bearer token for ``worker``'s device (``days``: until it expires; ``None``: until revoked)."""
    token, digest = new_token(TOKEN_PREFIX)
    expires = utcnow() + timedelta(days=days) if days is not None else None
    session.add(GridWorkerToken(worker_id=worker.id, token_hash=digest, label=label[:100], expires_at=expires))
    session.flush()
    return token


def worker_for_token(session: Session, token: str) -> GridWorker:
    row = session.scalar(select(GridWorkerToken).where(GridWorkerToken.token_hash == token_digest(token)))
    now = utcnow()
    if row is None or row.revoked or (row.expires_at is not None and row.expires_at <= now):
        raise NotSignedIn("the bearer token is unknown, revoked or expired")
    if not row.worker.active:
        raise NotSignedIn("this grid worker is no longer active")
    row.last_used_at = now
    return row.worker


def worker_by_phone(session: Session, phone: str) -> GridWorker | None:
    return session.scalar(select(GridWorker).where(GridWorker.phone == phone, GridWorker.active.is_(True)))


def worker_by_code(session: Session, code: str) -> GridWorker | None:
    return session.scalar(select(GridWorker).where(GridWorker.code == code))
