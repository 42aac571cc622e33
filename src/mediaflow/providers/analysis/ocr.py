"""Text in images and video frames with RapidOCR (PP-OCR ONNX models shipped in its wheel).

RapidOCR would download a model it cannot find: its ONNX Runtime engine fetches any
model missing from its ``models`` folder, and the recogniser fetches a character
dictionary when the model carries none. This provider therefore names the three
shipped model files explicitly (``Det/Cls/Rec.model_path``) and reports itself
unavailable when one is missing, so nothing is ever fetched at run time. The
PP-OCRv6 recogniser carries its dictionary in the ONNX metadata (checked in the
tests by running with the network unshared).

Result (``analysis_type="ocr"``)::

    {"frames": [{"index": 0, "timestamp_s": 0.0, "start_s": 0.0, "end_s": 30.0,
                 "width": 1280, "height": 720,
                 "lines": [{"text": "INVOICE 2024", "confidence": 0.998,
                            "box": [[x, y], [x, y], [x, y], [x, y]]}]}],
     "text": "INVOICE 2024",        # unique lines, first-seen order, joined by newlines
     "words": ["2024", "invoice"],  # unique lowercase words, sorted
     "ocr_runs": 1}                  # frames read in full (the others reused a reading)

``words`` exists for search: ``result @> '{"words": ["invoice"]}'`` uses the GIN index.
``confidence`` of the output is the mean line confidence (None when no text was found).
"""

from __future__ import annotations

import importlib.util
import re
import threading
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

from mediaflow.config import Settings
from mediaflow.db.enums import AnalysisProvider, MediaType
from mediaflow.errors import ProviderError
from mediaflow.media.types import Frame
from mediaflow.providers.analysis import frame_entry, package_version, rounded
from mediaflow.providers.base import AnalysisOutput, Analyzer, Availability, MediaInput

# The models shipped in the rapidocr 3.10.0 wheel (its config.yaml defaults: PP-OCRv6
# small detector and recogniser, the v2 mobile direction classifier).
DET_MODEL = "PP-OCRv6_det_small.onnx"
REC_MODEL = "PP-OCRv6_rec_small.onnx"
CLS_MODEL = "ch_ppocr_mobile_v2.0_cls_mobile.onnx"
MODEL_NAME = "PP-OCRv6_det_small+PP-OCRv6_rec_small+ch_ppocr_mobile_v2.0_cls"

# A text box is the same as one of the previous frame's when it overlaps it this much
# (intersection over union) and its pixels differ by less than this on average (grey
# levels): compression noise, not a changed word.
REUSE_OVERLAP = 0.7
REUSE_PIXEL_DIFFERENCE = 6.0

# Letters and digits in any script; underscores and punctuation split words.
_WORD = re.compile(r"[^\W_]+")


def _models_dir() -> Path | None:
    """The ``models`` folder of the installed rapidocr package, found without importing it."""
    spec = importlib.util.find_spec("rapidocr")
    if spec is None or spec.origin is None:
        return None
    return Path(spec.origin).parent / "models"


class RapidOCRProvider(Analyzer):
    """OCR with RapidOCR on ONNX Runtime, fully offline."""

    name: ClassVar[str] = AnalysisProvider.RAPIDOCR.value
    accepts: ClassVar[frozenset[MediaType]] = frozenset({MediaType.IMAGE, MediaType.VIDEO})
    analysis_types: ClassVar[tuple[str, ...]] = ("ocr",)
    model_description: ClassVar[str] = "the RapidOCR models"
    model_package: ClassVar[str | None] = "rapidocr"
    requires: ClassVar[tuple[tuple[str, str], ...]] = (
        ("onnxruntime", "onnxruntime"),
        ("rapidocr", "rapidocr==3.10.0"),
    )

    def __init__(
        self, settings: Settings, *, min_text_score: float = 0.5, threads: int | None = None
    ) -> None:
        """``min_text_score``: drop lines scored below it; ``threads``: ONNX intra-op threads."""
        super().__init__(settings)
        self.min_text_score = min_text_score
        self.threads = threads
        # RapidOCR.__call__ writes per-call options into its shared config before it
        # runs, so two threads in one engine could see each other's options: serialise.
        self._call_lock = threading.Lock()

    def _availability(self) -> Availability:
        """Available when the shipped models are where the rapidocr wheel puts them."""
        models = _models_dir()
        if models is None:
            return Availability(False, "rapidocr is not installed (pip install rapidocr==3.10.0)")
        missing = [m for m in (DET_MODEL, REC_MODEL, CLS_MODEL) if not (models / m).is_file()]
        if missing:
            return Availability(
                False,
                f"rapidocr's shipped models are missing from {models}: {', '.join(missing)} "
                "(reinstall rapidocr==3.10.0; mediaflow never downloads models)",
            )
        return Availability(True)

    def _load(self) -> Any:
        from rapidocr import RapidOCR

        models = _models_dir()
        assert models is not None  # checked by availability()
        threads = self.threads if self.threads else -1
        params: dict[str, Any] = {
            # "warning" would log "The text detection result is empty" for every blank frame.
            "Global.log_level": "error",
            "Global.text_score": self.min_text_score,
            "Det.model_path": str(models / DET_MODEL),
            "Cls.model_path": str(models / CLS_MODEL),
            "Rec.model_path": str(models / REC_MODEL),
            "EngineConfig.onnxruntime.intra_op_num_threads": threads,
        }
        engine = RapidOCR(params=params)
        # RapidOCR builds each of its three sessions on first use, and the classifier
        # and recogniser only once some text has been detected: warm it on a picture
        # with a word in it, so the whole load happens here (under the load lock,
        # timed by load_seconds) rather than in the first frame that shows text.
        engine(_warmup_picture())
        return engine

    def _analyze(self, media: MediaInput, model: Any) -> list[AnalysisOutput]:
        """Read the text of each frame (an image: its one frame).

        A frame whose text sits where the previous frame's did, unchanged (a slide
        behind a moving presenter), reuses that frame's reading: only the detector
        runs on it, and recognition only when a text box is new or changed.
        """
        frame_results: list[dict[str, Any]] = []
        unique_lines: dict[str, None] = {}  # an ordered set
        words: set[str] = set()
        confidences: list[float] = []
        previous: tuple[npt.NDArray[np.uint8], list[dict[str, Any]]] | None = None
        runs = 0
        for frame in media.frames:
            image = frame.image
            lines = self._reuse(model, frame, image, previous)
            reused = lines is not None
            if lines is None:
                lines = self._read_frame(model, frame, image)
                runs += 1
            previous = (image, lines)
            for line in lines:
                unique_lines.setdefault(line["text"], None)
                words.update(w.lower() for w in _WORD.findall(line["text"]))
                confidences.append(line["confidence"])
            entry = {**frame_entry(frame), "lines": lines}
            if reused:
                entry["reused"] = True
            frame_results.append(entry)
        result = {
            "frames": frame_results,
            "text": "\n".join(unique_lines),
            "words": sorted(words),
            "ocr_runs": runs,
        }
        confidence = rounded(float(np.mean(confidences)), 4) if confidences else None
        return [
            AnalysisOutput(
                analysis_type="ocr",
                result=result,
                model=MODEL_NAME,
                model_version=package_version("rapidocr"),
                confidence=confidence,
            )
        ]

    def _reuse(
        self,
        engine: Any,
        frame: Frame,
        image: npt.NDArray[np.uint8],
        previous: tuple[npt.NDArray[np.uint8], list[dict[str, Any]]] | None,
    ) -> list[dict[str, Any]] | None:
        """The previous frame's lines when this frame shows the same text in the same places.

        The detector finds this frame's text boxes; each must match one of the previous
        lines (overlapping it, its pixels unchanged). Otherwise None: read it afresh.
        """
        if previous is None or not previous[1] or previous[0].shape != image.shape:
            return None
        before, lines = previous
        try:
            with self._call_lock:
                found = engine(
                    np.ascontiguousarray(image[:, :, ::-1]), use_det=True, use_cls=False,
                    use_rec=False,
                )  # fmt: skip
        except Exception as exc:
            raise ProviderError(
                f"rapidocr failed on frame {frame.index} ({frame.timestamp_s:.2f} s): "
                f"{type(exc).__name__}: {exc}"
            ) from exc
        boxes = [] if found.boxes is None else [_rect(box) for box in found.boxes]
        if not boxes:
            return None
        grey_before, grey_now = _grey(before), _grey(image)
        old = [(_rect(line["box"]), line) for line in lines]
        kept: list[dict[str, Any]] = []
        for box in boxes:
            match = max(old, key=lambda item: _iou(box, item[0]))
            rect, line = match
            if _iou(box, rect) < REUSE_OVERLAP or not _same_pixels(grey_before, grey_now, rect):
                return None
            kept.append(line)
        # one reading per previous line, each line kept once, in the previous order
        unique = {id(line): line for line in kept}
        return [line for _, line in old if id(line) in unique]

    def _read_frame(
        self, engine: Any, frame: Frame, image: npt.NDArray[np.uint8]
    ) -> list[dict[str, Any]]:
        # RapidOCR treats a 3-channel ndarray as BGR (OpenCV order); frames are RGB.
        bgr = np.ascontiguousarray(image[:, :, ::-1])
        try:
            with self._call_lock:
                # every step on: a detector-only call leaves its switches in the config
                output = engine(bgr, use_det=True, use_cls=True, use_rec=True)
        except Exception as exc:
            raise ProviderError(
                f"rapidocr failed on frame {frame.index} ({frame.timestamp_s:.2f} s): "
                f"{type(exc).__name__}: {exc}"
            ) from exc
        if output.txts is None or output.boxes is None or output.scores is None:
            return []
        lines: list[dict[str, Any]] = []
        for raw_text, score, box in zip(output.txts, output.scores, output.boxes, strict=True):
            text = str(raw_text).strip()
            if not text:
                continue
            lines.append(
                {
                    "text": text,
                    "confidence": rounded(score, 4),
                    "box": [[round(float(x)), round(float(y))] for x, y in box],
                }
            )
        return lines


Rect = tuple[int, int, int, int]  # x0, y0, x1, y1


def _rect(box: Any) -> Rect:
    xs = [round(float(point[0])) for point in box]
    ys = [round(float(point[1])) for point in box]
    return min(xs), min(ys), max(xs), max(ys)


def _iou(a: Rect, b: Rect) -> float:
    width = min(a[2], b[2]) - max(a[0], b[0])
    height = min(a[3], b[3]) - max(a[1], b[1])
    if width <= 0 or height <= 0:
        return 0.0
    inter = width * height
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _grey(image: npt.NDArray[np.uint8]) -> npt.NDArray[np.float32]:
    grey: npt.NDArray[np.float32] = image.astype(np.float32).mean(axis=2, dtype=np.float32)
    return grey


def _same_pixels(before: npt.NDArray[np.float32], now: npt.NDArray[np.float32], rect: Rect) -> bool:
    x0, y0, x1, y1 = rect
    a, b = (
        before[max(y0, 0) : y1 + 1, max(x0, 0) : x1 + 1],
        now[max(y0, 0) : y1 + 1, max(x0, 0) : x1 + 1],
    )
    if a.size == 0:
        return False
    return float(np.abs(a - b).mean()) < REUSE_PIXEL_DIFFERENCE


def _warmup_picture() -> np.ndarray[Any, np.dtype[np.uint8]]:
    """A small BGR picture with a word on it."""
    import cv2

    picture = np.full((80, 240, 3), 255, dtype=np.uint8)
    cv2.putText(picture, "WARM UP", (10, 55), cv2.FONT_HERSHEY_SIMPLEX, 1.4, (0, 0, 0), 3)
    return picture
