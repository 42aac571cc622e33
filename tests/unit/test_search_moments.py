"""What stored transcripts and results make searchable (``search.moments``, pure)."""

from __future__ import annotations

from typing import Any

from mediaflow.search.moments import MomentText, moments_of_result, moments_of_transcript


def _frame(t: float, *lines: str, **extra: Any) -> dict[str, Any]:
    return {"index": int(t * 25), "timestamp_s": t, "lines": [{"text": x} for x in lines], **extra}


def test_one_speech_moment_per_segment_with_text() -> None:
    segments = [
        {"start": 0.0, "end": 1.5, "text": " Hello  there ", "speaker": "SPEAKER_1"},
        {"start": 1.5, "end": 2.0, "text": "   "},
        {"start": 2.0, "end": 1.0, "text": "backwards\x00 end"},  # broken times, a NUL
        "not a segment",
    ]
    assert moments_of_transcript(segments) == [
        MomentText("speech", 0, 0.0, 1.5, "Hello there", "SPEAKER_1"),
        MomentText("speech", 2, 2.0, 2.0, "backwards end"),
    ]


def test_a_confidence_floor_keeps_hallucinations_out() -> None:
    segments = [
        {"start": 0.0, "end": 0.2, "text": "Press.", "confidence": 0.17},
        {"start": 1.0, "end": 2.0, "text": "Real words", "confidence": 0.9},
        {"start": 2.0, "end": 3.0, "text": "No score"},
    ]
    kept = moments_of_transcript(segments, min_confidence=0.5)
    assert [m.text for m in kept] == ["Real words", "No score"]
    assert len(moments_of_transcript(segments)) == 3


def test_on_screen_text_runs_become_one_moment_each() -> None:
    result = {
        "frames": [
            _frame(0.0, "SLIDE ONE", "intro"),
            _frame(2.0, "SLIDE ONE", "intro"),
            _frame(4.0),  # nothing on screen
            _frame(6.0, "SLIDE TWO"),
            _frame(8.0, "SLIDE ONE", "intro"),  # back again: a new moment
        ]
    }
    assert [(m.start_s, m.end_s, m.text) for m in moments_of_result("ocr", result)] == [
        (0.0, 4.0, "SLIDE ONE intro"),  # until the frame that changed it
        (6.0, 8.0, "SLIDE TWO"),
        (8.0, 8.0, "SLIDE ONE intro"),
    ]


def test_frames_with_their_own_spans_keep_them() -> None:
    result = {
        "frames": [
            _frame(0.0, "A", start_s=0.0, end_s=29.5),
            _frame(30.0, "B", start_s=30.0, end_s=60.0),
        ]
    }
    assert [(m.start_s, m.end_s) for m in moments_of_result("ocr", result)] == [
        (0.0, 30.0),
        (30.0, 60.0),
    ]


def test_an_image_or_a_frameless_result() -> None:
    assert [
        m.text for m in moments_of_result("ocr", {"frames": [_frame(0.0, "INVOICE 2024")]})
    ] == ["INVOICE 2024"]
    assert [(m.start_s, m.text) for m in moments_of_result("ocr", {"text": "a page\nof text"})] == [
        (None, "a page of text")
    ]


def test_labels_in_the_shapes_providers_give() -> None:
    assert [m.text for m in moments_of_result("labels", {"labels": ["cat", {"name": "sofa"}]})] == [
        "cat",
        "sofa",
    ]
    events = {"audio_events": [{"label": "music", "start_s": 1.0, "end_s": 4.0}]}
    assert [
        (m.kind, m.start_s, m.end_s, m.text) for m in moments_of_result("audio_events", events)
    ] == [("label", 1.0, 4.0, "music")]
    assert [m.text for m in moments_of_result("caption", {"caption": "a dog on a beach"})] == [
        "a dog on a beach"
    ]


def test_measurements_are_not_moments() -> None:
    assert moments_of_result("colors", {"colors": [{"hex": "#ffffff"}]}) == []
    assert moments_of_result("faces", {"frames": [], "count": 0}) == []
