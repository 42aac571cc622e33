"""People: list, look up, name, merge, re-cluster, and every moment a person appears.

A person is named by its id or, case-insensitively, by its name (``Alice``); a name
is unique, so naming a second person ``Alice`` is refused with a hint to merge them.
An appearance is a stretch of one media file in which the person's face is seen:
the faces of consecutive sampled frames make one stretch (a video frame stands for
its span), an image is one appearance at 0 s.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from pathlib import Path

import sqlalchemy as sa
from pydantic import BaseModel
from sqlalchemy.orm import Session

from mediaflow.db.models import Face, MediaFile, Person
from mediaflow.db.values import unstorable
from mediaflow.errors import InvalidInput, NotFound, Refused
from mediaflow.pipeline.people import recluster as recluster_faces
from mediaflow.pipeline.people import refresh_people
from mediaflow.runtime import Runtime

__all__ = [
    "Appearance",
    "FaceOut",
    "PersonDetail",
    "PersonOut",
    "appearances",
    "face_crop",
    "get_person",
    "list_people",
    "merge",
    "people_in_media",
    "recluster",
    "rename",
]

MAX_NAME = 200
_ID_PREFIX = re.compile(r"[0-9a-f]{4,32}")
# a gap between two sightings up to this long still counts as one appearance
JOIN_GAP_S = 1.0


class PersonOut(BaseModel):
    """One person: id, name (None until someone names it), faces and files seen in."""

    id: uuid.UUID
    name: str | None
    label: str  # the name, or "Person <first 8 hex digits of the id>"
    face_count: int
    media_count: int
    cover_face_id: int | None  # the face with the highest score, for a thumbnail


class FaceOut(BaseModel):
    """One face of a person: where it is and the URL-able id of its crop."""

    id: int
    media_file_id: uuid.UUID
    timestamp_s: float
    x: int
    y: int
    w: int
    h: int
    score: float | None
    has_crop: bool


class Appearance(BaseModel):
    """A stretch of one media file in which the person is seen."""

    media_file_id: uuid.UUID
    original_name: str
    start_s: float
    end_s: float
    faces: int
    face_id: int  # the best face of the stretch


class PersonDetail(PersonOut):
    """A person with some faces and every appearance."""

    faces: list[FaceOut]
    appearances: list[Appearance]


def _label(person: Person) -> str:
    return person.name or f"Person {str(person.id)[:8]}"


def _resolve(session: Session, ref: str | uuid.UUID) -> Person:
    """The person an id or a (case-insensitive) name names; NotFound otherwise."""
    text = str(ref).strip()
    if unstorable(text):  # PostgreSQL text cannot hold it: no person can be named so
        raise NotFound(f"no person {text!r}")
    try:
        person = session.get(Person, uuid.UUID(text))
    except ValueError:
        person = session.scalars(
            sa.select(Person).where(sa.func.lower(Person.name) == text.lower())
        ).first()
        if person is None and _ID_PREFIX.fullmatch(text.lower()):
            # the short id `people list` shows; ambiguous prefixes name nobody
            found = session.scalars(
                sa.select(Person)
                .where(sa.cast(Person.id, sa.Text).startswith(text.lower()))
                .limit(2)
            ).all()
            person = found[0] if len(found) == 1 else None
    if person is None:
        raise NotFound(f"no person {text!r}", hint="list them with `mediaflow people list`")
    return person


def _outs(session: Session, people: Sequence[Person]) -> list[PersonOut]:
    """``people`` with their file counts and cover faces, in two queries for all of them."""
    ids = [p.id for p in people]
    if not ids:
        return []
    # a Result has keys(): dict() would read it as a mapping, so rows are unpacked here
    media_counts = {
        person_id: count
        for person_id, count in session.execute(
            sa.select(Face.person_id, sa.func.count(sa.distinct(Face.media_file_id)))
            .where(Face.person_id.in_(ids))
            .group_by(Face.person_id)
        )
    }
    ranked = (
        sa.select(
            Face.person_id,
            Face.id,
            sa.func.row_number()
            .over(
                partition_by=Face.person_id,
                order_by=(Face.crop_key.is_(None), Face.score.desc().nulls_last(), Face.id),
            )
            .label("rank"),
        )
        .where(Face.person_id.in_(ids))
        .subquery()
    )
    covers = {
        person_id: face_id
        for person_id, face_id in session.execute(
            sa.select(ranked.c.person_id, ranked.c.id).where(ranked.c.rank == 1)
        )
    }
    return [
        PersonOut(
            id=p.id,
            name=p.name,
            label=_label(p),
            face_count=p.face_count,
            media_count=int(media_counts.get(p.id, 0)),
            cover_face_id=covers.get(p.id),
        )
        for p in people
    ]


def _out(session: Session, person: Person) -> PersonOut:
    return _outs(session, [person])[0]


def list_people(runtime: Runtime, *, named_only: bool = False) -> list[PersonOut]:
    """Every person, named first, then by how many faces they have."""
    with runtime.db.session() as session:
        query = sa.select(Person).order_by(
            Person.name.is_(None), Person.face_count.desc(), Person.created_at
        )
        if named_only:
            query = query.where(Person.name.is_not(None))
        return _outs(session, list(session.scalars(query)))


def get_person(runtime: Runtime, ref: str | uuid.UUID, *, max_faces: int = 48) -> PersonDetail:
    """One person with up to ``max_faces`` faces (best first) and every appearance."""
    with runtime.db.session() as session:
        person = _resolve(session, ref)
        faces = session.scalars(
            sa.select(Face)
            .where(Face.person_id == person.id)
            .order_by(Face.score.desc().nulls_last(), Face.id)
            .limit(max_faces)
        )
        return PersonDetail(
            **_out(session, person).model_dump(),
            faces=[_face_out(f) for f in faces],
            appearances=_appearances(session, person.id),
        )


def _face_out(face: Face) -> FaceOut:
    return FaceOut(
        id=face.id, media_file_id=face.media_file_id, timestamp_s=face.timestamp_s,
        x=face.x, y=face.y, w=face.w, h=face.h, score=face.score,
        has_crop=face.crop_key is not None,
    )  # fmt: skip


def _appearances(session: Session, person_id: uuid.UUID) -> list[Appearance]:
    rows = session.execute(
        sa.select(Face, MediaFile.original_name)
        .join(MediaFile, MediaFile.id == Face.media_file_id)
        .where(Face.person_id == person_id)
        .order_by(MediaFile.original_name, Face.media_file_id, Face.timestamp_s)
    ).all()
    found: list[Appearance] = []
    best: dict[int, float] = {}
    for face, original_name in rows:
        start = face.start_s if face.start_s is not None else face.timestamp_s
        end = face.end_s if face.end_s is not None else face.timestamp_s
        last = found[-1] if found else None
        if last and last.media_file_id == face.media_file_id and start <= last.end_s + JOIN_GAP_S:
            last.end_s, last.faces = max(last.end_s, end), last.faces + 1
            if (face.score or 0.0) > best[id(last)]:
                last.face_id, best[id(last)] = face.id, face.score or 0.0
            continue
        appearance = Appearance(
            media_file_id=face.media_file_id, original_name=original_name,
            start_s=start, end_s=end, faces=1, face_id=face.id,
        )  # fmt: skip
        best[id(appearance)] = face.score or 0.0
        found.append(appearance)
    return found


def appearances(runtime: Runtime, ref: str | uuid.UUID) -> list[Appearance]:
    """Every moment the person appears ("every moment Alice appears"), file by file."""
    with runtime.db.session() as session:
        return _appearances(session, _resolve(session, ref).id)


def rename(runtime: Runtime, ref: str | uuid.UUID, name: str | None) -> PersonOut:
    """Give a person a name (None or blank is refused; use a new name to rename)."""
    clean = " ".join((name or "").split())
    if not clean:
        raise InvalidInput("a person's name cannot be empty")
    if reason := unstorable(clean):
        raise InvalidInput(f"a person's name cannot contain {reason}")
    if len(clean) > MAX_NAME:
        raise InvalidInput(f"a person's name is at most {MAX_NAME} characters")
    with runtime.db.session() as session:
        person = _resolve(session, ref)
        other = session.scalars(
            sa.select(Person).where(
                sa.func.lower(Person.name) == clean.lower(), Person.id != person.id
            )
        ).first()
        if other is not None:
            raise Refused(
                f"another person is named {other.name!r}",
                hint=f"if they are the same person: mediaflow people merge {other.id} {person.id}",
            )
        person.name = clean
        session.flush()
        return _out(session, person)


def merge(runtime: Runtime, keep: str | uuid.UUID, other: str | uuid.UUID) -> PersonOut:
    """Move every face of ``other`` to ``keep`` and remove ``other``.

    ``keep`` keeps its name; an unnamed ``keep`` takes ``other``'s name.
    """
    with runtime.db.session() as session:
        kept, gone = _resolve(session, keep), _resolve(session, other)
        if kept.id == gone.id:
            raise InvalidInput("a person cannot be merged with itself")
        session.execute(sa.update(Face).where(Face.person_id == gone.id).values(person_id=kept.id))
        name = kept.name or gone.name
        session.delete(gone)
        session.flush()  # the name is free only once the other row is gone
        kept.name = name
        refresh_people(session, {kept.id})
        session.flush()
        return _out(session, kept)


def recluster(runtime: Runtime) -> dict[str, int]:
    """Group every face of the library again (names are kept); counts of what happened."""
    with runtime.db.session() as session:
        return recluster_faces(session, runtime.settings.people_match_threshold)


def face_crop(runtime: Runtime, face_id: int) -> Path:
    """The stored JPEG crop of one face."""
    with runtime.db.session() as session:
        key = session.scalar(sa.select(Face.crop_key).where(Face.id == face_id))
    if key is None or not runtime.store.exists(key):
        raise NotFound(f"face {face_id} has no stored crop")
    return runtime.store.local_path(key)


def people_in_media(runtime: Runtime, media_id: uuid.UUID) -> list[PersonOut]:
    """The people seen in one media file, most faces first."""
    with runtime.db.session() as session:
        if session.get(MediaFile, media_id) is None:
            raise NotFound(f"media file {media_id} does not exist")
        ids = session.scalars(
            sa.select(Face.person_id)
            .where(Face.media_file_id == media_id, Face.person_id.is_not(None))
            .group_by(Face.person_id)
            .order_by(sa.func.count().desc())
        )
        return _outs(session, [p for i in ids if (p := session.get(Person, i)) is not None])
