"""Where originals and thumbnails are kept: one interface, a local and an S3 backend.

``MEDIAFLOW_STORAGE_URL`` chooses the store: unset (the default) is the local
content store in ``<data_dir>/originals``; ``file:///path`` a local store elsewhere;
``s3://bucket/prefix`` an S3-compatible service (boto3, the ``s3`` extra). Every
backend keeps bytes once per content under their sha256 (``ObjectStore``).
"""

from __future__ import annotations

from mediaflow.storage.base import CHUNK_SIZE, ObjectStore, StoredObject, check_key, hash_file
from mediaflow.storage.local import ContentStore
from mediaflow.storage.url import open_store, open_store_at, parse_storage_url

__all__ = [
    "CHUNK_SIZE",
    "ContentStore",
    "ObjectStore",
    "StoredObject",
    "check_key",
    "hash_file",
    "open_store",
    "open_store_at",
    "parse_storage_url",
]
