"""Local analysis providers, one module each, and the small helpers they share.

Every provider here runs offline on weights shipped inside an installed package
(see docs: MODELS.md); none downloads anything. Importing this package is cheap:
the helpers below need only NumPy and Pillow, each provider imports its engine
(ONNX Runtime, OpenCV, ...) in its own module.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence

import numpy as np

from mediaflow.db.enums import MediaType
from mediaflow.errors import ProviderError, UnsupportedMedia
from mediaflow.providers.base import Frame, MediaInput

__all__ = ["check_accepts", "frames_of", "rounded", "rounded_or_none"]


def check_accepts(name: str, accepts: Collection[MediaType], media: MediaInput) -> None:
    """Raise ``UnsupportedMedia`` when provider ``name`` cannot handle ``media.media_type``."""
    if media.media_type not in accepts:
        wanted = ", ".join(sorted(str(m) for m in accepts))
        raise UnsupportedMedia(
            f"provider {name} accepts {wanted}; got {media.media_type} ({media.path.name})"
        )


def frames_of(name: str, media: MediaInput) -> Sequence[Frame]:
    """The frames to analyze: the pipeline's, or for an image with none, the image itself.

    An image needs no frame extraction, so a caller (a test, the Python API) may hand
    over just the path; a video without extracted frames is a pipeline error.
    """
    if media.frames:
        return media.frames
    if media.media_type == MediaType.IMAGE:
        from PIL import Image, ImageOps, UnidentifiedImageError

        try:
            with Image.open(media.path) as img:
                # Respect the EXIF orientation, as a viewer would show the picture.
                rgb = ImageOps.exif_transpose(img).convert("RGB")
                array = np.asarray(rgb, dtype=np.uint8)
        except (OSError, UnidentifiedImageError, ValueError) as exc:
            raise ProviderError(f"{name}: cannot read image {media.path.name}: {exc}") from exc
        return [Frame(index=0, timestamp_s=0.0, image=array)]
    raise ProviderError(f"{name}: no frames were extracted from {media.path.name}")


def rounded(value: float | np.floating, digits: int = 4) -> float:
    """A plain Python float rounded to ``digits`` (for values that are always finite)."""
    return round(float(value), digits)


def rounded_or_none(value: float | np.floating | None, digits: int = 4) -> float | None:
    """Like ``rounded``, but NaN and infinities become None (JSONB has no NaN or Infinity)."""
    if value is None:
        return None
    number = float(value)
    if not math.isfinite(number):
        return None
    return round(number, digits)
