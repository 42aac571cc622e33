"""Audio over a vendor's limit, split by time with overlap and stitched back by timestamps.

A vendor that refuses long or large uploads (OpenAI: 25 MB; Google's synchronous
recognize: 60 s) gets the pipeline's 16 kHz mono WAV in chunks of at most
``max_seconds``, each overlapping the next by ``overlap_s`` so that no word is cut
in half at a border without also being heard whole in the neighbouring chunk.

Stitching: each chunk's times are shifted by its offset, and each chunk *owns* the
time from the middle of the overlap before it to the middle of the overlap after it.
A word (or, without words, a segment) is kept from the chunk that owns its midpoint,
so a word heard in two chunks is kept exactly once.
"""

from __future__ import annotations

import wave
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from mediaflow.errors import ProviderError
from mediaflow.providers.base import Segment, TranscriptOutput, Word

__all__ = ["AudioChunk", "plan_chunks", "split_wav", "stitch", "transcribe_in_chunks"]

WAV_HEADER_BYTES = 44


@dataclass(frozen=True)
class AudioChunk:
    """One piece of the audio: where it starts, and the span of time it owns."""

    path: Path
    offset_s: float
    duration_s: float
    own_from_s: float
    own_to_s: float


def plan_chunks(
    duration_s: float, max_seconds: float, overlap_s: float
) -> list[tuple[float, float, float, float]]:
    """(start, length, own_from, own_to) of each chunk covering ``duration_s``."""
    if max_seconds <= 0:
        raise ValueError("max_seconds must be positive")
    overlap_s = min(max(0.0, overlap_s), max_seconds / 4)  # always progress
    if duration_s <= max_seconds:
        return [(0.0, duration_s, 0.0, float("inf"))]
    step = max_seconds - overlap_s
    starts: list[float] = []
    start = 0.0
    while True:
        starts.append(start)
        if start + max_seconds >= duration_s:
            break
        start += step
    plan = []
    for i, begin in enumerate(starts):
        length = min(max_seconds, duration_s - begin)
        own_from = 0.0 if i == 0 else begin + overlap_s / 2
        own_to = float("inf") if i == len(starts) - 1 else starts[i + 1] + overlap_s / 2
        plan.append((begin, length, own_from, own_to))
    return plan


def split_wav(
    path: Path, work_dir: Path, *, max_seconds: float, overlap_s: float
) -> list[AudioChunk]:
    """Cut a PCM WAV into overlapping chunks of at most ``max_seconds`` (files in work_dir)."""
    try:
        with wave.open(str(path), "rb") as source:
            params = source.getparams()
            rate, frame_bytes = params.framerate, params.sampwidth * params.nchannels
            duration = params.nframes / rate
            chunks: list[AudioChunk] = []
            for i, (start, length, own_from, own_to) in enumerate(
                plan_chunks(duration, max_seconds, overlap_s)
            ):
                source.setpos(int(start * rate))
                frames = source.readframes(round(length * rate))
                target = work_dir / f"chunk-{i:04d}.wav"
                with wave.open(str(target), "wb") as out:
                    out.setparams(params)
                    out.writeframes(frames)
                chunks.append(
                    AudioChunk(target, start, len(frames) / frame_bytes / rate, own_from, own_to)
                )
    except (wave.Error, EOFError) as exc:
        raise ProviderError(f"cannot split {path.name}: {exc}") from exc
    return chunks


def seconds_for_bytes(path: Path, max_bytes: int) -> float:
    """How many seconds of ``path``'s PCM fit in ``max_bytes`` (header included)."""
    with wave.open(str(path), "rb") as source:
        per_second = source.getframerate() * source.getsampwidth() * source.getnchannels()
    return max(1.0, (max_bytes - WAV_HEADER_BYTES) / per_second)


def wav_duration(path: Path) -> float:
    """Seconds of audio in a PCM WAV."""
    with wave.open(str(path), "rb") as source:
        return source.getnframes() / source.getframerate()


def _shift_word(word: Word, offset: float) -> Word:
    return replace(word, start=round(word.start + offset, 3), end=round(word.end + offset, 3))


def _owns(chunk: AudioChunk, start: float, end: float) -> bool:
    middle = (start + end) / 2
    return chunk.own_from_s <= middle < chunk.own_to_s


def stitch(parts: list[tuple[AudioChunk, TranscriptOutput]]) -> TranscriptOutput:
    """One transcript from the chunks' transcripts, each word kept once (see module doc)."""
    if not parts:
        raise ProviderError("nothing to stitch")
    if len(parts) == 1 and parts[0][0].offset_s == 0:
        return parts[0][1]
    segments: list[Segment] = []
    confidences: list[tuple[float, int]] = []
    for chunk, output in parts:
        for segment in output.segments:
            words = [_shift_word(w, chunk.offset_s) for w in segment.words]
            start, end = segment.start + chunk.offset_s, segment.end + chunk.offset_s

            if words:
                words = [w for w in words if _owns(chunk, w.start, w.end)]
                if not words:
                    continue
                text = " ".join(w.word for w in words)
                start, end = words[0].start, words[-1].end
            else:
                if not _owns(chunk, start, end):
                    continue
                text = segment.text
            segments.append(
                Segment(
                    start=round(start, 3),
                    end=round(end, 3),
                    text=text,
                    words=words,
                    confidence=segment.confidence,
                    speaker=segment.speaker,
                )
            )
        if output.confidence is not None:
            confidences.append((output.confidence, max(1, len(output.text.split()))))
    segments.sort(key=lambda s: s.start)
    first = parts[0][1]
    total = sum(w for _, w in confidences)
    language = next((o.language for _, o in parts if o.language), None)
    details = dict(first.details)
    billing: dict[str, float] = {}
    for _, output in parts:  # every chunk is billed, overlap included
        for unit, amount in (output.details.get("billing") or {}).items():
            billing[unit] = round(billing.get(unit, 0.0) + float(amount), 3)
    if billing:
        details["billing"] = billing
    details["chunks"] = [
        {"offset_s": round(c.offset_s, 3), "duration_s": round(c.duration_s, 3)} for c, _ in parts
    ]
    return TranscriptOutput(
        text=" ".join(s.text for s in segments if s.text),
        segments=segments,
        language=language,
        confidence=round(sum(c * w for c, w in confidences) / total, 4) if total else None,
        model=first.model,
        details=details,
    )


def transcribe_in_chunks(
    audio: Path,
    work_dir: Path,
    transcribe: Callable[[Path], TranscriptOutput],
    *,
    max_seconds: float,
    overlap_s: float,
) -> TranscriptOutput:
    """Split ``audio`` when it is longer than ``max_seconds``, transcribe each piece, stitch."""
    chunks = split_wav(audio, work_dir, max_seconds=max_seconds, overlap_s=overlap_s)
    if len(chunks) == 1:
        return transcribe(audio)
    return stitch([(chunk, transcribe(chunk.path)) for chunk in chunks])
