"""Value types of the media layer, shared by the layers above (providers, pipeline).

Kept apart from the decoders so that importing them costs NumPy only, not PyAV.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["Frame", "RGBImage", "Shot"]

RGBImage = npt.NDArray[np.uint8]


class Frame:
    """One picture a visual provider looks at, and the stretch of the media it stands for.

    A video frame stands for a span (``start_s`` to ``end_s``): its shot's opening, or an
    interval inside a long shot, or several seconds of a picture that did not change.
    An image's one frame has no span. The picture is held JPEG-encoded (quality 95)
    when it comes from a video, so that hundreds of frames of a long video stay small
    in memory; ``image`` decodes it on each use. Its size is the coordinate space of
    every box a provider finds in it (``width``/``height``), which results record.
    """

    __slots__ = ("_encoded", "_image", "end_s", "height", "index", "shot", "start_s",
                 "timestamp_s", "width")  # fmt: skip

    def __init__(
        self,
        index: int,
        timestamp_s: float,
        image: RGBImage | None = None,
        *,
        encoded: bytes | None = None,
        size: tuple[int, int] | None = None,
        start_s: float | None = None,
        end_s: float | None = None,
        shot: int | None = None,
    ) -> None:
        if (image is None) == (encoded is None):
            raise ValueError("a frame holds either its image or its encoded image")
        self.index = index
        self.timestamp_s = timestamp_s
        self._image = image
        self._encoded = encoded
        if image is not None:
            self.height, self.width = int(image.shape[0]), int(image.shape[1])
        elif size is not None:
            self.width, self.height = size
        else:
            self.width, self.height = _size_of(encoded or b"")
        self.start_s = start_s
        self.end_s = end_s
        self.shot = shot

    def __repr__(self) -> str:
        span = f" {self.start_s}-{self.end_s}" if self.start_s is not None else ""
        return f"Frame({self.index} @ {self.timestamp_s}s{span}, {self.width}x{self.height})"

    @property
    def image(self) -> RGBImage:
        """The picture, RGB, H x W x 3."""
        if self._image is not None:
            return self._image
        from PIL import Image

        with Image.open(io.BytesIO(self._encoded or b"")) as picture:
            return np.asarray(picture.convert("RGB"), dtype=np.uint8)

    @property
    def encoded(self) -> bytes | None:
        """The JPEG the frame is held as (None for a frame held decoded)."""
        return self._encoded

    @property
    def span(self) -> tuple[float, float] | None:
        """``(start_s, end_s)`` when the frame stands for a stretch of the media."""
        if self.start_s is None or self.end_s is None:
            return None
        return self.start_s, self.end_s


def _size_of(encoded: bytes) -> tuple[int, int]:
    from PIL import Image

    with Image.open(io.BytesIO(encoded)) as picture:
        return picture.size


@dataclass(frozen=True)
class Shot:
    """One shot of a video (between two cuts) and the frame chosen to show it."""

    index: int
    start_s: float
    end_s: float
    keyframe: Frame  # the sharpest frame near the shot's start
    sharpness: float
