#!/usr/bin/env bash
# stop-mailwizz-double.sh DIR — stop the double started by start-mailwizz-double.sh DIR.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
source "$here/lib.sh"
[[ $# -eq 1 ]] || die "usage: $0 DIR"
stop_pid "$1/pid" mailwizz-double
rm -f "$1/port"
