"""Two providers' transcripts of one file, side by side: word differences, WER, latency, cost.

The first transcript (``a``) is the reference: ``wer`` is the word error rate of
``b`` measured against ``a`` (substitutions + deletions + insertions over the words
of ``a``), on words lower-cased and stripped of punctuation, so that "Hello," and
"hello" agree. ``diff`` is the word alignment as runs of ``equal``, ``replace``,
``delete`` (only in ``a``) and ``insert`` (only in ``b``), holding the words as each
provider wrote them. Without names, the two oldest active transcripts are compared.
"""

from __future__ import annotations

import difflib
import re
import uuid
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from mediaflow.db.enums import TranscriptionProvider
from mediaflow.db.models import MediaFile, Transcription
from mediaflow.errors import InvalidInput, NotFound
from mediaflow.pipeline.costs import cost_lines
from mediaflow.runtime import Runtime

__all__ = ["Comparison", "Side", "compare", "normalise_word", "word_diff", "word_error_rate"]

_PUNCTUATION = re.compile(r"[^\w']+", re.UNICODE)


def normalise_word(word: str) -> str:
    """A word as compared: lower case, no punctuation around or inside it."""
    return _PUNCTUATION.sub("", word.lower()).strip("'")


def _words(text: str) -> list[str]:
    return [w for w in text.split() if normalise_word(w)]


def word_error_rate(reference: list[str], hypothesis: list[str]) -> float:
    """(S + D + I) / N by edit distance over normalised words (N = reference words)."""
    ref = [normalise_word(w) for w in reference]
    hyp = [normalise_word(w) for w in hypothesis]
    if not ref:
        return 0.0 if not hyp else 1.0
    previous = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        current = [i] + [0] * len(hyp)
        for j, h in enumerate(hyp, 1):
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (r != h))
        previous = current
    return round(previous[-1] / len(ref), 4)


def word_diff(a: list[str], b: list[str]) -> list[dict[str, Any]]:
    """Runs of ``equal``/``replace``/``delete``/``insert`` aligning ``b`` to ``a``."""
    matcher = difflib.SequenceMatcher(
        a=[normalise_word(w) for w in a], b=[normalise_word(w) for w in b], autojunk=False
    )
    return [
        {"op": op, "a": a[i1:i2], "b": b[j1:j2]} for op, i1, i2, j1, j2 in matcher.get_opcodes()
    ]


@dataclass
class Side:
    """One provider's transcript, as compared."""

    provider: str
    model: str | None
    language: str | None
    text: str
    words: int
    latency_ms: int | None
    cost_usd: float | None
    confidence: float | None

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON."""
        return dict(self.__dict__)


@dataclass
class Comparison:
    """Two transcripts of one file and how they differ."""

    media_id: uuid.UUID
    a: Side
    b: Side
    wer: float
    diff: list[dict[str, Any]] = field(default_factory=list)
    available: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON (the API's shape)."""
        return {"media_id": str(self.media_id), "a": self.a.as_dict(), "b": self.b.as_dict(),
                "wer": self.wer, "diff": self.diff, "available": self.available}  # fmt: skip


def _provider(name: str) -> TranscriptionProvider:
    try:
        return TranscriptionProvider(name)
    except ValueError:
        known = ", ".join(p.value for p in TranscriptionProvider)
        raise InvalidInput(
            f"unknown transcription provider {name!r}", hint=f"one of {known}"
        ) from None


def compare(
    runtime: Runtime, media_id: uuid.UUID, a: str | None = None, b: str | None = None
) -> Comparison:
    """Compare two active transcripts of ``media_id`` (see the module doc).

    ``NotFound`` for an unknown file or a provider without a transcript of it;
    ``InvalidInput`` when fewer than two transcripts exist or a == b.
    """
    if a is not None and b is not None and a == b:
        raise InvalidInput("compare two different providers")
    with runtime.db.session() as session:
        if session.get(MediaFile, media_id) is None:
            raise NotFound(f"media file {media_id} does not exist")
        rows = session.scalars(
            sa.select(Transcription)
            .where(Transcription.media_file_id == media_id, Transcription.is_active)
            .order_by(Transcription.created_at, Transcription.id)
        ).all()
        by_provider = {row.provider.value: row for row in rows}
        available = list(by_provider)
        chosen = []
        for wanted in (a, b):
            if wanted is not None:
                _provider(wanted)
                if wanted not in by_provider:
                    raise NotFound(
                        f"no transcript of media file {media_id} by {wanted}",
                        hint=f"transcripts by: {', '.join(available) or 'none'}",
                    )
                chosen.append(wanted)
        for name in available:
            if len(chosen) == 2:
                break
            if name not in chosen:
                chosen.append(name)
        if len(chosen) < 2:
            raise InvalidInput(
                f"media file {media_id} has {len(available)} transcript(s); compare needs two",
                hint="run it with two transcription providers (--providers faster_whisper,deepgram)",  # noqa: E501
            )
        costs = {line.provider: line.usd for line in cost_lines(session, media_file_id=media_id)
                 if line.kind == "transcription"}  # fmt: skip
        sides = []
        for name in chosen:
            row = by_provider[name]
            sides.append(
                Side(
                    provider=name, model=row.model, language=row.language, text=row.text,
                    words=len(_words(row.text)), latency_ms=row.latency_ms,
                    cost_usd=costs.get(name), confidence=row.confidence,
                )
            )  # fmt: skip
    words_a, words_b = _words(sides[0].text), _words(sides[1].text)
    return Comparison(
        media_id=media_id, a=sides[0], b=sides[1], wer=word_error_rate(words_a, words_b),
        diff=word_diff(words_a, words_b), available=available,
    )  # fmt: skip
