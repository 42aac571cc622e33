"""The search index: moments written with every transcript and result, embeddings after.

Every write goes through here, in the caller's transaction:

- ``index_transcription`` / ``index_result`` add the moments of a new active row
  (``search.moments`` says what they are) and count their words in ``search_word``;
- ``drop_sources`` removes the moments of rows a re-run superseded (a deleted file or
  result takes its moments along by ``ON DELETE CASCADE``);
- ``embed_pending`` gives moments without a vector one (all-MiniLM-L6-v2, batched,
  outside any transaction while the model runs), where the server has pgvector;
- ``reindex`` rebuilds what is missing from the stored transcripts and results, in
  batches that commit one by one: stopped, it resumes where it was.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import sqlalchemy as sa
from sqlalchemy.orm import Session

from mediaflow.db import pgvector
from mediaflow.db.models import AnalysisResult, Transcription
from mediaflow.db.session import Database
from mediaflow.providers.base import Availability
from mediaflow.providers.text_embedding import DIMENSIONS, TextEmbedder
from mediaflow.search.moments import (
    LABEL_TYPES,
    MomentText,
    moments_of_result,
    moments_of_transcript,
)

__all__ = [
    "EmbedReport",
    "ReindexReport",
    "drop_sources",
    "embed_pending",
    "index_result",
    "index_transcription",
    "reindex",
    "semantic_status",
    "vector_literal",
]

INDEXED_TYPES = ("ocr", *sorted(LABEL_TYPES))
# Words longer than this are not words (hashes, URLs): kept out of the dictionary.
_MAX_WORD = 40
_EMBED_BATCH = 256
_REINDEX_BATCH = 500

_INSERT_MOMENT = sa.text(
    """
    INSERT INTO search_moment (media_file_id, transcription_id, analysis_result_id, kind,
                               provider, analysis_type, position, start_s, end_s, speaker, text)
    VALUES (:media_file_id, :transcription_id, :analysis_result_id, :kind, :provider,
            :analysis_type, :position, :start_s, :end_s, :speaker, :text)
    """
)
# The words of some moments, counted into the dictionary. Sorted: concurrent writers
# lock dictionary rows in one order, so two of them never deadlock.
_COUNT_WORDS = """
    INSERT INTO search_word (word, moments)
    SELECT word, count(*) FROM (
        SELECT DISTINCT m.id, w.word
        FROM search_moment m,
             unnest(tsvector_to_array(to_tsvector('simple'::regconfig, m.text))) AS w(word)
        WHERE {where}
    ) words
    WHERE char_length(word) <= {max_word}
    GROUP BY word ORDER BY word
    ON CONFLICT (word) DO UPDATE SET moments = search_word.moments + EXCLUDED.moments
"""
_UNCOUNT_WORDS = """
    UPDATE search_word s SET moments = s.moments - gone.n
    FROM (
        SELECT word, count(*) AS n FROM (
            SELECT DISTINCT m.id, w.word
            FROM search_moment m,
                 unnest(tsvector_to_array(to_tsvector('simple'::regconfig, m.text))) AS w(word)
            WHERE {where}
        ) words GROUP BY word ORDER BY word
    ) gone
    WHERE s.word = gone.word
"""


def _moment_rows(
    moments: Iterable[MomentText],
    *,
    media_file_id: uuid.UUID,
    provider: str,
    analysis_type: str,
    transcription_id: uuid.UUID | None = None,
    analysis_result_id: uuid.UUID | None = None,
) -> list[dict[str, Any]]:
    return [
        {
            "media_file_id": media_file_id, "transcription_id": transcription_id,
            "analysis_result_id": analysis_result_id, "kind": m.kind, "provider": provider,
            "analysis_type": analysis_type, "position": m.position, "start_s": m.start_s,
            "end_s": m.end_s, "speaker": m.speaker, "text": m.text,
        }
        for m in moments
    ]  # fmt: skip


def _write(
    session: Session,
    rows: list[dict[str, Any]],
    source: str,
    ids: Sequence[Any],
    *,
    count_words: bool = True,
) -> int:
    if not rows:
        return 0
    session.execute(_INSERT_MOMENT, rows)
    if count_words:
        session.execute(
            sa.text(_COUNT_WORDS.format(where=f"m.{source} = ANY(:ids)", max_word=_MAX_WORD)),
            {"ids": list(ids)},
        )
    return len(rows)


def _transcription_rows(
    row: Transcription, min_confidence: float | None = None
) -> list[dict[str, Any]]:
    moments = moments_of_transcript(row.segments, min_confidence=min_confidence)
    return _moment_rows(
        moments, media_file_id=row.media_file_id, provider=str(row.provider),
        analysis_type="transcription", transcription_id=row.id,
    )  # fmt: skip


def _result_rows(row: AnalysisResult) -> list[dict[str, Any]]:
    moments = moments_of_result(row.analysis_type, row.result)
    return _moment_rows(
        moments, media_file_id=row.media_file_id, provider=str(row.provider),
        analysis_type=row.analysis_type, analysis_result_id=row.id,
    )  # fmt: skip


def index_transcription(
    session: Session, row: Transcription, *, min_confidence: float | None = None
) -> int:
    """Add the moments of an active transcription (one per segment); return how many."""
    rows = _transcription_rows(row, min_confidence)
    return _write(session, rows, "transcription_id", [row.id])


def index_result(session: Session, row: AnalysisResult) -> int:
    """Add the moments of an active analysis result (OCR text, labels); return how many."""
    return _write(session, _result_rows(row), "analysis_result_id", [row.id])


def drop_sources(
    session: Session,
    *,
    transcription_ids: Sequence[uuid.UUID] = (),
    result_ids: Sequence[uuid.UUID] = (),
) -> int:
    """Remove the moments of superseded transcriptions / results; return how many."""
    removed = 0
    for column, ids in (
        ("transcription_id", transcription_ids),
        ("analysis_result_id", result_ids),
    ):
        if not ids:
            continue
        where = f"m.{column} = ANY(:ids)"
        params = {"ids": list(ids)}
        session.execute(sa.text(_UNCOUNT_WORDS.format(where=where)), params)
        deleted = session.execute(sa.text(f"DELETE FROM search_moment m WHERE {where}"), params)
        removed += int(getattr(deleted, "rowcount", 0) or 0)
    if removed:
        session.execute(sa.text("DELETE FROM search_word WHERE moments <= 0"))
    return removed


# -- embeddings -------------------------------------------------------------------------


def semantic_status(db: Database, embedder: TextEmbedder) -> Availability:
    """Whether semantic search can run here: pgvector's table exists, its library can run
    on this CPU, and the model loads."""
    with db.session() as session:
        has_table = session.execute(
            sa.text("SELECT to_regclass('search_embedding') IS NOT NULL")
        ).scalar()
    if not has_table:
        return Availability(
            False,
            "this PostgreSQL server has no pgvector extension (vector): semantic search "
            "needs it (the embedded PostgreSQL has it; on a server, install pgvector and "
            "run `mediaflow db upgrade`, or use word search)",
        )
    crash = pgvector.server_problem(db)
    if crash is not None:
        return Availability(False, crash)
    return embedder.availability()


def vector_literal(vector: npt.NDArray[np.float32]) -> str:
    """A vector as pgvector's text form ``[0.1,0.2,...]``."""
    return "[" + ",".join(f"{float(x):.7g}" for x in vector) + "]"


@dataclass
class EmbedReport:
    """What ``embed_pending`` did."""

    embedded: int = 0
    seconds: float = 0.0
    model_seconds: float = 0.0


def embed_pending(
    db: Database,
    embedder: TextEmbedder,
    *,
    media_file_id: uuid.UUID | None = None,
    batch: int = _EMBED_BATCH,
    limit: int | None = None,
    on_batch: Callable[[int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> EmbedReport:
    """Embed moments that have no vector yet (of one file, or all), one batch at a time.

    The model runs with no transaction open; each batch's vectors are written in one
    short transaction, so a stop loses at most the batch in hand.
    """
    report = EmbedReport()
    started = time.perf_counter()
    model = embedder.model_version
    where = "e.moment_id IS NULL" + (" AND m.media_file_id = :file" if media_file_id else "")
    select = sa.text(
        f"""
        SELECT m.id, m.text FROM search_moment m
        LEFT JOIN search_embedding e ON e.moment_id = m.id
        WHERE {where} AND m.id > :after
        ORDER BY m.id LIMIT :batch
        """
    )
    insert = sa.text(
        "INSERT INTO search_embedding (moment_id, model, embedding) "
        "VALUES (:id, :model, CAST(:embedding AS vector)) ON CONFLICT (moment_id) DO NOTHING"
    )
    after = 0
    while limit is None or report.embedded < limit:
        if should_stop is not None and should_stop():
            break
        size = batch if limit is None else min(batch, limit - report.embedded)
        with db.session() as session:
            rows = session.execute(
                select, {"after": after, "batch": size, "file": media_file_id}
            ).all()
        if not rows:
            break
        model_started = time.perf_counter()
        vectors = embedder.embed([text for _, text in rows])
        report.model_seconds += time.perf_counter() - model_started
        assert vectors.shape == (len(rows), DIMENSIONS)
        with db.session() as session:
            session.execute(
                insert,
                [
                    {"id": moment_id, "model": model, "embedding": vector_literal(vector)}
                    for (moment_id, _), vector in zip(rows, vectors, strict=True)
                ],
            )
        after = rows[-1][0]
        report.embedded += len(rows)
        if on_batch is not None:
            on_batch(len(rows))
    report.seconds = time.perf_counter() - started
    return report


# -- reindex ----------------------------------------------------------------------------

ReindexWhat = Literal["lexical", "semantic", "all"]


@dataclass
class ReindexReport:
    """What ``reindex`` did, and how fast."""

    sources: int = 0
    moments: int = 0
    removed: int = 0
    embedded: int = 0
    lexical_seconds: float = 0.0
    semantic_seconds: float = 0.0
    stopped: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def moments_per_s(self) -> float | None:
        """Lexical indexing speed."""
        return self.moments / self.lexical_seconds if self.lexical_seconds else None

    @property
    def embeddings_per_s(self) -> float | None:
        """Embedding speed (model and writes)."""
        return self.embedded / self.semantic_seconds if self.semantic_seconds else None


ProgressCallback = Callable[[str, int, int | None], None]  # (phase, done, total)

_STALE = """
    DELETE FROM search_moment m
    WHERE (m.transcription_id IS NOT NULL AND NOT EXISTS (
             SELECT 1 FROM transcription t WHERE t.id = m.transcription_id AND t.is_active))
       OR (m.analysis_result_id IS NOT NULL AND NOT EXISTS (
             SELECT 1 FROM analysis_result r WHERE r.id = m.analysis_result_id AND r.is_active))
"""
_MISSING_TRANSCRIPTIONS = """
    SELECT t.id FROM transcription t
    WHERE t.is_active AND t.id > :after
      AND NOT EXISTS (SELECT 1 FROM search_moment m WHERE m.transcription_id = t.id)
    ORDER BY t.id LIMIT :batch
"""
_MISSING_RESULTS = """
    SELECT r.id FROM analysis_result r
    WHERE r.is_active AND r.analysis_type = ANY(:types) AND r.id > :after
      AND NOT EXISTS (SELECT 1 FROM search_moment m WHERE m.analysis_result_id = r.id)
    ORDER BY r.id LIMIT :batch
"""
_REBUILD_WORDS = """
    INSERT INTO search_word (word, moments)
    SELECT word, ndoc FROM ts_stat(
        'SELECT to_tsvector(''simple''::regconfig, text) FROM search_moment'
    ) WHERE char_length(word) <= {max_word}
"""


def _count(db: Database, sql: str, params: dict[str, Any]) -> int:
    with db.session() as session:
        return int(session.execute(sa.text(f"SELECT count(*) FROM ({sql}) s"), params).scalar_one())


def _reindex_lexical(
    db: Database,
    report: ReindexReport,
    progress: ProgressCallback,
    should_stop: Callable[[], bool],
    min_confidence: float | None,
) -> None:
    started = time.perf_counter()
    with db.session() as session:
        stale = session.execute(sa.text(_STALE))
        report.removed = int(getattr(stale, "rowcount", 0) or 0)
    sources: list[tuple[str, str, type[Transcription] | type[AnalysisResult]]] = [
        ("transcripts", _MISSING_TRANSCRIPTIONS, Transcription),
        ("results", _MISSING_RESULTS, AnalysisResult),
    ]
    unbounded = {"after": uuid.UUID(int=0), "batch": 2**31 - 1, "types": list(INDEXED_TYPES)}
    for phase, sql, model in sources:
        total = _count(db, sql, unbounded)
        done = 0
        progress(phase, done, total)
        after = uuid.UUID(int=0)
        while True:
            if should_stop():
                report.stopped = True
                break
            with db.session() as session:
                ids = (
                    session.execute(
                        sa.text(sql), {**unbounded, "after": after, "batch": _REINDEX_BATCH}
                    )
                    .scalars()
                    .all()
                )
                if not ids:
                    break
                # one insert per batch; the dictionary is rebuilt once at the end
                rows: list[dict[str, Any]] = []
                if model is Transcription:
                    for transcript in session.scalars(
                        sa.select(Transcription).where(Transcription.id.in_(ids))
                    ):
                        rows += _transcription_rows(transcript, min_confidence)
                else:
                    for result in session.scalars(
                        sa.select(AnalysisResult).where(AnalysisResult.id.in_(ids))
                    ):
                        rows += _result_rows(result)
                report.moments += _write(session, rows, "", [], count_words=False)
            after = ids[-1]
            report.sources += len(ids)
            done += len(ids)
            progress(phase, done, total)
        if report.stopped:
            break
    if not report.stopped:
        # counts drift when files are deleted (cascades do not uncount): start over
        with db.session() as session:
            session.execute(sa.text("DELETE FROM search_word"))
            session.execute(sa.text(_REBUILD_WORDS.format(max_word=_MAX_WORD)))
    report.lexical_seconds = time.perf_counter() - started


def reindex(
    db: Database,
    embedder: TextEmbedder,
    *,
    what: ReindexWhat = "all",
    progress: ProgressCallback | None = None,
    should_stop: Callable[[], bool] | None = None,
    min_confidence: float | None = None,
) -> ReindexReport:
    """Bring the index up to the stored transcripts and results; resumable at any point.

    ``lexical``: remove moments of inactive rows, add those of active rows that have
    none, rebuild the word dictionary. ``semantic``: embed every moment without a
    vector (where pgvector and the model are here; otherwise a note says why not).
    """
    report = ReindexReport()
    notify = progress or (lambda phase, done, total: None)
    stop = should_stop or (lambda: False)
    if what in ("lexical", "all"):
        _reindex_lexical(db, report, notify, stop, min_confidence)
    if what in ("semantic", "all") and not report.stopped:
        status = semantic_status(db, embedder)
        if not status.available:
            report.notes.append(f"semantic index skipped: {status.reason}")
            return report
        total = _count(
            db,
            "SELECT m.id FROM search_moment m LEFT JOIN search_embedding e "
            "ON e.moment_id = m.id WHERE e.moment_id IS NULL",
            {},
        )
        done = 0
        notify("embeddings", done, total)

        def on_batch(count: int) -> None:
            nonlocal done
            done += count
            notify("embeddings", done, total)

        embedded = embed_pending(db, embedder, on_batch=on_batch, should_stop=stop)
        report.embedded, report.semantic_seconds = embedded.embedded, embedded.seconds
        report.stopped = stop()
    return report
