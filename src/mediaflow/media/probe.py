"""Technical metadata of a media file: container, duration, codecs, sizes, rates.

``probe`` first runs ``detect`` (so a file that probes is known to be complete and
decodable), then reads the container and stream headers with PyAV, or the image
header with Pillow. The result is plain data: ``to_dict()`` is JSON-serialisable and
is what the pipeline stores with the media_file row.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import av.container
import av.error

from mediaflow.db.enums import FileType, MediaType
from mediaflow.errors import InvalidInput
from mediaflow.media.detect import detect, ffmpeg_reason, media_streams, open_container
from mediaflow.media.images import animation_info, image_header
from mediaflow.media.limits import DecodeLimits

__all__ = ["ProbeResult", "probe"]

# EXIF orientations 5-8 turn the picture by 90 degrees: width and height swap.
_EXIF_SWAPS_AXES = frozenset({5, 6, 7, 8})


@dataclass(frozen=True)
class ProbeResult:
    """Technical metadata of one media file.

    The summary fields describe the first video stream (``width``, ``height``,
    ``fps``; width and height as displayed, i.e. after rotation metadata) and the
    first audio stream (``sample_rate``, ``channels``). ``streams`` has one dict per
    stream with its own, unrotated, coded values.
    """

    path: str
    size_bytes: int
    mime_type: str
    media_type: MediaType
    file_type: FileType
    format_name: str
    format_long_name: str | None = None
    duration_s: float | None = None
    bit_rate: int | None = None
    width: int | None = None
    height: int | None = None
    fps: float | None = None
    rotation: int = 0
    sample_rate: int | None = None
    channels: int | None = None
    codecs: dict[str, str] = field(default_factory=dict)
    streams: list[dict[str, Any]] = field(default_factory=list)
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def has_video(self) -> bool:
        """Whether the file has a (non cover art) video stream."""
        return "video" in self.codecs

    @property
    def has_audio(self) -> bool:
        """Whether the file has an audio stream."""
        return "audio" in self.codecs

    def to_dict(self) -> dict[str, Any]:
        """All fields as JSON-serialisable values (enums as their string values)."""
        data = asdict(self)
        data["media_type"] = self.media_type.value
        data["file_type"] = self.file_type.value
        return data


def probe(path: str | os.PathLike[str], limits: DecodeLimits | None = None) -> ProbeResult:
    """Read the technical metadata of ``path``.

    Raises ``InvalidInput`` for a missing, empty, truncated or corrupt file and
    ``UnsupportedMedia`` for anything that is not audio, video or a supported image.
    An animated GIF, WebP or PNG is a video: its frame count, rate and duration.
    """
    path = Path(path)
    detection = detect(path, limits)
    size = path.stat().st_size
    common: dict[str, Any] = {
        "path": str(path),
        "size_bytes": size,
        "mime_type": detection.mime_type,
        "media_type": detection.media_type,
        "file_type": detection.file_type,
    }
    if detection.mime_type.startswith("image/"):
        return _probe_image(path, common)
    return _probe_av(path, common)


def _probe_image(path: Path, common: dict[str, Any]) -> ProbeResult:
    header = image_header(path)
    swaps = header.orientation in _EXIF_SWAPS_AXES
    display_w, display_h = (header.height, header.width) if swaps else (header.width, header.height)
    animation = animation_info(path) if common["media_type"] is MediaType.VIDEO else None
    stream: dict[str, Any] = {
        "index": 0,
        "type": "video" if animation else "image",
        "codec": header.format,
        "width": header.width,
        "height": header.height,
        "mode": header.mode,
        "frames": header.frames,
        "exif_orientation": header.orientation,
    }
    if animation is not None:
        stream.update(animated=True, duration_s=animation.duration_s, fps=animation.fps)
    return ProbeResult(
        **common,
        format_name=header.format,
        format_long_name=header.format_long_name,
        duration_s=animation.duration_s if animation else None,
        width=display_w,
        height=display_h,
        fps=animation.fps if animation else None,
        codecs={"video" if animation else "image": header.format},
        streams=[stream],
    )


def _probe_av(path: Path, common: dict[str, Any]) -> ProbeResult:
    try:
        with open_container(path) as container:
            return _read_container(container, common)
    except av.error.FFmpegError as exc:  # detect() passed, so this is rare: a racing write
        raise InvalidInput(f"cannot read media metadata: {ffmpeg_reason(exc)}") from exc


def _read_container(container: av.container.InputContainer, common: dict[str, Any]) -> ProbeResult:
    video, audio = media_streams(container)
    streams = [_stream_info(s) for s in container.streams]

    codecs: dict[str, str] = {}
    for stream in (*video[:1], *audio[:1], *container.streams.subtitles[:1]):
        codecs.setdefault(stream.type, _codec_name(stream))

    width = height = None
    fps = None
    rotation = 0
    if video:
        first = video[0]
        rotation = _rotation(container, first)
        width, height = first.codec_context.width, first.codec_context.height
        if rotation % 180 != 0:
            width, height = height, width
        fps = _fps(first)
    sample_rate = channels = None
    if audio:
        sample_rate = audio[0].codec_context.sample_rate or None
        channels = audio[0].codec_context.channels or None

    duration_s = container.duration / 1_000_000 if container.duration else None
    if duration_s is None:
        durations = [d for d in (s.get("duration_s") for s in streams) if d]
        duration_s = max(durations) if durations else None

    return ProbeResult(
        **common,
        format_name=container.format.name,
        format_long_name=container.format.long_name,
        duration_s=_round(duration_s),
        bit_rate=container.bit_rate or None,
        width=width,
        height=height,
        fps=fps,
        rotation=rotation,
        sample_rate=sample_rate,
        channels=channels,
        codecs=codecs,
        streams=streams,
        tags={str(k): str(v) for k, v in container.metadata.items()},
    )


def _stream_info(stream: av.stream.Stream) -> dict[str, Any]:
    """One stream as a JSON-serialisable dict; keys depend on the stream type."""
    info: dict[str, Any] = {
        "index": stream.index,
        "type": stream.type,
        "codec": _codec_name(stream),
        "codec_long_name": _codec_long_name(stream),
        "profile": stream.profile,
        "bit_rate": None,
        "frames": stream.frames or None,
        "duration_s": None,
        "language": stream.language,
        "default": bool(stream.disposition & av.stream.Disposition.default),
    }
    if stream.duration is not None and stream.time_base is not None:
        info["duration_s"] = _round(float(stream.duration * stream.time_base))
    if isinstance(stream, av.VideoStream):
        ctx = stream.codec_context
        info.update(
            width=ctx.width,
            height=ctx.height,
            fps=_fps(stream),
            pix_fmt=ctx.pix_fmt,
            bit_rate=ctx.bit_rate or None,
            attached_pic=bool(stream.disposition & av.stream.Disposition.attached_pic),
        )
    elif isinstance(stream, av.AudioStream):
        actx = stream.codec_context
        info.update(
            sample_rate=actx.sample_rate or None,
            channels=actx.channels or None,
            channel_layout=actx.layout.name if actx.layout is not None else None,
            sample_format=actx.format.name if actx.format is not None else None,
            bit_rate=actx.bit_rate or None,
        )
    return info


def _codec_name(stream: av.stream.Stream) -> str:
    """The codec's canonical name ("mp3", not the decoder's "mp3float")."""
    try:
        return stream.codec.canonical_name
    except (AttributeError, av.error.FFmpegError):
        return "unknown"


def _codec_long_name(stream: av.stream.Stream) -> str | None:
    try:
        return stream.codec.long_name
    except (AttributeError, av.error.FFmpegError):
        return None


def _fps(stream: av.VideoStream) -> float | None:
    """Average frame rate, falling back to FFmpeg's guess (e.g. for some MKV/TS files)."""
    rate: Fraction | None = stream.average_rate or stream.guessed_rate
    if not rate:
        return None
    return round(float(rate), 3)


def _rotation(container: av.container.InputContainer, stream: av.VideoStream) -> int:
    """Display rotation in degrees counterclockwise (0, 90, 180 or 270).

    Phones record portrait video as landscape pixels plus a display matrix; FFmpeg
    hands the matrix to decoded frames, so one frame is decoded to read it.
    """
    try:
        container.seek(0)
        for frame in container.decode(stream):
            return round(frame.rotation / 90.0) * 90 % 360
    except av.error.FFmpegError:
        pass
    return 0


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)
