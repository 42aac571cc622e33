"""``Records`` kept in memory: the pipeline's stage logic run without a database.

It implements the same protocol as ``DatabaseRecords`` (what the stages write, one
call at a time), so that stage ordering, failure isolation, skips and retries are
tested in milliseconds; the real-database tests keep covering the SQL.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from mediaflow.db.enums import MediaFileStatus, ProcessingLogStatus, ProcessingStage
from mediaflow.errors import NotFound
from mediaflow.media.probe import ProbeResult
from mediaflow.pipeline.costs import Budget
from mediaflow.pipeline.log import LogEvent
from mediaflow.pipeline.records import ClaimedFile, FileOutcome, KeyframeRow
from mediaflow.providers.base import AnalysisOutput, TranscriptOutput


@dataclass
class MemoryFile:
    """One media_file row, in memory."""

    job_id: uuid.UUID
    storage_key: str | None
    original_name: str
    status: MediaFileStatus = MediaFileStatus.PENDING
    metadata: ProbeResult | None = None
    error: str | None = None


@dataclass
class MemoryRecords:
    """Every write of the stages, kept in lists and dicts."""

    files: dict[uuid.UUID, MemoryFile] = field(default_factory=dict)
    events: list[LogEvent] = field(default_factory=list)
    transcripts: list[tuple[uuid.UUID, str, TranscriptOutput]] = field(default_factory=list)
    results: list[tuple[uuid.UUID, str, AnalysisOutput]] = field(default_factory=list)
    finalized: dict[uuid.UUID, FileOutcome] = field(default_factory=dict)
    keyframes: dict[uuid.UUID, list[KeyframeRow]] = field(default_factory=dict)

    def add_file(self, storage_key: str | None, name: str) -> uuid.UUID:
        """A pending file of a new job; returns its id."""
        file_id = uuid.uuid4()
        self.files[file_id] = MemoryFile(uuid.uuid4(), storage_key, name)
        return file_id

    # -- the Records protocol --------------------------------------------------------

    def claim(self, media_file_id: uuid.UUID) -> ClaimedFile | None:
        file = self.files.get(media_file_id)
        if file is None:
            raise NotFound(f"media file {media_file_id} does not exist")
        if file.status is MediaFileStatus.CANCELLED:
            return None
        file.status = MediaFileStatus.PROCESSING
        return ClaimedFile(media_file_id, file.job_id, file.storage_key, file.original_name)

    def log(self, event: LogEvent) -> None:
        self.events.append(event)

    def save_metadata(self, media_file_id: uuid.UUID, info: ProbeResult) -> None:
        self.files[media_file_id].metadata = info

    def save_transcription(
        self, file: ClaimedFile, provider: str, output: TranscriptOutput, latency_ms: int
    ) -> None:
        self.transcripts.append((file.media_file_id, provider, output))

    def save_analysis(
        self, file: ClaimedFile, provider: str, outputs: list[AnalysisOutput], latency_ms: int
    ) -> None:
        self.results += [(file.media_file_id, provider, output) for output in outputs]

    def save_keyframes(self, file: ClaimedFile, keyframes: list[KeyframeRow]) -> None:
        self.keyframes[file.media_file_id] = list(keyframes)

    def index_file(self, file: ClaimedFile) -> dict[str, object]:
        return {"results": sum(1 for f, _, _ in self.results if f == file.media_file_id)}

    def reusable(
        self, file: ClaimedFile, stage: ProcessingStage, provider: str, fingerprint: str
    ) -> None:
        return None  # reuse by content needs the database (tests/integration/test_reuse.py)

    def reuse(self, file: ClaimedFile, source: Any, stage: ProcessingStage, provider: str) -> int:
        return 0

    def reuse_keyframes(self, file: ClaimedFile, source: Any) -> int:
        return 0

    def flush(self) -> None:
        pass  # every row is kept at once

    def finalize(self, file: ClaimedFile, outcome: FileOutcome) -> None:
        row = self.files[file.media_file_id]
        row.status, row.error = outcome.status, outcome.error
        self.finalized[file.media_file_id] = outcome

    def budget(self, job_id: uuid.UUID) -> Budget:
        return Budget(max_cost=None, spent=0.0)  # no cloud provider runs in memory

    # -- reading back ----------------------------------------------------------------

    def trail(self) -> list[tuple[str, str]]:
        """(stage, status) of every log row, in order."""
        return [(e.stage.value, e.status.value) for e in self.events]

    def rows(
        self, stage: ProcessingStage, status: ProcessingLogStatus | None = None
    ) -> list[LogEvent]:
        """The log rows of one stage (and status)."""
        return [
            e for e in self.events if e.stage is stage and (status is None or e.status is status)
        ]

    def details(self, stage: ProcessingStage, status: ProcessingLogStatus) -> list[dict[str, Any]]:
        """The details of one stage's rows of one status."""
        return [e.details for e in self.rows(stage, status)]
