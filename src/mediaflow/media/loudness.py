"""Loudness as recorded: EBU R128 / ITU-R BS.1770 on the original channels and rate.

The 16 kHz mono WAV (``media.audio``) is for speech models; a downmix is quieter
than the programme (5.1 averaged into one channel loses several dB) and its
quiet passages look like silence. Here the first audio stream is decoded at its
own rate with its own channels and fed, a frame at a time, to libebur128
(``pyebur128``): integrated loudness (LUFS), loudness range (LU) and true peak
(dBTP), with BS.1770's channel weights: left, right and centre 1.0, the
surround channels 1.41 (+1.5 dB), the LFE channel left out.

Silences are judged on the same channels: a 50 ms window is silent when the
weighted sum of its channels' power is under the threshold.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

import av
import av.error
import numpy as np
import numpy.typing as npt

from mediaflow.errors import InvalidInput
from mediaflow.media.detect import open_container

__all__ = ["LOUDNESS_BLOCK_S", "Loudness", "measure_loudness", "meter_version"]

LOUDNESS_BLOCK_S = 0.4  # BS.1770 gating block: shorter audio has no integrated loudness
WINDOW_S = 0.05  # silence is judged on 50 ms windows

# FFmpeg channel names -> (libebur128 channel type name, BS.1770 weight)
_CHANNELS: dict[str, tuple[str, float]] = {
    "FL": ("LEFT", 1.0),
    "FR": ("RIGHT", 1.0),
    "FC": ("CENTER", 1.0),
    "LFE": ("UNUSED", 0.0),
    "LFE2": ("UNUSED", 0.0),
    "BL": ("LEFT_SURROUND", 1.41),
    "BR": ("RIGHT_SURROUND", 1.41),
    "SL": ("LEFT_SURROUND", 1.41),
    "SR": ("RIGHT_SURROUND", 1.41),
}


@dataclass
class Loudness:
    """What the meter found on the original channels."""

    sample_rate: int
    channels: int
    layout: str
    duration_s: float
    integrated_lufs: float | None  # None: under 0.4 s, or nothing above the gate
    loudness_range_lu: float | None
    true_peak_dbtp: float | None
    sample_peak_dbfs: float | None
    too_short: bool
    silences: list[dict[str, float]] = field(default_factory=list)
    silent_s: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """The measurements as stored in the ``audio_levels`` result."""
        return {
            "integrated_lufs": self.integrated_lufs,
            "loudness_range_lu": self.loudness_range_lu,
            "true_peak_dbtp": self.true_peak_dbtp,
            "sample_peak_dbfs": self.sample_peak_dbfs,
            "loudness_too_short": self.too_short,
            "measured_on": {
                "sample_rate": self.sample_rate,
                "channels": self.channels,
                "layout": self.layout,
            },
        }


def meter_version() -> str:
    """``pyebur128 <version> (libebur128 <version>)``: the meter as recorded with results."""
    import pyebur128

    try:
        package = metadata.version("pyebur128")
    except metadata.PackageNotFoundError:
        package = str(getattr(pyebur128, "__version__", "unknown"))
    return f"pyebur128 {package} (libebur128 {pyebur128.get_libebur128_version()})"


def _db(value: float) -> float | None:
    if value <= 0 or not math.isfinite(value):
        return None
    return round(20.0 * math.log10(value), 2)


def _finite(value: float, digits: int = 2) -> float | None:
    return round(value, digits) if math.isfinite(value) else None


class _Silences:
    """Weighted channel power per 50 ms window, windows under the threshold collected."""

    def __init__(self, rate: int, weights: npt.NDArray[np.float64], threshold_dbfs: float) -> None:
        self.window = max(1, round(WINDOW_S * rate))
        self.step_s = self.window / rate
        self.weights = weights
        self.threshold = threshold_dbfs
        self.carry = np.zeros((0, len(weights)), dtype=np.float64)
        self.silent: list[bool] = []

    def add(self, samples: npt.NDArray[np.float64]) -> None:
        data = np.concatenate([self.carry, samples]) if len(self.carry) else samples
        count = len(data) // self.window
        if count:
            blocks = data[: count * self.window].reshape(count, self.window, -1)
            power = (np.mean(np.square(blocks), axis=1) * self.weights).sum(axis=1)
            with np.errstate(divide="ignore"):
                levels = 10.0 * np.log10(power)
            self.silent.extend(bool(v) for v in levels < self.threshold)
        self.carry = data[count * self.window :]

    def intervals(self, min_s: float) -> list[dict[str, float]]:
        runs: list[dict[str, float]] = []
        start: int | None = None
        for position, silent in enumerate([*self.silent, False]):
            if silent and start is None:
                start = position
            elif not silent and start is not None:
                if (position - start) * self.step_s >= min_s - 1e-9:
                    runs.append(
                        {
                            "start_s": round(start * self.step_s, 3),
                            "end_s": round(position * self.step_s, 3),
                        }
                    )
                start = None
        return runs


def measure_loudness(
    path: str | os.PathLike[str],
    *,
    silence_threshold_dbfs: float = -45.0,
    min_silence_s: float = 0.5,
) -> Loudness | None:
    """Measure the first audio stream of ``path`` as recorded; None without audio.

    Undecodable packets are skipped (their damage is counted where the audio is
    extracted); a stream with nothing decodable raises ``InvalidInput``.
    """
    import pyebur128

    modes = pyebur128.MeasurementMode
    with open_container(path) as container:
        if not container.streams.audio:
            return None
        stream = container.streams.audio[0]
        ctx = stream.codec_context
        rate = int(ctx.sample_rate or 0)
        layout = ctx.layout
        names = [channel.name for channel in layout.channels] if layout is not None else []
        channels = len(names) or int(ctx.channels or 0)
        if not rate or not channels:
            raise InvalidInput(f"cannot measure loudness: no sample rate or channels in {path}")
        if channels == 1:
            names = ["FC"]  # one channel counts once (BS.1770), not as dual mono
        types = [_CHANNELS.get(name, ("LEFT", 1.0)) for name in names]
        state = pyebur128.R128State(
            channels,
            rate,
            modes.MODE_I | modes.MODE_LRA | modes.MODE_TRUE_PEAK | modes.MODE_SAMPLE_PEAK,
        )
        for index, (channel_type, _) in enumerate(types):
            state.set_channel(index, getattr(pyebur128.ChannelType, channel_type))
        weights = np.array([w for _, w in types], dtype=np.float64)
        silences = _Silences(rate, weights, silence_threshold_dbfs)
        # packed float at the stream's own rate and layout: interleaved, as libebur128 wants
        resampler = av.AudioResampler(format="dbl", layout=layout, rate=rate)
        frames_seen = 0
        for packet in container.demux(stream):
            try:
                decoded = stream.decode(packet)
            except av.error.FFmpegError:
                continue
            for frame in decoded:
                for out in resampler.resample(frame):
                    frames_seen += _feed(state, silences, out, channels)
        for out in resampler.resample(None):
            frames_seen += _feed(state, silences, out, channels)
    if frames_seen == 0:
        raise InvalidInput("truncated or corrupt audio: nothing decodable to measure")
    return _result(
        state, silences, layout, types, frames_seen=frames_seen, min_silence_s=min_silence_s
    )


def _feed(state: Any, silences: _Silences, frame: av.AudioFrame, channels: int) -> int:
    interleaved = np.ascontiguousarray(frame.to_ndarray().reshape(-1), dtype=np.float64)
    count = len(interleaved) // channels
    if count:
        state.add_frames(interleaved, count)
        silences.add(interleaved[: count * channels].reshape(count, channels))
    return count


def _result(
    state: Any,
    silences: _Silences,
    layout: Any,
    types: list[tuple[str, float]],
    *,
    frames_seen: int,
    min_silence_s: float,
) -> Loudness:
    import pyebur128

    rate, channels = int(state.samplerate), int(state.channels)
    duration = frames_seen / rate
    too_short = duration < LOUDNESS_BLOCK_S
    integrated = lra = None
    if not too_short:
        integrated = _finite(pyebur128.get_loudness_global(state))
        lra = _finite(pyebur128.get_loudness_range(state))
    measured = [i for i, (kind, _) in enumerate(types) if kind != "UNUSED"] or list(range(channels))
    true_peak = max(pyebur128.get_true_peak(state, i) for i in measured)
    sample_peak = max(pyebur128.get_sample_peak(state, i) for i in measured)
    intervals = silences.intervals(min_silence_s)
    return Loudness(
        sample_rate=rate,
        channels=channels,
        layout=layout.name if layout is not None else f"{channels} channels",
        duration_s=round(duration, 3),
        integrated_lufs=integrated if integrated is None or integrated > -70.0 else None,
        loudness_range_lu=lra,
        true_peak_dbtp=_db(true_peak),
        sample_peak_dbfs=_db(sample_peak),
        too_short=too_short,
        silences=intervals,
        silent_s=round(sum(i["end_s"] - i["start_s"] for i in intervals), 3),
    )
