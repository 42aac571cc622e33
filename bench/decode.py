"""Reading one video: the separate passes mediaflow made before, next to its one decode pass.

Run from the repository root::

    .venv/bin/python bench/decode.py                      # 60 s of 1280x720 25 fps, 3 runs
    .venv/bin/python bench/decode.py --seconds 20 --size 640x360 --runs 5

The input is generated on each run (not committed): FFmpeg's ``testsrc2`` pattern
(moving, so the decoder has real work) with its hue turned half way round every 4 s (a
cut every 4 s), H.264 (x264 veryfast, CRF 23, a key frame every 2 s) and a 44.1 kHz
stereo AAC tone.

Measured per stage, median of ``--runs``, both sides in the same run on the same file:

- **validation**: ``probe`` (``detect``: magic bytes, first frame of each stream, the
  container's declared length; then the headers), the same on both sides;
- **before**: ``decode_audio`` (16 kHz WAV), ``sample_frames`` (shots, keyframes,
  budget) and the ``scenedetect`` provider decoding the file itself with
  PySceneDetect, three passes;
- **one pass**: ``decode_pass`` with the scene provider's frame observer: the WAV, the
  frame sample and the scenes, each part's own time (``audio_s``, ``video_s`` less the
  observer, ``observers_s``) and the shared reading of packets (``demux_s``).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import av  # noqa: E402

from mediaflow.config import Settings  # noqa: E402
from mediaflow.db.enums import MediaType  # noqa: E402
from mediaflow.media.audio import decode_audio  # noqa: E402
from mediaflow.media.frames import SamplingPolicy, sample_frames  # noqa: E402
from mediaflow.media.onepass import decode_pass  # noqa: E402
from mediaflow.media.probe import probe  # noqa: E402
from mediaflow.providers.analysis.scenes import SceneDetectProvider  # noqa: E402
from mediaflow.providers.base import MediaInput  # noqa: E402


def make_video(path: Path, seconds: int, size: str, rate: int = 25) -> Path:
    """A moving test pattern with a cut every 4 s and a stereo tone, H.264 + AAC."""
    width, height = (int(v) for v in size.split("x"))
    pattern = f"testsrc2=size={size}:rate={rate}:duration={seconds},hue=h='180*mod(floor(t/4)\\,2)'"
    tone = f"sine=frequency=440:duration={seconds}:sample_rate=44100"
    with (
        av.open(pattern, format="lavfi") as source,
        av.open(tone, format="lavfi") as sound,
        av.open(str(path), "w") as out,
    ):
        video = out.add_stream("libx264", rate=rate)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        video.options = {"preset": "veryfast", "crf": "23", "g": str(rate * 2)}
        audio = out.add_stream("aac", rate=44100)
        audio.layout = "stereo"
        for frame in source.decode(video=0):
            out.mux(video.encode(frame))
        out.mux(video.encode(None))
        resampler = av.AudioResampler(format="fltp", layout="stereo", rate=44100)
        for frame in sound.decode(audio=0):
            for chunk in resampler.resample(frame):
                chunk.pts = None
                out.mux(audio.encode(chunk))
        out.mux(audio.encode(None))
    return path


def _median(runs: int, call: Callable[[], Any]) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(runs):
        started = time.perf_counter()
        result = call()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def _row(name: str, before: float, now: float) -> str:
    return f"| {name} | {before:.2f} | {now:.2f} | {now / before:.2f}x |"


def main() -> None:
    """Generate the video, time both ways, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--size", default="1280x720")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    policy = SamplingPolicy()
    provider = SceneDetectProvider(Settings())
    with tempfile.TemporaryDirectory(prefix="bench-decode-") as tmp:
        work = Path(tmp)
        started = time.perf_counter()
        video = make_video(work / "input.mp4", args.seconds, args.size)
        made_s = time.perf_counter() - started
        size_mb = video.stat().st_size / 1e6

        probe_s, info = _median(args.runs, lambda: probe(video))
        media = MediaInput(path=video, media_type=MediaType.VIDEO)
        # before and now alternate, run by run: a busy machine slows both alike
        timings: dict[str, list[float]] = {"audio": [], "frames": [], "scenes": []}
        passes = []
        for _ in range(args.runs):
            for name, call in (
                ("audio", lambda: decode_audio(video, work / "old.wav")),
                ("frames", lambda: sample_frames(video, MediaType.VIDEO, policy)),
                ("scenes", lambda: provider._analyze(media, None)),
            ):
                seconds, value = _median(1, call)
                timings[name].append(seconds)
                if name == "frames":
                    sample = value
                elif name == "scenes":
                    scenes = value
            observer = provider.frame_observer()
            started = time.perf_counter()
            result = decode_pass(
                video, dest_wav=work / "new.wav", policy=policy, observers=[observer]
            )
            wall = time.perf_counter() - started
            shown = provider._analyze(
                MediaInput(video, MediaType.VIDEO, observed={provider.name: observer}), None
            )
            passes.append((wall, result, shown))
        audio_s, frames_s, scenes_s = (statistics.median(timings[k]) for k in timings)
        passes.sort(key=lambda p: p[0])
        wall, result, shown = passes[len(passes) // 2]

    same_frames = [(f.index, f.start_s, f.end_s) for f in sample.frames] == [
        (f.index, f.start_s, f.end_s) for f in result.sample.frames
    ]
    before = audio_s + frames_s + scenes_s
    own_video = result.video_s - result.observers_s
    print(
        f"{args.seconds} s of {args.size} H.264 + AAC ({size_mb:.1f} MB, made in {made_s:.0f} s); "
        f"median of {args.runs} runs; {os.cpu_count()} CPUs, {platform.processor() or '?'}, "
        f"Python {platform.python_version()}, PyAV {av.__version__}\n"
    )
    print("| stage | before: separate passes s | now: one pass s | ratio |")
    print("|---|---|---|---|")
    print(f"| validation + metadata (`probe`) | {probe_s:.2f} | {probe_s:.2f} | 1.00x |")
    print(_row("audio extraction", audio_s, result.audio_s))
    print(_row("frame extraction", frames_s, own_video))
    print(
        f"| scene detection (scenedetect provider) | {scenes_s:.2f} | {result.observers_s:.2f} | "
        f"{result.observers_s / scenes_s:.2f}x |"
    )
    print(f"| reading packets (shared) | in the above | {result.demux_s:.2f} | |")
    print(_row("**audio + frames + scenes**", before, wall))
    print(
        f"\nfiles opened and read: before 5 (detect, probe, audio, frames, scenes), now 3 "
        f"(detect, probe, the pass); frames decoded: before {sample.decoded} + every frame "
        f"again for scenes, now {result.sample.decoded} (the sampler) of one decode; "
        f"same frames: {same_frames}; same scenes: {shown[0].result == scenes[0].result}; "
        f"{info.duration_s} s, {len(result.sample.frames)} frames kept, "
        f"{len(shown[0].result['cuts'])} cuts"
    )


if __name__ == "__main__":
    main()
