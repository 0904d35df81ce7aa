"""Gridline's core: the model, the one submit path, storage, queue, app factory and CLI.

The public surface for channels is small: :class:`Report` and its parts, :func:`submit`, and
the errors. The core never imports ``channels``, ``routing``, ``agent_ui`` or ``ivr``; only
:mod:`intake.app`, :mod:`intake.cli` and :mod:`intake.wiring` put them together.
"""

from __future__ import annotations

from intake.errors import IntakeError, InvalidReport
from intake.report import AttachmentIn, Contact, Location, Report
from intake.submit import SubmitResult, submit

__all__ = [
    "AttachmentIn",
    "Contact",
    "IntakeError",
    "InvalidReport",
    "Location",
    "Report",
    "SubmitResult",
    "submit",
]
