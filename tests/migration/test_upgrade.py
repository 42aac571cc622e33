"""At head: every object the seed names exists, as the seed means it."""

from __future__ import annotations

from mediaflow.db import migrate
from tests.migration.helpers import run_sql, snapshot
from tests.migration.rollback_doc import names_dropped, sql_block_after

REV2_SQL = sql_block_after("#### Rollback Migration 000000000002")
REV1_SQL = sql_block_after("#### Rollback Migration 000000000001")


def _section(sql: str, comment: str) -> str:
    part = sql.split(comment, 1)[1]
    return part.split("\n--", 1)[0]


def test_seed_names_read_from_the_doc() -> None:
    # Guards the parsing itself: the doc really lists the seed's 11 indexes, 5 tables, 8 types.
    assert len(names_dropped(REV2_SQL, "INDEX")) == 11
    assert names_dropped(REV1_SQL, "TABLE") == [
        "transcription", "analysis_result", "media_file", "analysis_job",
    ]  # fmt: skip
    assert len(names_dropped(REV1_SQL, "TYPE") + names_dropped(REV2_SQL, "TYPE")) == 8


def test_head_has_every_seed_object(head_db: str) -> None:
    snap = snapshot(head_db)
    tables = names_dropped(REV1_SQL, "TABLE") + names_dropped(REV2_SQL, "TABLE")
    types = names_dropped(REV1_SQL, "TYPE") + names_dropped(REV2_SQL, "TYPE")
    indexes = names_dropped(REV2_SQL, "INDEX")
    # the task queue's tables and types (revision 3) all start with procrastinate_;
    # api_key is revision 5's, the search_* tables revision 6's; person and face revision 8's
    ours = [
        t
        for t in snap["tables"]
        if not t.startswith(("procrastinate_", "search_"))
        and t not in ("api_key", "media_keyframe", "person", "face")
    ]
    assert sorted(tables) == sorted(ours)
    assert "api_key" in snap["tables"]
    assert snap["indexes"]["ix_transcription_text_trgm"]["opclasses"] == ["gin_trgm_ops"]
    assert sorted(types) == sorted(e for e in snap["enums"] if not e.startswith("procrastinate_"))
    assert set(indexes) <= set(snap["indexes"])
    assert "pg_trgm" in snap["extensions"]
    assert snap["alembic_version"] == migrate.head_revision() == migrate.revisions_in_order()[-1]
    assert all(index["valid"] for index in snap["indexes"].values())


def test_gin_partial_and_composite_indexes_are_what_they_say(head_db: str) -> None:
    idx = snapshot(head_db)["indexes"]
    for name in names_dropped(_section(REV2_SQL, "-- Drop GIN indexes"), "INDEX"):
        assert idx[name]["method"] == "gin", name
    partial = names_dropped(_section(REV2_SQL, "-- Drop partial indexes"), "INDEX")
    assert len(partial) == 4
    for name in partial:
        assert idx[name]["predicate"], f"{name} has no WHERE predicate"
    assert "is_active" in idx["ix_analysis_result_provider_active"]["predicate"]
    assert "'running'" in idx["ix_analysis_job_status_active"]["predicate"]
    composite = names_dropped(_section(REV2_SQL, "-- Drop composite indexes"), "INDEX")
    assert {name: idx[name]["columns"] for name in composite} == {
        "ix_analysis_job_status_created": ["status", "created_at"],
        "ix_analysis_result_job_provider": ["job_id", "provider"],
        "ix_transcription_job_provider": ["job_id", "provider"],
    }
    for name in composite:
        assert idx[name]["method"] == "btree"
    # containment search uses the smaller jsonb_path_ops operator class
    assert idx["ix_analysis_result_result_gin"]["opclasses"] == ["jsonb_path_ops"]


def test_uuid_defaults_use_gen_random_uuid(head_db: str) -> None:
    columns = snapshot(head_db)["tables"]["analysis_job"]["columns"]
    assert columns["id"]["default"] == "gen_random_uuid()"
    run_sql(head_db, ["INSERT INTO analysis_job (name) VALUES ('a'), ('b')"])


def test_unique_active_result_per_file_provider_type(head_db: str) -> None:
    import pytest
    import sqlalchemy as sa

    run_sql(
        head_db,
        [
            "INSERT INTO analysis_job (id, name) VALUES ('00000000-0000-0000-0000-000000000001', 'j')",
            "INSERT INTO media_file (id, job_id, original_name) VALUES "
            "('00000000-0000-0000-0000-000000000002', '00000000-0000-0000-0000-000000000001', 'a')",
        ],
    )
    insert = (
        "INSERT INTO analysis_result (job_id, media_file_id, provider, analysis_type, is_active) "
        "VALUES ('00000000-0000-0000-0000-000000000001', '00000000-0000-0000-0000-000000000002', "
        "'rapidocr', 'ocr', {active})"
    )
    run_sql(head_db, [insert.format(active="false"), insert.format(active="true")])
    with pytest.raises(sa.exc.IntegrityError, match="uq_analysis_result_active"):
        run_sql(head_db, [insert.format(active="true")])
