"""Labels, text, faces and safe search from Google Cloud Vision (``images:annotate``).

Wire format (https://cloud.google.com/vision/docs/reference/rest/v1/images/annotate,
https://cloud.google.com/vision/docs/reference/rest/v1/AnnotateImageResponse):
``POST {base}/v1/images:annotate`` with ``{"requests": [{"image": {"content":
<base64>}, "features": [{"type": "LABEL_DETECTION"}, {"type": "TEXT_DETECTION"},
{"type": "FACE_DETECTION"}, {"type": "SAFE_SEARCH_DETECTION"}]}]}``; the key in
``x-goog-api-key``. Each ``responses[i]`` has ``labelAnnotations`` (``description``,
``score``), ``textAnnotations`` (the first is the whole text, the rest words),
``faceAnnotations`` (``boundingPoly.vertices``, ``detectionConfidence``),
``safeSearchAnnotation`` (likelihoods) — or its own ``error`` inside a 200 answer.
Billed per feature per image (4 units an image). Images are sent under 10 MB.
Plain httpx: google-cloud-vision pulls in gRPC and protobuf for one JSON call.
"""

from __future__ import annotations

import base64
from typing import Any, ClassVar

from mediaflow.db.enums import AnalysisProvider
from mediaflow.errors import ProviderError
from mediaflow.providers.cloud.base import CloudAnalyzer

FEATURES = ("LABEL_DETECTION", "TEXT_DETECTION", "FACE_DETECTION", "SAFE_SEARCH_DETECTION")
FLAGGED = {"LIKELY", "VERY_LIKELY"}


def _box(poly: dict[str, Any]) -> dict[str, int]:
    xs = [int(v.get("x", 0)) for v in poly.get("vertices") or []] or [0]
    ys = [int(v.get("y", 0)) for v in poly.get("vertices") or []] or [0]
    return {"x": min(xs), "y": min(ys), "w": max(xs) - min(xs), "h": max(ys) - min(ys)}


class GoogleVisionProvider(CloudAnalyzer):
    """Google Cloud Vision: labels, ocr, faces and moderation."""

    name: ClassVar[str] = AnalysisProvider.GOOGLE_VISION.value
    vendor: ClassVar[str] = "Google Cloud Vision"
    analysis_types: ClassVar[tuple[str, ...]] = ("labels", "ocr", "faces", "moderation")
    max_image_bytes: ClassVar[int] = 7 * 1024 * 1024  # 10 MB JSON request after base64
    units_per_image: ClassVar[dict[str, float]] = {"feature_units": len(FEATURES)}

    def credentials(self) -> tuple[dict[str, str], str | None]:
        """The Google API key."""
        return self._key_from("google_vision_api_key", "Google Vision API key")

    def model_name(self) -> str:
        """The API's version."""
        return "google-cloud-vision-v1"

    def _analyze_image(
        self, jpeg: bytes, credentials: dict[str, str]
    ) -> tuple[dict[str, Any], dict[str, float]]:
        settings = self.settings
        http = self._http(credentials["key"])
        body = http.json(
            "POST",
            settings.google_vision_base_url.rstrip("/") + "/v1/images:annotate",
            headers={"x-goog-api-key": credentials["key"]},
            json={
                "requests": [
                    {
                        "image": {"content": base64.b64encode(jpeg).decode("ascii")},
                        "features": [{"type": f, "maxResults": 20} for f in FEATURES],
                    }
                ]
            },
        )
        try:
            response = body["responses"][0]
            if "error" in response:
                message = http.scrub(str(response["error"].get("message")))
                raise ProviderError(f"Google Cloud Vision refused the image: {message}")
            answer = parse_response(response)
        except (KeyError, IndexError, TypeError, ValueError, AttributeError) as exc:
            raise ProviderError(
                f"Google Cloud Vision: malformed answer ({type(exc).__name__}: {exc})"
            ) from exc
        return answer, {"feature_units": float(len(FEATURES))}


def parse_response(response: dict[str, Any]) -> dict[str, Any]:
    """One ``AnnotateImageResponse`` reduced to the shared shapes (cloud.vision)."""
    texts = response.get("textAnnotations") or []
    safe = response.get("safeSearchAnnotation") or {}
    return {
        "labels": [
            {"name": str(a["description"]), "confidence": float(a.get("score") or 0)}
            for a in response.get("labelAnnotations") or []
        ],
        # the first text annotation is the whole text; lines come from it
        "lines": [
            {"text": line, "confidence": None, "box": _box(texts[0].get("boundingPoly") or {})}
            for line in str(texts[0]["description"]).splitlines()
            if line.strip()
        ]
        if texts
        else [],
        "faces": [
            {
                **_box(f["boundingPoly"]),
                "confidence": round(float(f.get("detectionConfidence") or 0), 4),
            }
            for f in response.get("faceAnnotations") or []
        ],
        "moderation": {
            "flagged": any(safe.get(k) in FLAGGED for k in ("adult", "violence", "racy")),
            "categories": dict(safe),
        },
    }
