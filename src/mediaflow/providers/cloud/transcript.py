"""Turning a vendor's word list into mediaflow's segments (for APIs that give only words)."""

from __future__ import annotations

import math
from collections.abc import Sequence

from mediaflow.providers.base import Segment, Word

__all__ = ["mean_confidence", "segments_from_words"]

_SENTENCE_END = (".", "?", "!")


def segments_from_words(
    words: Sequence[Word],
    speakers: Sequence[str | None] | None = None,
    *,
    pause_s: float = 1.0,
    max_words: int = 40,
) -> list[Segment]:
    """Group timed words into segments: a new one at a speaker change, a pause longer
    than ``pause_s``, after a sentence end, or after ``max_words`` words."""
    segments: list[Segment] = []
    current: list[Word] = []
    speaker: str | None = None

    def close() -> None:
        if current:
            probabilities = [w.probability for w in current if w.probability is not None]
            segments.append(
                Segment(
                    start=current[0].start,
                    end=current[-1].end,
                    text=" ".join(w.word for w in current),
                    words=list(current),
                    confidence=round(sum(probabilities) / len(probabilities), 4)
                    if probabilities
                    else None,
                    speaker=speaker,
                )
            )
            current.clear()

    for i, word in enumerate(words):
        who = speakers[i] if speakers is not None and i < len(speakers) else None
        if current and (
            who != speaker
            or word.start - current[-1].end > pause_s
            or current[-1].word.endswith(_SENTENCE_END)
            or len(current) >= max_words
        ):
            close()
        if not current:
            speaker = who
        current.append(word)
    close()
    return segments


def mean_confidence(values: Sequence[float | None]) -> float | None:
    """The mean of the known values, rounded; None when there is none."""
    known = [v for v in values if v is not None and math.isfinite(v)]
    return round(sum(known) / len(known), 4) if known else None
