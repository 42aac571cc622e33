"""A long talk through the whole pipeline: wall time against its duration, peak memory.

    python bench/long_video.py                 # 60 minutes, 720p, a slide every 30 s, speech
    python bench/long_video.py --minutes 10    # a quicker look
    python bench/long_video.py --video talk.mp4 --keep   # reuse / keep the generated video

The video is generated (never committed): 1280x720 H.264 at ``--fps``, a new slide
(distinct title and bullet text on its own background colour) every ``--slide-s``
seconds, and espeak-ng reading a text for the whole length (AAC). It is then ingested
and analysed in this process with every default provider, as ``mediaflow analyze``
does without workers. The report: wall time and its ratio to the duration, peak RSS
of this process (the worker), each stage's time from processing_log, how many frames
were analysed and how many distinct slide texts OCR found (every slide should be).
"""

from __future__ import annotations

import argparse
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import av
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.support import bench_database, bench_runtime

from mediaflow.pipeline.ingest import ingest
from mediaflow.pipeline.runner import run_job
from tests import media_factory as mf

SIZE = (1280, 720)
TEXT = (
    "Welcome to this talk about media analysis. Today we look at how a system reads "
    "speech, text on screen, faces and scenes from long recordings, and how people find "
    "the moment they need. We start with the pipeline, continue with search, and end "
    "with questions from the audience. "
)
PALETTE = [(30, 60, 120), (240, 240, 235), (20, 90, 60), (90, 30, 70), (50, 50, 50)]


def _slide(number: int) -> np.ndarray:
    background = PALETTE[number % len(PALETTE)]
    colour = mf.BLACK if sum(background) > 400 else mf.WHITE
    title = mf.render_text(f"PART {number + 1}", (SIZE[0], SIZE[1] // 2), background=background,
                           colour=colour, font_size=72)  # fmt: skip
    bullet = mf.render_text(f"topic {number * 7 + 3} of the talk", (SIZE[0], SIZE[1] // 2),
                            background=background, colour=colour, font_size=48)  # fmt: skip
    return np.concatenate([title, bullet], axis=0)


def _speech(path: Path, seconds: float) -> Path:
    words_per_minute = 160
    repeats = int(seconds / 60 * words_per_minute / len(TEXT.split())) + 1
    text = path.with_suffix(".txt")
    text.write_text(TEXT * repeats)
    exe = shutil.which("espeak-ng")
    if exe is None:
        sys.exit("espeak-ng is needed: apt-get install espeak-ng")
    subprocess.run([exe, "-s", str(words_per_minute), "-w", str(path), "-f", str(text)],
                   check=True, capture_output=True)  # fmt: skip
    return path


def make_talk(path: Path, minutes: float, fps: int, slide_s: float) -> Path:
    """Encode the talk: slides (video) and espeak speech (audio), ``minutes`` long."""
    seconds = minutes * 60
    wav = _speech(path.with_suffix(".wav"), seconds)
    samples, rate = mf.read_wav_int16(wav)
    samples = samples[: int(seconds * rate)]
    with av.open(str(path), "w") as container:
        video = container.add_stream("libx264", rate=fps)
        assert isinstance(video, av.VideoStream)
        video.width, video.height = SIZE
        video.pix_fmt = "yuv420p"
        video.options = {"preset": "veryfast", "crf": "28", "g": str(fps * 10)}
        audio = container.add_stream("aac", rate=rate)
        assert isinstance(audio, av.AudioStream)
        audio.layout = "mono"

        def frames() -> Iterator[np.ndarray]:
            per_slide = int(slide_s * fps)
            for number in range(int(seconds // slide_s) + 1):
                picture = _slide(number)
                for _ in range(per_slide):
                    yield picture

        for index, picture in enumerate(frames()):
            if index >= seconds * fps:
                break
            frame = av.VideoFrame.from_ndarray(picture, format="rgb24")
            frame.pts = index
            container.mux(video.encode(frame))
        container.mux(video.encode(None))
        for start in range(0, len(samples), rate):
            chunk = samples[start : start + rate]
            frame = av.AudioFrame.from_ndarray(chunk.reshape(1, -1), format="s16", layout="mono")
            frame.sample_rate = rate
            frame.pts = start
            container.mux(audio.encode(frame))
        container.mux(audio.encode(None))
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--fps", type=int, default=10)
    parser.add_argument("--slide-s", type=float, default=30.0)
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
            make_talk(video, args.minutes, args.fps, args.slide_s)
            print(f"generated {video} in {time.perf_counter() - started:.0f} s", flush=True)
        with (
            bench_database(args.database_url, work) as (url, label),
            bench_runtime(url, work / "data") as runtime,
        ):
            print(f"server: {label}", flush=True)
            result = ingest(runtime, [video], name="long talk")
            started = time.perf_counter()
            outcome = run_job(runtime, result.job_id)
            wall = time.perf_counter() - started
            peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            (file,) = outcome.files
            with runtime.db.session() as session:
                import sqlalchemy as sa

                stages = session.execute(
                    sa.text(
                        "SELECT stage::text, coalesce(details->>'provider', ''), duration_ms, "
                        "details FROM processing_log WHERE status = 'completed' "
                        "AND duration_ms IS NOT NULL ORDER BY id"
                    )
                ).all()
                duration = session.execute(
                    sa.text("SELECT duration_s FROM media_file WHERE id = :id"),
                    {"id": file.media_file_id},
                ).scalar_one()
                ocr = session.execute(
                    sa.text(
                        "SELECT result FROM analysis_result "
                        "WHERE analysis_type = 'ocr' AND is_active"
                    )
                ).scalar()
        print()
        print("| measure | value |\n|---|---|")
        print(f"| video | {duration / 60:.1f} min, {SIZE[0]}x{SIZE[1]} at {args.fps} fps, "
              f"a slide every {args.slide_s:.0f} s |")  # fmt: skip
        print(f"| status | {file.status.value} {file.provider_failures or ''} |")
        print(f"| wall time | {wall:.0f} s ({wall / duration:.3f}x the duration) |")
        print(f"| peak RSS of the worker | {peak_mb:.0f} MB |")
        for stage, provider, ms, details in stages:
            extra = ""
            if stage == "frame_extraction":
                extra = (
                    f" ({details.get('frames')} frames of {details.get('sampled')} sampled, "
                    f"{details.get('shots')} shots, {details.get('decoded')} decoded)"
                )
            print(f"| {stage} {provider} | {ms / 1000:.1f} s{extra} |")
        if ocr:
            slides = {
                line["text"]
                for f in ocr["frames"]
                for line in f["lines"]
                if line["text"].startswith("PART")
            }
            expected = int(duration // args.slide_s) + (1 if duration % args.slide_s else 0)
            print(
                f"| OCR | {len(slides)} of {expected} slide titles read, "
                f"{ocr.get('ocr_runs')} full reads |"
            )


if __name__ == "__main__":
    main()
