"""A long talk through the whole pipeline: whole vs chunked, 1 vs 2 workers, stitched WER.

    python bench/long_video.py                      # 60 minutes, 720p, 10 min chunks
    python bench/long_video.py --minutes 10 --chunk-s 150 --threshold-s 300
    python bench/long_video.py --video talk.mp4 --keep   # reuse / keep the generated video
    python bench/long_video.py --in-process         # the old single-process run only

The video is generated (never committed; ``tests/talk_factory.make_talk``): H.264 at
``--fps``, a new slide (distinct title and bullet text on its own background colour)
every ``--slide-s`` seconds, and espeak-ng reading a text for the whole length (AAC).

Each run ingests it as a new job on one scratch database and queues it; ``mediaflow
worker --concurrency 1`` subprocesses (sharing the database and the data directory,
as on a real deployment) process it, and the wall time runs from the queueing to the
file's final status. The runs, side by side:

- **whole**: one worker, splitting off (``MEDIAFLOW_CHUNK_THRESHOLD_S=0``): the baseline;
- **chunked, N workers** for each ``--workers`` N: split into ``--chunk-s`` chunks
  (``--overlap-s`` of audio overlap), chunk tasks shared by the N workers.

Reported: wall time, its ratio to the duration and to the whole run, the peak RSS of
each worker (``VmHWM`` read before it is stopped), and the word error rate of each
chunked run's stitched transcript against the whole run's transcript (goal: <= 1%),
plus how many distinct slide titles OCR read.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import jiwer
import sqlalchemy as sa
from bench.support import ROOT, bench_database, bench_runtime

from mediaflow.pipeline.ingest import ingest
from mediaflow.pipeline.runner import run_job
from mediaflow.runtime import Runtime
from mediaflow.services.jobs import files_finished, queue_job
from tests.talk_factory import make_talk, talk_text
from tests.workers import stop_workers

SIZE = (1280, 720)


def _normalise(text: str) -> str:
    return " ".join(re.findall(r"[a-z0-9']+", text.lower()))


def _start_worker(url: str, data_dir: Path, env_extra: dict[str, str]) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEDIAFLOW_")}
    env.update(MEDIAFLOW_DATABASE_URL=url, MEDIAFLOW_DATA_DIR=str(data_dir),
               PYTHONPATH=os.pathsep.join([str(ROOT / "src"), str(ROOT)]), **env_extra)  # fmt: skip
    return subprocess.Popen(
        [sys.executable, "-m", "mediaflow", "worker", "--concurrency", "1"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


def _peak_rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def _query(runtime: Runtime, sql: str, **params: object) -> list[Any]:
    with runtime.db.session() as session:
        return list(session.execute(sa.text(sql), params))


def _run(runtime: Runtime, video: Path, label: str, *, workers: int, env: dict[str, str],
         timeout_s: float) -> dict[str, Any]:  # fmt: skip
    """Ingest ``video`` as a new job, queue it, let ``workers`` processes finish it."""
    job = ingest(runtime, [video], name=label)
    procs = [_start_worker(runtime.db.url, runtime.settings.data_dir, env) for _ in range(workers)]
    try:
        time.sleep(3)  # the workers import and connect; not counted
        started = time.perf_counter()
        queue_job(runtime, job.job_id)
        deadline = started + timeout_s
        while files_finished(runtime, job.job_id) < 1:
            if time.perf_counter() > deadline or all(p.poll() is not None for p in procs):
                raise SystemExit(f"{label}: not finished after {timeout_s:.0f} s")
            time.sleep(0.5)
        wall = time.perf_counter() - started
        peaks = [_peak_rss_mb(p.pid) for p in procs]
    finally:
        stop_workers(procs)
    return _report(runtime, job.job_id, label, wall, peaks)


def _report(runtime: Runtime, job_id: uuid.UUID, label: str, wall: float,
            peaks: list[float]) -> dict[str, Any]:  # fmt: skip
    (file_id, status, duration, error) = _query(
        runtime, "SELECT id, status::text, duration_s, error FROM media_file WHERE job_id = :j",
        j=job_id,
    )[0]  # fmt: skip
    text = _query(
        runtime,
        "SELECT text, segments FROM transcription WHERE media_file_id = :f AND is_active",
        f=file_id,
    )
    plan = _query(
        runtime,
        "SELECT details->'chunk_plan' FROM processing_log WHERE media_file_id = :f "
        "AND details ? 'chunk_plan'",
        f=file_id,
    )
    edges = [c["start_s"] for c in plan[0][0][1:]] if plan else []
    words: list[tuple[str, float]] = []
    for segment in text[0][1] if text else []:
        for word in segment["words"]:
            words.extend((w, float(word["start"])) for w in _normalise(word["word"]).split())
    ocr = _query(
        runtime,
        "SELECT result FROM analysis_result WHERE media_file_id = :f AND is_active "
        "AND analysis_type = 'ocr'",
        f=file_id,
    )
    titles = set()
    if ocr:
        titles = {
            line["text"]
            for frame in ocr[0][0]["frames"]
            for line in frame["lines"]
            if line["text"].startswith("PART")
        }
    chunks = _query(
        runtime,
        "SELECT count(*) FROM processing_log WHERE media_file_id = :f AND details ? 'chunk_done'",
        f=file_id,
    )[0][0]
    return {"label": label, "status": status, "error": error, "duration": duration,
            "wall": wall, "peaks": peaks, "text": text[0][0] if text else "",
            "words": words, "edges": edges,
            "titles": len(titles), "chunks": chunks}  # fmt: skip


def _in_process(runtime: Runtime, video: Path) -> None:
    """The former report: the whole file in this process (``run_job``)."""
    result = ingest(runtime, [video], name="long talk")
    started = time.perf_counter()
    outcome = run_job(runtime, result.job_id)
    wall = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    (file,) = outcome.files
    report = _report(runtime, result.job_id, "in-process", wall, [peak_mb])
    print(f"| whole, in this process | {wall:.0f} s | {wall / report['duration']:.3f}x | "
          f"{peak_mb:.0f} MB | {file.status.value} |")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--fps", type=int, default=10)
    parser.add_argument("--slide-s", type=float, default=30.0)
    parser.add_argument("--chunk-s", type=float, default=600.0, help="chunk length")
    parser.add_argument("--threshold-s", type=float, default=1800.0, help="split above this")
    parser.add_argument("--overlap-s", type=float, default=5.0)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--skip-whole", action="store_true", help="no unchunked baseline")
    parser.add_argument("--in-process", action="store_true", help="only the in-process run")
    parser.add_argument("--timeout-s", type=float, default=7200.0)
    parser.add_argument("--video", type=Path, default=None, help="reuse (or keep) this video")
    parser.add_argument("--keep", action="store_true", help="keep the generated video")
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="mediaflow-bench-long-") as work_name:
        work = Path(work_name)
        work.chmod(0o755)
        video = args.video or work / "talk.mp4"
        if not video.exists():
            started = time.perf_counter()
            make_talk(video, args.minutes * 60, fps=args.fps, slide_s=args.slide_s, size=SIZE)
            print(f"generated {video} in {time.perf_counter() - started:.0f} s", flush=True)
        with (
            bench_database(args.database_url, work) as (url, label),
            bench_runtime(url, work / "data") as runtime,
        ):
            print(f"server: {label}; {os.cpu_count()} CPUs; load average "
                  f"{os.getloadavg()[0]:.1f} at the start", flush=True)  # fmt: skip
            print("\n| run | wall | x duration | peak RSS | status |\n|---|---|---|---|---|")
            if args.in_process:
                _in_process(runtime, video)
                return
            chunked = {
                "MEDIAFLOW_CHUNK_THRESHOLD_S": str(args.threshold_s),
                "MEDIAFLOW_CHUNK_LENGTH_S": str(args.chunk_s),
                "MEDIAFLOW_CHUNK_OVERLAP_S": str(args.overlap_s),
            }
            runs = []
            if not args.skip_whole:
                whole_env = {"MEDIAFLOW_CHUNK_THRESHOLD_S": "0"}
                runs.append(_run(runtime, video, "whole, 1 worker", workers=1, env=whole_env,
                                 timeout_s=args.timeout_s))  # fmt: skip
                _print_run(runs[-1], None)
            for count in args.workers:
                runs.append(_run(runtime, video, f"chunked, {count} worker(s)", workers=count,
                                 env=chunked, timeout_s=args.timeout_s))  # fmt: skip
                _print_run(runs[-1], runs[0] if not args.skip_whole else None)
            print(f"\nload average {os.getloadavg()[0]:.1f} at the end")
        whole = runs[0] if not args.skip_whole else None
        spoken = _normalise(talk_text(args.minutes * 60)).split()
        print("\n| run | chunks | stitched WER vs whole | of which within 3 s of an edge "
              "| WER vs the spoken text | slide titles |\n|---|---|---|---|---|---|")  # fmt: skip
        for run in runs:
            error, near = "-", "-"
            if whole and run is not whole:
                error = f"{jiwer.wer(_normalise(whole['text']), _normalise(run['text'])):.2%}"
                near = _errors_near_edges(whole["words"], run["words"], run["edges"])
            hypothesis = [w for w, _ in run["words"]]
            reference = " ".join(spoken[: len(hypothesis)])  # the text spoken up to the end
            truth = f"{jiwer.wer(reference, ' '.join(hypothesis)):.2%}" if hypothesis else "-"
            print(f"| {run['label']} | {run['chunks']} | {error} | {near} | {truth} "
                  f"| {run['titles']} |")  # fmt: skip
        if args.keep and args.video is None:
            kept = Path.cwd() / "talk.mp4"
            video.replace(kept)
            print(f"kept {kept}")


def _errors_near_edges(
    reference: list[tuple[str, float]], hypothesis: list[tuple[str, float]], edges: list[float]
) -> str:
    """How many word errors (against the whole run) lie within 3 s of a chunk edge.

    The stitching can only duplicate or lose words there; errors elsewhere are the
    model hearing the same audio differently in a different 30 s window.
    """
    if not reference or not hypothesis:
        return "-"
    out = jiwer.process_words(" ".join(w for w, _ in reference), " ".join(w for w, _ in hypothesis))
    near = total = 0
    for chunk in out.alignments[0]:
        if chunk.type == "equal":
            continue
        times = [t for _, t in reference[chunk.ref_start_idx : chunk.ref_end_idx]] + [
            t for _, t in hypothesis[chunk.hyp_start_idx : chunk.hyp_end_idx]
        ]
        count = max(
            chunk.ref_end_idx - chunk.ref_start_idx, chunk.hyp_end_idx - chunk.hyp_start_idx
        )
        total += count
        if any(abs(t - edge) <= 3.0 for t in times for edge in edges):
            near += count
    return f"{near} of {total} errors"


def _print_run(run: dict[str, Any], baseline: dict[str, Any] | None) -> None:
    ratio = f", {run['wall'] / baseline['wall']:.2f}x whole" if baseline else ""
    peaks = " / ".join(f"{p:.0f}" for p in run["peaks"])
    status = run["status"] + (f" ({run['error']})" if run["error"] else "")
    print(f"| {run['label']} | {run['wall']:.0f} s{ratio} | {run['wall'] / run['duration']:.3f}x "
          f"| {peaks} MB | {status} |", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
