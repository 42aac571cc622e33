"""Search what analysis produced: transcript text (pg_trgm) and result JSON (containment).

Two kinds of hits come back, merged and ranked by score:

- ``transcript``: active transcriptions whose text contains the query
  (``ILIKE '%q%'``) or is word-similar to it (``q <% text``, pg_trgm), with the
  timestamp of the best-matching segment. Both predicates can use a trigram GIN
  index on ``transcription.text`` (``gin_trgm_ops``, revision 000000000004).
- ``result``: active analysis results whose JSON contains a given document
  (``result @> :doc``), which uses ``ix_analysis_result_result_gin``
  (``jsonb_path_ops``).
"""

from __future__ import annotations

import json
import sys
import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.orm import Session

from mediaflow.db.enums import AnalysisProvider, MediaFileStatus, TranscriptionProvider
from mediaflow.errors import InvalidInput
from mediaflow.runtime import Runtime

__all__ = [
    "DEFAULT_THRESHOLD",
    "MAX_LIMIT",
    "TRANSCRIPT_TYPE",
    "SearchHit",
    "result_query",
    "search",
    "transcript_query",
]

MAX_LIMIT = 1000
# pg_trgm's own default (0.6) misses ordinary misspellings of two-word phrases
# ("speach recogniton" scores about 0.5 against "speech recognition").
DEFAULT_THRESHOLD = 0.4
# What a transcript hit reports as its analysis_type (and what --type selects them by).
TRANSCRIPT_TYPE = "transcription"
_SNIPPET_CHARS = 120


@dataclass(frozen=True)
class SearchHit:
    """One match: a transcript segment or an analysis result of one media file."""

    kind: Literal["transcript", "result"]
    media_file_id: uuid.UUID
    job_id: uuid.UUID
    original_name: str
    provider: str
    analysis_type: str
    score: float
    start_s: float | None  # no defaults: every field is required in the API's schema
    end_s: float | None
    snippet: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (ids as strings)."""
        data = asdict(self)
        data["media_file_id"] = str(self.media_file_id)
        data["job_id"] = str(self.job_id)
        return data


@dataclass(frozen=True)
class _Filters:
    provider: str | None
    analysis_type: str | None
    status: str | None
    since: datetime | None
    until: datetime | None


def _aware(value: datetime | None) -> datetime | None:
    # a date without a zone means UTC (the database stores timestamptz)
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def _escape_like(text: str) -> str:
    # the query is literal text: its own % and _ must not act as wildcards
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _validate(
    query: str | None,
    contains: dict[str, Any] | None,
    filters: _Filters,
    limit: int,
    threshold: float,
) -> None:
    if not (query and query.strip()) and contains is None:
        raise InvalidInput("nothing to search for", hint="give a query, a word or --contains JSON")
    if contains is not None and (not isinstance(contains, dict) or not contains):
        raise InvalidInput("contains must be a non-empty JSON object", hint='e.g. {"words": ["x"]}')
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"limit must be between 1 and {MAX_LIMIT}, not {limit}")
    if not 0.0 < threshold <= 1.0:
        raise InvalidInput(f"threshold must be in (0, 1], not {threshold}")
    known = {p.value for p in TranscriptionProvider} | {p.value for p in AnalysisProvider}
    if filters.provider is not None and filters.provider not in known:
        raise InvalidInput(
            f"unknown provider {filters.provider!r}", hint=f"known: {', '.join(sorted(known))}"
        )
    statuses = [s.value for s in MediaFileStatus]
    if filters.status is not None and filters.status not in statuses:
        raise InvalidInput(
            f"unknown status {filters.status!r}", hint=f"known: {', '.join(statuses)}"
        )
    if filters.since and filters.until and filters.since >= filters.until:
        raise InvalidInput("since must be before until")


def _file_filters(filters: _Filters, params: dict[str, Any]) -> list[str]:
    """WHERE clauses on media_file ``m`` shared by both kinds of hit."""
    clauses = []
    if filters.status is not None:
        clauses.append("m.status::text = :status")
        params["status"] = filters.status
    if filters.since is not None:
        clauses.append("m.created_at >= :since")
        params["since"] = filters.since
    if filters.until is not None:
        clauses.append("m.created_at < :until")
        params["until"] = filters.until
    return clauses


def _transcript_query(
    query: str, filters: _Filters, limit: int, threshold: float
) -> tuple[str, dict[str, Any]] | None:
    """SQL and parameters of the transcript search; None when the filters exclude it."""
    if filters.analysis_type not in (None, TRANSCRIPT_TYPE):
        return None
    if filters.provider is not None and filters.provider not in {
        p.value for p in TranscriptionProvider
    }:
        return None
    params: dict[str, Any] = {
        "q": query,
        "pattern": f"%{_escape_like(query)}%",
        "limit": limit,
        "threshold": threshold,
    }
    # ILIKE and <% are both operators of gin_trgm_ops: a trigram index on text serves them
    clauses = ["t.is_active", "(t.text ILIKE :pattern OR :q <% t.text)"]
    if filters.provider is not None:
        clauses.append("t.provider::text = :provider")
        params["provider"] = filters.provider
    clauses += _file_filters(filters, params)
    # rank and cut first, then find the best segment (a literal match first, then the
    # most word-similar one) of the few rows kept: not of every row that matched
    sql = f"""
        WITH hits AS (
            SELECT t.media_file_id, t.job_id, m.original_name, t.provider::text AS provider,
                   GREATEST(word_similarity(:q, t.text),
                            CASE WHEN t.text ILIKE :pattern THEN 1.0 ELSE 0.0 END) AS score,
                   m.created_at, t.text, t.segments
            FROM transcription t
            JOIN media_file m ON m.id = t.media_file_id
            WHERE {" AND ".join(clauses)}
            ORDER BY score DESC, m.created_at DESC, t.media_file_id
            LIMIT :limit
        )
        SELECT h.media_file_id, h.job_id, h.original_name, h.provider, h.score,
               seg.start_s, seg.end_s, COALESCE(seg.text, h.text) AS snippet
        FROM hits h
        LEFT JOIN LATERAL (
            SELECT (s ->> 'start')::float8 AS start_s, (s ->> 'end')::float8 AS end_s,
                   s ->> 'text' AS text
            FROM jsonb_array_elements(h.segments) AS s
            ORDER BY (s ->> 'text') ILIKE :pattern DESC,
                     word_similarity(:q, s ->> 'text') DESC,
                     (s ->> 'start')::float8
            LIMIT 1
        ) seg ON true
        ORDER BY h.score DESC, h.created_at DESC, h.media_file_id
    """  # every value is a bound parameter; the clauses are fixed strings
    return sql, params


def transcript_query(
    query: str,
    *,
    provider: str | None = None,
    status: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 20,
    threshold: float = DEFAULT_THRESHOLD,
) -> tuple[str, dict[str, Any]] | None:
    """SQL and parameters of the transcript search (exposed for EXPLAIN)."""
    filters = _Filters(provider, None, status, _aware(since), _aware(until))
    return _transcript_query(query, filters, limit, threshold)


def result_query(
    contains: dict[str, Any],
    *,
    provider: str | None = None,
    analysis_type: str | None = None,
    status: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 20,
) -> tuple[str, dict[str, Any]] | None:
    """SQL and parameters of the result containment search (exposed for EXPLAIN)."""
    filters = _Filters(provider, analysis_type, status, _aware(since), _aware(until))
    return _result_query(contains, filters, limit)


def _result_query(
    contains: dict[str, Any], filters: _Filters, limit: int
) -> tuple[str, dict[str, Any]] | None:
    if filters.analysis_type == TRANSCRIPT_TYPE:
        return None
    if filters.provider is not None and filters.provider not in {p.value for p in AnalysisProvider}:
        return None
    params: dict[str, Any] = {"contains": json.dumps(contains), "limit": limit}
    # @> with a jsonb right side is what ix_analysis_result_result_gin (jsonb_path_ops) indexes
    clauses = ["r.result @> CAST(:contains AS jsonb)", "r.is_active"]
    if filters.provider is not None:
        clauses.append("r.provider::text = :provider")
        params["provider"] = filters.provider
    if filters.analysis_type is not None:
        clauses.append("r.analysis_type = :analysis_type")
        params["analysis_type"] = filters.analysis_type
    clauses += _file_filters(filters, params)
    sql = f"""
        SELECT r.media_file_id, r.job_id, m.original_name, r.provider::text AS provider,
               r.analysis_type, r.result
        FROM analysis_result r
        JOIN media_file m ON m.id = r.media_file_id
        WHERE {" AND ".join(clauses)}
        ORDER BY m.created_at DESC, r.media_file_id, r.analysis_type
        LIMIT :limit
    """  # every value is a bound parameter; the clauses are fixed strings
    return sql, params


def _result_snippet(analysis_type: str, result: dict[str, Any]) -> str:
    if analysis_type == "ocr" and isinstance(result.get("text"), str):
        text: str = result["text"]
    else:
        text = json.dumps(result, sort_keys=True, default=str)
    text = " ".join(text.split())
    return text if len(text) <= _SNIPPET_CHARS else text[: _SNIPPET_CHARS - 1] + "…"


def _transcript_hits(session: Session, sql: str, params: dict[str, Any]) -> list[SearchHit]:
    # the <% operator compares against this setting; LOCAL: only for this transaction.
    # PostgreSQL refuses a subnormal float (5e-324) for it; any threshold that small
    # matches the same rows as the smallest normal one.
    session.execute(
        sa.text("SELECT set_config('pg_trgm.word_similarity_threshold', :t, true)"),
        {"t": str(max(params["threshold"], sys.float_info.min))},
    )
    rows = session.execute(sa.text(sql), params).mappings().all()
    return [
        SearchHit(
            kind="transcript",
            media_file_id=row["media_file_id"],
            job_id=row["job_id"],
            original_name=row["original_name"],
            provider=row["provider"],
            analysis_type=TRANSCRIPT_TYPE,
            score=round(float(row["score"]), 4),
            start_s=row["start_s"],
            end_s=row["end_s"],
            snippet=" ".join((row["snippet"] or "").split()),
        )
        for row in rows
    ]


def _result_hits(session: Session, sql: str, params: dict[str, Any]) -> list[SearchHit]:
    rows = session.execute(sa.text(sql), params).mappings().all()
    return [
        SearchHit(
            kind="result",
            media_file_id=row["media_file_id"],
            job_id=row["job_id"],
            original_name=row["original_name"],
            provider=row["provider"],
            analysis_type=row["analysis_type"],
            score=1.0,  # containment is exact: every hit matches fully
            start_s=None,
            end_s=None,
            snippet=_result_snippet(row["analysis_type"], row["result"]),
        )
        for row in rows
    ]


def search(
    runtime: Runtime,
    query: str | None = None,
    *,
    contains: dict[str, Any] | None = None,
    word: str | None = None,
    provider: str | None = None,
    analysis_type: str | None = None,
    status: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 20,
    threshold: float = DEFAULT_THRESHOLD,
) -> list[SearchHit]:
    """Search transcripts for ``query`` and results for ``contains`` / ``word``.

    ``word`` is shorthand for ``contains={"words": [word.lower()]}`` (OCR words) and
    is merged into ``contains``. Filters apply to both kinds of hit: ``provider``
    (a transcription or analysis provider name), ``analysis_type`` (``transcription``
    selects transcript hits only), ``status`` (of the media file) and the media
    file's creation time in ``[since, until)``. Hits are ranked by score (1.0 for a
    literal or containment match) and cut to ``limit``. Raises ``InvalidInput`` for
    an empty search, an out-of-range limit or an unknown provider or status.
    """
    if word is not None:
        if not word.strip():
            raise InvalidInput("word must not be empty")
        contains = {**(contains or {}), "words": [word.strip().lower()]}
    filters = _Filters(provider, analysis_type, status, _aware(since), _aware(until))
    _validate(query, contains, filters, limit, threshold)
    text = query.strip() if query else None

    transcript_sql = _transcript_query(text, filters, limit, threshold) if text else None
    result_sql = _result_query(contains, filters, limit) if contains is not None else None
    hits: list[SearchHit] = []
    with runtime.db.session() as session:
        if transcript_sql is not None:
            hits += _transcript_hits(session, *transcript_sql)
        if result_sql is not None:
            hits += _result_hits(session, *result_sql)
    # stable sort: within one score each kind keeps its own SQL order
    hits.sort(key=lambda hit: hit.score, reverse=True)
    return hits[:limit]
