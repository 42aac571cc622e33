"""Generated media with the quirks of real-world files (issue 10).

Players play these; mediaflow must too: an AVI whose last AC3 frame is cut, a
variable-frame-rate AVI whose header frame count assumes a constant rate, 16-bit
and float images, multi-channel tones of known loudness, animated GIF/WebP/PNG.
Everything is made here with PyAV, Pillow, NumPy and tifffile; nothing is checked in.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw

__all__ = [
    "make_animated_image",
    "make_avi_ac3",
    "make_tone",
    "make_vfr_avi",
    "sine",
]


def _picture(index: int, size: tuple[int, int]) -> npt.NDArray[np.uint8]:
    """A frame that changes a little with ``index`` (a moving bar)."""
    width, height = size
    image = np.full((height, width, 3), 200, dtype=np.uint8)
    x = (index * 7) % max(1, width - 20)
    image[:, x : x + 20] = (20, 60, 160)
    return image


def sine(
    seconds: float, rate: int, *, freq: float = 1000.0, dbfs: float = -20.0
) -> npt.NDArray[np.float32]:
    """A sine of ``freq`` Hz whose peak is ``dbfs`` below full scale."""
    t = np.arange(round(seconds * rate)) / rate
    return (10 ** (dbfs / 20) * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def make_avi_ac3(
    path: Path, *, seconds: float = 4.0, fps: int = 25, cut_audio: tuple[int, ...] = ()
) -> tuple[int, int]:
    """An mpeg4 + AC3 AVI; the AC3 packets at positions ``cut_audio`` (negative: from
    the end) keep only their first 100 bytes: incomplete frames that fail to decode.

    Returns (video packets, audio packets) written.
    """
    rate = 48_000
    samples = np.stack([sine(seconds, rate, dbfs=-12.0), sine(seconds, rate, freq=440.0)])
    video_packets = audio_packets = 0
    with av.open(str(path), "w", format="avi") as container:
        vstream = container.add_stream("mpeg4", rate=fps)
        vstream.width, vstream.height, vstream.pix_fmt = 320, 240, "yuv420p"
        astream = container.add_stream("ac3", rate=rate, layout="stereo")
        for index in range(round(seconds * fps)):
            frame = av.VideoFrame.from_ndarray(_picture(index, (320, 240)), format="rgb24")
            frame.pts = index
            frame.time_base = Fraction(1, fps)
            for packet in vstream.encode(frame):
                container.mux(packet)
                video_packets += 1
        for packet in vstream.encode(None):
            container.mux(packet)
            video_packets += 1
        aframe = av.AudioFrame.from_ndarray(samples, format="fltp", layout="stereo")
        aframe.sample_rate, aframe.pts, aframe.time_base = rate, 0, Fraction(1, rate)
        packets = [*astream.encode(aframe), *astream.encode(None)]
        damaged = {p % len(packets) for p in cut_audio}
        for position, packet in enumerate(packets):
            if position in damaged:
                cut = av.Packet(bytes(packet)[:100])
                cut.pts, cut.dts, cut.time_base = packet.pts, packet.dts, packet.time_base
                cut.stream = astream
                container.mux(cut)
            else:
                container.mux(packet)
            audio_packets += 1
    return video_packets, audio_packets


def make_vfr_avi(
    path: Path, *, times_s: list[float], header_fps: int = 15, size: tuple[int, int] = (320, 240)
) -> int:
    """An AVI whose frames come at ``times_s`` (variable rate) in a ``header_fps`` stream."""
    with av.open(str(path), "w", format="avi") as container:
        vstream = container.add_stream("mpeg4", rate=header_fps)
        vstream.width, vstream.height, vstream.pix_fmt = *size, "yuv420p"
        vstream.codec_context.time_base = Fraction(1, header_fps)
        for index, t in enumerate(times_s):
            frame = av.VideoFrame.from_ndarray(_picture(index * 5, size), format="rgb24")
            frame.pts = round(t * header_fps)
            frame.time_base = Fraction(1, header_fps)
            for packet in vstream.encode(frame):
                container.mux(packet)
        for packet in vstream.encode(None):
            container.mux(packet)
    return len(times_s)


def make_tone(path: Path, channels: npt.NDArray[np.float32], rate: int, layout: str) -> Path:
    """Encode ``channels`` (shape channels x samples, float) as 24-bit... FLAC/WAV by suffix."""
    codec = "pcm_s24le" if path.suffix == ".wav" else "flac"
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=rate, layout=layout)
        fmt = "s32p" if codec == "flac" else "s32"
        data = np.clip(channels, -1, 1 - 2**-23)
        ints = (data * 2**31).astype(np.int32)
        array = ints if fmt == "s32p" else ints.T.reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(array, format=fmt, layout=layout)
        frame.sample_rate, frame.pts, frame.time_base = rate, 0, Fraction(1, rate)
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            container.mux(packet)
    return path


def make_animated_image(
    path: Path, *, frames: int = 24, frame_ms: int = 100, size: tuple[int, int] = (160, 120)
) -> Path:
    """An animated GIF, WebP or PNG (by suffix): a bar moving, a cut half-way (new colour)."""
    pictures = []
    for index in range(frames):
        image = Image.new("RGB", size, (240, 240, 240) if index < frames // 2 else (20, 20, 120))
        draw = ImageDraw.Draw(image)
        x = (index * 6) % (size[0] - 10)
        draw.rectangle((x, 10, x + 10, size[1] - 10), fill=(200, 30, 30))
        pictures.append(image)
    fmt = {".gif": "GIF", ".webp": "WEBP", ".png": "PNG"}[path.suffix]
    extra = {"lossless": True} if fmt == "WEBP" else {}
    pictures[0].save(
        path, format=fmt, save_all=True, append_images=pictures[1:], duration=frame_ms, loop=0,
        **extra,
    )  # fmt: skip
    return path
