#!/usr/bin/env bash
# Two "hosts" on one machine: network namespaces A and B joined by a veth pair.
#
#   scripts/two_hosts.sh up   [NAME] [SUBNET]   create NAME-a (SUBNET.1) and NAME-b (SUBNET.2)
#   scripts/two_hosts.sh down [NAME]            remove both (and what runs in them)
#
# NAME defaults to mf, SUBNET to 10.211.0 (a /24). Needs root (ip netns). Each namespace
# has only its loopback and its end of the veth: B reaches A at SUBNET.1 and nothing
# else (no route out, no PostgreSQL of the machine). Host A then runs (see
# docs/SCALING.md, "Two hosts on one machine"):
#
#   ip netns exec mf-a python scripts/unix_forward.py 10.211.0.1:5432 &   # PostgreSQL
#   ip netns exec mf-a python -c 'from moto.server import main; main()' -H 10.211.0.1 -p 9000 &
#   ip netns exec mf-a env MEDIAFLOW_DATABASE_URL=postgresql://postgres@10.211.0.1:5432/mediaflow \
#       MEDIAFLOW_STORAGE_URL=s3://media/originals AWS_ENDPOINT_URL=http://10.211.0.1:9000 \
#       mediaflow serve --workers 0 --host 10.211.0.1
#
# and host B, with the same settings (every address is A's):
#
#   ip netns exec mf-b unshare --uts sh -c 'hostname host-b; exec mediaflow worker'
set -euo pipefail

cmd=${1:-}
name=${2:-mf}
subnet=${3:-10.211.0}
a="$name-a"
b="$name-b"

case "$cmd" in
  up)
    ip netns add "$a"
    ip netns add "$b"
    # veth ends are named after the namespaces (at most 15 characters)
    ip link add "${name}va" type veth peer name "${name}vb"
    ip link set "${name}va" netns "$a"
    ip link set "${name}vb" netns "$b"
    ip -n "$a" addr add "$subnet.1/24" dev "${name}va"
    ip -n "$b" addr add "$subnet.2/24" dev "${name}vb"
    for ns in "$a" "$b"; do ip -n "$ns" link set lo up; done
    ip -n "$a" link set "${name}va" up
    ip -n "$b" link set "${name}vb" up
    echo "host A: ip netns exec $a ... ($subnet.1); host B: ip netns exec $b ... ($subnet.2)"
    ;;
  down)
    for ns in "$a" "$b"; do
      # end what still runs in the namespace, then remove it (the veth pair goes with it)
      if ip netns pids "$ns" >/dev/null 2>&1; then
        for pid in $(ip netns pids "$ns"); do kill -TERM "$pid" 2>/dev/null || true; done
      fi
      ip netns del "$ns" 2>/dev/null || true
    done
    ;;
  *)
    echo "usage: $0 up|down [NAME] [SUBNET]" >&2
    exit 64
    ;;
esac
