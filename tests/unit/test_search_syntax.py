"""Web-search syntax checked, and its words found (``search.syntax``)."""

from __future__ import annotations

import pytest

from mediaflow.errors import InvalidInput
from mediaflow.search.syntax import parse_query, replace_words


def test_words_phrases_exclusions_and_or() -> None:
    parsed = parse_query('  "Quick brown"  fox -lazy -"old dog" or Cat\'s  ')
    assert parsed.text == '"Quick brown" fox -lazy -"old dog" or Cat\'s'
    assert parsed.words == ("quick", "brown", "fox", "cat's")
    assert parsed.excluded == ("lazy", "old", "dog")
    assert parsed.phrases == ("Quick brown",)


@pytest.mark.parametrize(
    ("query", "message"),
    [
        (None, "empty"),
        ("", "empty"),
        (" \t ", "empty"),
        ("x" * 501, "at most 500"),
        ("fox\x00", "NUL"),
        ("fox\x07", "control characters"),
        ('"open phrase', "unbalanced quote"),
        ('a "b" "c', "unbalanced quote"),
        ("-fox -dog", "only excludes"),
        ("-", "no words"),
        ("or", "no words"),
        ("!!! ???", "no words"),
    ],
)
def test_what_is_not_a_query(query: str | None, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        parse_query(query)


def test_replace_words_keeps_the_syntax() -> None:
    assert (
        replace_words(
            '"speach recogniton" -nosie', {"speach": "speech", "recogniton": "recognition"}
        )
        == '"speech recognition" -nosie'
    )
    assert replace_words("Speach", {"speach": "speech"}) == "speech"
