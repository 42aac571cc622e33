"""Keyframes: one thumbnail per shot of a video, stored with the originals.

Revision ID: 000000000007
Revises: 000000000006
Create Date: 2026-11-26

``media_keyframe``: for each shot the frame sampler found in a video, its span, the
time of its chosen frame (the sharpest near the shot's start), and the content-store
key (sha256) of a small JPEG of it. A new, empty table: created inside the migration's
transaction, like revision 5's.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "000000000007"
down_revision: str | None = "000000000006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "media_keyframe",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), primary_key=True),
        sa.Column(
            "media_file_id", postgresql.UUID(as_uuid=True),
            sa.ForeignKey("media_file.id", ondelete="CASCADE"), nullable=False,
        ),
        sa.Column("shot", sa.Integer(), nullable=False),
        sa.Column("start_s", sa.Double(), nullable=False),
        sa.Column("end_s", sa.Double(), nullable=False),
        sa.Column("timestamp_s", sa.Double(), nullable=False),
        sa.Column("storage_key", sa.String(64), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("sharpness", sa.Double()),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), nullable=False,
            server_default=sa.text("now()"),
        ),
        sa.UniqueConstraint("media_file_id", "shot", name="uq_media_keyframe_shot"),
        sa.CheckConstraint(
            "start_s <= timestamp_s AND timestamp_s <= end_s", name="ck_media_keyframe_span"
        ),
    )  # fmt: skip


def downgrade() -> None:
    # Same statement as the manual rollback in docs/ROLLBACK.md.
    op.drop_table("media_keyframe")
