#!/usr/bin/env bash
# stop-spamd.sh DIR — stop the spamd started by start-spamd.sh DIR (its children go with it).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
source "$here/lib.sh"
[[ $# -eq 1 ]] || die "usage: $0 DIR"
stop_pid "$1/spamd.pid" spamd
rm -f "$1/port"
