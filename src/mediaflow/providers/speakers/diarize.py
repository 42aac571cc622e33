"""Diarization: speech turns, voice embeddings, speakers counted and named, segments labelled.

1. Speech: the Silero VAD that ships in faster-whisper finds where someone speaks.
2. Voices: each speech region is cut into 1.5 s windows (0.75 s apart); the NumPy
   resemblyzer encoder embeds each window.
3. Speakers: average-linkage clustering of the windows on cosine distance, cut where
   two groups' voices are less alike than ``speaker_threshold``, so the number of
   speakers is found, not given; ``max_speakers`` (setting or a job's option) bounds
   it. Groups too small to be a voice (under a second) join the nearest real one.
4. Turns: every 10 ms of speech takes the speaker of the nearest window; runs of one
   speaker are turns. Speakers are named ``Speaker 1``, ``Speaker 2``... in order of
   first appearance.
5. Transcript: each word takes the speaker of its midpoint; a segment whose words
   change speaker is split there, so every segment has exactly one speaker.
"""

from __future__ import annotations

import wave
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from mediaflow.providers.base import Segment, TranscriptOutput, Word
from mediaflow.providers.speakers.encoder import SAMPLE_RATE, load_encoder, weights_path

__all__ = ["Diarization", "Turn", "apply_speakers", "diarize", "model_info", "speaker_label"]

WINDOW_S = 1.5
HOP_S = 0.75
MIN_REGION_S = 0.4
MIN_SPEAKER_S = 1.0
STEP_S = 0.01
MAX_LINKAGE = 2000  # windows clustered pairwise (about 25 min of speech); more are sampled


@dataclass(frozen=True)
class Turn:
    """One stretch of one speaker's speech."""

    start: float
    end: float
    speaker: str


@dataclass
class Diarization:
    """Turns, how many speakers, and what found them."""

    turns: list[Turn]
    speakers: list[str]
    model: str
    details: dict[str, Any] = field(default_factory=dict)


def speaker_label(number: int) -> str:
    """``Speaker 1`` for 1."""
    return f"Speaker {number}"


def model_info() -> str:
    """The encoder's name and version, for results and ``mediaflow providers``."""
    from mediaflow.providers.analysis import package_version

    return f"resemblyzer pretrained.pt GE2E LSTM in NumPy ({package_version('resemblyzer')})"


def read_wav(path: Path) -> npt.NDArray[np.float32]:
    """A 16 kHz mono PCM WAV (the pipeline's) as float samples; anything else via PyAV."""
    try:
        with wave.open(str(path), "rb") as wav:
            if (
                wav.getframerate() == SAMPLE_RATE
                and wav.getnchannels() == 1
                and wav.getsampwidth() == 2
            ):
                raw = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
                return (raw.astype(np.float32) / 32768.0).copy()
    except (wave.Error, EOFError):
        pass
    from faster_whisper import decode_audio

    return np.asarray(decode_audio(str(path), sampling_rate=SAMPLE_RATE), dtype=np.float32)


def _speech_regions(audio: npt.NDArray[np.float32]) -> list[tuple[int, int]]:
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    found = get_speech_timestamps(audio, VadOptions(min_silence_duration_ms=250, speech_pad_ms=30))
    return [
        (int(r["start"]), int(r["end"]))
        for r in found
        if int(r["end"]) - int(r["start"]) >= MIN_REGION_S * SAMPLE_RATE
    ]


def _windows(regions: list[tuple[int, int]]) -> list[tuple[int, int]]:
    size, hop = int(WINDOW_S * SAMPLE_RATE), int(HOP_S * SAMPLE_RATE)
    spans = []
    for start, end in regions:
        position = start
        while True:
            spans.append((position, min(position + size, end)))
            if position + size >= end:
                break
            position += hop
    return spans


def cluster(
    vectors: npt.NDArray[np.float32],
    threshold: float,
    max_speakers: int | None,
    weights: npt.NDArray[np.float64] | None = None,
) -> npt.NDArray[np.int64]:
    """Labels 0..k-1 of unit ``vectors``: average linkage cut at ``1 - threshold``.

    ``weights`` (seconds each vector stands for) decide which groups are too small to
    be a speaker; those join the group whose centroid is nearest.
    """
    count = len(vectors)
    if count <= 1:
        return np.zeros(count, dtype=np.int64)
    from scipy.cluster.hierarchy import fcluster, linkage  # type: ignore[import-untyped]

    # linkage needs all pairwise distances: on long files it runs on an evenly spaced
    # sample, and every window then joins the nearest sampled group's centroid
    sample = np.linspace(0, count - 1, min(count, MAX_LINKAGE)).round().astype(np.int64)
    picked = vectors[sample].astype(np.float64)
    distances = np.clip(1.0 - picked @ picked.T, 0, 2)
    tree = linkage(distances[np.triu_indices(len(sample), k=1)], method="average")
    labels = fcluster(tree, t=1.0 - threshold, criterion="distance")
    if max_speakers is not None and len(set(labels)) > max_speakers:
        labels = fcluster(tree, t=max_speakers, criterion="maxclust")
    labels = np.asarray(labels, dtype=np.int64)
    if len(sample) < count:
        groups = sorted(set(labels.tolist()))
        centroids = np.array([picked[labels == g].mean(axis=0) for g in groups])
        labels = np.array(groups, dtype=np.int64)[np.argmax(vectors @ centroids.T, axis=1)]
    weight = np.ones(count) * HOP_S if weights is None else weights
    totals = {g: float(weight[labels == g].sum()) for g in set(labels.tolist())}
    big = [g for g, total in totals.items() if total >= MIN_SPEAKER_S]
    if big and len(big) < len(totals):
        centroids = np.array([vectors[labels == g].mean(axis=0) for g in big])
        for index in np.flatnonzero(~np.isin(labels, big)):
            labels[index] = big[int(np.argmax(centroids @ vectors[index]))]
    # 0..k-1 in order of first appearance
    order = {g: i for i, g in enumerate(dict.fromkeys(labels.tolist()))}
    return np.array([order[g] for g in labels.tolist()], dtype=np.int64)


def diarize(audio_path: Path, *, threshold: float, max_speakers: int | None = None) -> Diarization:
    """Who speaks when in ``audio_path``; no speech gives no turns (not an error)."""
    path = weights_path()
    if path is None:
        raise FileNotFoundError(
            "resemblyzer is not installed (pip install --no-deps resemblyzer==0.1.4)"
        )
    audio = read_wav(audio_path)
    regions = _speech_regions(audio)
    spans = _windows(regions)
    model = model_info()
    if not spans:
        return Diarization([], [], model, {"windows": 0})
    vectors = load_encoder(path).embed_windows(audio, spans)
    weights = np.array([(end - start) / SAMPLE_RATE for start, end in spans])
    labels = cluster(vectors, threshold, max_speakers, weights)
    centres = np.array([(start + end) / 2 for start, end in spans]) / SAMPLE_RATE
    turns = _turns(regions, centres, labels)
    speakers = list(dict.fromkeys(t.speaker for t in turns))
    return Diarization(
        turns, speakers, model,
        {"windows": len(spans), "speech_s": round(float(sum(e - s for s, e in regions))
                                                  / SAMPLE_RATE, 2)},
    )  # fmt: skip


def _turns(
    regions: list[tuple[int, int]], centres: npt.NDArray[np.float64], labels: npt.NDArray[np.int64]
) -> list[Turn]:
    turns: list[Turn] = []
    for start, end in regions:
        begin, finish = start / SAMPLE_RATE, end / SAMPLE_RATE
        inside = np.flatnonzero((centres >= begin - WINDOW_S) & (centres <= finish + WINDOW_S))
        if inside.size == 0:
            continue
        times = np.arange(begin, finish, STEP_S)
        nearest = inside[np.argmin(np.abs(centres[inside][None, :] - times[:, None]), axis=1)]
        steps = labels[nearest]
        run_start = 0
        for i in range(1, len(steps) + 1):
            if i == len(steps) or steps[i] != steps[run_start]:
                turns.append(
                    Turn(
                        round(float(times[run_start]), 2),
                        round(float(min(times[i - 1] + STEP_S, finish)), 2),
                        speaker_label(int(steps[run_start]) + 1),
                    )
                )
                run_start = i
    return turns


def speaker_at(turns: list[Turn], start: float, end: float) -> str | None:
    """The speaker of the turn that overlaps ``start``-``end`` most (nearest if none does)."""
    if not turns:
        return None
    best, best_overlap = None, 0.0
    for turn in turns:
        overlap = min(turn.end, end) - max(turn.start, start)
        if overlap > best_overlap:
            best, best_overlap = turn.speaker, overlap
    if best is not None:
        return best
    middle = (start + end) / 2
    return min(turns, key=lambda t: min(abs(t.start - middle), abs(t.end - middle))).speaker


def apply_speakers(transcript: TranscriptOutput, turns: list[Turn]) -> TranscriptOutput:
    """``transcript`` with a speaker on every segment, split where the speaker changes."""
    if not turns:
        return transcript
    segments: list[Segment] = []
    for segment in transcript.segments:
        if not segment.words:
            segment.speaker = speaker_at(turns, segment.start, segment.end)
            segments.append(segment)
            continue
        runs: list[tuple[str | None, list[Word]]] = []
        for word in segment.words:
            who = speaker_at(turns, word.start, word.end)
            if runs and runs[-1][0] == who:
                runs[-1][1].append(word)
            else:
                runs.append((who, [word]))
        if len(runs) == 1:
            segment.speaker = runs[0][0]
            segments.append(segment)
            continue
        for who, words in runs:
            probabilities = [w.probability for w in words if w.probability is not None]
            segments.append(
                Segment(
                    start=words[0].start, end=words[-1].end,
                    text=" ".join(w.word for w in words).strip(), words=words,
                    confidence=round(sum(probabilities) / len(probabilities), 4)
                    if probabilities else None,
                    speaker=who,
                )
            )  # fmt: skip
    transcript.segments = segments
    return transcript
