"""FFmpeg's own messages go to Python logging, never straight to the terminal.

Left alone, libav prints lines such as ``[mpeg4 @ 0x...] Video uses a non-standard
and wasteful way to store B-frames`` on stderr, between the CLI's own lines. Once
``route_ffmpeg_logs()`` has run (every ``Runtime`` runs it), PyAV hands them to the
``libav.*`` loggers and they are re-logged at DEBUG on ``mediaflow.ffmpeg``
("[mpeg4] Video uses ..."): shown with ``--log-level debug`` style configuration,
silent otherwise. Decoder errors then also carry FFmpeg's last message.
"""

from __future__ import annotations

import logging
import threading

import av.logging

__all__ = ["FFMPEG_LOGGER", "route_ffmpeg_logs"]

FFMPEG_LOGGER = "mediaflow.ffmpeg"

_lock = threading.Lock()


class _ToDebug(logging.Handler):
    """Re-log each ``libav.<component>`` record at DEBUG on ``mediaflow.ffmpeg``."""

    def emit(self, record: logging.LogRecord) -> None:
        component = record.name.removeprefix("libav.").removeprefix("libav")
        logging.getLogger(FFMPEG_LOGGER).debug(
            "[%s] %s", component or "libav", record.getMessage().strip()
        )


def route_ffmpeg_logs(level: int = av.logging.WARNING) -> None:
    """Send FFmpeg messages of ``level`` and above to ``mediaflow.ffmpeg`` at DEBUG (once)."""
    with _lock:
        libav = logging.getLogger("libav")
        if any(isinstance(h, _ToDebug) for h in libav.handlers):
            return
        libav.addHandler(_ToDebug())
        libav.propagate = False  # the root handlers never see the raw lines
        libav.setLevel(logging.DEBUG)
        av.logging.set_level(level)
