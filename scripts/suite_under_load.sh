#!/usr/bin/env bash
# Issue 9, item 9: the whole suite twice at once, from fresh clones, beside a CPU hog.
#
#   scripts/suite_under_load.sh [REPO] [WORK]
#
# Clones REPO (default: this checkout) twice under WORK (default /tmp/suite-under-load),
# starts a process that spins one core, runs .ci/run in both clones at the same time,
# and prints each suite's last lines and exit status. No test may depend on how fast
# the machine is: both must pass.
set -uo pipefail
repo=${1:-$(cd "$(dirname "$0")/.." && pwd)}
work=${2:-/tmp/suite-under-load}
rm -rf "$work" && mkdir -p "$work"
git clone -q "$repo" "$work/a" && git clone -q "$repo" "$work/b" || exit 1
python3 -c 'while True: pass' &
hog=$!
trap 'kill $hog 2>/dev/null' EXIT
start=$(date +%s)
suites=()
for side in a b; do
  (cd "$work/$side" && .ci/run > "$work/$side.log" 2>&1
   echo "rc=$? after $(( $(date +%s) - start )) s" >> "$work/$side.log") &
  suites+=($!)
done
wait "${suites[@]}"
for side in a b; do echo "== $side"; tail -n 3 "$work/$side.log"; done
! grep -q '^rc=[^0]' "$work/a.log" "$work/b.log"
