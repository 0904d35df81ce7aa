"""Request helpers the console's views share: who is acting, and the JSON body of an action."""

from __future__ import annotations

from typing import Any

from flask import request

from agent_ui.auth import current_user
from agent_ui.errors import ActionRefused
from intake.models import User


def acting_user() -> User:
    """The signed-in user of a view behind ``login_required``."""
    user = current_user()
    assert user is not None, "acting_user() outside login_required"
    return user


def json_body() -> dict[str, Any]:
    """The action's JSON object; 400 naming the problem otherwise."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ActionRefused(400, "expected a JSON object")
    return body
