"""Perceptual hashes (imagehash) and dominant colours (Pillow) of images and video frames.

Two analysis types come out of one pass:

``perceptual_hash``::

    {"phash": "c3d4...", "dhash": "0f1e...",  # 64-bit hashes (hex) of the first frame
     "hash_size": 8,
     "frames": [{"index": 0, "timestamp_s": 0.0, "phash": "...", "dhash": "..."}]}

Near-duplicate images have hashes a few bits apart (Hamming distance), identical
images identical hashes; ``frames`` lets a video be matched shot by shot.

``colors``::

    {"colors": [{"hex": "#1e5ac8", "proportion": 0.62}, ...],   # most common first
     "frames": [{"start_s": 0.0, "end_s": 30.0, ..., "colors": [...]}]}  # videos: per frame

The colours are Pillow's median-cut palette of all frames together (downscaled, so a
long video costs little), at most ``max_colors``, with palette entries closer than
``MERGE_DISTANCE`` folded into one; proportions are of pixels and sum to 1.
Neither type has a ``confidence``.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt
import PIL
from PIL import Image

from mediaflow.config import Settings
from mediaflow.db.enums import AnalysisProvider, MediaType
from mediaflow.errors import ProviderError
from mediaflow.media.types import Frame
from mediaflow.providers.analysis import frame_entry, package_version, rounded
from mediaflow.providers.base import AnalysisOutput, Analyzer, MediaInput

HASH_SIZE = 8  # 8x8 -> 64-bit hashes, imagehash's default
THUMBNAIL = 96  # the side colours are computed at; plenty for a palette
MERGE_DISTANCE = 12  # RGB distance under which two palette colours count as one


class ImageFeaturesProvider(Analyzer):
    """Perceptual hashes and dominant colours."""

    name: ClassVar[str] = AnalysisProvider.IMAGE_FEATURES.value
    model_description: ClassVar[str] = "perceptual hashes and colours (no weights)"
    model_package: ClassVar[str | None] = "imagehash"
    accepts: ClassVar[frozenset[MediaType]] = frozenset({MediaType.IMAGE, MediaType.VIDEO})
    analysis_types: ClassVar[tuple[str, ...]] = ("perceptual_hash", "colors")
    requires: ClassVar[tuple[tuple[str, str], ...]] = (("imagehash", "imagehash"),)

    def __init__(self, settings: Settings, *, max_colors: int = 5) -> None:
        """``max_colors``: how many dominant colours to report."""
        super().__init__(settings)
        self.max_colors = max_colors

    def _analyze(self, media: MediaInput, model: Any) -> list[AnalysisOutput]:
        """Hash every frame and find the dominant colours, over all frames and per frame."""
        hashes: list[dict[str, Any]] = []
        thumbs: list[npt.NDArray[np.uint8]] = []
        per_frame: list[dict[str, Any]] = []
        try:
            # one frame decoded at a time: a long video's frames never sit in memory at once
            for frame in media.frames:
                picture = Image.fromarray(np.ascontiguousarray(frame.image))
                hashes.append(self._hashes(frame, picture))
                thumb = picture.copy()
                thumb.thumbnail((THUMBNAIL, THUMBNAIL), Image.Resampling.BILINEAR)
                pixels = np.asarray(thumb, dtype=np.uint8).reshape(-1, 3)
                thumbs.append(pixels)
                per_frame.append({**frame_entry(frame), "colors": self._palette(pixels, 3)})
            colors = self._palette(np.concatenate(thumbs, axis=0), self.max_colors)
        except (ValueError, OSError, TypeError) as exc:
            raise ProviderError(f"image features failed: {type(exc).__name__}: {exc}") from exc
        version = package_version("imagehash")
        return [
            AnalysisOutput(
                analysis_type="perceptual_hash",
                result={
                    "phash": hashes[0]["phash"],
                    "dhash": hashes[0]["dhash"],
                    "hash_size": HASH_SIZE,
                    "frames": hashes,
                },
                model="phash+dhash",
                model_version=version,
            ),
            AnalysisOutput(
                analysis_type="colors",
                # the whole media's palette, and each frame's three main colours (a timeline)
                result={"colors": colors, "frames": per_frame if len(per_frame) > 1 else []},
                model="pillow-mediancut",
                model_version=f"pillow {PIL.__version__}",
            ),
        ]

    @staticmethod
    def _hashes(frame: Frame, picture: Image.Image) -> dict[str, Any]:
        import imagehash

        return {
            **frame_entry(frame),
            "phash": str(imagehash.phash(picture, hash_size=HASH_SIZE)),
            "dhash": str(imagehash.dhash(picture, hash_size=HASH_SIZE)),
        }

    @staticmethod
    def _palette(pixels: npt.NDArray[np.uint8], max_colors: int) -> list[dict[str, Any]]:
        # One strip of downscaled pixels, so a palette can cover a whole video.
        strip = Image.fromarray(pixels.reshape(-1, 1, 3))
        quantised = strip.quantize(colors=max_colors, method=Image.Quantize.MEDIANCUT)
        palette = quantised.getpalette() or []
        counts = np.bincount(np.asarray(quantised).ravel(), minlength=max_colors)
        total = int(counts.sum())
        # Median cut splits by pixel count, so a large flat area can take two palette
        # slots a shade apart (#3c4650 and #3c464f): fold such near-twins together.
        kept: list[tuple[tuple[int, int, int], int]] = []
        order = np.argsort(-counts, kind="stable")
        for index in order:
            count = int(counts[index])
            if count == 0:
                continue
            rgb = (palette[index * 3], palette[index * 3 + 1], palette[index * 3 + 2])
            for position, (other, other_count) in enumerate(kept):
                if sum((a - b) ** 2 for a, b in zip(rgb, other, strict=True)) <= MERGE_DISTANCE**2:
                    kept[position] = (other, other_count + count)
                    break
            else:
                kept.append((rgb, count))
        kept.sort(key=lambda item: -item[1])
        return [
            {"hex": "#{:02x}{:02x}{:02x}".format(*rgb), "proportion": rounded(count / total, 4)}
            for rgb, count in kept
        ]
