"""Spoken-language identification and the model choice that follows from it.

tiny.en (the default) knows only English. When a job names no model and the default
is English-only, the multilingual base model listens to the first speech of the file
(``detect_language`` over up to two 30 s windows, after the VAD); if it hears another
language, the file is transcribed with the base model instead, so a German interview
is not forced into English words. A job's ``options.model`` (``base``, ``tiny.en``)
or ``MEDIAFLOW_WHISPER_MODEL`` overrides the choice; ``auto_multilingual=false`` turns
the detection off.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mediaflow.config import Settings
from mediaflow.errors import ProviderError
from mediaflow.providers.base import MediaInput
from mediaflow.providers.transcription.whisper_models import (
    base_installed,
    ensure_base,
    is_base,
    is_default,
)

__all__ = ["Choice", "Detection", "LanguageRouter"]

# below this the detection is a guess: the default model is kept
MIN_PROBABILITY = 0.5


@dataclass(frozen=True)
class Detection:
    """What language identification heard, how sure it was, and with which model."""

    language: str | None  # None: no speech to identify
    probability: float | None
    model: str


@dataclass
class Choice:
    """The model a file is transcribed with, and the detection that chose it (if any)."""

    model: Any
    path: Path
    detection: Detection | None = None
    reason: str = "default"


def is_multilingual(model: Any) -> bool:
    """True for a WhisperModel that knows more than English."""
    return bool(getattr(getattr(model, "model", None), "is_multilingual", False))


class LanguageRouter:
    """Loads the extra (multilingual) model on demand and picks the model per file."""

    def __init__(self, settings: Settings, *, cpu_threads: int) -> None:
        self.settings = settings
        self.cpu_threads = cpu_threads
        self._models: dict[Path, Any] = {}
        self._lock = threading.Lock()

    def model_at(self, path: Path) -> Any:
        """The WhisperModel of ``path``, loaded once (int8 on CPU, offline)."""
        with self._lock:
            model = self._models.get(path)
            if model is None:
                from faster_whisper import WhisperModel

                model = WhisperModel(
                    str(path), device="cpu", compute_type="int8",
                    cpu_threads=self.cpu_threads, local_files_only=True,
                )  # fmt: skip
                self._models[path] = model
            return model

    def unload(self) -> None:
        """Drop the extra models."""
        with self._lock:
            self._models.clear()

    def choose(self, media: MediaInput, default_model: Any, default_path: Path) -> Choice:
        """The model for ``media``: the job's choice, else the default, else by language."""
        option = media.options.get("model")
        if option is not None and not isinstance(option, str):
            raise ProviderError("options.model must be a string: 'base' or 'tiny.en'")
        if option is not None and not is_default(option):
            if not is_base(option):
                raise ProviderError(
                    f"unknown Whisper model {option!r} in the job's options "
                    "(known: 'base', 'tiny.en')"
                )
            path = ensure_base(self.settings)
            return Choice(self.model_at(path), path, reason="options.model")
        if option is not None or is_multilingual(default_model):
            return Choice(default_model, default_path, reason="default")
        if not self.settings.auto_multilingual or base_installed() is not None:
            return Choice(default_model, default_path, reason="default")
        path = ensure_base(self.settings)
        base = self.model_at(path)
        detection = detect(base, media, model_name="base")
        if (
            detection.language not in (None, "en")
            and (detection.probability or 0.0) >= MIN_PROBABILITY
        ):
            return Choice(base, path, detection, reason=f"detected {detection.language}")
        return Choice(default_model, default_path, detection, reason="detected English")


def detect(model: Any, media: MediaInput, *, model_name: str) -> Detection:
    """The spoken language of ``media``'s audio with a multilingual ``model``."""
    from faster_whisper import decode_audio

    try:
        audio = decode_audio(str(media.audio_path), sampling_rate=16000)
        if audio.size == 0:
            return Detection(None, None, model_name)
        language, probability, _ = model.detect_language(
            audio=audio, vad_filter=True, language_detection_segments=2
        )
    except Exception as exc:
        raise ProviderError(
            f"language identification failed on {media.label}: {type(exc).__name__}: {exc}"
        ) from exc
    return Detection(str(language), round(float(probability), 4), model_name)
