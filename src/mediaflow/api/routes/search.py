"""``GET /search``: moments by words and meaning, and results by JSON containment.

The route translates query parameters to ``services.search`` and its results back;
the hit is the search module's own ``SearchHit``, one shape for CLI and API.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from mediaflow.api.deps import RuntimeDep
from mediaflow.api.errors import ERROR_RESPONSES
from mediaflow.db.enums import MediaFileStatus, MediaType
from mediaflow.db.values import unstorable
from mediaflow.errors import InvalidInput
from mediaflow.search.query import MAX_OFFSET
from mediaflow.search.syntax import MAX_QUERY_CHARS
from mediaflow.services.search import MAX_LIMIT, SearchHit, search

router = APIRouter(tags=["search"])

# How deep a contains document may nest: enough for any result, not a parser bomb.
_MAX_CONTAINS_CHARS = 10_000


class SearchOut(BaseModel):
    """Hits best first, and what the search did to find them."""

    items: list[SearchHit]
    mode: Literal["hybrid", "lexical", "semantic"] = Field(
        description="The mode that ran (hybrid falls back to lexical where semantic cannot)."
    )
    suggestion: str | None = Field(description="A corrected query, when words found nothing.")
    corrected: bool = Field(description="True when the items are those of the suggestion.")
    next_offset: int | None = Field(description="Pass as offset for the next page.")
    notes: list[str]


def parse_contains(text: str | None) -> dict[str, Any] | None:
    """The ``contains`` parameter as a JSON object; ``InvalidInput`` for anything else."""
    if text is None:
        return None
    if len(text) > _MAX_CONTAINS_CHARS:
        raise InvalidInput(f"contains is longer than {_MAX_CONTAINS_CHARS} characters")
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInput(
            f"contains is not valid JSON: {exc.msg}", hint='e.g. {"words": ["invoice"]}'
        ) from None
    except RecursionError:
        raise InvalidInput("contains is nested too deep") from None
    if not isinstance(value, dict) or not value:
        raise InvalidInput("contains must be a non-empty JSON object", hint='e.g. {"faces": 1}')
    if reason := unstorable(value):
        raise InvalidInput(f"contains has {reason}")
    return value


@router.get(
    "/search",
    response_model=SearchOut,
    summary="Search moments by words and meaning, and results by JSON containment",
    responses={
        409: {**ERROR_RESPONSES[422], "description": "Semantic search cannot run here"},
        422: ERROR_RESPONSES[422],
    },
)
def get_search(
    runtime: RuntimeDep,
    *,
    q: str | None = Query(
        None,
        min_length=1,
        max_length=MAX_QUERY_CHARS,
        description='words, "a phrase", -excluded, a or b (web-search syntax)',
    ),
    mode: Literal["hybrid", "lexical", "semantic"] = Query(
        "hybrid", description="hybrid: words and meaning fused; lexical: words; semantic"
    ),
    contains: str | None = Query(
        None, description='a JSON object results must contain, e.g. {"words": ["invoice"]}'
    ),
    word: str | None = Query(None, min_length=1, description="an exact word OCR read"),
    kind: Literal["speech", "text", "label", "result"] | None = Query(
        None, description="speech, on-screen text, label, or whole results (contains)"
    ),
    provider: str | None = Query(None, description="a transcription or analysis provider"),
    analysis_type: str | None = Query(
        None, alias="type", description="an analysis type; 'transcription': speech only"
    ),
    status: MediaFileStatus | None = Query(None, description="status of the media file"),
    media_type: MediaType | None = Query(None, description="video, audio or image"),
    since: datetime | None = Query(None, description="media files created at or after"),
    until: datetime | None = Query(None, description="media files created before"),
    limit: int = Query(20, ge=1, le=MAX_LIMIT),
    offset: int = Query(0, ge=0, le=MAX_OFFSET),
    group: bool = Query(False, description="the best moment of each media file only"),
) -> SearchOut:
    """Moments matching ``q`` (``mode``), results containing ``contains`` / ``word``."""
    results = search(
        q,
        runtime=runtime,
        mode=mode,
        contains=parse_contains(contains),
        word=word,
        kind=kind,
        provider=provider,
        analysis_type=analysis_type,
        status=status,
        media_type=media_type,
        since=since,
        until=until,
        limit=limit,
        offset=offset,
        group=group,
    )
    return SearchOut(
        items=results.hits,
        mode=results.mode,
        suggestion=results.suggestion,
        corrected=results.corrected,
        next_offset=results.next_offset,
        notes=results.notes,
    )
