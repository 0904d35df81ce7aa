"""Who is posting: HTTP Basic and Digest (cameras, NVRs), URL tokens (ONVIF consumers).

Pure functions, no database. A sender's password is stored as its HA1, ``MD5(name:realm:password)``:
what Digest (RFC 7616, MD5 — the only algorithm cameras implement) needs, and enough to check Basic.
Digest nonces are stateless: ``<unix time>.<HMAC of it>``, valid for :data:`NONCE_LIFETIME_SECONDS`,
so any web process can check any other's nonce; a stale one gets a fresh challenge (``stale=true``).
"""

from __future__ import annotations

import hashlib
import hmac
from enum import StrEnum

from werkzeug.datastructures import Authorization

from channels.camera.settings import REALM

#: How long a Digest nonce stays valid, in seconds.
NONCE_LIFETIME_SECONDS = 300


class Verdict(StrEnum):
    OK = "ok"
    STALE = "stale"  # right password, old nonce: challenge again with stale=true
    BAD = "bad"


def _md5(text: str) -> str:
    # Digest is defined on MD5 and MD5 is all cameras implement; the secret is not recoverable from it.
    return hashlib.md5(text.encode("utf-8")).hexdigest()


def ha1(username: str, password: str) -> str:
    return _md5(f"{username}:{REALM}:{password}")


def token_hash(token: str) -> str:
    """What is stored of an ONVIF consumer token (the token itself is shown once)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def make_nonce(key: bytes, now: float) -> str:
    stamp = str(int(now))
    return f"{stamp}.{hmac.new(key, stamp.encode(), hashlib.sha256).hexdigest()[:32]}"


def _nonce_age(key: bytes, nonce: str, now: float) -> float | None:
    stamp, _, mac = nonce.partition(".")
    if not stamp.isdigit():
        return None
    expected = hmac.new(key, stamp.encode(), hashlib.sha256).hexdigest()[:32]
    if not hmac.compare_digest(expected, mac):
        return None
    return now - int(stamp)


def check_basic(auth: Authorization, stored_ha1: str) -> Verdict:
    given = ha1(auth.username or "", auth.password or "")
    return Verdict.OK if hmac.compare_digest(given, stored_ha1) else Verdict.BAD


def check_digest(auth: Authorization, stored_ha1: str, method: str, path: str, key: bytes, now: float) -> Verdict:
    """Check a Digest ``Authorization`` for ``method`` on ``path`` (qop=auth or none, MD5)."""
    params = auth.parameters
    nonce, uri, response = params.get("nonce", ""), params.get("uri", ""), params.get("response", "")
    if params.get("realm") != REALM or not nonce or not response:
        return Verdict.BAD
    if params.get("algorithm", "MD5").upper() not in ("MD5", ""):
        return Verdict.BAD
    # The digest covers the URI the client names; it must be the one it called, or a capture of one
    # request could be replayed against another endpoint.
    if uri.split("?", 1)[0] != path:
        return Verdict.BAD
    ha2 = _md5(f"{method}:{uri}")
    qop = params.get("qop", "")
    if qop == "auth":
        expected = _md5(f"{stored_ha1}:{nonce}:{params.get('nc', '')}:{params.get('cnonce', '')}:auth:{ha2}")
    elif not qop:
        expected = _md5(f"{stored_ha1}:{nonce}:{ha2}")
    else:
        return Verdict.BAD
    if not hmac.compare_digest(expected, response):
        return Verdict.BAD
    age = _nonce_age(key, nonce, now)
    if age is None:
        return Verdict.BAD
    return Verdict.OK if -60 <= age <= NONCE_LIFETIME_SECONDS else Verdict.STALE


def challenges(key: bytes, now: float, *, stale: bool = False) -> list[str]:
    """WWW-Authenticate values: Digest first (devices prefer the first they support), then Basic."""
    digest = f'Digest realm="{REALM}", qop="auth", algorithm=MD5, nonce="{make_nonce(key, now)}"'
    if stale:
        digest += ", stale=true"
    return [digest, f'Basic realm="{REALM}", charset="UTF-8"']


def derive_secret(key: bytes, name: str, salt: str) -> bytes:
    """A generic sender's webhook secret: derived from the server's key, so no table holds it."""
    return hmac.new(key, f"camera-sender:{name}:{salt}".encode(), hashlib.sha256).hexdigest().encode()
