"""The embedded PostgreSQL's pgvector runs on this CPU, whatever it is (make setup built it)."""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from mediaflow.db import pgvector
from mediaflow.db.session import Database
from tests.migration.helpers import run_sql


def test_setup_replaced_the_avx512_build_with_one_for_any_cpu() -> None:
    shipped = pgvector.shipped_library()
    assert shipped is not None
    library, digest = shipped
    assert hashlib.sha256(library.read_bytes()).hexdigest() != digest, (
        "vector.so is still the wheel's -march=native build: run scripts/build_pgvector.sh"
    )
    if shutil.which("objdump") is None:
        pytest.skip("objdump is needed to read the instructions")
    listing = subprocess.run(
        ["objdump", "-d", str(library)], capture_output=True, text=True, check=True, timeout=120
    ).stdout
    # AVX-512 (zmm registers) only where pgvector chooses it at run time, after cpuid
    function, users = "", set()
    for line in listing.splitlines():
        if found := re.match(r"^[0-9a-f]+ <(.+)>:$", line):
            function = found.group(1)
        elif "%zmm" in line:
            users.add(function)
    assert users, "expected pgvector's run-time AVX-512 popcount functions"
    assert all("Avx512" in name for name in users), sorted(users)


def test_vectors_are_stored_indexed_and_compared_on_the_embedded_server(head_db: str) -> None:
    engine = sa.create_engine(head_db, poolclass=NullPool)
    try:
        with engine.begin() as connection:
            if not connection.execute(sa.text("SELECT to_regclass('search_embedding')")).scalar():
                pytest.skip("this server has no pgvector (the service on this machine)")
            assert connection.execute(sa.text("SELECT vector_norm('[3,4]'::vector)")).scalar() == 5
            # an insert into the HNSW index runs vector_norm on the stored vector
            connection.execute(sa.text(
                "CREATE TEMP TABLE v (e vector(3)); "
                "CREATE INDEX ON v USING hnsw (e vector_cosine_ops); "
                "INSERT INTO v VALUES ('[1,0,0]'), ('[0,1,0]'), ('[1,1,0]')"
            ))  # fmt: skip
            nearest = connection.execute(
                sa.text("SELECT e::text FROM v ORDER BY e <=> '[1,0.1,0]' LIMIT 1")
            ).scalar()
            assert nearest == "[1,0,0]"
    finally:
        engine.dispose()
    assert pgvector.server_problem(Database(head_db)) is None


def test_a_user_that_may_not_read_pg_config_is_not_judged_and_not_asked_twice(
    head_db: str,
) -> None:
    run_sql(
        head_db,
        ["DO $$ BEGIN CREATE ROLE mftest_pgvector_reader LOGIN; "
         "EXCEPTION WHEN duplicate_object THEN NULL; END $$"],
    )  # fmt: skip
    url = make_url(head_db).set(username="mftest_pgvector_reader")
    db = Database(url.render_as_string(hide_password=False))
    statements: list[str] = []
    sa.event.listen(db.engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    try:
        assert pgvector.server_problem(db) is None
        assert pgvector.server_problem(db) is None
    finally:
        db.dispose()
    assert sum("pg_config" in s for s in statements) == 1
