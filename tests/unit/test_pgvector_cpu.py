"""The shipped AVX-512 pgvector is judged against the CPU; nothing else is."""

from __future__ import annotations

import hashlib
from pathlib import Path

from mediaflow.db import pgvector

NO_AVX512 = frozenset({"sse4_2", "avx", "avx2", "fma", "bmi2"})


def _library(tmp_path: Path, content: bytes = b"\x7fELF shipped") -> tuple[Path, str]:
    path = tmp_path / "vector.so"
    path.write_bytes(content)
    return path, hashlib.sha256(content).hexdigest()


def test_the_shipped_build_on_a_cpu_without_avx512_is_refused_with_the_reason(
    tmp_path: Path,
) -> None:
    library, digest = _library(tmp_path)
    reason = pgvector.problem(library, digest, NO_AVX512)
    assert reason is not None
    assert "AVX-512" in reason and "avx512f" in reason and "build_pgvector.sh" in reason
    # one missing feature is enough
    assert pgvector.problem(library, digest, pgvector.AVX512 - {"avx512vl"}) is not None


def test_the_shipped_build_runs_where_the_cpu_has_avx512(tmp_path: Path) -> None:
    library, digest = _library(tmp_path)
    assert pgvector.problem(library, digest, NO_AVX512 | pgvector.AVX512) is None


def test_a_rebuilt_library_or_unknown_flags_are_trusted(tmp_path: Path) -> None:
    library, digest = _library(tmp_path)
    library.write_bytes(b"\x7fELF built for any CPU")
    assert pgvector.problem(library, digest, NO_AVX512) is None
    assert pgvector.problem(library, digest, None) is None
    assert pgvector.problem(tmp_path / "missing.so", digest, NO_AVX512) is None


def test_cpu_flags_are_read_from_cpuinfo(tmp_path: Path) -> None:
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nmodel name\t: x\nflags\t\t: fpu sse2 avx2\n\n")
    assert pgvector.cpu_flags(cpuinfo) == {"fpu", "sse2", "avx2"}
    cpuinfo.write_text("Processor\t: AArch64\n")
    assert pgvector.cpu_flags(cpuinfo) is None
    assert pgvector.cpu_flags(tmp_path / "absent") is None


def test_the_installed_distribution_records_the_shipped_library() -> None:
    shipped = pgvector.shipped_library()
    assert shipped is not None
    path, digest = shipped
    assert path.name == "vector.so" and path.parent.name == "postgresql"
    assert len(digest) == 64 and int(digest, 16) >= 0
