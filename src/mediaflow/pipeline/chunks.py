"""Long media in time chunks: the plan, and putting the chunks' results back together.

Pure functions, no I/O (``pipeline.chunked`` runs them on the queue):

- ``plan_chunks``: a file longer than the threshold is cut into chunks of about
  ``length_s``, their edges on the transcription's pause anchors (every 20 s). Each
  chunk owns ``[start_s, end_s)``; its audio reaches ``overlap_s`` (at least the
  pause search's reach) beyond both edges.
- ``stitch_transcripts``: a transcript that says which part of the file it answers
  for (``details["span_s"]``, faster-whisper's pause decoding: the chunk's edges cut
  at the pauses the whole file is cut at) is kept whole, the next one starting where
  it ends: the words are the whole file's. Other transcripts (cloud providers) are cut
  at a pause both neighbours agree on (a gap between words of the earlier chunk that
  no word of the later chunk spans), the nearest such pause to the nominal edge; each
  chunk keeps its words before the cut, the next chunk those after it. A word is kept
  by exactly one chunk, so none is duplicated or lost (barring words the two chunks
  heard differently).
- ``merge_analyses``: per (analysis type), the chunks' results become one: their
  ``frames`` lists are concatenated (frame times are already the file's; frame
  ``index`` numbers run on across chunks), lists of
  plain values (OCR's ``words``) are united in order, numbers take the largest value
  (``count``: the most faces in a frame), other values come from the first chunk; and
  ``chunks`` keeps each chunk's own summary (everything but its frames) with its span.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from mediaflow.providers.base import AnalysisOutput, Segment, TranscriptOutput, Word
from mediaflow.providers.transcription.pause_windows import REACH_S, SPACING_S

__all__ = ["Chunk", "merge_analyses", "plan_chunks", "stitch_transcripts"]


@dataclass(frozen=True)
class Chunk:
    """One time chunk of a long file: its own span and the audio it transcribes."""

    index: int
    start_s: float
    end_s: float
    audio_start_s: float
    audio_end_s: float

    @property
    def duration_s(self) -> float:
        """The length of the span the chunk owns."""
        return self.end_s - self.start_s

    def as_dict(self) -> dict[str, float | int]:
        """The chunk as a JSON object (queue task arguments, processing_log details)."""
        return {
            "index": self.index,
            "start_s": self.start_s,
            "end_s": self.end_s,
            "audio_start_s": self.audio_start_s,
            "audio_end_s": self.audio_end_s,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Chunk:
        """The chunk ``as_dict`` wrote."""
        return cls(
            index=int(data["index"]),
            start_s=float(data["start_s"]),
            end_s=float(data["end_s"]),
            audio_start_s=float(data["audio_start_s"]),
            audio_end_s=float(data["audio_end_s"]),
        )


def plan_chunks(
    duration_s: float | None, *, threshold_s: float, length_s: float, overlap_s: float
) -> list[Chunk]:
    """The chunks of a file of ``duration_s``; empty when it is not split.

    Not split: unknown duration, ``threshold_s`` 0 (splitting off), a file no longer
    than the threshold, or one that would make a single chunk anyway. Inner edges lie
    on the transcription's pause anchors (every ``SPACING_S``, none in the last half
    spacing), and the audio reaches at least ``REACH_S`` beyond them, so that each
    chunk finds the cuts the whole file would find (``pause_windows``).
    """
    if length_s <= 0 or overlap_s < 0:
        raise ValueError("chunk length must be positive and the overlap not negative")
    if not duration_s or threshold_s <= 0 or duration_s <= threshold_s:
        return []
    count = max(1, round(duration_s / length_s))
    step = duration_s / count  # about equal chunks: no 2-second straggler at the end
    # the anchors the whole file is cut at: those less than half a spacing before its end
    last_anchor = math.ceil((duration_s - SPACING_S / 2) / SPACING_S) - 1
    edges = sorted(
        {min(last_anchor, max(1, round(i * step / SPACING_S))) for i in range(1, count)} - {0}
    )
    bounds = [0.0, *(round(anchor * SPACING_S, 3) for anchor in edges), round(duration_s, 3)]
    if len(bounds) < 3:
        return []
    reach = max(overlap_s, REACH_S + 0.5)  # half a second to spare for rounding
    return [
        Chunk(
            index=index,
            start_s=start,
            end_s=end,
            audio_start_s=round(max(0.0, start - reach), 3),
            audio_end_s=round(min(duration_s, end + reach), 3),
        )
        for index, (start, end) in enumerate(itertools.pairwise(bounds))
    ]


# ----------------------------------------------------------------------------- transcripts


def _words(output: TranscriptOutput) -> list[Word]:
    return [w for s in output.segments for w in s.words]


def _cut_between(
    earlier: TranscriptOutput, later: TranscriptOutput, edge_s: float, window_s: float
) -> float:
    """The time to cut at between two neighbours' transcripts, near ``edge_s``.

    Candidates are the middles of the gaps between the earlier chunk's words (and the
    edge itself) within ``window_s`` of the edge; one that a word of the later chunk
    spans is no pause to the later chunk and is dropped. Of the rest the nearest to
    the edge wins, wider gaps first when two are about as near.
    """
    words = _words(earlier)
    later_words = _words(later)
    candidates: list[tuple[float, float]] = []  # (time, gap width)
    for before, after in itertools.pairwise(words):
        middle = (before.end + after.start) / 2
        if abs(middle - edge_s) <= window_s:
            candidates.append((middle, max(0.0, after.start - before.end)))
    if not any(w.start < edge_s < w.end for w in words):
        candidates.append((edge_s, 0.0))

    def spanned(time: float) -> bool:
        return any(w.start < time < w.end for w in later_words + words)

    usable = [c for c in candidates if not spanned(c[0])] or candidates or [(edge_s, 0.0)]
    # nearest first; a gap of a quarter second or more outweighs 1 s of distance
    return min(usable, key=lambda c: abs(c[0] - edge_s) - min(c[1], 0.25) * 4)[0]


def _clip(output: TranscriptOutput, start: float, end: float) -> list[Segment]:
    """The segments of ``output`` cut to the words whose middle lies in [start, end)."""
    segments = []
    for segment in output.segments:
        if segment.words:
            kept = [w for w in segment.words if start <= (w.start + w.end) / 2 < end]
            if not kept:
                continue
            segments.append(
                Segment(
                    start=kept[0].start,
                    end=kept[-1].end,
                    text=" ".join(w.word for w in kept),
                    words=kept,
                    confidence=_mean([w.probability for w in kept if w.probability is not None]),
                )
            )
        elif start <= (segment.start + segment.end) / 2 < end:
            segments.append(segment)
    return segments


def _mean(values: Sequence[float]) -> float | None:
    if not values:
        return None
    mean = math.fsum(values) / len(values)
    return round(mean, 4) if math.isfinite(mean) else None


def stitch_transcripts(
    chunks: Sequence[Chunk], outputs: Sequence[TranscriptOutput]
) -> TranscriptOutput:
    """One transcript from the chunks' transcripts (their times already the file's)."""
    if not outputs or len(chunks) != len(outputs):
        raise ValueError("one transcript per chunk is needed")
    spans = [o.details.get("span_s") for o in outputs]
    cuts = [-math.inf]
    for index in range(1, len(chunks)):
        earlier, later = spans[index - 1], spans[index]
        if earlier and later:  # each answers for its span: cut where the later one starts
            cuts.append(float(later[0]))
            continue
        overlap = chunks[index - 1].audio_end_s - chunks[index - 1].end_s
        window = max(0.5, overlap * 0.6)
        cuts.append(_cut_between(outputs[index - 1], outputs[index], chunks[index].start_s, window))
    cuts.append(math.inf)
    segments: list[Segment] = []
    for index, output in enumerate(outputs):
        segments.extend(_clip(output, cuts[index], cuts[index + 1]))
    probabilities = [w.probability for s in segments for w in s.words if w.probability is not None]
    first = outputs[0]
    language = next((o.language for o in outputs if o.language), None)
    return TranscriptOutput(
        text=" ".join(s.text for s in segments if s.text),
        segments=segments,
        language=language,
        confidence=_mean(probabilities),
        model=first.model,
        details={
            **first.details,
            "chunks": len(chunks),
            "chunk_cuts_s": [round(c, 3) for c in cuts[1:-1]],
        },
    )


# ----------------------------------------------------------------------------- analyses


@dataclass
class _Merged:
    output: AnalysisOutput
    frames: list[Any] = field(default_factory=list)
    chunks: list[dict[str, Any]] = field(default_factory=list)


def _merge_value(current: Any, new: Any) -> Any:
    if isinstance(current, bool) or isinstance(new, bool):
        return current
    if isinstance(current, int | float) and isinstance(new, int | float):
        return max(current, new)
    if isinstance(current, list) and isinstance(new, list):
        plain = all(isinstance(v, str | int | float) for v in current + new)
        if plain:  # e.g. OCR's searchable words: a union in order of first sighting
            return list(dict.fromkeys([*current, *new]))
    return current


def merge_analyses(
    chunks: Sequence[Chunk],
    outputs: Sequence[Sequence[AnalysisOutput]],
    *,
    offsets: Sequence[float] | None = None,
) -> list[AnalysisOutput]:
    """One output per analysis type from each chunk's outputs of one provider.

    ``offsets``: where each chunk's own clock starts in the file; a provider that
    reads the audio or the chunk file itself (not frames) reports times on that clock,
    and each chunk's summary says so (``offset_s``).
    """
    if len(chunks) != len(outputs) or (offsets is not None and len(offsets) != len(chunks)):
        raise ValueError("one list of outputs (and offset) per chunk is needed")
    merged: dict[str, _Merged] = {}
    for position, (chunk, chunk_outputs) in enumerate(zip(chunks, outputs, strict=True)):
        offset = offsets[position] if offsets is not None else chunk.audio_start_s
        for output in chunk_outputs:
            result = dict(output.result)
            frames = result.pop("frames", None)
            summary = {"start_s": chunk.start_s, "end_s": chunk.end_s,
                       "offset_s": round(offset, 3), **result}  # fmt: skip
            entry = merged.get(output.analysis_type)
            if entry is None:
                entry = merged[output.analysis_type] = _Merged(
                    AnalysisOutput(
                        analysis_type=output.analysis_type,
                        result=result,
                        model=output.model,
                        model_version=output.model_version,
                        confidence=output.confidence,
                    )
                )
            else:
                base = entry.output
                for key, value in result.items():
                    base.result[key] = (
                        _merge_value(base.result[key], value) if key in (base.result) else value
                    )
                if output.confidence is not None:
                    base.confidence = max(base.confidence or 0.0, output.confidence)
            if isinstance(frames, list):
                entry.frames.extend(frames)
            entry.chunks.append(summary)
    results = []
    for entry in merged.values():
        for number, frame in enumerate(entry.frames):
            if isinstance(frame, dict) and "index" in frame:
                frame["index"] = number  # each chunk counted its frames from 0

        entry.output.result = {
            **entry.output.result,
            "frames": entry.frames,
            "chunks": entry.chunks,
        }
        results.append(entry.output)
    return results
