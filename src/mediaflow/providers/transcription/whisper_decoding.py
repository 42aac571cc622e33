"""How faster-whisper walks through a recording: windows cut at pauses, sequential
windows, or batched VAD chunks.

Three decoders, chosen with the ``whisper_decoding`` setting:

- ``pauses`` (the default): the recording is cut at pauses that depend only on the
  audio around them (``pause_windows``), and each piece (at most ~30 s) is decoded
  on its own, with the Silero VAD inside it. A chunk of a long file then hears its
  words exactly as the whole file would (same pieces, same samples).
- ``sequential``: ``WhisperModel.transcribe`` with the Silero VAD filter. Silences
  are cut out, then the speech is decoded one 30 s window after another, each
  window's timestamps deciding where the next one starts.
- ``batched``: ``BatchedInferencePipeline.transcribe``. The VAD's speech regions are
  merged into chunks of at most 30 s, and ``whisper_batch_size`` chunks are decoded
  in one CTranslate2 call. Segments are whole chunks (their words keep their own
  timestamps), and chunks are independent, which is what makes batching possible.

bench/transcription_modes.py measures both (real-time factor and word error rate on
espeak-ng speech) on the bundled tiny.en; bench/README.md has the numbers and the
reason for the default. Both keep the settings that the provider fixes for safety
(VAD on, no conditioning on previous text, word timestamps).
"""

from __future__ import annotations

import dataclasses
import itertools
import wave
from collections.abc import Iterable
from typing import Any, Literal

import ctranslate2
import numpy as np

from mediaflow.providers.transcription.pause_windows import SAMPLE_RATE, AudioSpan, pause_cuts

__all__ = ["DECODING_MODES", "DecodingMode", "decode"]

DecodingMode = Literal["pauses", "sequential", "batched"]
DECODING_MODES: tuple[DecodingMode, ...] = ("pauses", "sequential", "batched")
# a piece shorter than this holds no word (and Whisper would only invent one)
_MIN_PIECE = SAMPLE_RATE // 10


def decode(
    model: Any,
    audio: str,
    *,
    mode: DecodingMode,
    language: str | None,
    beam_size: int,
    batch_size: int,
    span: AudioSpan | None = None,
) -> tuple[list[Any], Any, tuple[float, float] | None]:
    """Transcribe ``audio`` (a path) with ``model`` (a ``WhisperModel``) in ``mode``.

    Returns faster-whisper's segments (decoded to the end: ``transcribe`` is lazy,
    so the work and its errors happen here), its ``TranscriptionInfo``, and in
    ``pauses`` mode the seconds of ``audio`` the segments cover: ``span`` (a chunk's
    part of its file; None: all of it) cut at its pauses.
    """
    options: dict[str, Any] = {
        "language": language,
        "beam_size": beam_size,
        "vad_filter": True,
        "condition_on_previous_text": False,
        "word_timestamps": True,
    }
    segments: Iterable[Any]
    if mode == "pauses":
        return _decode_pieces(model, audio, span or AudioSpan(), options)
    if mode == "batched":
        from faster_whisper import BatchedInferencePipeline

        # The pipeline only holds the model: building one per call costs nothing.
        segments, info = BatchedInferencePipeline(model).transcribe(
            audio, batch_size=batch_size, **options
        )
    elif mode == "sequential":
        segments, info = model.transcribe(audio, **options)
    else:  # settings validate the value; this guards direct callers
        raise ValueError(f"unknown whisper decoding mode {mode!r} (one of {DECODING_MODES})")
    return list(segments), info, None


def _read_pcm16(path: str) -> np.ndarray[Any, np.dtype[np.int16]]:
    """The samples of the pipeline's 16 kHz mono 16-bit WAV."""
    with wave.open(path, "rb") as wav:
        if (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) != (SAMPLE_RATE, 1, 2):
            raise ValueError(f"{path}: not 16 kHz mono 16-bit PCM")
        return np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2").astype(np.int16)


def _decode_pieces(
    model: Any, audio: str, span: AudioSpan, options: dict[str, Any]
) -> tuple[list[Any], Any, tuple[float, float]]:
    samples = _read_pcm16(audio)
    cuts = pause_cuts(samples, span)
    segments: list[Any] = []
    first_info: Any = None
    speech_s = 0.0
    for start, end in itertools.pairwise(cuts):
        if end - start < _MIN_PIECE:
            continue
        piece = samples[start:end].astype(np.float32) / 32768.0  # as faster-whisper decodes
        # a window that falls back to sampling (temperature > 0) draws the same numbers
        # whether it is decoded in the whole file or in a chunk: seeded by its place
        ctranslate2.set_random_seed(span.offset + start)
        found, info = model.transcribe(piece, **options)
        shift = start / SAMPLE_RATE
        segments.extend(_shifted(segment, shift) for segment in found)
        speech_s += float(info.duration_after_vad)
        first_info = first_info or info
        # the language the first piece settled on holds for the rest (no per-piece flips)
        options = {**options, "language": options["language"] or info.language}
    if first_info is None:  # nothing long enough: let the model say what it says of it all
        found, first_info = model.transcribe(samples.astype(np.float32) / 32768.0, **options)
        segments = list(found)
        speech_s = float(first_info.duration_after_vad)
    info = dataclasses.replace(
        first_info, duration=len(samples) / SAMPLE_RATE, duration_after_vad=speech_s
    )
    return segments, info, (cuts[0] / SAMPLE_RATE, cuts[-1] / SAMPLE_RATE)


def _shifted(segment: Any, seconds: float) -> Any:
    """``segment`` (and its words) moved ``seconds`` later."""
    words = [
        dataclasses.replace(w, start=w.start + seconds, end=w.end + seconds)
        for w in segment.words or []
    ]
    return dataclasses.replace(
        segment,
        start=segment.start + seconds,
        end=segment.end + seconds,
        words=words or segment.words,
    )
