"""Shot boundaries with PySceneDetect's ContentDetector, decoding with PyAV.

Scene detection needs every frame, not the pipeline's samples. The pipeline decodes
a video once (``mediaflow.media.onepass``) and shows every frame to this provider's
``SceneObserver`` (``frame_observer``), which feeds PySceneDetect's own SceneManager
and ContentDetector exactly as ``detect_scenes`` would (frames as BGR, downscaled by
the same factor, positions from the frames' timestamps): the scenes are the same,
without a second decode. Given no observed frames (a direct call), the provider
reads the stored file itself with the PyAV backend directly (``VideoStreamAv``)
rather than ``scenedetect.open_video``, which would silently fall back to OpenCV's
decoder when PyAV fails; a file PyAV cannot read is an error. Either way FFmpeg's
messages stay where ``media.avlog`` routes them (``VideoStreamAv`` would otherwise
hand them back to stderr).

Result (``analysis_type="scenes"``)::

    {"scenes": [{"start_s": 0.0, "end_s": 2.0}, {"start_s": 2.0, "end_s": 4.0}],
     "cuts": [2.0],          # the start of every scene after the first
     "frame_rate": 25.0,
     "threshold": 27.0}

A video without cuts is one scene covering it all. ``confidence`` is None.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any, ClassVar

import av

from mediaflow.config import Settings
from mediaflow.db.enums import AnalysisProvider, MediaType
from mediaflow.errors import ProviderError
from mediaflow.media.images import AnimationInfo, animation_info
from mediaflow.providers.analysis import package_version, rounded
from mediaflow.providers.base import AnalysisOutput, Analyzer, MediaInput

MODEL_NAME = "ContentDetector"


class SceneObserver:
    """PySceneDetect's SceneManager fed frame by frame from the pipeline's decode pass.

    It does what ``SceneManager.detect_scenes`` does with a ``VideoStreamAv`` of the
    same file: the same frame rate (the stream's guessed rate), downscale factor,
    interpolation and positions (each frame's timestamp from the stream's start), the
    same calls into the manager for each frame and after the last one.
    """

    def __init__(self, threshold: float, min_scene_len_frames: int) -> None:
        """A manager with one ContentDetector, waiting for ``start``."""
        from scenedetect import ContentDetector, SceneManager

        self.manager = SceneManager()
        self.manager.add_detector(
            ContentDetector(threshold=threshold, min_scene_len=min_scene_len_frames)
        )
        self.frame_rate: Fraction | None = None
        self.error: str | None = None
        self._downscale = 1.0
        self._stream: av.VideoStream | None = None
        self._last: Any = None
        self.frames = 0

    def start(self, stream: av.VideoStream) -> None:
        """Read the stream's rate and size as ``VideoStreamAv`` does."""
        from scenedetect.common import MAX_FPS_DELTA, FrameTimecode, framerate_to_fraction
        from scenedetect.scene_manager import compute_downscale_factor

        self._stream = stream
        rate = stream.guessed_rate or stream.codec_context.framerate
        if not rate or rate < MAX_FPS_DELTA:
            self.error = "the video's frame rate is unknown"
            return
        self.frame_rate = framerate_to_fraction(rate)
        context = stream.codec_context
        if context.width and context.height:
            self._downscale = compute_downscale_factor(max(context.width, context.height))
        self.manager._base_timecode = FrameTimecode(timecode=0, fps=self.frame_rate)

    def add(self, frame: av.VideoFrame) -> None:
        """One frame through the detector."""
        if self.error is not None or self.frame_rate is None:
            return
        import cv2

        position = self._position(frame)
        image: Any = frame.to_ndarray(format="bgr24")
        if self._downscale > 1.0:
            image = cv2.resize(
                image,
                (
                    max(1, round(image.shape[1] / self._downscale)),
                    max(1, round(image.shape[0] / self._downscale)),
                ),
                interpolation=self.manager.interpolation.value,
            )
        if self.manager._start_pos is None:
            self.manager._start_pos = position
        self.manager._process_frame(position, image)
        self._last = position
        self.frames += 1

    def finish(self) -> None:
        """The cuts the detector holds back until the end."""
        if self._last is None:
            return
        self.manager._last_pos = self._last
        self.manager._post_process(self._last)

    def scene_list(self) -> list[tuple[Any, Any]]:
        """(start, end) FrameTimecodes; a video without cuts is one scene."""
        return list(self.manager.get_scene_list(start_in_scene=True))

    def _position(self, frame: av.VideoFrame) -> Any:
        from scenedetect.common import FrameTimecode, Timecode

        assert self.frame_rate is not None and self._stream is not None
        if frame.pts is None or not frame.time_base:
            return self.manager._base_timecode
        time_base = Fraction(frame.time_base)
        start = self._stream.start_time or 0
        if start and self._stream.time_base != frame.time_base and self._stream.time_base:
            start = int(start * Fraction(self._stream.time_base) / time_base)
        timecode = Timecode(pts=frame.pts - start, time_base=time_base)
        return FrameTimecode(timecode=timecode, fps=self.frame_rate)


class SceneDetectProvider(Analyzer):
    """Hard cuts (shot changes) of a video."""

    name: ClassVar[str] = AnalysisProvider.SCENEDETECT.value
    model_description: ClassVar[str] = "PySceneDetect content detector (no weights)"
    model_package: ClassVar[str | None] = "scenedetect-headless"
    accepts: ClassVar[frozenset[MediaType]] = frozenset({MediaType.VIDEO})
    analysis_types: ClassVar[tuple[str, ...]] = ("scenes",)
    uses = "file"
    requires: ClassVar[tuple[tuple[str, str], ...]] = (
        ("scenedetect", "scenedetect-headless"),
        ("av", "av"),
    )

    def __init__(
        self, settings: Settings, *, threshold: float = 27.0, min_scene_len_frames: int = 15
    ) -> None:
        """ContentDetector settings (its defaults): cut threshold, shortest scene in frames."""
        super().__init__(settings)
        self.threshold = threshold
        self.min_scene_len_frames = min_scene_len_frames

    def frame_observer(self) -> SceneObserver:
        """What the pipeline's decode pass shows every frame to (see the module doc)."""
        return SceneObserver(self.threshold, self.min_scene_len_frames)

    def _analyze(self, media: MediaInput, model: Any) -> list[AnalysisOutput]:
        """Detect the scenes of ``media.path``."""
        animation = animation_info(media.path)
        if animation is not None:
            return [self._animation_scenes(media, animation)]
        import scenedetect

        observed = media.observed.get(self.name)
        if isinstance(observed, SceneObserver) and observed.frames:
            if observed.error is not None or observed.frame_rate is None:
                raise ProviderError(f"scene detection failed on {media.label}: {observed.error}")
            scene_list, frame_rate = observed.scene_list(), float(observed.frame_rate)
        else:
            scene_list, frame_rate = self._detect(media)
        scenes = [
            {"start_s": rounded(start.seconds, 3), "end_s": rounded(end.seconds, 3)}
            for start, end in scene_list
        ]
        result = {
            "scenes": scenes,
            "cuts": [scene["start_s"] for scene in scenes[1:]],
            "frame_rate": rounded(frame_rate, 3),
            "threshold": self.threshold,
        }
        return [
            AnalysisOutput(
                analysis_type="scenes",
                result=result,
                model=MODEL_NAME,
                model_version=f"scenedetect {scenedetect.__version__}",
                confidence=None,
            )
        ]

    def _detect(self, media: MediaInput) -> tuple[list[tuple[Any, Any]], float]:
        """Decode ``media.path`` with PySceneDetect itself (no decode pass saw it)."""
        from scenedetect import ContentDetector, SceneManager
        from scenedetect.backends.pyav import VideoStreamAv

        try:
            # suppress_output: otherwise it hands FFmpeg's logging back to stderr
            video = VideoStreamAv(str(media.path), suppress_output=True)
            manager = SceneManager()
            manager.add_detector(
                ContentDetector(threshold=self.threshold, min_scene_len=self.min_scene_len_frames)
            )
            manager.detect_scenes(video=video, show_progress=False)
            # start_in_scene: a video without cuts is one scene, not an empty list.
            scene_list: list[tuple[Any, Any]] = manager.get_scene_list(start_in_scene=True)
            frame_rate = float(video.frame_rate)
        except Exception as exc:  # scenedetect and PyAV raise many types; all mean "unreadable"
            raise ProviderError(
                f"scene detection failed on {media.label}: {type(exc).__name__}: {exc}"
            ) from exc
        return scene_list, frame_rate

    def _animation_scenes(self, media: MediaInput, animation: AnimationInfo) -> AnalysisOutput:
        """An animated GIF/WebP/PNG (FFmpeg cannot read every one): the shots the frame
        sampler found while reading it with Pillow, with the same cut test."""
        shots: dict[int, list[float]] = {}
        for frame in media.frames:
            if frame.shot is None or frame.start_s is None or frame.end_s is None:
                continue
            span = shots.setdefault(frame.shot, [frame.start_s, frame.end_s])
            span[0], span[1] = min(span[0], frame.start_s), max(span[1], frame.end_s)
        if not shots:
            shots = {0: [0.0, animation.duration_s]}
        scenes = [
            {"start_s": rounded(start, 3), "end_s": rounded(end, 3)}
            for start, end in (shots[k] for k in sorted(shots))
        ]
        return AnalysisOutput(
            analysis_type="scenes",
            result={
                "scenes": scenes,
                "cuts": [scene["start_s"] for scene in scenes[1:]],
                "frame_rate": animation.fps,
                "threshold": None,
                "source": "animated image: frame sampler shots",
            },
            model="mediaflow frame sampler",
            model_version=package_version("mediaflow"),
            confidence=None,
        )
