"""FFmpeg's own messages never reach the terminal; on request they go to Python logging.

Left alone, libav prints lines such as ``[mpeg4 @ 0x...] Video uses a non-standard
and wasteful way to store B-frames`` on stderr, between the CLI's own lines.

By default (``MEDIAFLOW_FFMPEG_LOG_LEVEL=off``) FFmpeg drops them itself: PyAV's
no-op callback, which never touches Python. PyAV's Python callback takes the GIL for
every message, also from FFmpeg's decoding threads, and that deadlocked a decode here:
the main thread, holding the GIL, freed a codec context and waited for its threads;
one of them was logging and waited for the GIL (seen in a test run under load; a
worker stuck that way keeps its heartbeat and never finishes its file). PyAV makes
"off" its own default for that reason.

For debugging, a level (``error``, ``warning``, ``info``) routes the messages to the
``libav.*`` loggers and they are re-logged at DEBUG on ``mediaflow.ffmpeg``
("[mpeg4] Video uses ..."), at that risk.
"""

from __future__ import annotations

import logging
import threading

import av.logging

from mediaflow.config import FfmpegLogLevel

__all__ = ["FFMPEG_LOGGER", "route_ffmpeg_logs"]

FFMPEG_LOGGER = "mediaflow.ffmpeg"
_LEVELS: dict[str, int | None] = {
    "off": None,
    "error": av.logging.ERROR,
    "warning": av.logging.WARNING,
    "info": av.logging.INFO,
}

_lock = threading.Lock()


class _ToDebug(logging.Handler):
    """Re-log each ``libav.<component>`` record at DEBUG on ``mediaflow.ffmpeg``."""

    def emit(self, record: logging.LogRecord) -> None:
        component = record.name.removeprefix("libav.").removeprefix("libav")
        logging.getLogger(FFMPEG_LOGGER).debug(
            "[%s] %s", component or "libav", record.getMessage().strip()
        )


def route_ffmpeg_logs(level: FfmpegLogLevel = "off") -> None:
    """Drop FFmpeg's messages (``off``), or send those of ``level`` and above to
    ``mediaflow.ffmpeg`` at DEBUG. Either way nothing goes to stderr."""
    with _lock:
        libav = logging.getLogger("libav")
        if not any(isinstance(h, _ToDebug) for h in libav.handlers):
            libav.addHandler(_ToDebug())
            libav.propagate = False  # the root handlers never see the raw lines
            libav.setLevel(logging.DEBUG)
        av.logging.set_level(_LEVELS[level])
