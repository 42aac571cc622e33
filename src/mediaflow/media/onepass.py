"""One demux pass over an audio or video file: its 16 kHz WAV, its frames, every observer.

``decode_audio`` and ``sample_frames`` each open the file and demux all of it; with a
frame-hungry provider (scene detection) a video was read three times. ``decode_pass``
opens it once and sends each packet to the decoder of its stream:

- the first audio stream becomes the 16 kHz mono WAV, exactly as ``decode_audio``
  writes it (lead padding, damage counting, the same errors);
- the first video stream goes through the frame sampler of ``sample_frames`` (shots,
  keyframes, change and interval frames, the same budget), key frames only past
  ``keyframes_only_after_s`` unless an observer needs every frame;
- every decoded video frame is shown to the ``observers`` (``FrameObserver``): scene
  detection computes its scene-change scores here instead of decoding the file again.

Each stream's own work is timed apart (``DecodePass.audio_s``, ``video_s``, and the
reading of packets shared by both, ``demux_s``), so the pipeline can log each stage's
own duration. A stream's failure is kept on the result (``audio_error``,
``video_error``), not raised, so that each stage reports its own outcome.
"""

from __future__ import annotations

import logging
import os
import time
import wave
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar

import av
import av.container
import av.error

from mediaflow.errors import InvalidInput
from mediaflow.media.audio import TARGET_SAMPLE_RATE, AudioTrack, _packet_time, _pad_lead, _write
from mediaflow.media.damage import StreamDamage
from mediaflow.media.detect import ffmpeg_reason, media_streams, open_container
from mediaflow.media.frames import (
    FrameSample,
    SamplingPolicy,
    _assemble,
    _frame_time,
    _Sampler,
    _sharpen_dull_keys,
)

__all__ = ["DecodePass", "FrameObserver", "decode_pass"]

log = logging.getLogger(__name__)


_FrameT_co = TypeVar("_FrameT_co", covariant=True)


class _Decoder(Protocol[_FrameT_co]):
    def decode(self, packet: av.Packet[Any] | None = None) -> Sequence[_FrameT_co]: ...


def _decode(
    stream: _Decoder[_FrameT_co], packet: av.Packet[Any], damage: StreamDamage, start: float
) -> Sequence[_FrameT_co]:
    """The frames of ``packet``, counted in ``damage``; none for a packet that cannot be
    decoded (recorded as damage: one damaged packet should not lose the rest of the stream)."""
    if packet.size:
        damage.packet()
    try:
        return stream.decode(packet)
    except av.error.FFmpegError as exc:
        damage.bad(_packet_time(packet, start), ffmpeg_reason(exc))
        log.debug("skipping undecodable %s packet: %s", damage.kind, ffmpeg_reason(exc))
        return []


class FrameObserver(Protocol):
    """Looks at every decoded frame of a video's first stream, in presentation order."""

    def start(self, stream: av.VideoStream) -> None:
        """Called once, before the first frame."""
        ...

    def add(self, frame: av.VideoFrame) -> None:
        """One decoded frame."""
        ...

    def finish(self) -> None:
        """Called once, after the last frame."""
        ...


@dataclass
class DecodePass:
    """What one pass over a file produced, and what each part of it cost."""

    audio: AudioTrack | None = None
    audio_error: BaseException | None = None
    sample: FrameSample | None = None
    video_error: BaseException | None = None
    audio_s: float = 0.0  # audio decode, resampling, WAV writing
    video_s: float = 0.0  # video decode, sampling, observers
    observers_s: float = 0.0  # of video_s: the observers' own share
    demux_s: float = 0.0  # opening the file and reading its packets, shared
    packets: int = 0
    observers: list[FrameObserver] = field(default_factory=list)  # those that saw it all


class _AudioSink:
    """``decode_audio``'s work, fed one packet at a time."""

    def __init__(
        self, container: av.container.InputContainer, stream: av.AudioStream, dest: Path
    ) -> None:
        self.stream = stream
        self.dest = dest
        self.damage = StreamDamage("audio", _codec(stream), stream.index)
        self.start = container.start_time / 1_000_000 if container.start_time else 0.0
        self.resampler = av.AudioResampler(format="s16", layout="mono", rate=TARGET_SAMPLE_RATE)
        dest.parent.mkdir(parents=True, exist_ok=True)
        self.partial = dest.with_name(dest.name + ".part")
        self.wav = wave.open(str(self.partial), "wb")  # noqa: SIM115 - closed in finish/abort
        self.wav.setnchannels(1)
        self.wav.setsampwidth(2)
        self.wav.setframerate(TARGET_SAMPLE_RATE)
        self.got_audio = False
        self.samples = 0

    def feed(self, packet: av.Packet[Any]) -> None:
        for frame in _decode(self.stream, packet, self.damage, self.start):
            if not self.got_audio:
                self.got_audio = True
                self.samples += _pad_lead(self.wav, frame, self.start)
            for out in self.resampler.resample(frame):
                self.samples += _write(self.wav, out)

    def finish(self, limits_fraction: float) -> AudioTrack:
        try:
            for out in self.resampler.resample(None):
                self.samples += _write(self.wav, out)
            self.wav.close()
            if not self.got_audio:
                raise InvalidInput(
                    f"truncated or corrupt audio: nothing decodable in the "
                    f"{_codec(self.stream)} stream"
                )
            self.damage.check(limits_fraction)
            self.partial.replace(self.dest)
        finally:
            self.partial.unlink(missing_ok=True)
        return AudioTrack(self.dest, self.damage)

    def abort(self) -> None:
        try:
            self.wav.close()
        finally:
            self.partial.unlink(missing_ok=True)


class _Observers:
    """The observers of one pass; one that raises is dropped (``failed``) and the pass
    goes on: its provider then reads the file itself.

    They run on the decoding thread: a thread of their own deadlocked with FFmpeg's
    frame threads and PyAV's log callback, and decoding already keeps both CPUs busy.
    """

    def __init__(self, observers: Sequence[FrameObserver], stream: av.VideoStream) -> None:
        self.active = list(observers)
        self.failed: list[FrameObserver] = []
        self.busy_s = 0.0
        self._call("start", stream)

    def add(self, frame: av.VideoFrame) -> None:
        self._call("add", frame)

    def finish(self) -> None:
        self._call("finish")

    def _call(self, method: str, *args: Any) -> None:
        started = time.perf_counter()
        for observer in list(self.active):
            try:
                getattr(observer, method)(*args)
            except Exception:
                log.warning("frame observer %r failed; its provider reads the file itself",
                            observer, exc_info=True)  # fmt: skip
                self.active.remove(observer)
                self.failed.append(observer)
        self.busy_s += time.perf_counter() - started


class _VideoSink:
    """``sample_frames``' decoding of a video, fed one packet at a time."""

    def __init__(
        self,
        container: av.container.InputContainer,
        stream: av.VideoStream,
        policy: SamplingPolicy,
        observers: Sequence[FrameObserver],
    ) -> None:
        self.stream = stream
        self.observers = list(observers)
        # Frame threading: several frames decode in parallel; big win on H.264/HEVC.
        stream.thread_type = "AUTO"
        self.duration = container.duration / 1_000_000 if container.duration else None
        self.start = container.start_time / 1_000_000 if container.start_time else 0.0
        self.fps = float(stream.average_rate or stream.guessed_rate or 0) or None
        keyframes_only = (
            policy.keyframes_only_after_s is not None
            and self.duration is not None
            and self.duration > policy.keyframes_only_after_s
        )
        self.sampler = _Sampler(policy, self.fps, keyframes_only)
        # An observer needs every frame: then all are decoded and the sampler is shown
        # the key frames only, which is what skipping the others in the decoder gives it.
        if keyframes_only and not self.observers:
            stream.codec_context.skip_frame = "NONKEY"
        self.damage = StreamDamage("video", _codec(stream), stream.index)
        self.count = 0
        self.observers_s = 0.0
        self.failed_observers: list[FrameObserver] = []
        self.watching = _Observers(observers, stream) if observers else None

    def feed(self, packet: av.Packet[Any]) -> None:
        for frame in _decode(self.stream, packet, self.damage, self.start):
            if self.watching is not None:
                self.watching.add(frame)
            sampler = self.sampler
            if sampler.keyframes_only and self.observers and not frame.key_frame:
                continue
            t = _frame_time(frame, self.start, self.count, self.fps)
            index = round(t * self.fps) if (sampler.keyframes_only and self.fps) else self.count
            self.count += 1
            sampler.add(frame, t, index)

    def close_observers(self) -> None:
        """Wait for the observers to see the last frame (also when the pass failed)."""
        if self.watching is not None:
            watching, self.watching = self.watching, None
            watching.finish()
            self.observers_s = watching.busy_s
            self.failed_observers = watching.failed

    def finish(self, container: av.container.InputContainer, policy: SamplingPolicy) -> FrameSample:
        self.close_observers()
        sampler = self.sampler
        sampler.finish()
        if sampler.keyframes_only:
            try:
                _sharpen_dull_keys(container, self.stream, sampler, self.start, self.fps)
            except av.error.FFmpegError as exc:
                raise InvalidInput(f"cannot read video frames: {ffmpeg_reason(exc)}") from exc
        if not sampler.picks:
            raise InvalidInput("truncated or corrupt video: no decodable video frame")
        self.damage.check(policy.limits.max_undecodable_fraction)
        end = max(self.duration or 0.0, sampler.last_time)
        sample = _assemble(sampler, policy, end)
        sample.damage = self.damage
        return sample


def _codec(stream: av.VideoStream | av.AudioStream) -> str:
    try:
        return str(stream.codec.canonical_name)
    except (AttributeError, av.error.FFmpegError):
        return "unknown"


def decode_pass(
    path: str | os.PathLike[str],
    *,
    dest_wav: str | os.PathLike[str] | None,
    policy: SamplingPolicy | None = None,
    observers: Sequence[FrameObserver] = (),
) -> DecodePass:
    """Read ``path`` once: its WAV into ``dest_wav`` (None: no audio wanted), its frames
    sampled by ``policy`` (None: no frames wanted), each frame shown to ``observers``.

    For an audio or video file that PyAV reads (not an image or an animated image).
    Raises ``InvalidInput``/``UnsupportedMedia`` only when the file cannot be opened;
    what goes wrong with one stream is on the result, and the other stream still
    comes out.
    """
    result = DecodePass(observers=list(observers))
    opened = time.perf_counter()
    with open_container(path) as container:
        video, audio = media_streams(container)
        audio_sink = video_sink = None
        if dest_wav is not None and audio:
            started = time.perf_counter()
            audio_sink = _AudioSink(container, audio[0], Path(dest_wav))
            result.audio_s += time.perf_counter() - started
        if policy is not None and video:
            policy.check()
            started = time.perf_counter()
            video_sink = _VideoSink(container, video[0], policy, observers)
            result.video_s += time.perf_counter() - started
        try:
            _run(
                container, Path(path), result,
                audio_sink=audio_sink, video_sink=video_sink, policy=policy,
            )  # fmt: skip
        finally:  # also when something unexpected broke the pass: no thread, no .part left
            if audio_sink is not None:
                audio_sink.abort()
            if video_sink is not None:
                video_sink.close_observers()
                result.observers_s = video_sink.observers_s
                failed = video_sink.failed_observers
                result.observers = [o for o in result.observers if o not in failed]
    total = time.perf_counter() - opened
    result.demux_s = max(0.0, total - result.audio_s - result.video_s)
    return result


def _run(
    container: av.container.InputContainer,
    path: Path,
    result: DecodePass,
    *,
    audio_sink: _AudioSink | None,
    video_sink: _VideoSink | None,
    policy: SamplingPolicy | None,
) -> None:
    """Demux every packet once, then finish each stream; failures go on ``result``."""
    sinks: dict[int, _AudioSink | _VideoSink] = {}
    if audio_sink is not None:
        sinks[audio_sink.stream.index] = audio_sink
    if video_sink is not None:
        sinks[video_sink.stream.index] = video_sink
    try:
        if sinks:
            _demux(container, sinks, result)
    except av.error.FFmpegError as exc:
        failure = InvalidInput(f"cannot read the file: {ffmpeg_reason(exc)}")
        if audio_sink is not None:
            result.audio_error = failure
        if video_sink is not None:
            result.video_error = failure
    if audio_sink is not None:
        started = time.perf_counter()
        try:
            if result.audio_error is None:
                result.audio = audio_sink.finish(policy_fraction(policy))
                if result.audio.damage.damaged:
                    log.warning("%s: %s", path.name, result.audio.damage.summary())
        except InvalidInput as exc:
            result.audio_error = exc
        result.audio_s += time.perf_counter() - started
    if video_sink is not None:
        started = time.perf_counter()
        try:
            if result.video_error is None:
                assert policy is not None
                result.sample = video_sink.finish(container, policy)
                damage = result.sample.damage
                if damage is not None and damage.damaged:
                    log.warning("%s: %s", path.name, damage.summary())
        except InvalidInput as exc:
            result.video_error = exc
        result.video_s += time.perf_counter() - started


def policy_fraction(policy: SamplingPolicy | None) -> float:
    """The damage a stream may have: the policy's limits, else the default."""
    return (policy or SamplingPolicy()).limits.max_undecodable_fraction


def _demux(
    container: av.container.InputContainer,
    sinks: dict[int, _AudioSink | _VideoSink],
    result: DecodePass,
) -> None:
    streams = [sink.stream for sink in sinks.values()]
    clock = time.perf_counter
    spent = {index: 0.0 for index in sinks}
    for packet in container.demux(streams):
        sink = sinks.get(packet.stream.index)
        if sink is None:
            continue
        # an empty packet is the demuxer's end of a stream: decoding it flushes the
        # frames the decoder still holds, as decode_audio and sample_frames do
        result.packets += 1 if packet.size else 0
        started = clock()
        sink.feed(packet)
        spent[packet.stream.index] += clock() - started
    for index, seconds in spent.items():
        if isinstance(sinks[index], _AudioSink):
            result.audio_s += seconds
        else:
            result.video_s += seconds
