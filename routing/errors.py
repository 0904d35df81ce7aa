"""The routing package's exceptions: one base class, a shallow hierarchy."""

from __future__ import annotations


class RoutingError(Exception):
    """Base class of every error raised by :mod:`routing`."""


class ActionDenied(RoutingError):
    """A closed-loop action that cannot be done; ``status`` is the HTTP status to answer with."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class DataImportError(RoutingError):
    """A grid or address file cannot be imported; nothing of it was written.

    ``problems`` lists each problem found as ``(where, what)``, e.g. ``("feature 3", "code ... is not
    15 digits")``; the message names the file and every problem (up to :attr:`SHOWN_PROBLEMS`).
    """

    #: Problems spelled out in the message; the rest are only counted.
    SHOWN_PROBLEMS = 20

    def __init__(self, source: str, problems: list[tuple[str, str]]) -> None:
        shown = [f"  {where}: {what}" for where, what in problems[: self.SHOWN_PROBLEMS]]
        if len(problems) > self.SHOWN_PROBLEMS:
            shown.append(f"  ... and {len(problems) - self.SHOWN_PROBLEMS} more")
        super().__init__(f"{source}: cannot import:\n" + "\n".join(shown))
        self.source = source
        self.problems = problems


class GridImportError(DataImportError):
    """A GeoJSON file of grid cells has a bad feature (the message names its index) or is not GeoJSON."""


class AddressImportError(DataImportError):
    """A CSV file of addresses has a bad row (the message names its line) or lacks a column."""


class UnitImportError(DataImportError):
    """A CSV file of units (departments, town sub-centers) has a bad row or lacks a column."""
