#!/usr/bin/env bash
# start-mailwizz-double.sh DIR [DOUBLE-OPTION...]
# Starts mailwizz_double.py in the background on 127.0.0.1 (a free port unless --port is
# given), waits until it answers, and prints its base URL (http://127.0.0.1:PORT/api).
# DIR receives: pid, port, log, and api-key when the key is generated.
# The API key: $MAILWIZZ_DOUBLE_KEY if set, else DIR/api-key (created, mode 600, with a
# random key when missing). It never appears in argv.
# The double stops on stop-mailwizz-double.sh DIR, or by itself after
# $MAILWIZZ_DOUBLE_LIFETIME seconds (default 7200; pass --lifetime to override).
# Options are mailwizz_double.py's (--seed, --p503, --max-input-vars, …; see --help).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
source "$here/lib.sh"

[[ $# -ge 1 ]] || die "usage: $0 DIR [DOUBLE-OPTION...]"
dir=$(abs_dir "$1"); shift
command -v python3 >/dev/null || ensure_pkg python3 python3

if [[ -f $dir/pid ]] && pid_alive "$(tr -dc 0-9 <"$dir/pid")"; then
  die "a double is already running from $dir (stop-mailwizz-double.sh $dir)"
fi
rm -f "$dir/port"

key_args=()
if [[ -z ${MAILWIZZ_DOUBLE_KEY:-} ]]; then
  if [[ ! -s $dir/api-key ]]; then
    (umask 077; python3 -c 'import secrets; print(secrets.token_hex(16))' >"$dir/api-key")
  fi
  key_args=(--key-file "$dir/api-key")
fi

setsid python3 "$here/mailwizz_double.py" --port 0 --port-file "$dir/port" \
  --lifetime "${MAILWIZZ_DOUBLE_LIFETIME:-7200}" "${key_args[@]}" "$@" \
  </dev/null >"$dir/log" 2>&1 &
pid=$!
echo "$pid" >"$dir/pid"

port_ready() { [[ -s $dir/port ]] && tcp_open "$(<"$dir/port")"; }
if ! wait_until 15 port_ready; then
  stop_pid "$dir/pid" mailwizz-double
  die "the double did not start: $(tail -5 "$dir/log")"
fi
echo "http://127.0.0.1:$(<"$dir/port")/api"
