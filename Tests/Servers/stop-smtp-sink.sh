#!/usr/bin/env bash
# stop-smtp-sink.sh DIR — stop the smtp-sink started by start-smtp-sink.sh with DIR.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
source "$here/lib.sh"
[[ $# -eq 1 ]] || die "usage: $0 DIR"
stop_pid "$1/smtp-sink.pid" smtp-sink
