"""Running a search: words, meaning, both, and JSON containment, over the moment index.

- ``lexical``: ``websearch_to_tsquery('english', q)`` against ``search_moment.tsv``
  (GIN), ranked by ``ts_rank_cd``, highlighted by ``ts_headline`` on the page shown
  only. When the words find nothing, misspelt words are corrected from the word
  dictionary (``search_word``, trigram similarity) and the corrected query is run
  and reported as the suggestion.
- ``semantic``: the query's all-MiniLM-L6-v2 vector against ``search_embedding``
  (HNSW, cosine), with pgvector's iterative scan so that filters do not starve the
  top hits.
- ``hybrid`` (the default): reciprocal rank fusion of the two lists (k = 60), so a
  moment found by words and by meaning comes first; where semantic search cannot run
  here, words alone, with a note saying why.
- ``contains``/``word``: analysis results whose JSON contains a document (GIN,
  ``jsonb_path_ops``): whole-result hits, kind ``result``.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Literal, get_args

import sqlalchemy as sa
from sqlalchemy.orm import Session

from mediaflow.db.enums import AnalysisProvider, MediaFileStatus, MediaType, TranscriptionProvider
from mediaflow.db.values import unstorable
from mediaflow.errors import FeatureUnavailable, InvalidInput
from mediaflow.runtime import Runtime
from mediaflow.search.index import semantic_status, vector_literal
from mediaflow.search.syntax import ParsedQuery, parse_query, replace_words

__all__ = [
    "MAX_LIMIT",
    "HitKind",
    "SearchFilters",
    "SearchHit",
    "SearchMode",
    "SearchResults",
    "lexical_sql",
    "run_search",
    "semantic_sql",
]

SearchMode = Literal["hybrid", "lexical", "semantic"]
HitKind = Literal["speech", "text", "label", "result"]
MODES: tuple[str, ...] = get_args(SearchMode)
MOMENT_KINDS = ("speech", "text", "label")
MAX_LIMIT = 200
MAX_OFFSET = 10_000
RRF_K = 60
# How many of each list hybrid fuses at least: a hit ranked lower than this in both
# lists cannot reach a first page anyway.
FUSION_DEPTH = 100
# Below this cosine similarity a "semantic" hit is noise, not meaning.
MIN_SIMILARITY = 0.3
# Dictionary words this trigram-similar to a misspelt word are candidates for it.
CANDIDATE_SIMILARITY = 0.3
# Private-use characters mark highlights in ts_headline's output; never in indexed text.
_MARK_START, _MARK_END = "\ue000", "\ue001"
_HEADLINE = (
    f"StartSel={_MARK_START}, StopSel={_MARK_END}, HighlightAll=false, "
    'MaxWords=40, MinWords=15, ShortWord=2, MaxFragments=2, FragmentDelimiter=" … "'
)
_SHORT_TEXT = 300  # texts up to this long are shown whole, marked
_HEADLINE_WHOLE = f"StartSel={_MARK_START}, StopSel={_MARK_END}, HighlightAll=true"


@dataclass(frozen=True)
class SearchFilters:
    """What every kind of hit can be narrowed by."""

    provider: str | None = None
    analysis_type: str | None = None
    kind: HitKind | None = None
    status: MediaFileStatus | None = None
    media_type: MediaType | None = None
    since: datetime | None = None
    until: datetime | None = None
    media_file_id: uuid.UUID | None = None


@dataclass(frozen=True)
class SearchHit:
    """One moment (or, for ``contains``, one whole result) that matched."""

    kind: HitKind
    media_file_id: uuid.UUID
    job_id: uuid.UUID
    original_name: str
    media_type: str | None
    provider: str
    analysis_type: str
    start_s: float | None  # no defaults: every field is required in the API's schema
    end_s: float | None
    speaker: str | None
    text: str
    snippet: str  # the matched part of ``text``, matched words marked «like this»
    highlights: list[tuple[int, int]]  # [start, end) character spans of ``snippet``
    score: float
    moment_id: int | None
    moments: int | None  # with grouping: the file's matching moments in the window

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (ids as strings)."""
        data = {k: getattr(self, k) for k in self.__dataclass_fields__}
        data["media_file_id"] = str(self.media_file_id)
        data["job_id"] = str(self.job_id)
        data["highlights"] = [list(span) for span in self.highlights]
        return data


@dataclass
class SearchResults:
    """A page of hits, best first, and what the search did to get them.

    Iterates (and indexes) like the list of its hits.
    """

    hits: list[SearchHit]
    mode: SearchMode
    query: str | None
    suggestion: str | None = None  # the corrected query ("did you mean")
    corrected: bool = False  # the hits are those of the suggestion
    next_offset: int | None = None
    notes: list[str] = field(default_factory=list)

    def __iter__(self) -> Any:
        return iter(self.hits)

    def __len__(self) -> int:
        return len(self.hits)

    def __getitem__(self, index: int) -> SearchHit:
        return self.hits[index]


# -- checks -----------------------------------------------------------------------------


def _aware(value: datetime | None) -> datetime | None:
    # a date without a zone means UTC (the database stores timestamptz)
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def _check(mode: str, filters: SearchFilters, limit: int, offset: int) -> SearchFilters:
    if mode not in MODES:
        raise InvalidInput(f"unknown search mode {mode!r}", hint=f"one of {', '.join(MODES)}")
    if isinstance(limit, bool) or not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"limit must be between 1 and {MAX_LIMIT}, not {limit}")
    if isinstance(offset, bool) or not 0 <= offset <= MAX_OFFSET:
        raise InvalidInput(f"offset must be between 0 and {MAX_OFFSET}, not {offset}")
    known = {p.value for p in TranscriptionProvider} | {p.value for p in AnalysisProvider}
    if filters.provider is not None and filters.provider not in known:
        raise InvalidInput(
            f"unknown provider {filters.provider!r}", hint=f"known: {', '.join(sorted(known))}"
        )
    if filters.kind is not None and filters.kind not in get_args(HitKind):
        raise InvalidInput(
            f"unknown kind {filters.kind!r}", hint=f"one of {', '.join(get_args(HitKind))}"
        )
    if filters.analysis_type is not None and (
        not filters.analysis_type.strip() or unstorable(filters.analysis_type)
    ):
        raise InvalidInput("the analysis type is empty, or has a NUL character or lone surrogates")
    since, until = _aware(filters.since), _aware(filters.until)
    if since and until and since >= until:
        raise InvalidInput("since must be before until")
    return replace(filters, since=since, until=until)


# -- SQL ----------------------------------------------------------------------------------


def _file_clauses(filters: SearchFilters, params: dict[str, Any]) -> list[str]:
    clauses = []
    if filters.status is not None:
        clauses.append("f.status = CAST(:status AS media_file_status)")
        params["status"] = filters.status.value
    if filters.media_type is not None:
        clauses.append("f.media_type = CAST(:media_type AS media_type)")
        params["media_type"] = filters.media_type.value
    if filters.since is not None:
        clauses.append("f.created_at >= :since")
        params["since"] = filters.since
    if filters.until is not None:
        clauses.append("f.created_at < :until")
        params["until"] = filters.until
    if filters.media_file_id is not None:
        clauses.append("f.id = :media_file_id")
        params["media_file_id"] = filters.media_file_id
    return clauses


def _moment_clauses(filters: SearchFilters, params: dict[str, Any]) -> list[str] | None:
    """WHERE clauses on moments ``m`` (and files ``f``); None when no moment can match."""
    if filters.kind == "result":
        return None
    clauses = _file_clauses(filters, params)
    if filters.kind is not None:
        clauses.append("m.kind = :kind")
        params["kind"] = filters.kind
    if filters.provider is not None:
        clauses.append("m.provider = :provider")
        params["provider"] = filters.provider
    if filters.analysis_type is not None:
        clauses.append("m.analysis_type = :analysis_type")
        params["analysis_type"] = filters.analysis_type
    return clauses


_MOMENT_COLUMNS = (
    "m.id, m.media_file_id, m.kind, m.provider, m.analysis_type, m.start_s, m.end_s, "
    "m.speaker, m.text, f.job_id, f.original_name, f.media_type::text AS media_type"
)


def lexical_sql(
    text: str, filters: SearchFilters, limit: int, offset: int = 0
) -> tuple[str, dict[str, Any]] | None:
    """SQL and parameters of a word search (exposed for EXPLAIN); None: nothing can match."""
    params: dict[str, Any] = {"q": text, "limit": limit, "offset": offset}
    clauses = _moment_clauses(filters, params)
    if clauses is None:
        return None
    where = " AND ".join(["m.tsv @@ websearch_to_tsquery('english', :q)", *clauses])
    # rank and cut first; ts_headline (costly) only for the page shown
    sql = f"""
        WITH ranked AS (
            SELECT {_MOMENT_COLUMNS},
                   ts_rank_cd(m.tsv, websearch_to_tsquery('english', :q), 32) AS score
            FROM search_moment m JOIN media_file f ON f.id = m.media_file_id
            WHERE {where}
            ORDER BY score DESC, m.id DESC
            LIMIT :limit OFFSET :offset
        )
        SELECT ranked.*,
               ts_headline('english', ranked.text, websearch_to_tsquery('english', :q),
                           CASE WHEN char_length(ranked.text) <= {_SHORT_TEXT}
                                THEN :whole ELSE :fragments END) AS headline
        FROM ranked ORDER BY score DESC, id DESC
    """  # every value is a bound parameter; the clauses are fixed strings
    params.update(whole=_HEADLINE_WHOLE, fragments=_HEADLINE)
    return sql, params


def semantic_sql(
    vector: str, filters: SearchFilters, limit: int
) -> tuple[str, dict[str, Any]] | None:
    """SQL and parameters of a meaning search (exposed for EXPLAIN); None: nothing matches."""
    params: dict[str, Any] = {"vector": vector, "limit": limit}
    clauses = _moment_clauses(filters, params)
    if clauses is None:
        return None
    where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
    sql = f"""
        SELECT {_MOMENT_COLUMNS}, 1 - (e.embedding <=> CAST(:vector AS vector)) AS score,
               NULL::text AS headline
        FROM search_embedding e
        JOIN search_moment m ON m.id = e.moment_id
        JOIN media_file f ON f.id = m.media_file_id
        {where}
        ORDER BY e.embedding <=> CAST(:vector AS vector)
        LIMIT :limit
    """
    return sql, params


def _contains_sql(
    contains: dict[str, Any], filters: SearchFilters, limit: int
) -> tuple[str, dict[str, Any]] | None:
    if filters.kind not in (None, "result"):
        return None
    params: dict[str, Any] = {"contains": json.dumps(contains), "limit": limit}
    # @> with a jsonb right side is what ix_analysis_result_result_gin (jsonb_path_ops) indexes
    clauses = [
        "r.result @> CAST(:contains AS jsonb)",
        "r.is_active",
        *_file_clauses(filters, params),
    ]
    if filters.provider is not None:
        clauses.append("r.provider::text = :provider")
        params["provider"] = filters.provider
    if filters.analysis_type is not None:
        clauses.append("r.analysis_type = :analysis_type")
        params["analysis_type"] = filters.analysis_type
    sql = f"""
        SELECT r.media_file_id, f.job_id, f.original_name, f.media_type::text AS media_type,
               r.provider::text AS provider, r.analysis_type, r.result
        FROM analysis_result r JOIN media_file f ON f.id = r.media_file_id
        WHERE {" AND ".join(clauses)}
        ORDER BY f.created_at DESC, r.media_file_id, r.analysis_type
        LIMIT :limit
    """
    return sql, params


# -- hits ---------------------------------------------------------------------------------


def _marked(headline: str | None, text: str) -> tuple[str, list[tuple[int, int]]]:
    """The snippet without marks, and the [start, end) spans the marks enclosed."""
    if not headline:
        snippet = text if len(text) <= _SHORT_TEXT else text[: _SHORT_TEXT - 1] + "…"
        return snippet, []
    out: list[str] = []
    spans: list[tuple[int, int]] = []
    length = 0
    start: int | None = None
    for char in headline:
        if char == _MARK_START:
            start = length
        elif char == _MARK_END:
            if start is not None and length > start:
                spans.append((start, length))
            start = None
        else:
            out.append(char)
            length += 1
    return "".join(out), spans


def _moment_hit(row: Any, score: float) -> SearchHit:
    snippet, spans = _marked(row.headline, row.text)
    return SearchHit(
        kind=row.kind, media_file_id=row.media_file_id, job_id=row.job_id,
        original_name=row.original_name, media_type=row.media_type, provider=row.provider,
        analysis_type=row.analysis_type, start_s=row.start_s, end_s=row.end_s,
        speaker=row.speaker, text=row.text, snippet=snippet, highlights=spans,
        score=round(score, 6), moment_id=row.id, moments=None,
    )  # fmt: skip


def _result_snippet(analysis_type: str, result: dict[str, Any]) -> str:
    if analysis_type == "ocr" and isinstance(result.get("text"), str):
        text: str = result["text"]
    else:
        text = json.dumps(result, sort_keys=True, default=str)
    text = " ".join(text.split())
    return text if len(text) <= 120 else text[:119] + "…"


def _run(session: Session, built: tuple[str, dict[str, Any]] | None) -> Sequence[Any]:
    if built is None:
        return []
    sql, params = built
    return session.execute(sa.text(sql), params).all()


def _lexical(
    session: Session, text: str, filters: SearchFilters, limit: int, offset: int
) -> list[SearchHit]:
    rows = _run(session, lexical_sql(text, filters, limit, offset))
    return [_moment_hit(row, float(row.score)) for row in rows]


def _semantic(
    runtime: Runtime, session: Session, text: str, filters: SearchFilters, limit: int
) -> list[SearchHit]:
    vector = vector_literal(runtime.embedder.embed([text])[0])
    # iterative scans keep looking past filtered-out neighbours (pgvector 0.8)
    session.execute(
        sa.text(
            "SELECT set_config('hnsw.iterative_scan', 'relaxed_order', true), "
            "set_config('hnsw.ef_search', :ef, true)"
        ),
        {"ef": str(max(40, min(limit, 1000)))},
    )
    rows = _run(session, semantic_sql(vector, filters, limit))
    hits = [_moment_hit(row, float(row.score)) for row in rows if row.score >= MIN_SIMILARITY]
    # relaxed order: nearly sorted; sort exactly
    return sorted(hits, key=lambda h: (-h.score, -(h.moment_id or 0)))


def edit_distance(a: str, b: str) -> int:
    """Optimal string alignment distance: insertions, deletions, substitutions, swaps."""
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i, char_a in enumerate(a, start=1):
        current = [i] + [0] * len(b)
        for j, char_b in enumerate(b, start=1):
            cost = 0 if char_a == char_b else 1
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and char_a == b[j - 2] and a[i - 2] == char_b:
                current[j] = min(current[j], previous2[j - 2] + 1)
        previous2, previous = previous, current
    return previous[-1]


def _allowed_edits(word: str) -> int:
    # a typo is one slip in a short word, two in a longer one; more is another word
    return 1 if len(word) <= 5 else 2 if len(word) <= 10 else 3


def _suggest(session: Session, parsed: ParsedQuery) -> str | None:
    """The query with words the dictionary lacks replaced by their closest indexed words.

    Candidates come from the trigram index (``search_word``); the closest by edit
    distance within a typo's reach wins, the more frequent word on a tie. A word
    with no such neighbour stays as typed.
    """
    words = [w for w in parsed.words if len(w) >= 3 and not w.isdigit()]
    if not words:
        return None
    known = set(
        session.execute(
            sa.text("SELECT word FROM search_word WHERE word = ANY(:words)"), {"words": words}
        ).scalars()
    )
    session.execute(
        sa.text("SELECT set_config('pg_trgm.similarity_threshold', :t, true)"),
        {"t": str(CANDIDATE_SIMILARITY)},
    )
    replacements: dict[str, str] = {}
    for word in words:
        if word in known:
            continue
        candidates = session.execute(
            sa.text(
                "SELECT word, moments FROM search_word WHERE word % :w "
                "ORDER BY similarity(word, :w) DESC, moments DESC, word LIMIT 25"
            ),
            {"w": word},
        ).all()
        scored = [
            (edit_distance(word, candidate), -moments, rank, candidate)
            for rank, (candidate, moments) in enumerate(candidates)
        ]
        fits = [item for item in scored if 0 < item[0] <= _allowed_edits(word)]
        if fits:
            replacements[word] = min(fits)[3]
    if not replacements:
        return None
    return replace_words(parsed.text, replacements)


def _fuse(lists: Sequence[list[SearchHit]], limit: int) -> list[SearchHit]:
    """Reciprocal rank fusion: each list gives 1 / (k + rank); sums decide."""
    scores: dict[int, float] = {}
    best: dict[int, SearchHit] = {}
    for hits in lists:
        for rank, hit in enumerate(hits, start=1):
            key = hit.moment_id or 0
            scores[key] = scores.get(key, 0.0) + 1.0 / (RRF_K + rank)
            # keep the lexical copy when there is one: it carries the highlights
            if key not in best or (not best[key].highlights and hit.highlights):
                best[key] = hit
    order = sorted(scores, key=lambda key: (-scores[key], -key))
    return [replace(best[key], score=round(scores[key], 6)) for key in order[:limit]]


def _group(hits: list[SearchHit]) -> list[SearchHit]:
    """The best hit of each media file, with how many of the hits were that file's."""
    counts: dict[uuid.UUID, int] = {}
    first: dict[uuid.UUID, SearchHit] = {}
    for hit in hits:
        counts[hit.media_file_id] = counts.get(hit.media_file_id, 0) + 1
        first.setdefault(hit.media_file_id, hit)
    return [replace(hit, moments=counts[file]) for file, hit in first.items()]


def run_search(
    runtime: Runtime,
    query: str | None = None,
    *,
    mode: SearchMode = "hybrid",
    contains: dict[str, Any] | None = None,
    word: str | None = None,
    filters: SearchFilters | None = None,
    limit: int = 20,
    offset: int = 0,
    group: bool = False,
) -> SearchResults:
    """Search moments for ``query`` (``mode``) and results for ``contains`` / ``word``.

    ``word`` is shorthand for ``contains={"words": [word]}`` (an exact OCR word). Hits
    come best first, cut to ``limit`` from ``offset``; ``group`` keeps the best hit of
    each media file. ``InvalidInput`` for a query that is not one, out-of-range limits
    or unknown filters; ``FeatureUnavailable`` for ``semantic`` where it cannot run.
    """
    filters = _check(mode, filters or SearchFilters(), limit, offset)
    if word is not None:
        if not word.strip() or unstorable(word):
            raise InvalidInput("word must not be empty, hold a NUL character or lone surrogates")
        contains = {**(contains or {}), "words": [word.strip().lower()]}
    if contains is not None and (not isinstance(contains, dict) or not contains):
        raise InvalidInput("contains must be a non-empty JSON object", hint='e.g. {"faces": 1}')
    if contains is not None and (reason := unstorable(contains)):
        raise InvalidInput(f"contains has {reason}")
    if query is None and contains is None:
        raise InvalidInput("nothing to search for", hint="give a query, a word or --contains JSON")
    parsed = parse_query(query) if query is not None else None
    results = SearchResults(hits=[], mode=mode, query=parsed.text if parsed else None)
    if parsed is not None and mode in ("semantic", "hybrid"):
        status = semantic_status(runtime.db, runtime.embedder)
        if not status.available:
            if mode == "semantic":
                raise FeatureUnavailable(f"semantic search cannot run here: {status.reason}")
            results.notes.append(f"words only: {status.reason}")
            results.mode = "lexical"
    # with grouping, rank a wider window and page over the files found in it
    need = min(MAX_OFFSET, (limit + offset) * 5) if group else offset + limit
    # words alone, one source, no grouping: the database pages (deep pages stay cheap)
    paged = results.mode == "lexical" and contains is None and not group
    query_hits: list[SearchHit] = []
    result_hits: list[SearchHit] = []
    with runtime.db.session() as session:
        if parsed is not None:
            depth = max(need, FUSION_DEPTH) if results.mode == "hybrid" else need
            lexical: list[SearchHit] = []
            if results.mode in ("lexical", "hybrid"):
                lexical = (
                    _lexical(session, parsed.text, filters, limit, offset)
                    if paged
                    else _lexical(session, parsed.text, filters, depth, 0)
                )
                if not lexical and (offset == 0 or not paged):
                    suggestion = _suggest(session, parsed)
                    if suggestion is not None:
                        results.suggestion = suggestion
                        lexical = (
                            _lexical(session, suggestion, filters, limit, offset)
                            if paged
                            else _lexical(session, suggestion, filters, depth, 0)
                        )
                        results.corrected = bool(lexical)
            if results.mode == "lexical":
                query_hits = lexical
            else:
                semantic = _semantic(runtime, session, parsed.text, filters, depth)
                query_hits = (
                    _fuse([lexical, semantic], need) if results.mode == "hybrid" else semantic
                )
        if contains is not None:
            result_hits = [
                SearchHit(
                    kind="result",
                    media_file_id=row.media_file_id,
                    job_id=row.job_id,
                    original_name=row.original_name,
                    media_type=row.media_type,
                    provider=row.provider,
                    analysis_type=row.analysis_type,
                    start_s=None,
                    end_s=None,
                    speaker=None,
                    text=_result_snippet(row.analysis_type, row.result),
                    snippet=_result_snippet(row.analysis_type, row.result),
                    highlights=[],
                    score=1.0,
                    moment_id=None,
                    moments=None,
                )
                for row in _run(session, _contains_sql(contains, filters, need))
            ]
    # containment is exact (score 1): its hits come before ranked moments
    hits = result_hits + query_hits
    if group:
        hits = _group(hits)
    if not paged:
        hits = hits[offset : offset + limit]
    results.hits = hits[:limit]
    if len(results.hits) == limit and offset + limit <= MAX_OFFSET:
        results.next_offset = offset + limit
    return results
