"""How much damage and how many pixels the decoders accept (from the settings).

``DecodeLimits`` travels from the settings object (``MEDIAFLOW_MAX_UNDECODABLE_FRACTION``,
``MEDIAFLOW_MAX_IMAGE_PIXELS``) down to detect, probe, audio and frames, so one file
is judged the same way at every step.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from mediaflow.media.damage import DEFAULT_MAX_UNDECODABLE_FRACTION

if TYPE_CHECKING:
    from mediaflow.config import Settings

__all__ = ["DEFAULT_MAX_IMAGE_PIXELS", "DecodeLimits"]

# 50 megapixels: a 48 MP phone photo passes whole; as RGB that is 150 MB decoded.
DEFAULT_MAX_IMAGE_PIXELS = 50_000_000


@dataclass(frozen=True)
class DecodeLimits:
    """The most damage a stream may have, and the most pixels an image may decode to."""

    max_undecodable_fraction: float = DEFAULT_MAX_UNDECODABLE_FRACTION
    max_image_pixels: int = DEFAULT_MAX_IMAGE_PIXELS

    @classmethod
    def of(cls, settings: Settings) -> DecodeLimits:
        """The limits ``settings`` set (``max_undecodable_fraction``, ``max_image_pixels``)."""
        return cls(
            max_undecodable_fraction=settings.max_undecodable_fraction,
            max_image_pixels=settings.max_image_pixels,
        )
