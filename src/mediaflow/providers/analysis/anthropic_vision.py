"""Frame descriptions and labels from Anthropic's Messages API, through the official SDK.

API (https://docs.anthropic.com/en/api/messages, https://docs.anthropic.com/en/docs/build-with-claude/vision,
https://docs.anthropic.com/en/docs/build-with-claude/tool-use, errors:
https://docs.anthropic.com/en/api/errors): each frame is a base64 ``image`` block
of one user message; a single tool whose ``input_schema`` is ``FRAME_SCHEMA`` is
forced with ``tool_choice``, so the answer is a ``tool_use`` block whose ``input`` is
the structured result (validated here again). ``usage.input_tokens``/
``output_tokens`` are billed. ``MEDIAFLOW_ANTHROPIC_API_KEY``, ``_BASE_URL``, ``_MODEL``.

The ``anthropic`` SDK (official, maintained, pure Python on httpx) is used, from the
``mediaflow[cloud]`` extra, with its own retries off (the pipeline retries) and the
settings' timeout. Its errors are mapped here: 429/5xx/529 and timeouts transient
(``retry-after`` honoured), others a ``ProviderError`` with the API's message.
"""

from __future__ import annotations

import base64
from typing import Any, ClassVar

from mediaflow.db.enums import AnalysisProvider
from mediaflow.errors import ProviderError
from mediaflow.providers.cloud.base import CloudAnalyzer
from mediaflow.providers.cloud.http import RetryLater, retry_after_seconds, scrub, vendor_message
from mediaflow.providers.cloud.vision import FRAME_SCHEMA, PROMPT, validate_frame_json

TOOL = "record_frame_analysis"


class AnthropicVisionProvider(CloudAnalyzer):
    """Claude vision: a caption and labels per sampled frame."""

    name: ClassVar[str] = AnalysisProvider.ANTHROPIC.value
    vendor: ClassVar[str] = "Anthropic"
    requires: ClassVar[tuple[tuple[str, str], ...]] = (("anthropic", "mediaflow[cloud]"),)
    analysis_types: ClassVar[tuple[str, ...]] = ("caption", "labels")
    max_image_bytes: ClassVar[int] = 5 * 1024 * 1024  # documented per-image limit
    max_side: ClassVar[int] = 1568  # larger images are scaled down by the API anyway
    units_per_image: ClassVar[dict[str, float]] = {"input_tokens": 1700, "output_tokens": 150}

    def credentials(self) -> tuple[dict[str, str], str | None]:
        """The Anthropic key."""
        return self._key_from("anthropic_api_key", "Anthropic API key")

    def model_name(self) -> str:
        """The Claude model asked."""
        return str(self.settings.anthropic_model)

    def _analyze_image(
        self, jpeg: bytes, credentials: dict[str, str]
    ) -> tuple[dict[str, Any], dict[str, float]]:
        import anthropic

        key = credentials["key"]
        client = anthropic.Anthropic(
            api_key=key,
            base_url=self.settings.anthropic_base_url,
            timeout=self.settings.provider_timeout_s,
            max_retries=0,
        )
        image = base64.b64encode(jpeg).decode("ascii")
        try:
            message = client.messages.create(
                model=self.model_name(),
                max_tokens=400,
                tools=[
                    {
                        "name": TOOL,
                        "description": "Record the frame's analysis.",
                        "input_schema": FRAME_SCHEMA,
                    }
                ],
                tool_choice={"type": "tool", "name": TOOL},
                messages=[
                    {
                        "role": "user",
                        "content": [
                            {
                                "type": "image",
                                "source": {
                                    "type": "base64",
                                    "media_type": "image/jpeg",
                                    "data": image,
                                },
                            },
                            {"type": "text", "text": PROMPT},
                        ],
                    }
                ],
            )
        except anthropic.APIStatusError as exc:
            status = exc.status_code
            try:
                detail = vendor_message(exc.response.json()) or exc.message
            except ValueError:
                detail = exc.message
            text = scrub(f"Anthropic answered HTTP {status}: {detail}", [key])
            if status == 429 or status >= 500:
                retry_after = retry_after_seconds(exc.response.headers.get("retry-after"))
                raise RetryLater(text, retry_after_s=retry_after) from exc
            raise ProviderError(text) from exc
        except anthropic.APITimeoutError as exc:
            raise RetryLater(
                f"Anthropic: no answer within {self.settings.provider_timeout_s:g} s"
            ) from exc
        except anthropic.APIConnectionError as exc:
            raise RetryLater(scrub(f"Anthropic: cannot connect: {exc}", [key])) from exc
        except (anthropic.APIResponseValidationError, ValueError) as exc:
            raise ProviderError(f"Anthropic: malformed answer ({type(exc).__name__})") from exc
        blocks = [
            b
            for b in getattr(message, "content", None) or []
            if getattr(b, "type", "") == "tool_use"
        ]
        if not blocks or not hasattr(message, "usage"):
            raise ProviderError("Anthropic: malformed answer (no tool_use block)")
        frame = validate_frame_json(blocks[0].input, self.vendor)
        billing = {
            "input_tokens": float(message.usage.input_tokens),
            "output_tokens": float(message.usage.output_tokens),
        }
        answer = {
            "caption": frame["description"],
            "labels": [{"name": label, "confidence": None} for label in frame["labels"]],
        }
        return answer, billing
