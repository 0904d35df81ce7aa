"""Attachment downloads (MMS photos, recordings), run by workers with a size limit."""

from __future__ import annotations

import logging
from collections.abc import Callable

import requests
from sqlalchemy import select

from intake.models import Attachment, AttachmentStatus, ReportRecord
from intake.runtime import get_runtime
from intake.submit import store_blob

log = logging.getLogger(__name__)

#: ``auth(url) -> requests auth`` for channels whose media needs credentials (Twilio: basic auth).
MediaAuth = Callable[[str], object]
_media_auth: dict[str, MediaAuth] = {}

#: Bytes read per chunk while streaming a download.
CHUNK_BYTES = 64 * 1024


class TooLarge(Exception):
    pass


def register_media_auth(channel: str, auth: MediaAuth) -> None:
    _media_auth[channel] = auth


def download_attachments(report_id: int) -> dict[str, int]:
    """Download every pending attachment of one report (the RQ job). Safe to run twice."""
    runtime = get_runtime()
    with runtime.db.transaction() as session:
        channel = session.scalar(select(ReportRecord.channel).where(ReportRecord.id == report_id))
        pending = session.execute(
            select(Attachment.id, Attachment.source_url).where(
                Attachment.report_id == report_id, Attachment.status == AttachmentStatus.PENDING
            )
        ).all()
    counts = {"stored": 0, "too_large": 0, "failed": 0}
    errors: list[Exception] = []
    for attachment_id, url in pending:
        status, data, error = _fetch(channel or "", url or "")
        if status == AttachmentStatus.FAILED:
            errors.append(RuntimeError(error))
        with runtime.db.transaction() as session:
            attachment = session.get(Attachment, attachment_id)
            assert attachment is not None
            attachment.attempts += 1
            if status == AttachmentStatus.STORED and data is not None:
                attachment.sha256 = store_blob(session, data)
                attachment.size = len(data)
                attachment.status = status
                attachment.error = None
            elif status == AttachmentStatus.TOO_LARGE:
                attachment.status = status
                attachment.error = error
            else:
                attachment.error = error
                if attachment.attempts >= 5:
                    attachment.status = AttachmentStatus.FAILED
        counts[status] += 1
    if errors:
        # Let RQ retry the job; stored attachments are not fetched again.
        raise RuntimeError(f"{len(errors)} attachment download(s) failed: {errors[0]}")
    return counts


def _fetch(channel: str, url: str) -> tuple[str, bytes | None, str | None]:
    config = get_runtime().config.worker
    limit = config.max_attachment_bytes
    auth = _media_auth[channel](url) if channel in _media_auth else None
    try:
        with requests.get(url, auth=auth, stream=True, timeout=config.download_timeout_seconds) as response:
            response.raise_for_status()
            declared = response.headers.get("Content-Length")
            if declared and declared.isdigit() and int(declared) > limit:
                raise TooLarge(f"{declared} bytes declared, limit {limit}")
            chunks = bytearray()
            for chunk in response.iter_content(CHUNK_BYTES):
                chunks.extend(chunk)
                if len(chunks) > limit:
                    raise TooLarge(f"more than {limit} bytes")
            return AttachmentStatus.STORED, bytes(chunks), None
    except TooLarge as err:
        log.warning("attachment too large: %s", err)
        return AttachmentStatus.TOO_LARGE, None, str(err)
    except requests.RequestException as err:
        log.warning("attachment download failed: %s", type(err).__name__)
        return AttachmentStatus.FAILED, None, f"{type(err).__name__}: {err}"[:500]
