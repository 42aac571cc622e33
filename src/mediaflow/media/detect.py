"""Detect what a file holds from its bytes: media type, container/image format, MIME type.

The file name never counts: a text file called ``clip.mp4`` is text, an MP4 called
``clip.mov`` is MP4. Detection runs in three steps:

1. magic bytes (the ``filetype`` package) sort out images and well-known non-media
   formats (PDF, ZIP, ...); a short look at the first bytes catches plain text;
2. PyAV opens everything else, which also covers containers without a reliable magic
   number (MPEG-TS, raw AAC, ...) and tells audio from video by the streams present;
3. a cheap integrity check: the top-level box layout of MP4/MOV files, the declared
   duration of Matroska/FLAC/MP3 files against their packets, and one decoded frame
   per stream, so that a truncated upload fails here with a clear message instead of
   half way through the pipeline.

Failures raise ``InvalidInput`` (empty, truncated, corrupt) or ``UnsupportedMedia``
(not media, or a format mediaflow cannot decode), each with a one-line message.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import av
import av.container
import av.error
import filetype

from mediaflow.db.enums import FileType, MediaType
from mediaflow.errors import InvalidInput, UnsupportedMedia
from mediaflow.media.images import animation_info, check_image
from mediaflow.media.limits import DecodeLimits

__all__ = [
    "Detection",
    "detect",
    "ffmpeg_reason",
    "media_streams",
    "open_container",
    "sniff_media_type",
]

# Bytes read for magic-number and text sniffing; filetype itself looks at 8 KiB at most.
_HEAD_BYTES = 8192

# PyAV demuxer names (``container.format.name``) that map straight to a FileType.
_FORMAT_FILE_TYPES: dict[str, FileType] = {
    "avi": FileType.AVI,
    "mpegts": FileType.MPEGTS,
    "mp3": FileType.MP3,
    "wav": FileType.WAV,
    "flac": FileType.FLAC,
    "ogg": FileType.OGG,
    "aac": FileType.AAC,
}
_ISO_BMFF_FORMAT = "mov,mp4,m4a,3gp,3g2,mj2"
_MATROSKA_FORMAT = "matroska,webm"

# Image MIME types (as ``filetype`` names them) that map to a FileType.
_IMAGE_FILE_TYPES: dict[str, FileType] = {
    "image/jpeg": FileType.JPEG,
    "image/png": FileType.PNG,
    "image/apng": FileType.PNG,
    "image/gif": FileType.GIF,
    "image/webp": FileType.WEBP,
    "image/bmp": FileType.BMP,
    "image/tiff": FileType.TIFF,
}

_VIDEO_MIME: dict[FileType, str] = {
    FileType.MP4: "video/mp4",
    FileType.MOV: "video/quicktime",
    FileType.MKV: "video/x-matroska",
    FileType.WEBM: "video/webm",
    FileType.AVI: "video/x-msvideo",
    FileType.MPEGTS: "video/mp2t",
    FileType.OGG: "video/ogg",
}
_AUDIO_MIME: dict[FileType, str] = {
    FileType.MP3: "audio/mpeg",
    FileType.WAV: "audio/wav",
    FileType.FLAC: "audio/flac",
    FileType.OGG: "audio/ogg",
    FileType.M4A: "audio/mp4",
    FileType.MP4: "audio/mp4",
    FileType.AAC: "audio/aac",
    FileType.MOV: "audio/quicktime",
    FileType.MKV: "audio/x-matroska",
    FileType.WEBM: "audio/webm",
    FileType.AVI: "audio/x-msvideo",
    FileType.MPEGTS: "audio/mp2t",
}

# ftyp major brands of audio-only MP4 files (iTunes audio, audiobook, protected audio).
_M4A_BRANDS = frozenset({b"M4A ", b"M4B ", b"M4P "})

# A declared duration may exceed the packets by this much before we call it truncated:
# the last packet's duration is not always known, and containers round.
_TRUNCATION_TOLERANCE_S = 1.0
_TRUNCATION_TOLERANCE_FRACTION = 0.01

# At most this many packets are demuxed to find the first decodable frame of a stream;
# a stream that yields nothing in that many packets is corrupt.
_FIRST_FRAME_MAX_PACKETS = 600


@dataclass(frozen=True)
class Detection:
    """What a file holds, according to its content."""

    mime_type: str
    media_type: MediaType
    file_type: FileType


def detect(path: str | os.PathLike[str], limits: DecodeLimits | None = None) -> Detection:
    """Detect the media type, file type and MIME type of ``path`` from its content.

    Raises ``InvalidInput`` for a missing, empty, truncated or corrupt file and
    ``UnsupportedMedia`` for content that is not audio, video or a supported image.
    A stream with a few undecodable packets passes (players play it); one that
    fails more than ``limits.max_undecodable_fraction`` before its first frame does
    not. An image over ``limits.max_image_pixels`` is decoded scaled down where the
    format allows (JPEG), refused otherwise.
    """
    limits = limits or DecodeLimits()
    path = Path(path)
    size = _file_size(path)
    head = _read_head(path)
    kind = filetype.guess(head)
    mime = kind.mime if kind is not None else None

    if mime is not None and mime.startswith("image/"):
        return _detect_image(path, mime, limits)
    if mime is not None and not mime.startswith(("audio/", "video/")):
        raise UnsupportedMedia(f"not a media file: looks like {mime}")
    if mime is None:
        text_mime = _sniff_text(head)
        if text_mime is not None:
            raise UnsupportedMedia(f"not a media file: looks like {text_mime}")
    return _detect_av(path, head, size, mime, limits)


def sniff_media_type(path: str | os.PathLike[str]) -> MediaType | None:
    """The media type the first bytes of ``path`` suggest (magic numbers only), or None.

    A routing hint for the queue before the file is probed: cheap (no decoding),
    never raises; the pipeline's ``detect`` has the last word.
    """
    try:
        with Path(path).open("rb") as fh:
            kind = filetype.guess(fh.read(_HEAD_BYTES))
    except OSError:
        return None
    mime = kind.mime if kind is not None else ""
    for prefix, media_type in (
        ("image/", MediaType.IMAGE),
        ("video/", MediaType.VIDEO),
        ("audio/", MediaType.AUDIO),
    ):
        if mime.startswith(prefix):
            return media_type
    return None


# ----------------------------------------------------------------------------- opening


@contextmanager
def open_container(path: str | os.PathLike[str]) -> Iterator[av.container.InputContainer]:
    """Open ``path`` with PyAV for reading, turning FFmpeg errors into mediaflow errors.

    Raises ``InvalidInput`` when the file does not exist and ``UnsupportedMedia`` when
    FFmpeg cannot read it (the FFmpeg error is kept as ``__cause__``).
    """
    try:
        container = _av_open(Path(path))
    except FileNotFoundError as exc:
        raise InvalidInput(f"no such file: {Path(path).name}") from exc
    except av.error.FFmpegError as exc:
        raise UnsupportedMedia(f"cannot open as audio or video: {ffmpeg_reason(exc)}") from exc
    try:
        yield container
    finally:
        container.close()


def _av_open(path: Path) -> av.container.InputContainer:
    """``av.open`` for untrusted input.

    Only the ``file`` protocol is allowed: a playlist or concat script hidden in an
    upload must not make FFmpeg read other files or URLs. The path is made absolute
    so that a name such as ``a:b.mp4`` is not taken for a protocol prefix.
    """
    return av.open(
        str(path.resolve()),
        "r",
        options={"protocol_whitelist": "file"},
        metadata_errors="replace",
    )


def ffmpeg_reason(exc: BaseException) -> str:
    """A short lower-case reason from an FFmpeg error (no errno, no file name)."""
    if isinstance(exc, av.error.FFmpegError) and exc.strerror:
        text = exc.strerror
    else:
        text = str(exc) or type(exc).__name__
    return text[:1].lower() + text[1:]


def media_streams(
    container: av.container.InputContainer,
) -> tuple[list[av.VideoStream], list[av.AudioStream]]:
    """The video streams (without cover art) and the audio streams of ``container``.

    An MP3 or M4A with album art carries the picture as a one-frame video stream
    marked ``attached_pic``; it does not make the file a video.
    """
    video = [
        s
        for s in container.streams.video
        if not (s.disposition & av.stream.Disposition.attached_pic)
    ]
    return video, list(container.streams.audio)


# ----------------------------------------------------------------------------- helpers


def _file_size(path: Path) -> int:
    try:
        st = path.stat()
    except FileNotFoundError as exc:
        raise InvalidInput(f"no such file: {path.name}") from exc
    except OSError as exc:
        raise InvalidInput(f"cannot read file: {exc.strerror or exc}") from exc
    if not path.is_file():
        raise InvalidInput(f"not a regular file: {path.name}")
    if st.st_size == 0:
        raise InvalidInput("empty file (0 bytes)")
    return st.st_size


def _read_head(path: Path) -> bytes:
    try:
        with path.open("rb") as fh:
            return fh.read(_HEAD_BYTES)
    except OSError as exc:
        raise InvalidInput(f"cannot read file: {exc.strerror or exc}") from exc


def _sniff_text(head: bytes) -> str | None:
    """The MIME type of ``head`` if it is text, else None.

    Text is rejected before FFmpeg sees it: FFmpeg accepts several text formats
    (HLS playlists, concat scripts, subtitles) that are not media and, for
    playlists, would point it at other files.
    """
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "text/plain"  # UTF-16 with a byte order mark
    if b"\x00" in head:
        return None
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # The 8 KiB cut may split a multi-byte character: that is still text.
        if exc.reason != "unexpected end of data" or exc.start < len(head) - 3:
            return None
        text = head[: exc.start].decode("utf-8")
    printable = sum(ch.isprintable() or ch in "\r\n\t\f" for ch in text)
    if not text or printable / len(text) < 0.95:
        return None
    lowered = text.lstrip("\ufeff \r\n\t").lower()
    if lowered.startswith("#extm3u"):
        return "application/vnd.apple.mpegurl"
    if "<svg" in lowered[:1024]:
        return "image/svg+xml"
    if lowered.startswith(("<!doctype html", "<html")):
        return "text/html"
    if lowered.startswith(("{", "[")):
        return "application/json"
    if lowered.startswith("<?xml"):
        return "application/xml"
    return "text/plain"


def _detect_image(path: Path, mime: str, limits: DecodeLimits) -> Detection:
    """Check that the whole image decodes (within the pixel limit), then name its format.

    An animated GIF, WebP or PNG is a (short, silent) video.
    """
    check_image(path, mime, limits)
    file_type = _IMAGE_FILE_TYPES.get(mime, FileType.OTHER)
    media_type = MediaType.VIDEO if animation_info(path) is not None else MediaType.IMAGE
    return Detection(mime_type=mime, media_type=media_type, file_type=file_type)


def _detect_av(
    path: Path, head: bytes, size: int, mime: str | None, limits: DecodeLimits
) -> Detection:
    """Open with PyAV, classify by streams, and check the file is complete."""
    kind_word = mime.split("/", 1)[0] if mime else "media"
    is_iso = _is_iso_bmff(head)
    if is_iso:
        # Checked before opening: FFmpeg reports a missing moov atom only as
        # "invalid data", and the box walk says what is actually wrong.
        problem = _iso_bmff_problem(path, size)
        if problem is not None:
            raise InvalidInput(f"truncated or corrupt {kind_word}: {problem}")
    try:
        container = _av_open(path)
    except av.error.FFmpegError as exc:
        if mime is None:
            raise UnsupportedMedia(
                "not a media file: unrecognised content (no known audio, video or image format)"
            ) from exc
        # The magic bytes say audio/video but FFmpeg cannot even read the header.
        raise InvalidInput(f"truncated or corrupt {kind_word}: {ffmpeg_reason(exc)}") from exc
    with container:
        return _classify(container, path, head, mime, limits)


def _classify(
    container: av.container.InputContainer,
    path: Path,
    head: bytes,
    mime: str | None,
    limits: DecodeLimits,
) -> Detection:
    format_name = container.format.name
    if format_name.endswith("_pipe") or format_name == "image2":
        # FFmpeg recognised an image that neither filetype nor Pillow know.
        raise UnsupportedMedia(f"unsupported image format: {format_name.removesuffix('_pipe')}")
    video, audio = media_streams(container)
    if not video and not audio:
        raise UnsupportedMedia(f"no audio or video stream in this {format_name} file")
    media_type = MediaType.VIDEO if video else MediaType.AUDIO
    kind_word = media_type.value

    file_type = _file_type(format_name, head, mime, media_type)
    targets: list[av.VideoStream | av.AudioStream] = [*video[:1], *audio[:1]]
    problem = _check_streams(container, path, head, targets, limits)
    if problem is not None:
        raise InvalidInput(f"truncated or corrupt {kind_word}: {problem}")

    table = _VIDEO_MIME if media_type is MediaType.VIDEO else _AUDIO_MIME
    mime_type = table.get(file_type)
    if mime_type is None:
        # Containers outside the FileType enum (FLV, ASF, ...): keep filetype's MIME
        # when it has one, otherwise name the demuxer.
        mime_type = mime or f"{kind_word}/x-{format_name.split(',')[0]}"
    return Detection(mime_type=mime_type, media_type=media_type, file_type=file_type)


def _file_type(format_name: str, head: bytes, mime: str | None, media_type: MediaType) -> FileType:
    if format_name == _ISO_BMFF_FORMAT:
        brand = head[8:12] if head[4:8] == b"ftyp" else None
        if brand is None or brand == b"qt  ":
            # Old QuickTime files have no ftyp box at all.
            return FileType.MOV
        if brand in _M4A_BRANDS or media_type is MediaType.AUDIO:
            return FileType.M4A
        return FileType.MP4
    if format_name == _MATROSKA_FORMAT:
        # The EBML DocType says "webm" or "matroska"; filetype reads it for us.
        return FileType.WEBM if mime in ("video/webm", "audio/webm") else FileType.MKV
    return _FORMAT_FILE_TYPES.get(format_name, FileType.OTHER)


# ----------------------------------------------------------------------------- integrity


def _is_iso_bmff(head: bytes) -> bool:
    """Whether ``head`` starts like an MP4/MOV file (a known top-level box type)."""
    return len(head) >= 8 and head[4:8] in (b"ftyp", b"moov", b"mdat", b"wide", b"free", b"skip")


def _iso_bmff_problem(path: Path, size: int) -> str | None:
    """Walk the top-level boxes of an MP4/MOV file; describe what is missing, if anything.

    Only box headers are read (8 or 16 bytes each), so this is cheap on any size.
    An upload cut short leaves a box that claims more bytes than the file has, and
    without ``faststart`` the index (``moov``) is lost entirely.
    """
    offset = 0
    seen_moov = False
    with path.open("rb") as fh:
        while offset < size:
            fh.seek(offset)
            header = fh.read(16)
            if len(header) < 8:
                return f"file ends inside a box header at byte {offset}"
            box_size, box_type = struct.unpack(">I4s", header[:8])
            name = box_type.decode("latin-1")
            if box_size == 1:
                if len(header) < 16:
                    return f"file ends inside the '{name}' box header at byte {offset}"
                box_size = struct.unpack(">Q", header[8:16])[0]
            elif box_size == 0:
                box_size = size - offset  # "extends to the end of the file"
            if box_size < 8:
                return f"invalid size {box_size} for the '{name}' box at byte {offset}"
            if offset + box_size > size:
                missing = offset + box_size - size
                return (
                    f"the '{name}' box at byte {offset} needs {box_size} bytes "
                    f"but the file ends {missing} bytes short"
                )
            seen_moov = seen_moov or box_type == b"moov"
            offset += box_size
    if not seen_moov:
        return "moov atom not found (the file's index is missing)"
    return None


def _mp3_declares_length(path: Path, head: bytes) -> bool:
    """Whether an MP3 carries a Xing/Info/VBRI header, i.e. a real frame count.

    Without one FFmpeg estimates the duration from the bit rate and the file size,
    which is consistent for a cut file and wrong for a whole VBR file: comparing it
    with the packets would reject good files, so the check is skipped.
    """
    offset = 0
    if head.startswith(b"ID3") and len(head) >= 10:
        # ID3v2 size: four 7-bit "syncsafe" bytes, plus a 10-byte footer if flagged.
        tag_size = (head[6] << 21) | (head[7] << 14) | (head[8] << 7) | head[9]
        offset = 10 + tag_size + (10 if head[5] & 0x10 else 0)
    with path.open("rb") as fh:
        fh.seek(offset)
        frame = fh.read(256)
    return any(tag in frame for tag in (b"Xing", b"Info", b"VBRI"))


def _check_streams(
    container: av.container.InputContainer,
    path: Path,
    head: bytes,
    targets: list[av.VideoStream | av.AudioStream],
    limits: DecodeLimits,
) -> str | None:
    """Decode the first frame of each target stream; for containers that declare their
    length, also demux every packet and check that each stream's timestamps reach its
    declared end. Return a problem description or None.

    Packets that fail before a stream's first frame are counted, not fatal (a cut or
    damaged frame at the start still plays); a stream fails when none of its first
    ``_FIRST_FRAME_MAX_PACKETS`` packets decode, or when more than the allowed share
    of its declared frames fail before the first one. Completeness is judged by
    timestamps, not by a header's frame count: a variable-frame-rate AVI declares
    frames at a constant rate that its packets never fill.
    """
    format_name = container.format.name
    declared_s = container.duration / 1_000_000 if container.duration else None
    full_scan = declared_s is not None and (
        format_name in (_MATROSKA_FORMAT, "flac", "avi")
        or (format_name == "mp3" and _mp3_declares_length(path, head))
    )
    start_s = container.start_time / 1_000_000 if container.start_time else 0.0

    pending = {s.index: s for s in targets}
    packets_seen: dict[int, int] = {}
    failures: dict[int, tuple[int, str]] = {}
    stream_end: dict[int, float] = {}
    end_s = 0.0
    corrupt: str | None = None
    try:
        for packet in container.demux():
            index = packet.stream.index
            if packet.size == 0:
                continue  # a demuxer's end-of-stream marker
            packets_seen[index] = packets_seen.get(index, 0) + 1
            if packet.pts is not None and packet.time_base is not None:
                end = float((packet.pts + (packet.duration or 0)) * packet.time_base) - start_s
                end_s = max(end_s, end)
                stream_end[index] = max(stream_end.get(index, 0.0), end)
            stream = pending.get(index)
            if stream is not None:
                what = f"{_codec_name(stream)} {stream.type}"
                try:
                    if stream.decode(packet):
                        del pending[index]
                        corrupt = _too_many_failures(stream, failures.get(index), limits)
                        if corrupt is not None:
                            break
                except av.error.FFmpegError as exc:
                    count = failures.get(index, (0, ""))[0] + 1
                    failures[index] = (count, ffmpeg_reason(exc))
                if index in pending and packets_seen[index] > _FIRST_FRAME_MAX_PACKETS:
                    corrupt = f"no decodable frame in the {what} stream" + _why(failures, index)
                    break
            if not pending and not full_scan:
                break
    except av.error.FFmpegError as exc:
        corrupt = f"cannot read the {format_name} container: {ffmpeg_reason(exc)}"
    if corrupt is not None:
        return corrupt

    for stream in list(pending.values()):
        # Flush the decoder: short streams and codecs with delay give frames only now.
        try:
            if stream.decode(None):
                del pending[stream.index]
        except av.error.FFmpegError:
            pass
    if pending:
        stream = next(iter(pending.values()))
        if stream.index in failures:
            return f"cannot decode the {_codec_name(stream)} {stream.type} stream" + _why(
                failures, stream.index
            )
        return f"no decodable frame in the {_codec_name(stream)} {stream.type} stream"

    if full_scan and declared_s is not None:
        tolerance = max(_TRUNCATION_TOLERANCE_S, declared_s * _TRUNCATION_TOLERANCE_FRACTION)
        if declared_s - end_s > tolerance:
            return f"data ends at {end_s:.2f} s of {declared_s:.2f} s declared"
        for stream in targets:
            # Each stream's own declared length: AVI headers count frames (one tick
            # of the stream's time base each), so a cut file declares more time than
            # its packets reach, while a variable-rate one's timestamps still do.
            if stream.time_base is None:
                continue
            ticks = max(stream.duration or 0, stream.frames or 0)
            stream_s = float(ticks * stream.time_base)
            got = stream_end.get(stream.index, 0.0)
            if stream_s - got > max(tolerance, stream_s * _TRUNCATION_TOLERANCE_FRACTION):
                return (
                    f"the {_codec_name(stream)} {stream.type} stream's data ends at "
                    f"{got:.2f} s of {stream_s:.2f} s declared"
                )
    return None


def _why(failures: dict[int, tuple[int, str]], index: int) -> str:
    if index not in failures:
        return ""
    count, reason = failures[index]
    return f": {reason}" + (f" ({count} packets failed)" if count > 1 else "")


def _too_many_failures(
    stream: av.VideoStream | av.AudioStream,
    failed: tuple[int, str] | None,
    limits: DecodeLimits,
) -> str | None:
    """A stream whose first frame came only after more than the allowed share of its
    declared frames failed is mostly undecodable (zeroed media data, say)."""
    if failed is None:
        return None
    count, reason = failed
    declared = stream.frames
    if declared > 0 and count > limits.max_undecodable_fraction * declared:
        return (
            f"cannot decode the {_codec_name(stream)} {stream.type} stream: {reason} "
            f"({count} of {declared} packets failed before the first frame)"
        )
    return None


def _codec_name(stream: av.VideoStream | av.AudioStream) -> str:
    try:
        return stream.codec.canonical_name
    except (AttributeError, av.error.FFmpegError):
        return "unknown"
