"""Processing log + indexes: processing_log, its two enum types, 4 GIN, 4 partial, 3 composite.

Revision ID: 000000000002
Revises: 000000000001
Create Date: 2026-11-25

The tables of revision 1 may be populated: every index on them is built with
CREATE INDEX CONCURRENTLY (outside a transaction) so that writers are not blocked.
"""

import contextlib
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from mediaflow.db.ddl import (
    create_enum,
    create_index_concurrently,
    drop_enum,
    drop_index_concurrently,
)
from mediaflow.errors import MigrationError

revision: str = "000000000002"
down_revision: str | None = "000000000001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PROCESSING_STAGE = (
    "ingest", "validation", "metadata", "audio_extraction", "frame_extraction",
    "transcription", "analysis", "finalize",
)  # fmt: skip
PROCESSING_LOG_STATUS = ("started", "completed", "failed", "skipped", "retrying")

# name, table, columns, keyword arguments; the order of the seed's rollback section.
GIN_INDEXES = (
    ("ix_analysis_job_metadata_gin", "analysis_job", ["metadata"], {"using": "gin"}),
    (
        "ix_analysis_result_result_gin", "analysis_result", ["result"],
        {"using": "gin", "ops": {"result": "jsonb_path_ops"}},
    ),
    (
        "ix_transcription_segments_gin", "transcription", ["segments"],
        {"using": "gin", "ops": {"segments": "jsonb_path_ops"}},
    ),
    ("ix_processing_log_details_gin", "processing_log", ["details"], {"using": "gin"}),
)  # fmt: skip
PARTIAL_INDEXES = (
    (
        "ix_analysis_job_status_active", "analysis_job", ["status"],
        {"where": "status IN ('pending', 'queued', 'running')"},
    ),
    (
        "ix_media_file_status_active", "media_file", ["status"],
        {"where": "status IN ('pending', 'processing')"},
    ),
    (
        "ix_analysis_result_provider_active", "analysis_result", ["provider", "analysis_type"],
        {"where": "is_active"},
    ),
    ("ix_transcription_provider_active", "transcription", ["provider"], {"where": "is_active"}),
)  # fmt: skip
COMPOSITE_INDEXES = (
    ("ix_analysis_job_status_created", "analysis_job", ["status", "created_at"], {}),
    ("ix_analysis_result_job_provider", "analysis_result", ["job_id", "provider"], {}),
    ("ix_transcription_job_provider", "transcription", ["job_id", "provider"], {}),
)  # fmt: skip
INDEXES = GIN_INDEXES + PARTIAL_INDEXES + COMPOSITE_INDEXES


def _create_processing_log() -> None:
    create_enum("processing_stage", PROCESSING_STAGE)
    create_enum("processing_log_status", PROCESSING_LOG_STATUS)
    op.create_table(
        "processing_log",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), primary_key=True),
        sa.Column(
            "job_id", postgresql.UUID(as_uuid=True),
            sa.ForeignKey("analysis_job.id", ondelete="CASCADE"), nullable=False,
        ),
        sa.Column(
            "media_file_id", postgresql.UUID(as_uuid=True),
            sa.ForeignKey("media_file.id", ondelete="CASCADE"), nullable=True,
        ),
        sa.Column(
            "stage",
            postgresql.ENUM(*PROCESSING_STAGE, name="processing_stage", create_type=False),
            nullable=False,
        ),
        sa.Column(
            "status",
            postgresql.ENUM(
                *PROCESSING_LOG_STATUS, name="processing_log_status", create_type=False
            ),
            nullable=False,
        ),
        sa.Column("attempt", sa.Integer(), nullable=False, server_default=sa.text("1")),
        sa.Column("message", sa.Text()),
        sa.Column(
            "details", postgresql.JSONB(), nullable=False, server_default=sa.text("'{}'::jsonb")
        ),
        sa.Column("duration_ms", sa.Integer()),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), nullable=False,
            server_default=sa.text("now()"),
        ),
    )  # fmt: skip
    # The new table is empty: plain index builds inside the transaction are fine here.
    op.create_index("ix_processing_log_job_created", "processing_log", ["job_id", "created_at"])
    op.create_index("ix_processing_log_media_file_id", "processing_log", ["media_file_id"])


def _undo_partial_upgrade() -> None:
    """Take back what a failed upgrade committed, so the database is at 000000000001 again."""
    with op.get_context().autocommit_block():
        for name, _table, _columns, _kwargs in INDEXES:
            op.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")
        op.execute("DROP TABLE IF EXISTS processing_log")
        op.execute("DROP TYPE IF EXISTS processing_log_status")
        op.execute("DROP TYPE IF EXISTS processing_stage")


def upgrade() -> None:
    context = op.get_context()
    # The index builds run outside the transaction, so a failed build leaves the table
    # committed. Resume from there: the table part is one transaction, all or nothing.
    resumed = not context.as_sql and bool(
        op.get_bind().execute(sa.text("SELECT to_regclass('processing_log') IS NOT NULL")).scalar()
    )
    if not resumed:
        _create_processing_log()
    try:
        for name, table, columns, kwargs in INDEXES:
            create_index_concurrently(name, table, columns, **kwargs)  # type: ignore[arg-type]
    except MigrationError:
        # still locked: the next upgrade resumes where this one stopped
        with contextlib.suppress(sa.exc.DBAPIError):
            _undo_partial_upgrade()
        raise


def downgrade() -> None:
    # Same steps as the manual rollback in docs/ROLLBACK.md.
    for name, _table, _columns, _kwargs in INDEXES:
        drop_index_concurrently(name)
    op.drop_table("processing_log")
    drop_enum("processing_log_status")
    drop_enum("processing_stage")
