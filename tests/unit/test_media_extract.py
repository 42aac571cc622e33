"""Audio extraction (16 kHz mono WAV) and frame sampling (every shot, spans, budget)."""

from __future__ import annotations

import itertools
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
from mediaflow.media.frames import SamplingPolicy, extract_frames, sample_frames
from mediaflow.media.probe import probe
from mediaflow.media.types import Frame
from tests.markers import needs_espeak
from tests.media_factory import (
    SECOND_SCENE_COLOUR,
    SPEECH_SENTENCE,
    VIDEO_SENTENCE,
    VIDEO_SPEECH_WPM,
    WHITE,
    Shot,
    VideoInfo,
    make_fade_in_video,
    make_slides_video,
    make_speech_audio,
    make_static_video,
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


def test_every_shot_is_seen_with_spans_that_tile_the_video(speech_video: VideoInfo) -> None:
    sample = sample_frames(speech_video.path, MediaType.VIDEO)
    frames = sample.frames
    _is_frame_list(frames)
    cut = speech_video.cut_times_s[0]
    # one shot per cut, each with its keyframe
    assert [(s.index, s.start_s) for s in sample.shots] == [
        (0, 0.0),
        (1, pytest.approx(cut, abs=0.041)),
    ]
    assert sample.shots[-1].end_s == pytest.approx(speech_video.duration_s, abs=0.05)
    assert not _is_second_scene(sample.shots[0].keyframe.image)
    assert _is_second_scene(sample.shots[1].keyframe.image)
    # the analysed frames stand for spans that tile the whole video, in order
    assert frames[0].start_s == 0.0
    assert frames[-1].end_s == pytest.approx(speech_video.duration_s, abs=0.05)
    for before, after in itertools.pairwise(frames):
        assert before.end_s == after.start_s
    for frame in frames:
        assert frame.start_s is not None and frame.end_s is not None
        assert frame.start_s <= frame.timestamp_s <= frame.end_s
        assert frame.shot is not None
    # a frame of the second shot shows it; none before the cut does
    assert all(_is_second_scene(f.image) == (f.start_s >= cut - 1e-6) for f in frames)
    assert frames[0].image.shape == (360, 640, 3)
    assert sample.details == {
        "frames": len(frames), "sampled": sample.sampled, "shots": 2, "decoded": sample.decoded,
    }  # fmt: skip


def test_frame_index_matches_time(speech_video: VideoInfo) -> None:
    for frame in extract_frames(speech_video.path, MediaType.VIDEO):
        assert frame.index == round(frame.timestamp_s * speech_video.fps)


def test_a_fade_in_shot_gets_a_visible_keyframe(tmp_path: Path) -> None:
    path = make_fade_in_video(tmp_path / "fade.mp4", first_s=2.0, fade_s=1.0, hold_s=3.0)
    sample = sample_frames(path, MediaType.VIDEO)
    assert [s.start_s for s in sample.shots] == [0.0, pytest.approx(2.0, abs=0.05)]
    faded = sample.shots[1]
    # the cut opens on black: the keyframe is the sharpest frame of the shot's start
    assert faded.keyframe.image.mean() > 150, faded.keyframe.timestamp_s
    assert faded.keyframe.timestamp_s > faded.start_s


def test_a_fade_in_in_key_frame_only_mode_is_looked_at_again(tmp_path: Path) -> None:
    # long GOPs: the only key frame in the shot's opening is the black one at the cut
    path = make_fade_in_video(tmp_path / "fade.mp4", first_s=2.0, fade_s=1.0, hold_s=6.0)
    policy = SamplingPolicy(keyframes_only_after_s=0.0)
    sample = sample_frames(path, MediaType.VIDEO, policy)
    faded = [s for s in sample.shots if s.start_s >= 1.9]
    assert faded and faded[0].keyframe.image.mean() > 150


def test_a_static_shot_is_analysed_once_for_its_whole_length(tmp_path: Path) -> None:
    path = make_static_video(tmp_path / "static.mp4", "STILL", duration_s=600, fps=1)
    sample = sample_frames(path, MediaType.VIDEO)
    # interval frames were sampled inside the long shot...
    assert sample.sampled >= 600 // 10 - 1
    # ...and all showed the same picture: one frame stands for the ten minutes
    (frame,) = sample.frames
    assert (frame.start_s, frame.end_s) == (0.0, pytest.approx(600.0, abs=1.0))
    assert len(sample.shots) == 1


def test_grain_is_not_a_new_picture_but_one_changed_character_is(tmp_path: Path) -> None:
    grainy = make_static_video(tmp_path / "grain.mp4", "STILL 1", duration_s=30, fps=5, noise=6)
    assert len(extract_frames(grainy, MediaType.VIDEO)) == 1
    digits = make_slides_video(tmp_path / "digits.mp4", ["SLIDE 1", "SLIDE 2", "SLIDE 3"], fps=5)
    frames = extract_frames(digits, MediaType.VIDEO)
    assert [f.start_s for f in frames] == pytest.approx([0.0, 3.0, 6.0], abs=0.21)


def test_slides_give_one_frame_each(tmp_path: Path) -> None:
    texts = ["ALPHA", "BRAVO", "CHARLIE", "DELTA"]
    path = make_slides_video(tmp_path / "slides.mp4", texts, slide_s=3.0, fps=5)
    frames = extract_frames(path, MediaType.VIDEO)
    assert [(f.start_s, f.end_s) for f in frames] == [
        (pytest.approx(3.0 * i, abs=0.21), pytest.approx(3.0 * (i + 1), abs=0.21))
        for i in range(len(texts))
    ]


def test_the_budget_grows_with_the_duration_and_keeps_every_shot(tmp_path: Path) -> None:
    assert SamplingPolicy(min_frames=30, frames_per_hour=720).budget(60) == 30
    assert SamplingPolicy(min_frames=30, frames_per_hour=720).budget(3600) == 720
    assert SamplingPolicy(min_frames=30, frames_per_hour=720).budget(7200) == 1440
    colours = [
        (200, 30, 30),
        (30, 200, 30),
        (30, 30, 200),
        (200, 200, 30),
        (30, 200, 200),
        (90, 90, 90),
    ]
    shots = [Shot(12.0, colour, f"SHOT {i}", WHITE) for i, colour in enumerate(colours)]
    path = make_video(tmp_path / "shots.mp4", shots, fps=2, size=(320, 180)).path
    # interval frames every 2 s would be 36; a budget of 8 keeps the 6 shots first
    policy = SamplingPolicy(interval_s=2.0, min_frames=8, frames_per_hour=1)
    sample = sample_frames(path, MediaType.VIDEO, policy)
    assert sample.sampled == 8
    assert len({f.shot for f in sample.frames}) == 6
    tight = sample_frames(
        path, MediaType.VIDEO, SamplingPolicy(interval_s=2.0, min_frames=3, frames_per_hour=1)
    )
    assert len(tight.frames) <= 3 and tight.frames[0].start_s == 0.0
    assert tight.frames[-1].end_s == pytest.approx(72.0, abs=0.6)


def test_frames_are_held_small(speech_video: VideoInfo) -> None:
    frames = extract_frames(speech_video.path, MediaType.VIDEO)
    for frame in frames:
        assert frame.encoded is not None and len(frame.encoded) < frame.image.nbytes / 4


def test_max_side_downscales(speech_video: VideoInfo) -> None:
    frames = extract_frames(speech_video.path, MediaType.VIDEO, SamplingPolicy(max_side=320))
    assert {f.image.shape for f in frames} == {(180, 320, 3)}
    assert {(f.width, f.height) for f in frames} == {(320, 180)}


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
def test_containers(tmp_path: Path, name: str, codec: str) -> None:
    info = make_two_shot_video(tmp_path / name, video_codec=codec)
    sample = sample_frames(info.path, MediaType.VIDEO)
    _is_frame_list(sample.frames)
    assert [s.start_s for s in sample.shots] == pytest.approx([0.0, info.cut_times_s[0]], abs=0.041)
    second = [f for f in sample.frames if f.start_s >= info.cut_times_s[0] - 1e-6]
    first = [f for f in sample.frames if f.start_s < info.cut_times_s[0] - 1e-6]
    assert second and first
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
    (small,) = extract_frames(rotated, MediaType.IMAGE, SamplingPolicy(max_side=200))
    assert small.image.shape == (200, 50, 3)


@needs_espeak
def test_audio_has_no_frames(tmp_path: Path) -> None:
    assert extract_frames(make_speech_audio(tmp_path / "s.mp3"), MediaType.AUDIO) == []


def test_unknown_media_type_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="unknown"):
        extract_frames(tmp_path / "whatever.bin", MediaType.UNKNOWN)


def test_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="min_frames"):
        extract_frames(tmp_path / "x.png", MediaType.IMAGE, SamplingPolicy(min_frames=0))
    with pytest.raises(ValueError, match="interval_s"):
        extract_frames(tmp_path / "x.png", MediaType.IMAGE, SamplingPolicy(interval_s=0))
