"""Verify a live database against what its alembic revision should have produced.

The expected schema of every revision is a catalog snapshot kept next to the
migrations (``migrations/schema/<revision>.json``, ``base.json`` for none), written
by ``verify_migrations.py --write-snapshots`` and checked against real upgrades by
the test suite on PostgreSQL 15 and 18.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from mediaflow.db import migrate
from mediaflow.db.catalog import Snapshot, diff_snapshots, take_snapshot
from mediaflow.db.session import translate_db_errors


@dataclass
class VerifyReport:
    """The outcome of a verification: differences fail it, notes do not."""

    revision: str | None
    differences: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when no difference was found."""
        return not self.differences


def snapshots_dir() -> Path:
    """Where the expected snapshots live."""
    return migrate.project_root() / "migrations" / "schema"


def _snapshot_path(revision: str | None) -> Path:
    return snapshots_dir() / f"{revision or 'base'}.json"


def expected_snapshot(revision: str | None) -> Snapshot:
    """The schema revision ``revision`` (None: no revision) should have produced."""
    path = _snapshot_path(revision)
    return dict(json.loads(path.read_text()))


def live_snapshot(url: str) -> Snapshot:
    """Read the schema of the database at ``url``."""
    engine = sa.create_engine(url, poolclass=NullPool)
    try:
        with translate_db_errors(url), engine.connect() as connection:
            return take_snapshot(connection)
    finally:
        engine.dispose()


def check(url: str) -> VerifyReport:
    """Compare the live database with the snapshot of its recorded alembic revision."""
    actual = live_snapshot(url)
    revision = actual["alembic_version"]
    known = migrate.revisions_in_order()
    report = VerifyReport(revision=revision)
    if revision is not None and revision not in known:
        report.differences.append(
            f"alembic version: {revision} is not a known revision (known: {', '.join(known)})"
        )
        return report
    report.differences = diff_snapshots(expected_snapshot(revision), actual)
    if report.differences:
        # Say so when the schema is exactly that of another revision: a wrong stamp.
        for other in [None, *known]:
            if other == revision:
                continue
            candidate = expected_snapshot(other)
            candidate["alembic_version"] = revision
            if not diff_snapshots(candidate, actual):
                report.differences.insert(
                    0,
                    f"alembic version: the database records {revision or 'no revision'} but its "
                    f"schema is that of {other or 'base'} (fix with `stamp {other or 'base'}`)",
                )
                break
    head = known[-1]
    if revision != head:
        report.notes.append(f"database at {revision or 'base'}; head is {head}")
    return report


@contextmanager
def scratch_database(url: str) -> Iterator[str]:
    """Create an empty database beside ``url``'s, yield its URL, drop it afterwards."""
    name = f"mediaflow_verify_{secrets.token_hex(4)}"
    admin = sa.create_engine(url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    with translate_db_errors(url), admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def round_trip(url: str) -> VerifyReport:
    """On a scratch database: upgrade step by step, downgrade step by step, upgrade again.

    Every step's schema is compared with its expected snapshot, and the schema after
    the second upgrade with the one after the first.
    """
    revisions = migrate.revisions_in_order()
    report = VerifyReport(revision=revisions[-1])

    def compare(step: str, revision: str | None, scratch: str) -> Snapshot:
        actual = live_snapshot(scratch)
        for line in diff_snapshots(expected_snapshot(revision), actual):
            report.differences.append(f"{step}: {line}")
        return actual

    with scratch_database(url) as scratch:
        for revision in revisions:
            migrate.upgrade(revision, scratch)
            first = compare(f"upgrade {revision}", revision, scratch)
        for previous in [*reversed(revisions[:-1]), None]:
            migrate.downgrade(previous or "base", scratch)
            compare(f"downgrade {previous or 'base'}", previous, scratch)
        migrate.upgrade("head", scratch)
        again = compare("upgrade head again", revisions[-1], scratch)
        for line in diff_snapshots(first, again):
            report.differences.append(f"upgrade -> downgrade -> upgrade: {line}")
    return report


def write_snapshots(url: str) -> list[Path]:
    """Rebuild every expected snapshot from real upgrades on a scratch database."""
    written: list[Path] = []
    snapshots_dir().mkdir(parents=True, exist_ok=True)
    with scratch_database(url) as scratch:
        for revision in [None, *migrate.revisions_in_order()]:
            if revision is not None:
                migrate.upgrade(revision, scratch)
            path = _snapshot_path(revision)
            path.write_text(json.dumps(live_snapshot(scratch), indent=2, sort_keys=True) + "\n")
            written.append(path)
    return written
