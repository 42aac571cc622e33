"""Audio extraction (16 kHz mono WAV) and frame sampling (interval + scene cuts)."""

from __future__ import annotations

import wave
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import numpy.typing as npt
import pytest
from PIL import Image

from mediaflow.db.enums import MediaType
from mediaflow.errors import InvalidInput
from mediaflow.media.audio import extract_audio, load_wav
from mediaflow.media.frames import extract_frames
from mediaflow.media.probe import probe
from mediaflow.media.types import Frame
from tests.markers import needs_espeak
from tests.media_factory import (
    SECOND_SCENE_COLOUR,
    SPEECH_SENTENCE,
    VIDEO_SENTENCE,
    VIDEO_SPEECH_WPM,
    Shot,
    VideoInfo,
    make_speech_audio,
    make_text_image,
    make_two_shot_video,
    make_video,
    speak_wav,
    wav_duration_s,
)


def _envelope(samples: npt.NDArray[np.float32], rate: int) -> npt.NDArray[np.float64]:
    """RMS per 20 ms window: a shape of the speech that survives AAC and resampling."""
    window = rate // 50
    usable = len(samples) - len(samples) % window
    blocks = samples[:usable].astype(np.float64).reshape(-1, window)
    rms: npt.NDArray[np.float64] = np.sqrt((blocks**2).mean(axis=1))
    return rms


# ----------------------------------------------------------------------------- audio


def _wav_params(path: Path) -> tuple[int, int, int, int]:
    with wave.open(str(path), "rb") as wav:
        return wav.getnchannels(), wav.getframerate(), wav.getsampwidth(), wav.getnframes()


def test_extract_audio_from_video(speech_video: VideoInfo, tmp_path: Path) -> None:
    dest = tmp_path / "audio.wav"
    assert extract_audio(speech_video.path, dest) == dest
    channels, rate, width, count = _wav_params(dest)
    assert (channels, rate, width) == (1, 16000, 2)
    # Same length as the audio stream (44.1 kHz stereo AAC in the file).
    audio_stream = probe(speech_video.path).streams[1]
    assert count / rate == pytest.approx(audio_stream["duration_s"], abs=0.03)
    assert not dest.with_name(dest.name + ".part").exists()


def test_extracted_audio_is_the_speech(speech_video: VideoInfo, tmp_path: Path) -> None:
    # The WAV must hold the spoken sentence, not just the right number of samples:
    # its loudness envelope follows the espeak original closely.
    original = speak_wav(VIDEO_SENTENCE, tmp_path / "original.wav", speed=VIDEO_SPEECH_WPM)
    ref, ref_rate = load_wav(original)
    out = extract_audio(speech_video.path, tmp_path / "audio.wav")
    assert out is not None
    got, rate = load_wav(out)
    assert rate == 16000
    a, b = _envelope(ref, ref_rate), _envelope(got, rate)
    n = min(len(a), len(b))
    assert abs(len(a) - len(b)) <= 3
    assert float(np.corrcoef(a[:n], b[:n])[0, 1]) > 0.95


def test_no_audio_stream_gives_none(tmp_path: Path) -> None:
    info = make_two_shot_video(tmp_path / "silent.mp4", shot_s=0.5)
    dest = tmp_path / "none.wav"
    assert extract_audio(info.path, dest) is None
    assert not dest.exists()


@needs_espeak
@pytest.mark.parametrize("suffix", [".mp3", ".ogg", ".flac", ".wav"])
def test_extract_audio_from_audio_files(tmp_path: Path, suffix: str) -> None:
    wav = speak_wav(SPEECH_SENTENCE, tmp_path / "speech.wav")
    path = make_speech_audio(tmp_path / f"input{suffix}")
    out = extract_audio(path, tmp_path / "out.wav")
    assert out is not None
    channels, rate, width, count = _wav_params(out)
    assert (channels, rate, width) == (1, 16000, 2)
    # MP3 and Opus add up to a frame of encoder padding.
    assert count / rate == pytest.approx(wav_duration_s(wav), abs=0.08)


@needs_espeak
def test_late_audio_is_padded_to_the_video_timeline(tmp_path: Path) -> None:
    wav = speak_wav("hello there", tmp_path / "hello.wav")
    info = make_video(tmp_path / "late.mp4", [Shot(3.0)], audio_wav=wav, audio_offset_s=1.0)
    out = extract_audio(info.path, tmp_path / "late.wav")
    assert out is not None
    samples, rate = load_wav(out)
    # AAC priming moves the stream start a few ms before the 1 s mark.
    assert np.abs(samples[: int(0.95 * rate)]).max() == 0.0
    assert np.abs(samples[int(1.0 * rate) :]).max() > 0.05
    assert len(samples) / rate == pytest.approx(1.0 + wav_duration_s(wav), abs=0.08)


def test_load_wav_formats(tmp_path: Path) -> None:
    ramp = np.array([0, 16384, -16384, 32767, -32768], dtype="<i2")
    cases = {
        "mono16": (1, 2, ramp.tobytes()),
        "stereo16": (2, 2, np.repeat(ramp, 2).tobytes()),
        "mono8": (1, 1, (ramp // 256 + 128).astype(np.uint8).tobytes()),
        "mono24": (
            1,
            3,
            b"".join((int(v) * 256).to_bytes(3, "little", signed=True) for v in ramp),
        ),
    }
    expected = ramp.astype(np.float32) / 32768.0
    for name, (channels, width, data) in cases.items():
        path = tmp_path / f"{name}.wav"
        with wave.open(str(path), "wb") as wav:
            wav.setnchannels(channels)
            wav.setsampwidth(width)
            wav.setframerate(8000)
            wav.writeframes(data)
        samples, rate = load_wav(path)
        assert rate == 8000
        assert samples.dtype == np.float32
        assert samples.shape == (5,)
        np.testing.assert_allclose(samples, expected, atol=1 / 128, err_msg=name)


def test_load_float_wav_falls_back_to_pyav(tmp_path: Path) -> None:
    path = tmp_path / "float.wav"
    tone = (0.5 * np.sin(np.arange(8000) * 2 * np.pi * 440 / 8000)).astype(np.float32)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("pcm_f32le", rate=8000, layout="mono")
        frame = av.AudioFrame.from_ndarray(tone[None, :], format="flt", layout="mono")
        frame.sample_rate = 8000
        container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    samples, rate = load_wav(path)
    assert rate == 8000
    np.testing.assert_allclose(samples, tone, atol=1e-6)


def test_load_wav_missing(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="no such file"):
        load_wav(tmp_path / "missing.wav")


# ----------------------------------------------------------------------------- frames


def _is_frame_list(frames: list[Frame]) -> None:
    times = [f.timestamp_s for f in frames]
    assert times == sorted(times)
    for frame in frames:
        assert frame.image.dtype == np.uint8
        assert frame.image.ndim == 3 and frame.image.shape[2] == 3
        assert frame.image.flags["C_CONTIGUOUS"]


def _is_second_scene(image: npt.NDArray[np.uint8]) -> bool:
    # Mostly the blue background (the white text covers a small part).
    median = np.median(image.reshape(-1, 3), axis=0)
    return bool(np.abs(median - np.array(SECOND_SCENE_COLOUR)).max() < 12)


def test_video_frames_interval_and_cut(speech_video: VideoInfo) -> None:
    frames = extract_frames(speech_video.path, MediaType.VIDEO)
    _is_frame_list(frames)
    assert frames[0].index == 0 and frames[0].timestamp_s == 0.0
    assert frames[0].image.shape == (360, 640, 3)
    # White first shot with black text: bright median, some dark pixels.
    assert np.median(frames[0].image) > 240 and frames[0].image.min() < 40

    times = [f.timestamp_s for f in frames]
    cut = speech_video.cut_times_s[0]
    for t in (0.0, 2.0, 4.0):  # interval frames
        assert t in times
    at_cut = [f for f in frames if abs(f.timestamp_s - cut) <= 1 / speech_video.fps + 1e-6]
    assert len(at_cut) == 1, times
    assert _is_second_scene(at_cut[0].image)
    assert at_cut[0].index == round(cut * speech_video.fps)
    # Nothing else: interval frames plus the one cut.
    last_frame_s = speech_video.duration_s - 1 / speech_video.fps
    interval = [t for t in (0.0, 2.0, 4.0, 6.0) if t <= last_frame_s + 1e-6]
    assert len(frames) == len(interval) + 1


def test_frame_index_matches_time(speech_video: VideoInfo) -> None:
    for frame in extract_frames(speech_video.path, MediaType.VIDEO):
        assert frame.index == round(frame.timestamp_s * speech_video.fps)


def test_max_frames_keeps_first_and_cut(speech_video: VideoInfo) -> None:
    frames = extract_frames(speech_video.path, MediaType.VIDEO, max_frames=2)
    assert len(frames) == 2
    assert frames[0].timestamp_s == 0.0
    assert frames[1].timestamp_s == pytest.approx(speech_video.cut_times_s[0], abs=0.041)


def test_long_video_widens_interval(speech_video: VideoInfo) -> None:
    frames = extract_frames(
        speech_video.path, MediaType.VIDEO, max_frames=3, interval_s=0.5, scene_threshold=None
    )
    # 3 frames must cover ~6 s: interval widened to duration / 3.
    assert len(frames) == 3
    step = speech_video.duration_s / 3
    assert [f.timestamp_s for f in frames] == pytest.approx([0.0, step, 2 * step], abs=0.041)


def test_without_scene_detection_seeks_interval_frames(speech_video: VideoInfo) -> None:
    seeking = extract_frames(speech_video.path, MediaType.VIDEO, scene_threshold=None)
    sequential = extract_frames(speech_video.path, MediaType.VIDEO)
    seek_times = [f.timestamp_s for f in seeking]
    last_frame_s = speech_video.duration_s - 1 / speech_video.fps
    assert seek_times == [t for t in (0.0, 2.0, 4.0, 6.0) if t <= last_frame_s + 1e-6]
    by_time = {f.timestamp_s: f for f in sequential}
    for frame in seeking:  # the same pictures as the front-to-back decode
        assert np.array_equal(frame.image, by_time[frame.timestamp_s].image)


def test_keyframes_only_still_finds_the_cut(speech_video: VideoInfo) -> None:
    # x264 puts a key frame at a hard cut, so the fast mode sees it too.
    frames = extract_frames(speech_video.path, MediaType.VIDEO, keyframes_only_after_s=0.0)
    assert frames[0].timestamp_s == 0.0
    cut = speech_video.cut_times_s[0]
    assert any(abs(f.timestamp_s - cut) < 0.041 for f in frames)


def test_max_side_downscales(speech_video: VideoInfo) -> None:
    frames = extract_frames(speech_video.path, MediaType.VIDEO, max_side=320)
    assert {f.image.shape for f in frames} == {(180, 320, 3)}


@pytest.mark.parametrize(
    ("name", "codec"),
    [
        ("two.mkv", "libx264"),
        ("two.webm", "libvpx-vp9"),
        ("two.avi", "mpeg4"),
        ("two.ts", "libx264"),
        ("two.mov", "libx264"),
    ],
)
@pytest.mark.parametrize("scene_threshold", [30.0, None], ids=["scenes", "seek"])
def test_containers(tmp_path: Path, name: str, codec: str, scene_threshold: float | None) -> None:
    info = make_two_shot_video(tmp_path / name, video_codec=codec)
    frames = extract_frames(info.path, MediaType.VIDEO, scene_threshold=scene_threshold)
    _is_frame_list(frames)
    times = [f.timestamp_s for f in frames]
    expected = [0.0, 2.0, 4.0] if scene_threshold is None else [0.0, 2.0, 3.0, 4.0]
    assert times == pytest.approx(expected, abs=0.041)
    second = [f for f in frames if f.timestamp_s >= info.cut_times_s[0] - 1e-6]
    first = [f for f in frames if f.timestamp_s < info.cut_times_s[0] - 1e-6]
    assert all(_is_second_scene(f.image) for f in second)
    assert not any(_is_second_scene(f.image) for f in first)


def test_rotated_video_frames_are_upright(tmp_path: Path) -> None:
    # Left half white, right half blue in the stored pixels; rotated 90 degrees
    # counterclockwise for display, the left (white) half ends up at the bottom.
    path = tmp_path / "rotated.mp4"
    size = (320, 180)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=10)
        assert isinstance(stream, av.VideoStream)
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        stream.set_display_rotation(90)
        picture = np.zeros((size[1], size[0], 3), dtype=np.uint8)
        picture[:, : size[0] // 2] = 255
        picture[:, size[0] // 2 :] = SECOND_SCENE_COLOUR
        for i in range(5):
            encoded = av.VideoFrame.from_ndarray(picture, format="rgb24")
            encoded.pts = i
            encoded.time_base = Fraction(1, 10)
            container.mux(stream.encode(encoded))
        container.mux(stream.encode(None))
    (frame,) = extract_frames(path, MediaType.VIDEO)
    image = frame.image.astype(int)
    assert image.shape == (320, 180, 3)
    assert image[-40:].mean() > 240  # bottom: white
    assert _is_second_scene(frame.image[:40])  # top: blue


def test_image_frame(tmp_path: Path) -> None:
    path = make_text_image(tmp_path / "text.png", size=(800, 300))
    (frame,) = extract_frames(path, MediaType.IMAGE)
    assert (frame.index, frame.timestamp_s) == (0, 0.0)
    assert frame.image.shape == (300, 800, 3) and frame.image.dtype == np.uint8
    with Image.open(path) as original:
        assert np.array_equal(frame.image, np.asarray(original.convert("RGB")))


def test_transparent_image_is_flattened_on_white(tmp_path: Path) -> None:
    rgba = np.zeros((50, 100, 4), dtype=np.uint8)  # fully transparent black...
    rgba[20:30, 10:90] = (0, 0, 0, 255)  # ...with an opaque black bar
    path = tmp_path / "transparent.png"
    Image.fromarray(rgba, "RGBA").save(path)
    (frame,) = extract_frames(path, MediaType.IMAGE)
    assert frame.image[0, 0].tolist() == [255, 255, 255]
    assert frame.image[25, 50].tolist() == [0, 0, 0]


def test_image_exif_orientation_and_max_side(tmp_path: Path) -> None:
    path = make_text_image(tmp_path / "text.png", size=(400, 100))
    rotated = tmp_path / "rotated.jpg"
    with Image.open(path) as image:
        exif = Image.Exif()
        exif[0x0112] = 6
        image.save(rotated, exif=exif)
    (frame,) = extract_frames(rotated, MediaType.IMAGE)
    assert frame.image.shape == (400, 100, 3)
    (small,) = extract_frames(rotated, MediaType.IMAGE, max_side=200)
    assert small.image.shape == (200, 50, 3)


@needs_espeak
def test_audio_has_no_frames(tmp_path: Path) -> None:
    assert extract_frames(make_speech_audio(tmp_path / "s.mp3"), MediaType.AUDIO) == []


def test_unknown_media_type_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="unknown"):
        extract_frames(tmp_path / "whatever.bin", MediaType.UNKNOWN)


def test_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="max_frames"):
        extract_frames(tmp_path / "x.png", MediaType.IMAGE, max_frames=0)
    with pytest.raises(ValueError, match="interval_s"):
        extract_frames(tmp_path / "x.png", MediaType.IMAGE, interval_s=0)
