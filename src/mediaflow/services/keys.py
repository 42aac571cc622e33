"""API keys: created once and shown once, stored as SHA-256, revoked but never deleted.

A key is ``mf_`` followed by 43 URL-safe characters (32 random bytes). Being random
and long, a key cannot be guessed from its hash, so a fast hash is enough (a slow
password hash would only slow down every request). ``prefix`` (the first 11
characters) is stored in clear to tell keys apart in listings.
"""

from __future__ import annotations

import contextlib
import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from mediaflow.db.models import ApiKey
from mediaflow.errors import AuthError, InvalidInput, NotFound
from mediaflow.runtime import Runtime

KEY_PREFIX = "mf_"
_PREFIX_CHARS = 11
# last_used_at is a hint for `keys list`, not an audit log: write it at most this often
_TOUCH_EVERY = timedelta(minutes=1)


@dataclass(frozen=True)
class KeyInfo:
    """What is known about a key without the key itself."""

    id: uuid.UUID
    name: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None

    @classmethod
    def of(cls, row: ApiKey) -> KeyInfo:
        """The public view of an api_key row."""
        return cls(row.id, row.name, row.prefix, row.created_at, row.last_used_at, row.revoked_at)


def hash_key(token: str) -> str:
    """The stored form of a key (hex SHA-256)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_key(runtime: Runtime, name: str) -> tuple[KeyInfo, str]:
    """Create a key named ``name``; return its info and the key (shown only now)."""
    if not name.strip():
        raise InvalidInput("a key needs a name (who or what uses it)")
    token = KEY_PREFIX + secrets.token_urlsafe(32)
    with runtime.db.session() as session:
        row = ApiKey(name=name.strip(), prefix=token[:_PREFIX_CHARS], key_hash=hash_key(token))
        session.add(row)
        session.flush()
        session.refresh(row)
        return KeyInfo.of(row), token


def list_keys(runtime: Runtime, *, include_revoked: bool = True) -> list[KeyInfo]:
    """Every key, oldest first."""
    with runtime.db.session() as session:
        query = sa.select(ApiKey).order_by(ApiKey.created_at, ApiKey.prefix)
        if not include_revoked:
            query = query.where(ApiKey.revoked_at.is_(None))
        return [KeyInfo.of(row) for row in session.scalars(query)]


def revoke_key(runtime: Runtime, ident: str) -> KeyInfo:
    """Revoke the key whose id or prefix is ``ident``; revoking twice is harmless."""
    ident = ident.strip()
    with runtime.db.session() as session:
        condition = ApiKey.prefix == ident
        with contextlib.suppress(ValueError):
            condition = sa.or_(condition, ApiKey.id == uuid.UUID(ident))
        rows = session.scalars(sa.select(ApiKey).where(condition)).all()
        if not rows:
            raise NotFound(
                f"no API key with id or prefix {ident!r}", hint="see `mediaflow keys list`"
            )
        if len(rows) > 1:
            raise InvalidInput(f"{ident!r} names {len(rows)} keys", hint="give the key's id")
        row = rows[0]
        if row.revoked_at is None:
            row.revoked_at = datetime.now(UTC)
        return KeyInfo.of(row)


def authenticate(runtime: Runtime, token: str | None) -> KeyInfo:
    """The key ``token`` is, if it exists and is not revoked; else ``AuthError``."""
    if not token:
        raise AuthError("an API key is required", hint="send 'Authorization: Bearer <key>'")
    with runtime.db.session() as session:
        row = session.scalars(sa.select(ApiKey).where(ApiKey.key_hash == hash_key(token))).first()
        if row is None:
            raise AuthError("the API key is not valid")
        if row.revoked_at is not None:
            raise AuthError("the API key was revoked")
        now = datetime.now(UTC)
        if row.last_used_at is None or now - row.last_used_at > _TOUCH_EVERY:
            row.last_used_at = now
        return KeyInfo.of(row)
