"""The search subsystem on real PostgreSQL (15 without pgvector, 18 with it).

Transcripts are written through the pipeline's own writer (``save_transcription``),
with sentences chosen here, so that relevance is asserted on known text; one test
runs the real pipeline on the bundled samples end to end.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from mediaflow.db import pgvector
from mediaflow.db.enums import AnalysisProvider, TranscriptionProvider
from mediaflow.errors import FeatureUnavailable, InvalidInput
from mediaflow.pipeline.ingest import ingest
from mediaflow.pipeline.records import save_analysis, save_transcription
from mediaflow.pipeline.runner import run_job
from mediaflow.providers.base import AnalysisOutput, Segment, TranscriptOutput
from mediaflow.runtime import Runtime
from mediaflow.search import search
from mediaflow.search.index import embed_pending, reindex, semantic_status
from mediaflow.search.query import SearchFilters, lexical_sql, semantic_sql
from tests import media_factory as mf
from tests.acceptance.cli import mediaflow
from tests.conftest import make_runtime
from tests.migration.helpers import query, run_sql

SAMPLES = Path(__file__).resolve().parents[2] / "samples"

CLIPS = {
    "garage.mp4": ["Welcome back to the channel.", "Today I am repairing the engine of my automobile."],
    "kitchen.mp4": ["The recipe needs two cups of flour.", "Bake it for forty minutes."],
    "news.mp4": ["Stock markets fell sharply today.", "The quick brown fox jumps over the lazy dog."],
    "cat.mp4": ["A cat sleeps on the warm windowsill.", "The brown dog barks at the quick mailman."],
}  # fmt: skip

AddMedia = Callable[[str], uuid.UUID]


@pytest.fixture
def add_media(runtime: Runtime, tmp_path: Path) -> AddMedia:
    """A media file row (of a real, tiny image) named ``name``; returns its id."""

    def add(name: str) -> uuid.UUID:
        path = mf.make_text_image(tmp_path / f"{uuid.uuid4().hex}.png", name)
        result = ingest(runtime, [path], names=[name], name=name)
        return result.media_file_ids[0]

    return add


def _say(runtime: Runtime, media_file_id: uuid.UUID, sentences: list[str]) -> uuid.UUID:
    """Store a transcript of ``sentences`` (2 s each) the way the pipeline does."""
    segments = [
        Segment(start=2.0 * i, end=2.0 * i + 1.8, text=text, confidence=0.9)
        for i, text in enumerate(sentences)
    ]
    output = TranscriptOutput(
        text=" ".join(sentences), segments=segments, language="en", confidence=0.9, model="t"
    )
    with runtime.db.session() as session:
        job_id = session.execute(
            sa.text("SELECT job_id FROM media_file WHERE id = :id"), {"id": media_file_id}
        ).scalar_one()
        row = save_transcription(
            session, job_id=job_id, media_file_id=media_file_id,
            provider=TranscriptionProvider.FASTER_WHISPER, output=output, latency_ms=1,
        )  # fmt: skip
        return row.id


def _show(runtime: Runtime, media_file_id: uuid.UUID, frames: list[tuple[float, str]]) -> None:
    """Store an OCR result with one text per frame time, as RapidOCR's provider does."""
    result = {
        "frames": [
            {"index": i, "timestamp_s": t, "width": 640, "height": 360,
             "lines": [{"text": text, "confidence": 0.99, "box": [[0, 0], [1, 0], [1, 1], [0, 1]]}]}
            for i, (t, text) in enumerate(frames)
        ],
        "text": "\n".join(dict.fromkeys(text for _, text in frames)),
        "words": sorted({w.lower() for _, text in frames for w in text.split()}),
    }  # fmt: skip
    with runtime.db.session() as session:
        job_id = session.execute(
            sa.text("SELECT job_id FROM media_file WHERE id = :id"), {"id": media_file_id}
        ).scalar_one()
        save_analysis(
            session, job_id=job_id, media_file_id=media_file_id,
            provider=AnalysisProvider.RAPIDOCR,
            output=AnalysisOutput("ocr", result, model="t"), latency_ms=1,
        )  # fmt: skip


@pytest.fixture
def library(runtime: Runtime, add_media: AddMedia) -> dict[str, uuid.UUID]:
    files = {name: add_media(name) for name in CLIPS}
    for name, sentences in CLIPS.items():
        _say(runtime, files[name], sentences)
    _show(
        runtime,
        files["kitchen.mp4"],
        [(0.0, "FLOUR 500 G"), (2.0, "FLOUR 500 G"), (4.0, "OVEN 180")],
    )
    # as the pipeline leaves them (it is not run here: the transcripts are written above)
    with runtime.db.session() as session:
        session.execute(sa.text("UPDATE media_file SET media_type = 'video', status = 'completed'"))
    if _semantic_here(runtime):  # what the pipeline's indexing stage does after analysis
        embed_pending(runtime.db, runtime.embedder)
    return files


def _names(hits: object) -> list[str]:
    return [h.original_name for h in hits]  # type: ignore[attr-defined]


def _semantic_here(runtime: Runtime) -> bool:
    return semantic_status(runtime.db, runtime.embedder).available


# -- words ----------------------------------------------------------------------------------


def test_words_find_the_moment_with_its_time_and_marks(
    runtime: Runtime, library: dict[str, uuid.UUID]
) -> None:
    hits = search("engine", mode="lexical", runtime=runtime)
    assert _names(hits) == ["garage.mp4"]
    hit = hits[0]
    assert (hit.kind, hit.provider, hit.analysis_type) == (
        "speech",
        "faster_whisper",
        "transcription",
    )
    assert (hit.start_s, hit.end_s) == (2.0, 3.8)  # the second segment, not the file
    assert hit.text == "Today I am repairing the engine of my automobile."
    assert [hit.snippet[a:b] for a, b in hit.highlights] == ["engine"]
    # stemming: "repairs" finds "repairing"
    assert _names(search("repairs", mode="lexical", runtime=runtime)) == ["garage.mp4"]


def test_phrases_exclusion_and_or(runtime: Runtime, library: dict[str, uuid.UUID]) -> None:
    # both words: two clips have "quick" and "brown" (in different orders)
    assert sorted(_names(search("quick brown", mode="lexical", runtime=runtime))) == [
        "cat.mp4", "news.mp4",
    ]  # fmt: skip
    # the phrase: only the clip that says them together
    phrase = search('"quick brown fox"', mode="lexical", runtime=runtime)
    assert _names(phrase) == ["news.mp4"]
    assert [phrase[0].snippet[a:b] for a, b in phrase[0].highlights] == ["quick", "brown", "fox"]
    # exclusion
    assert _names(search("quick -fox", mode="lexical", runtime=runtime)) == ["cat.mp4"]
    # or
    either = search("flour or windowsill", mode="lexical", runtime=runtime)
    assert sorted((h.original_name, h.kind) for h in either) == [
        ("cat.mp4", "speech"), ("kitchen.mp4", "speech"), ("kitchen.mp4", "text"),
    ]  # fmt: skip
    assert search("zebra xylophone", mode="lexical", runtime=runtime).hits == []


def test_on_screen_text_is_found_by_a_plain_query(
    runtime: Runtime, library: dict[str, uuid.UUID]
) -> None:
    hits = search("oven", mode="lexical", runtime=runtime)
    assert [(h.original_name, h.kind, h.analysis_type) for h in hits] == [
        ("kitchen.mp4", "text", "ocr")
    ]
    assert (hits[0].start_s, hits[0].text) == (4.0, "OVEN 180")
    # the same text over consecutive frames is one moment spanning them
    flour = search("flour", mode="lexical", runtime=runtime, kind="text")
    assert [(h.start_s, h.end_s, h.text) for h in flour] == [(0.0, 4.0, "FLOUR 500 G")]
    # speech and screen both say flour: the kind filter keeps one
    assert {h.kind for h in search("flour", mode="lexical", runtime=runtime)} == {"speech", "text"}


def test_a_misspelling_is_corrected_from_the_indexed_words(
    runtime: Runtime, library: dict[str, uuid.UUID]
) -> None:
    results = search("repairng automobil", mode="lexical", runtime=runtime)
    assert results.suggestion == "repairing automobile"
    assert results.corrected and _names(results) == ["garage.mp4"]
    # a word far from every indexed word is not "corrected" into another one
    far = search("segmentation", mode="lexical", runtime=runtime)
    assert far.suggestion is None and far.hits == []
    # correct words that simply do not occur together find nothing, suggest nothing
    together = search("engine flour", mode="lexical", runtime=runtime)
    assert together.hits == [] and together.suggestion is None


def test_filters_and_paging(runtime: Runtime, library: dict[str, uuid.UUID]) -> None:
    everything = search("the", mode="lexical", runtime=runtime, limit=50)
    assert everything.hits == []  # a stopword alone matches nothing in the english index
    dogs = search("dog or cat or flour", mode="lexical", runtime=runtime, limit=2)
    assert len(dogs) == 2 and dogs.next_offset == 2
    rest = search("dog or cat or flour", mode="lexical", runtime=runtime, limit=2, offset=2)
    seen = [h.moment_id for h in dogs] + [h.moment_id for h in rest]
    assert len(seen) == len(set(seen))  # pages do not repeat a moment
    assert (
        search("flour", mode="lexical", runtime=runtime, provider="rapidocr").hits[0].kind == "text"
    )
    assert (
        search("flour", mode="lexical", runtime=runtime, analysis_type="transcription")[0].kind
        == "speech"
    )
    assert search("flour", mode="lexical", runtime=runtime, media_type="audio").hits == []
    assert search("flour", mode="lexical", runtime=runtime, media_type="video").hits
    assert search("flour", mode="lexical", runtime=runtime, status="failed").hits == []
    tomorrow = datetime.now(UTC) + timedelta(days=1)
    assert search("flour", mode="lexical", runtime=runtime, since=tomorrow).hits == []
    grouped = search("flour", mode="lexical", runtime=runtime, group=True)
    assert [(h.original_name, h.moments) for h in grouped] == [("kitchen.mp4", 2)]


# -- meaning ----------------------------------------------------------------------------------


def test_meaning_finds_the_synonym_clip_first(
    runtime: Runtime, library: dict[str, uuid.UUID]
) -> None:
    if not _semantic_here(runtime):
        with pytest.raises(FeatureUnavailable, match=r"pgvector extension \(vector\)"):
            search("fixing a car", mode="semantic", runtime=runtime)
        words_only = search("fixing a car", runtime=runtime)  # hybrid: words alone, said so
        assert words_only.mode == "lexical" and "pgvector" in words_only.notes[0]
        return
    # no word in common: only meaning can find it
    assert search("fixing a car", mode="lexical", runtime=runtime).hits == []
    semantic = search("fixing a car", mode="semantic", runtime=runtime)
    assert semantic[0].original_name == "garage.mp4"
    assert semantic[0].text == "Today I am repairing the engine of my automobile."
    hybrid = search("fixing a car", runtime=runtime)
    assert hybrid.mode == "hybrid" and hybrid[0].moment_id == semantic[0].moment_id
    # words and meaning agree: the moment found by both comes first
    both = search("baking bread with flour", runtime=runtime)
    assert both[0].original_name == "kitchen.mp4"


def test_a_pgvector_that_would_crash_this_cpu_is_never_run(
    runtime: Runtime, library: dict[str, uuid.UUID], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The wheel's AVX-512 pgvector on a CPU without AVX-512: SIGILL would restart the
    server. Emulated here: this CPU's flags lack AVX-512 and the library on disk is taken
    for the shipped build; semantic search then says why it cannot run, and words work."""
    if not _semantic_here(runtime):
        pytest.skip("this server has no pgvector (the service on this machine)")
    shipped = pgvector.shipped_library()
    assert shipped is not None
    on_disk = shipped[0]
    digest = hashlib.sha256(on_disk.read_bytes()).hexdigest()
    monkeypatch.setattr(pgvector, "shipped_library", lambda: (on_disk, digest))
    monkeypatch.setattr(pgvector, "cpu_flags", lambda: frozenset({"sse4_2", "avx2"}))
    pgvector._judged.cache_clear()
    try:
        with pytest.raises(FeatureUnavailable, match="built for CPUs with AVX-512"):
            search("fixing a car", mode="semantic", runtime=runtime)
        words = search("flour", runtime=runtime)  # hybrid: words alone, said so
        assert words.mode == "lexical" and "AVX-512" in words.notes[0]
        assert set(_names(words)) == {"kitchen.mp4"}
    finally:
        pgvector._judged.cache_clear()


def test_explain_uses_the_search_indexes(runtime: Runtime, library: dict[str, uuid.UUID]) -> None:
    built = lexical_sql("flour", SearchFilters(), 20)
    assert built is not None
    with runtime.db.session() as session:
        session.execute(sa.text("SET LOCAL enable_seqscan = off"))
        plan = "\n".join(session.execute(sa.text("EXPLAIN " + built[0]), built[1]).scalars())
    assert "ix_search_moment_tsv" in plan, plan
    if not _semantic_here(runtime):
        return
    vector = "[" + ",".join(["0.05"] * 384) + "]"
    built = semantic_sql(vector, SearchFilters(), 20)
    assert built is not None
    with runtime.db.session() as session:
        session.execute(sa.text("SET LOCAL enable_seqscan = off"))
        plan = "\n".join(session.execute(sa.text("EXPLAIN " + built[0]), built[1]).scalars())
    assert "ix_search_embedding_hnsw" in plan, plan


# -- the index follows the data ------------------------------------------------------------------


def test_a_rerun_replaces_the_moments_and_a_delete_removes_them(
    head_db: str, runtime: Runtime, library: dict[str, uuid.UUID]
) -> None:
    garage = library["garage.mp4"]
    _say(runtime, garage, ["Now I am washing the windows."])  # supersedes the transcript
    assert search("engine", mode="lexical", runtime=runtime).hits == []
    assert _names(search("windows", mode="lexical", runtime=runtime)) == ["garage.mp4"]
    # only the active transcript's moments exist; the old row is kept, inactive
    assert query(
        head_db,
        "SELECT t.is_active, count(m.id) FROM transcription t "
        "LEFT JOIN search_moment m ON m.transcription_id = t.id "
        "WHERE t.media_file_id = :id GROUP BY t.is_active ORDER BY t.is_active",
        id=garage,
    ) == [(False, 0), (True, 1)]
    # the dictionary forgot "engine" (no moment has it), and knows "windows"
    words = dict(
        query(head_db, "SELECT word, moments FROM search_word WHERE word IN ('engine', 'windows')")
    )
    assert words == {"windows": 1}

    run_sql(head_db, [f"DELETE FROM media_file WHERE id = '{garage}'"])
    assert search("windows", mode="lexical", runtime=runtime).hits == []
    assert query(
        head_db, "SELECT count(*) FROM search_moment WHERE media_file_id = :id", id=garage
    ) == [(0,)]


def test_reindex_rebuilds_and_resumes(
    head_db: str, runtime: Runtime, library: dict[str, uuid.UUID]
) -> None:
    moments = query(head_db, "SELECT count(*) FROM search_moment")[0][0]
    assert moments == 10  # 8 sentences + 2 OCR blocks
    run_sql(head_db, ["DELETE FROM search_moment", "DELETE FROM search_word"])
    assert search("engine", mode="lexical", runtime=runtime).hits == []

    # stopped after the first batch of sources: nothing is lost, a second run finishes
    calls = 0

    def stop_after_first() -> bool:
        nonlocal calls
        calls += 1
        return calls > 1

    first = reindex(runtime.db, runtime.embedder, what="lexical", should_stop=stop_after_first)
    assert first.stopped and 0 < first.moments < moments
    second = reindex(runtime.db, runtime.embedder, what="all")
    assert not second.stopped and first.moments + second.moments == moments
    assert _names(search("engine", mode="lexical", runtime=runtime)) == ["garage.mp4"]
    assert query(head_db, "SELECT moments FROM search_word WHERE word = 'flour'") == [(2,)]
    if _semantic_here(runtime):
        assert second.embedded == moments  # the deleted moments took their vectors along
        assert embed_pending(runtime.db, runtime.embedder).embedded == 0
    else:
        assert any("pgvector" in note for note in second.notes)


def test_the_pipeline_indexes_what_it_finds(head_db: str, runtime: Runtime, tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    for sample in ("speech.mp3", "text_image.png"):
        shutil.copy(SAMPLES / sample, folder / sample)
    result = ingest(runtime, [folder], providers=["faster_whisper", "rapidocr"])
    run_job(runtime, result.job_id)

    spoken = search("recognition", mode="lexical", runtime=runtime)
    assert [(h.original_name, h.kind) for h in spoken] == [("speech.mp3", "speech")]
    assert spoken[0].start_s is not None and spoken[0].end_s is not None
    shown = search("invoice", mode="lexical", runtime=runtime)
    assert [(h.original_name, h.kind) for h in shown] == [("text_image.png", "text")]
    logged = query(
        head_db,
        "SELECT m.original_name, l.details->>'moments' FROM processing_log l "
        "JOIN media_file m ON m.id = l.media_file_id "
        "WHERE l.stage = 'indexing' AND l.status = 'completed' ORDER BY 1",
    )
    assert [(name, int(n) > 0) for name, n in logged] == [
        ("speech.mp3", True),
        ("text_image.png", True),
    ]
    embedded = query(head_db, "SELECT count(*) FROM processing_log WHERE details ? 'embedded'")[0][
        0
    ]
    assert embedded == (2 if _semantic_here(runtime) else 0)


def test_containment_and_exact_words_still_work(
    runtime: Runtime, library: dict[str, uuid.UUID]
) -> None:
    by_word = search(word="OVEN", runtime=runtime)
    assert [(h.kind, h.original_name, h.analysis_type) for h in by_word] == [
        ("result", "kitchen.mp4", "ocr")
    ]
    assert search(contains={"words": ["oven"]}, runtime=runtime).hits == by_word.hits
    assert search(contains={"words": ["nothing"]}, runtime=runtime).hits == []
    assert search(word="oven", provider="faster_whisper", runtime=runtime).hits == []


# -- bad input ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        ((), {}, "nothing to search for"),
        (("   ",), {}, "the search query is empty"),
        (("x" * 10_240,), {}, "at most 500"),
        (("engine\x00",), {}, "NUL"),
        (('"quick brown',), {}, "unbalanced quote"),
        (("-engine",), {}, "only excludes"),
        (("x",), {"limit": 0}, "limit must be between"),
        (("x",), {"limit": 100_000}, "limit must be between"),
        (("x",), {"offset": -1}, "offset must be between"),
        (("x",), {"mode": "fuzzy"}, "unknown search mode"),
        (("x",), {"provider": "nope"}, "unknown provider 'nope'"),
        (("x",), {"status": "done"}, "unknown status 'done'"),
        (("x",), {"kind": "video"}, "unknown kind 'video'"),
        ((), {"contains": {}}, "non-empty JSON object"),
        ((), {"contains": {"a": "b\x00"}}, "NUL"),
        # what json.loads gives for "\ud800", NaN and 1e999: jsonb holds none of them
        ((), {"contains": {"words": ["\ud800"]}}, "lone surrogate"),
        ((), {"contains": {"\udc00": 1}}, "lone surrogate"),
        ((), {"contains": {"count": float("nan")}}, "not finite"),
        ((), {"contains": {"count": [float("inf")]}}, "not finite"),
        ((), {"word": " "}, "word must not be empty"),
        ((), {"word": "a\udfffb"}, "lone surrogates"),
    ],
)
def test_bad_input_is_refused_before_the_database(
    args: tuple[str, ...], kwargs: dict[str, object], message: str, tmp_path: Path
) -> None:
    # an unreachable URL: validation must fail first, with a clear message
    unreachable = "postgresql+psycopg://nobody@127.0.0.1:1/none"
    with make_runtime(unreachable, tmp_path) as runtime, pytest.raises(InvalidInput, match=message):
        search(*args, runtime=runtime, **kwargs)  # type: ignore[arg-type]


def test_the_command_searches_and_reindexes(head_db: str, library: dict[str, uuid.UUID]) -> None:
    env = {"MEDIAFLOW_DATABASE_URL": head_db, "COLUMNS": "250"}
    shown = mediaflow("search", "engine", "--mode", "lexical", env=env, timeout=120)
    assert shown.returncode == 0, shown.stderr
    assert "garage.mp4" in shown.stdout and "00:02.0" in shown.stdout
    as_json = mediaflow("search", "flour", "--kind", "text", "--json", "--mode", "lexical", env=env)
    lines = [json.loads(line) for line in as_json.stdout.splitlines()]
    assert [(d["original_name"], d["kind"], d["start_s"]) for d in lines] == [
        ("kitchen.mp4", "text", 0.0)
    ]
    typo = mediaflow("search", "repairng", "--mode", "lexical", env=env)
    assert "showing results for repairing" in typo.stdout
    bad = mediaflow("search", '"open quote', env=env)
    assert (
        bad.returncode == 65 and "unbalanced quote" in bad.stderr and "Traceback" not in bad.stderr
    )
    redone = mediaflow("search", "reindex", "--what", "lexical", env=env, timeout=300)
    assert redone.returncode == 0, redone.stderr
    assert "removed 0 stale" in redone.stdout


def test_cli_bad_json_is_a_one_line_error() -> None:
    env = {"MEDIAFLOW_DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:1/none"}
    done = mediaflow("search", "--contains", "{not json", env=env, timeout=120)
    assert done.returncode == 65
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and "not valid JSON" in lines[0]
    assert "Traceback" not in done.stderr + done.stdout
