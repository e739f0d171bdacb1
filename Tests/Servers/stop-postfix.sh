#!/usr/bin/env bash
# stop-postfix.sh DIR — stop the private Postfix instance started by start-postfix.sh DIR.
# Mail already delivered stays in DIR/Maildir; rm -rf DIR afterwards to clean up.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
source "$here/lib.sh"
[[ $# -eq 1 ]] || die "usage: $0 DIR"
dir=$(cd "$1" && pwd -P) || die "no such directory: $1"
[[ -f $dir/conf/main.cf ]] || die "$dir holds no instance made by start-postfix.sh"
pidfile=$dir/spool/pid/master.pid
if [[ -f $pidfile ]] && pid=$(tr -dc 0-9 <"$pidfile") && pid_alive "$pid"; then
  postfix -c "$dir/conf" stop >/dev/null 2>&1 || true
  # `postfix stop` returns before the master has exited; wait for it, then insist.
  wait_until 15 pid_gone "$pid" || kill -KILL "$pid" 2>/dev/null || true
else
  note "no running instance under $dir"
fi
