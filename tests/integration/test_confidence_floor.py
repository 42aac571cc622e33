"""A per-provider confidence floor (issue 10 item 8): a 0.2 s bell heard as "Press." at
0.17 is kept in the transcript, marked low_confidence, and never found by search."""

from __future__ import annotations

import uuid

import sqlalchemy as sa

from mediaflow.config import Settings
from mediaflow.pipeline.records import ClaimedFile, DatabaseRecords
from mediaflow.providers.base import Segment, TranscriptOutput
from mediaflow.runtime import Runtime
from mediaflow.search.index import reindex


def _file(runtime: Runtime) -> ClaimedFile:
    job_id, media_id = uuid.uuid4(), uuid.uuid4()
    with runtime.db.session() as session:
        session.execute(
            sa.text("INSERT INTO analysis_job (id, name) VALUES (:id, 'bell')"), {"id": job_id}
        )
        session.execute(
            sa.text(
                "INSERT INTO media_file (id, job_id, original_name) VALUES (:id, :job, 'bell.wav')"
            ),
            {"id": media_id, "job": job_id},
        )
    return ClaimedFile(media_id, job_id, None, "bell.wav")


def _moments(runtime: Runtime, media_id: uuid.UUID) -> list[str]:
    with runtime.db.session() as session:
        return list(
            session.scalars(
                sa.text("SELECT text FROM search_moment WHERE media_file_id = :id ORDER BY text"),
                {"id": media_id},
            )
        )


def test_low_confidence_segments_are_kept_marked_and_not_indexed(runtime: Runtime) -> None:
    settings = Settings.model_validate(
        {
            "database_url": "postgresql://x@127.0.0.1:1/x",
            "provider_min_confidence": {"faster_whisper": 0.3},
        }
    )
    assert settings.provider_min_confidence == {"faster_whisper": 0.3}
    records = DatabaseRecords(runtime.db, provider_min_confidence=settings.provider_min_confidence)
    file = _file(runtime)
    output = TranscriptOutput(
        text="Press. Good morning everyone.",
        segments=[
            Segment(0.0, 0.2, "Press.", confidence=0.17),
            Segment(1.0, 2.5, "Good morning everyone.", confidence=0.8),
        ],
        language="en",
        confidence=0.5,
        model="tiny.en",
    )
    records.save_transcription(file, "faster_whisper", output, latency_ms=5)

    with runtime.db.session() as session:
        segments = session.execute(
            sa.text("SELECT segments FROM transcription WHERE media_file_id = :id"),
            {"id": file.media_file_id},
        ).scalar_one()
    assert [s.get("low_confidence", False) for s in segments] == [True, False]
    assert segments[0]["text"] == "Press."  # kept, for people to judge
    assert _moments(runtime, file.media_file_id) == ["Good morning everyone."]

    # a rebuilt index keeps the mark's meaning
    with runtime.db.session() as session:
        session.execute(sa.text("DELETE FROM search_moment"))
    reindex(runtime.db, runtime.embedder, what="lexical")
    assert _moments(runtime, file.media_file_id) == ["Good morning everyone."]


def test_another_provider_keeps_the_global_floor(runtime: Runtime) -> None:
    records = DatabaseRecords(runtime.db, provider_min_confidence={"faster_whisper": 0.3})
    file = _file(runtime)
    output = TranscriptOutput(
        text="Press.", segments=[Segment(0.0, 0.2, "Press.", confidence=0.17)],
        language="en", confidence=0.17, model="whisper-1",
    )  # fmt: skip
    records.save_transcription(file, "openai", output, latency_ms=5)
    assert _moments(runtime, file.media_file_id) == ["Press."]
