"""Caption, tags, text and people from Azure AI Vision Image Analysis 4.0.

Wire format (https://learn.microsoft.com/rest/api/computervision/image-analysis/analyze-image,
https://learn.microsoft.com/azure/ai-services/computer-vision/how-to/call-analyze-image-40):
``POST {endpoint}/computervision/imageanalysis:analyze`` with ``api-version=2024-02-01``
and ``features=caption,tags,read,people`` in the query, the image as
``application/octet-stream`` (at most 20 MB) and the key in
``Ocp-Apim-Subscription-Key``. The answer holds ``captionResult`` (``text``,
``confidence``), ``tagsResult.values`` (``name``, ``confidence``),
``readResult.blocks[].lines[]`` (``text``, ``boundingPolygon``, ``words`` with
``confidence``) and ``peopleResult.values`` (``boundingBox`` x/y/w/h,
``confidence``); errors ``{"error": {"code", "message"}}``. Billed per feature per
image (4 units an image). ``MEDIAFLOW_AZURE_VISION_BASE_URL`` is the resource's
endpoint (required: Azure has no global one). Plain httpx: the SDK is a thin
wrapper over this one call.
"""

from __future__ import annotations

from typing import Any, ClassVar

from mediaflow.db.enums import AnalysisProvider
from mediaflow.errors import ProviderError
from mediaflow.providers.cloud.base import CloudAnalyzer

API_VERSION = "2024-02-01"
FEATURES = ("caption", "tags", "read", "people")
PEOPLE_MIN_CONFIDENCE = 0.5  # the API lists many low-confidence candidate boxes


def _polygon_box(points: list[dict[str, Any]]) -> dict[str, int]:
    xs = [int(p.get("x", 0)) for p in points] or [0]
    ys = [int(p.get("y", 0)) for p in points] or [0]
    return {"x": min(xs), "y": min(ys), "w": max(xs) - min(xs), "h": max(ys) - min(ys)}


class AzureVisionProvider(CloudAnalyzer):
    """Azure AI Vision 4.0: caption, labels (tags), ocr (read) and people."""

    name: ClassVar[str] = AnalysisProvider.AZURE_VISION.value
    vendor: ClassVar[str] = "Azure AI Vision"
    analysis_types: ClassVar[tuple[str, ...]] = ("caption", "labels", "ocr", "people")
    max_image_bytes: ClassVar[int] = 20 * 1024 * 1024
    max_side: ClassVar[int] = 2048
    units_per_image: ClassVar[dict[str, float]] = {"feature_units": len(FEATURES)}

    def credentials(self) -> tuple[dict[str, str], str | None]:
        """The resource key and its endpoint."""
        found, missing = self._key_from("azure_vision_api_key", "Azure Vision key")
        if missing:
            return found, missing
        if not self.settings.azure_vision_base_url:
            return {}, "no Azure Vision endpoint: set MEDIAFLOW_AZURE_VISION_BASE_URL"
        return found, None

    def model_name(self) -> str:
        """The API version."""
        return f"image-analysis-{API_VERSION}"

    def _analyze_image(
        self, jpeg: bytes, credentials: dict[str, str]
    ) -> tuple[dict[str, Any], dict[str, float]]:
        settings = self.settings
        http = self._http(credentials["key"])
        body = http.json(
            "POST",
            str(settings.azure_vision_base_url).rstrip("/")
            + "/computervision/imageanalysis:analyze",
            params={
                "api-version": API_VERSION,
                "features": ",".join(FEATURES),
                "language": "en",
                "gender-neutral-caption": "true",
            },
            headers={
                "Ocp-Apim-Subscription-Key": credentials["key"],
                "Content-Type": "application/octet-stream",
            },
            content=jpeg,
        )
        if not any(k.endswith("Result") for k in body):
            raise ProviderError("Azure AI Vision: malformed answer (no result of any feature)")
        try:
            answer = parse_analysis(body)
        except (KeyError, TypeError, ValueError) as exc:
            raise ProviderError(
                f"Azure AI Vision: malformed answer ({type(exc).__name__}: {exc})"
            ) from exc
        return answer, {"feature_units": float(len(FEATURES))}


def parse_analysis(body: dict[str, Any]) -> dict[str, Any]:
    """An Image Analysis 4.0 answer reduced to the shared shapes (cloud.vision)."""
    caption = (body.get("captionResult") or {}).get("text")
    lines = []
    for block in (body.get("readResult") or {}).get("blocks") or []:
        for line in block.get("lines") or []:
            scores = [float(w["confidence"]) for w in line.get("words") or [] if "confidence" in w]
            lines.append(
                {
                    "text": str(line["text"]),
                    "confidence": round(sum(scores) / len(scores), 4) if scores else None,
                    "box": _polygon_box(line.get("boundingPolygon") or []),
                }
            )
    people = [
        {
            "x": int(p["boundingBox"]["x"]),
            "y": int(p["boundingBox"]["y"]),
            "w": int(p["boundingBox"]["w"]),
            "h": int(p["boundingBox"]["h"]),
            "confidence": round(float(p["confidence"]), 4),
        }
        for p in (body.get("peopleResult") or {}).get("values") or []
        if float(p.get("confidence") or 0) >= PEOPLE_MIN_CONFIDENCE
    ]
    return {
        "caption": str(caption) if caption else None,
        "labels": [
            {"name": str(t["name"]), "confidence": round(float(t["confidence"]), 4)}
            for t in (body.get("tagsResult") or {}).get("values") or []
        ],
        "lines": lines,
        "people": people,
    }
