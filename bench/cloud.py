"""Cloud providers against their local fakes: what the client side costs.

Each speech provider transcribes the same spoken sentence through its fake, which
runs the bundled tiny.en itself; the fake's own transcription of the same bytes is
timed side by side, so ``ratio`` = provider call / fake's work alone shows what the
HTTP round trips, uploads, base64, polling and parsing add. Vision providers are
timed on one 640x360 image (their fakes do almost nothing: the time is the client's).

    PYTHONPATH=src:. .venv/bin/python bench/cloud.py [--runs 3]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from PIL import Image

from mediaflow.config import Settings
from mediaflow.db.enums import MediaType
from mediaflow.media.audio import extract_audio
from mediaflow.providers.base import MediaInput
from mediaflow.providers.registry import ProviderRegistry
from tests import media_factory as mf
from tests.cloud.cases import SPEECH_CASES, VISION_CASES, Case
from tests.fakes.cloud import transcribe_audio


def _median_ms(call: Callable[[], object], runs: int) -> float:
    call()  # warm-up (model load, connection set-up)
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def _provider_call(case: Case, fake: object, media: MediaInput) -> Callable[[], object]:
    settings = Settings(**case.settings(fake, fake.api_key))  # type: ignore[attr-defined]
    registry = ProviderRegistry(settings)
    if case.kind == "transcription":
        return lambda: registry.transcriber(case.name).transcribe(media)
    return lambda: registry.analyzer(case.name).analyze(media)


def main() -> None:
    """Print one table row per provider."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work_dir:
        work = Path(work_dir)
        audio = extract_audio(mf.speak_wav(mf.SPEECH_SENTENCE, work / "s.wav"), work / "a.wav")
        assert audio is not None
        image = work / "i.png"
        Image.new("RGB", (640, 360), (200, 40, 40)).save(image)
        speech = MediaInput(audio, MediaType.AUDIO, audio_path=audio)
        picture = MediaInput(image, MediaType.IMAGE)
        data = audio.read_bytes()
        alone = _median_ms(lambda: transcribe_audio(data), args.runs)
        print(f"audio {len(data) / 1e3:.0f} kB; fake's own transcription {alone:.0f} ms "
              f"(median of {args.runs})")  # fmt: skip
        print(f"{'provider':<32}{'ms':>9}{'ratio':>8}")
        for case in [*SPEECH_CASES, *VISION_CASES]:
            with case.fake() as fake:
                media = speech if case.kind == "transcription" else picture
                ms = _median_ms(_provider_call(case, fake, media), args.runs)
            ratio = f"{ms / alone:.2f}" if case.kind == "transcription" else "-"
            print(f"{case.id:<32}{ms:>9.0f}{ratio:>8}")


if __name__ == "__main__":
    main()
