"""One HTTP call to a cloud vendor, mapped onto mediaflow's error tree.

Every vendor module talks through ``VendorHTTP`` so that they all fail alike:

- a timeout, a connection failure, HTTP 429 and HTTP 5xx are ``RetryLater`` (a
  ``TransientProviderError``: the pipeline retries it, honouring ``Retry-After``);
- any other non-2xx answer is a ``ProviderError`` carrying the vendor's own message
  (``{"error": {"message"}}``, ``{"err_msg"}``, ``{"message"}``...);
- a 2xx answer that is not the JSON object the vendor documents is a
  ``ProviderError`` ("malformed answer"), never a crash deeper down.

Secrets (keys) given to ``VendorHTTP`` are replaced by ``***`` in every message it
builds, because some vendors echo a wrong key in their 401 text.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, TypeVar

import httpx

from mediaflow.errors import ProviderError, TransientProviderError

__all__ = [
    "RetryLater",
    "VendorHTTP",
    "poll",
    "retry_after_seconds",
    "scrub",
    "vendor_message",
]

T = TypeVar("T")
_SNIPPET = 200


class RetryLater(TransientProviderError):
    """A transient failure; ``retry_after_s`` is how long the vendor asked us to wait."""

    def __init__(self, message: str, *, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s  # read (duck-typed) by pipeline.stages.with_retries


def scrub(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every secret replaced by ``***``."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    return text


def retry_after_seconds(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or HTTP date); None if absent."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def vendor_message(body: Any) -> str | None:
    """The human message of a vendor's error body, whichever documented shape it has.

    OpenAI/Google/Azure: ``{"error": {"message"}}``; Anthropic: ``{"type": "error",
    "error": {"type", "message"}}``; AssemblyAI: ``{"error": "..."}``; Deepgram:
    ``{"err_code", "err_msg"}`` (newer: ``{"category", "message"}``); AWS JSON:
    ``{"__type", "message"}``.
    """
    if not isinstance(body, Mapping):
        return None
    error = body.get("error")
    if isinstance(error, Mapping):
        message = error.get("message")
        code = error.get("status") or error.get("code") or error.get("type")
        if isinstance(message, str) and message:
            return f"{code}: {message}" if isinstance(code, str) and code else message
    if isinstance(error, str) and error:
        return error
    for key in ("err_msg", "message", "Message", "detail"):
        value = body.get(key)
        if isinstance(value, str) and value:
            code = body.get("err_code") or body.get("category") or body.get("__type")
            return f"{code}: {value}" if isinstance(code, str) and code else value
    return None


class VendorHTTP:
    """HTTP calls to one vendor: timeouts, error mapping and key scrubbing in one place."""

    def __init__(
        self,
        vendor: str,
        *,
        timeout_s: float,
        secrets: Iterable[str] = (),
        client: httpx.Client | None = None,
    ) -> None:
        self.vendor = vendor
        self.timeout_s = timeout_s
        self.secrets = tuple(s for s in secrets if s)
        self._client = client

    def scrub(self, text: str) -> str:
        """``text`` without this vendor's secrets."""
        return scrub(text, self.secrets)

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """Send one request; raise the error tree for anything but a 2xx answer."""
        kwargs.setdefault("timeout", self.timeout_s)
        try:
            if self._client is not None:
                response = self._client.request(method, url, **kwargs)
            else:
                response = httpx.request(method, url, **kwargs)
        except httpx.TimeoutException as exc:
            raise RetryLater(
                f"{self.vendor}: no answer within {kwargs['timeout']:g} s ({type(exc).__name__})"
            ) from exc
        except httpx.TransportError as exc:
            # httpx's messages name the host, never headers or query: safe after scrubbing
            raise RetryLater(
                self.scrub(
                    f"{self.vendor}: cannot reach {httpx.URL(url).host}: "
                    f"{type(exc).__name__}: {exc}"
                )
            ) from exc
        self.raise_for_status(response)
        return response

    def json(self, method: str, url: str, **kwargs: Any) -> dict[str, Any]:
        """``request`` and the answer's JSON object (a malformed one is a ProviderError)."""
        return self.parse(self.request(method, url, **kwargs))

    def parse(self, response: httpx.Response) -> dict[str, Any]:
        """The JSON object of a successful answer."""
        try:
            body = response.json()
        except ValueError as exc:
            raise ProviderError(
                f"{self.vendor}: malformed answer (HTTP {response.status_code}, not JSON): "
                f"{self.snippet(response.text)!r}"
            ) from exc
        if not isinstance(body, dict):
            raise ProviderError(f"{self.vendor}: malformed answer (not a JSON object)")
        return body

    def raise_for_status(self, response: httpx.Response) -> None:
        """Map a non-2xx answer to ``RetryLater`` (429, 5xx) or ``ProviderError``."""
        status = response.status_code
        if 200 <= status < 300:
            return
        try:
            message = vendor_message(response.json())
        except ValueError:
            message = None
        text = self.scrub(message or self.snippet(response.text) or response.reason_phrase)
        summary = f"{self.vendor} answered HTTP {status}: {text}"
        if status == 429 or status >= 500:
            retry_after = retry_after_seconds(response.headers.get("retry-after"))
            raise RetryLater(summary, retry_after_s=retry_after)
        raise ProviderError(summary)

    def snippet(self, text: str) -> str:
        """The start of a body, on one line, secrets scrubbed."""
        return self.scrub(" ".join(text.split())[:_SNIPPET])


def poll(
    fetch: Callable[[], T],
    done: Callable[[T], bool],
    *,
    interval_s: float,
    timeout_s: float,
    what: str,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Call ``fetch`` until ``done`` says so; a job still running after ``timeout_s`` is
    a ``RetryLater`` (the vendor is slow, the job may yet finish)."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = fetch()
        if done(value):
            return value
        if time.monotonic() >= deadline:
            raise RetryLater(f"{what} still running after {timeout_s:g} s")
        sleep(interval_s)
