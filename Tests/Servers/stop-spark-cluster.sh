#!/usr/bin/env bash
# stop-spark-cluster.sh DIR — stop the cluster started by start-spark-cluster.sh DIR: each
# worker's process group (the worker and the executors it launched), then the master's.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
source "$here/lib.sh"
[[ $# -eq 1 ]] || die "usage: $0 DIR"
# Each JVM was started by setsid, so its process id is its process group's id.
stop_group() {
  local pidfile=$1 pid
  [[ -f $pidfile ]] || return 0
  pid=$(tr -dc 0-9 <"$pidfile")
  if [[ -n $pid ]] && pid_alive "$pid"; then
    kill -TERM -- "-$pid" 2>/dev/null || true
    wait_until 15 pid_gone "$pid" || kill -KILL -- "-$pid" 2>/dev/null || true
  fi
  rm -f "$pidfile"
}
for pidfile in "$1"/worker-*.pid; do stop_group "$pidfile"; done
stop_group "$1/master.pid"
rm -f "$1/port"
