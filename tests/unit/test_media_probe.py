"""Technical metadata from real generated files, and clean errors for broken ones."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mediaflow.db.enums import FileType, MediaType
from mediaflow.errors import InvalidInput, UnsupportedMedia
from mediaflow.media.probe import ProbeResult, probe
from tests.markers import needs_espeak
from tests.media_factory import (
    SPEECH_SENTENCE,
    Shot,
    VideoInfo,
    make_speech_audio,
    make_text_file_renamed,
    make_text_image,
    make_truncated_video,
    make_two_shot_video,
    make_video,
    speak_wav,
    wav_duration_s,
)


def test_video_summary(speech_video: VideoInfo) -> None:
    result = probe(speech_video.path)
    assert result.media_type is MediaType.VIDEO
    assert result.file_type is FileType.MP4
    assert result.mime_type == "video/mp4"
    assert result.format_name.startswith("mov,mp4")
    assert result.size_bytes == speech_video.path.stat().st_size
    assert result.duration_s == pytest.approx(speech_video.duration_s, abs=0.05)
    assert (result.width, result.height) == (640, 360)
    assert result.fps == pytest.approx(25.0)
    assert result.rotation == 0
    assert (result.sample_rate, result.channels) == (44100, 2)
    assert result.codecs == {"video": "h264", "audio": "aac"}
    assert result.has_video and result.has_audio
    # Bit rate of the whole file: size over duration, within container overhead.
    assert result.bit_rate is not None
    expected = result.size_bytes * 8 / speech_video.duration_s
    assert result.bit_rate == pytest.approx(expected, rel=0.1)


def test_video_streams(speech_video: VideoInfo) -> None:
    video, audio = probe(speech_video.path).streams
    assert video["type"] == "video"
    assert video["codec"] == "h264"
    assert (video["width"], video["height"]) == (640, 360)
    assert video["frames"] == speech_video.frame_count
    assert video["pix_fmt"] == "yuv420p"
    assert video["attached_pic"] is False
    assert audio["type"] == "audio"
    assert audio["codec"] == "aac"
    assert audio["sample_rate"] == 44100
    assert audio["channels"] == 2
    assert audio["channel_layout"] == "stereo"
    assert audio["duration_s"] == pytest.approx(speech_video.duration_s - 0.5, abs=0.1)


def test_to_dict_is_json(speech_video: VideoInfo) -> None:
    data = probe(speech_video.path).to_dict()
    again = json.loads(json.dumps(data))
    assert again["media_type"] == "video"
    assert again["file_type"] == "mp4"
    assert again["codecs"] == {"video": "h264", "audio": "aac"}
    assert len(again["streams"]) == 2


@needs_espeak
def test_mp3(tmp_path: Path) -> None:
    wav = speak_wav(SPEECH_SENTENCE, tmp_path / "speech.wav")
    path = make_speech_audio(tmp_path / "speech.mp3")
    result = probe(path)
    assert result.media_type is MediaType.AUDIO
    assert result.file_type is FileType.MP3
    assert result.codecs == {"audio": "mp3"}  # the codec, not FFmpeg's "mp3float" decoder
    assert result.duration_s == pytest.approx(wav_duration_s(wav), abs=0.1)
    assert (result.sample_rate, result.channels) == (22050, 1)
    assert result.width is None and result.fps is None
    assert not result.has_video


@needs_espeak
def test_opus_in_ogg(tmp_path: Path) -> None:
    result = probe(make_speech_audio(tmp_path / "speech.ogg"))
    assert result.file_type is FileType.OGG
    assert result.codecs == {"audio": "opus"}
    assert result.sample_rate == 48000


def test_image(tmp_path: Path) -> None:
    result = probe(make_text_image(tmp_path / "text.png", size=(800, 300)))
    assert result.media_type is MediaType.IMAGE
    assert result.file_type is FileType.PNG
    assert (result.width, result.height) == (800, 300)
    assert result.codecs == {"image": "png"}
    assert result.duration_s is None
    assert result.streams == [
        {
            "index": 0,
            "type": "image",
            "codec": "png",
            "width": 800,
            "height": 300,
            "mode": "RGB",
            "frames": 1,
            "exif_orientation": 1,
        }
    ]


def test_jpeg_exif_orientation_swaps_display_size(tmp_path: Path) -> None:
    from PIL import Image

    path = make_text_image(tmp_path / "text.png", size=(400, 100))
    rotated = tmp_path / "rotated.jpg"
    with Image.open(path) as image:
        exif = Image.Exif()
        exif[0x0112] = 6  # "rotate 90 CW to display"
        image.save(rotated, exif=exif)
    result = probe(rotated)
    assert (result.width, result.height) == (100, 400)
    assert result.streams[0]["width"] == 400  # stored pixels are unchanged


def test_rotated_video_reports_display_size(tmp_path: Path) -> None:
    info = make_video(tmp_path / "portrait.mp4", [Shot(1.0)], size=(320, 180), display_rotation=90)
    result = probe(info.path)
    assert result.rotation == 90
    assert (result.width, result.height) == (180, 320)
    assert (result.streams[0]["width"], result.streams[0]["height"]) == (320, 180)


def test_matroska_without_audio(tmp_path: Path) -> None:
    info = make_two_shot_video(tmp_path / "two.mkv")
    result = probe(info.path)
    assert result.file_type is FileType.MKV
    assert result.duration_s == pytest.approx(info.duration_s, abs=0.05)
    assert result.codecs == {"video": "h264"}
    assert result.sample_rate is None and result.channels is None


@needs_espeak
@pytest.mark.parametrize("faststart", [False, True], ids=["moov-at-end", "moov-first"])
def test_truncated_video_half(tmp_path: Path, faststart: bool) -> None:
    path = make_truncated_video(tmp_path / "cut.mp4", keep=0.5, faststart=faststart)
    with pytest.raises(InvalidInput) as exc:
        probe(path)
    assert str(exc.value).startswith("truncated or corrupt video: ")
    assert "\n" not in str(exc.value)


def test_text_file_named_mp4(tmp_path: Path) -> None:
    with pytest.raises(UnsupportedMedia, match=r"^not a media file: looks like text/plain$"):
        probe(make_text_file_renamed(tmp_path / "clip.mp4"))


def test_result_is_frozen(tmp_path: Path) -> None:
    result = probe(make_text_image(tmp_path / "text.png"))
    assert isinstance(result, ProbeResult)
    with pytest.raises(AttributeError):
        result.width = 1  # type: ignore[misc]
