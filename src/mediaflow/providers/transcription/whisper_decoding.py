"""How faster-whisper walks through a recording: sequential windows or batched VAD chunks.

Two decoders, chosen with the ``whisper_decoding`` setting:

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

from collections.abc import Iterable
from typing import Any, Literal

__all__ = ["DECODING_MODES", "DecodingMode", "decode"]

DecodingMode = Literal["sequential", "batched"]
DECODING_MODES: tuple[DecodingMode, ...] = ("sequential", "batched")


def decode(
    model: Any,
    audio: str,
    *,
    mode: DecodingMode,
    language: str | None,
    beam_size: int,
    batch_size: int,
) -> tuple[list[Any], Any]:
    """Transcribe ``audio`` (a path) with ``model`` (a ``WhisperModel``) in ``mode``.

    Returns faster-whisper's segments (decoded to the end: ``transcribe`` is lazy,
    so the work and its errors happen here) and its ``TranscriptionInfo``.
    """
    options: dict[str, Any] = {
        "language": language,
        "beam_size": beam_size,
        "vad_filter": True,
        "condition_on_previous_text": False,
        "word_timestamps": True,
    }
    segments: Iterable[Any]
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
    return list(segments), info
