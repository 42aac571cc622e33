"""Originals and thumbnails in S3-compatible object storage (AWS S3, MinIO, Ceph, R2…).

Objects live under ``<prefix>/ab/cd/<sha256>`` in one bucket: the same
content-addressed keys as the local store, so a store can be copied either way
(``mediaflow storage migrate``). Endpoint, region and credentials come from the
standard AWS settings (``AWS_ENDPOINT_URL``, ``AWS_REGION``, ``AWS_ACCESS_KEY_ID``,
``AWS_PROFILE``…), read by boto3 itself; mediaflow never stores or prints them.

Uploads are streamed from the file: small ones in one PUT, larger ones as a
multipart upload (``part_size`` bytes a part) that is aborted when anything fails,
so an interrupted upload leaves neither an object nor parts behind. Each upload
carries the SHA-256 of its bytes (S3 checks it on arrival) and is hashed again while
it is read, so a file that changes meanwhile is refused. Downloads into the local
cache are hashed too: what a worker decodes is always what the key promises.

boto3 is an optional extra (``pip install 'mediaflow[s3]'``); it is imported here
only, when an ``s3://`` store is configured. Driver errors become ``StorageError``s
in one place (``_translate``), with endpoint, bucket and reason, never credentials.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, cast

from mediaflow.errors import (
    ConfigurationError,
    IntegrityError,
    InvalidInput,
    NotFound,
    StorageDenied,
    StorageError,
    StorageUnavailable,
)
from mediaflow.storage.base import CHUNK_SIZE, ObjectStore, StoredObject, check_key, hash_file
from mediaflow.storage.cache import ObjectCache

__all__ = ["S3Options", "S3Store"]

# S3's smallest part (but the last); 8 MiB keeps memory flat and parts few
MIN_PART_SIZE = 5 * 1024 * 1024
_NOT_FOUND = {"404", "NoSuchKey", "NotFound"}
_DENIED = {
    "403", "AccessDenied", "Forbidden", "InvalidAccessKeyId", "SignatureDoesNotMatch",
    "InvalidToken", "ExpiredToken", "AccountProblem", "AllAccessDisabled",
}  # fmt: skip
_UNAVAILABLE = {"500", "502", "503", "504", "SlowDown", "ServiceUnavailable", "InternalError"}


@dataclass(frozen=True)
class S3Options:
    """How the store talks to the service (from the ``MEDIAFLOW_STORAGE_*`` settings)."""

    part_size: int = 8 * 1024 * 1024
    multipart_threshold: int = 16 * 1024 * 1024
    retry_attempts: int = 3
    connect_timeout_s: float = 5.0
    read_timeout_s: float = 60.0
    addressing_style: str = "auto"


class S3Store(ObjectStore):
    """Objects in ``bucket`` under ``prefix``, fetched to ``cache`` for decoding."""

    def __init__(
        self, bucket: str, prefix: str, cache: ObjectCache, options: S3Options | None = None
    ) -> None:
        if not bucket:
            raise ConfigurationError("MEDIAFLOW_STORAGE_URL names no bucket (s3://bucket/prefix)")
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.cache = cache
        self.options = options or S3Options()
        if self.options.part_size < MIN_PART_SIZE:
            raise ConfigurationError(
                f"storage part size {self.options.part_size} is below S3's {MIN_PART_SIZE}"
            )
        self._client: Any = None
        self._secrets: tuple[str, ...] = ()
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"S3Store({self.url!r})"

    @property
    def url(self) -> str:
        """``s3://bucket/prefix``."""
        return f"s3://{self.bucket}/{self.prefix}" if self.prefix else f"s3://{self.bucket}"

    @property
    def endpoint(self) -> str:
        """The service's endpoint URL (the configured one, or AWS's for the region)."""
        return str(self.client.meta.endpoint_url)

    def describe(self) -> str:
        """Bucket, prefix and endpoint; never credentials."""
        try:
            endpoint = self.endpoint
        except StorageError:
            endpoint = "(no endpoint)"
        return f"object store {self.url} at {endpoint}"

    # --- the client -------------------------------------------------------------------

    @property
    def client(self) -> Any:
        """The boto3 S3 client (built on first use; thread-safe once built)."""
        if self._client is None:
            with self._lock:
                if self._client is None:
                    self._client = self._build_client()
        return self._client

    def _build_client(self) -> Any:
        try:
            import boto3
            from botocore.config import Config
        except ImportError:
            raise ConfigurationError(
                f"MEDIAFLOW_STORAGE_URL={self.url} needs boto3",
                hint="pip install 'mediaflow[s3]'",
            ) from None
        session = boto3.session.Session()
        credentials = session.get_credentials()
        if credentials is not None:
            frozen = credentials.get_frozen_credentials()
            # scrubbed from every message we raise: a driver might quote them
            self._secrets = tuple(
                s for s in (frozen.access_key, frozen.secret_key, frozen.token) if s
            )
        config = Config(
            retries={"max_attempts": self.options.retry_attempts, "mode": "standard"},
            connect_timeout=self.options.connect_timeout_s,
            read_timeout=self.options.read_timeout_s,
            s3={"addressing_style": self.options.addressing_style},
            signature_version="s3v4",  # presigned URLs too (SigV2 is gone from most regions)
            # checksums only where we ask for them (SHA-256 below), not CRC32 on every call
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        )
        try:
            return session.client("s3", config=config)
        except Exception as exc:  # no region, a malformed endpoint URL
            raise ConfigurationError(
                f"object store {self.url}: {self._scrub(str(exc))}",
                hint="check AWS_ENDPOINT_URL and AWS_REGION",
            ) from None

    def _scrub(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    def _translate(self, exc: Exception, action: str, key: str | None = None) -> Exception:
        """One ``MediaflowError`` for a driver error: what, where, why; no credentials."""
        from botocore import exceptions as bx

        where = f"{self.url} at {self._endpoint_or_none()}"
        what = f"{action} {key}" if key else action
        if isinstance(exc, bx.ClientError):
            error = exc.response.get("Error", {})
            code = str(error.get("Code", ""))
            status = str(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", ""))
            reason = self._scrub(f"{code or status}: {error.get('Message') or 'no message'}")
            if key is not None and (code in _NOT_FOUND or status == "404"):
                return NotFound(f"object {key} is missing from object store {where}")
            if code == "NoSuchBucket" or (key is None and status == "404"):
                return StorageDenied(f"object store {where}: bucket {self.bucket} does not exist")
            if code in _DENIED or status == "403":
                return StorageDenied(f"object store {where}: {what} refused ({reason})")
            if code in _UNAVAILABLE or status.startswith("5"):
                return StorageUnavailable(f"object store {where}: {what} failed ({reason})")
            return StorageError(f"object store {where}: {what} failed ({reason})")
        if isinstance(exc, bx.NoCredentialsError | bx.PartialCredentialsError):
            return StorageDenied(
                f"object store {where}: no credentials",
                hint="set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE",
            )
        if isinstance(exc, bx.EndpointConnectionError | bx.ConnectionError | bx.HTTPClientError):
            return StorageUnavailable(
                f"object store {where}: cannot reach the endpoint "
                f"({type(exc).__name__}, {self.options.retry_attempts} attempts)"
            )
        if isinstance(exc, bx.BotoCoreError):
            return StorageError(f"object store {where}: {what} failed ({self._scrub(str(exc))})")
        return exc

    def _endpoint_or_none(self) -> str:
        client = self._client
        return str(client.meta.endpoint_url) if client is not None else "(no client)"

    def _call(self, method: str, action: str, key: str | None = None, **params: Any) -> Any:
        try:
            return getattr(self.client, method)(**params)
        except StorageError:
            raise
        except Exception as exc:
            translated = self._translate(exc, action, key)
            if translated is exc:
                raise
            raise translated from None

    def object_name(self, key: str) -> str:
        """The S3 object name of ``key`` (``<prefix>/ab/cd/<key>``)."""
        check_key(key)
        name = f"{key[:2]}/{key[2:4]}/{key}"
        return f"{self.prefix}/{name}" if self.prefix else name

    # --- the interface ----------------------------------------------------------------

    def check(self) -> None:
        """The bucket exists and these credentials may see it (one HEAD request)."""
        self._call("head_bucket", "check the bucket", Bucket=self.bucket)

    def _head(self, key: str) -> dict[str, Any] | None:
        try:
            return cast(
                dict[str, Any],
                self._call(
                    "head_object", "look up", key, Bucket=self.bucket, Key=self.object_name(key)
                ),
            )
        except NotFound:
            return None

    def exists(self, key: str) -> bool:
        """Whether object ``key`` is in the bucket."""
        return self._head(key) is not None

    def size(self, key: str) -> int:
        """The object's size; ``NotFound`` when it is missing."""
        head = self._head(key)
        if head is None:
            raise self.missing(key)
        return int(head["ContentLength"])

    def _get(self, key: str, byte_range: str | None = None) -> Any:
        params: dict[str, Any] = {"Bucket": self.bucket, "Key": self.object_name(key)}
        if byte_range:
            params["Range"] = byte_range
        return self._call("get_object", "read", key, **params)

    def read_range(self, key: str, start: int = 0, length: int | None = None) -> Iterator[bytes]:
        """Stream a byte range (an HTTP Range request to the service)."""
        if length == 0:
            self.size(key)  # still NotFound for a missing object
            return iter(())
        byte_range = None
        if start or length is not None:
            end = "" if length is None else str(start + length - 1)
            byte_range = f"bytes={start}-{end}"
        body = self._get(key, byte_range)["Body"]
        return self._iter_body(body, key)

    def _iter_body(self, body: Any, key: str) -> Iterator[bytes]:
        try:
            yield from body.iter_chunks(CHUNK_SIZE)
        except Exception as exc:
            translated = self._translate(exc, "read", key)
            if translated is exc:
                raise
            raise translated from None
        finally:
            body.close()

    def open(self, key: str) -> BinaryIO:
        """The object's body as a readable stream."""
        return cast(BinaryIO, self._get(key)["Body"])

    def store(self, src_path: Path, *, replace: bool = False) -> StoredObject:
        """Upload ``src_path`` once per content (hashed first: a present key is not resent)."""
        src = Path(src_path)
        if not src.exists():
            raise NotFound(f"{src} does not exist")
        if not src.is_file():
            raise InvalidInput(f"{src} is not a regular file")
        key, size = hash_file(src)
        head = None if replace else self._head(key)
        if head is not None and int(head["ContentLength"]) == size:
            return StoredObject(key, key, size, None, deduplicated=True)
        if size <= self.options.multipart_threshold:
            self._put(src, key, size)
        else:
            self._put_multipart(src, key)
        return StoredObject(key, key, size, None)

    def store_bytes(self, data: bytes) -> StoredObject:
        """Upload a small object (a thumbnail) in one PUT, once per content."""
        key = hashlib.sha256(data).hexdigest()
        head = self._head(key)
        if head is not None and int(head["ContentLength"]) == len(data):
            return StoredObject(key, key, len(data), None, deduplicated=True)
        self._put_data(data, key)
        return StoredObject(key, key, len(data), None)

    def _put(self, src: Path, key: str, size: int) -> None:
        data = src.read_bytes()  # at most multipart_threshold bytes
        if len(data) != size or hashlib.sha256(data).hexdigest() != key:
            raise IntegrityError(f"{src} changed while it was being stored")
        self._put_data(data, key)

    def _put_data(self, data: bytes, key: str) -> None:
        digest = hashlib.sha256(data).digest()
        self._call(
            "put_object", "upload", key,
            Bucket=self.bucket, Key=self.object_name(key), Body=data,
            ChecksumSHA256=base64.b64encode(digest).decode(), Metadata={"sha256": key},
        )  # fmt: skip

    def _put_multipart(self, src: Path, key: str) -> None:
        name = self.object_name(key)
        upload = self._call(
            "create_multipart_upload", "start the upload of", key,
            Bucket=self.bucket, Key=name, Metadata={"sha256": key}, ChecksumAlgorithm="SHA256",
        )  # fmt: skip
        upload_id = upload["UploadId"]
        try:
            parts = []
            digest = hashlib.sha256()
            with src.open("rb") as source:
                number = 1
                while chunk := source.read(self.options.part_size):
                    digest.update(chunk)
                    parts.append(self._upload_part(name, upload_id, number, chunk, key))
                    number += 1
            if digest.hexdigest() != key:
                raise IntegrityError(f"{src} changed while it was being stored")
            self._call(
                "complete_multipart_upload", "finish the upload of", key,
                Bucket=self.bucket, Key=name, UploadId=upload_id,
                MultipartUpload={"Parts": parts},
            )  # fmt: skip
        except BaseException:
            # an interrupted upload leaves no parts behind (they would be billed forever)
            # the endpoint may be what failed: the original error is the one to report
            with contextlib.suppress(Exception):
                self.client.abort_multipart_upload(Bucket=self.bucket, Key=name, UploadId=upload_id)
            raise

    def _upload_part(
        self, name: str, upload_id: str, number: int, chunk: bytes, key: str
    ) -> dict[str, Any]:
        checksum = base64.b64encode(hashlib.sha256(chunk).digest()).decode()
        answer = self._call(
            "upload_part", f"upload part {number} of", key,
            Bucket=self.bucket, Key=name, UploadId=upload_id, PartNumber=number, Body=chunk,
            ChecksumAlgorithm="SHA256", ChecksumSHA256=checksum,
        )  # fmt: skip
        return {"ETag": answer["ETag"], "PartNumber": number, "ChecksumSHA256": checksum}

    def pending_uploads(self) -> list[str]:
        """Object names with an unfinished multipart upload under the prefix."""
        answer = self._call(
            "list_multipart_uploads", "list uploads", Bucket=self.bucket, Prefix=self.prefix
        )
        return [upload["Key"] for upload in answer.get("Uploads", [])]

    def local_path(self, key: str) -> Path:
        """A verified copy in the local cache (fetched on a miss)."""
        return self.cache.get(key, lambda dest: self._download(key, dest))

    def delete(self, key: str) -> None:
        """Remove object ``key`` from the bucket and this worker's cache (S3 deletes are
        idempotent: a missing object is no error)."""
        self._call("delete_object", "delete", key, Bucket=self.bucket, Key=self.object_name(key))
        self.cache.forget(key)

    def release(self, key: str) -> None:
        """The caller is done decoding ``key``: its cached copy may be evicted."""
        self.cache.release(key)

    def _download(self, key: str, dest: Path) -> None:
        digest = hashlib.sha256()
        with dest.open("wb") as out:
            for chunk in self.read_range(key):
                digest.update(chunk)
                out.write(chunk)
        if digest.hexdigest() != key:
            raise IntegrityError(
                f"object {key} in {self.describe()} hashes to {digest.hexdigest()}: "
                "it is damaged and was not used"
            )

    def presigned_url(self, key: str, expires_s: int, content_type: str | None = None) -> str:
        """A GET URL for object ``key``, valid ``expires_s`` seconds (signed locally)."""
        params: dict[str, Any] = {"Bucket": self.bucket, "Key": self.object_name(key)}
        if content_type:
            params["ResponseContentType"] = content_type
        return str(
            self._call(
                "generate_presigned_url", "sign", key,
                ClientMethod="get_object", Params=params, ExpiresIn=expires_s,
            )
        )  # fmt: skip

    def iter_keys(self) -> Iterator[str]:
        """Every key under the prefix (list requests, 1,000 names each)."""
        paginator = self.client.get_paginator("list_objects_v2")
        prefix = f"{self.prefix}/" if self.prefix else ""
        try:
            for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
                for item in page.get("Contents", []):
                    name = str(item["Key"]).rsplit("/", 1)[-1]
                    try:
                        yield check_key(name)
                    except InvalidInput:  # not ours
                        continue
        except StorageError:
            raise
        except Exception as exc:
            translated = self._translate(exc, "list")
            if translated is exc:
                raise
            raise translated from None
