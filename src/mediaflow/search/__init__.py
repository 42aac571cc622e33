"""Search: moments of speech, on-screen text and labels, by words, by meaning, or both.

The Python API::

    import mediaflow.search

    for hit in mediaflow.search.search("fixing a car", limit=20, mode="hybrid"):
        print(hit.media_file_id, hit.kind, hit.start_s, hit.end_s, hit.snippet, hit.score)

``search`` uses the runtime it is given, or one built from the environment
(``MEDIAFLOW_*``) on first use. The CLI (``mediaflow search``), the REST API
(``GET /search``) and the web page run the same ``query.run_search``.

- ``moments``: what a transcript segment, an OCR result or a label result makes
  searchable (pure);
- ``index``: the index's writes (with every transcript and result, in its
  transaction), embeddings, ``reindex``;
- ``syntax``: web-search syntax checked ("quoted phrases", -exclude, or);
- ``query``: the SQL of each mode, typo suggestions, rank fusion, paging.
"""

from __future__ import annotations

import threading
import uuid
from datetime import datetime
from typing import Any

from mediaflow.db.enums import MediaFileStatus, MediaType
from mediaflow.errors import InvalidInput
from mediaflow.runtime import Runtime
from mediaflow.search.query import (
    MAX_LIMIT,
    HitKind,
    SearchFilters,
    SearchHit,
    SearchMode,
    SearchResults,
    run_search,
)

__all__ = [
    "MAX_LIMIT",
    "HitKind",
    "SearchFilters",
    "SearchHit",
    "SearchMode",
    "SearchResults",
    "run_search",
    "search",
]

_default: Runtime | None = None
_default_lock = threading.Lock()


def _default_runtime() -> Runtime:
    # the Python API's edge: a runtime from the environment, built once per process
    global _default  # noqa: PLW0603
    with _default_lock:
        if _default is None:
            import mediaflow

            _default = mediaflow.open()
        return _default


def _enum(kind: type[MediaFileStatus] | type[MediaType], value: Any, name: str) -> Any:
    if value is None or isinstance(value, kind):
        return value
    try:
        return kind(value)
    except ValueError:
        known = ", ".join(m.value for m in kind)
        raise InvalidInput(f"unknown {name} {value!r}", hint=f"one of {known}") from None


def search(
    query: str | None = None,
    *,
    limit: int = 20,
    mode: SearchMode = "hybrid",
    offset: int = 0,
    runtime: Runtime | None = None,
    contains: dict[str, Any] | None = None,
    word: str | None = None,
    provider: str | None = None,
    analysis_type: str | None = None,
    kind: HitKind | None = None,
    status: MediaFileStatus | str | None = None,
    media_type: MediaType | str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    media_file_id: uuid.UUID | None = None,
    group: bool = False,
) -> SearchResults:
    """Search the index; the hits come best first (a ``SearchResults`` iterates like a list).

    ``mode``: ``hybrid`` (words and meaning fused), ``lexical`` or ``semantic``.
    Filters: ``provider``, ``analysis_type`` ("transcription" for speech), ``kind``
    (speech, text, label, result), media file ``status`` and ``media_type``, the
    file's creation time in ``[since, until)``. ``group`` keeps each file's best hit.
    """
    filters = SearchFilters(
        provider=provider,
        analysis_type=analysis_type,
        kind=kind,
        status=_enum(MediaFileStatus, status, "status"),
        media_type=_enum(MediaType, media_type, "media type"),
        since=since,
        until=until,
        media_file_id=media_file_id,
    )
    return run_search(
        runtime or _default_runtime(), query, mode=mode, contains=contains, word=word,
        filters=filters, limit=limit, offset=offset, group=group,
    )  # fmt: skip
