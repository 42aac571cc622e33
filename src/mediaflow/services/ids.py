"""Job and media file ids as people type them: whole, or a unique prefix (as git does).

``resolve`` turns ``3f2a`` into the one job or media file whose id starts with it;
no match is ``NotFound`` ("no media id starts with 3f2a"), several are
``InvalidInput`` naming a few of them, so a longer prefix can be given.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Literal

import sqlalchemy as sa

from mediaflow.db.models import AnalysisJob, MediaFile
from mediaflow.errors import InvalidInput, NotFound
from mediaflow.runtime import Runtime

__all__ = ["MIN_PREFIX", "ResolvedId", "resolve"]

MIN_PREFIX = 4  # as git: shorter prefixes match too much to be useful
_PREFIX = re.compile(r"^[0-9a-f-]+$")
_SHOWN = 4  # candidates named in an "ambiguous" error

Kind = Literal["job", "media"]


@dataclass(frozen=True)
class ResolvedId:
    """What a prefix names: a job or a media file, and its whole id."""

    kind: Kind
    id: uuid.UUID


def _normalise(text: str, what: str) -> str:
    prefix = text.strip().lower()
    if not _PREFIX.match(prefix):
        raise InvalidInput(f"{text!r} is not a {what} id or id prefix (hex digits)")
    try:
        return str(uuid.UUID(prefix))  # a whole id, written any way UUIDs are written
    except ValueError:
        pass
    if len(prefix.replace("-", "")) < MIN_PREFIX:
        raise InvalidInput(
            f"id prefix {text!r} is too short", hint=f"give at least {MIN_PREFIX} characters"
        )
    return prefix


def _is_whole_uuid(text: str) -> bool:
    try:
        uuid.UUID(text.strip())
    except ValueError:
        return False
    return True


def resolve(runtime: Runtime, text: str, kinds: tuple[Kind, ...] = ("job", "media")) -> ResolvedId:
    """The job or media file (of ``kinds``) whose id is ``text`` or starts with it."""
    what = " or ".join("media" if k == "media" else k for k in kinds)
    prefix = _normalise(text, what)
    columns = {"job": AnalysisJob.id, "media": MediaFile.id}
    found: list[ResolvedId] = []
    with runtime.db.session() as session:
        for kind in kinds:
            column = columns[kind]
            rows = session.scalars(
                sa.select(column)
                .where(sa.cast(column, sa.Text).like(prefix + "%"))
                .order_by(column)
                .limit(_SHOWN + 1)
            ).all()
            found += [ResolvedId(kind, row) for row in rows]
    if not found:
        if _is_whole_uuid(text):
            raise NotFound(f"{what} {text.strip()} does not exist")
        raise NotFound(f"no {what} id starts with {text.strip()}")
    if len(found) > 1:
        shown = ", ".join(f"{r.kind} {r.id}" for r in found[:_SHOWN])
        more = ", ..." if len(found) > _SHOWN else ""
        raise InvalidInput(
            f"id prefix {text.strip()!r} is ambiguous: {shown}{more}", hint="give more characters"
        )
    return found[0]
