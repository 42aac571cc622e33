"""Chunk plans, transcript stitching and analysis merging (pure, no media, no database)."""

from __future__ import annotations

import itertools

import pytest

from mediaflow.pipeline.chunks import Chunk, merge_analyses, plan_chunks, stitch_transcripts
from mediaflow.providers.base import AnalysisOutput, Segment, TranscriptOutput, Word
from mediaflow.providers.transcription.pause_windows import REACH_S, SPACING_S


def test_a_file_up_to_the_threshold_is_not_split() -> None:
    options = {"threshold_s": 20.0, "length_s": 15.0, "overlap_s": 3.0}
    assert plan_chunks(20.0, **options) == []
    assert plan_chunks(None, **options) == []
    assert plan_chunks(3600.0, threshold_s=0, length_s=600, overlap_s=5) == []  # 0: off
    # longer than the threshold but not even two chunks long: one whole piece
    assert plan_chunks(21.0, threshold_s=20.0, length_s=30.0, overlap_s=3.0) == []


def test_chunks_tile_the_file_on_pause_anchors_and_their_audio_overlaps() -> None:
    chunks = plan_chunks(62.0, threshold_s=20.0, length_s=20.0, overlap_s=6.0)
    assert [(c.start_s, c.end_s) for c in chunks] == [(0, 20.0), (20.0, 40.0), (40.0, 62.0)]
    for before, after in itertools.pairwise(chunks):
        assert before.end_s == after.start_s  # no gap, no overlap of owned spans
        assert before.end_s % SPACING_S == 0  # on an anchor of the pause windows
        assert before.audio_end_s == pytest.approx(before.end_s + 6.0)
        assert after.audio_start_s == pytest.approx(after.start_s - 6.0)
    assert chunks[0].audio_start_s == 0 and chunks[-1].audio_end_s == 62.0
    # exactly half a spacing before the end is no anchor of the whole file: no edge there
    assert [c.end_s for c in plan_chunks(50.0, threshold_s=20, length_s=16, overlap_s=5)] == [
        20.0,
        50.0,
    ]
    # too small an overlap for the pause search is widened to its reach
    narrow = plan_chunks(62.0, threshold_s=20.0, length_s=20.0, overlap_s=1.0)
    assert all(c.end_s - c.audio_start_s > REACH_S for c in narrow[1:])
    # no chunk edge in the last half spacing: the whole file has no anchor there
    assert plan_chunks(40.0, threshold_s=20.0, length_s=15.0, overlap_s=3.0)[-1].start_s == 20.0
    assert plan_chunks(30.0, threshold_s=20.0, length_s=15.0, overlap_s=3.0) == []
    hour = plan_chunks(3600.0, threshold_s=1800, length_s=600, overlap_s=5)
    assert len(hour) == 6 and all(c.duration_s == pytest.approx(600) for c in hour)
    assert Chunk.from_dict(hour[3].as_dict()) == hour[3]
    with pytest.raises(ValueError):
        plan_chunks(100.0, threshold_s=10, length_s=0, overlap_s=1)


def _transcript(words: list[tuple[str, float, float]]) -> TranscriptOutput:
    items = [Word(start=s, end=e, word=w, probability=0.9) for w, s, e in words]
    segment = Segment(start=items[0].start, end=items[-1].end, text=" ".join(w for w, _, _ in words),
                      words=items)  # fmt: skip
    return TranscriptOutput(text=segment.text, segments=[segment], language="en", confidence=0.9,
                            model="tiny.en")  # fmt: skip


# One sentence spoken across a chunk edge at 10 s; each chunk heard it with slightly
# different timings, and each heard a cut-off word at its audio's edge.
SPOKEN = [("the", 8.0, 8.3), ("quick", 8.4, 8.9), ("brown", 9.0, 9.5), ("fox", 9.7, 10.3),
          ("jumps", 10.6, 11.0), ("over", 11.1, 11.5)]  # fmt: skip
CHUNKS = [Chunk(0, 0.0, 10.0, 0.0, 12.0), Chunk(1, 10.0, 20.0, 8.0, 20.0)]


def test_transcripts_that_name_their_span_are_joined_where_the_later_one_starts() -> None:
    # pause decoding: each chunk answers for [its start cut, its end cut), both cut at
    # the pause the whole file is cut at (9.4 s, between "brown" and "fox")
    earlier = _transcript(SPOKEN[:3])
    earlier.details["span_s"] = [0.0, 9.4]
    later = _transcript(SPOKEN[3:])
    later.details["span_s"] = [9.4, 20.0]
    stitched = stitch_transcripts(CHUNKS, [earlier, later])
    assert stitched.text == "the quick brown fox jumps over"
    assert stitched.details["chunk_cuts_s"] == [9.4]


def test_a_word_across_the_edge_is_kept_once() -> None:
    earlier = _transcript([*SPOKEN[:5], ("ov", 11.1, 11.9)])  # "over" cut by the audio end
    later = _transcript([("he", 8.0, 8.2), *[(w, s + 0.08, e + 0.08) for w, s, e in SPOKEN[1:]]])
    stitched = stitch_transcripts(CHUNKS, [earlier, later])
    assert stitched.text == "the quick brown fox jumps over"
    # the cut is in a pause both chunks agree on, not in the middle of "fox"
    (cut,) = stitched.details["chunk_cuts_s"]
    assert not any(s < cut < e for _, s, e in SPOKEN)
    assert stitched.details["chunks"] == 2


def test_timing_disagreement_at_the_edge_neither_duplicates_nor_loses() -> None:
    # "fox" straddles the edge; the earlier chunk puts its middle before 10 s and the
    # later one after: a cut at the edge itself would keep it twice
    earlier = _transcript([("brown", 9.0, 9.5), ("fox", 9.6, 10.3)])
    later = _transcript([("brown", 9.1, 9.6), ("fox", 9.75, 10.4), ("jumps", 10.7, 11.0)])
    stitched = stitch_transcripts(CHUNKS, [earlier, later])
    assert stitched.text.split() == ["brown", "fox", "jumps"]
    words = [w for s in stitched.segments for w in s.words]
    assert [w.start for w in words] == sorted(w.start for w in words)


def test_stitch_needs_one_transcript_per_chunk() -> None:
    with pytest.raises(ValueError):
        stitch_transcripts(CHUNKS, [_transcript(SPOKEN)])


def test_analyses_merge_frames_and_keep_each_chunks_summary() -> None:
    def ocr(words: list[str], t: float, count: int) -> AnalysisOutput:
        return AnalysisOutput(
            analysis_type="ocr",
            result={"frames": [{"index": 0, "timestamp_s": t, "text": " ".join(words)}],
                    "words": words,
                    "count": count, "engine": "rapidocr"},
            model="pp-ocr", confidence=0.5 + count / 10,
        )  # fmt: skip

    merged = merge_analyses(
        CHUNKS,
        [[ocr(["part", "one"], 1.0, 1)], [ocr(["part", "two"], 12.0, 3)]],
        offsets=[0.0, 8.0],
    )
    (out,) = merged
    assert [f["timestamp_s"] for f in out.result["frames"]] == [1.0, 12.0]
    assert [f["index"] for f in out.result["frames"]] == [0, 1]
    assert out.result["words"] == ["part", "one", "two"]
    assert out.result["count"] == 3 and out.result["engine"] == "rapidocr"
    assert out.confidence == pytest.approx(0.8)
    assert [(c["start_s"], c["offset_s"], c["count"]) for c in out.result["chunks"]] == [
        (0.0, 0.0, 1),
        (10.0, 8.0, 3),
    ]
    assert all("frames" not in c for c in out.result["chunks"])
