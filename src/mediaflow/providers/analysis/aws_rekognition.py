"""Labels, text, faces and moderation from Amazon Rekognition (image operations).

API (https://docs.aws.amazon.com/rekognition/latest/APIReference/API_DetectLabels.html,
``DetectText``, ``DetectFaces``, ``DetectModerationLabels``): each frame goes as
``Image.Bytes`` (at most 5 MB: frames are re-encoded under it) to the four
operations; boxes come as ratios of the image (``Left``, ``Top``, ``Width``,
``Height``) and are turned into pixels of the frame; confidences (0-100) into 0..1.
Billed per image per operation (4 units an image). Credentials, region and endpoint
as for Amazon Transcribe (``cloud.aws``); boto3 from the ``mediaflow[cloud]`` extra.
"""

from __future__ import annotations

from typing import Any, ClassVar

from mediaflow.db.enums import AnalysisProvider
from mediaflow.errors import ProviderError
from mediaflow.providers.cloud.aws import aws_call, aws_client, aws_credentials
from mediaflow.providers.cloud.base import CloudAnalyzer, FrameAnswer

OPERATIONS = 4


class RekognitionProvider(CloudAnalyzer):
    """Amazon Rekognition: labels, ocr, faces and moderation."""

    name: ClassVar[str] = AnalysisProvider.AWS_REKOGNITION.value
    vendor: ClassVar[str] = "Amazon Rekognition"
    analysis_types: ClassVar[tuple[str, ...]] = ("labels", "ocr", "faces", "moderation")
    max_image_bytes: ClassVar[int] = 5 * 1024 * 1024
    units_per_image: ClassVar[dict[str, float]] = {"feature_units": OPERATIONS}

    def credentials(self) -> tuple[dict[str, str], str | None]:
        """AWS credentials and region."""
        return aws_credentials(self.settings)

    def model_name(self) -> str:
        """The service name (label model versions are in the results)."""
        return "amazon-rekognition"

    def _analyze_image(
        self, jpeg: bytes, credentials: dict[str, str]
    ) -> tuple[dict[str, Any], dict[str, float]]:
        client = aws_client(self.settings, "rekognition", credentials)
        image = {"Bytes": jpeg}

        def call(operation: str, **kwargs: Any) -> dict[str, Any]:
            method = getattr(client, operation)
            result: dict[str, Any] = aws_call(
                self.vendor, credentials, lambda: method(Image=image, **kwargs)
            )
            return result

        try:
            answer = {
                "_labels": call("detect_labels", MaxLabels=20)["Labels"],
                "_text": call("detect_text")["TextDetections"],
                "_faces": call("detect_faces")["FaceDetails"],
                "_moderation": call("detect_moderation_labels")["ModerationLabels"],
            }
        except (KeyError, TypeError) as exc:
            raise ProviderError(f"Amazon Rekognition: malformed answer (no {exc})") from exc
        return answer, {"feature_units": float(OPERATIONS)}

    def _combine(self, answers: list[FrameAnswer]) -> list[Any]:
        """Boxes need the frame's size: reduce each raw answer here, then combine."""
        for item in answers:
            item.answer = reduce_answer(item.answer, item.frame.width, item.frame.height)
        return super()._combine(answers)


def _box(box: dict[str, Any], width: int, height: int) -> dict[str, int]:
    return {
        "x": round(float(box.get("Left", 0)) * width),
        "y": round(float(box.get("Top", 0)) * height),
        "w": round(float(box.get("Width", 0)) * width),
        "h": round(float(box.get("Height", 0)) * height),
    }


def reduce_answer(raw: dict[str, Any], width: int, height: int) -> dict[str, Any]:
    """The four operations' answers in the shared shapes (cloud.vision)."""
    try:
        return {
            "labels": [
                {"name": str(x["Name"]), "confidence": round(float(x["Confidence"]) / 100, 4)}
                for x in raw["_labels"]
            ],
            "lines": [
                {
                    "text": str(x["DetectedText"]),
                    "confidence": round(float(x["Confidence"]) / 100, 4),
                    "box": _box((x.get("Geometry") or {}).get("BoundingBox") or {}, width, height),
                }
                for x in raw["_text"]
                if x.get("Type") == "LINE"
            ],
            "faces": [
                {
                    **_box(x.get("BoundingBox") or {}, width, height),
                    "confidence": round(float(x.get("Confidence") or 0) / 100, 4),
                }
                for x in raw["_faces"]
            ],
            "moderation": {
                "flagged": bool(raw["_moderation"]),
                "categories": {
                    str(x["Name"]): round(float(x["Confidence"]) / 100, 4)
                    for x in raw["_moderation"]
                },
            },
        }
    except (KeyError, TypeError, ValueError) as exc:
        raise ProviderError(
            f"Amazon Rekognition: malformed answer ({type(exc).__name__}: {exc})"
        ) from exc
