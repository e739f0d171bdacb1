#!/usr/bin/env bash
# Nightly bookkeeping for one tenant: import the day's PowerMTA accounting files, advance the
# warm-up, write the report. Safe under cron (no terminal needed, absolute paths, non-zero exit on
# any failure) and safe to run twice (re-imported rows are recognised by their event ids; the
# warm-up advances once per day).
#
#   nightly.sh TENANT [ACCOUNTING_DIR] [REPORT_DIR]
#   crontab: 30 2 * * * /opt/mailpipe/pipelines/nightly.sh sos-expat /var/log/pmta /var/www/reports >> /var/log/mailpipe-nightly.log 2>&1
#
# Environment: MAILPIPE_STATE (state folder), MAILPIPE_BIN (folder of the executables; default:
# the release build next to this script), NIGHTLY_NOW (pin the clock, for tests).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
tenant=${1:?usage: nightly.sh TENANT [ACCOUNTING_DIR] [REPORT_DIR]}
acct_dir=${2:-$root/samples/pmta}
report_dir=${3:-$root/reports}
bin=${MAILPIPE_BIN:-$root/.build/release}
account="$bin/account"
[ -x "$account" ] || { echo "nightly: $account not found (swift build -c release)" >&2; exit 1; }
case "$acct_dir" in /*) ;; *) acct_dir="$(pwd)/$acct_dir";; esac
case "$report_dir" in /*) ;; *) report_dir="$(pwd)/$report_dir";; esac
now_flag=()
[ -n "${NIGHTLY_NOW:-}" ] && now_flag=(--now "$NIGHTLY_NOW")

shopt -s nullglob
files=("$acct_dir"/*.csv "$acct_dir"/*.csv.gz)
if [ "${#files[@]}" -gt 0 ]; then
  "$account" events --tenant "$tenant" "${now_flag[@]}" --pmta "${files[@]}" --no-progress 2>&1 \
    || { echo "nightly: account events failed" >&2; exit 1; }
else
  echo "nightly: no accounting files in $acct_dir"
fi
"$account" warmup --tenant "$tenant" "${now_flag[@]}" --advance --json \
  || { echo "nightly: account warmup failed" >&2; exit 1; }
mkdir -p "$report_dir"
day=$(date -u +%F)
[ -n "${NIGHTLY_NOW:-}" ] && day=${NIGHTLY_NOW:0:10}
"$account" report --tenant "$tenant" "${now_flag[@]}" --html "$report_dir/$tenant-$day.html" --json > "$report_dir/$tenant-$day.ndjson" \
  || { echo "nightly: account report failed" >&2; exit 1; }
echo "nightly: $tenant done: $report_dir/$tenant-$day.html"
