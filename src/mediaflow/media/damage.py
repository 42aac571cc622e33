"""Damage found while decoding: how many packets of a stream failed, and where.

Real files are often slightly damaged (a cut last frame, a bad packet in the
middle) and players play them anyway. mediaflow does too: decoders skip what fails
and count it here; the file is refused only when more than a set fraction of a
stream's packets cannot be decoded (``MEDIAFLOW_MAX_UNDECODABLE_FRACTION``,
default 0.25). The counts go to the file's stream metadata and to processing_log.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mediaflow.errors import InvalidInput

__all__ = ["DEFAULT_MAX_UNDECODABLE_FRACTION", "StreamDamage"]

DEFAULT_MAX_UNDECODABLE_FRACTION = 0.25
_KEEP_TIMES = 20  # where the first bad packets were; enough to find them, bounded in size


@dataclass
class StreamDamage:
    """Packets read and packets that failed to decode in one stream."""

    kind: str  # "audio" or "video"
    codec: str
    index: int | None = None
    packets: int = 0
    bad_packets: int = 0
    bad_at_s: list[float] = field(default_factory=list)
    last_reason: str | None = None

    def packet(self) -> None:
        """Count one packet read (empty flush packets are not counted)."""
        self.packets += 1

    def bad(self, time_s: float | None, reason: str) -> None:
        """Count one packet that failed to decode, at ``time_s`` seconds."""
        self.bad_packets += 1
        self.last_reason = reason
        if time_s is not None and len(self.bad_at_s) < _KEEP_TIMES:
            self.bad_at_s.append(round(time_s, 3))

    @property
    def damaged(self) -> bool:
        """Whether any packet failed."""
        return self.bad_packets > 0

    @property
    def fraction(self) -> float:
        """The share of packets that failed (0 when nothing was read)."""
        return self.bad_packets / self.packets if self.packets else 0.0

    def summary(self) -> str:
        """One line for people: '1 of 344 ac3 audio packets undecodable (at 11.01 s)'."""
        where = ""
        if self.bad_at_s:
            times = ", ".join(f"{t:.2f} s" for t in self.bad_at_s[:5])
            more = ", ..." if self.bad_packets > 5 else ""
            where = f" (at {times}{more})"
        return (
            f"{self.bad_packets} of {self.packets} {self.codec} {self.kind} packets "
            f"undecodable{where}"
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable counts, as stored with the stream's metadata."""
        return {
            "packets": self.packets,
            "bad_packets": self.bad_packets,
            "fraction": round(self.fraction, 4),
            "bad_at_s": list(self.bad_at_s),
            "reason": self.last_reason,
        }

    def check(self, max_fraction: float) -> None:
        """Refuse the stream when more than ``max_fraction`` of its packets failed."""
        if self.packets and self.fraction > max_fraction:
            raise InvalidInput(
                f"truncated or corrupt {self.kind}: too little decodes: {self.summary()}, "
                f"more than the {max_fraction:.0%} allowed (MEDIAFLOW_MAX_UNDECODABLE_FRACTION)"
            )
