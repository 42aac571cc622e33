"""SQLAlchemy 2 models of the media analysis database.

The migrations in ``migrations/versions`` are the source of truth for the schema;
these models describe the same tables for the ORM, and the test suite checks that
the two agree (alembic autogenerate sees no difference).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Double,
    ForeignKey,
    Identity,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy import (
    text as sql_text,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from mediaflow.db.enums import (
    AnalysisProvider,
    FileType,
    JobStatus,
    MediaFileStatus,
    MediaType,
    ProcessingLogStatus,
    ProcessingStage,
    TranscriptionProvider,
)


def _pg_enum(enum_cls: type, name: str) -> postgresql.ENUM:
    # values_callable: store the lowercase values, not the member names
    return postgresql.ENUM(
        enum_cls,
        name=name,
        values_callable=lambda members: [m.value for m in members],
        create_type=False,
    )


job_status = _pg_enum(JobStatus, "job_status")
media_type = _pg_enum(MediaType, "media_type")
file_type = _pg_enum(FileType, "file_type")
media_file_status = _pg_enum(MediaFileStatus, "media_file_status")
analysis_provider = _pg_enum(AnalysisProvider, "analysis_provider")
transcription_provider = _pg_enum(TranscriptionProvider, "transcription_provider")
processing_stage = _pg_enum(ProcessingStage, "processing_stage")
processing_log_status = _pg_enum(ProcessingLogStatus, "processing_log_status")

_NOW = sql_text("now()")
_UUID = sql_text("gen_random_uuid()")
_EMPTY_OBJECT = sql_text("'{}'::jsonb")
_EMPTY_ARRAY = sql_text("'[]'::jsonb")


def include_in_autogenerate(
    obj: object, name: str | None, type_: str, reflected: bool, compare_to: object
) -> bool:
    """Alembic autogenerate filter: skip objects the ORM does not model.

    alembic_version is Alembic's; the procrastinate_* tables (revision 3) belong to
    the task queue, which manages them from its own SQL; the search_* tables (revision
    6) belong to the search index (``mediaflow.search``), which reads and writes them
    with its own SQL (their generated tsvector, vector and HNSW index are beyond what
    the ORM would describe). The catalog snapshots verify all of them.
    """
    table = name if type_ == "table" else getattr(getattr(obj, "table", None), "name", "")
    return not (
        table == "alembic_version" or (table or "").startswith(("procrastinate_", "search_"))
    )


class Base(DeclarativeBase):
    """Declarative base of every mediaflow table."""

    type_annotation_map = {dict[str, Any]: JSONB, list[Any]: JSONB}


class Timestamps:
    """created_at / updated_at, both set by the database."""

    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=_NOW, nullable=False
    )
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=_NOW, onupdate=func.now(), nullable=False
    )


class AnalysisJob(Timestamps, Base):
    """One request to analyze a set of files."""

    __tablename__ = "analysis_job"

    id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), primary_key=True, server_default=_UUID
    )
    name: Mapped[str] = mapped_column(Text, nullable=False)
    status: Mapped[JobStatus] = mapped_column(
        job_status, nullable=False, server_default=JobStatus.PENDING.value
    )
    priority: Mapped[int] = mapped_column(Integer, nullable=False, server_default=sql_text("0"))
    options: Mapped[dict[str, Any]] = mapped_column(nullable=False, server_default=_EMPTY_OBJECT)
    # the column is called "metadata"; the attribute cannot be (Declarative reserves it)
    job_metadata: Mapped[dict[str, Any]] = mapped_column(
        "metadata", JSONB, nullable=False, server_default=_EMPTY_OBJECT
    )
    error: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    media_files: Mapped[list[MediaFile]] = relationship(
        back_populates="job",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="MediaFile.created_at",
    )

    __table_args__ = (
        Index("ix_analysis_job_metadata_gin", "metadata", postgresql_using="gin"),
        Index(
            "ix_analysis_job_status_active",
            "status",
            postgresql_where=sql_text("status IN ('pending', 'queued', 'running')"),
        ),
        Index("ix_analysis_job_status_created", "status", "created_at"),
    )


class MediaFile(Timestamps, Base):
    """One file of a job: where its original is stored and what it holds."""

    __tablename__ = "media_file"

    id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), primary_key=True, server_default=_UUID
    )
    job_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("analysis_job.id", ondelete="CASCADE"), nullable=False, index=True
    )
    original_name: Mapped[str] = mapped_column(Text, nullable=False)
    storage_key: Mapped[str | None] = mapped_column(Text)
    sha256: Mapped[str | None] = mapped_column(String(64), index=True)
    size_bytes: Mapped[int | None] = mapped_column(BigInteger)
    mime_type: Mapped[str | None] = mapped_column(Text)
    media_type: Mapped[MediaType | None] = mapped_column(media_type)
    file_type: Mapped[FileType | None] = mapped_column(file_type)
    status: Mapped[MediaFileStatus] = mapped_column(
        media_file_status, nullable=False, server_default=MediaFileStatus.PENDING.value
    )
    duration_s: Mapped[float | None] = mapped_column(Double)
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    fps: Mapped[float | None] = mapped_column(Double)
    sample_rate: Mapped[int | None] = mapped_column(Integer)
    channels: Mapped[int | None] = mapped_column(Integer)
    bit_rate: Mapped[int | None] = mapped_column(BigInteger)
    codecs: Mapped[dict[str, Any]] = mapped_column(nullable=False, server_default=_EMPTY_OBJECT)
    streams: Mapped[list[Any]] = mapped_column(nullable=False, server_default=_EMPTY_ARRAY)
    error: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    job: Mapped[AnalysisJob] = relationship(back_populates="media_files")

    __table_args__ = (
        Index(
            "ix_media_file_status_active",
            "status",
            postgresql_where=sql_text("status IN ('pending', 'processing')"),
        ),
    )


class AnalysisResult(Base):
    """One provider's result of one analysis type on one media file.

    A re-run supersedes (is_active false), never deletes; at most one active row
    exists per (media_file, provider, analysis_type).
    """

    __tablename__ = "analysis_result"

    id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), primary_key=True, server_default=_UUID
    )
    job_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("analysis_job.id", ondelete="CASCADE"), nullable=False
    )
    media_file_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("media_file.id", ondelete="CASCADE"), nullable=False, index=True
    )
    provider: Mapped[AnalysisProvider] = mapped_column(analysis_provider, nullable=False)
    analysis_type: Mapped[str] = mapped_column(Text, nullable=False)
    model: Mapped[str | None] = mapped_column(Text)
    model_version: Mapped[str | None] = mapped_column(Text)
    result: Mapped[dict[str, Any]] = mapped_column(nullable=False, server_default=_EMPTY_OBJECT)
    confidence: Mapped[float | None] = mapped_column(Double)
    is_active: Mapped[bool] = mapped_column(
        Boolean, nullable=False, server_default=sql_text("true")
    )
    latency_ms: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=_NOW, nullable=False
    )

    __table_args__ = (
        Index(
            "uq_analysis_result_active",
            "media_file_id",
            "provider",
            "analysis_type",
            unique=True,
            postgresql_where=sql_text("is_active"),
        ),
        Index(
            "ix_analysis_result_result_gin",
            "result",
            postgresql_using="gin",
            postgresql_ops={"result": "jsonb_path_ops"},
        ),
        Index(
            "ix_analysis_result_provider_active",
            "provider",
            "analysis_type",
            postgresql_where=sql_text("is_active"),
        ),
        Index("ix_analysis_result_job_provider", "job_id", "provider"),
    )


class Transcription(Base):
    """One provider's transcript of one media file, with timed segments and words."""

    __tablename__ = "transcription"

    id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), primary_key=True, server_default=_UUID
    )
    job_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("analysis_job.id", ondelete="CASCADE"), nullable=False
    )
    media_file_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("media_file.id", ondelete="CASCADE"), nullable=False, index=True
    )
    provider: Mapped[TranscriptionProvider] = mapped_column(transcription_provider, nullable=False)
    model: Mapped[str | None] = mapped_column(Text)
    language: Mapped[str | None] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text, nullable=False, server_default=sql_text("''"))
    segments: Mapped[list[Any]] = mapped_column(nullable=False, server_default=_EMPTY_ARRAY)
    confidence: Mapped[float | None] = mapped_column(Double)
    is_active: Mapped[bool] = mapped_column(
        Boolean, nullable=False, server_default=sql_text("true")
    )
    latency_ms: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=_NOW, nullable=False
    )
    # revision 8: how sure the spoken-language identification was (0-1)
    language_probability: Mapped[float | None] = mapped_column(Double)

    __table_args__ = (
        Index(
            "uq_transcription_active",
            "media_file_id",
            "provider",
            unique=True,
            postgresql_where=sql_text("is_active"),
        ),
        Index(
            "ix_transcription_segments_gin",
            "segments",
            postgresql_using="gin",
            postgresql_ops={"segments": "jsonb_path_ops"},
        ),
        Index(
            "ix_transcription_provider_active",
            "provider",
            postgresql_where=sql_text("is_active"),
        ),
        Index("ix_transcription_job_provider", "job_id", "provider"),
        Index(
            "ix_transcription_text_trgm",
            "text",
            postgresql_using="gin",
            postgresql_ops={"text": "gin_trgm_ops"},
        ),
    )


class ProcessingLog(Base):
    """One event of one pipeline stage: started, completed, failed, skipped or retrying."""

    __tablename__ = "processing_log"

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=False), primary_key=True)
    job_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("analysis_job.id", ondelete="CASCADE"), nullable=False
    )
    media_file_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("media_file.id", ondelete="CASCADE"), index=True
    )
    stage: Mapped[ProcessingStage] = mapped_column(processing_stage, nullable=False)
    status: Mapped[ProcessingLogStatus] = mapped_column(processing_log_status, nullable=False)
    attempt: Mapped[int] = mapped_column(Integer, nullable=False, server_default=sql_text("1"))
    message: Mapped[str | None] = mapped_column(Text)
    details: Mapped[dict[str, Any]] = mapped_column(nullable=False, server_default=_EMPTY_OBJECT)
    duration_ms: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=_NOW, nullable=False
    )

    __table_args__ = (
        Index("ix_processing_log_job_created", "job_id", "created_at"),
        Index("ix_processing_log_details_gin", "details", postgresql_using="gin"),
    )


class MediaKeyframe(Base):
    """One shot of a video (revision 7): its span, its chosen frame, a thumbnail of it.

    ``storage_key`` is the content-store key (sha256) of a small JPEG; a re-run of the
    file replaces its keyframes.
    """

    __tablename__ = "media_keyframe"

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=False), primary_key=True)
    media_file_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("media_file.id", ondelete="CASCADE"), nullable=False
    )
    shot: Mapped[int] = mapped_column(Integer, nullable=False)
    start_s: Mapped[float] = mapped_column(Double, nullable=False)
    end_s: Mapped[float] = mapped_column(Double, nullable=False)
    timestamp_s: Mapped[float] = mapped_column(Double, nullable=False)
    storage_key: Mapped[str] = mapped_column(String(64), nullable=False)
    width: Mapped[int] = mapped_column(Integer, nullable=False)
    height: Mapped[int] = mapped_column(Integer, nullable=False)
    sharpness: Mapped[float | None] = mapped_column(Double)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=_NOW, nullable=False
    )

    __table_args__ = (
        UniqueConstraint("media_file_id", "shot", name="uq_media_keyframe_shot"),
        CheckConstraint(
            "start_s <= timestamp_s AND timestamp_s <= end_s", name="ck_media_keyframe_span"
        ),
    )


class ApiKey(Base):
    """A key of the REST API: only its SHA-256 and a display prefix are stored."""

    __tablename__ = "api_key"

    id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), primary_key=True, server_default=_UUID
    )
    name: Mapped[str] = mapped_column(Text, nullable=False)
    prefix: Mapped[str] = mapped_column(String(16), nullable=False)
    key_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=_NOW, nullable=False
    )
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        UniqueConstraint("key_hash", name="uq_api_key_key_hash"),
        CheckConstraint("char_length(key_hash) = 64", name="ck_api_key_key_hash_sha256"),
    )


class Person(Base):
    """One person (revision 8): a cluster of faces across the library, maybe named.

    ``centroid`` is the unit-length mean of its faces' embeddings; a new face joins the
    person whose centroid is nearest (above the match threshold).
    """

    __tablename__ = "person"

    id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), primary_key=True, server_default=_UUID
    )
    name: Mapped[str | None] = mapped_column(Text)
    centroid: Mapped[list[float]] = mapped_column(postgresql.ARRAY(Double), nullable=False)
    face_count: Mapped[int] = mapped_column(Integer, nullable=False, server_default=sql_text("0"))
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=_NOW, nullable=False
    )
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=_NOW, onupdate=func.now(), nullable=False
    )

    __table_args__ = (
        CheckConstraint("name IS NULL OR btrim(name) <> ''", name="ck_person_name_not_blank"),
        Index("uq_person_name", func.lower(sql_text("name")), unique=True),
    )


class Face(Base):
    """One face in one frame of a media file (revision 8), linked to its person."""

    __tablename__ = "face"

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=False), primary_key=True)
    media_file_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("media_file.id", ondelete="CASCADE"), nullable=False
    )
    person_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("person.id", ondelete="SET NULL")
    )
    provider: Mapped[str] = mapped_column(Text, nullable=False)
    model: Mapped[str] = mapped_column(Text, nullable=False)
    frame_index: Mapped[int] = mapped_column(Integer, nullable=False)
    timestamp_s: Mapped[float] = mapped_column(Double, nullable=False)
    start_s: Mapped[float | None] = mapped_column(Double)
    end_s: Mapped[float | None] = mapped_column(Double)
    frame_width: Mapped[int] = mapped_column(Integer, nullable=False)
    frame_height: Mapped[int] = mapped_column(Integer, nullable=False)
    x: Mapped[int] = mapped_column(Integer, nullable=False)
    y: Mapped[int] = mapped_column(Integer, nullable=False)
    w: Mapped[int] = mapped_column(Integer, nullable=False)
    h: Mapped[int] = mapped_column(Integer, nullable=False)
    score: Mapped[float | None] = mapped_column(Double)
    embedding: Mapped[list[float]] = mapped_column(postgresql.ARRAY(Double), nullable=False)
    crop_key: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=_NOW, nullable=False
    )

    __table_args__ = (
        CheckConstraint("w > 0 AND h > 0", name="ck_face_box"),
        Index("ix_face_person", "person_id"),
        Index("ix_face_media_file", "media_file_id", "timestamp_s"),
    )
