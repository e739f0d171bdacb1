#!/usr/bin/env bash
# start-smtp-sink.sh PORT [DIR] [-- SMTP-SINK-OPTION...]
# Postfix's smtp-sink (accepts and discards every message; no queue, no disk) on
# 127.0.0.1:PORT, in the background, for benchmarks. PORT 0 picks a free port.
# DIR (default ${TMPDIR:-/tmp}/mailpipe-smtp-sink-PORT) holds smtp-sink.pid, port, log.
# Options after -- go to smtp-sink, e.g. `-- -r RCPT` (4xx to every RCPT),
# `-- -f DATA` (5xx after DATA), `-- -w 1` (1 s delay before answering DATA).
# Prints the SMTP URL. Stop with stop-smtp-sink.sh DIR.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
source "$here/lib.sh"

[[ $# -ge 1 ]] || die "usage: $0 PORT [DIR] [-- SMTP-SINK-OPTION...]"
port=$1; shift
[[ $port =~ ^[0-9]+$ ]] || die "bad port: $port"
dir=
if [[ $# -gt 0 && $1 != -- ]]; then dir=$1; shift; fi
if [[ $# -gt 0 ]]; then [[ $1 == -- ]] || die "expected -- before smtp-sink options"; shift; fi

if ! dpkg -s postfix >/dev/null 2>&1; then
  echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
fi
ensure_pkg /usr/sbin/smtp-sink postfix

[[ $port -ne 0 ]] || port=$(free_port)
tcp_open "$port" && die "port $port on 127.0.0.1 is already in use"
dir=$(abs_dir "${dir:-${TMPDIR:-/tmp}/mailpipe-smtp-sink-$port}")
pidfile=$dir/smtp-sink.pid
if [[ -f $pidfile ]] && pid_alive "$(tr -dc 0-9 <"$pidfile")"; then
  die "an smtp-sink is already running from $dir"
fi

user=()
[[ $(id -u) -ne 0 ]] || user=(-u nobody)   # drop root once the socket is open
# -m/backlog: room for many parallel benchmark connections.
setsid /usr/sbin/smtp-sink -4 "${user[@]}" -m 2000 "$@" "127.0.0.1:$port" 1024 \
  </dev/null >"$dir/log" 2>&1 &
echo $! >"$pidfile"
if ! wait_until 10 smtp_greets "$port"; then
  stop_pid "$pidfile" smtp-sink
  die "smtp-sink did not come up: $(tail -3 "$dir/log")"
fi
echo "$port" >"$dir/port"
echo "smtp://127.0.0.1:$port"
