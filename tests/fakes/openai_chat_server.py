"""A fake of OpenAI's chat completions API with image input and structured outputs.

Documented at https://platform.openai.com/docs/api-reference/chat/create,
https://platform.openai.com/docs/guides/structured-outputs and
https://platform.openai.com/docs/guides/error-codes:

- ``POST /v1/chat/completions``, ``Authorization: Bearer <key>`` (401
  ``invalid_api_key`` echoing the given key otherwise, as tests of scrubbing need);
- ``model`` must be known; each ``image_url`` part must be a decodable ``data:`` URL
  (400 ``invalid_image_format``); ``response_format.type == "json_schema"`` needs a
  ``json_schema`` with ``name`` and ``schema`` (400 otherwise);
- the answer is a ``chat.completion`` whose ``choices[0].message.content`` is a JSON
  string matching the schema (a description and labels derived from the picture),
  with ``usage.prompt_tokens``/``completion_tokens``. Errors are
  ``{"error": {"message", "type", "param", "code"}}``.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from tests.fakes.cloud import FakeVendor, Reply, Request, image_facts

MODELS = {"gpt-4o-mini", "gpt-4o", "gpt-4.1-mini"}


def error_body(message: str, type_: str, code: str | None = None) -> dict[str, Any]:
    """OpenAI's error object."""
    return {"error": {"message": message, "type": type_, "param": None, "code": code}}


class FakeOpenAIChat(FakeVendor):
    """``/v1/chat/completions``."""

    default_key = "sk-test-vision-0123456789abcdef"

    def authorized(self, request: Request) -> bool:
        """``Authorization: Bearer <key>``."""
        return request.headers.get("authorization", "") == f"Bearer {self.api_key}"

    def unauthorized(self, request: Request) -> Reply:
        """OpenAI's 401 (echoing the key, unmasked: worse than OpenAI, to catch leaks)."""
        given = request.headers.get("authorization", "").removeprefix("Bearer ")
        return Reply(401, error_body(f"Incorrect API key provided: {given}.",
                                     "invalid_request_error", "invalid_api_key"))  # fmt: skip

    def error_body(self, status: int, message: str) -> Any:
        """OpenAI's error object by status."""
        kind = {400: "invalid_request_error", 429: "requests"}.get(status, "server_error")
        return error_body(message, kind)

    def handle(self, request: Request) -> Reply:
        """Describe the images of the last user message."""
        if (request.method, request.path) != ("POST", "/v1/chat/completions"):
            return Reply(
                404,
                error_body(
                    f"Invalid URL ({request.method} {request.path})", "invalid_request_error"
                ),
            )
        body = request.json()
        if not isinstance(body, dict):
            return Reply(
                400,
                error_body(
                    "We could not parse the JSON body of your request.", "invalid_request_error"
                ),
            )
        if body.get("model") not in MODELS:
            return Reply(
                404,
                error_body(
                    f"The model `{body.get('model')}` does not exist or you do not have access to it.",
                    "invalid_request_error",
                    "model_not_found",
                ),
            )
        response_format = body.get("response_format") or {}
        schema = (response_format.get("json_schema") or {}).get("schema")
        if response_format.get("type") != "json_schema" or not isinstance(schema, dict):
            return Reply(
                400,
                error_body(
                    "Invalid parameter: 'response_format' must include 'json_schema' with a 'schema'.",
                    "invalid_request_error",
                ),
            )
        images = [
            part["image_url"]["url"]
            for message in body.get("messages") or []
            for part in (message.get("content") if isinstance(message.get("content"), list) else [])
            if part.get("type") == "image_url"
        ]
        facts = []
        for url in images:
            try:
                header, _, data = url.partition(",")
                if not header.startswith("data:image/") or not header.endswith(";base64"):
                    raise ValueError(header)
                facts.append(image_facts(base64.b64decode(data, validate=True)))
            except (ValueError, binascii.Error, OSError):
                return Reply(
                    400,
                    error_body(
                        "You uploaded an unsupported image. Please make sure your image is valid.",
                        "invalid_request_error",
                        "invalid_image_format",
                    ),
                )
        first = facts[0] if facts else {"colour": "grey", "width": 0, "height": 0}
        content = {
            "description": f"A mostly {first['colour']} picture, {first['width']} by {first['height']} pixels.",
            "labels": [first["colour"], "picture"],
        }
        prompt_tokens = 70 + 85 * len(facts)  # detail=low images cost 85 tokens each
        return Reply(200, {
            "id": "chatcmpl-fake", "object": "chat.completion", "created": 1764150000,
            "model": body["model"],
            "choices": [{"index": 0, "finish_reason": "stop", "message": {
                "role": "assistant", "content": json.dumps(content), "refusal": None}}],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": 31,
                      "total_tokens": prompt_tokens + 31},
        }, headers={"x-request-id": "req_fake"})  # fmt: skip
