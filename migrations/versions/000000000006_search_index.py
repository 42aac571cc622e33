"""Search index: one row per searchable moment, a word dictionary, sentence embeddings.

Revision ID: 000000000006
Revises: 000000000005
Create Date: 2026-11-26

- ``search_moment``: one row per searchable moment of a media file (a transcript
  segment, the on-screen text of a span of frames, a label), pointing at the
  transcription or analysis_result it came from (ON DELETE CASCADE: a deleted file or
  result takes its moments along), with its time span, its text and a generated
  ``tsvector`` (english) in a GIN index for full-text search.
- ``search_word``: the dictionary of indexed words (unstemmed, lowercase) with how many
  moments hold each, in a trigram index: a misspelled query word is corrected from it.
- ``search_embedding``: a 384-dimension all-MiniLM-L6-v2 vector per moment in an HNSW
  index (cosine), created only where the server has the pgvector extension
  (``vector``); without it the schema is the same less this table, and semantic search
  says which extension is missing.
- ``processing_stage`` gains ``indexing`` (before ``finalize``): the pipeline step that
  writes a file's moments and embeddings, logged like every other stage.

The new tables start empty, so their indexes are built inside the migration;
``mediaflow search reindex`` fills them from the existing transcripts and results
(resumable; the migration itself never runs a model).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from mediaflow.db.ddl import create_index_concurrently, drop_index_concurrently

revision: str = "000000000006"
down_revision: str | None = "000000000005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

EMBEDDING_DIMENSIONS = 384
# processing_stage as revision 000000000002 made it; downgrade goes back to exactly this
STAGES_BEFORE = (
    "ingest", "validation", "metadata", "audio_extraction", "frame_extraction",
    "transcription", "analysis", "finalize",
)  # fmt: skip


# name, table, columns, keyword arguments; built CONCURRENTLY like every revision's
INDEXES: tuple[tuple[str, str, list[str], dict[str, object]], ...] = (
    ("ix_search_moment_tsv", "search_moment", ["tsv"], {"using": "gin"}),
    ("ix_search_moment_media_file", "search_moment", ["media_file_id", "start_s"], {}),
    ("ix_search_moment_transcription", "search_moment", ["transcription_id"], {}),
    ("ix_search_moment_analysis_result", "search_moment", ["analysis_result_id"], {}),
    (
        "ix_search_word_trgm", "search_word", ["word"],
        {"using": "gin", "ops": {"word": "gin_trgm_ops"}},
    ),
)  # fmt: skip


def _has_pgvector() -> bool:
    if op.get_context().as_sql:  # offline SQL: emit the guarded form below
        return True
    bind = op.get_bind()
    return bool(
        bind.execute(
            sa.text("SELECT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'vector')")
        ).scalar()
    )


def upgrade() -> None:
    # ADD VALUE cannot be used in the transaction that adds it; nothing here uses it
    op.execute("ALTER TYPE processing_stage ADD VALUE IF NOT EXISTS 'indexing' BEFORE 'finalize'")

    op.create_table(
        "search_moment",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), primary_key=True),
        sa.Column(
            "media_file_id", postgresql.UUID(as_uuid=True),
            sa.ForeignKey("media_file.id", ondelete="CASCADE"), nullable=False,
        ),
        sa.Column(
            "transcription_id", postgresql.UUID(as_uuid=True),
            sa.ForeignKey("transcription.id", ondelete="CASCADE"),
        ),
        sa.Column(
            "analysis_result_id", postgresql.UUID(as_uuid=True),
            sa.ForeignKey("analysis_result.id", ondelete="CASCADE"),
        ),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("provider", sa.Text(), nullable=False),
        sa.Column("analysis_type", sa.Text(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("start_s", sa.Double()),
        sa.Column("end_s", sa.Double()),
        sa.Column("speaker", sa.Text()),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column(
            "tsv", postgresql.TSVECTOR(),
            sa.Computed("to_tsvector('english'::regconfig, text)", persisted=True),
            nullable=False,
        ),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), nullable=False,
            server_default=sa.text("now()"),
        ),
        sa.CheckConstraint(
            "kind IN ('speech', 'text', 'label')", name="ck_search_moment_kind"
        ),
        sa.CheckConstraint(
            "num_nonnulls(transcription_id, analysis_result_id) = 1",
            name="ck_search_moment_one_source",
        ),
        sa.CheckConstraint("end_s IS NULL OR start_s <= end_s", name="ck_search_moment_span"),
    )  # fmt: skip
    op.create_table(
        "search_word",
        sa.Column("word", sa.Text(), primary_key=True),
        sa.Column("moments", sa.Integer(), nullable=False, server_default=sa.text("0")),
    )
    if _has_pgvector():
        # created with its (empty) table: a DO block cannot build CONCURRENTLY, and no
        # writer knows the table yet
        op.execute(
            "DO $$ BEGIN "
            "IF EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'vector') THEN "
            "CREATE EXTENSION IF NOT EXISTS vector; "
            "CREATE TABLE search_embedding ("
            "moment_id bigint PRIMARY KEY REFERENCES search_moment (id) ON DELETE CASCADE, "
            "model text NOT NULL, "
            f"embedding vector({EMBEDDING_DIMENSIONS}) NOT NULL); "
            "CREATE INDEX ix_search_embedding_hnsw ON search_embedding "
            "USING hnsw (embedding vector_cosine_ops); "
            "END IF; END $$"
        )
    for name, table, columns, kwargs in INDEXES:
        create_index_concurrently(name, table, columns, **kwargs)


def downgrade() -> None:
    # Same statements as the manual rollback in docs/ROLLBACK.md (which drops the
    # tables with their indexes; here the indexes go first, without blocking writers).
    for name, *_ in reversed(INDEXES):
        drop_index_concurrently(name)
    op.execute("DROP TABLE IF EXISTS search_embedding")
    op.execute("DROP EXTENSION IF EXISTS vector")
    op.execute("DROP TABLE IF EXISTS search_word")
    op.execute("DROP TABLE IF EXISTS search_moment")
    # PostgreSQL cannot drop an enum value: the type is made again without it. The log
    # rows of the indexing step go first (their stage would not exist any more).
    op.execute("DELETE FROM processing_log WHERE stage = 'indexing'")
    op.execute("ALTER TYPE processing_stage RENAME TO processing_stage_old")
    labels = ", ".join(f"'{s}'" for s in STAGES_BEFORE)
    op.execute(f"CREATE TYPE processing_stage AS ENUM ({labels})")
    op.execute(
        "ALTER TABLE processing_log ALTER COLUMN stage TYPE processing_stage "
        "USING stage::text::processing_stage"
    )
    op.execute("DROP TYPE processing_stage_old")
