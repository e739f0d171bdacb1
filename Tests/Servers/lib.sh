# Shared helpers for the test-server scripts. Source it; do not run it.
# shellcheck shell=bash

die() { echo "$(basename "$0"): $*" >&2; exit 1; }
note() { echo "$(basename "$0"): $*" >&2; }

# ensure_pkg COMMAND PACKAGE: install PACKAGE (Debian) when COMMAND is missing.
# `apt-get update` runs only when the first install attempt fails (fresh machine
# without package lists), so a machine that has the package never touches apt.
ensure_pkg() {
  local cmd=$1 pkg=$2
  if command -v "$cmd" >/dev/null 2>&1 || [[ -x $cmd ]]; then return 0; fi
  [[ $(id -u) -eq 0 ]] || die "$cmd missing and not root: apt-get install $pkg"
  note "installing $pkg"
  export DEBIAN_FRONTEND=noninteractive
  local apt=(apt-get install -y -q --no-install-recommends "$pkg")
  "${apt[@]}" >/dev/null 2>&1 || { apt-get update -q >/dev/null && "${apt[@]}" >/dev/null; } \
    || die "could not install $pkg"
}

# free_port: print a port that is free on 127.0.0.1 for both TCP and UDP right now.
free_port() {
  python3 - <<'PY'
import socket
for _ in range(100):
    t = socket.socket()
    t.bind(("127.0.0.1", 0))
    port = t.getsockname()[1]
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        u.bind(("127.0.0.1", port))
    except OSError:
        continue
    finally:
        u.close()
        t.close()
    print(port)
    break
else:
    raise SystemExit("no free port")
PY
}

# tcp_open PORT: true when something accepts TCP connections on 127.0.0.1:PORT.
tcp_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# wait_until SECONDS COMMAND...: poll COMMAND every 0.1 s until it succeeds.
wait_until() {
  local deadline=$(( $(date +%s) + $1 )); shift
  until "$@"; do
    (( $(date +%s) < deadline )) || return 1
    sleep 0.1
  done
}

# pid_alive PID: true while PID runs. A zombie counts as gone: daemons that outlived the
# script that started them are reaped by PID 1, which may take its time.
pid_alive() {
  local stat
  [[ $1 =~ ^[0-9]+$ ]] && stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  [[ ${stat%% *} != Z ]]
}

# stop_pid PIDFILE NAME: TERM the process in PIDFILE, wait, then KILL; remove PIDFILE.
stop_pid() {
  local pidfile=$1 name=$2 pid
  [[ -f $pidfile ]] || { note "$name: no pid file $pidfile (not running?)"; return 0; }
  pid=$(tr -dc 0-9 <"$pidfile")
  if pid_alive "$pid"; then
    kill -TERM "$pid" 2>/dev/null || true
    wait_until 10 pid_gone "$pid" || kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$pidfile"
}
pid_gone() { ! pid_alive "$1"; }

# abs_dir DIR: create DIR if needed and print its absolute path.
abs_dir() { mkdir -p "$1" && (cd "$1" && pwd -P); }

# smtp_greets PORT: true when an SMTP server on 127.0.0.1:PORT answers with a 220 greeting.
smtp_greets() {
  local line
  { exec 3<>"/dev/tcp/127.0.0.1/$1"; } 2>/dev/null || return 1
  IFS= read -r -t 5 line <&3 || line=
  printf 'QUIT\r\n' >&3 2>/dev/null || true
  exec 3<&- 3>&-
  [[ $line == 220* ]]
}
