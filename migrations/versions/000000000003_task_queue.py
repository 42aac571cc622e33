"""Task queue: procrastinate 3.10.0's schema (jobs, events, workers, its functions and triggers).

Revision ID: 000000000003
Revises: 000000000002
Create Date: 2026-11-25

The SQL is a frozen copy of the schema.sql shipped in procrastinate 3.10.0
(migrations/sql/000000000003_procrastinate_3.10.0_schema.sql): this revision must
produce the same schema whatever procrastinate version is installed later. Moving to
a newer procrastinate means a new revision that applies its migration files.
"""

from collections.abc import Sequence
from pathlib import Path

import sqlalchemy as sa
from alembic import op

revision: str = "000000000003"
down_revision: str | None = "000000000002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA_SQL = (
    Path(__file__).resolve().parents[1] / "sql" / "000000000003_procrastinate_3.10.0_schema.sql"
)

# The same statements as the manual rollback of 000000000003 in docs/ROLLBACK.md.
DOWNGRADE_SQL = """
DROP TABLE IF EXISTS procrastinate_events CASCADE;
DROP TABLE IF EXISTS procrastinate_periodic_defers CASCADE;
DROP TABLE IF EXISTS procrastinate_jobs CASCADE;
DROP TABLE IF EXISTS procrastinate_workers CASCADE;
DO $$
DECLARE f record;
BEGIN
    FOR f IN
        SELECT p.oid::regprocedure AS signature FROM pg_proc p
        JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE n.nspname = current_schema() AND p.proname LIKE 'procrastinate\\_%'
    LOOP
        EXECUTE 'DROP FUNCTION IF EXISTS ' || f.signature || ' CASCADE';
    END LOOP;
END $$;
DROP TYPE IF EXISTS procrastinate_job_to_defer_v1 CASCADE;
DROP TYPE IF EXISTS procrastinate_job_event_type CASCADE;
DROP TYPE IF EXISTS procrastinate_job_status CASCADE;
"""


def _run(sql: str) -> None:
    if op.get_context().as_sql:
        op.execute(sa.text(sql))
    else:
        # exec_driver_sql: no bind-parameter parsing of the PL/pgSQL bodies; psycopg
        # still reads % as a placeholder, so double it (as procrastinate does)
        op.get_bind().exec_driver_sql(sql.replace("%", "%%"))


def upgrade() -> None:
    _run(SCHEMA_SQL.read_text(encoding="utf-8"))


def downgrade() -> None:
    _run(DOWNGRADE_SQL)
