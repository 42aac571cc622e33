"""Queries in web-search syntax: checked here, run by PostgreSQL's ``websearch_to_tsquery``.

    invoice 2024            both words (any order, stemmed: "invoices" matches)
    "quick brown fox"       the phrase
    engine -diesel          engine, not diesel
    car or automobile       either

PostgreSQL turns this syntax into a ``tsquery`` itself; this module refuses what is
not a query (empty, too long, control characters, an unbalanced quote, only
exclusions) with one clear message each, and finds the words a misspelling check or
a highlight needs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mediaflow.db.values import unstorable
from mediaflow.errors import InvalidInput

__all__ = ["MAX_QUERY_CHARS", "ParsedQuery", "parse_query", "replace_words"]

# A query is what a person types: 500 characters is a long paragraph, not a document.
MAX_QUERY_CHARS = 500
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# a phrase, an excluded phrase, or a run of non-space characters
_TOKEN = re.compile(r'(-?)"([^"]*)"|(\S+)')
# words, with inner apostrophes (straight or typographic: U+2019) kept
_WORD = re.compile(r"[^\W_]+(?:['\u2019][^\W_]+)*")


@dataclass(frozen=True)
class ParsedQuery:
    """A checked query: its text and the words it asks for."""

    text: str
    words: tuple[str, ...]  # lowercase words that must (or may, with "or") be found
    excluded: tuple[str, ...]  # lowercase words after a "-"
    phrases: tuple[str, ...]  # the quoted phrases, as typed


def parse_query(query: str | None) -> ParsedQuery:
    """Check ``query`` and find its words; ``InvalidInput`` with the reason otherwise."""
    if query is None or not query.strip():
        raise InvalidInput("the search query is empty", hint="type a word or a phrase")
    if len(query) > MAX_QUERY_CHARS:
        raise InvalidInput(
            f"the search query is {len(query)} characters long; at most {MAX_QUERY_CHARS}"
        )
    if reason := unstorable(query):
        raise InvalidInput(f"the search query contains {reason}")
    if _CONTROL.search(query):
        raise InvalidInput("the search query contains control characters")
    text = " ".join(query.split())
    if text.count('"') % 2:
        raise InvalidInput(
            "the search query has an unbalanced quote", hint='close the phrase: "like this"'
        )
    words: list[str] = []
    excluded: list[str] = []
    phrases: list[str] = []
    for match in _TOKEN.finditer(text):
        minus, phrase, bare = match.groups()
        if phrase is not None:
            found = [w.lower() for w in _WORD.findall(phrase)]
            if minus:
                excluded += found
            else:
                words += found
                if phrase.strip():
                    phrases.append(phrase.strip())
            continue
        if bare.lower() == "or":
            continue
        found = [w.lower() for w in _WORD.findall(bare)]
        if bare.startswith("-") and len(bare) > 1:
            excluded += found
        else:
            words += found
    if not words:
        if excluded:
            raise InvalidInput(
                "the search query only excludes words", hint="add a word to look for"
            )
        raise InvalidInput("the search query has no words to look for")
    return ParsedQuery(text, tuple(dict.fromkeys(words)), tuple(excluded), tuple(phrases))


def replace_words(text: str, replacements: dict[str, str]) -> str:
    """``text`` with whole words replaced (case-insensitive), everything else as typed."""
    if not replacements:
        return text

    def swap(match: re.Match[str]) -> str:
        return replacements.get(match.group(0).lower(), match.group(0))

    return _WORD.sub(swap, text)
