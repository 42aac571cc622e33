"""Search as the CLI, the API and the web page ask for it: ``mediaflow.search``'s use-case.

The search subsystem (moments, index, queries) lives in ``mediaflow.search``; this
module is its door for the edges, so that every edge searches the same way.
"""

from __future__ import annotations

from mediaflow.search import (
    MAX_LIMIT,
    HitKind,
    SearchFilters,
    SearchHit,
    SearchMode,
    SearchResults,
    search,
)
from mediaflow.search.index import ReindexReport, ReindexWhat, reindex, semantic_status

__all__ = [
    "MAX_LIMIT",
    "HitKind",
    "ReindexReport",
    "ReindexWhat",
    "SearchFilters",
    "SearchHit",
    "SearchMode",
    "SearchResults",
    "reindex",
    "search",
    "semantic_status",
]
