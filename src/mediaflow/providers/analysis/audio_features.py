"""Audio levels as recorded (loudness, peaks, silences) and speech share.

Result (``analysis_type="audio_levels"``)::

    {"duration_s": 5.36,
     "integrated_lufs": -23.1,    # EBU R128 / BS.1770 on the original channels and rate;
                                  # None below 0.4 s ("loudness_too_short") or for silence
     "loudness_too_short": false,
     "loudness_range_lu": 4.2,    # EBU R128 LRA
     "true_peak_dbtp": -0.8,      # 4x oversampled peak
     "sample_peak_dbfs": -1.2,    # None for digital silence
     "peak_dbfs": -1.2,           # = sample_peak_dbfs (kept for older readers)
     "rms_dbfs": -20.3,           # of the 16 kHz mono speech track
     "measured_on": {"sample_rate": 48000, "channels": 6, "layout": "5.1"},
     "silence_threshold_dbfs": -45.0,
     "silences": [{"start_s": 1.0, "end_s": 2.5}],   # >= min_silence_s under the threshold
     "silence_ratio": 0.28,
     "speech": [{"start_s": 0.1, "end_s": 0.9}],     # Silero VAD (ships in faster-whisper)
     "speech_ratio": 0.6}

Loudness and silences are measured on the stored original's first audio stream,
with its own channels and rate (``media.loudness``): the 16 kHz mono downmix is for
speech models only. Speech comes from the Silero voice-activity model that
faster-whisper ships as ONNX, on the 16 kHz track (``speech`` is empty and
``speech_ratio`` None when that model is unavailable; the levels still come).
The output's ``confidence`` is None: these are measurements.
"""

from __future__ import annotations

import logging
import wave
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

from mediaflow.config import Settings
from mediaflow.db.enums import AnalysisProvider, MediaType
from mediaflow.errors import MediaflowError, ProviderError
from mediaflow.media.loudness import Loudness, measure_loudness, meter_version
from mediaflow.providers.analysis import rounded, rounded_or_none
from mediaflow.providers.base import AnalysisOutput, Analyzer, MediaInput

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float32]

WINDOW_S = 0.05  # silence is judged on 50 ms windows
VAD_RATE = 16_000  # Silero VAD runs at 16 kHz


def read_wav_mono(path: Path) -> tuple[FloatArray, int]:
    """Read a PCM WAV (8/16/24/32-bit, any channel count) as mono float32 in [-1, 1]."""
    try:
        with wave.open(str(path), "rb") as wav:
            channels = wav.getnchannels()
            width = wav.getsampwidth()
            rate = wav.getframerate()
            raw = wav.readframes(wav.getnframes())
    except (wave.Error, EOFError, OSError) as exc:
        raise ProviderError(f"cannot read WAV {path.name}: {exc}") from exc
    if width == 1:  # 8-bit WAV is unsigned
        samples = (np.frombuffer(raw, dtype=np.uint8).astype(np.float32) - 128.0) / 128.0
    elif width == 2:
        samples = np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768.0
    elif width == 3:  # 24-bit: widen each little-endian triple to int32
        triples = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 3).astype(np.int32)
        ints = triples[:, 0] | (triples[:, 1] << 8) | (triples[:, 2] << 16)
        ints = np.where(ints >= 1 << 23, ints - (1 << 24), ints)
        samples = ints.astype(np.float32) / float(1 << 23)
    elif width == 4:
        samples = np.frombuffer(raw, dtype="<i4").astype(np.float32) / float(1 << 31)
    else:
        raise ProviderError(f"{path.name}: unsupported WAV sample width {width} bytes")
    if channels > 1:
        samples = samples[: len(samples) // channels * channels].reshape(-1, channels).mean(axis=1)
    return samples.astype(np.float32, copy=False), rate


def _dbfs(value: float) -> float:
    """Decibels relative to full scale; -inf for 0."""
    with np.errstate(divide="ignore"):
        return float(20.0 * np.log10(value))


def _intervals(mask: npt.NDArray[np.bool_], step_s: float, min_s: float) -> list[dict[str, float]]:
    """Runs of True in ``mask`` (one entry per ``step_s``) lasting at least ``min_s``."""
    padded = np.concatenate(([False], mask, [False]))
    edges = np.flatnonzero(np.diff(padded.astype(np.int8)))
    runs = edges.reshape(-1, 2)  # [start, end) window indices
    return [
        {"start_s": rounded(start * step_s, 3), "end_s": rounded(end * step_s, 3)}
        for start, end in runs
        if (end - start) * step_s >= min_s - 1e-9
    ]


class AudioFeaturesProvider(Analyzer):
    """Loudness, levels, silences and speech share of an audio track."""

    name: ClassVar[str] = AnalysisProvider.AUDIO_FEATURES.value
    model_description: ClassVar[str] = "loudness, silence and speech levels (no weights)"
    model_package: ClassVar[str | None] = "pyloudnorm"
    accepts: ClassVar[frozenset[MediaType]] = frozenset({MediaType.AUDIO, MediaType.VIDEO})
    analysis_types: ClassVar[tuple[str, ...]] = ("audio_levels",)
    uses = "audio"
    # speech detection (faster-whisper's Silero VAD) is optional: the levels come without it
    requires: ClassVar[tuple[tuple[str, str], ...]] = (("pyebur128", "pyebur128"),)

    def __init__(
        self,
        settings: Settings,
        *,
        silence_threshold_dbfs: float = -45.0,
        min_silence_s: float = 0.5,
    ) -> None:
        """Windows under ``silence_threshold_dbfs`` for ``min_silence_s`` or more are silence."""
        super().__init__(settings)
        self.silence_threshold_dbfs = silence_threshold_dbfs
        self.min_silence_s = min_silence_s

    def _analyze(self, media: MediaInput, model: Any) -> list[AnalysisOutput]:
        """Measure the original's audio as recorded; speech on the 16 kHz mono WAV."""
        assert media.audio_path is not None  # Analyzer.analyze checked it (uses = "audio")
        samples, rate = read_wav_mono(media.audio_path)
        loudness = self._measure(media)
        duration = loudness.duration_s if loudness else (len(samples) / rate if rate else 0.0)
        rms = float(np.sqrt(np.mean(np.square(samples, dtype=np.float64)))) if len(samples) else 0.0
        if loudness is not None:
            silences, silent_s = loudness.silences, loudness.silent_s
        else:
            silences, silent_s = self._silences(samples, rate)
        speech, speech_s = self._speech(samples, rate)
        levels = loudness.to_dict() if loudness is not None else {"integrated_lufs": None}
        result: dict[str, Any] = {
            "duration_s": rounded(duration, 3),
            **levels,
            "peak_dbfs": levels.get("sample_peak_dbfs"),
            "rms_dbfs": rounded_or_none(_dbfs(rms), 2),
            "silence_threshold_dbfs": self.silence_threshold_dbfs,
            "silences": silences,
            "silence_ratio": rounded(silent_s / duration, 4) if duration else None,
            "speech": speech if speech is not None else [],
            "speech_ratio": (
                rounded(speech_s / duration, 4) if speech is not None and duration else None
            ),
        }
        return [
            AnalysisOutput(
                analysis_type="audio_levels",
                result=result,
                model="ebu_r128+silero_vad",
                model_version=meter_version(),
                confidence=None,
            )
        ]

    def _measure(self, media: MediaInput) -> Loudness | None:
        try:
            return measure_loudness(
                media.path,
                silence_threshold_dbfs=self.silence_threshold_dbfs,
                min_silence_s=self.min_silence_s,
            )
        except MediaflowError as exc:
            raise ProviderError(f"cannot measure the loudness of {media.label}: {exc}") from exc

    def _silences(self, samples: FloatArray, rate: int) -> tuple[list[dict[str, float]], float]:
        window = max(1, round(WINDOW_S * rate))
        count = len(samples) // window
        if count == 0:
            return [], 0.0
        blocks = samples[: count * window].reshape(count, window).astype(np.float64)
        with np.errstate(divide="ignore"):
            levels = 10.0 * np.log10(np.mean(np.square(blocks), axis=1))
        silent = levels < self.silence_threshold_dbfs
        step = window / rate
        intervals = _intervals(silent, step, self.min_silence_s)
        total = sum(i["end_s"] - i["start_s"] for i in intervals)
        return intervals, total

    @staticmethod
    def _speech(samples: FloatArray, rate: int) -> tuple[list[dict[str, float]] | None, float]:
        """Speech intervals by Silero VAD; (None, 0) when the model is not available."""
        try:
            from faster_whisper.vad import VadOptions, get_speech_timestamps
        except ImportError:
            return None, 0.0
        if len(samples) == 0:
            return [], 0.0
        audio = samples
        if rate != VAD_RATE:  # linear resampling is plenty for voice activity
            positions = np.arange(0, len(samples), rate / VAD_RATE)
            audio = np.interp(positions, np.arange(len(samples)), samples).astype(np.float32)
        # Tighter than the transcriber's VAD settings (2 s silences, 400 ms padding):
        # here the point is the share of time with speech, not safe chunking.
        options = VadOptions(min_silence_duration_ms=300, speech_pad_ms=30)
        try:
            chunks = get_speech_timestamps(audio, vad_options=options, sampling_rate=VAD_RATE)
        except Exception as exc:  # the VAD model failed to load or run: the levels still count
            logger.warning("voice activity detection failed, speech not measured: %s", exc)
            return None, 0.0
        intervals = [
            {"start_s": rounded(c["start"] / VAD_RATE, 3), "end_s": rounded(c["end"] / VAD_RATE, 3)}
            for c in chunks
        ]
        return intervals, sum(i["end_s"] - i["start_s"] for i in intervals)
