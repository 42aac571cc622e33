"""API keys for `mediaflow serve`: the api_key table (hashes only, never the key).

Revision ID: 000000000005
Revises: 000000000004
Create Date: 2026-11-25

A new, empty table: created inside the migration's transaction. The key itself is
shown once by `mediaflow keys create`; the table keeps its SHA-256 (the keys are
random 256-bit tokens, so a fast hash cannot be brute-forced) and a short prefix
that `mediaflow keys list` shows to tell keys apart.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "000000000005"
down_revision: str | None = "000000000004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "api_key",
        sa.Column(
            "id", postgresql.UUID(as_uuid=True), primary_key=True,
            server_default=sa.text("gen_random_uuid()"),
        ),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("prefix", sa.String(16), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), nullable=False,
            server_default=sa.text("now()"),
        ),
        sa.Column("last_used_at", sa.DateTime(timezone=True)),
        sa.Column("revoked_at", sa.DateTime(timezone=True)),
        sa.UniqueConstraint("key_hash", name="uq_api_key_key_hash"),
        sa.CheckConstraint("char_length(key_hash) = 64", name="ck_api_key_key_hash_sha256"),
    )  # fmt: skip


def downgrade() -> None:
    # Same statement as the manual rollback in docs/ROLLBACK.md.
    op.drop_table("api_key")
