"""Shot boundaries with PySceneDetect's ContentDetector, decoding with PyAV.

Scene detection needs every frame, not the pipeline's samples, so this provider
reads the stored video file itself. It opens it with the PyAV backend directly
(``VideoStreamAv``) rather than ``scenedetect.open_video``, which would silently
fall back to OpenCV's decoder when PyAV fails; a file PyAV cannot read is an error.

Result (``analysis_type="scenes"``)::

    {"scenes": [{"start_s": 0.0, "end_s": 2.0}, {"start_s": 2.0, "end_s": 4.0}],
     "cuts": [2.0],          # the start of every scene after the first
     "frame_rate": 25.0,
     "threshold": 27.0}

A video without cuts is one scene covering it all. ``confidence`` is None.
"""

from __future__ import annotations

from typing import Any, ClassVar

from mediaflow.config import Settings
from mediaflow.db.enums import AnalysisProvider, MediaType
from mediaflow.errors import ProviderError
from mediaflow.providers.analysis import rounded
from mediaflow.providers.base import AnalysisOutput, Analyzer, MediaInput

MODEL_NAME = "ContentDetector"


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

    def _analyze(self, media: MediaInput, model: Any) -> list[AnalysisOutput]:
        """Detect the scenes of ``media.path``."""
        import scenedetect
        from scenedetect import ContentDetector, SceneManager
        from scenedetect.backends.pyav import VideoStreamAv

        try:
            video = VideoStreamAv(str(media.path))
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
