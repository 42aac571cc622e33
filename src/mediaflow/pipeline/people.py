"""Faces into people: the pipeline step after a face provider, and the clustering it uses.

A face provider that computes embeddings (YuNet + SFace) hands them over in its
output's ``extras``. This step stores one ``face`` row per face (with a small crop in
the content store) and links it to a ``person`` *incrementally*: the face joins the
person whose centroid is nearest, when the cosine similarity reaches the match
threshold, and starts a new person otherwise. Two faces of one frame never join the
same person (one person cannot be twice in a picture). A re-run of a file replaces
its faces. ``recluster`` (``mediaflow people recluster``) groups every face again
(order-free: nearest-centroid passes after the incremental rule), keeping the people
(and their names) that the new groups mostly hold.

Assignments are serialised with a transaction-level advisory lock, so two workers
finding the same new person at once make one person, not two.
"""

from __future__ import annotations

import io
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import sqlalchemy as sa
from sqlalchemy.orm import Session

from mediaflow.db.models import Face, Person
from mediaflow.db.session import Database
from mediaflow.media.types import Frame
from mediaflow.pipeline.records import ClaimedFile
from mediaflow.providers.base import AnalysisOutput
from mediaflow.storage import ObjectStore

__all__ = ["FaceLinker", "Match", "nearest", "recluster", "unit"]

# one lock id for every people assignment (pg_advisory_xact_lock takes a bigint)
PEOPLE_LOCK = 0x6D66_7065_6F70  # "mfpeop"
CROP_SIDE = 128
CROP_MARGIN = 0.25

Vector = npt.NDArray[np.float64]


def unit(vector: Sequence[float] | Vector) -> Vector:
    """``vector`` scaled to length 1 (a zero vector stays zero)."""
    array = np.asarray(vector, dtype=np.float64)
    norm = float(np.linalg.norm(array))
    return array / norm if norm > 0 else array


@dataclass(frozen=True)
class Match:
    """The nearest person of a face and how similar (cosine) they are."""

    index: int  # position in the centroid list; -1 when there was none
    similarity: float


def nearest(centroids: Vector, vector: Vector, exclude: set[int] | None = None) -> Match:
    """The nearest centroid (rows of unit vectors) to ``vector``, skipping ``exclude``."""
    if centroids.size == 0:
        return Match(-1, -1.0)
    similarities = centroids @ vector
    for index in exclude or ():
        similarities[index] = -np.inf
    best = int(np.argmax(similarities))
    if not np.isfinite(similarities[best]):
        return Match(-1, -1.0)
    return Match(best, float(similarities[best]))


def crop_jpeg(frame: Frame, box: dict[str, Any]) -> bytes:
    """A small square-ish JPEG of one face with some margin (for the person page)."""
    from PIL import Image

    image = frame.image
    if image.dtype != np.uint8:  # a 16-bit picture: scaled by its range, as detection did
        image = np.clip(image.astype(np.float32) * (255.0 / 65535.0), 0, 255).astype(np.uint8)
    height, width = image.shape[:2]
    margin_x, margin_y = box["w"] * CROP_MARGIN, box["h"] * CROP_MARGIN
    left, top = max(0, int(box["x"] - margin_x)), max(0, int(box["y"] - margin_y))
    right = min(width, int(box["x"] + box["w"] + margin_x))
    bottom = min(height, int(box["y"] + box["h"] + margin_y))
    picture = Image.fromarray(image[top:bottom, left:right]).convert("RGB")
    picture.thumbnail((CROP_SIDE, CROP_SIDE), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    picture.save(out, format="JPEG", quality=85)
    return out.getvalue()


def _lock(session: Session) -> None:
    session.execute(sa.text("SELECT pg_advisory_xact_lock(:id)"), {"id": PEOPLE_LOCK})


def refresh_people(session: Session, person_ids: set[uuid.UUID]) -> None:
    """Recompute centroid and face count of ``person_ids``; delete unnamed ones left empty."""
    for person_id in person_ids:
        person = session.get(Person, person_id)
        if person is None:
            continue
        vectors = session.scalars(sa.select(Face.embedding).where(Face.person_id == person_id))
        rows = [np.asarray(v, np.float64) for v in vectors]
        if not rows:
            if person.name is None:
                session.delete(person)
            else:  # a named person stays (renaming is work a user did), with no faces
                person.face_count = 0
            continue
        person.centroid = [float(v) for v in unit(np.mean(rows, axis=0))]
        person.face_count = len(rows)


class FaceLinker:
    """Stores a file's faces and links each to a person (the pipeline's people step)."""

    def __init__(self, db: Database, store: ObjectStore, *, threshold: float) -> None:
        self.db = db
        self.store = store
        self.threshold = threshold

    def link(
        self,
        file: ClaimedFile,
        provider: str,
        outputs: Sequence[AnalysisOutput],
        frames: Sequence[Frame],
    ) -> dict[str, int] | None:
        """Faces of ``outputs`` that carry embeddings, stored and linked; None: none carry any.

        Returns counts for the processing log (faces, people joined, people started).
        """
        output = next((o for o in outputs if "embeddings" in o.extras), None)
        if output is None:
            return None
        faces = self._faces(output, frames)
        # crops first, outside the transaction (file writes)
        for face, frame, box in faces:
            if frame is not None:
                face.crop_key = self.store.store_bytes(crop_jpeg(frame, box)).key
        with self.db.session() as session:
            _lock(session)
            old = set(
                session.scalars(
                    sa.delete(Face)
                    .where(Face.media_file_id == file.media_file_id, Face.person_id.is_not(None))
                    .returning(Face.person_id)
                )
            )
            session.execute(sa.delete(Face).where(Face.media_file_id == file.media_file_id))
            refresh_people(session, {p for p in old if p is not None})
            joined, started = self._assign(session, file.media_file_id, provider, output, faces)
        return {"faces": len(faces), "joined": joined, "new_people": started}

    @staticmethod
    def _faces(
        output: AnalysisOutput, frames: Sequence[Frame]
    ) -> list[tuple[Face, Frame | None, dict[str, Any]]]:
        entries = output.result.get("frames", [])
        faces = []
        for position, box_index, vector in output.extras["embeddings"]:
            entry = entries[position]
            box = entry["boxes"][box_index]
            frame = frames[position] if position < len(frames) else None
            face = Face(
                provider="", model=output.model, frame_index=int(entry["index"]),
                timestamp_s=float(entry["timestamp_s"]), start_s=entry.get("start_s"),
                end_s=entry.get("end_s"), frame_width=int(entry["width"]),
                frame_height=int(entry["height"]), x=int(box["x"]), y=int(box["y"]),
                w=int(box["w"]), h=int(box["h"]), score=box.get("score"),
                embedding=[float(v) for v in vector],
            )  # fmt: skip
            faces.append((face, frame, box))
        return faces

    def _assign(
        self,
        session: Session,
        media_file_id: uuid.UUID,
        provider: str,
        output: AnalysisOutput,
        faces: list[tuple[Face, Frame | None, dict[str, Any]]],
    ) -> tuple[int, int]:
        people = list(session.scalars(sa.select(Person).order_by(Person.created_at)))
        centroids = np.array([p.centroid for p in people], dtype=np.float64)
        counts = [p.face_count for p in people]
        joined = started = 0
        used: dict[int, set[int]] = {}  # frame index -> people already in that frame
        chosen: list[int] = []  # each face's position in ``people``
        for face, _, _ in faces:
            face.media_file_id, face.provider = media_file_id, provider
            vector = unit(face.embedding)
            in_frame = used.setdefault(face.frame_index, set())
            match = nearest(centroids, vector, in_frame)
            if match.index >= 0 and match.similarity >= self.threshold:
                index = match.index
                n = counts[index]
                centroids[index] = unit(centroids[index] * n + vector)
                counts[index] = n + 1
                joined += 1
            else:
                person = Person(centroid=[], face_count=0)
                session.add(person)
                people.append(person)
                centroids = (
                    vector[None, :] if centroids.size == 0 else np.vstack([centroids, vector])
                )
                counts.append(1)
                index = len(people) - 1
                started += 1
            in_frame.add(index)
            chosen.append(index)
        for index, person in enumerate(people):
            person.centroid = [float(v) for v in centroids[index]]
            person.face_count = counts[index]
        session.flush()  # new people get their ids
        for (face, _, _), index in zip(faces, chosen, strict=True):
            face.person_id = people[index].id
            session.add(face)
        return joined, started


def recluster(session: Session, threshold: float) -> dict[str, int]:
    """Group every face again (cosine, see ``_group``) and relink them to people.

    A new group keeps the existing person that holds most of its faces (named people
    first), so names survive; groups no person holds start new people; people left
    without faces are removed unless named. Returns counts for the caller.
    """
    _lock(session)
    rows = session.execute(sa.select(Face.id, Face.person_id, Face.embedding)).all()
    if not rows:
        return {"faces": 0, "people": 0, "moved": 0}
    vectors = np.array([unit(r.embedding) for r in rows])
    labels = _group(vectors, threshold)
    named = {p.id for p in session.scalars(sa.select(Person).where(Person.name.is_not(None)))}
    taken: set[uuid.UUID] = set()
    target: dict[int, uuid.UUID] = {}
    # biggest groups choose first: they are the surest
    groups = sorted(set(labels), key=lambda g: -int(np.sum(labels == g)))
    for group in groups:
        members = [rows[int(i)] for i in np.flatnonzero(labels == group)]
        votes: dict[uuid.UUID, int] = {}
        for member in members:
            if member.person_id is not None and member.person_id not in taken:
                votes[member.person_id] = votes.get(member.person_id, 0) + 1
        if votes:
            chosen = max(votes, key=lambda p: (p in named, votes[p]))
        else:
            person = Person(centroid=[], face_count=0)
            session.add(person)
            session.flush()
            chosen = person.id
        taken.add(chosen)
        target[int(group)] = chosen
    moved = 0
    before = {r.person_id for r in rows if r.person_id is not None}
    for index, row in enumerate(rows):
        person_id = target[int(labels[index])]
        if person_id != row.person_id:
            session.execute(sa.update(Face).where(Face.id == row.id).values(person_id=person_id))
            moved += 1
    refresh_people(session, before | set(target.values()))
    return {"faces": len(rows), "people": len(target), "moved": moved}


def _group(vectors: Vector, threshold: float, passes: int = 3) -> npt.NDArray[np.int64]:
    """Cluster labels of unit ``vectors``: leader clustering, then nearest-centroid passes.

    The first pass is the incremental rule (join the nearest group at ``threshold`` or
    start one); the later passes move each face to the group whose *final* centroid is
    nearest, which undoes the order dependence of the first pass. NumPy only, O(n·k).
    """
    centroids: list[Vector] = []
    labels = np.zeros(len(vectors), dtype=np.int64)
    for index, vector in enumerate(vectors):
        match = nearest(np.array(centroids), vector)
        if match.index >= 0 and match.similarity >= threshold:
            labels[index] = match.index
        else:
            centroids.append(vector)
            labels[index] = len(centroids) - 1
    for _ in range(passes):
        groups = sorted(set(labels.tolist()))
        means = np.array([unit(vectors[labels == g].mean(axis=0)) for g in groups])
        moved = np.array(groups)[np.argmax(vectors @ means.T, axis=1)]
        if np.array_equal(moved, labels):
            break
        labels = moved
    return labels
