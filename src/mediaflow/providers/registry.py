"""One registry by name for each provider kind (transcription, analysis).

Providers are registered *lazily*: the registry maps a provider name (a value of the
``TranscriptionProvider`` / ``AnalysisProvider`` enum, so it can be stored in the
database as is) to an import path ``"module:Class"``. A provider's module (and the
SDK or model runtime it pulls in) is imported only when that provider is first
asked for, so ``mediaflow --help`` does not pay for ONNX Runtime or CTranslate2.

Instances are cached, one per name, and creating them is thread-safe. Loading a
provider's model is a separate, later step done by ``LazyModel`` (also here): the
first ``transcribe``/``analyze`` call loads it once under a lock, every later call
(from any thread) reuses it, in the way immich and pixeltable cache their models.
"""

from __future__ import annotations

import importlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, Literal, TypeVar, cast

from mediaflow.db.enums import AnalysisProvider, TranscriptionProvider
from mediaflow.errors import InvalidInput, ProviderError, ProviderUnavailable
from mediaflow.providers.base import (
    AnalysisProviderProtocol,
    Availability,
    TranscriptionProviderProtocol,
)

__all__ = [
    "LazyModel",
    "ProviderInfo",
    "ProviderKind",
    "analysis_providers",
    "clear_provider_cache",
    "default_analysis_providers",
    "default_transcription_providers",
    "get_analysis_provider",
    "get_transcription_provider",
    "list_providers",
    "provider_info",
    "register_analysis_provider",
    "register_transcription_provider",
    "transcription_providers",
]

ProviderKind = Literal["transcription", "analysis"]

# name -> "module:Class". Cloud providers (needs_key) are listed too but never among
# the defaults (default_*_providers skips them): a job gets one only by naming it.
_TRANSCRIPTION: dict[str, str] = {
    TranscriptionProvider.FASTER_WHISPER.value: (
        "mediaflow.providers.transcription.faster_whisper:FasterWhisperProvider"
    ),
    TranscriptionProvider.OPENAI.value: (
        "mediaflow.providers.transcription.openai:OpenAITranscriptionProvider"
    ),
}
_ANALYSIS: dict[str, str] = {
    AnalysisProvider.RAPIDOCR.value: "mediaflow.providers.analysis.ocr:RapidOCRProvider",
    AnalysisProvider.OPENCV_HAAR.value: "mediaflow.providers.analysis.faces:HaarFaceProvider",
    AnalysisProvider.OPENNSFW.value: "mediaflow.providers.analysis.moderation:OpenNSFWProvider",
    AnalysisProvider.SCENEDETECT.value: "mediaflow.providers.analysis.scenes:SceneDetectProvider",
    AnalysisProvider.IMAGE_FEATURES.value: (
        "mediaflow.providers.analysis.image_features:ImageFeaturesProvider"
    ),
    AnalysisProvider.AUDIO_FEATURES.value: (
        "mediaflow.providers.analysis.audio_features:AudioFeaturesProvider"
    ),
}

# One lock for the registry tables and the instance caches: creating an instance is
# cheap (no model is loaded in a constructor), so holding it while importing is fine
# and guarantees exactly one instance per name even when threads race.
_lock = threading.RLock()
_transcription_instances: dict[str, TranscriptionProviderProtocol] = {}
_analysis_instances: dict[str, AnalysisProviderProtocol] = {}


@dataclass(frozen=True)
class ProviderInfo:
    """What ``list_providers`` reports about one provider."""

    kind: ProviderKind
    name: str
    accepts: tuple[str, ...]  # media types, sorted ("audio", "image", "video")
    analysis_types: tuple[str, ...]  # () for transcription providers
    needs_key: bool
    available: bool
    reason: str  # why it is unavailable (empty when available)


# ----------------------------------------------------------------------------- models

T = TypeVar("T")


class LazyModel(Generic[T]):
    """A model loaded on first use, exactly once, under a lock; later calls reuse it.

    ``loader`` runs at most once successfully. A failing load is not cached, so a
    fixed environment (a model file put back) works without a restart; its error
    is raised as ``ProviderUnavailable`` because a model that cannot load means the
    provider cannot run here.
    """

    def __init__(self, loader: Callable[[], T], description: str) -> None:
        self._loader = loader
        self._description = description
        self._lock = threading.Lock()
        self._value: T | None = None
        self._loaded = False
        self.load_seconds: float | None = None

    @property
    def loaded(self) -> bool:
        """True once the model has been loaded."""
        return self._loaded

    def get(self) -> T:
        """Return the model, loading it first if needed (thread-safe, idempotent)."""
        if self._loaded:  # fast path without the lock once loaded
            return cast(T, self._value)
        with self._lock:
            if self._loaded:  # another thread loaded it while this one waited
                return cast(T, self._value)
            started = time.perf_counter()
            try:
                value = self._loader()
            except ProviderError:
                raise
            except Exception as exc:
                raise ProviderUnavailable(
                    f"could not load {self._description}: {type(exc).__name__}: {exc}"
                ) from exc
            self.load_seconds = time.perf_counter() - started
            self._value = value
            self._loaded = True
            return value


# ----------------------------------------------------------------------------- registry


def register_transcription_provider(name: str, target: str) -> None:
    """Register (or replace) a transcription provider: ``name`` -> ``"module:Class"``."""
    _check_target(target)
    key = _enum_value(TranscriptionProvider, name, "transcription")
    with _lock:
        _TRANSCRIPTION[key] = target
        _transcription_instances.pop(key, None)


def register_analysis_provider(name: str, target: str) -> None:
    """Register (or replace) an analysis provider: ``name`` -> ``"module:Class"``."""
    _check_target(target)
    key = _enum_value(AnalysisProvider, name, "analysis")
    with _lock:
        _ANALYSIS[key] = target
        _analysis_instances.pop(key, None)


def transcription_providers() -> dict[str, str]:
    """The registered transcription providers: name -> import path (nothing is imported)."""
    with _lock:
        return dict(_TRANSCRIPTION)


def analysis_providers() -> dict[str, str]:
    """The registered analysis providers: name -> import path (nothing is imported)."""
    with _lock:
        return dict(_ANALYSIS)


def get_transcription_provider(name: str) -> TranscriptionProviderProtocol:
    """The (cached) transcription provider called ``name``.

    Raises ``InvalidInput`` for an unknown name (the message lists the known ones) and
    ``ProviderUnavailable`` when its module cannot be imported.
    """
    with _lock:
        if name not in _TRANSCRIPTION:
            raise _unknown("transcription", name, _TRANSCRIPTION)
        instance = _transcription_instances.get(name)
        if instance is None:
            instance = cast(TranscriptionProviderProtocol, _instantiate(_TRANSCRIPTION[name]))
            _transcription_instances[name] = instance
        return instance


def get_analysis_provider(name: str) -> AnalysisProviderProtocol:
    """The (cached) analysis provider called ``name``.

    Raises ``InvalidInput`` for an unknown name (the message lists the known ones) and
    ``ProviderUnavailable`` when its module cannot be imported.
    """
    with _lock:
        if name not in _ANALYSIS:
            raise _unknown("analysis", name, _ANALYSIS)
        instance = _analysis_instances.get(name)
        if instance is None:
            instance = cast(AnalysisProviderProtocol, _instantiate(_ANALYSIS[name]))
            _analysis_instances[name] = instance
        return instance


def list_providers(kind: ProviderKind | None = None) -> list[ProviderInfo]:
    """Every registered provider (of ``kind``, or both kinds) with its availability.

    Checking availability imports each provider's module but loads no model. A
    provider whose module cannot be imported is listed as unavailable with the
    import error as the reason.
    """
    infos: list[ProviderInfo] = []
    if kind in (None, "transcription"):
        for name in sorted(transcription_providers()):
            infos.append(provider_info("transcription", name))
    if kind in (None, "analysis"):
        for name in sorted(analysis_providers()):
            infos.append(provider_info("analysis", name))
    return infos


def default_transcription_providers() -> list[str]:
    """Names of the transcription providers used when a job names none: local and available."""
    return [
        info.name
        for info in list_providers("transcription")
        if info.available and not info.needs_key
    ]


def default_analysis_providers() -> list[str]:
    """Names of the analysis providers used when a job names none: local and available."""
    return [
        info.name for info in list_providers("analysis") if info.available and not info.needs_key
    ]


def clear_provider_cache() -> None:
    """Forget every cached provider instance (and so its loaded model); for tests and reloads."""
    with _lock:
        _transcription_instances.clear()
        _analysis_instances.clear()


# ----------------------------------------------------------------------------- helpers


def provider_info(kind: ProviderKind, name: str) -> ProviderInfo:
    """One registered provider with its availability (imports its module, loads no model)."""
    provider: TranscriptionProviderProtocol | AnalysisProviderProtocol
    try:
        if kind == "transcription":
            provider = get_transcription_provider(name)
        else:
            provider = get_analysis_provider(name)
    except ProviderError as exc:
        return ProviderInfo(kind, name, (), (), False, False, str(exc))
    try:
        availability = provider.availability()
    except Exception as exc:  # availability() must never raise; report it if one does
        availability = Availability(False, f"availability check failed: {exc}")
    analysis_types: tuple[str, ...] = ()
    if kind == "analysis":
        analysis_types = tuple(cast(AnalysisProviderProtocol, provider).analysis_types)
    return ProviderInfo(
        kind=kind,
        name=name,
        accepts=tuple(sorted(str(m) for m in provider.accepts)),
        analysis_types=analysis_types,
        needs_key=bool(provider.needs_key),
        available=availability.available,
        reason=availability.reason,
    )


def _instantiate(target: str) -> object:
    module_name, _, class_name = target.partition(":")
    try:
        module = importlib.import_module(module_name)
        cls = getattr(module, class_name)
    except (ImportError, AttributeError) as exc:
        raise ProviderUnavailable(
            f"cannot import provider {target}: {type(exc).__name__}: {exc}",
            hint="install the package it needs (pip install 'mediaflow[...]')",
        ) from exc
    return cast(object, cls())


def _unknown(kind: str, name: str, table: dict[str, str]) -> InvalidInput:
    known = ", ".join(sorted(table)) or "(none)"
    return InvalidInput(f"unknown {kind} provider {name!r}; known: {known}")


def _enum_value(
    enum: type[TranscriptionProvider] | type[AnalysisProvider], name: str, kind: str
) -> str:
    # The name is stored in a PostgreSQL enum column: it must be one of its values.
    try:
        return str(enum(name).value)
    except ValueError:
        allowed = ", ".join(m.value for m in enum)
        raise InvalidInput(
            f"{name!r} is not a {kind} provider name of the schema; allowed: {allowed}"
        ) from None


def _check_target(target: str) -> None:
    module_name, sep, class_name = target.partition(":")
    if not (module_name and sep and class_name):
        raise InvalidInput(f"provider target must look like 'package.module:Class', got {target!r}")
