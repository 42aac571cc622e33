#!/usr/bin/env bash
# Start the machine's PostgreSQL service if it is installed but not answering.
# The tests use it when it answers on 127.0.0.1:5432, and the embedded server always.
set -u
if command -v pg_isready >/dev/null && pg_isready -q -h 127.0.0.1 -p 5432; then exit 0; fi
if command -v pg_ctlcluster >/dev/null && [ -d /etc/postgresql ]; then
  for version in /etc/postgresql/*; do
    pg_ctlcluster --skip-systemctl-redirect "$(basename "$version")" main start 2>/dev/null || true
  done
  for _ in $(seq 20); do pg_isready -q -h 127.0.0.1 -p 5432 && exit 0; sleep 0.5; done
fi
echo "note: no PostgreSQL on 127.0.0.1:5432; tests run on the embedded server only" >&2
exit 0
