"""One decode pass gives what decode_audio, sample_frames and PySceneDetect give apart."""

from __future__ import annotations

import subprocess
import sys
import wave
from pathlib import Path

import numpy as np
import pytest

from mediaflow.config import Settings
from mediaflow.db.enums import MediaType
from mediaflow.errors import InvalidInput
from mediaflow.media.audio import decode_audio
from mediaflow.media.frames import SamplingPolicy, sample_frames
from mediaflow.media.onepass import decode_pass
from mediaflow.providers.analysis.scenes import SceneDetectProvider
from mediaflow.providers.base import MediaInput
from tests.media_factory import (
    SECOND_SCENE_COLOUR,
    WHITE,
    Shot,
    make_fade_in_video,
    make_two_shot_video,
    make_video,
)

SHOTS = [Shot(1.5, WHITE, "ONE"), Shot(1.5, SECOND_SCENE_COLOUR, "TWO"), Shot(1.5, WHITE, "3")]


def _tone(path: Path, seconds: float, rate: int = 22050) -> Path:
    t = np.arange(int(seconds * rate)) / rate
    samples = (0.3 * np.sin(2 * np.pi * 440 * t) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(samples.tobytes())
    return path


def _frames(sample: object) -> list[tuple[object, ...]]:
    frames = getattr(sample, "frames", [])
    return [(f.index, f.timestamp_s, f.start_s, f.end_s, f.shot) for f in frames]


@pytest.fixture(scope="module")
def talk(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("onepass")
    wav = _tone(work / "tone.wav", 4.5)
    return make_video(work / "talk.mp4", SHOTS, audio_wav=wav).path


def test_one_pass_equals_the_separate_passes(talk: Path, tmp_path: Path) -> None:
    policy = SamplingPolicy()
    provider = SceneDetectProvider(Settings())
    observer = provider.frame_observer()

    result = decode_pass(talk, dest_wav=tmp_path / "one.wav", policy=policy, observers=[observer])

    assert result.audio_error is None and result.video_error is None
    apart = decode_audio(talk, tmp_path / "apart.wav")
    assert apart is not None and result.audio is not None
    assert result.audio.path.read_bytes() == apart.path.read_bytes()
    sample = sample_frames(talk, MediaType.VIDEO, policy)
    assert result.sample is not None
    assert _frames(result.sample) == _frames(sample)
    assert len(result.sample.shots) == len(sample.shots) == 3
    assert result.sample.decoded == sample.decoded
    # the scenes PySceneDetect finds decoding the file itself, from the frames it was shown
    media = MediaInput(path=talk, media_type=MediaType.VIDEO)
    own = provider._analyze(media, None)[0].result
    shown = provider._analyze(
        MediaInput(path=talk, media_type=MediaType.VIDEO, observed={provider.name: observer}),
        None,
    )[0].result
    assert shown == own
    assert shown["cuts"] == pytest.approx([1.5, 3.0], abs=0.1)
    # each stream's own time is counted apart from the shared reading of packets
    assert result.audio_s > 0 and result.video_s > result.observers_s > 0
    assert result.packets > 0


def test_key_frame_mode_with_an_observer_samples_the_same_frames(tmp_path: Path) -> None:
    path = make_fade_in_video(tmp_path / "fade.mp4", first_s=2.0, fade_s=1.0, hold_s=6.0)
    policy = SamplingPolicy(keyframes_only_after_s=0.0)
    observer = SceneDetectProvider(Settings()).frame_observer()
    result = decode_pass(path, dest_wav=None, policy=policy, observers=[observer])
    alone = sample_frames(path, MediaType.VIDEO, policy)
    assert result.sample is not None
    assert _frames(result.sample) == _frames(alone)
    # the observer saw every frame, not only the key frames the sampler was shown
    assert observer.frames == 225
    assert result.sample.decoded < observer.frames


def test_only_what_is_wanted_is_decoded(tmp_path: Path, talk: Path) -> None:
    silent = make_two_shot_video(tmp_path / "silent.mp4", shot_s=0.5).path
    result = decode_pass(silent, dest_wav=tmp_path / "a.wav", policy=SamplingPolicy())
    assert result.audio is None and result.audio_error is None  # no audio stream
    assert result.sample is not None and result.sample.frames
    assert not (tmp_path / "a.wav").exists()

    audio_only = decode_pass(talk, dest_wav=tmp_path / "b.wav", policy=None)
    assert audio_only.sample is None and audio_only.audio is not None


def test_a_broken_stream_fails_alone(tmp_path: Path, talk: Path) -> None:
    # every audio packet zeroed: the audio cannot decode, the video still can
    data = bytearray(talk.read_bytes())
    import av

    with av.open(str(talk)) as container:
        spans = [
            (p.pos, p.size)
            for p in container.demux(container.streams.audio[0])
            if p.size and p.pos is not None
        ]
    for pos, size in spans:
        data[pos : pos + size] = bytes(size)
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(bytes(data))

    result = decode_pass(broken, dest_wav=tmp_path / "x.wav", policy=SamplingPolicy())

    assert isinstance(result.audio_error, InvalidInput)
    assert "audio" in str(result.audio_error)
    assert result.video_error is None and result.sample is not None and result.sample.frames
    assert not (tmp_path / "x.wav").exists() and not (tmp_path / "x.wav.part").exists()


def test_a_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="no such file"):
        decode_pass(tmp_path / "gone.mp4", dest_wav=tmp_path / "a.wav", policy=SamplingPolicy())


def test_scene_detection_keeps_ffmpeg_quiet(talk: Path, tmp_path: Path) -> None:
    # PySceneDetect's VideoStreamAv hands FFmpeg's logging back to stderr unless told
    # not to; after the provider ran, a broken file must still decode silently.
    garbage = tmp_path / "garbage.mp4"
    data = bytearray(talk.read_bytes())
    data[len(data) // 3 : len(data) // 3 + 4096] = bytes(range(256)) * 16
    garbage.write_bytes(bytes(data))
    script = f"""
import av
from mediaflow.config import Settings
from mediaflow.db.enums import MediaType
from mediaflow.providers.analysis.scenes import SceneDetectProvider
from mediaflow.providers.base import MediaInput
from pathlib import Path
SceneDetectProvider(Settings())._analyze(MediaInput(Path({str(talk)!r}), MediaType.VIDEO), None)
with av.open({str(garbage)!r}) as container:
    for packet in container.demux():
        try:
            packet.decode()
        except av.error.FFmpegError:
            pass
"""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""


class _Broken:
    """An observer with a bug half way through the file."""

    def __init__(self) -> None:
        self.seen = 0

    def start(self, stream: object) -> None:
        pass

    def add(self, frame: object) -> None:
        self.seen += 1
        if self.seen == 10:
            raise RuntimeError("observer bug")

    def finish(self) -> None:
        raise AssertionError("a dropped observer is not finished")


def test_an_observer_that_breaks_is_dropped_and_the_pass_goes_on(talk: Path) -> None:
    broken = _Broken()
    scenes = SceneDetectProvider(Settings()).frame_observer()
    result = decode_pass(talk, dest_wav=None, policy=SamplingPolicy(), observers=[broken, scenes])
    assert broken.seen == 10
    assert result.observers == [scenes] and scenes.frames > 10
    assert result.video_error is None and result.sample is not None and result.sample.frames
