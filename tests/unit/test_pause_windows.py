"""Whisper's windows are cut at pauses that depend only on the audio around them.

The property chunked transcription rests on: a chunk whose audio reaches ``REACH_S``
beyond its anchors finds exactly the cuts the whole recording finds.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from mediaflow.providers.transcription.pause_windows import (
    REACH_S,
    SAMPLE_RATE,
    SEARCH_S,
    SPACING_S,
    AudioSpan,
    pause_cuts,
)

RATE = SAMPLE_RATE


def _speech_like(seconds: float, seed: int, pauses: list[tuple[float, float]]) -> np.ndarray:
    """Loud noise bursts with quiet stretches at ``pauses`` (start, length in seconds)."""
    rng = np.random.default_rng(seed)
    loud = rng.normal(0, 6000, int(seconds * RATE))
    # syllables: the level rises and falls four times a second
    envelope = 0.55 + 0.45 * np.sin(np.arange(len(loud)) / RATE * 2 * np.pi * 4)
    samples = loud * envelope
    for start, length in pauses:
        a, b = int(start * RATE), int((start + length) * RATE)
        samples[a:b] = rng.normal(0, 30, len(samples[a:b]))
    return np.clip(samples, -32768, 32767).astype(np.int16)


def _chunk_cuts(samples: np.ndarray, start_s: float, end_s: float | None) -> list[int]:
    """The cuts a chunk owning [start_s, end_s) finds, as whole-recording sample indices."""
    reach = REACH_S + 0.5
    first = round(max(0.0, start_s - reach) * RATE)
    last = len(samples) if end_s is None else round((end_s + reach) * RATE)
    span = AudioSpan.of_seconds(first / RATE, start_s or None, end_s)
    return [first + cut for cut in pause_cuts(samples[first:last], span)]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_chunks_find_the_cuts_the_whole_recording_finds(seed: int) -> None:
    rng = np.random.default_rng(seed)
    pauses = [(float(t), float(rng.uniform(0.15, 0.6))) for t in np.arange(2.0, 200.0, 4.3)]
    samples = _speech_like(200.0, seed, pauses)
    whole = pause_cuts(samples)
    edges = [0.0, 60.0, 140.0, None]  # chunk edges on anchors (multiples of SPACING_S)
    stitched: list[int] = []
    for start, end in itertools.pairwise(edges):
        assert start is not None
        cuts = _chunk_cuts(samples, start, end)
        stitched.extend(cuts if not stitched else cuts[1:])  # shared edge counted once
    assert stitched == whole


def test_cuts_fall_in_pauses_and_windows_fit_whisper() -> None:
    pauses = [(t, 0.4) for t in (18.0, 43.5, 61.0, 77.2, 101.0)]  # near 20, 40, ... 100 s
    samples = _speech_like(130.0, 7, pauses)
    cuts = pause_cuts(samples)
    assert cuts[0] == 0 and cuts[-1] == len(samples)
    for cut in cuts[1:-1]:  # each inner cut inside one of the quiet stretches
        assert any(start * RATE <= cut <= (start + length) * RATE for start, length in pauses)
    lengths = [(b - a) / RATE for a, b in itertools.pairwise(cuts)]
    assert all(length <= 30.0 for length in lengths[:-1])
    # the last window takes the remainder: at most a spacing and a half, plus the search
    assert lengths[-1] <= SPACING_S * 1.5 + SEARCH_S


def test_short_and_silent_recordings() -> None:
    assert pause_cuts(np.zeros(RATE * 10, dtype=np.int16)) == [0, RATE * 10]
    assert pause_cuts(np.zeros(0, dtype=np.int16)) == [0]
    silent = pause_cuts(np.zeros(RATE * 100, dtype=np.int16))
    # all quiet: each cut at its anchor (nearest wins a tie)
    assert silent[1:-1] == [round(k * SPACING_S * RATE) for k in (1, 2, 3, 4)]
