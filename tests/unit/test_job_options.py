"""Job options of issue 12 are checked with the request: a bad one is a clear error."""

from __future__ import annotations

import pytest

from mediaflow.errors import InvalidInput
from mediaflow.providers.job_options import check_job_options


@pytest.mark.parametrize(
    "options",
    [{}, {"model": "base"}, {"model": "tiny.en"}, {"max_speakers": 2}, {"diarization": False},
     {"model": "BASE", "max_speakers": 1, "diarization": True}],
)  # fmt: skip
def test_good_options_pass(options: dict[str, object]) -> None:
    check_job_options(options)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"model": "/etc"}, "options.model"),
        ({"model": 3}, "options.model"),
        ({"max_speakers": 0}, "max_speakers"),
        ({"max_speakers": True}, "max_speakers"),
        ({"max_speakers": "2"}, "max_speakers"),
        ({"diarization": "no"}, "diarization"),
    ],
)
def test_bad_options_are_refused(options: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        check_job_options(options)
