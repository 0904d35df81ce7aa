"""Phone numbers: normalization to E.164 and masking for display and logs."""

from __future__ import annotations

import re

_DIGITS = re.compile(r"\D")


def normalize_phone(value: str | None, default_country: str = "86") -> str | None:
    """E.164 for a Chinese mobile or any number already in international form; ``None`` if empty."""
    if not value:
        return None
    value = value.strip()
    if value.startswith("+"):
        return "+" + _DIGITS.sub("", value)
    digits = _DIGITS.sub("", value)
    if not digits:
        return None
    if digits.startswith("00"):
        return "+" + digits[2:]
    if len(digits) == 11 and digits.startswith("1"):
        return f"+{default_country}{digits}"
    if digits.startswith("0") and len(digits) >= 10:  # landline with area code (010-69612345)
        return f"+{default_country}{digits[1:]}"
    return digits  # a short code or extension: keep as given


def mask_phone(value: str | None) -> str:
    """``+8613812348000`` → ``138****8000``: enough to recognise, not enough to dial."""
    if not value:
        return ""
    digits = _DIGITS.sub("", value)
    if value.startswith("+86"):
        digits = digits[2:]
    if len(digits) <= 4:
        return "*" * len(digits)
    if len(digits) < 8:
        return "*" * (len(digits) - 4) + digits[-4:]
    return f"{digits[:3]}****{digits[-4:]}"


def last_four(value: str | None) -> str:
    return _DIGITS.sub("", value or "")[-4:]
