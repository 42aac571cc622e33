"""Word error rate and word diff of two transcripts (no database)."""

from __future__ import annotations

import jiwer
import pytest

from mediaflow.services.compare import normalise_word, word_diff, word_error_rate


def test_normalisation_ignores_case_and_punctuation() -> None:
    assert normalise_word("Hello,") == normalise_word("hello") == "hello"
    assert normalise_word("don't") == "don't"
    assert word_error_rate(["Hello,", "world."], ["hello", "WORLD"]) == 0.0


@pytest.mark.parametrize(
    ("reference", "hypothesis"),
    [
        ("the cat sat on the mat", "the cat sat on the mat"),
        ("the cat sat on the mat", "the bat sat on mat"),
        ("the cat sat", "the cat sat down today"),
        ("one two three four", "four three two one"),
        ("a", ""),
    ],
)
def test_wer_agrees_with_jiwer(reference: str, hypothesis: str) -> None:
    ours = word_error_rate(reference.split(), hypothesis.split())
    assert ours == pytest.approx(jiwer.wer(reference, hypothesis or " "), abs=1e-4)


def test_diff_runs_rebuild_both_sides() -> None:
    a = ["Hello", "from", "mediaflow.", "This", "is", "a", "test"]
    b = ["hello", "from", "media", "flow", "this", "is", "the", "test"]
    runs = word_diff(a, b)
    assert [w for run in runs for w in run["a"]] == a
    assert [w for run in runs for w in run["b"]] == b
    ops = [run["op"] for run in runs]
    assert ops[0] == "equal" and "replace" in ops
    changed = [run for run in runs if run["op"] != "equal"]
    assert {"a": ["a"], "b": ["the"], "op": "replace"} in changed
