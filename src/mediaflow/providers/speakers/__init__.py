"""Who speaks when: resemblyzer's speaker encoder run in NumPy, and diarization with it.

``torch_pickle`` reads the encoder's legacy PyTorch checkpoint without PyTorch,
``encoder`` computes the 40-band mel frames and runs the 3-layer LSTM, ``diarize``
finds speech turns, embeds them, clusters the voices and gives each transcript
segment its speaker.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mediaflow.config import Settings
from mediaflow.errors import InvalidInput
from mediaflow.providers.base import TranscriptOutput

__all__ = ["add_speakers", "diarization_available", "diarization_model"]


def diarization_model() -> str:
    """The speaker encoder's name and version."""
    from mediaflow.providers.speakers.diarize import model_info

    return model_info()


def diarization_available() -> str | None:
    """None when diarization can run here, else why not (with the fix)."""
    from mediaflow.providers.speakers.encoder import weights_path

    if weights_path() is None:
        return "resemblyzer is not installed (pip install --no-deps resemblyzer==0.1.4)"
    return None


def _max_speakers(options: Mapping[str, Any], settings: Settings) -> int | None:
    value = options.get("max_speakers", settings.max_speakers)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidInput(f"options.max_speakers must be a whole number >= 1, not {value!r}")
    return value


def add_speakers(
    transcript: TranscriptOutput,
    audio_path: Path,
    settings: Settings,
    options: Mapping[str, Any],
) -> dict[str, Any]:
    """Give ``transcript``'s segments speakers (in place); what happened, for the log.

    Off (``diarization=false`` or a job's ``options.diarization=false``), unavailable or
    with nothing to label, the transcript is left as it is.
    """
    if not settings.diarization or options.get("diarization") is False:
        return {"skipped": "diarization is off"}
    if not transcript.segments:
        return {"skipped": "no speech"}
    reason = diarization_available()
    if reason:
        return {"skipped": reason}
    from mediaflow.providers.speakers.diarize import apply_speakers, diarize

    try:
        found = diarize(
            audio_path,
            threshold=settings.speaker_threshold,
            max_speakers=_max_speakers(options, settings),
        )
    except Exception as exc:  # the transcript is worth keeping without speakers
        return {"failed": f"{type(exc).__name__}: {exc}"}
    apply_speakers(transcript, found.turns)
    return {"speakers": len(found.speakers), "model": found.model, **found.details}
