"""Transcript text search: a pg_trgm GIN index on transcription.text.

Revision ID: 000000000004
Revises: 000000000003
Create Date: 2026-11-25

`mediaflow search` matches transcript text with ILIKE and pg_trgm's word similarity
(`<%`); both are operators of gin_trgm_ops, so this index answers them. The table may
hold many transcripts: the index is built CONCURRENTLY (writers are not blocked), and
a failed build is detected, named and resumable like revision 000000000002's.
"""

from collections.abc import Sequence

from mediaflow.db.ddl import create_index_concurrently, drop_index_concurrently

revision: str = "000000000004"
down_revision: str | None = "000000000003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEX = "ix_transcription_text_trgm"


def upgrade() -> None:
    create_index_concurrently(
        INDEX, "transcription", ["text"], using="gin", ops={"text": "gin_trgm_ops"}
    )


def downgrade() -> None:
    # Same statement as the manual rollback in docs/ROLLBACK.md, without the lock.
    drop_index_concurrently(INDEX)
