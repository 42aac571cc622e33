"""AWS clients through boto3 (the ``mediaflow[cloud]`` extra), and their errors mapped.

Credentials come from ``MEDIAFLOW_AWS_ACCESS_KEY_ID``/``_SECRET_ACCESS_KEY`` when set,
else from the standard AWS chain (environment, shared config, instance roles); the
region from ``MEDIAFLOW_AWS_REGION`` or the chain; the endpoint from
``MEDIAFLOW_AWS_ENDPOINT_URL`` or the standard ``AWS_ENDPOINT_URL`` (boto3 reads that
itself). botocore's own retries are off (one attempt): the pipeline retries, logs
each attempt and honours its own caps.

Errors: throttling codes and HTTP 5xx are ``RetryLater`` (with ``Retry-After`` when a
response carries one), timeouts and connection failures are transient too, anything
else is a ``ProviderError`` with AWS's code and message; secrets are scrubbed.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from typing import Any, TypeVar

from mediaflow.config import Settings
from mediaflow.errors import ProviderError
from mediaflow.providers.cloud.base import secret
from mediaflow.providers.cloud.http import RetryLater, retry_after_seconds, scrub

__all__ = ["THROTTLING", "aws_call", "aws_client", "aws_credentials"]

T = TypeVar("T")

THROTTLING = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "LimitExceededException",
        "SlowDown",
        "RequestLimitExceeded",
        "RequestThrottled",
    }
)


def aws_credentials(settings: Settings) -> tuple[dict[str, str], str | None]:
    """The credentials and region boto3 would use, or why there are none."""
    if importlib.util.find_spec("boto3") is None:
        return {}, "boto3 is not installed (pip install 'mediaflow[cloud]')"
    import boto3

    key_id = secret(settings.aws_access_key_id)
    key = secret(settings.aws_secret_access_key)
    session = boto3.Session(
        aws_access_key_id=key_id, aws_secret_access_key=key, region_name=settings.aws_region
    )
    credentials = session.get_credentials()
    if credentials is None:
        return {}, (
            "no AWS credentials: set MEDIAFLOW_AWS_ACCESS_KEY_ID and "
            "MEDIAFLOW_AWS_SECRET_ACCESS_KEY, or configure the AWS credential chain"
        )
    if not session.region_name:
        return {}, "no AWS region: set MEDIAFLOW_AWS_REGION (or AWS_DEFAULT_REGION)"
    frozen = credentials.get_frozen_credentials()
    found = {
        "access_key_id": frozen.access_key,
        "secret_access_key": frozen.secret_key,
        "region": session.region_name,
    }
    if frozen.token:
        found["session_token"] = frozen.token
    return found, None


def aws_client(settings: Settings, service: str, credentials: dict[str, str]) -> Any:
    """A boto3 client for ``service`` with one attempt and the settings' timeout."""
    import boto3
    from botocore.config import Config

    config = Config(
        retries={"total_max_attempts": 1, "mode": "standard"},
        connect_timeout=settings.provider_timeout_s,
        read_timeout=settings.provider_timeout_s,
        s3={"addressing_style": "path"} if settings.aws_endpoint_url else None,
        # plain bodies: no aws-chunked trailers that a proxy or an older S3 would refuse
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
    )
    return boto3.client(
        service,
        region_name=credentials["region"],
        aws_access_key_id=credentials["access_key_id"],
        aws_secret_access_key=credentials["secret_access_key"],
        aws_session_token=credentials.get("session_token"),
        endpoint_url=settings.aws_endpoint_url,
        config=config,
    )


def aws_call(vendor: str, credentials: dict[str, str], call: Callable[[], T]) -> T:
    """Run one boto3 call; its failures become the error tree (secrets scrubbed)."""
    from botocore.exceptions import (
        BotoCoreError,
        ClientError,
        HTTPClientError,
    )
    from botocore.exceptions import ConnectionError as BotoConnectionError
    from botocore.parsers import ResponseParserError

    secrets = [credentials.get("secret_access_key", ""), credentials.get("session_token", "")]
    try:
        return call()
    except ClientError as exc:
        error = exc.response.get("Error") or {}
        meta = exc.response.get("ResponseMetadata") or {}
        status = int(meta.get("HTTPStatusCode") or 0)
        code = str(error.get("Code") or "error")
        message = scrub(
            f"{vendor} answered HTTP {status} {code}: {error.get('Message', '')}", secrets
        )
        if code in THROTTLING or status == 429 or status >= 500:
            headers = meta.get("HTTPHeaders") or {}
            retry_after = retry_after_seconds(headers.get("retry-after"))
            raise RetryLater(message, retry_after_s=retry_after) from exc
        raise ProviderError(message) from exc
    except (HTTPClientError, BotoConnectionError) as exc:  # timeouts, resets
        raise RetryLater(scrub(f"{vendor}: {type(exc).__name__}: {exc}", secrets)) from exc
    except (BotoCoreError, ResponseParserError) as exc:  # unparseable answers and the like
        text = f"{vendor}: malformed answer or client error: {type(exc).__name__}: {exc}"
        raise ProviderError(scrub(text, secrets)) from exc
