"""A fake of Anthropic's Messages API with image input and forced tool use.

Documented at https://docs.anthropic.com/en/api/messages,
https://docs.anthropic.com/en/docs/build-with-claude/vision,
https://docs.anthropic.com/en/docs/build-with-claude/tool-use and
https://docs.anthropic.com/en/api/errors:

- ``POST /v1/messages`` with ``x-api-key`` (or ``Authorization: Bearer <key>``, which
  the Python SDK 2.x sends) and ``anthropic-version`` headers (401
  ``authentication_error`` "invalid x-api-key" otherwise; 400 without the version);
- errors ``{"type": "error", "error": {"type", "message"}}``: 400
  ``invalid_request_error``, 429 ``rate_limit_error`` (with ``retry-after``), 500
  ``api_error``, 529 ``overloaded_error``;
- ``model``, ``max_tokens`` and ``messages`` required; an ``image`` block needs
  ``source.type == "base64"``, a supported ``media_type`` and decodable data (400
  "Could not process image"); with ``tool_choice: {"type": "tool", "name"}`` the
  answer is one ``tool_use`` block of that tool whose ``input`` follows its schema;
  ``usage.input_tokens``/``output_tokens``; ``stop_reason: "tool_use"``.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from tests.fakes.cloud import FakeVendor, Reply, Request, image_facts

MEDIA_TYPES = {"image/jpeg", "image/png", "image/gif", "image/webp"}


class FakeAnthropic(FakeVendor):
    """``/v1/messages``."""

    default_key = "sk-ant-api03-fake-0123456789abcdef"

    def _given(self, request: Request) -> str:
        bearer = request.headers.get("authorization", "").removeprefix("Bearer ")
        return request.headers.get("x-api-key") or bearer

    def authorized(self, request: Request) -> bool:
        """``x-api-key``, or ``Authorization: Bearer`` (what the Python SDK 2.x sends)."""
        return self._given(request) == self.api_key

    def unauthorized(self, request: Request) -> Reply:
        """Anthropic's 401 (echoing the key, to catch a provider that does not scrub)."""
        given = self._given(request)
        return Reply(401, self._error("authentication_error", f"invalid x-api-key: {given}"))

    def _error(self, type_: str, message: str) -> dict[str, Any]:
        return {"type": "error", "error": {"type": type_, "message": message}}

    def error_body(self, status: int, message: str) -> Any:
        """The error envelope by status."""
        type_ = {400: "invalid_request_error", 401: "authentication_error",
                 404: "not_found_error", 429: "rate_limit_error",
                 529: "overloaded_error"}.get(status, "api_error")  # fmt: skip
        return self._error(type_, message)

    def handle(self, request: Request) -> Reply:
        """Answer with the forced tool's input."""
        if (request.method, request.path) != ("POST", "/v1/messages"):
            return Reply(404, self._error("not_found_error", "Not found"))
        if not request.headers.get("anthropic-version"):
            return Reply(
                400, self._error("invalid_request_error", "anthropic-version: header is required")
            )
        body = request.json()
        if not isinstance(body, dict) or not all(
            k in body for k in ("model", "max_tokens", "messages")
        ):
            return Reply(
                400,
                self._error(
                    "invalid_request_error", "model, max_tokens and messages: Field required"
                ),
            )
        facts = []
        for message in body["messages"]:
            for block in message.get("content") if isinstance(message.get("content"), list) else []:
                if block.get("type") != "image":
                    continue
                source = block.get("source") or {}
                try:
                    if (
                        source.get("type") != "base64"
                        or source.get("media_type") not in MEDIA_TYPES
                    ):
                        raise ValueError("source")
                    facts.append(
                        image_facts(base64.b64decode(source.get("data", ""), validate=True))
                    )
                except (ValueError, binascii.Error, OSError):
                    return Reply(
                        400,
                        self._error(
                            "invalid_request_error",
                            "messages.0.content.0.image.source: Could not process image",
                        ),
                    )
        choice = body.get("tool_choice") or {}
        tools = {t.get("name"): t for t in body.get("tools") or []}
        if choice.get("type") != "tool" or choice.get("name") not in tools:
            return Reply(
                400, self._error("invalid_request_error", "tool_choice names no tool of 'tools'")
            )
        first = facts[0] if facts else {"colour": "grey", "width": 0, "height": 0}
        tool_input = {
            "description": f"A {first['colour']} image of {first['width']}x{first['height']} pixels.",
            "labels": [first["colour"], "graphic"],
        }
        return Reply(200, {
            "id": "msg_fake", "type": "message", "role": "assistant", "model": body["model"],
            "content": [{"type": "tool_use", "id": "toolu_fake", "name": choice["name"],
                         "input": tool_input}],
            "stop_reason": "tool_use", "stop_sequence": None,
            "usage": {"input_tokens": 400 + 1200 * len(facts), "output_tokens": 42},
        }, headers={"request-id": "req_fake"})  # fmt: skip
