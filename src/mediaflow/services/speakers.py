"""Speakers of one media file: who speaks how long, and renaming them.

Diarization names speakers ``Speaker 1``, ``Speaker 2``... per file; a user renames
them per file (``Speaker 1`` -> ``Alice``). The name is written into the segments of
the file's active transcripts (so exports, the GIN-indexed ``segments @> '[{"speaker":
"Alice"}]'`` query and the web page all see it) and into its search moments, in one
transaction. Renaming to a name another speaker of the file has merges the two.
"""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel
from sqlalchemy.orm import Session

from mediaflow.db.models import MediaFile, Transcription
from mediaflow.db.values import unstorable
from mediaflow.errors import InvalidInput, NotFound
from mediaflow.runtime import Runtime

__all__ = ["SpeakerOut", "list_speakers", "media_with_speaker", "rename_speaker"]

MAX_NAME = 100


class SpeakerOut(BaseModel):
    """One speaker of a file: how many segments and seconds of speech are theirs."""

    name: str
    segments: int
    seconds: float
    first_s: float


def _active(session: Session, media_id: uuid.UUID) -> list[Transcription]:
    if session.get(MediaFile, media_id) is None:
        raise NotFound(f"media file {media_id} does not exist")
    return list(
        session.scalars(
            sa.select(Transcription).where(
                Transcription.media_file_id == media_id, Transcription.is_active
            )
        )
    )


def _speakers(segments: list[dict[str, Any]]) -> list[SpeakerOut]:
    found: dict[str, SpeakerOut] = {}
    for segment in segments:
        name = segment.get("speaker")
        if not isinstance(name, str) or not name:
            continue
        spoken = max(0.0, float(segment.get("end", 0)) - float(segment.get("start", 0)))
        if name not in found:
            found[name] = SpeakerOut(
                name=name, segments=0, seconds=0.0, first_s=float(segment.get("start", 0))
            )
        found[name].segments += 1
        found[name].seconds = round(found[name].seconds + spoken, 3)
    return sorted(found.values(), key=lambda s: s.first_s)


def list_speakers(runtime: Runtime, media_id: uuid.UUID) -> list[SpeakerOut]:
    """The speakers of the file's active transcript(s), in order of first words."""
    with runtime.db.session() as session:
        segments = [s for t in _active(session, media_id) for s in t.segments]
    return _speakers(segments)


def rename_speaker(runtime: Runtime, media_id: uuid.UUID, old: str, new: str) -> list[SpeakerOut]:
    """Rename speaker ``old`` of one file to ``new``; the file's speakers afterwards."""
    clean = " ".join((new or "").split())
    if not clean:
        raise InvalidInput("a speaker's name cannot be empty")
    if reason := unstorable([clean, old]):
        raise InvalidInput(f"a speaker's name cannot contain {reason}")
    if len(clean) > MAX_NAME:
        raise InvalidInput(f"a speaker's name is at most {MAX_NAME} characters")
    with runtime.db.session() as session:
        rows = _active(session, media_id)
        if not any(s.get("speaker") == old for t in rows for s in t.segments):
            known = ", ".join(s.name for s in _speakers([s for t in rows for s in t.segments]))
            raise NotFound(
                f"media file {media_id} has no speaker {old!r}",
                hint=f"its speakers: {known}" if known else "its transcript has no speakers",
            )
        for row in rows:
            row.segments = [
                {**s, "speaker": clean} if s.get("speaker") == old else s for s in row.segments
            ]
        session.execute(
            sa.text(
                "UPDATE search_moment SET speaker = :new "
                "WHERE media_file_id = :media AND speaker = :old AND kind = 'speech'"
            ),
            {"new": clean, "old": old, "media": media_id},
        )
        session.flush()
        return _speakers([s for t in rows for s in t.segments])


def media_with_speaker(runtime: Runtime, name: str) -> list[uuid.UUID]:
    """Files whose active transcript has a segment by ``name`` (the GIN index serves it)."""
    if unstorable(name):
        return []
    with runtime.db.session() as session:
        return list(
            session.scalars(
                sa.select(Transcription.media_file_id)
                .where(
                    Transcription.is_active,
                    Transcription.segments.contains([{"speaker": name}]),
                )
                .distinct()
            )
        )
