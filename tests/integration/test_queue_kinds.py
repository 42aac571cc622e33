"""Per-kind queues: each file goes to the queue of its kind, a worker takes only its queues."""

from __future__ import annotations

import uuid
import wave
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from mediaflow.errors import InvalidInput
from mediaflow.pipeline.ingest import ingest
from mediaflow.pipeline.worker import run_worker
from mediaflow.queue import ALL_QUEUES
from mediaflow.runtime import Runtime
from mediaflow.services.jobs import queue_job
from tests import aio
from tests import media_factory as mf
from tests.conftest import make_runtime
from tests.migration.helpers import query


@pytest.fixture
def runtime_here(head_db: str, data_dir: Path) -> Iterator[Runtime]:
    with make_runtime(head_db, data_dir) as runtime:
        yield runtime


def _tone(path: Path) -> Path:
    samples = (0.3 * 32767 * np.sin(2 * np.pi * 440 * np.arange(16000) / 16000)).astype("<i2")
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16000)
        out.writeframes(samples.tobytes())
    return path


def _queues(head_db: str, job_id: uuid.UUID) -> dict[str, str]:
    rows = query(
        head_db,
        "SELECT m.original_name, j.queue_name FROM procrastinate_jobs j "
        "JOIN media_file m ON m.id::text = j.args->>'media_file_id' WHERE m.job_id = :j",
        j=job_id,
    )
    return dict(rows)  # type: ignore[arg-type]


def _status(head_db: str, job_id: uuid.UUID) -> dict[str, str]:
    rows = query(
        head_db,
        "SELECT original_name, status::text FROM media_file WHERE job_id = :j",
        j=job_id,
    )
    return dict(rows)  # type: ignore[arg-type]


def test_files_go_to_their_kinds_queue_and_a_worker_takes_only_its_own(
    head_db: str, runtime_here: Runtime, tmp_path: Path
) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    mf.make_text_image(folder / "page.png", "PAGE")
    _tone(folder / "tone.wav")
    mf.make_random_bytes(folder / "mystery.bin")  # no magic number: kind unknown
    result = ingest(runtime_here, [folder], name="kinds", providers=["image_features"])
    assert queue_job(runtime_here, result.job_id) == 3
    assert _queues(head_db, result.job_id) == {
        "page.png": "image",
        "tone.wav": "audio",
        "mystery.bin": "media",
    }

    # an image-only machine: the image is done, the others keep waiting for their workers
    aio.run(
        run_worker(runtime_here, 1, wait=False, install_signal_handlers=False, queues=["image"])
    )
    status = _status(head_db, result.job_id)
    assert status["page.png"] == "completed"
    assert status["tone.wav"] == status["mystery.bin"] == "pending"

    # a worker with the default queues takes everything that is left
    aio.run(run_worker(runtime_here, 1, wait=False, install_signal_handlers=False))
    status = _status(head_db, result.job_id)
    assert status["tone.wav"] == "completed"
    assert status["mystery.bin"] == "failed"  # not media: fails alone, with its reason
    assert set(ALL_QUEUES) == {"media", "video", "audio", "image"}


def test_a_reanalysis_goes_to_the_probed_kinds_queue(
    head_db: str, runtime_here: Runtime, tmp_path: Path
) -> None:
    image = mf.make_text_image(tmp_path / "scan.png", "SCAN")
    result = ingest(runtime_here, [image], name="again", providers=["image_features"])
    queue_job(runtime_here, result.job_id)
    aio.run(run_worker(runtime_here, 1, wait=False, install_signal_handlers=False))
    (media_id,) = result.media_file_ids
    runtime_here.queue.defer_files([media_id])
    rows = query(
        head_db,
        "SELECT queue_name FROM procrastinate_jobs WHERE status = 'todo' "
        "AND args->>'media_file_id' = :m",
        m=str(media_id),
    )
    assert rows == [("image",)]


def test_unknown_queue_names_are_refused() -> None:
    from mediaflow.cli.worker import parse_queues

    assert parse_queues("video, audio") == ["video", "audio"]
    with pytest.raises(InvalidInput, match="unknown queue"):
        parse_queues("transcription")
