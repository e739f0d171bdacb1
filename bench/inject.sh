#!/usr/bin/env bash
# bench/inject.sh — inject's delivery rates, with peers, in the same run:
#   1. inject smtp into Postfix's smtp-sink vs Postfix's own smtp-source (same sink, same
#      concurrency, same message size, connection reuse on both sides: smtp-source -d).
#   2. inject mailwizz into the MailWizz double with bulk calls (subscribers/s).
# Environment: BENCH_MESSAGES (default 20000), BENCH_CONCURRENCY (8), BENCH_SUBSCRIBERS (20000),
# BENCH_BATCH (150), BENCH_RUNS (3, medians), MAILPIPE_BIN (default .build/release).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd); repo=$(dirname "$here")
[ -f "$here/lib.sh" ] && . "$here/lib.sh"
command -v ratio >/dev/null || ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b <= 0) print "n/a"; else printf "%.2fx\n", a / b }'; }
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
BIN=${MAILPIPE_BIN:-$repo/.build/release}
[ -x "$BIN/inject" ] || (cd "$repo" && swift build -c release --product inject >/dev/null)
N=${BENCH_MESSAGES:-20000}; C=${BENCH_CONCURRENCY:-8}; S=${BENCH_SUBSCRIBERS:-20000}; RUNS=${BENCH_RUNS:-3}
SERVERS=$repo/Tests/Servers; FIX=$repo/Tests/Shell/inject-fixtures.py
work=$(mktemp -d); chmod 755 "$work"
cleanup() {
  bash "$SERVERS/stop-smtp-sink.sh" "$work/sink" >/dev/null 2>&1 || true
  bash "$SERVERS/stop-smtp-sink.sh" "$work/dump" >/dev/null 2>&1 || true
  bash "$SERVERS/stop-mailwizz-double.sh" "$work/mw" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
export MAILPIPE_STATE=$work/state
# secs 'COMMAND LINE' → wall seconds (the command's own redirections inside the quotes)
secs() { local t0 t1; t0=$(date +%s.%N); bash -c "$1"; t1=$(date +%s.%N); awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f\n", b - a }'; }

# --- 1. SMTP ----------------------------------------------------------------------------
mkdir -p "$MAILPIPE_STATE/bench"; echo '{"slug":"bench","sending_domain":"bench.test"}' > "$MAILPIPE_STATE/bench/tenant.json"
python3 "$FIX" messages "$N" --tenant bench --campaign b --size 2000 > "$work/messages.ndjson"
# The size of the MIME message inject builds, measured at a dumping sink, for smtp-source -l.
mkdir -p "$work/dump"; chmod 1777 "$work/dump"   # smtp-sink drops to nobody
url=$(bash "$SERVERS/start-smtp-sink.sh" 0 "$work/dump" -- -D "$work/dump/msg")
head -1 "$work/messages.ndjson" | "$BIN/inject" smtp --url "$url" --campaign size-probe > /dev/null 2>&1; sleep 0.5
size=$(awk '/^DATA|^MAIL FROM|^RCPT TO|^X-Client|^X-Helo|^X-Mail|^X-Rcpt|^X-Client-Proto/ {next} {n += length($0) + 2} END {print n}' "$work/dump/msg")
bash "$SERVERS/stop-smtp-sink.sh" "$work/dump" >/dev/null 2>&1
url=$(bash "$SERVERS/start-smtp-sink.sh" 0 "$work/sink")
hostport=${url#smtp://}
ours=(); peers=(); load0=$(cut -d' ' -f1-3 /proc/loadavg)
for r in $(seq 1 "$RUNS"); do
  rm -rf "$MAILPIPE_STATE/bench/journal"
  ours+=("$(secs "'$BIN/inject' smtp --url '$url' --concurrency $C < '$work/messages.ndjson' > /dev/null 2> '$work/inject.err'")")
  grep -q " $N sent" "$work/inject.err" || { cat "$work/inject.err" >&2; exit 1; }
  peers+=("$(secs "/usr/sbin/smtp-source -d -s $C -m $N -l $size -f a@bench.test -t b@bench.test $hostport")")
done
o=$(median "${ours[@]}"); p=$(median "${peers[@]}")
printf 'smtp  %d messages of ~%d bytes, %d connections (load average before: %s, after: %s)\n' \
  "$N" "$size" "$C" "$load0" "$(cut -d' ' -f1-3 /proc/loadavg)"
printf '  smtp-source          %7.3f s  %8.0f msg/s\n' "$p" "$(awk -v n="$N" -v t="$p" 'BEGIN{print n/t}')"
printf '  inject smtp          %7.3f s  %8.0f msg/s\n' "$o" "$(awk -v n="$N" -v t="$o" 'BEGIN{print n/t}')"
printf '  ratio (inject / smtp-source rate): %s  (target ≥ 0.80x)\n' "$(ratio "$p" "$o")"

# --- 2. MailWizz bulk -------------------------------------------------------------------
export MAILWIZZ_DOUBLE_KEY=bench-key-$$
mwurl=$(bash "$SERVERS/start-mailwizz-double.sh" "$work/mw" --single-opt-in --max-input-vars 1000)
printf '{"slug":"bench","mailwizz":{"url":"%s","list_uid":"testlist00001","api_key_env":"BENCH_MW_KEY"}}\n' "$mwurl" > "$MAILPIPE_STATE/bench/tenant.json"
python3 "$FIX" contacts "$S" --tenant bench > "$work/contacts.ndjson"
mw=()
for r in $(seq 1 "$RUNS"); do
  curl -s -X POST -d '{"reset":true}' "${mwurl%/api}/__control" > /dev/null
  rm -rf "$MAILPIPE_STATE/bench/journal"
  mw+=("$(BENCH_MW_KEY=$MAILWIZZ_DOUBLE_KEY secs "'$BIN/inject' mailwizz --tenant bench --batch ${BENCH_BATCH:-150} --concurrency 4 < '$work/contacts.ndjson' > /dev/null 2> '$work/mw.err'")")
  grep -q " $S sent" "$work/mw.err" || { cat "$work/mw.err" >&2; exit 1; }
done
m=$(median "${mw[@]}")
printf 'mailwizz  %d subscribers, bulk batches of %d, 4 calls in flight\n' "$S" "${BENCH_BATCH:-150}"
printf '  inject mailwizz      %7.3f s  %8.0f subscribers/s  (target ≥ 2000/s)\n' "$m" "$(awk -v n="$S" -v t="$m" 'BEGIN{print n/t}')"
