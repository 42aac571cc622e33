"""``GET /search``: transcript text and result JSON, through ``mediaflow.search``."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Query
from pydantic import BaseModel

from mediaflow.api.deps import RuntimeDep
from mediaflow.api.errors import ERROR_RESPONSES
from mediaflow.db.enums import MediaFileStatus
from mediaflow.errors import InvalidInput
from mediaflow.services.search import DEFAULT_THRESHOLD, MAX_LIMIT, SearchHit, search

router = APIRouter(tags=["search"])


class SearchOut(BaseModel):
    """Hits ranked by score, best first."""

    items: list[SearchHit]  # the search module's own hit: one shape for CLI and API


def parse_contains(text: str | None) -> dict[str, Any] | None:
    """The ``contains`` parameter as a JSON object; ``InvalidInput`` for anything else."""
    if text is None:
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInput(
            f"contains is not valid JSON: {exc.msg}", hint='e.g. {"words": ["invoice"]}'
        ) from None
    if not isinstance(value, dict) or not value:
        raise InvalidInput("contains must be a non-empty JSON object", hint='e.g. {"faces": 1}')
    return value


@router.get(
    "/search",
    response_model=SearchOut,
    summary="Search transcripts (text) and analysis results (JSON containment)",
    responses={422: ERROR_RESPONSES[422]},
)
def get_search(
    runtime: RuntimeDep,
    *,
    q: str | None = Query(None, description="text to find in transcripts"),
    contains: str | None = Query(
        None, description='a JSON object results must contain, e.g. {"words": ["invoice"]}'
    ),
    word: str | None = Query(None, description="a word OCR read (any case)"),
    provider: str | None = Query(None, description="a transcription or analysis provider"),
    analysis_type: str | None = Query(
        None, alias="type", description="an analysis type; 'transcription': transcripts only"
    ),
    status: MediaFileStatus | None = Query(None, description="status of the media file"),
    since: datetime | None = Query(None, description="media files created at or after"),
    until: datetime | None = Query(None, description="media files created before"),
    limit: int = Query(20, ge=1, le=MAX_LIMIT),
    threshold: float = Query(DEFAULT_THRESHOLD, gt=0.0, le=1.0, description="pg_trgm word"),
) -> SearchOut:
    """Transcript hits for ``q``, result hits for ``contains`` / ``word``, merged by score."""
    hits = search(
        runtime,
        q,
        contains=parse_contains(contains),
        word=word,
        provider=provider,
        analysis_type=analysis_type,
        status=status.value if status is not None else None,
        since=since,
        until=until,
        limit=limit,
        threshold=threshold,
    )
    return SearchOut(items=hits)
