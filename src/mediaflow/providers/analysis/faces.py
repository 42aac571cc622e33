"""Face detection with OpenCV's Haar frontal-face cascade (shipped in opencv-python-headless).

The cascade files ship in ``cv2.data.haarcascades`` of opencv-python-headless 4.x
(5.0 ships none, hence the ``<5`` pin). Haar cascades are fast and need no network,
but they find frontal faces only and miss small ones; the detector reports no
confidence, so the output's ``confidence`` is None.

Result (``analysis_type="faces"``)::

    {"frames": [{"index": 0, "timestamp_s": 0.0, "start_s": 0.0, "end_s": 4.2,
                 "width": 640, "height": 480,
                 "boxes": [{"x": 95, "y": 91, "w": 211, "h": 211}]}],
     "count": 1}   # the most faces seen in any one frame
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, ClassVar

from mediaflow.config import Settings
from mediaflow.db.enums import AnalysisProvider, MediaType
from mediaflow.errors import ProviderError, ProviderUnavailable
from mediaflow.media.types import Frame
from mediaflow.providers.analysis import frame_entry
from mediaflow.providers.base import AnalysisOutput, Analyzer, Availability, MediaInput

CASCADE = "haarcascade_frontalface_default.xml"
# Frames wider than this are scaled down first: Haar cost grows with the pixel count,
# and a face too small to survive this scale is below what the cascade finds anyway.
MAX_WIDTH = 1280


def _cascade_path() -> Path | None:
    """The frontal-face cascade file of the installed OpenCV, or None."""
    import cv2

    data = getattr(cv2, "data", None)
    folder = getattr(data, "haarcascades", None)
    if not folder:
        return None
    path = Path(folder) / CASCADE
    return path if path.is_file() else None


class HaarFaceProvider(Analyzer):
    """Frontal faces per frame with OpenCV's Haar cascade."""

    name: ClassVar[str] = AnalysisProvider.OPENCV_HAAR.value
    accepts: ClassVar[frozenset[MediaType]] = frozenset({MediaType.IMAGE, MediaType.VIDEO})
    analysis_types: ClassVar[tuple[str, ...]] = ("faces",)
    model_description: ClassVar[str] = "the OpenCV Haar face cascade"
    requires: ClassVar[tuple[tuple[str, str], ...]] = (("cv2", "opencv-python-headless<5"),)
    fallback_for: ClassVar[str | None] = AnalysisProvider.YUNET.value

    def model_info(self) -> str:
        """The cascade and the OpenCV that runs it."""
        import cv2

        return f"{CASCADE.removesuffix('.xml')} (opencv {cv2.__version__})"

    def __init__(
        self,
        settings: Settings,
        *,
        scale_factor: float = 1.1,
        min_neighbors: int = 5,
        min_size: int = 30,
    ) -> None:
        """The ``detectMultiScale`` settings; OpenCV's documented defaults for frontal faces."""
        super().__init__(settings)
        self.scale_factor = scale_factor
        self.min_neighbors = min_neighbors
        self.min_size = min_size
        # One CascadeClassifier is not documented as safe for concurrent detectMultiScale
        # calls; a lock costs nothing next to the detection itself.
        self._call_lock = threading.Lock()

    def _availability(self) -> Availability:
        """Available when the installed OpenCV (<5) ships its Haar cascades."""
        try:
            path = _cascade_path()
        except ImportError as exc:
            return Availability(False, f"OpenCV cannot be imported: {exc}")
        if path is None:
            return Availability(
                False,
                f"OpenCV ships no {CASCADE} (opencv 5 dropped the cascade files: "
                "pip install 'opencv-python-headless<5')",
            )
        return Availability(True)

    def _load(self) -> Any:
        import cv2

        path = _cascade_path()
        if path is None:
            raise ProviderUnavailable(self.availability().reason)
        cascade = cv2.CascadeClassifier(str(path))
        if cascade.empty():
            raise ProviderUnavailable(f"OpenCV could not read the cascade {path}")
        return cascade

    def _analyze(self, media: MediaInput, model: Any) -> list[AnalysisOutput]:
        """Detect frontal faces in each frame."""
        import cv2

        results: list[dict[str, Any]] = [
            {**frame_entry(frame), "boxes": self._detect(model, frame)} for frame in media.frames
        ]
        return [
            AnalysisOutput(
                analysis_type="faces",
                result={
                    "frames": results,
                    "count": max((len(r["boxes"]) for r in results), default=0),
                },
                model=CASCADE.removesuffix(".xml"),
                model_version=f"opencv {cv2.__version__}",
                confidence=None,  # Haar cascades give no score
            )
        ]

    def _detect(self, cascade: Any, frame: Frame) -> list[dict[str, int]]:
        import cv2

        try:
            grey: Any = cv2.cvtColor(frame.image, cv2.COLOR_RGB2GRAY)
            height, width = grey.shape[:2]
            scale = 1.0
            if width > MAX_WIDTH:
                scale = MAX_WIDTH / width
                grey = cv2.resize(
                    grey, (MAX_WIDTH, round(height * scale)), interpolation=cv2.INTER_AREA
                )
            # No histogram equalisation: on frames with a large flat background it
            # stretched the face's contrast enough to lose faces the raw frame gives.
            with self._call_lock:
                found = cascade.detectMultiScale(
                    grey,
                    scaleFactor=self.scale_factor,
                    minNeighbors=self.min_neighbors,
                    minSize=(self.min_size, self.min_size),
                )
        except cv2.error as exc:
            raise ProviderError(
                f"OpenCV face detection failed on frame {frame.index}: {exc}"
            ) from exc
        boxes = [
            {
                "x": round(int(x) / scale),
                "y": round(int(y) / scale),
                "w": round(int(w) / scale),
                "h": round(int(h) / scale),
            }
            for x, y, w, h in found
        ]
        # Reading order (top to bottom, left to right) makes results stable to diff.
        return sorted(boxes, key=lambda b: (b["y"], b["x"]))
