"""Pause windows vs sequential vs batched faster-whisper decoding: real-time factor and
word error rate.

    python bench/transcription_modes.py                # ~3 minutes of speech, 3 runs each
    python bench/transcription_modes.py --repeat 1 --runs 1   # a quick look
    python bench/transcription_modes.py --batch-sizes 4 8 16

The speech is espeak-ng reading a known text (four different paragraphs, repeated
``--repeat`` times), converted to the pipeline's 16 kHz mono WAV. Each mode runs
through ``FasterWhisperProvider`` itself (the bundled tiny.en unless
``MEDIAFLOW_WHISPER_MODEL`` says otherwise; int8, CPU), with only the
``whisper_decoding`` / ``whisper_batch_size`` settings changed, so the measure is
the code path the pipeline runs. Every mode is loaded and warmed up once, then the
modes take turns ``--runs`` times (so a busy moment of the machine hits all of them)
and the median is reported. RTF = processing seconds / audio seconds; ratio = the
mode's RTF / the sequential RTF in the same run; WER against the text espeak read.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import wave
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import jiwer

from mediaflow.config import Settings
from mediaflow.db.enums import MediaType
from mediaflow.providers.base import MediaInput, TranscriptOutput
from mediaflow.providers.transcription.faster_whisper import FasterWhisperProvider

PARAGRAPHS = (
    "Welcome to this talk about media analysis. Today we look at how a system reads "
    "speech, text on screen, faces and scenes from long recordings, and how people find "
    "the moment they need. We start with the pipeline, continue with search, and end "
    "with questions from the audience.",
    "The weather report said that heavy rain would arrive in the north by the evening, "
    "while the south stays dry and warm.",
    "Seven engineers reviewed the design document on Monday and found three problems in "
    "the storage layer.",
    "Please remember to bring your laptop, a charger, and the printed agenda to the "
    "meeting on Thursday morning.",
)


def normalise(text: str) -> str:
    """Lowercase words without punctuation, for word error rates."""
    return " ".join(re.findall(r"[a-z0-9']+", text.lower()))


def make_speech(folder: Path, repeat: int) -> tuple[Path, str, float]:
    """espeak-ng speech of the paragraphs as a 16 kHz mono WAV; its text and seconds."""
    for tool in ("espeak-ng", "sox"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} is needed: apt-get install espeak-ng sox")
    text = " ".join(PARAGRAPHS * repeat)
    raw, wav = folder / "speech.raw.wav", folder / "speech.wav"
    (folder / "speech.txt").write_text(text)
    subprocess.run(["espeak-ng", "-v", "en-us", "-s", "150", "-w", str(raw), "-f",
                    str(folder / "speech.txt")], check=True, capture_output=True)  # fmt: skip
    subprocess.run(["sox", str(raw), "-r", "16000", "-c", "1", "-b", "16", str(wav)],
                   check=True, capture_output=True)  # fmt: skip
    with wave.open(str(wav), "rb") as reader:
        seconds = reader.getnframes() / reader.getframerate()
    return wav, text, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=4, help="times the paragraphs are read")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[4, 8, 16])
    parser.add_argument("--threads", type=int, default=None, help="CTranslate2 threads")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="mediaflow-bench-whisper-") as work:
        wav, text, seconds = make_speech(Path(work), args.repeat)
        media = MediaInput(path=wav, media_type=MediaType.AUDIO, audio_path=wav, name="speech")
        base = Settings()
        modes: dict[str, FasterWhisperProvider] = {
            mode: FasterWhisperProvider(
                base.model_copy(update={"whisper_decoding": mode}), cpu_threads=args.threads
            )
            for mode in ("sequential", "pauses")
        }
        for size in args.batch_sizes:
            settings = base.model_copy(
                update={"whisper_decoding": "batched", "whisper_batch_size": size}
            )
            modes[f"batched, batch {size}"] = FasterWhisperProvider(
                settings, cpu_threads=args.threads
            )
        outputs: dict[str, TranscriptOutput] = {}
        for name, provider in modes.items():  # load and warm up, untimed
            outputs[name] = provider.transcribe(media)
        times: dict[str, list[float]] = {name: [] for name in modes}
        for _ in range(args.runs):
            for name, provider in modes.items():
                started = time.perf_counter()
                outputs[name] = provider.transcribe(media)
                times[name].append(time.perf_counter() - started)

    reference = normalise(text)
    sequential_rtf = statistics.median(times["sequential"]) / seconds
    print(f"\n{seconds:.0f} s of espeak-ng speech ({len(reference.split())} words), "
          f"median of {args.runs} run(s) after a warm-up\n")  # fmt: skip
    print("| decoding | RTF | ratio to sequential | WER | segments |")
    print("|---|---|---|---|---|")
    for name in modes:
        rtf = statistics.median(times[name]) / seconds
        error = jiwer.wer(reference, normalise(outputs[name].text))
        print(f"| {name} | {rtf:.4f} | {rtf / sequential_rtf:.2f}x | {error:.2%} "
              f"| {len(outputs[name].segments)} |")  # fmt: skip
    provider = modes["sequential"]
    print(f"\nmachine: {os.cpu_count()} CPUs, {platform.processor() or platform.machine()}, "
          f"Python {platform.python_version()}, model {provider.model_path}, "
          f"{provider.cpu_threads} CTranslate2 threads; load average "
          f"{os.getloadavg()[0]:.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
