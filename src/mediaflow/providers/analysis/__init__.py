"""Local analysis providers, one module each, and the small helpers they share.

Every provider here runs offline on weights shipped inside an installed package
(see docs: MODELS.md); none downloads anything. Importing this package is cheap:
the helpers below need only NumPy, each provider imports its engine (ONNX Runtime,
OpenCV, ...) in its own module.
"""

from __future__ import annotations

import math
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import numpy as np

from mediaflow.media.types import Frame

__all__ = ["frame_entry", "package_version", "rounded", "rounded_or_none"]


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


def package_version(distribution: str) -> str:
    """``"<distribution> <version>"`` as installed, for a result's ``model_version``."""
    try:
        return f"{distribution} {version(distribution)}"
    except PackageNotFoundError:  # an odd install: the version is informative only
        return f"{distribution} (version unknown)"


def frame_entry(frame: Frame) -> dict[str, Any]:
    """Where a per-frame result sits: the frame, its time, the span it stands for, its size.

    The span (``start_s``/``end_s``, absent for an image) makes per-frame results a
    timeline; ``width``/``height`` are the pixel space of any box found in the frame.
    """
    entry: dict[str, Any] = {"index": frame.index, "timestamp_s": rounded(frame.timestamp_s, 3)}
    if frame.span is not None:
        entry["start_s"], entry["end_s"] = (rounded(t, 3) for t in frame.span)
    entry["width"], entry["height"] = frame.width, frame.height
    return entry
