"""Long media in chunks: a 62 s talk cut into three chunks (edges on the 20 s pause
anchors), each a queue task of its own.

Small thresholds keep it fast; the real sizes are measured by bench/long_video.py.
Checked: the stitched transcript against the one of the whole file (same provider,
unchunked), every chunk done exactly once and the file finalized once, progress rows
per chunk, frames of every slide, and a worker killed in the middle of a chunk
costing only that chunk.
"""

from __future__ import annotations

import re
import signal
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import jiwer
import pytest
import sqlalchemy as sa

from mediaflow.db.enums import MediaType
from mediaflow.media.audio import extract_audio
from mediaflow.pipeline.chunked import process_chunk
from mediaflow.pipeline.ingest import ingest
from mediaflow.pipeline.worker import run_worker
from mediaflow.providers.base import MediaInput
from mediaflow.runtime import Runtime
from mediaflow.services.jobs import files_finished, job_log, queue_job
from tests import aio
from tests.conftest import make_runtime
from tests.talk_factory import make_talk
from tests.workers import start_worker, stop_workers, wait_for

SECONDS = 62
CHUNKS = {"chunk_threshold_s": 20.0, "chunk_length_s": 20.0, "chunk_overlap_s": 5.0}
PROVIDERS = ["faster_whisper", "rapidocr"]


def _normalise(text: str) -> str:
    return " ".join(re.findall(r"[a-z0-9']+", text.lower()))


@pytest.fixture(scope="module")
def talk(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 62 s talk, 640x360, a new slide every 15 s, espeak-ng speech throughout."""
    return make_talk(tmp_path_factory.mktemp("talk") / "talk.mp4", SECONDS, slide_s=15,
                     size=(640, 360))  # fmt: skip


def _rows(runtime: Runtime, sql: str, **params: object) -> list[tuple[object, ...]]:
    with runtime.db.session() as session:
        return [tuple(r) for r in session.execute(sa.text(sql), params)]


def _assert_each_chunk_once(runtime: Runtime, media_file_id: uuid.UUID, chunks: int) -> None:
    done = _rows(
        runtime,
        "SELECT (details->>'chunk')::int, count(*) FROM processing_log WHERE media_file_id = :id "
        "AND details ? 'chunk_done' GROUP BY 1 ORDER BY 1",
        id=media_file_id,
    )
    assert done == [(i, 1) for i in range(chunks)]
    finals = _rows(
        runtime,
        "SELECT status::text, count(*) FROM processing_log WHERE media_file_id = :id "
        "AND stage = 'finalize' GROUP BY 1 ORDER BY 1",
        id=media_file_id,
    )
    assert finals == [("completed", 1), ("started", 1)]
    assert _rows(
        runtime, "SELECT status::text FROM media_file WHERE id = :id", id=media_file_id
    ) == [("completed",)]
    assert _rows(runtime, "SELECT status::text FROM analysis_job") == [("completed",)]
    active = _rows(
        runtime,
        "SELECT count(*) FROM transcription WHERE media_file_id = :id AND is_active",
        id=media_file_id,
    )
    assert active == [(1,)]


@pytest.mark.slow
def test_a_long_file_is_split_processed_in_chunks_and_stitched(
    head_db: str, data_dir: Path, talk: Path
) -> None:
    with make_runtime(head_db, data_dir, **CHUNKS) as runtime:
        job = ingest(runtime, [talk], name="long", providers=PROVIDERS)
        assert queue_job(runtime, job.job_id) == 1
        aio.run(run_worker(runtime, 1, wait=False, install_signal_handlers=False))
        (media_file_id,) = [r[0] for r in _rows(runtime, "SELECT id FROM media_file")]
        assert isinstance(media_file_id, uuid.UUID)

        plan = _rows(
            runtime,
            "SELECT details->'chunk_plan' FROM processing_log WHERE details ? 'chunk_plan'",
        )
        assert len(plan) == 1
        chunks = plan[0][0]
        assert isinstance(chunks, list) and len(chunks) == 3  # [0, 20), [20, 40), [40, 62]
        assert chunks[0]["start_s"] == 0 and chunks[-1]["end_s"] == pytest.approx(SECONDS, abs=0.1)
        _assert_each_chunk_once(runtime, media_file_id, 3)

        # progress, one row per chunk as it finishes: 1/3, 2/3, 3/3
        progress = _rows(
            runtime,
            "SELECT (details->>'progress')::float FROM processing_log WHERE details ? 'chunk_done' "
            "ORDER BY id",
        )
        assert [p for (p,) in progress] == pytest.approx([1 / 3, 2 / 3, 1.0], abs=1e-3)
        # the job's log as the SSE stream sends it (GET /jobs/{id}/events reads job_log)
        page = job_log(runtime, job.job_id, limit=1000)
        sent = [e.details["progress"] for e in page.items if e.details.get("chunk_done")]
        assert sent == pytest.approx([1 / 3, 2 / 3, 1.0], abs=1e-3)
        # every stage row of a chunk says which chunk it is
        tagged = _rows(
            runtime,
            "SELECT DISTINCT stage::text FROM processing_log WHERE details ? 'chunk' "
            "AND NOT details ? 'chunk_done'",
        )
        assert {"audio_extraction", "frame_extraction", "transcription", "analysis"} <= {
            s for (s,) in tagged
        }
        queue = _rows(
            runtime,
            "SELECT task_name, status::text, count(*) FROM procrastinate_jobs GROUP BY 1, 2",
        )
        assert sorted(queue) == [
            ("mediaflow.process_chunk", "succeeded", 3),
            ("mediaflow.process_file", "succeeded", 1),
        ]

        # the stitched transcript against the whole file's, transcribed unchunked
        text, segments = _rows(
            runtime,
            "SELECT text, segments FROM transcription WHERE is_active AND media_file_id = :id",
            id=media_file_id,
        )[0]
        assert isinstance(text, str) and isinstance(segments, list)
        wav = extract_audio(talk, data_dir / "whole.wav")
        assert wav is not None
        whole = runtime.providers.transcriber("faster_whisper").transcribe(
            MediaInput(path=talk, media_type=MediaType.VIDEO, audio_path=wav)
        )
        # chunks cut at the pauses the whole file is cut at hear what it hears (issue 14: 1%)
        error = jiwer.wer(_normalise(whole.text), _normalise(text))
        assert error <= 0.01, f"WER {error:.3f}\nwhole:   {whole.text}\nchunked: {text}"
        words = [w for s in segments for w in s["words"]]
        starts = [w["start"] for w in words]
        assert starts == sorted(starts), "words out of order: a boundary was stitched twice"
        assert all(0 <= w["start"] <= w["end"] <= SECONDS + 0.5 for w in words)

        # every slide (one per 15 s) was seen by OCR, and frames carry the file's times
        (ocr,) = _rows(runtime, "SELECT result FROM analysis_result WHERE analysis_type = 'ocr'")
        result = ocr[0]
        assert isinstance(result, dict)
        titles = {
            line["text"] for f in result["frames"] for line in f["lines"] if "PART" in line["text"]
        }
        assert {"PART 1", "PART 2", "PART 3", "PART 4"} <= titles, titles
        assert len(result["chunks"]) == 3
        keyframes = _rows(runtime, "SELECT shot, start_s FROM media_keyframe ORDER BY shot")
        assert [s for s, _ in keyframes] == list(range(len(keyframes))) and keyframes


def test_a_short_file_is_not_split(head_db: str, data_dir: Path, tmp_path: Path) -> None:
    from tests import media_factory as mf

    clip = mf.make_speech_audio(tmp_path / "short.wav")
    with make_runtime(head_db, data_dir, **CHUNKS) as runtime:
        job = ingest(runtime, [clip], name="short", providers=["audio_features"])
        queue_job(runtime, job.job_id)
        aio.run(run_worker(runtime, 1, wait=False, install_signal_handlers=False))
        assert _rows(runtime, "SELECT count(*) FROM processing_log WHERE details ? 'chunk'") == [
            (0,)
        ]
        assert _rows(runtime, "SELECT status::text FROM media_file") == [("completed",)]
        # a chunk task of a split that is not (or no longer) the file's does nothing
        (media_file_id,) = [r[0] for r in _rows(runtime, "SELECT id FROM media_file")]
        assert isinstance(media_file_id, uuid.UUID)
        stale = process_chunk(
            runtime, media_file_id, run="0" * 32, chunks=2, providers=None,
            chunk_data={"index": 0, "start_s": 0, "end_s": 1, "audio_start_s": 0,
                        "audio_end_s": 2},
        )  # fmt: skip
        assert stale == "skipped"
        assert _rows(runtime, "SELECT count(*) FROM processing_log WHERE details ? 'chunk'") == [
            (0,)
        ]


# ----------------------------------------------------------------------------- a killed worker


def _start_worker(head_db: str, data_dir: Path) -> subprocess.Popen[str]:
    return start_worker(
        head_db, data_dir, stalled_after_s="3", **{k: str(v) for k, v in CHUNKS.items()}
    )


@pytest.fixture
def worker_pool() -> Iterator[list[subprocess.Popen[str]]]:
    procs: list[subprocess.Popen[str]] = []
    yield procs
    stop_workers(procs)


@pytest.mark.slow
def test_a_worker_killed_mid_chunk_costs_only_that_chunk(
    head_db: str, data_dir: Path, talk: Path, worker_pool: list[subprocess.Popen[str]]
) -> None:
    with make_runtime(head_db, data_dir) as runtime:
        job = ingest(runtime, [talk], name="long", providers=PROVIDERS)
        queue_job(runtime, job.job_id)
        first = _start_worker(head_db, data_dir)
        worker_pool.append(first)

        def chunk_transcribing() -> list[int]:
            # a chunk whose transcription started and that is not done
            return [
                int(str(c))
                for (c,) in _rows(
                    runtime,
                    "SELECT details->>'chunk' FROM processing_log WHERE details ? 'chunk' "
                    "AND stage = 'transcription' AND status = 'started' EXCEPT "
                    "SELECT details->>'chunk' FROM processing_log WHERE details ? 'chunk_done'",
                )
            ]

        wait_for(lambda: bool(chunk_transcribing()), 240, worker_pool)
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        (victim,) = chunk_transcribing()  # killed in the middle of this chunk
        done_before = {
            int(str(c))
            for (c,) in _rows(
                runtime, "SELECT details->>'chunk' FROM processing_log WHERE details ? 'chunk_done'"
            )
        }
        assert victim not in done_before

        worker_pool.append(_start_worker(head_db, data_dir))
        wait_for(lambda: files_finished(runtime, job.job_id) == 1, 300, worker_pool)
        # the job settles in the finalizer's next transaction, just after the file
        wait_for(
            lambda: _rows(runtime, "SELECT status::text FROM analysis_job") == [("completed",)],
            300,
            worker_pool,
        )
        (media_file_id,) = [r[0] for r in _rows(runtime, "SELECT id FROM media_file")]
        assert isinstance(media_file_id, uuid.UUID)
        _assert_each_chunk_once(runtime, media_file_id, 3)
        # only the victim's chunk was started twice; the chunks done before the kill
        # were not redone
        starts = dict(
            _rows(
                runtime,
                "SELECT (details->>'chunk')::int, count(*) FROM processing_log "
                "WHERE details ? 'chunk' AND stage = 'audio_extraction' AND status = 'started' "
                "GROUP BY 1",
            )
        )
        assert starts == {i: (2 if i == victim else 1) for i in range(3)}, starts
        # the finalizing chunk's task records its success just after the file's status
        wait_for(
            lambda: (
                _rows(
                    runtime,
                    "SELECT count(*) FROM procrastinate_jobs "
                    "WHERE task_name = 'mediaflow.process_chunk' AND status = 'succeeded'",
                )
                == [(3,)]
            ),
            60,
            worker_pool,
        )
