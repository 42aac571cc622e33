"""The stages of one file, run on real media and real providers, recorded in memory.

No database: ``MemoryRecords`` takes the writes (tests/integration covers the SQL).
Two providers here are scripted subclasses of the public ``Analyzer`` base — the way
anyone adds a provider — to make a transient failure and a crash happen on demand.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

from mediaflow.config import Settings
from mediaflow.db.enums import (
    AnalysisProvider,
    MediaFileStatus,
    MediaType,
    ProcessingLogStatus,
    ProcessingStage,
)
from mediaflow.errors import TransientProviderError
from mediaflow.pipeline.stages import Pipeline
from mediaflow.providers.base import AnalysisOutput, Analyzer, MediaInput
from mediaflow.providers.registry import BUILTIN_PROVIDERS, ProviderRegistry, ProviderSelection
from mediaflow.storage import ContentStore
from tests import media_factory as mf
from tests.realworld_media import make_animated_image, make_avi_ac3
from tests.unit.memory_records import MemoryRecords

S, L = ProcessingStage, ProcessingLogStatus
FLAKY = AnalysisProvider.ANTHROPIC.value
BROKEN = AnalysisProvider.GOOGLE_VISION.value


class FlakyAnalyzer(Analyzer):
    """Answers 503 ``failures`` times, then labels."""

    name: ClassVar[str] = FLAKY
    accepts: ClassVar[frozenset[MediaType]] = frozenset(MediaType)
    analysis_types: ClassVar[tuple[str, ...]] = ("labels",)
    uses = "file"
    failures: ClassVar[int] = 0
    calls: ClassVar[int] = 0

    def _analyze(self, media: MediaInput, model: Any) -> list[AnalysisOutput]:
        type(self).calls += 1
        if type(self).calls <= type(self).failures:
            raise TransientProviderError(f"HTTP 503 on call {type(self).calls}")
        return [AnalysisOutput("labels", {"labels": ["cat"]}, model="scripted")]


class BrokenAnalyzer(Analyzer):
    """A provider with a bug: every call raises."""

    name: ClassVar[str] = BROKEN
    accepts: ClassVar[frozenset[MediaType]] = frozenset(MediaType)
    analysis_types: ClassVar[tuple[str, ...]] = ("labels",)
    uses = "file"

    def _analyze(self, media: MediaInput, model: Any) -> list[AnalysisOutput]:
        raise IndexError("list index out of range")


@pytest.fixture
def pipeline(tmp_path: Path) -> Iterator[Pipeline]:
    FlakyAnalyzer.calls, FlakyAnalyzer.failures = 0, 0
    # no database is reached: the URL is never used with in-memory records
    settings = Settings(
        database_url="postgresql://nobody@127.0.0.1:1/none",
        data_dir=tmp_path,
        provider_retry_attempts=3,
        provider_retry_max_wait_s=0,
    )
    targets = {
        **BUILTIN_PROVIDERS,
        ("analysis", FLAKY): f"{__name__}:FlakyAnalyzer",
        ("analysis", BROKEN): f"{__name__}:BrokenAnalyzer",
    }
    yield Pipeline(
        records=MemoryRecords(),
        store=ContentStore(tmp_path / "originals"),
        providers=ProviderRegistry(settings, targets),
        settings=settings,
    )


def _add(pipeline: Pipeline, path: Path) -> Any:
    records = pipeline.records
    assert isinstance(records, MemoryRecords)
    obj = pipeline.store.store(path)
    return records.add_file(obj.key, path.name)


def _only(*analysis: str) -> ProviderSelection:
    return ProviderSelection(transcription=["faster_whisper"], analysis=list(analysis))


def test_an_image_goes_through_every_stage_in_order(pipeline: Pipeline, tmp_path: Path) -> None:
    image = mf.make_text_image(tmp_path / "card.png", "HELLO")
    file_id = _add(pipeline, image)

    outcome = pipeline.process_file(file_id, _only("image_features"))

    records = pipeline.records
    assert isinstance(records, MemoryRecords)
    assert outcome.status is MediaFileStatus.COMPLETED
    assert records.trail() == [
        ("validation", "started"), ("validation", "completed"),
        ("metadata", "started"), ("metadata", "completed"),
        ("audio_extraction", "skipped"),
        ("frame_extraction", "started"), ("frame_extraction", "completed"),
        ("transcription", "skipped"),  # faster_whisper does not take images
        ("analysis", "started"), ("analysis", "completed"),
        ("indexing", "started"), ("indexing", "completed"),
    ]  # fmt: skip
    assert records.rows(S.TRANSCRIPTION)[0].message == "no provider accepts this media"
    assert [(p, o.analysis_type) for _, p, o in records.results] == [
        ("image_features", "perceptual_hash"),
        ("image_features", "colors"),
    ]
    assert records.files[file_id].metadata is not None
    assert records.files[file_id].metadata.media_type is MediaType.IMAGE
    assert records.finalized[file_id].results == 2


def test_a_bad_file_fails_alone_with_its_reason(pipeline: Pipeline, tmp_path: Path) -> None:
    file_id = _add(pipeline, mf.make_zero_byte(tmp_path / "empty.mov"))

    outcome = pipeline.process_file(file_id, _only("image_features"))

    records = pipeline.records
    assert isinstance(records, MemoryRecords)
    assert outcome.status is MediaFileStatus.FAILED
    assert outcome.error is not None and "empty file" in outcome.error
    assert records.trail() == [("validation", "started"), ("validation", "failed")]
    failed = records.rows(S.VALIDATION, L.FAILED)[0]
    assert failed.details["error_code"] == "invalid_input"
    assert records.files[file_id].status is MediaFileStatus.FAILED
    assert records.results == []


def test_a_missing_original_fails_the_file(pipeline: Pipeline, tmp_path: Path) -> None:
    records = pipeline.records
    assert isinstance(records, MemoryRecords)
    file_id = records.add_file("0" * 64, "gone.png")

    outcome = pipeline.process_file(file_id, _only("image_features"))

    assert outcome.status is MediaFileStatus.FAILED
    assert outcome.error == "stored original of gone.png is missing"


def test_a_cancelled_file_is_left_alone(pipeline: Pipeline, tmp_path: Path) -> None:
    records = pipeline.records
    assert isinstance(records, MemoryRecords)
    file_id = _add(pipeline, mf.make_text_image(tmp_path / "a.png", "A"))
    records.files[file_id].status = MediaFileStatus.CANCELLED

    outcome = pipeline.process_file(file_id, _only("image_features"))

    assert outcome.status is MediaFileStatus.CANCELLED
    assert records.events == [] and records.finalized == {}


def test_transient_errors_are_retried_and_logged(pipeline: Pipeline, tmp_path: Path) -> None:
    FlakyAnalyzer.failures = 2
    file_id = _add(pipeline, mf.make_text_image(tmp_path / "a.png", "A"))

    outcome = pipeline.process_file(file_id, _only(FLAKY))

    records = pipeline.records
    assert isinstance(records, MemoryRecords)
    assert outcome.status is MediaFileStatus.COMPLETED and outcome.provider_failures == []
    retries = records.rows(S.ANALYSIS, L.RETRYING)
    assert [(r.attempt, r.message) for r in retries] == [
        (1, "HTTP 503 on call 1"),
        (2, "HTTP 503 on call 2"),
    ]
    (done,) = records.rows(S.ANALYSIS, L.COMPLETED)
    assert done.attempt == 3 and done.details["provider"] == FLAKY
    assert [o.result for _, _, o in records.results] == [{"labels": ["cat"]}]


def test_retries_stop_at_the_configured_attempts(pipeline: Pipeline, tmp_path: Path) -> None:
    FlakyAnalyzer.failures = 5
    file_id = _add(pipeline, mf.make_text_image(tmp_path / "a.png", "A"))

    outcome = pipeline.process_file(file_id, _only(FLAKY))

    records = pipeline.records
    assert isinstance(records, MemoryRecords)
    assert FlakyAnalyzer.calls == 3  # provider_retry_attempts
    (failed,) = records.rows(S.ANALYSIS, L.FAILED)
    assert failed.attempt == 3 and failed.details["error_code"] == "provider_transient"
    # the provider's failure costs only that provider: the file still completes
    assert outcome.status is MediaFileStatus.COMPLETED
    assert outcome.provider_failures == [f"{FLAKY}: HTTP 503 on call 3"]


def test_a_crashing_provider_costs_only_itself(pipeline: Pipeline, tmp_path: Path) -> None:
    file_id = _add(pipeline, mf.make_text_image(tmp_path / "a.png", "A"))

    outcome = pipeline.process_file(file_id, _only(BROKEN, "image_features"))

    records = pipeline.records
    assert isinstance(records, MemoryRecords)
    assert outcome.status is MediaFileStatus.COMPLETED
    assert outcome.provider_failures == [f"{BROKEN}: IndexError: list index out of range"]
    assert {p for _, p, _ in records.results} == {"image_features"}
    (failed,) = records.rows(S.ANALYSIS, L.FAILED)
    assert failed.details == {
        "provider": BROKEN, "error_type": "IndexError", "fingerprint": failed.details["fingerprint"]
    }  # fmt: skip
    assert len(failed.details["fingerprint"]) == 16


def test_audio_providers_skip_a_video_without_sound(pipeline: Pipeline, tmp_path: Path) -> None:
    video = mf.make_two_shot_video(tmp_path / "silent.mp4", shot_s=1.0).path
    file_id = _add(pipeline, video)

    outcome = pipeline.process_file(file_id, _only("audio_features", "image_features"))

    records = pipeline.records
    assert isinstance(records, MemoryRecords)
    assert outcome.status is MediaFileStatus.COMPLETED
    assert outcome.provider_failures == [] and outcome.error is None
    # no audio is a skip at every step, and each message names the file
    no_audio = "silent.mp4 has no audio track"
    assert [(r.status, r.message) for r in records.rows(S.AUDIO_EXTRACTION)] == [
        (L.SKIPPED, no_audio)
    ]
    transcription = records.rows(S.TRANSCRIPTION)
    assert [(r.status, r.message) for r in transcription] == [(L.SKIPPED, no_audio)]
    skipped = records.rows(S.ANALYSIS, L.SKIPPED)
    assert [(r.message, r.details) for r in skipped] == [(no_audio, {"provider": "audio_features"})]
    assert not records.rows(S.ANALYSIS, L.FAILED)
    assert {p for _, p, _ in records.results} == {"image_features"}


def test_a_damaged_avi_is_analyzed_with_a_warning(pipeline: Pipeline, tmp_path: Path) -> None:
    path = tmp_path / "damaged.avi"
    make_avi_ac3(path, seconds=4.0, cut_audio=(0, -1))
    file_id = _add(pipeline, path)

    outcome = pipeline.process_file(file_id, _only("audio_features", "image_features"))

    records = pipeline.records
    assert isinstance(records, MemoryRecords)
    assert outcome.status is MediaFileStatus.COMPLETED, outcome.error
    assert outcome.error is None and outcome.provider_failures == []
    (row,) = records.rows(S.AUDIO_EXTRACTION, L.COMPLETED)
    assert row.message is not None and row.message.startswith("warning: decoded with damage: ")
    assert row.details["damage"]["bad_packets"] >= 1
    assert outcome.warnings == [row.message.removeprefix("warning: ")]
    assert records.finalized[file_id].warnings == outcome.warnings
    metadata = records.files[file_id].metadata
    assert metadata is not None
    audio = next(s for s in metadata.streams if s["type"] == "audio")
    assert audio["damage"]["bad_packets"] >= 1
    assert {p for _, p, _ in records.results} == {"audio_features", "image_features"}


@pytest.mark.parametrize("suffix", [".gif", ".webp"])
def test_an_animated_image_is_analyzed_as_a_short_video(
    pipeline: Pipeline, tmp_path: Path, suffix: str
) -> None:
    path = make_animated_image(tmp_path / f"anim{suffix}", frames=24, frame_ms=100)
    file_id = _add(pipeline, path)

    outcome = pipeline.process_file(file_id, _only("image_features", "scenedetect"))

    records = pipeline.records
    assert isinstance(records, MemoryRecords)
    assert outcome.status is MediaFileStatus.COMPLETED, outcome.error
    metadata = records.files[file_id].metadata
    assert metadata is not None and metadata.media_type is MediaType.VIDEO
    assert metadata.duration_s == 2.4
    (frames,) = records.rows(S.FRAME_EXTRACTION, L.COMPLETED)
    assert frames.details["shots"] == 2 and frames.details["decoded"] == 24
    assert records.keyframes[file_id][1].start_s == 1.2
    assert records.rows(S.AUDIO_EXTRACTION)[0].message == f"anim{suffix} has no audio track"
    assert outcome.provider_failures == []
    (scenes,) = [o for _, p, o in records.results if p == "scenedetect"]
    assert scenes.result["cuts"] == [1.2]
    assert scenes.result["scenes"][-1]["end_s"] == 2.4
