"""Content-based detection: the right type for every format, a clear error for bad input."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mediaflow.db.enums import FileType, MediaType
from mediaflow.errors import InvalidInput, UnsupportedMedia
from mediaflow.media.detect import Detection, detect
from tests.markers import needs_espeak
from tests.media_factory import (
    make_random_bytes,
    make_speech_audio,
    make_text_file_renamed,
    make_text_image,
    make_truncated_video,
    make_two_shot_video,
    make_unsupported,
    make_video_with_text_and_speech,
    make_zero_byte,
)


@pytest.fixture(scope="module")
def media_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("detect")


def _truncate(path: Path, keep: float = 0.5) -> Path:
    data = path.read_bytes()
    out = path.with_name("cut_" + path.name)
    out.write_bytes(data[: int(len(data) * keep)])
    return out


# ----------------------------------------------------------------------------- good input


@needs_espeak
def test_mp4_with_speech_is_video_mp4(media_dir: Path) -> None:
    info = make_video_with_text_and_speech(media_dir / "clip.mp4")
    assert detect(info.path) == Detection("video/mp4", MediaType.VIDEO, FileType.MP4)


@needs_espeak
def test_mp4_named_mov_is_still_mp4(media_dir: Path) -> None:
    info = make_video_with_text_and_speech(media_dir / "clip.mov", container_format="mp4")
    assert detect(info.path).file_type is FileType.MP4


@needs_espeak
def test_quicktime_named_mp4_is_mov(media_dir: Path) -> None:
    # The "mov" muxer writes an ftyp box with the "qt  " brand.
    info = make_video_with_text_and_speech(media_dir / "quicktime.mp4", container_format="mov")
    result = detect(info.path)
    assert result == Detection("video/quicktime", MediaType.VIDEO, FileType.MOV)


@needs_espeak
@pytest.mark.parametrize("suffix", [".m4a", ".mp4"])
def test_audio_only_mp4_is_m4a(media_dir: Path, suffix: str) -> None:
    # .m4a: iTunes "M4A " brand; .mp4: plain "isom" brand, audio only. Both are m4a.
    path = make_speech_audio(media_dir / f"voice{suffix}")
    renamed = path.rename(media_dir / f"voice_{suffix[1:]}.mov")
    assert detect(renamed) == Detection("audio/mp4", MediaType.AUDIO, FileType.M4A)


@needs_espeak
@pytest.mark.parametrize(
    ("suffix", "file_type", "mime"),
    [
        (".mp3", FileType.MP3, "audio/mpeg"),
        (".ogg", FileType.OGG, "audio/ogg"),
        (".flac", FileType.FLAC, "audio/flac"),
        (".wav", FileType.WAV, "audio/wav"),
    ],
)
def test_audio_formats(media_dir: Path, suffix: str, file_type: FileType, mime: str) -> None:
    path = make_speech_audio(media_dir / f"speech{suffix}")
    # A misleading name: detection must not look at it.
    misnamed = path.rename(path.with_name(path.name + ".jpg"))
    assert detect(misnamed) == Detection(mime, MediaType.AUDIO, file_type)


@pytest.mark.parametrize(
    ("name", "codec", "file_type", "mime"),
    [
        ("two.mkv", "libx264", FileType.MKV, "video/x-matroska"),
        ("two.webm", "libvpx-vp9", FileType.WEBM, "video/webm"),
        ("two.avi", "mpeg4", FileType.AVI, "video/x-msvideo"),
        ("two.ts", "libx264", FileType.MPEGTS, "video/mp2t"),
    ],
)
def test_video_containers(
    media_dir: Path, name: str, codec: str, file_type: FileType, mime: str
) -> None:
    info = make_two_shot_video(media_dir / name, shot_s=1.0, video_codec=codec)
    misnamed = info.path.rename(media_dir / f"{name}.bin")
    assert detect(misnamed) == Detection(mime, MediaType.VIDEO, file_type)


@pytest.mark.parametrize(
    ("suffix", "file_type", "mime"),
    [
        (".png", FileType.PNG, "image/png"),
        (".jpg", FileType.JPEG, "image/jpeg"),
        (".gif", FileType.GIF, "image/gif"),
        (".webp", FileType.WEBP, "image/webp"),
        (".bmp", FileType.BMP, "image/bmp"),
        (".tiff", FileType.TIFF, "image/tiff"),
    ],
)
def test_image_formats(media_dir: Path, suffix: str, file_type: FileType, mime: str) -> None:
    path = make_text_image(media_dir / f"text{suffix}", size=(200, 80))
    misnamed = path.rename(media_dir / f"image_{suffix[1:]}.mp4")
    assert detect(misnamed) == Detection(mime, MediaType.IMAGE, file_type)


# ----------------------------------------------------------------------------- bad input


def _one_line(exc: pytest.ExceptionInfo[Exception]) -> str:
    message = str(exc.value)
    assert "\n" not in message
    assert len(message) < 200
    return message


def test_zero_byte_file(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput) as exc:
        detect(make_zero_byte(tmp_path / "empty.mp4"))
    assert _one_line(exc) == "empty file (0 bytes)"
    assert not isinstance(exc.value, UnsupportedMedia)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match=r"^no such file: nothere\.mp4$"):
        detect(tmp_path / "nothere.mp4")


def test_directory(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="not a regular file"):
        detect(tmp_path)


def test_text_file_named_mp4(tmp_path: Path) -> None:
    with pytest.raises(UnsupportedMedia) as exc:
        detect(make_text_file_renamed(tmp_path / "clip.mp4"))
    assert _one_line(exc) == "not a media file: looks like text/plain"
    assert exc.value.http_status == 415


def test_pdf_with_unknown_suffix(tmp_path: Path) -> None:
    with pytest.raises(UnsupportedMedia) as exc:
        detect(make_unsupported(tmp_path / "document.xyz"))
    assert _one_line(exc) == "not a media file: looks like application/pdf"


def test_random_bytes(tmp_path: Path) -> None:
    with pytest.raises(UnsupportedMedia) as exc:
        detect(make_random_bytes(tmp_path / "noise.mp3"))
    assert _one_line(exc).startswith("not a media file: unrecognised content")


@pytest.mark.parametrize(
    ("text", "mime"),
    [
        ("#EXTM3U\n#EXTINF:10,\nfile:///etc/passwd\n", "application/vnd.apple.mpegurl"),
        ('<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"/>\n', "image/svg+xml"),
        ('{"not": "media"}', "application/json"),
        ("ffconcat version 1.0\nfile '/etc/passwd'\n", "text/plain"),
    ],
)
def test_text_formats_ffmpeg_would_accept_are_refused(tmp_path: Path, text: str, mime: str) -> None:
    # FFmpeg reads playlists and concat scripts; they must never reach it.
    path = tmp_path / "sneaky.mp4"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(UnsupportedMedia, match=f"^not a media file: looks like {re.escape(mime)}$"):
        detect(path)


@needs_espeak
def test_truncated_mp4_without_faststart(tmp_path: Path) -> None:
    # moov atom at the end: cutting the file in half loses the index.
    path = make_truncated_video(tmp_path / "cut.mp4")
    with pytest.raises(InvalidInput) as exc:
        detect(path)
    message = _one_line(exc)
    assert message.startswith("truncated or corrupt video: ")
    assert "'mdat' box" in message
    assert not isinstance(exc.value, UnsupportedMedia)


@needs_espeak
def test_truncated_mp4_with_faststart(tmp_path: Path) -> None:
    # moov first: FFmpeg opens the file happily; the box walk still sees the cut.
    path = make_truncated_video(tmp_path / "cut_fast.mp4", faststart=True)
    with pytest.raises(InvalidInput, match=r"^truncated or corrupt video: .*file ends \d+ bytes"):
        detect(path)


def test_mp4_missing_moov(tmp_path: Path) -> None:
    # A file with only ftyp + mdat boxes, complete in size but without an index.
    path = tmp_path / "nomoov.mp4"
    ftyp = b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2"
    mdat = b"\x00\x00\x00\x10mdat" + bytes(8)
    path.write_bytes(ftyp + mdat)
    with pytest.raises(InvalidInput, match=r"^truncated or corrupt video: moov atom not found"):
        detect(path)


@needs_espeak
def test_mp4_with_zeroed_media_data(tmp_path: Path) -> None:
    info = make_video_with_text_and_speech(tmp_path / "ok.mp4")
    data = bytearray(info.path.read_bytes())
    data[200 : len(data) // 2] = bytes(len(data) // 2 - 200)  # inside mdat
    broken = tmp_path / "zeroed.mp4"
    broken.write_bytes(bytes(data))
    with pytest.raises(InvalidInput, match=r"^truncated or corrupt video: cannot decode"):
        detect(broken)


@pytest.mark.parametrize(
    ("name", "codec", "pattern"),
    [
        ("two.mkv", "libx264", r"data ends at [\d.]+ s of 6\.00 s declared"),
        ("two.webm", "libvpx-vp9", r"data ends at [\d.]+ s of 6\.00 s declared"),
        ("two.avi", "mpeg4", r"the mpeg4 video stream's data ends at [\d.]+ s of 6\.00 s declared"),
    ],
)
def test_truncated_other_containers(tmp_path: Path, name: str, codec: str, pattern: str) -> None:
    info = make_two_shot_video(tmp_path / name, video_codec=codec)
    with pytest.raises(InvalidInput, match=f"^truncated or corrupt video: {pattern}$"):
        detect(_truncate(info.path))


@needs_espeak
@pytest.mark.parametrize("suffix", [".flac", ".mp3", ".m4a"])
def test_truncated_audio(tmp_path: Path, suffix: str) -> None:
    path = make_speech_audio(tmp_path / f"speech{suffix}")
    with pytest.raises(InvalidInput, match=r"^truncated or corrupt audio: "):
        detect(_truncate(path))


@pytest.mark.parametrize("suffix", [".jpg", ".png"])
def test_truncated_image(tmp_path: Path, suffix: str) -> None:
    path = make_text_image(tmp_path / f"text{suffix}")
    with pytest.raises(InvalidInput, match=r"^truncated or corrupt image: "):
        detect(_truncate(path))
