"""Long videos seen whole: every slide read once, with its time; keyframes; a timeline."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from mediaflow.config import Settings
from mediaflow.db.enums import MediaType
from mediaflow.media.frames import sample_frames
from mediaflow.pipeline.ingest import ingest
from mediaflow.pipeline.runner import run_job
from mediaflow.providers.base import MediaInput
from mediaflow.providers.registry import ProviderRegistry
from mediaflow.runtime import Runtime
from mediaflow.search import search
from mediaflow.services import media
from tests import media_factory as mf
from tests.migration.helpers import query

pytestmark = pytest.mark.slow

SLIDES = ["ALPHA 1", "BRAVO 2", "CHARLIE 3", "DELTA 4", "ECHO 5"]


@pytest.fixture(scope="module")
def ocr(tmp_path_factory: pytest.TempPathFactory) -> object:
    registry = ProviderRegistry(Settings(data_dir=tmp_path_factory.mktemp("ocr")))
    yield registry.analyzer("rapidocr")
    registry.clear()


def _read(ocr: object, path: Path) -> dict[str, object]:
    sample = sample_frames(path, MediaType.VIDEO)
    (output,) = ocr.analyze(  # type: ignore[attr-defined]
        MediaInput(path=path, media_type=MediaType.VIDEO, frames=sample.frames)
    )
    return dict(output.result)


def test_each_slide_is_read_once_with_its_time_span(ocr: object, tmp_path: Path) -> None:
    path = mf.make_slides_video(tmp_path / "talk.mp4", SLIDES, slide_s=3.0, fps=5)
    result = _read(ocr, path)
    frames = result["frames"]
    assert isinstance(frames, list)
    texts = [" ".join(line["text"] for line in f["lines"]) for f in frames]
    assert texts == SLIDES
    spans = [(f["start_s"], f["end_s"]) for f in frames]
    assert spans == [
        (pytest.approx(3.0 * i, abs=0.21), pytest.approx(3.0 * (i + 1), abs=0.21))
        for i in range(len(SLIDES))
    ]
    assert result["ocr_runs"] == len(SLIDES)


def test_a_moving_presenter_does_not_make_the_slide_read_again(ocr: object, tmp_path: Path) -> None:
    path = mf.make_static_video(
        tmp_path / "presenter.mp4", "AGENDA", duration_s=24, fps=2, moving=True
    )
    result = _read(ocr, path)
    frames = result["frames"]
    assert isinstance(frames, list) and len(frames) > 3  # the pictures differ: many frames
    assert all(" ".join(line["text"] for line in f["lines"]) == "AGENDA" for f in frames)
    # the text where it was, unchanged: read once, the other frames reuse the reading
    assert result["ocr_runs"] == 1
    assert sum(1 for f in frames if f.get("reused")) == len(frames) - 1


def test_the_pipeline_keeps_keyframes_and_a_timeline(
    head_db: str, runtime: Runtime, tmp_path: Path
) -> None:
    colours = [(200, 40, 40), (40, 160, 40), (40, 40, 200)]
    shots = [
        mf.Shot(3.0, colour, text, mf.WHITE) for colour, text in zip(colours, SLIDES, strict=False)
    ]
    video = mf.make_video(tmp_path / "three.mp4", shots, fps=10, size=(480, 270)).path
    result = ingest(runtime, [video], providers=["rapidocr", "image_features"])
    run_job(runtime, result.job_id)
    (media_id,) = result.media_file_ids

    keyframes = media.keyframes(runtime, media_id)
    assert [(k.shot, k.start_s) for k in keyframes] == [
        (0, 0.0), (1, pytest.approx(3.0, abs=0.11)), (2, pytest.approx(6.0, abs=0.11))
    ]  # fmt: skip
    assert keyframes[-1].end_s == pytest.approx(9.0, abs=0.11)
    for keyframe in keyframes:
        data = media.keyframe_image(runtime, media_id, keyframe.shot)
        with Image.open(io.BytesIO(data)) as picture:
            assert picture.format == "JPEG" and picture.width == keyframe.width <= 320
    logged = query(
        head_db,
        "SELECT details FROM processing_log WHERE stage = 'frame_extraction' AND status = 'completed'",
    )[0][0]
    assert logged["shots"] == 3 and logged["keyframes"] == 3

    timeline = media.timeline(runtime, media_id)
    starts = [event.start_s for event in timeline]
    assert starts == sorted(starts)
    texts = [(e.label, e.start_s) for e in timeline if e.type == "text"]
    assert [label for label, _ in texts] == SLIDES[:3]
    assert {e.type for e in timeline} >= {"shot", "text", "colors"}
    exported = media.media_document(runtime, media_id)
    assert [e["label"] for e in exported["timeline"] if e["type"] == "text"] == SLIDES[:3]
    assert len(exported["keyframes"]) == 3

    # each slide's text is a search moment at its time
    hit = search("charlie", mode="lexical", runtime=runtime)[0]
    assert (hit.kind, hit.start_s) == ("text", pytest.approx(6.0, abs=0.11))
    assert hit.end_s == pytest.approx(9.0, abs=0.11)

    # a re-run replaces the keyframes, never adds to them
    media.reanalyze(runtime, media_id, ["image_features"], queue=False)
    assert len(media.keyframes(runtime, media_id)) == 3
