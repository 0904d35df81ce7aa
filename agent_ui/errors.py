"""The agent_ui package's exceptions."""

from __future__ import annotations


class ConsoleError(Exception):
    """Base class of the console's errors."""


class ActionRefused(ConsoleError):
    """An action the console refuses; ``status`` is the HTTP status it answers with."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
