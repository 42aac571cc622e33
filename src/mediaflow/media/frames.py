"""Frames for the visual providers: the whole image, or every shot of a video seen.

A video is read front to back once (key frames only past ``keyframes_only_after_s``,
where encoders put key frames at cuts) and sampled from its content:

- **shots**: consecutive frames shrunk to 64x36 RGB are compared by mean absolute
  difference; a jump over ``scene_threshold`` (0-255 scale) is a cut;
- **a keyframe per shot**: the sharpest frame (variance of the Laplacian of a 160x90
  grey copy) in the shot's first ``keyframe_window_s``, not simply its first frame: a
  fade-in starts black. In key-frame-only mode a shot whose best key frame is dark or
  blurred is looked at again, every frame of its opening decoded after a seek;
- **change frames**: inside a shot, a frame whose picture differs from the last one
  taken (in more than ``duplicate_fraction`` of its 8x8 blocks beyond compression
  noise; 0: in any block) and at least ``min_change_gap_s`` after it: a new slide
  without a cut, a changed bullet, a new caption;
- **interval frames** every ``interval_s`` inside a long shot;
- **a budget that grows with the duration** (``frames_per_hour``, at least
  ``min_frames``): over it, interval frames go first, then change frames (the one
  nearest the others first), then the keyframes of the shortest shots;
- **near-duplicates**: a frame that differs from the one before in no more than
  ``duplicate_fraction`` of its blocks is the same picture: it is dropped and the
  frame before stands for its span too.

Every frame stands for a span, and the spans tile the video: a provider's result per
frame is then a timeline. Frames are held JPEG-encoded (``Frame.image`` decodes), so
a long video's frames stay small in memory.
"""

from __future__ import annotations

import io
import logging
import math
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import av
import av.container
import av.error
import numpy as np
import numpy.typing as npt
from PIL import Image

from mediaflow.db.enums import MediaType
from mediaflow.errors import InvalidInput
from mediaflow.media.damage import StreamDamage
from mediaflow.media.detect import ffmpeg_reason, media_streams, open_container
from mediaflow.media.images import AnimationInfo, animation_frames, animation_info, load_rgb
from mediaflow.media.limits import DecodeLimits
from mediaflow.media.types import Frame, RGBImage, Shot

__all__ = [
    "DEFAULT_MAX_SIDE",
    "Frame",
    "FrameSample",
    "SamplingPolicy",
    "Shot",
    "extract_frames",
    "load_image_frame",
    "sample_frames",
    "thumbnail",
]

log = logging.getLogger(__name__)

# Frames are downscaled so that their longer side is at most this (OCR and face
# detection work well at 1080p; 4K frames would cost 25 MB each).
DEFAULT_MAX_SIDE = 1920
_THUMB = (64, 36)  # cut detection
_GREY = (320, 180)  # sharpness and near-duplicates
_MIN_SCENE_GAP_S = 0.5  # two cuts closer than this are one (flashes, fades)
_BLOCK = 8  # near-duplicates are compared block by block (8x8 grey pixels)
_BLOCK_CHANGE = 6.0  # mean grey levels a block may move by compression noise alone
_DULL = 20.0  # a keyframe this unsharp (dark, blurred, a fade) is looked for again
_JPEG_QUALITY = 95


@dataclass(frozen=True)
class SamplingPolicy:
    """How a video is sampled; the defaults suit talks, films and footage alike."""

    interval_s: float = 10.0
    frames_per_hour: int = 720
    min_frames: int = 30
    scene_threshold: float = 30.0
    keyframe_window_s: float = 2.0
    duplicate_fraction: float = 0.0
    min_change_gap_s: float = 1.0
    max_side: int | None = DEFAULT_MAX_SIDE
    keyframes_only_after_s: float | None = 600.0
    limits: DecodeLimits = field(default_factory=DecodeLimits)

    def budget(self, duration_s: float | None) -> int:
        """How many frames a video of ``duration_s`` gets at most."""
        if not duration_s:
            return self.min_frames
        return max(self.min_frames, math.ceil(self.frames_per_hour * duration_s / 3600))

    def check(self) -> None:
        """Refuse settings that cannot sample anything."""
        if self.interval_s <= 0:
            raise ValueError("interval_s must be positive")
        if self.min_frames < 1 or self.frames_per_hour < 1:
            raise ValueError("min_frames and frames_per_hour must be at least 1")
        if self.keyframe_window_s < 0 or not 0 <= self.duplicate_fraction < 1:
            raise ValueError("keyframe_window_s must be >= 0, duplicate_fraction in [0, 1)")


@dataclass
class FrameSample:
    """What sampling a file found: the frames to analyse, the shots, how much it looked at."""

    frames: list[Frame]
    shots: list[Shot] = field(default_factory=list)
    sampled: int = 0  # frames chosen before near-duplicates were folded
    decoded: int = 0  # frames decoded to choose them
    duration_s: float | None = None
    damage: StreamDamage | None = None

    @property
    def details(self) -> dict[str, object]:
        """What the frame-extraction log row says."""
        details: dict[str, object] = {
            "frames": len(self.frames),
            "sampled": self.sampled,
            "shots": len(self.shots),
            "decoded": self.decoded,
        }
        if self.damage is not None and self.damage.damaged:
            details["damage"] = self.damage.to_dict()
        return details


def sample_frames(
    path: str | os.PathLike[str], media_type: MediaType, policy: SamplingPolicy | None = None
) -> FrameSample:
    """The frames of an image or video to analyse, each with the span it stands for.

    - image: one frame (EXIF orientation applied, alpha flattened onto white), no span;
    - video: the shots' keyframes and interval frames, near-duplicates folded, spans
      tiling the video;
    - audio: nothing.

    Raises ``InvalidInput``/``UnsupportedMedia`` for files that cannot be decoded.
    """
    policy = policy or SamplingPolicy()
    policy.check()
    if media_type is MediaType.AUDIO:
        return FrameSample(frames=[])
    if media_type is MediaType.IMAGE:
        image = load_rgb(path, policy.limits, max_side=policy.max_side)
        frame = Frame(index=0, timestamp_s=0.0, image=image)
        return FrameSample(frames=[frame], sampled=1, decoded=1)
    if media_type is not MediaType.VIDEO:
        raise InvalidInput(f"cannot extract frames from media of type {media_type.value}")
    return _sample_video(Path(path), policy)


def extract_frames(
    path: str | os.PathLike[str], media_type: MediaType, policy: SamplingPolicy | None = None
) -> list[Frame]:
    """``sample_frames(...).frames``."""
    return sample_frames(path, media_type, policy).frames


# ----------------------------------------------------------------------------- images


def load_image_frame(
    path: str | os.PathLike[str], *, max_side: int | None = DEFAULT_MAX_SIDE
) -> Frame:
    """An image file as one frame (index 0 at 0.0 s), as ``sample_frames`` reads it."""
    return Frame(index=0, timestamp_s=0.0, image=load_rgb(path, DecodeLimits(), max_side=max_side))


# ----------------------------------------------------------------------------- pictures

Grey = npt.NDArray[np.float32]


def _to_rgb(frame: av.VideoFrame, max_side: int | None) -> RGBImage:
    """The frame as a contiguous RGB array, scaled down to ``max_side`` and upright."""
    width, height = frame.width, frame.height
    if max_side is not None and max(width, height) > max_side:
        scale = max_side / max(width, height)
        # Even sizes keep chroma-subsampled scaling exact.
        width = max(2, round(width * scale / 2) * 2)
        height = max(2, round(height * scale / 2) * 2)
        array = frame.to_ndarray(format="rgb24", width=width, height=height, interpolation="AREA")
    else:
        array = frame.to_ndarray(format="rgb24")
    return _upright(array, frame)


def _upright(array: npt.NDArray[Any], frame: av.VideoFrame) -> npt.NDArray[np.uint8]:
    rotation = round(frame.rotation / 90.0) % 4
    if rotation:
        # frame.rotation is counterclockwise, as is np.rot90 with a positive k.
        array = np.rot90(array, k=rotation)
    return np.ascontiguousarray(array, dtype=np.uint8)


def _thumb(frame: av.VideoFrame) -> npt.NDArray[np.int16]:
    # int16 so that differences do not wrap around.
    small = frame.to_ndarray(
        format="rgb24", width=_THUMB[0], height=_THUMB[1], interpolation="AREA"
    )
    return small.astype(np.int16)


def _grey(frame: av.VideoFrame) -> Grey:
    small = frame.to_ndarray(format="gray", width=_GREY[0], height=_GREY[1], interpolation="AREA")
    return small.astype(np.float32)


def sharpness(grey: Grey) -> float:
    """Variance of the Laplacian: high for crisp detail, near 0 for black or blurred."""
    lap = grey[:-2, 1:-1] + grey[2:, 1:-1] + grey[1:-1, :-2] + grey[1:-1, 2:] - 4 * grey[1:-1, 1:-1]
    return float(lap.var())


def same_picture(a: Grey, b: Grey, fraction: float) -> bool:
    """True when under ``fraction`` of the 8x8 blocks changed by more than compression noise.

    Blocks, not pixels: a changed digit on a slide moves one block a lot, while noise
    moves every pixel a little; the mean per block tells them apart.
    """
    if a.shape != b.shape:
        return False
    rows, cols = a.shape[0] // _BLOCK, a.shape[1] // _BLOCK
    diff = np.abs(a[: rows * _BLOCK, : cols * _BLOCK] - b[: rows * _BLOCK, : cols * _BLOCK])
    blocks = diff.reshape(rows, _BLOCK, cols, _BLOCK).mean(axis=(1, 3))
    changed = int(np.count_nonzero(blocks > _BLOCK_CHANGE))
    return bool(changed <= fraction * blocks.size)


def _encode(image: RGBImage, quality: int = _JPEG_QUALITY) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def thumbnail(frame: Frame, width: int = 320) -> tuple[bytes, tuple[int, int]]:
    """A small JPEG of ``frame`` (``width`` pixels wide at most) and its size."""
    picture = Image.fromarray(frame.image)
    picture.thumbnail((width, width), Image.Resampling.LANCZOS)
    return _encode(np.asarray(picture), quality=80), picture.size


# ----------------------------------------------------------------------------- videos


@dataclass
class _Pick:
    """A frame chosen while decoding: its picture (encoded), grey copy and role."""

    time_s: float
    index: int
    encoded: bytes
    size: tuple[int, int]
    grey: Grey
    shot: int
    kind: str  # "key", "change" or "interval"
    sharpness: float = 0.0


@dataclass
class _ShotState:
    index: int
    start_s: float
    best: tuple[float, float, int, RGBImage, Grey] | None = None  # sharpness, t, i, rgb, grey
    next_interval_s: float = math.inf


def _frame_time(frame: av.VideoFrame, start: float, count: int, fps: float | None) -> float:
    """Seconds since the start of the file (frames without pts: counted at ``fps``)."""
    if frame.time is not None:
        return max(0.0, frame.time - start)
    return count / fps if fps else 0.0


class _Sampler:
    """Decodes a video front to back once and picks its frames (see the module doc)."""

    def __init__(self, policy: SamplingPolicy, fps: float | None, keyframes_only: bool) -> None:
        self.policy = policy
        self.fps = fps
        self.keyframes_only = keyframes_only
        self.picks: list[_Pick] = []
        self.shot_starts: list[float] = []
        self.shot: _ShotState | None = None
        self.previous: npt.NDArray[np.int16] | None = None
        self.last_cut = -math.inf
        self.decoded = 0
        self.last_time = 0.0

    def add(self, frame: av.VideoFrame, t: float, index: int) -> None:
        self.decoded += 1
        self.last_time = max(self.last_time, t)
        thumb = _thumb(frame)
        cut = (
            self.previous is not None
            and float(np.abs(thumb - self.previous).mean()) > self.policy.scene_threshold
            and t - self.last_cut >= _MIN_SCENE_GAP_S
        )
        self.previous = thumb
        if self.shot is None or cut:
            self._close_shot()
            self.last_cut = t if cut else self.last_cut
            self.shot = _ShotState(len(self.shot_starts), t)
            self.shot_starts.append(t)
            self.shot.next_interval_s = t + max(
                self.policy.interval_s, self.policy.keyframe_window_s
            )
        shot = self.shot
        grey = _grey(frame)
        if t <= shot.start_s + self.policy.keyframe_window_s + 1e-6:
            score = sharpness(grey)
            if shot.best is None or score > shot.best[0]:
                shot.best = (score, t, index, _to_rgb(frame, self.policy.max_side), grey)
            return
        if shot.best is not None:
            self._take_best()
        last = self.picks[-1] if self.picks else None
        changed = (
            last is not None
            and t - last.time_s >= self.policy.min_change_gap_s
            and not same_picture(last.grey, grey, self.policy.duplicate_fraction)
        )
        if changed or t + 1e-6 >= shot.next_interval_s:
            image = _to_rgb(frame, self.policy.max_side)
            self.picks.append(
                _Pick(t, index, _encode(image), (image.shape[1], image.shape[0]), grey,
                      shot.index, "change" if changed else "interval")
            )  # fmt: skip
            # the next interval frame is an interval after the last frame taken
            shot.next_interval_s = t + self.policy.interval_s

    def _take_best(self) -> None:
        shot = self.shot
        if shot is None or shot.best is None:
            return
        score, t, index, image, grey = shot.best
        shot.best = None
        self.picks.append(
            _Pick(t, index, _encode(image), (image.shape[1], image.shape[0]), grey, shot.index,
                  "key", score)
        )  # fmt: skip

    def _close_shot(self) -> None:
        self._take_best()

    def finish(self) -> None:
        self._close_shot()


def _sample_video(path: Path, policy: SamplingPolicy) -> FrameSample:
    animation = animation_info(path)
    if animation is not None:
        return _sample_animation(path, policy, animation)
    with open_container(path) as container:
        video, _ = media_streams(container)
        if not video:
            return FrameSample(frames=[])
        stream = video[0]
        # Frame threading: several frames decode in parallel; big win on H.264/HEVC.
        stream.thread_type = "AUTO"
        duration = container.duration / 1_000_000 if container.duration else None
        start = container.start_time / 1_000_000 if container.start_time else 0.0
        fps = float(stream.average_rate or stream.guessed_rate or 0) or None
        keyframes_only = (
            policy.keyframes_only_after_s is not None
            and duration is not None
            and duration > policy.keyframes_only_after_s
        )
        sampler = _Sampler(policy, fps, keyframes_only)
        damage = StreamDamage("video", _codec(stream), stream.index)
        try:
            _decode(container, stream, sampler, start, fps, damage=damage)
            if keyframes_only:
                _sharpen_dull_keys(container, stream, sampler, start, fps)
        except av.error.FFmpegError as exc:
            raise InvalidInput(f"cannot read video frames: {ffmpeg_reason(exc)}") from exc
    if not sampler.picks:
        raise InvalidInput("truncated or corrupt video: no decodable video frame")
    damage.check(policy.limits.max_undecodable_fraction)
    if damage.damaged:
        log.warning("%s: %s", path.name, damage.summary())
    end = max(duration or 0.0, sampler.last_time)
    sample = _assemble(sampler, policy, end)
    sample.damage = damage
    return sample


def _sample_animation(path: Path, policy: SamplingPolicy, info: AnimationInfo) -> FrameSample:
    """An animated GIF/WebP/PNG sampled as a video: its frames go through the same
    sampler (cuts, keyframes, changes), converted to video frames one at a time."""
    fps = info.fps or None
    sampler = _Sampler(policy, fps, keyframes_only=False)
    for index, (t, picture) in enumerate(animation_frames(path, policy.limits)):
        frame = av.VideoFrame.from_ndarray(_even(picture), format="rgb24")
        sampler.add(frame, t, index)
    sampler.finish()
    if not sampler.picks:
        raise InvalidInput("truncated or corrupt animation: no frame")
    return _assemble(sampler, policy, max(info.duration_s, sampler.last_time))


def _even(picture: RGBImage) -> RGBImage:
    """Even width and height (the sampler scales frames; odd chroma sizes round badly)."""
    height, width = picture.shape[:2]
    if (height % 2 == 0 and width % 2 == 0) or min(height, width) < 2:
        return picture
    return np.ascontiguousarray(picture[: height - height % 2, : width - width % 2])


def _codec(stream: av.VideoStream) -> str:
    try:
        return str(stream.codec.canonical_name)
    except (AttributeError, av.error.FFmpegError):
        return "unknown"


def _decode(
    container: av.container.InputContainer,
    stream: av.VideoStream,
    sampler: _Sampler,
    start: float,
    fps: float | None,
    *,
    damage: StreamDamage,
) -> None:
    if sampler.keyframes_only:
        stream.codec_context.skip_frame = "NONKEY"
    count = 0
    for packet in container.demux(stream):
        if packet.size:
            damage.packet()
        try:
            frames = stream.decode(packet)
        except av.error.FFmpegError as exc:
            # One damaged packet should not lose the rest of the video.
            when = (
                max(0.0, float(packet.pts * packet.time_base) - start)
                if packet.pts is not None and packet.time_base is not None
                else None
            )
            damage.bad(when, ffmpeg_reason(exc))
            log.debug("skipping undecodable video packet: %s", ffmpeg_reason(exc))
            continue
        for frame in frames:
            t = _frame_time(frame, start, count, fps)
            index = round(t * fps) if (sampler.keyframes_only and fps) else count
            count += 1
            sampler.add(frame, t, index)
    sampler.finish()


def _sharpen_dull_keys(
    container: av.container.InputContainer,
    stream: av.VideoStream,
    sampler: _Sampler,
    start: float,
    fps: float | None,
) -> None:
    """Key-frame-only decoding saw one frame per shot opening: look again at dull ones.

    A shot that opens on a fade or a dark frame gets every frame of its first
    ``keyframe_window_s`` decoded (after a seek) and its sharpest one instead.
    """
    if stream.time_base is None:
        return
    stream.codec_context.skip_frame = "DEFAULT"
    window = sampler.policy.keyframe_window_s
    for position, pick in enumerate(sampler.picks):
        if pick.kind != "key" or pick.sharpness >= _DULL:
            continue
        shot_start = sampler.shot_starts[pick.shot]
        offset = (stream.start_time or 0) + int(shot_start / stream.time_base)
        container.seek(offset, stream=stream, backward=True)
        best_score = pick.sharpness
        best: tuple[float, RGBImage, Grey] | None = None
        for count, frame in enumerate(container.decode(stream)):
            t = _frame_time(frame, start, count, fps)
            if t < shot_start - 1e-6:
                continue
            if t > shot_start + window + 1e-6:
                break
            grey = _grey(frame)
            score = sharpness(grey)
            if score > best_score:
                best_score, best = score, (t, _to_rgb(frame, sampler.policy.max_side), grey)
        if best is not None:
            t, image, grey = best
            score = best_score
            sampler.picks[position] = replace(
                pick, time_s=t, index=round(t * fps) if fps else pick.index,
                encoded=_encode(image), size=(image.shape[1], image.shape[0]), grey=grey,
                sharpness=score,
            )  # fmt: skip


def _farthest_first(chosen: list[_Pick], candidates: list[_Pick], budget: int) -> None:
    """Add ``candidates`` to ``chosen`` up to ``budget``, each time the one farthest from all.

    The frame furthest from every chosen one fills the largest gap, so the kept frames
    cover the whole video evenly.
    """
    left = list(candidates)
    while left and len(chosen) < budget:
        times = [p.time_s for p in chosen]
        best = max(left, key=lambda p: min(abs(p.time_s - t) for t in times))
        chosen.append(best)
        left.remove(best)


def _within_budget(picks: list[_Pick], budget: int, shot_length: dict[int, float]) -> list[_Pick]:
    """Every shot's keyframe, then change frames, then interval frames; or the longest shots."""
    if len(picks) <= budget:
        return picks
    keys = [p for p in picks if p.kind == "key"]
    if len(keys) >= budget:
        # more shots than frames: the longest shots keep theirs (the first always does)
        ranked = sorted(keys[1:], key=lambda p: -shot_length.get(p.shot, 0.0))
        kept = {id(keys[0])} | {id(p) for p in ranked[: budget - 1]}
        return [p for p in keys if id(p) in kept]
    chosen = list(keys)
    _farthest_first(chosen, [p for p in picks if p.kind == "change"], budget)
    _farthest_first(chosen, [p for p in picks if p.kind == "interval"], budget)
    return sorted(chosen, key=lambda p: p.time_s)


def _assemble(sampler: _Sampler, policy: SamplingPolicy, end_s: float) -> FrameSample:
    starts = sampler.shot_starts
    shot_ends = [*starts[1:], end_s]
    shot_length = {i: shot_ends[i] - starts[i] for i in range(len(starts))}
    picks = sorted(sampler.picks, key=lambda p: p.time_s)
    picks = _within_budget(picks, policy.budget(end_s), shot_length)
    sampled = len(picks)
    # a frame's span opens at its shot's start (a keyframe) or at its own time
    opens = [starts[p.shot] if p.kind == "key" else p.time_s for p in picks]
    kept: list[tuple[_Pick, float]] = []
    for pick, opening in zip(picks, opens, strict=True):
        if kept and same_picture(kept[-1][0].grey, pick.grey, policy.duplicate_fraction):
            continue  # the frame before stands for this one's span too
        kept.append((pick, opening))
    frames = []
    for position, (pick, opening) in enumerate(kept):
        closing = kept[position + 1][1] if position + 1 < len(kept) else end_s
        frames.append(
            Frame(
                pick.index, round(pick.time_s, 3), encoded=pick.encoded, size=pick.size,
                start_s=round(opening, 3), end_s=round(max(closing, opening), 3), shot=pick.shot,
            )
        )  # fmt: skip
    by_shot = {p.shot: p for p in sampler.picks if p.kind == "key"}
    shots = []
    for index, (begin, finish) in enumerate(zip(starts, shot_ends, strict=True)):
        key = by_shot.get(index)
        if key is None:
            continue
        keyframe = Frame(
            key.index, round(key.time_s, 3), encoded=key.encoded, size=key.size,
            start_s=round(begin, 3), end_s=round(finish, 3), shot=index,
        )  # fmt: skip
        shots.append(
            Shot(index, round(begin, 3), round(finish, 3), keyframe, round(key.sharpness, 2))
        )
    return FrameSample(
        frames=frames, shots=shots, sampled=sampled, decoded=sampler.decoded, duration_s=end_s
    )
