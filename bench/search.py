"""Search at library scale: index build, query latency per kind of query, indexes vs none.

    python bench/search.py                     # 100,000 transcripts x 150 words, embedded PG 18
    python bench/search.py --transcripts 5000 --runs 20   # a quick look
    python bench/search.py --database-url postgresql://...   # a server (no pgvector: words only)

What it builds, in a scratch database at head:

- ``--transcripts`` media files with one transcript each of ``--words`` words drawn
  from a 30,000-word English list (Debian's ``wamerican``, ``/usr/share/dict/words``)
  with Zipf frequencies (rank^-1), in segments of 15 words (2 s each);
- one OCR result per file (a few on-screen words), and analysis results up to
  ``--results`` in all (colours, hashes, moderation, faces, scenes, levels; active
  and superseded);
- the search index by mediaflow's own ``reindex`` (moments/s measured), and embeddings:
  ``--embed-sample`` moments through the real model (embeddings/s measured), the rest
  composed from word vectors the model made (the mean of a moment's words, normalised:
  vectors with the corpus's own neighbourhood structure, without an hour of model time),
  written with binary COPY, then the HNSW index built (time measured).

Then each query kind runs ``--runs`` times after a warm-up (p50/p95 in ms, through
``mediaflow.search``: parsing, SQL, snippets), and the word queries again with the
search indexes dropped, as a ratio. Prints a table; numbers go in bench/README.md.
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import struct
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.support import bench_database, bench_runtime

from mediaflow.search import search
from mediaflow.search.index import reindex, semantic_status

WORDLIST = Path("/usr/share/dict/words")
SEGMENT_WORDS = 15
VOCABULARY = 30_000
RESULT_KINDS = [  # (provider, analysis_type, result)
    ("image_features", "colors", {"colors": [{"hex": "#3c4650", "proportion": 0.6}]}),
    ("image_features", "perceptual_hash", {"phash": "d1d1b1a1e1e0c0c0", "hash_size": 8}),
    ("opennsfw", "moderation", {"max_nsfw_score": 0.01, "flagged": False}),
    ("opencv_haar", "faces", {"frames": [], "count": 0}),
    ("scenedetect", "scenes", {"scenes": [], "cuts": []}),
    ("audio_features", "audio_levels", {"integrated_lufs": -23.0}),
]


def _words() -> list[str]:
    if not WORDLIST.exists():
        sys.exit(f"{WORDLIST} is missing: apt-get install wamerican")
    seen: dict[str, None] = {}
    for line in WORDLIST.read_text(encoding="utf-8", errors="ignore").split():
        if line.isascii() and line.isalpha() and line.islower() and len(line) > 1:
            seen.setdefault(line, None)
    words = list(seen)
    rng = np.random.default_rng(7)
    rng.shuffle(words)  # frequency rank independent of the alphabet
    return words[:VOCABULARY]


def _copy(connection: Any, table: str, columns: list[str], rows: Any) -> None:
    with connection.cursor().copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def generate(
    url: str, transcripts: int, words_per: int, results: int, vocab: list[str]
) -> dict[str, Any]:
    """Write the library with COPY; return facts the queries need."""
    import psycopg

    rng = np.random.default_rng(42)
    ranks = np.arange(1, len(vocab) + 1)
    probabilities = 1.0 / ranks
    probabilities /= probabilities.sum()
    picks = rng.choice(len(vocab), size=(transcripts, words_per), p=probabilities)
    vocab_array = np.array(vocab, dtype=object)
    job_id = uuid.uuid4()
    started = time.perf_counter()
    files = [uuid.uuid4() for _ in range(transcripts)]
    libpq = url.replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(libpq) as connection:
        connection.execute(
            "INSERT INTO analysis_job (id, name, status) VALUES (%s, 'bench', 'completed')",
            (job_id,),
        )
        _copy(
            connection,
            "media_file",
            ["id", "job_id", "original_name", "status", "media_type"],
            ((f, job_id, f"clip-{i:06d}.mp4", "completed", "video") for i, f in enumerate(files)),
        )

        def transcript_rows() -> Any:
            for i, file_id in enumerate(files):
                words = vocab_array[picks[i]]
                segments = [
                    {
                        "start": 2.0 * s, "end": 2.0 * s + 1.9,
                        "text": " ".join(words[s * SEGMENT_WORDS : (s + 1) * SEGMENT_WORDS]),
                        "words": [],
                    }
                    for s in range((words_per + SEGMENT_WORDS - 1) // SEGMENT_WORDS)
                ]  # fmt: skip
                yield (
                    uuid.uuid4(), job_id, file_id, "faster_whisper", " ".join(words),
                    json.dumps(segments), True,
                )  # fmt: skip

        _copy(
            connection,
            "transcription",
            ["id", "job_id", "media_file_id", "provider", "text", "segments", "is_active"],
            transcript_rows(),
        )

        def result_rows() -> Any:
            count = 0
            for i, file_id in enumerate(files):
                screen = vocab_array[picks[i][:3]]
                ocr = {
                    "frames": [
                        {
                            "index": 0,
                            "timestamp_s": 0.0,
                            "lines": [{"text": " ".join(screen).upper()}],
                        }
                    ],
                    "text": " ".join(screen).upper(),
                    "words": sorted(set(screen)),
                }
                yield (uuid.uuid4(), job_id, file_id, "rapidocr", "ocr", json.dumps(ocr), True)
                count += 1
            # rounds over every file and kind: the first round active, later ones superseded
            round_number = 0
            while count < results:
                for file_id in files:
                    for provider, kind, result in RESULT_KINDS:
                        active = round_number == 0
                        yield (
                            uuid.uuid4(),
                            job_id,
                            file_id,
                            provider,
                            kind,
                            json.dumps(result),
                            active,
                        )
                        count += 1
                        if count >= results:
                            return
                round_number += 1

        _copy(
            connection,
            "analysis_result",
            ["id", "job_id", "media_file_id", "provider", "analysis_type", "result", "is_active"],
            result_rows(),
        )
        connection.execute("ANALYZE")
    counts = np.bincount(picks.ravel(), minlength=len(vocab))
    first = vocab_array[picks[0]]
    return {
        "seconds": time.perf_counter() - started,
        "counts": counts,
        "phrase": f'"{first[3]} {first[4]}"',
        "ocr_word": str(vocab_array[picks[0][0]]),
    }


def _word_at_rank(vocab: list[str], counts: Any, target: int) -> tuple[str, int]:
    """The word whose frequency rank is ``target`` (a word english stopwords leave alone)."""
    order = np.argsort(-counts, kind="stable")
    word = vocab[int(order[target])]
    return word, int(counts[order[target]])


def embed(url: str, runtime: Any, vocab: list[str], sample: int) -> dict[str, float]:
    """Real embeddings for a sample, composed ones for the rest, then the HNSW index."""
    import psycopg

    from mediaflow.search.index import embed_pending

    facts: dict[str, float] = {}
    report = embed_pending(runtime.db, runtime.embedder, limit=sample)
    facts["sample"] = report.embedded
    facts["embeddings_per_s"] = report.embedded / report.seconds if report.seconds else 0.0
    started = time.perf_counter()
    word_vectors = runtime.embedder.embed(vocab)
    facts["vocabulary_s"] = time.perf_counter() - started
    index = {w: i for i, w in enumerate(vocab)}
    model = runtime.embedder.model_version
    libpq = url.replace("postgresql+psycopg://", "postgresql://", 1)
    started = time.perf_counter()
    header = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)
    with psycopg.connect(libpq) as connection:
        connection.execute("DROP INDEX IF EXISTS ix_search_embedding_hnsw")
        rows = connection.execute(
            "SELECT m.id, m.text FROM search_moment m LEFT JOIN search_embedding e "
            "ON e.moment_id = m.id WHERE e.moment_id IS NULL ORDER BY m.id"
        ).fetchall()
        model_bytes = model.encode()
        with connection.cursor().copy(
            "COPY search_embedding (moment_id, model, embedding) FROM STDIN WITH (FORMAT binary)"
        ) as copy:
            copy.write(header)
            for start in range(0, len(rows), 20_000):
                chunk = rows[start : start + 20_000]
                vectors = np.zeros((len(chunk), word_vectors.shape[1]), dtype=np.float32)
                for j, (_, text) in enumerate(chunk):
                    ids = [index[w] for w in text.lower().split() if w in index]
                    if ids:
                        vectors[j] = word_vectors[ids].sum(axis=0)
                vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-9)
                buffer = io.BytesIO()
                payload = vectors.astype(">f4")
                for (moment_id, _), vector in zip(chunk, payload, strict=True):
                    buffer.write(struct.pack(">hiq", 3, 8, moment_id))
                    buffer.write(struct.pack(">i", len(model_bytes)) + model_bytes)
                    buffer.write(struct.pack(">ihh", 4 + 4 * vector.shape[0], vector.shape[0], 0))
                    buffer.write(vector.tobytes())
                copy.write(buffer.getvalue())
            copy.write(struct.pack(">h", -1))
        facts["composed"] = len(rows)
        facts["copy_s"] = time.perf_counter() - started
        started = time.perf_counter()
        connection.execute("SET maintenance_work_mem = '2GB'")
        connection.execute("SET max_parallel_maintenance_workers = 1")
        connection.execute(
            "CREATE INDEX ix_search_embedding_hnsw ON search_embedding "
            "USING hnsw (embedding vector_cosine_ops)"
        )
        facts["hnsw_s"] = time.perf_counter() - started
        connection.execute("ANALYZE search_embedding")
    return facts


def _timed(call: Callable[[], Any], runs: int) -> tuple[float, float, int]:
    call()  # warm-up: plans, caches, the model
    times = []
    hits = 0
    for _ in range(runs):
        started = time.perf_counter()
        result = call()
        times.append((time.perf_counter() - started) * 1000)
        hits = len(result)
    times.sort()
    p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
    return statistics.median(times), p95, hits


def _sizes(url: str) -> dict[str, int]:
    import psycopg

    libpq = url.replace("postgresql+psycopg://", "postgresql://", 1)
    names = [
        "search_moment", "ix_search_moment_tsv", "search_word", "ix_search_word_trgm",
        "search_embedding", "ix_search_embedding_hnsw",
    ]  # fmt: skip
    sizes = {}
    with psycopg.connect(libpq) as connection:
        for name in names:
            size = connection.execute(
                "SELECT CASE WHEN to_regclass(%s) IS NULL THEN NULL "
                "ELSE pg_total_relation_size(to_regclass(%s)) END",
                (name, name),
            ).fetchone()
            if size and size[0] is not None:
                sizes[name] = int(size[0])
    return sizes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--transcripts", type=int, default=100_000)
    parser.add_argument("--words", type=int, default=150)
    parser.add_argument("--results", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--embed-sample", type=int, default=2_000)
    parser.add_argument("--database-url", default=None, help="a server (default: embedded)")
    args = parser.parse_args()

    vocab = _words()
    with tempfile.TemporaryDirectory(prefix="mediaflow-bench-search-") as work_name:
        work = Path(work_name)
        work.chmod(0o755)
        with (
            bench_database(args.database_url, work, embedded=args.database_url is None) as (
                url,
                label,
            ),
            bench_runtime(url, work / "data") as runtime,
        ):
            print(
                f"server: {label}; {args.transcripts} transcripts x {args.words} words, "
                f"{args.results} analysis results",
                flush=True,
            )
            made = generate(url, args.transcripts, args.words, args.results, vocab)
            print(f"generated in {made['seconds']:.1f} s", flush=True)
            started = time.perf_counter()
            built = reindex(runtime.db, runtime.embedder, what="lexical")
            lexical_s = time.perf_counter() - started
            print(
                f"lexical index: {built.moments} moments in {lexical_s:.1f} s "
                f"({built.moments / lexical_s:.0f} moments/s)",
                flush=True,
            )
            semantic = semantic_status(runtime.db, runtime.embedder).available
            facts: dict[str, float] = {}
            if semantic:
                facts = embed(url, runtime, vocab, args.embed_sample)
                print(
                    f"embeddings: {facts['sample']:.0f} real at {facts['embeddings_per_s']:.0f}/s, "
                    f"{facts['composed']:.0f} composed (COPY {facts['copy_s']:.1f} s), "
                    f"HNSW built in {facts['hnsw_s']:.1f} s",
                    flush=True,
                )
            sizes = _sizes(url)

            counts = made["counts"]
            rare, rare_n = _word_at_rank(vocab, counts, 20_000)
            mid, mid_n = _word_at_rank(vocab, counts, 2_000)
            common, common_n = _word_at_rank(vocab, counts, 5)
            typo = mid[:-2] + mid[-1] + mid[-2] if len(mid) > 3 else mid + "x"
            lexical = {
                f"rare word ({rare}, {rare_n} uses)": rare,
                f"mid word ({mid}, {mid_n} uses)": mid,
                f"very common word ({common}, {common_n} uses)": common,
                "two words": f"{mid} {rare}",
                f"quoted phrase ({made['phrase']})": made["phrase"],
                f"misspelled ({typo})": typo,
                "absent word": "qzxwvjk",
            }
            rows: list[tuple[str, float, float, int]] = []
            for name, text in lexical.items():
                rows.append(
                    (
                        name,
                        *_timed(
                            lambda t=text: search(t, mode="lexical", runtime=runtime), args.runs
                        ),
                    )
                )
            if semantic:
                rows.append(
                    (
                        "semantic",
                        *_timed(
                            lambda: search(
                                "a trip to the seaside", mode="semantic", runtime=runtime
                            ),
                            args.runs,
                        ),
                    )
                )
                rows.append(
                    (
                        "hybrid",
                        *_timed(
                            lambda: search(f"{mid} and the weather", runtime=runtime), args.runs
                        ),
                    )
                )
            word = made["ocr_word"]
            rows.append(
                (
                    f"JSON containment (words: {word})",
                    *_timed(lambda: search(contains={"words": [word]}, runtime=runtime), args.runs),
                )
            )

            with runtime.db.session() as session:
                import sqlalchemy as sa

                session.execute(sa.text("DROP INDEX ix_search_moment_tsv"))
                session.execute(sa.text("DROP INDEX ix_search_word_trgm"))
            without = {}
            few = max(3, args.runs // 5)
            for name, text in lexical.items():
                without[name] = _timed(
                    lambda t=text: search(t, mode="lexical", runtime=runtime), few
                )

        print()
        print("| query | p50 ms | p95 ms | hits | p50 without indexes ms | ratio |")
        print("|---|---|---|---|---|---|")
        for name, p50, p95, hits in rows:
            if name in without:
                slow = without[name][0]
                print(
                    f"| {name} | {p50:.1f} | {p95:.1f} | {hits} | {slow:.0f} | {slow / p50:.0f}x |"
                )
            else:
                print(f"| {name} | {p50:.1f} | {p95:.1f} | {hits} | | |")
        print()
        print("| relation | size MB |")
        print("|---|---|")
        for name, size in sizes.items():
            print(f"| {name} | {size / 2**20:.0f} |")


if __name__ == "__main__":
    main()
