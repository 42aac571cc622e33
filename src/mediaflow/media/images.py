"""Still and animated images, read as 8-bit RGB whatever their pixel format.

- every Pillow mode becomes 8-bit RGB scaled correctly: 16-bit grey (``I;16``) is
  divided by 257 (``convert("RGB")`` would saturate it to white), 32-bit integer
  and float images are scaled by their range, transparency (``LA``, ``PA``,
  ``RGBA``, ``P`` with a transparent colour) is composited onto white, CMYK is
  converted;
- TIFFs Pillow cannot read (float64, planar 16-bit, many samples) are read with
  ``tifffile``; a sample format neither can use is refused with its name;
- decoded pixels are bounded (``DecodeLimits.max_image_pixels``): a JPEG over the
  limit is decoded scaled down (``draft``: the DCT does the scaling, the full size
  is never in memory), any other format over it is refused before decoding;
- animated GIF, WebP and PNG (APNG) are short videos: ``animation_info`` gives
  their frame count and duration, ``animation_frames`` their frames one at a time.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageOps, UnidentifiedImageError

from mediaflow.errors import InvalidInput, MediaflowError, UnsupportedMedia
from mediaflow.media.limits import DecodeLimits

__all__ = [
    "AnimationInfo",
    "ImageHeader",
    "animation_frames",
    "animation_info",
    "check_image",
    "image_header",
    "load_rgb",
    "to_rgb8",
]

RGBArray = npt.NDArray[np.uint8]

_ANIMATED_FORMATS = frozenset({"GIF", "WEBP", "PNG"})
_DEFAULT_FRAME_MS = 100  # browsers show a GIF frame without a delay for about this long
_SEPARATED = 5  # TIFF photometric interpretation of CMYK
_TIFF_SAMPLE_FORMATS = {1: "unsigned integer", 2: "signed integer", 3: "float", 4: "void"}


@dataclass(frozen=True)
class ImageHeader:
    """What the header of an image says, without decoding its pixels."""

    format: str
    format_long_name: str | None
    width: int
    height: int
    mode: str
    frames: int
    orientation: int
    reader: str  # "pillow" or "tifffile"


@dataclass(frozen=True)
class AnimationInfo:
    """An animated image: its frame count and how long it plays (one loop)."""

    frames: int
    duration_s: float

    @property
    def fps(self) -> float:
        """Average frames per second."""
        return round(self.frames / self.duration_s, 3) if self.duration_s else 0.0


def _too_large(width: int, height: int, limits: DecodeLimits) -> str:
    return (
        f"image too large to decode: {width}x{height} is {width * height / 1e6:.1f} megapixels, "
        f"over the {limits.max_image_pixels / 1e6:.1f} allowed (MEDIAFLOW_MAX_IMAGE_PIXELS)"
    )


@contextmanager
def _open(
    path: Path, limits: DecodeLimits, want: tuple[int, int] | None = None
) -> Iterator[Image.Image]:
    """Open with Pillow within the pixel limit.

    A JPEG is decoded scaled down by its DCT (1/2, 1/4, 1/8: the full size is never
    in memory) when it is over the limit, or to no less than ``want`` when that is
    smaller; any other format over the limit is refused before decoding.
    """
    try:
        with Image.open(path) as image:
            width, height = image.size
            over = width * height > limits.max_image_pixels
            if over and image.format != "JPEG":
                raise UnsupportedMedia(_too_large(width, height, limits))
            if image.format == "JPEG":
                target = want or (width, height)
                if over:  # the first DCT scale that fits the limit
                    for divisor in (2, 4, 8):
                        fit = (math.ceil(width / divisor), math.ceil(height / divisor))
                        if fit[0] * fit[1] <= limits.max_image_pixels:
                            target = (min(target[0], fit[0]), min(target[1], fit[1]))
                            break
                if target != (width, height):
                    image.draft(image.mode, (max(1, target[0]), max(1, target[1])))
                if image.size[0] * image.size[1] > limits.max_image_pixels:
                    raise UnsupportedMedia(_too_large(width, height, limits))
            yield image
    except FileNotFoundError as exc:
        raise InvalidInput(f"no such file: {path.name}") from exc
    except Image.DecompressionBombError as exc:  # Pillow's own limit, over twice 89 MP
        raise UnsupportedMedia(f"image too large to decode safely: {exc}") from exc


def _is_tiff(path: Path) -> bool:
    with path.open("rb") as fh:
        return fh.read(4) in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")


def image_header(path: str | os.PathLike[str]) -> ImageHeader:
    """The format, size, mode, frame count and EXIF orientation of an image."""
    path = Path(path)
    try:
        with Image.open(path) as image:
            return ImageHeader(
                format=(image.format or "unknown").lower(),
                format_long_name=image.format_description,
                width=image.size[0],
                height=image.size[1],
                mode=image.mode,
                frames=int(getattr(image, "n_frames", 1)),
                orientation=int(image.getexif().get(0x0112, 1)),
                reader="pillow",
            )
    except FileNotFoundError as exc:
        raise InvalidInput(f"no such file: {path.name}") from exc
    except UnidentifiedImageError:
        if not _is_tiff(path):
            raise
    except (OSError, SyntaxError, ValueError) as exc:
        raise InvalidInput(f"truncated or corrupt image: {exc}") from exc
    return _tiff_header(path)


def check_image(path: str | os.PathLike[str], mime: str, limits: DecodeLimits) -> None:
    """Decode the whole image (every frame's data is read) within the pixel limit.

    Raises ``UnsupportedMedia`` for an unknown format or sample format, or an image
    over the limit, and ``InvalidInput`` for a truncated or corrupt one.
    """
    path = Path(path)
    try:
        # a JPEG's every coefficient is still read at 1/8 scale: as thorough, 64x smaller
        with _open(path, limits, want=(1, 1)) as image:
            # load() decodes the pixels: a truncated JPEG or PNG fails here, not later.
            image.load()
        return
    except _PILLOW_FAILURES as exc:
        # a TIFF Pillow cannot read (float64, planar, odd photometrics) goes to tifffile
        if not _is_tiff(path):
            raise _failure(exc, mime) from exc
    _tiff_rgb(path, limits)


def load_rgb(
    path: str | os.PathLike[str], limits: DecodeLimits, *, max_side: int | None = None
) -> RGBArray:
    """The image (its first frame) as upright 8-bit RGB, at most ``max_side`` on a side."""
    path = Path(path)
    try:
        with _open(path, limits, want=_fit(path, max_side)) as opened:
            opened.seek(0)  # first frame of an animated GIF/WebP
            image = to_rgb8(ImageOps.exif_transpose(opened))
    except _PILLOW_FAILURES as exc:
        if not _is_tiff(path):
            raise _failure(exc, path.suffix or "unknown") from exc
        image = Image.fromarray(_tiff_rgb(path, limits))
    if max_side is not None and max(image.size) > max_side:
        image.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    return np.asarray(image, dtype=np.uint8).copy()


# what Pillow raises on a file it cannot read (IndexError/KeyError: odd TIFF tags)
_PILLOW_FAILURES = (OSError, SyntaxError, ValueError, IndexError, KeyError)


def _failure(exc: BaseException, what: str) -> MediaflowError:
    if isinstance(exc, UnidentifiedImageError):
        return UnsupportedMedia(f"unsupported image format: {what}")
    return InvalidInput(f"truncated or corrupt image: {exc}")


def _fit(path: Path, max_side: int | None) -> tuple[int, int] | None:
    """The size an image is shown at (longer side ``max_side``): a JPEG decodes no larger."""
    if max_side is None:
        return None
    try:
        with Image.open(path) as image:
            width, height = image.size
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        return None  # the real open reports it
    scale = min(1.0, max_side / max(width, height, 1))
    return (max(1, int(width * scale)), max(1, int(height * scale)))


# ----------------------------------------------------------------------------- modes


def to_rgb8(image: Image.Image) -> Image.Image:
    """``image`` as 8-bit RGB, each mode scaled correctly, transparency on white."""
    mode = image.mode
    if mode.startswith("I;16") or mode in ("I", "F"):
        return Image.fromarray(_grey_to_u8(np.asarray(image))).convert("RGB")
    if mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info:
        # Transparent pixels often hide black RGB values: flatten onto white so
        # that dark text on a transparent background stays readable.
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    if mode == "RGB":
        return image
    return image.convert("RGB")  # 1, L, P, CMYK, YCbCr, LAB, HSV


def _grey_to_u8(values: npt.NDArray[Any]) -> RGBArray:
    """One channel of any depth to 0-255: 16-bit by 1/257, others by their range."""
    if values.dtype == np.uint8:
        return values
    if values.dtype in (np.uint16, np.dtype(">u2"), np.dtype("<u2")):
        return (values.astype(np.uint32) // 257).astype(np.uint8)
    data = values.astype(np.float64)
    finite = data[np.isfinite(data)]
    if finite.size == 0:
        return np.zeros(values.shape, dtype=np.uint8)
    low, high = float(finite.min()), float(finite.max())
    if np.issubdtype(values.dtype, np.floating) and low >= 0.0 and high <= 1.0:
        low, high = 0.0, 1.0  # float images are usually 0..1
    elif np.issubdtype(values.dtype, np.integer) and low >= 0:
        # integers in a known depth keep their meaning (a dark 16-bit image stays dark)
        high = 255.0 if high <= 255 else 65535.0 if high <= 65535 else high
        low = 0.0
    span = high - low or 1.0
    scaled = np.nan_to_num((data - low) / span * 255.0, nan=0.0, posinf=255.0, neginf=0.0)
    return np.clip(np.rint(scaled), 0, 255).astype(np.uint8)


def _array_to_rgb8(array: npt.NDArray[Any]) -> RGBArray:
    """A (height, width[, samples]) array of any depth as 8-bit RGB (alpha on white)."""
    if array.ndim == 2:
        grey = _grey_to_u8(array)
        return np.repeat(grey[:, :, None], 3, axis=2)
    samples = array.shape[2]
    if np.issubdtype(array.dtype, np.floating) or array.dtype.itemsize > 1:
        # scale all colour samples together, so that their balance is kept
        colour = _grey_to_u8(array[:, :, : min(samples, 3)])
    else:
        colour = array[:, :, : min(samples, 3)].astype(np.uint8)
    rgb = np.repeat(colour[:, :, :1], 3, axis=2) if samples in (1, 2) else colour[:, :, :3]
    if samples in (2, 4):
        alpha = _grey_to_u8(array[:, :, -1]).astype(np.float32)[:, :, None] / 255.0
        rgb = np.rint(rgb * alpha + 255.0 * (1.0 - alpha)).astype(np.uint8)
    return np.ascontiguousarray(rgb, dtype=np.uint8)


# ----------------------------------------------------------------------------- TIFF


def _tiff_page(path: Path) -> tuple[Any, Any]:
    """The TIFF's first series and page, or a clear reason it cannot be read."""
    import tifffile

    try:
        tif = tifffile.TiffFile(path)
    except (tifffile.TiffFileError, ValueError, OSError) as exc:
        raise InvalidInput(f"truncated or corrupt image: {exc}") from exc
    if not tif.series:
        tif.close()
        raise InvalidInput("truncated or corrupt image: TIFF without an image")
    return tif, tif.series[0]


def _sample_format(page: Any) -> str:
    fmt = _TIFF_SAMPLE_FORMATS.get(int(page.sampleformat), f"sample format {page.sampleformat}")
    return (
        f"{page.bitspersample}-bit {fmt} with {page.samplesperpixel} samples per pixel"
        f" ({page.dtype})"
    )


def _tiff_header(path: Path) -> ImageHeader:
    tif, _series = _tiff_page(path)
    with tif:
        page = tif.pages.first
        return ImageHeader(
            format="tiff",
            format_long_name=f"TIFF ({_sample_format(page)})",
            width=int(page.imagewidth),
            height=int(page.imagelength),
            mode=str(page.dtype),
            frames=len(tif.pages),
            orientation=1,
            reader="tifffile",
        )


def _tiff_rgb(path: Path, limits: DecodeLimits) -> RGBArray:
    """A TIFF read by tifffile as 8-bit RGB (CMYK converted, alpha on white)."""
    array, photometric = _tiff_array(path, limits)
    if photometric == _SEPARATED and array.ndim == 3 and array.shape[2] >= 4:
        ink = _grey_to_u8(array[:, :, :4]).astype(np.float32) / 255.0
        rgb = 255.0 * (1.0 - ink[:, :, :3]) * (1.0 - ink[:, :, 3:4])
        return np.ascontiguousarray(np.rint(rgb), dtype=np.uint8)
    return _array_to_rgb8(array)


def _tiff_array(path: Path, limits: DecodeLimits) -> tuple[npt.NDArray[Any], int]:
    """The first TIFF image as (height, width[, samples]); refused with its sample format."""
    tif, _series = _tiff_page(path)
    with tif:
        page = tif.pages.first
        width, height = int(page.imagewidth), int(page.imagelength)
        if width * height > limits.max_image_pixels:
            raise UnsupportedMedia(_too_large(width, height, limits))
        kind = np.dtype(page.dtype).kind if page.dtype is not None else "?"
        samples = int(page.samplesperpixel)
        if kind not in "uif" or samples not in (1, 2, 3, 4):
            raise UnsupportedMedia(f"unsupported TIFF sample format: {_sample_format(page)}")
        try:
            array = page.asarray()
        except Exception as exc:  # codecs tifffile lacks, damaged strips
            raise InvalidInput(f"cannot decode TIFF ({_sample_format(page)}): {exc}") from exc
        axes = page.axes  # e.g. "YXS" (contiguous) or "SYX" (planar)
        photometric = int(page.photometric)
    if "S" in axes and axes.index("S") < axes.index("Y"):
        array = np.moveaxis(array, axes.index("S"), -1)
    squeezed: npt.NDArray[Any] = np.squeeze(array)
    if squeezed.ndim not in (2, 3):
        raise UnsupportedMedia(f"unsupported TIFF layout: axes {axes}, shape {squeezed.shape}")
    return squeezed, photometric


# ----------------------------------------------------------------------------- animation


def animation_info(path: str | os.PathLike[str]) -> AnimationInfo | None:
    """Frame count and duration of an animated GIF, WebP or PNG; None for a still image."""
    try:
        with Image.open(path) as image:
            if image.format not in _ANIMATED_FORMATS or not getattr(image, "is_animated", False):
                return None
            frames = int(getattr(image, "n_frames", 1))
            total_ms = 0
            for index in range(frames):
                image.seek(index)
                total_ms += _frame_ms(image)
    except (OSError, SyntaxError, ValueError, EOFError):
        return None
    return AnimationInfo(frames=frames, duration_s=round(total_ms / 1000, 3))


def _frame_ms(image: Image.Image) -> int:
    duration = image.info.get("duration")
    if not isinstance(duration, int | float) or duration <= 0:
        return _DEFAULT_FRAME_MS
    return int(duration)


def animation_frames(
    path: str | os.PathLike[str], limits: DecodeLimits
) -> Iterator[tuple[float, RGBArray]]:
    """Each frame of an animated image (composited, as shown) with its start time in s."""
    path = Path(path)
    try:
        with _open(path, limits) as image:
            frames = int(getattr(image, "n_frames", 1))
            elapsed_ms = 0
            for index in range(frames):
                image.seek(index)
                picture = to_rgb8(image)
                yield elapsed_ms / 1000, np.asarray(picture, dtype=np.uint8).copy()
                elapsed_ms += _frame_ms(image)
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise InvalidInput(f"truncated or corrupt animation: {exc}") from exc
