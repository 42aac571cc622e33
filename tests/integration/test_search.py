"""Search on real analysis output: pg_trgm transcript search and JSONB containment."""

from __future__ import annotations

import json
import shutil
import subprocess
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.pool import NullPool

from mediaflow.errors import InvalidInput
from mediaflow.pipeline.ingest import ingest
from mediaflow.pipeline.runner import run_job
from mediaflow.runtime import Runtime
from mediaflow.services.search import result_query, search, transcript_query
from tests.acceptance.cli import mediaflow
from tests.conftest import make_runtime

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
# cheap providers only: the tiny Whisper model and OCR
PROVIDERS = ["faster_whisper", "rapidocr"]


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """The real ``mediaflow`` command; skipped until app.py registers ``search``."""
    done = mediaflow(*args, env=env, timeout=120)
    if "No such command 'search'" in done.stderr:
        pytest.skip("`search` is not registered in mediaflow.cli.app yet")
    return done


def analyzed_job(runtime: Runtime, tmp_path: Path) -> uuid.UUID:
    """speech.mp3 and text_image.png, ingested and analyzed with ``runtime``."""
    folder = tmp_path / "in"
    folder.mkdir()
    for sample in ("speech.mp3", "text_image.png"):
        shutil.copy(SAMPLES / sample, folder / sample)
    result = ingest(runtime, [folder], name="search", providers=PROVIDERS)
    run_job(runtime, result.job_id)
    return result.job_id


def _duration(url: str, name: str) -> float:
    engine = sa.create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            return float(
                connection.execute(
                    sa.text("SELECT duration_s FROM media_file WHERE original_name = :n"),
                    {"n": name},
                ).scalar_one()
            )
    finally:
        engine.dispose()


@pytest.mark.slow
def test_transcript_and_result_search(head_db: str, runtime: Runtime, tmp_path: Path) -> None:
    analyzed_job(runtime, tmp_path)
    duration = _duration(head_db, "speech.mp3")

    # exact phrase: a literal match scores 1 and points at the segment that says it
    hits = search(runtime, "speech recognition")
    assert [h.original_name for h in hits] == ["speech.mp3"]
    hit = hits[0]
    assert hit.kind == "transcript" and hit.provider == "faster_whisper"
    assert hit.score == 1.0
    assert hit.start_s is not None and hit.end_s is not None
    assert 0.0 <= hit.start_s < hit.end_s <= duration + 0.5
    assert "recognition" in hit.snippet.lower()

    # misspelled: found by trigram word similarity alone
    fuzzy = search(runtime, "speach recogniton")
    assert [h.original_name for h in fuzzy] == ["speech.mp3"]
    assert 0.0 < fuzzy[0].score < 1.0

    assert search(runtime, "zebra xylophone quartz") == []

    # OCR words by containment, as --word and as a JSON document
    by_word = search(runtime, word="INVOICE")
    assert [(h.kind, h.original_name, h.analysis_type) for h in by_word] == [
        ("result", "text_image.png", "ocr")
    ]
    assert "INVOICE" in by_word[0].snippet
    assert search(runtime, contains={"words": ["invoice"]}) == by_word
    assert search(runtime, contains={"words": ["nothing-like-this"]}) == []

    # filters exclude: provider, type, status, created range
    assert search(runtime, "speech recognition", provider="rapidocr") == []
    assert search(runtime, word="invoice", provider="faster_whisper") == []
    assert search(runtime, word="invoice", provider="rapidocr") == by_word
    assert search(runtime, word="invoice", analysis_type="faces") == []
    assert search(runtime, "speech recognition", status="failed") == []
    assert search(runtime, "speech recognition", status="completed") == hits
    tomorrow = datetime.now(UTC) + timedelta(days=1)
    assert search(runtime, "speech recognition", since=tomorrow) == []
    assert search(runtime, word="invoice", until=datetime(2000, 1, 1)) == []
    assert search(runtime, word="invoice", since=datetime(2000, 1, 1), until=tomorrow)

    # the command prints the hit, as a table and as JSON lines
    # wide enough that Rich does not wrap the table cells
    env = {"MEDIAFLOW_DATABASE_URL": head_db, "COLUMNS": "200"}
    shown = _cli("search", "speech recognition", env=env)
    assert shown.returncode == 0, shown.stderr
    assert "speech.mp3" in shown.stdout and "00:0" in shown.stdout
    as_json = _cli("search", "--word", "invoice", "--json", env=env)
    assert as_json.returncode == 0, as_json.stderr
    lines = [json.loads(line) for line in as_json.stdout.splitlines()]
    assert [(d["original_name"], d["kind"]) for d in lines] == [("text_image.png", "result")]


def test_containment_query_uses_the_gin_index(head_db: str) -> None:
    built = result_query({"words": ["invoice"]}, provider="rapidocr")
    assert built is not None
    sql, params = built
    engine = sa.create_engine(head_db, poolclass=NullPool)
    try:
        with engine.begin() as connection:
            # tiny tables: without this the planner rightly prefers a sequential scan
            connection.execute(sa.text("SET LOCAL enable_seqscan = off"))
            plan = connection.execute(sa.text("EXPLAIN " + sql), params).scalars().all()
    finally:
        engine.dispose()
    assert "ix_analysis_result_result_gin" in "\n".join(plan)


def test_transcript_query_uses_the_trigram_index(head_db: str) -> None:
    # Revision 000000000004's ix_transcription_text_trgm. The partial indexes on
    # is_active are dropped in this (scratch) database only: on tiny tables the planner
    # rightly prefers them, and the point here is that the text predicates (ILIKE, <%)
    # are answered by the migration's gin_trgm_ops index.
    built = transcript_query("speach recogniton")
    assert built is not None
    sql, params = built
    engine = sa.create_engine(head_db, poolclass=NullPool)
    try:
        with engine.begin() as connection:
            for statement in (
                "DROP INDEX ix_transcription_provider_active",
                "DROP INDEX uq_transcription_active",
                "SET LOCAL enable_seqscan = off",
                # nor a full walk of some unrelated btree (which has no condition)
                "SET LOCAL enable_indexscan = off",
            ):
                connection.execute(sa.text(statement))
            plan = "\n".join(connection.execute(sa.text("EXPLAIN " + sql), params).scalars())
    finally:
        engine.dispose()
    assert "Bitmap Index Scan on ix_transcription_text_trgm" in plan, plan
    assert "~~*" in plan and "%>" in plan  # both halves of the OR go through the index


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        ((), {}, "nothing to search for"),
        (("  ",), {}, "nothing to search for"),
        (("x",), {"limit": 0}, "limit must be between"),
        (("x",), {"limit": 100_000}, "limit must be between"),
        (("x",), {"provider": "nope"}, "unknown provider 'nope'"),
        (("x",), {"status": "done"}, "unknown status 'done'"),
        ((), {"contains": {}}, "non-empty JSON object"),
        ((), {"word": " "}, "word must not be empty"),
    ],
)
def test_bad_input_is_refused_before_the_database(
    args: tuple[str, ...], kwargs: dict[str, object], message: str, tmp_path: Path
) -> None:
    # an unreachable URL: validation must fail first, with a clear message
    unreachable = "postgresql+psycopg://nobody@127.0.0.1:1/none"
    with make_runtime(unreachable, tmp_path) as runtime, pytest.raises(InvalidInput, match=message):
        search(runtime, *args, **kwargs)  # type: ignore[arg-type]


def test_cli_bad_json_is_a_one_line_error() -> None:
    env = {"MEDIAFLOW_DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:1/none"}
    done = _cli("search", "--contains", "{not json", env=env)
    assert done.returncode == 65
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and "not valid JSON" in lines[0]
    assert "Traceback" not in done.stderr + done.stdout
