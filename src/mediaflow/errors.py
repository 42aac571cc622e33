"""The one error tree of mediaflow.

Every error a user can cause or meet is a ``MediaflowError``; each class carries a
stable ``code``, the HTTP status the API answers with, the exit code the CLI ends
with, and whether retrying may help::

    MediaflowError                      code            http  exit  retryable
    ├── ConfigurationError              config          500   78    no
    │   └── DataDirError                data_dir        500   78    no
    ├── DatabaseError                   database        503   69    yes
    │   ├── DatabaseUnavailable         db_unavailable  503   69    yes
    │   └── MigrationError              migration       500   70    no
    │       └── UnknownRevision         unknown_revision 400  64    no
    ├── SchemaMismatch                  schema_mismatch 500   1     no
    ├── InvalidInput                    invalid_input   422   65    no
    │   ├── UnsupportedMedia            unsupported_media 415 65    no
    │   └── PayloadTooLarge             too_large       413   65    no
    ├── NotFound                        not_found       404   66    no
    ├── Refused                         refused         409   77    no
    ├── AuthError                       unauthorized    401   77    no
    ├── Forbidden                       forbidden       403   77    no
    ├── FeatureUnavailable              feature_unavailable 409 69  no
    ├── ProviderError                   provider        502   75    no
    │   ├── ProviderUnavailable         provider_unavailable 503 69 no
    │   └── TransientProviderError      provider_transient 503 75  yes
    └── StorageError                    storage         503   69    no
        ├── StorageUnavailable          storage_unavailable 503 69 yes
        ├── StorageDenied               storage_denied  503   77    no
        └── IntegrityError              integrity       500   65    no

Driver errors are translated to this tree in one place (``mediaflow.db.session``);
the CLI and the API map them to exit codes and statuses from these attributes only.
"""

from __future__ import annotations


class MediaflowError(Exception):
    """Root of every error mediaflow raises on purpose."""

    code = "error"
    http_status = 500
    exit_code = 1
    retryable = False

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class ConfigurationError(MediaflowError):
    """A setting is missing or wrong."""

    code = "config"
    exit_code = 78  # EX_CONFIG


class DataDirError(ConfigurationError):
    """The data directory is missing or unusable."""

    code = "data_dir"


class DatabaseError(MediaflowError):
    """The database failed in a way that is not the caller's fault."""

    code = "database"
    http_status = 503
    exit_code = 69  # EX_UNAVAILABLE
    retryable = True


class DatabaseUnavailable(DatabaseError):
    """The database cannot be reached."""

    code = "db_unavailable"


class MigrationError(DatabaseError):
    """A migration command failed."""

    code = "migration"
    http_status = 500
    exit_code = 70  # EX_SOFTWARE
    retryable = False


class UnknownRevision(MigrationError):
    """A revision named on the command line does not exist."""

    code = "unknown_revision"
    http_status = 400
    exit_code = 64  # EX_USAGE


class SchemaMismatch(MediaflowError):
    """The live schema differs from what its alembic revision should have produced."""

    code = "schema_mismatch"


class InvalidInput(MediaflowError):
    """The caller gave something we cannot use."""

    code = "invalid_input"
    http_status = 422
    exit_code = 65  # EX_DATAERR


class UnsupportedMedia(InvalidInput):
    """The content is not a media type mediaflow can analyze."""

    code = "unsupported_media"
    http_status = 415


class PayloadTooLarge(InvalidInput):
    """An upload is larger than the configured limit."""

    code = "too_large"
    http_status = 413


class NotFound(MediaflowError):
    """A job, media file or other object does not exist."""

    code = "not_found"
    http_status = 404
    exit_code = 66  # EX_NOINPUT


class Refused(MediaflowError):
    """A dangerous operation was refused (e.g. reset without --yes)."""

    code = "refused"
    http_status = 409
    exit_code = 77  # EX_NOPERM


class AuthError(MediaflowError):
    """Missing, wrong or revoked credentials."""

    code = "unauthorized"
    http_status = 401
    exit_code = 77


class ProviderError(MediaflowError):
    """A transcription or analysis provider failed."""

    code = "provider"
    http_status = 502
    exit_code = 75  # EX_TEMPFAIL


class ProviderUnavailable(ProviderError):
    """A provider cannot run here (missing key, missing model, missing package)."""

    code = "provider_unavailable"
    http_status = 503
    exit_code = 69


class TransientProviderError(ProviderError):
    """A provider failed in a way that a retry may fix (timeouts, 429, 5xx)."""

    code = "provider_transient"
    http_status = 503
    retryable = True


class Forbidden(MediaflowError):
    """The caller may not reach this (e.g. a server-side path outside the allowed roots)."""

    code = "forbidden"
    http_status = 403
    exit_code = 77  # EX_NOPERM


class FeatureUnavailable(MediaflowError):
    """A feature cannot run on this installation (a missing extension or model).

    A 409: the request is fine, the server's state does not allow it; the message says
    what is missing and how to add it.
    """

    code = "feature_unavailable"
    http_status = 409
    exit_code = 69  # EX_UNAVAILABLE


class StorageError(MediaflowError):
    """The object store (local folder or S3-compatible service) failed.

    Messages name the store (URL without credentials, endpoint, bucket) and the reason;
    they never carry credentials.
    """

    code = "storage"
    http_status = 503
    exit_code = 69  # EX_UNAVAILABLE


class StorageUnavailable(StorageError):
    """The store cannot be reached (endpoint down, timeout): retrying may help."""

    code = "storage_unavailable"
    retryable = True


class StorageDenied(StorageError):
    """The store refused us (credentials, bucket policy, a missing bucket)."""

    code = "storage_denied"
    exit_code = 77  # EX_NOPERM


class IntegrityError(StorageError):
    """Bytes did not hash to the key they were stored or fetched under."""

    code = "integrity"
    http_status = 500
    exit_code = 65  # EX_DATAERR
