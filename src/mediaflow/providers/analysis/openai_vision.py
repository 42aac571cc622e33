"""Frame descriptions and labels from OpenAI's vision chat (``POST {base}/chat/completions``).

Wire format (https://platform.openai.com/docs/api-reference/chat/create,
https://platform.openai.com/docs/guides/structured-outputs,
https://platform.openai.com/docs/guides/images-vision): each sampled frame goes as a
``data:image/jpeg;base64,...`` ``image_url`` part (``detail: low``) of one user
message; ``response_format`` is ``{"type": "json_schema", "json_schema": {"name",
"strict": true, "schema": FRAME_SCHEMA}}``; the key in ``Authorization: Bearer``
(``MEDIAFLOW_OPENAI_API_KEY``, ``MEDIAFLOW_OPENAI_BASE_URL``, shared with the
transcription provider). The answer's ``choices[0].message.content`` is a JSON string
(or ``message.refusal``); ``usage.prompt_tokens``/``completion_tokens`` are billed.
The JSON is validated against the schema here too: a model's answer is input.

Plain httpx: one JSON POST; the openai SDK would add a dependency for nothing.
"""

from __future__ import annotations

import base64
import json
from typing import Any, ClassVar

from mediaflow.db.enums import AnalysisProvider
from mediaflow.errors import ProviderError
from mediaflow.providers.cloud.base import CloudAnalyzer
from mediaflow.providers.cloud.vision import FRAME_SCHEMA, PROMPT, validate_frame_json


class OpenAIVisionProvider(CloudAnalyzer):
    """OpenAI vision chat: a caption and labels per sampled frame."""

    name: ClassVar[str] = AnalysisProvider.OPENAI.value
    vendor: ClassVar[str] = "OpenAI"
    analysis_types: ClassVar[tuple[str, ...]] = ("caption", "labels")
    max_image_bytes: ClassVar[int] = 20 * 1024 * 1024
    max_side: ClassVar[int] = 1024  # detail=low looks at 512 px anyway
    units_per_image: ClassVar[dict[str, float]] = {"input_tokens": 300, "output_tokens": 120}

    def credentials(self) -> tuple[dict[str, str], str | None]:
        """The OpenAI key."""
        return self._key_from("openai_api_key", "OpenAI API key")

    def model_name(self) -> str:
        """The chat model asked."""
        return str(self.settings.openai_vision_model)

    def _analyze_image(
        self, jpeg: bytes, credentials: dict[str, str]
    ) -> tuple[dict[str, Any], dict[str, float]]:
        settings = self.settings
        http = self._http(credentials["key"])
        image_url = "data:image/jpeg;base64," + base64.b64encode(jpeg).decode("ascii")
        request = {
            "model": self.model_name(),
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": PROMPT},
                        {"type": "image_url", "image_url": {"url": image_url, "detail": "low"}},
                    ],
                }
            ],
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": "frame_analysis", "strict": True, "schema": FRAME_SCHEMA},
            },
            "max_completion_tokens": 300,
        }
        body = http.json(
            "POST",
            settings.openai_base_url.rstrip("/") + "/chat/completions",
            headers={"Authorization": f"Bearer {credentials['key']}"},
            json=request,
        )
        try:
            message = body["choices"][0]["message"]
            usage = body.get("usage") or {}
        except (KeyError, IndexError, TypeError) as exc:
            raise ProviderError(f"OpenAI: malformed answer ({type(exc).__name__}: {exc})") from exc
        if message.get("refusal"):
            raise ProviderError(f"OpenAI refused to describe the frame: {message['refusal']}")
        try:
            parsed = json.loads(message.get("content") or "")
        except (TypeError, ValueError) as exc:
            raise ProviderError("OpenAI: malformed answer (content is not JSON)") from exc
        frame = validate_frame_json(parsed, self.vendor)
        billing = {
            "input_tokens": float(usage.get("prompt_tokens") or 0),
            "output_tokens": float(usage.get("completion_tokens") or 0),
        }
        answer = {
            "caption": frame["description"],
            "labels": [{"name": label, "confidence": None} for label in frame["labels"]],
        }
        return answer, billing
