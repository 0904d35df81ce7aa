"""Partner platforms and their API keys: each partner its own key, shown once, only its hash kept."""

from __future__ import annotations

import hashlib
import re
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from channels.open311.models import Open311Partner
from intake.errors import AuthError
from intake.models import utcnow

#: Prefix of every key we hand out: recognisable in a partner's configuration, and in a leak scanner.
KEY_PREFIX = "o311_"
#: Bytes of randomness in a key.
KEY_BYTES = 32
_NAME = re.compile(r"^[\w.\-]{1,64}$")


def key_hash(api_key: str) -> str:
    return hashlib.sha256(api_key.encode()).hexdigest()


def add_partner(session: Session, name: str) -> str:
    """Register partner ``name`` and return its new API key (only its hash is stored)."""
    if not _NAME.match(name):
        raise AuthError("partner name: 1 to 64 letters, digits, '.', '-' or '_'")
    if session.scalar(select(Open311Partner.id).where(Open311Partner.name == name)) is not None:
        raise AuthError(f"partner {name!r} exists already (revoke it, or pick another name)")
    api_key = KEY_PREFIX + secrets.token_urlsafe(KEY_BYTES)
    session.add(Open311Partner(name=name, key_hash=key_hash(api_key)))
    session.flush()
    return api_key


def rotate_key(session: Session, name: str) -> str:
    """A new API key for ``name``; the old one stops working at once."""
    partner = _get(session, name)
    api_key = KEY_PREFIX + secrets.token_urlsafe(KEY_BYTES)
    partner.key_hash = key_hash(api_key)
    partner.revoked = False
    return api_key


def revoke_partner(session: Session, name: str) -> None:
    _get(session, name).revoked = True


def partner_for_key(session: Session, api_key: str) -> Open311Partner | None:
    """The active partner holding ``api_key``, marked as just used; ``None`` for any other key."""
    if not api_key:
        return None
    partner = session.scalar(select(Open311Partner).where(Open311Partner.key_hash == key_hash(api_key)))
    if partner is None or partner.revoked:
        return None
    partner.last_used_at = utcnow()
    return partner


def _get(session: Session, name: str) -> Open311Partner:
    partner = session.scalar(select(Open311Partner).where(Open311Partner.name == name))
    if partner is None:
        raise AuthError(f"no partner {name!r}")
    return partner
