"""Value types of the media layer, shared by the layers above (providers, pipeline).

Kept apart from the decoders so that importing them costs NumPy only, not PyAV.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["Frame", "RGBImage"]

RGBImage = npt.NDArray[np.uint8]


@dataclass(frozen=True)
class Frame:
    """One decoded video frame (or the whole image, for an image file).

    ``image`` is RGB, H x W x 3; its size is the coordinate space of every box a
    provider finds in it (``width``/``height``), which results record with the boxes.
    """

    index: int
    timestamp_s: float
    image: RGBImage

    @property
    def width(self) -> int:
        """Width in pixels of the analysed picture."""
        return int(self.image.shape[1])

    @property
    def height(self) -> int:
        """Height in pixels of the analysed picture."""
        return int(self.image.shape[0])
