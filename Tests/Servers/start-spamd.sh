#!/usr/bin/env bash
# start-spamd.sh DIR [PORT]
# SpamAssassin's spamd on 127.0.0.1:PORT (0 or none: a free port), in the background, on the
# rules Debian ships (/usr/share/spamassassin): local tests only (-L, no DNS or network rules),
# no Bayes, no per-user config, so a message scores the same on every machine.
# DIR holds spamd.pid, port, log. Prints the address (127.0.0.1:PORT) once spamd answers PING.
# Stop with stop-spamd.sh DIR.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
source "$here/lib.sh"

[[ $# -ge 1 && $# -le 2 ]] || die "usage: $0 DIR [PORT]"
dir=$(abs_dir "$1")
port=${2:-0}
[[ $port =~ ^[0-9]+$ ]] || die "bad port: $port"
ensure_pkg /usr/sbin/spamd spamd
ensure_pkg /usr/bin/spamassassin spamassassin

pidfile=$dir/spamd.pid
if [[ -f $pidfile ]] && pid_alive "$(tr -dc 0-9 <"$pidfile")"; then
  die "a spamd is already running from $dir (stop-spamd.sh $dir)"
fi
[[ $port -ne 0 ]] || port=$(free_port)
tcp_open "$port" && die "port $port on 127.0.0.1 is already in use"
rm -f "$dir/port"

user=()
[[ $(id -u) -ne 0 ]] || user=(-u nobody -g nogroup)   # spamd will not check mail as root
# Two children answer at once (the tests and the bench check two messages at a time).
setsid /usr/sbin/spamd -L -x -4 --listen "127.0.0.1:$port" --allowed-ips 127.0.0.1 \
  --max-children 2 --min-children 2 --pidfile "$pidfile" --syslog stderr --log-timestamp-fmt '' \
  --cf 'use_bayes 0' --cf 'bayes_auto_learn 0' --cf 'use_auto_whitelist 0' \
  "${user[@]}" </dev/null >"$dir/log" 2>&1 &
echo $! >"$pidfile"

# spamd answers PING with PONG once its rules are compiled (seconds on a busy machine).
pongs() {
  local line
  { exec 3<>"/dev/tcp/127.0.0.1/$port"; } 2>/dev/null || return 1
  printf 'PING SPAMC/1.5\r\n\r\n' >&3 2>/dev/null || { exec 3<&- 3>&-; return 1; }
  IFS= read -r -t 10 line <&3 || line=
  exec 3<&- 3>&-
  [[ $line == *PONG* ]]
}
if ! wait_until 120 pongs; then
  stop_pid "$pidfile" spamd
  die "spamd did not come up: $(tail -5 "$dir/log")"
fi
echo "$port" >"$dir/port"
echo "127.0.0.1:$port"
