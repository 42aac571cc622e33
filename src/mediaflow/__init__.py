"""mediaflow: self-hosted media analysis kept in PostgreSQL."""

from mediaflow.config import Settings, get_settings
from mediaflow.errors import MediaflowError

__all__ = ["MediaflowError", "Settings", "get_settings"]
__version__ = "0.1.0"
