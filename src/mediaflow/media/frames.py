"""Frames for the visual providers: the whole image, or a sample of a video's frames.

A video is sampled two ways at once and the results merged:

- at a fixed interval (default every 2 s, always starting with the first frame), so
  that long static shots are covered;
- at scene changes: consecutive frames are shrunk to 64x36 RGB and compared by mean
  absolute difference; a jump over ``scene_threshold`` (0-255 scale) marks a cut and
  the first frame of the new shot is kept.

When there are more candidates than ``max_frames``, the first frame, the strongest
cuts (up to half the budget, rounded up), then the interval frames that best fill
the gaps between them, win.

Decoding: with scene detection on, every frame is decoded (frame-threaded), except
for videos longer than ``keyframes_only_after_s``, where only key frames are decoded
(encoders put key frames at cuts, so cuts are still found, roughly 10-50x faster).
With scene detection off, the decoder seeks to each sample time instead.
"""

from __future__ import annotations

import heapq
import logging
import math
import os
from dataclasses import dataclass
from pathlib import Path

import av
import av.container
import av.error
import numpy as np
import numpy.typing as npt
from PIL import Image, ImageOps

from mediaflow.db.enums import MediaType
from mediaflow.errors import InvalidInput
from mediaflow.media.detect import ffmpeg_reason, media_streams, open_container
from mediaflow.media.types import Frame, RGBImage

__all__ = [
    "DEFAULT_INTERVAL_S",
    "DEFAULT_MAX_FRAMES",
    "DEFAULT_MAX_SIDE",
    "DEFAULT_SCENE_THRESHOLD",
    "Frame",
    "extract_frames",
    "load_image_frame",
]

log = logging.getLogger(__name__)

DEFAULT_MAX_FRAMES = 30
DEFAULT_INTERVAL_S = 2.0
# Mean absolute RGB difference (0-255) between consecutive 64x36 thumbnails. Motion
# inside a shot stays well below 15; a hard cut between different shots is 40+.
DEFAULT_SCENE_THRESHOLD = 30.0
# Frames are downscaled so that their longer side is at most this (OCR and face
# detection work well at 1080p; 4K frames would cost 25 MB each).
DEFAULT_MAX_SIDE = 1920
DEFAULT_KEYFRAMES_ONLY_AFTER_S = 600.0

# Two cuts closer than this are one (flashes, fades): keep only the first.
_MIN_SCENE_GAP_S = 0.5
_THUMB_SIZE = (64, 36)


@dataclass
class _Candidate:
    time_s: float
    index: int
    image: RGBImage
    score: float  # cut strength; inf for the first frame, 0 for interval frames
    kind: str  # "first", "scene" or "interval"


def extract_frames(
    path: str | os.PathLike[str],
    media_type: MediaType,
    *,
    max_frames: int = DEFAULT_MAX_FRAMES,
    interval_s: float = DEFAULT_INTERVAL_S,
    scene_threshold: float | None = DEFAULT_SCENE_THRESHOLD,
    max_side: int | None = DEFAULT_MAX_SIDE,
    keyframes_only_after_s: float | None = DEFAULT_KEYFRAMES_ONLY_AFTER_S,
) -> list[Frame]:
    """Return RGB frames (H x W x 3 uint8) of an image or video, in time order.

    - image: one frame, index 0 at 0.0 s, EXIF orientation applied, alpha flattened
      onto white;
    - video: frames every ``interval_s`` seconds (widened when ``max_frames`` could
      not cover the whole video otherwise) plus the first frame of each detected
      shot, at most ``max_frames`` in all; ``scene_threshold=None`` turns scene
      detection off. Timestamps are seconds from the start of the file; ``index`` is
      the frame number in the video;
    - audio: no frames (an empty list).

    Frames larger than ``max_side`` on their longer side are scaled down; display
    rotation metadata (portrait phone video) is applied. Videos longer than
    ``keyframes_only_after_s`` decode key frames only (``None``: always every frame).
    Raises ``InvalidInput``/``UnsupportedMedia`` for files that cannot be decoded.
    """
    if max_frames < 1:
        raise ValueError("max_frames must be at least 1")
    if interval_s <= 0:
        raise ValueError("interval_s must be positive")
    if media_type is MediaType.AUDIO:
        return []
    if media_type is MediaType.IMAGE:
        return [load_image_frame(path, max_side=max_side)]
    if media_type is not MediaType.VIDEO:
        raise InvalidInput(f"cannot extract frames from media of type {media_type.value}")
    return _extract_video_frames(
        Path(path),
        max_frames=max_frames,
        interval_s=interval_s,
        scene_threshold=scene_threshold,
        max_side=max_side,
        keyframes_only_after_s=keyframes_only_after_s,
    )


# ----------------------------------------------------------------------------- images


def load_image_frame(
    path: str | os.PathLike[str], *, max_side: int | None = DEFAULT_MAX_SIDE
) -> Frame:
    """An image file as one frame (index 0 at 0.0 s), as ``extract_frames`` reads it."""
    return Frame(index=0, timestamp_s=0.0, image=_load_image(Path(path), max_side))


def _load_image(path: Path, max_side: int | None) -> RGBImage:
    try:
        with Image.open(path) as opened:
            opened.seek(0)  # first frame of an animated GIF/WebP
            image = ImageOps.exif_transpose(opened)
            if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
                # Transparent pixels often hide black RGB values: flatten onto white so
                # that dark text on a transparent background stays readable.
                rgba = image.convert("RGBA")
                background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
                image = Image.alpha_composite(background, rgba)
            image = image.convert("RGB")
            if max_side is not None and max(image.size) > max_side:
                image.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
            return np.asarray(image, dtype=np.uint8).copy()
    except FileNotFoundError as exc:
        raise InvalidInput(f"no such file: {path.name}") from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise InvalidInput(f"truncated or corrupt image: {exc}") from exc


# ----------------------------------------------------------------------------- videos


def _extract_video_frames(
    path: Path,
    *,
    max_frames: int,
    interval_s: float,
    scene_threshold: float | None,
    max_side: int | None,
    keyframes_only_after_s: float | None,
) -> list[Frame]:
    with open_container(path) as container:
        video, _ = media_streams(container)
        if not video:
            return []
        stream = video[0]
        # Frame threading: several frames decode in parallel; big win on H.264/HEVC.
        stream.thread_type = "AUTO"
        duration = container.duration / 1_000_000 if container.duration else None
        start = container.start_time / 1_000_000 if container.start_time else 0.0
        if duration is not None:
            # Interval frames alone must fit in the budget, so widen the interval on
            # long videos instead of dropping the end of the video.
            interval_s = max(interval_s, duration / max_frames)
        fps = float(stream.average_rate or stream.guessed_rate or 0) or None
        try:
            if scene_threshold is None and duration is not None:
                candidates = _sample_by_seeking(
                    container,
                    stream,
                    start=start,
                    duration=duration,
                    interval_s=interval_s,
                    fps=fps,
                    max_side=max_side,
                )
            else:
                keyframes_only = (
                    keyframes_only_after_s is not None
                    and duration is not None
                    and duration > keyframes_only_after_s
                )
                candidates = _sample_sequentially(
                    container,
                    stream,
                    start=start,
                    interval_s=interval_s,
                    scene_threshold=scene_threshold,
                    max_frames=max_frames,
                    fps=fps,
                    max_side=max_side,
                    keyframes_only=keyframes_only,
                )
        except av.error.FFmpegError as exc:
            raise InvalidInput(f"cannot read video frames: {ffmpeg_reason(exc)}") from exc
    if not candidates:
        raise InvalidInput("truncated or corrupt video: no decodable video frame")
    chosen = _select(candidates, max_frames)
    return [Frame(index=c.index, timestamp_s=round(c.time_s, 3), image=c.image) for c in chosen]


def _frame_time(frame: av.VideoFrame, start: float, count: int, fps: float | None) -> float:
    """Seconds since the start of the file (frames without pts: counted at ``fps``)."""
    if frame.time is not None:
        return max(0.0, frame.time - start)
    return count / fps if fps else 0.0


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
    rotation = round(frame.rotation / 90.0) % 4
    if rotation:
        # frame.rotation is counterclockwise, as is np.rot90 with a positive k.
        array = np.rot90(array, k=rotation)
    return np.ascontiguousarray(array, dtype=np.uint8)


def _thumb(frame: av.VideoFrame) -> npt.NDArray[np.int16]:
    # int16 so that differences do not wrap around.
    small = frame.to_ndarray(
        format="rgb24", width=_THUMB_SIZE[0], height=_THUMB_SIZE[1], interpolation="AREA"
    )
    return small.astype(np.int16)


def _sample_sequentially(
    container: av.container.InputContainer,
    stream: av.VideoStream,
    *,
    start: float,
    interval_s: float,
    scene_threshold: float | None,
    max_frames: int,
    fps: float | None,
    max_side: int | None,
    keyframes_only: bool,
) -> list[_Candidate]:
    """Decode the video front to back, keeping interval frames and scene cuts."""
    if keyframes_only:
        stream.codec_context.skip_frame = "NONKEY"
    interval: list[_Candidate] = []
    # Min-heap by score: only the strongest ``max_frames`` cuts are kept in memory.
    scenes: list[tuple[float, int, _Candidate]] = []
    previous: npt.NDArray[np.int16] | None = None
    last_cut = -math.inf
    next_sample = 0.0
    count = 0
    bad_packets = 0

    for packet in container.demux(stream):
        try:
            frames = stream.decode(packet)
        except av.error.FFmpegError as exc:
            # One damaged packet should not lose the rest of the video.
            bad_packets += 1
            log.debug("skipping undecodable video packet: %s", ffmpeg_reason(exc))
            continue
        for frame in frames:
            t = _frame_time(frame, start, count, fps)
            index = round(t * fps) if (keyframes_only and fps) else count
            count += 1
            thumb = _thumb(frame) if scene_threshold is not None else None
            if not interval:
                interval.append(_Candidate(t, index, _to_rgb(frame, max_side), math.inf, "first"))
                next_sample = t + interval_s
            elif t >= next_sample - 1e-6:
                interval.append(_Candidate(t, index, _to_rgb(frame, max_side), 0.0, "interval"))
                while next_sample <= t + 1e-6:
                    next_sample += interval_s
            if thumb is not None and previous is not None and scene_threshold is not None:
                score = float(np.abs(thumb - previous).mean())
                if score > scene_threshold and t - last_cut >= _MIN_SCENE_GAP_S:
                    last_cut = t
                    cand = _Candidate(t, index, _to_rgb(frame, max_side), score, "scene")
                    item = (score, index, cand)
                    if len(scenes) < max_frames:
                        heapq.heappush(scenes, item)
                    else:
                        heapq.heappushpop(scenes, item)
            previous = thumb
    if bad_packets:
        log.warning("skipped %d undecodable video packets", bad_packets)
    return interval + [item[2] for item in scenes]


def _sample_by_seeking(
    container: av.container.InputContainer,
    stream: av.VideoStream,
    *,
    start: float,
    duration: float,
    interval_s: float,
    fps: float | None,
    max_side: int | None,
) -> list[_Candidate]:
    """Seek to each sample time and decode forward to it (no scene detection).

    Seeking is not exact in every container: MPEG-TS may land after a key frame, and
    the decoder then drops frames up to the next one. When the first frame decoded
    after a seek is past the target, the seek is retried further back.
    """
    if stream.time_base is None:
        raise InvalidInput("video stream has no time base")
    time_base = stream.time_base
    stream_start = stream.start_time or 0
    slack = 1.0 / fps if fps else 0.05
    candidates: list[_Candidate] = []
    # The first frame comes straight from the freshly opened file, without a seek.
    first = _first_frame_at_or_after(container, stream, 0.0, start, fps)
    if first is not None:
        candidates.append(_Candidate(first[0], 0, _to_rgb(first[1], max_side), math.inf, "first"))
    for k in range(1, max(1, math.ceil(duration / interval_s))):
        target = k * interval_s
        found = None
        backoff = 0.0
        for _ in range(6):
            offset = stream_start + int(max(0.0, target - backoff) / time_base)
            container.seek(offset, stream=stream, backward=True)
            found = _first_frame_at_or_after(container, stream, target, start, fps)
            if found is None or found[2] <= target + slack:
                break
            backoff = max(1.0, backoff * 2)
        if found is not None and (not candidates or found[0] > candidates[-1].time_s):
            t, frame, _ = found
            index = round(t * fps) if fps else len(candidates)
            candidates.append(_Candidate(t, index, _to_rgb(frame, max_side), 0.0, "interval"))
    return candidates


def _first_frame_at_or_after(
    container: av.container.InputContainer,
    stream: av.VideoStream,
    target: float,
    start: float,
    fps: float | None,
) -> tuple[float, av.VideoFrame, float] | None:
    """Decode to the first frame at or after ``target``.

    Returns (its time, the frame, the time of the first frame decoded), or None at
    the end of the stream.
    """
    first_time: float | None = None
    for count, frame in enumerate(container.decode(stream)):
        t = _frame_time(frame, start, count, fps)
        if first_time is None:
            first_time = t
        if t + 1e-6 >= target:
            return t, frame, first_time
    return None


def _select(candidates: list[_Candidate], max_frames: int) -> list[_Candidate]:
    """Merge, de-duplicate and cut the candidates down to ``max_frames``, in time order."""
    by_index: dict[int, _Candidate] = {}
    for cand in candidates:
        kept = by_index.get(cand.index)
        if kept is None or cand.score > kept.score:
            by_index[cand.index] = cand
    unique = sorted(by_index.values(), key=lambda c: c.time_s)
    if len(unique) <= max_frames:
        return unique

    first = [c for c in unique if c.kind == "first"][:1] or unique[:1]
    chosen = {id(c): c for c in first}
    budget = max_frames - len(chosen)
    scenes = sorted((c for c in unique if c.kind == "scene"), key=lambda c: -c.score)
    # Cuts get up to half the budget, rounded up: with room for one more frame
    # after the first, the strongest cut says more than an arbitrary interval frame.
    for cand in scenes[: (budget + 1) // 2]:
        chosen[id(cand)] = cand
    others = [c for c in unique if c.kind == "interval"]
    while others and len(chosen) < max_frames:
        # Farthest first: the interval frame furthest from every chosen frame fills
        # the largest gap, so the kept frames cover the whole video evenly.
        times = [c.time_s for c in chosen.values()]
        best = max(others, key=lambda c: min(abs(c.time_s - t) for t in times))
        chosen[id(best)] = best
        others.remove(best)
    for cand in scenes:  # any budget left goes to weaker cuts
        if len(chosen) >= max_frames:
            break
        chosen.setdefault(id(cand), cand)
    return sorted(chosen.values(), key=lambda c: c.time_s)
