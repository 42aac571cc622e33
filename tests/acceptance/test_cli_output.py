"""The CLI as scripts and people see it (issue 10 item 7): exit codes, no libav lines,
id prefixes, whole ids in tables, ``--json``, loudness "too short"."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa
from PIL import Image

from mediaflow.errors import InvalidInput, NotFound
from mediaflow.runtime import Runtime
from mediaflow.services.ids import resolve
from tests.acceptance.cli import mediaflow
from tests.realworld_media import make_avi_ac3, make_tone, sine


def _env(head_db: str, tmp_path: Path) -> dict[str, str]:
    data = tmp_path / "data"
    data.mkdir(exist_ok=True)
    return {"MEDIAFLOW_DATABASE_URL": head_db, "MEDIAFLOW_DATA_DIR": str(data)}


def test_analyze_exit_codes_and_quiet_libav(head_db: str, tmp_path: Path) -> None:
    env = _env(head_db, tmp_path)
    good = tmp_path / "good.png"
    Image.new("RGB", (64, 48), (10, 120, 200)).save(good)
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"\x00\x00\x00\x18ftypisom" + bytes(64))
    damaged = tmp_path / "damaged.avi"
    make_avi_ac3(damaged, seconds=2.0, cut_audio=(0,))

    ok = mediaflow("analyze", "-q", "-p", "image_features", str(good), str(damaged), env=env)
    assert ok.returncode == 0, ok.stderr
    # libav's own lines ("[ac3 @ 0x...] exponent out of range") stay out of the output
    assert " @ 0x" not in ok.stdout + ok.stderr
    assert "warning:" in ok.stdout and "ac3 audio packets undecodable" in ok.stdout

    some = mediaflow("analyze", "-q", "-p", "image_features", str(good), str(bad), env=env)
    assert some.returncode == 3, some.stdout + some.stderr
    every = mediaflow("analyze", "-q", "-p", "image_features", str(bad), env=env)
    assert every.returncode == 4, every.stdout + every.stderr


def test_ids_prefixes_json_and_too_short(head_db: str, tmp_path: Path) -> None:
    env = _env(head_db, tmp_path)
    bell = make_tone(tmp_path / "bell.wav", np.stack([sine(0.2, 48_000)]), 48_000, "mono")
    done = mediaflow("analyze", "-q", "-p", "audio_features", str(bell), env=env)
    assert done.returncode == 0, done.stderr
    assert "loudness: too short (under 0.4 s)" in done.stdout
    assert "None LUFS" not in done.stdout

    listed = mediaflow("jobs", "--json", env=env)
    assert listed.returncode == 0, listed.stderr
    (job,) = json.loads(listed.stdout)
    job_id = job["id"]
    # tables keep ids whole, even at 80 columns
    table = mediaflow("jobs", env={**env, "COLUMNS": "80"})
    assert job_id in table.stdout

    shown = mediaflow("show", job_id[:8], "--json", env=env)
    assert shown.returncode == 0, shown.stderr
    document = json.loads(shown.stdout)
    assert document["job"]["id"] == job_id
    (media,) = document["files"]
    media_id = media["media_file"]["id"]
    result = json.dumps(media)
    assert "pyebur128" in result and "loudness_too_short" in result

    exported = mediaflow("export", media_id[:6], "-f", "json", env=env)
    assert exported.returncode == 0, exported.stderr
    assert media_id in exported.stdout

    missing = mediaflow("show", "ffffffff", env=env)
    assert missing.returncode != 0
    assert "no job or media id starts with ffffffff" in missing.stderr

    too_short = mediaflow("show", "ab", env=env)
    assert too_short.returncode == 65 and "too short" in too_short.stderr

    providers = mediaflow("providers", "--json", env=env)
    assert providers.returncode == 0, providers.stderr
    names = {p["name"] for p in json.loads(providers.stdout)}
    assert {"faster_whisper", "audio_features"} <= names


def test_an_ambiguous_prefix_names_the_candidates(runtime: Runtime) -> None:
    ids = ["abcd1234-0000-4000-8000-000000000001", "abcd1234-0000-4000-8000-000000000002"]
    with runtime.db.session() as session:
        for job_id in ids:
            session.execute(
                sa.text("INSERT INTO analysis_job (id, name) VALUES (:id, 'x')"), {"id": job_id}
            )
    with pytest.raises(InvalidInput, match=r"id prefix 'abcd1234' is ambiguous: job abcd1234-"):
        resolve(runtime, "abcd1234")
    assert str(resolve(runtime, "ABCD1234-0000-4000-8000-000000000002").id) == ids[1]
    with pytest.raises(NotFound, match="no media id starts with abcd"):
        resolve(runtime, "abcd", ("media",))
    with pytest.raises(InvalidInput, match="not a job or media id"):
        resolve(runtime, "zz-top")
