#!/usr/bin/env bash
# stop-dnsmasq.sh DIR — stop the resolver (and its private upstream) started by
# start-dnsmasq.sh DIR.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
source "$here/lib.sh"
[[ $# -eq 1 ]] || die "usage: $0 DIR"
stop_pid "$1/dnsmasq.pid" dnsmasq
[[ ! -f $1/upstream.pid ]] || stop_pid "$1/upstream.pid" "upstream dnsmasq"
