"""Where Whisper's windows start: at pauses fixed by the audio, not by where decoding began.

Whisper hears audio in 30 s windows, and the same words come out a little differently
when a window starts elsewhere. Decoding a file window after window places each window
where the previous one ended, so a long file split into chunks (``pipeline.chunks``)
would be heard differently from the same file decoded whole: 2-3 % of the words
changed on a 6-minute talk (bench/README.md).

Here the windows are cut at pauses that depend only on the samples around them. An
anchor lies every ``SPACING_S`` seconds of the *file*; each cut is the quietest
``WINDOW_S`` stretch within ``SEARCH_S`` of its anchor, its energy summed exactly in
integers. A chunk whose audio reaches ``REACH_S`` beyond its anchors finds the very
cuts the whole file finds, and each window between two cuts is decoded on its own
(no text carried over): the stitched transcript is the whole file's.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["REACH_S", "SAMPLE_RATE", "SEARCH_S", "SPACING_S", "AudioSpan", "pause_cuts"]

SAMPLE_RATE = 16_000
# Anchors every 20 s, each cut searched 5 s either side: a window is at most 30 s, and
# a sentence's pause is usually within reach. bench/transcription_modes.py chose these:
# 24 s / 3 s / 0.2 s cut inside phrases more often and lost 1-2 % more words.
SPACING_S = 20.0
SEARCH_S = 5.0
WINDOW_S = 0.3  # the stretch whose energy decides (a pause is longer than a stop consonant)
_HOP = 160  # candidates every 10 ms, on the file's own sample grid
_SPACING = round(SPACING_S * SAMPLE_RATE)
_SEARCH = round(SEARCH_S * SAMPLE_RATE)
_HALF = round(WINDOW_S * SAMPLE_RATE) // 2
# how far beyond an anchor a cut's decision reads: a chunk's audio must reach this far
REACH_S = (_SEARCH + _HALF) / SAMPLE_RATE


@dataclass(frozen=True)
class AudioSpan:
    """The part of a recording to transcribe, on the sample grid of the file it is from.

    ``offset`` is the file sample of the recording's first sample (a chunk's audio
    starts inside the file); ``start``/``end`` are anchors in file samples, None for the
    recording's own start or end. A whole file is ``AudioSpan()``.
    """

    offset: int = 0
    start: int | None = None
    end: int | None = None

    @classmethod
    def of_seconds(cls, offset_s: float, start_s: float | None, end_s: float | None) -> AudioSpan:
        """The span of a chunk whose audio starts at ``offset_s`` of the file."""

        def samples(seconds: float | None) -> int | None:
            return None if seconds is None else round(seconds * SAMPLE_RATE)

        return cls(round(offset_s * SAMPLE_RATE), samples(start_s), samples(end_s))


def _quietest(samples: npt.NDArray[np.int16], offset: int, anchor: int) -> int:
    """The file sample nearest ``anchor`` at the middle of the quietest stretch near it."""
    first = max(anchor - _SEARCH, offset + _HALF)
    last = min(anchor + _SEARCH, offset + len(samples) - _HALF)
    candidates = np.arange(first - (first - anchor) % _HOP, last + 1, _HOP)
    candidates = candidates[(candidates >= first) & (candidates <= last)]
    if len(candidates) == 0:
        return min(max(anchor, offset), offset + len(samples))
    lo = int(candidates[0]) - _HALF - offset
    hi = int(candidates[-1]) + _HALF - offset
    power = samples[lo:hi].astype(np.int64) ** 2
    cumulative = np.concatenate(([0], np.cumsum(power)))  # exact: integers, no rounding
    starts = candidates - _HALF - offset - lo
    energy = cumulative[starts + 2 * _HALF] - cumulative[starts]
    # quietest; among equals the one nearest the anchor, then the earlier
    order = np.lexsort((candidates, np.abs(candidates - anchor), energy))
    return int(candidates[order[0]])


def pause_cuts(samples: npt.NDArray[np.int16], span: AudioSpan = AudioSpan()) -> list[int]:
    """The window edges of ``span`` in ``samples``, as indices into ``samples``.

    The first and last edges are the span's own (its start and end cut at their
    pauses, or the recording's ends); in between, one cut per anchor. The file's last
    anchor less than half a spacing before the end is dropped (no sliver of a window).
    """
    offset, total = span.offset, len(samples)
    end_of_audio = offset + total
    begin = offset if span.start is None else _quietest(samples, offset, span.start)
    finish = end_of_audio if span.end is None else _quietest(samples, offset, span.end)
    first_anchor = (span.start if span.start is not None else offset) // _SPACING + 1
    limit = span.end if span.end is not None else end_of_audio - _SPACING // 2
    cuts = [begin]
    anchor = first_anchor * _SPACING
    while anchor < limit:
        if anchor > offset:  # anchors before the recording are not this span's
            cut = _quietest(samples, offset, anchor)
            if cuts[-1] < cut < finish:
                cuts.append(cut)
        anchor += _SPACING
    if finish > cuts[-1]:
        cuts.append(finish)
    return [cut - offset for cut in cuts]
