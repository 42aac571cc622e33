"""The one provider registry: names of both kinds, selection, registration, model life cycle."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, ClassVar

import pytest

from mediaflow.config import Settings
from mediaflow.db.enums import AnalysisProvider, MediaType
from mediaflow.errors import InvalidInput, ProviderUnavailable
from mediaflow.providers.base import AnalysisOutput, Analyzer, MediaInput
from mediaflow.providers.registry import ProviderRegistry, split_names

LOADS: list[str] = []


class CountingAnalyzer(Analyzer):
    """Counts how often its model is loaded."""

    name: ClassVar[str] = AnalysisProvider.AZURE_VISION.value
    accepts: ClassVar[frozenset[MediaType]] = frozenset({MediaType.IMAGE})
    analysis_types: ClassVar[tuple[str, ...]] = ("labels",)
    uses = "file"

    def _load(self) -> Any:
        LOADS.append(self.name)
        return object()

    def _analyze(self, media: MediaInput, model: Any) -> list[AnalysisOutput]:
        return [AnalysisOutput("labels", {"model_id": id(model)}, model="counting")]


@pytest.fixture
def registry(tmp_path: Path) -> ProviderRegistry:
    LOADS.clear()
    return ProviderRegistry(Settings(data_dir=tmp_path))


def test_split_names_takes_lists_and_commas() -> None:
    assert split_names(None) is None
    assert split_names([]) is None
    assert split_names(" , ") is None
    assert split_names(["rapidocr, opennsfw", "rapidocr", "scenedetect"]) == [
        "rapidocr",
        "opennsfw",
        "scenedetect",
    ]
    with pytest.raises(InvalidInput, match="must be strings"):
        split_names([1])  # type: ignore[list-item]


def test_a_name_of_both_kinds_means_both_unless_qualified(registry: ProviderRegistry) -> None:
    # openai is a transcription provider of this build; as analysis it is registered here
    registry.register("analysis", "openai", "tests.unit.test_provider_registry:CountingAnalyzer")
    both = registry.select("openai", check_available=False)
    assert (both.transcription, both.analysis) == (["openai"], ["openai"])
    one = registry.select(["analysis:openai", "rapidocr"], check_available=False)
    assert (one.transcription, one.analysis) == ([], ["openai", "rapidocr"])


def test_unknown_names_and_kinds_are_refused(registry: ProviderRegistry) -> None:
    with pytest.raises(InvalidInput, match="unknown provider 'nosuch'"):
        registry.select(["rapidocr", "nosuch"])
    with pytest.raises(InvalidInput, match="unknown provider kind 'video'"):
        registry.select("video:rapidocr")
    with pytest.raises(InvalidInput, match="unknown analysis provider 'faster_whisper'"):
        registry.get("analysis", "faster_whisper")


def test_no_names_mean_the_local_defaults(registry: ProviderRegistry) -> None:
    defaults = registry.select(None)
    assert defaults.transcription == ["faster_whisper"]  # openai needs a key: never a default
    assert "rapidocr" in defaults.analysis and "audio_features" in defaults.analysis


def test_a_cloud_provider_without_its_key_is_refused_when_named(
    registry: ProviderRegistry,
) -> None:
    with pytest.raises(InvalidInput, match="cannot run here: no OpenAI API key"):
        registry.select("openai")
    info = registry.info("transcription", "openai")
    assert (info.available, info.needs_key) == (False, True)


def test_register_checks_the_schema_name_and_target(registry: ProviderRegistry) -> None:
    with pytest.raises(InvalidInput, match=r"not a analysis provider name of the schema"):
        registry.register("analysis", "yolo", "pkg.mod:Yolo")
    with pytest.raises(InvalidInput, match=r"package\.module:Class"):
        registry.register("analysis", "azure_vision", "pkg.mod.Yolo")
    registry.register("analysis", "azure_vision", "no.such.module:Thing")
    info = registry.info("analysis", "azure_vision")
    assert not info.available and "cannot import provider" in info.reason


def test_one_instance_and_one_load_then_unload_when_idle(
    registry: ProviderRegistry, tmp_path: Path
) -> None:
    registry.register("analysis", "azure_vision", f"{__name__}:CountingAnalyzer")
    provider = registry.analyzer("azure_vision")
    assert registry.analyzer("azure_vision") is provider
    media = MediaInput(path=tmp_path / "x.png", media_type=MediaType.IMAGE)
    first = provider.analyze(media)[0].result["model_id"]
    second = provider.analyze(media)[0].result["model_id"]
    assert first == second and LOADS == ["azure_vision"]

    assert registry.unload_idle(3600) == []  # used a moment ago
    provider.last_used = time.monotonic() - 7200
    assert registry.unload_idle(3600) == ["analysis:azure_vision"]
    assert not provider.loaded
    provider.analyze(media)
    assert LOADS == ["azure_vision", "azure_vision"]


def test_a_provider_that_cannot_run_says_why_when_called(
    registry: ProviderRegistry, tmp_path: Path
) -> None:
    whisper = registry.transcriber("faster_whisper")
    broken = ProviderRegistry(Settings(data_dir=tmp_path, whisper_model=str(tmp_path / "none")))
    missing = broken.transcriber("faster_whisper")
    assert whisper.availability().available
    media = MediaInput(path=tmp_path / "a.wav", media_type=MediaType.AUDIO, audio_path=tmp_path)
    with pytest.raises(ProviderUnavailable, match="does not exist"):
        missing.transcribe(media)
