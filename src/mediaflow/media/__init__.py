"""The media layer: what a file holds, and the pieces the providers need from it.

- ``detect``: media type and container/image format from the content (never the name),
  with a clear ``InvalidInput``/``UnsupportedMedia`` for empty, truncated, text or
  otherwise unusable files.
- ``probe``: technical metadata (duration, codecs, size, rates, per-stream info).
- ``audio``: the first audio stream as 16 kHz mono 16-bit WAV, and a WAV loader.
- ``frames``: RGB frames of an image or sampled from a video (interval + scene cuts).
- ``images``: every pixel format as 8-bit RGB, TIFFs via tifffile, animated GIF/WebP/PNG
  as short videos, decoded pixels bounded (``limits.DecodeLimits``).
- ``damage``: undecodable packets counted per stream; too many fail the file.
- ``loudness``: EBU R128 / BS.1770 on the original channels and rate (pyebur128).
- ``avlog``: FFmpeg's messages kept off the terminal (on request: the ``mediaflow.ffmpeg`` logger).

Everything decodes with PyAV (FFmpeg libraries bundled in the wheel) and Pillow; no
external ``ffmpeg`` binary is needed.
"""

from __future__ import annotations

from mediaflow.media.audio import extract_audio, load_wav
from mediaflow.media.detect import Detection, detect
from mediaflow.media.frames import extract_frames
from mediaflow.media.probe import ProbeResult, probe

__all__ = [
    "Detection",
    "ProbeResult",
    "detect",
    "extract_audio",
    "extract_frames",
    "load_wav",
    "probe",
]
