"""The last step of a chunked file: its chunks' results become the file's, once.

``assemble`` gets the JSON objects the chunk tasks left in the content store (see
``pipeline.chunked``) and writes through the ordinary ``Records``: every write
supersedes, so running it again (its task died half-way) leaves the same rows.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

from mediaflow.db.enums import MediaFileStatus, ProcessingLogStatus, ProcessingStage
from mediaflow.pipeline.chunks import Chunk, merge_analyses, stitch_transcripts
from mediaflow.pipeline.log import LogEvent, error_message, stage_timer
from mediaflow.pipeline.records import ClaimedFile, FileOutcome, KeyframeRow, Records
from mediaflow.providers.base import AnalysisOutput, Segment, TranscriptOutput, Word

__all__ = ["assemble"]


def _transcript(data: dict[str, Any]) -> TranscriptOutput:
    segments = [
        Segment(**{**s, "words": [Word(**w) for w in s["words"]]}) for s in data["segments"]
    ]
    return TranscriptOutput(**{**data, "segments": segments})


def _names(parts: list[dict[str, Any]], kind: str) -> list[str]:
    """The providers with results of ``kind`` in any chunk, in order of first sighting."""
    return list(dict.fromkeys(name for part in parts for name in part[kind]))


def assemble(records: Records, file: ClaimedFile, run: str, parts: list[dict[str, Any]]) -> None:
    """Write the file's results from its chunks' ``parts`` (in chunk order) and finalize it.

    Transcripts are stitched (a provider missing in any chunk is a failure of that
    provider), analyses merged, keyframes renumbered in time order; the file is
    indexed and its status set, as the whole-file pipeline does.
    """
    media_file_id = file.media_file_id
    chunks = [Chunk.from_dict(p["chunk"]) for p in parts]
    outcome = FileOutcome(media_file_id, MediaFileStatus.PROCESSING)
    outcome.provider_failures = [
        f"{f} (chunk {c.index + 1})"
        for c, p in zip(chunks, parts, strict=True)
        for f in p["failures"]
    ]
    started = time.perf_counter()
    for name in _names(parts, "transcripts"):
        missing = [
            c.index + 1 for c, p in zip(chunks, parts, strict=True) if name not in p["transcripts"]
        ]
        if missing:
            outcome.provider_failures.append(f"{name}: no transcript of chunk(s) {missing}")
            continue
        stitched = stitch_transcripts(
            chunks, [_transcript(p["transcripts"][name]["output"]) for p in parts]
        )
        latency = sum(int(p["transcripts"][name]["latency_ms"]) for p in parts)
        records.save_transcription(file, name, stitched, latency)
        outcome.transcriptions += 1
    for name in _names(parts, "analyses"):
        having = [(c, p) for c, p in zip(chunks, parts, strict=True) if name in p["analyses"]]
        merged = merge_analyses(
            [c for c, _ in having],
            [[AnalysisOutput(**o) for o in p["analyses"][name]["outputs"]] for _, p in having],
            offsets=[float(p["analyses"][name]["offset_s"]) for _, p in having],
        )
        latency = sum(int(p["analyses"][name]["latency_ms"]) for _, p in having)
        records.save_analysis(file, name, merged, latency)
        outcome.results += len(merged)
    keyframes = [KeyframeRow(**row) for p in parts for row in p["keyframes"]]
    records.save_keyframes(file, [dataclasses.replace(k, shot=i) for i, k in enumerate(keyframes)])
    records.log(
        LogEvent(
            file.job_id, media_file_id, ProcessingStage.TRANSCRIPTION,
            ProcessingLogStatus.COMPLETED,
            message=f"{len(chunks)} chunks put together",
            details={"run": run, "chunks": len(chunks), "transcriptions": outcome.transcriptions,
                     "results": outcome.results, "keyframes": len(keyframes)},
            duration_ms=round((time.perf_counter() - started) * 1000),
        )
    )  # fmt: skip
    try:
        with stage_timer(records.log, file.job_id, media_file_id, ProcessingStage.INDEXING) as step:
            step.details.update(records.index_file(file))
    except Exception as exc:
        outcome.provider_failures.append(f"search index: {error_message(exc)}")
    outcome.status = MediaFileStatus.COMPLETED
    records.finalize(file, outcome)
