"""The job options providers read (issue 12), checked when a job is requested.

``model`` (``base`` or ``tiny.en``: the Whisper model of the job's transcripts),
``max_speakers`` (a whole number >= 1: the most speakers diarization may find) and
``diarization`` (false: no speakers for this job). A bad value is refused with the
request, before anything is stored, rather than failing the files later.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mediaflow.errors import InvalidInput

__all__ = ["MODEL_CHOICES", "check_job_options"]

MODEL_CHOICES = ("base", "tiny.en", "default")


def check_job_options(options: Mapping[str, Any]) -> None:
    """Raise ``InvalidInput`` for a job option a provider would refuse."""
    model = options.get("model")
    if model is not None and (not isinstance(model, str) or model.lower() not in MODEL_CHOICES):
        raise InvalidInput(
            f"options.model must be one of {', '.join(MODEL_CHOICES)}, not {model!r}"
        )
    speakers = options.get("max_speakers")
    if speakers is not None and (
        isinstance(speakers, bool) or not isinstance(speakers, int) or speakers < 1
    ):
        raise InvalidInput(f"options.max_speakers must be a whole number >= 1, not {speakers!r}")
    diarization = options.get("diarization")
    if diarization is not None and not isinstance(diarization, bool):
        raise InvalidInput(f"options.diarization must be true or false, not {diarization!r}")
