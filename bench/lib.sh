# bench/lib.sh — helpers for the mailpipe benchmark scripts. Source it, don't run it:
#
#   . "$(dirname "$0")/lib.sh"
#   bench_header "validate vs jq"
#   data=$(dataset "$BENCH_N")                 # cached NDJSON of BENCH_N contacts
#   bench_input "$data"                         # sets the volume for MB/s and records/s
#   timeit "jq select"            "jq -c 'select(.status==\"validated\")' < $data"
#   timeit --peer "jq select" "validate" "$MAILPIPE_BIN/validate < $data"
#   results_table
#
# Environment (all optional):
#   BENCH_N      records per dataset, default 1000000; accepts 10k, 1M, 10M
#   BENCH_SEED   generator seed, default 1
#   BENCH_RUNS   timed runs per command, default 3 (the median is reported)
#   BENCH_OUT    build and cache folder, default bench/.out (git-ignored)
#   BENCH_TSV    if set, every result is also appended to this file as a TSV row
#
# Nothing here sets shell options (-e, -u, pipefail): the sourcing script decides.

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BENCH_ROOT=$(cd "$BENCH_DIR/.." && pwd)
BENCH_OUT=${BENCH_OUT:-$BENCH_DIR/.out}
BENCH_SEED=${BENCH_SEED:-1}
BENCH_RUNS=${BENCH_RUNS:-3}
BENCH_GEN="$BENCH_OUT/gen-contacts"

# --- small utilities ---------------------------------------------------------------------

bench_die() { echo "bench: $*" >&2; return 1; }

# count_of 10k|1M|1000000 → 1000000 (k = 1,000, M = 1,000,000: record counts, not bytes)
count_of() {
  local v=$1
  case $v in
    *[kK]) echo $(( ${v%[kK]} * 1000 )) ;;
    *[mM]) echo $(( ${v%[mM]} * 1000000 )) ;;
    *[!0-9]* | '') bench_die "not a count: '$v'" ;;
    *) echo "$v" ;;
  esac
}

BENCH_N=$(count_of "${BENCH_N:-1000000}")

# now_s → seconds since the epoch with nanoseconds (GNU date)
now_s() { date +%s.%N; }

# secs CMD ARGS… → wall seconds of one run, output discarded.
secs() { local s e; s=$(now_s); "$@" >/dev/null 2>&1; e=$(now_s); echo "$e - $s" | bc -l | xargs printf '%.3f'; }

# ratio A B → A/B as "1.83x" (e.g. ratio "$peer_seconds" "$our_seconds" = our speed-up)
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b <= 0) print "n/a"; else printf "%.2fx\n", a / b }'; }

# median of the numbers given as arguments (lower middle for an even count)
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

# human 1234567 → 1.23M ; 12345 → 12.3k (for record rates)
human() { awk -v x="$1" 'BEGIN {
  if (x >= 1e9) printf "%.2fG", x / 1e9; else if (x >= 1e6) printf "%.2fM", x / 1e6;
  else if (x >= 1e3) printf "%.1fk", x / 1e3; else printf "%.0f", x }'; }

# file_size PATH → bytes
file_size() { stat -c %s "$1"; }

# --- the generator and cached datasets ---------------------------------------------------

# gen_build → builds bench/.out/gen-contacts once (again when the source is newer); a lock
# keeps two bench scripts started together from compiling over each other.
gen_build() {
  mkdir -p "$BENCH_OUT" || return 1
  local src="$BENCH_DIR/gen-contacts.swift"
  [[ -x $BENCH_GEN && $BENCH_GEN -nt $src ]] && return 0
  command -v swiftc >/dev/null || { bench_die "swiftc not found: needed to build the contact generator"; return 1; }
  (
    flock 9
    if [[ ! -x $BENCH_GEN || $src -nt $BENCH_GEN ]]; then
      echo "bench: building gen-contacts" >&2
      swiftc -O "$src" -o "$BENCH_GEN.tmp.$$" && mv -f "$BENCH_GEN.tmp.$$" "$BENCH_GEN"
    fi
  ) 9>"$BENCH_OUT/.build.lock"
}

# gen_contacts ARGS… → runs the generator (see bench/gen-contacts.swift for its options)
gen_contacts() { gen_build && "$BENCH_GEN" "$@"; }

# _dataset EXT FORMAT N [GEN_ARGS…] → path of a cached file, generated on first use.
# The file name spells out every argument, so different variants never share a cache entry.
_dataset() {
  local ext=$1 format=$2 n
  n=$(count_of "$3") || return 1
  shift 3
  local tag="" arg
  for arg in "$@"; do tag+="-${arg#--}"; done
  tag=${tag//[^A-Za-z0-9._-]/_}
  local dir="$BENCH_OUT/data"
  local path="$dir/contacts-$n-s$BENCH_SEED$tag.$ext"
  if [[ ! -s $path ]]; then
    gen_build || return 1
    mkdir -p "$dir" || return 1
    echo "bench: generating $(basename "$path")" >&2
    "$BENCH_GEN" --count "$n" --seed "$BENCH_SEED" --format "$format" "$@" > "$path.tmp.$$" \
      && mv -f "$path.tmp.$$" "$path" || { rm -f "$path.tmp.$$"; return 1; }
  fi
  echo "$path"
}

# dataset N [GEN_ARGS…]     → cached NDJSON of N contacts, e.g. dataset 1M --duplicates 5
# dataset_csv N [GEN_ARGS…] → the same contacts as a CSV export (header + 11 columns)
# dataset_csv_export N [GEN_ARGS…] → the same columns as real exports write them (national
#                             phone numbers, country and language names in the contact's language)
# dataset_gz N [GEN_ARGS…]  → the NDJSON, gzip-compressed (level 6, as gzip does by default)
dataset() { _dataset ndjson ndjson "$@"; }
dataset_csv() { _dataset csv csv "$@"; }
dataset_csv_export() { _dataset export.csv csv-export "$@"; }
dataset_gz() {
  local src path
  src=$(dataset "$@") || return 1
  path="$src.gz"
  if [[ ! -s $path ]]; then
    echo "bench: compressing $(basename "$src")" >&2
    gzip -c "$src" > "$path.tmp.$$" && mv -f "$path.tmp.$$" "$path" || { rm -f "$path.tmp.$$"; return 1; }
  fi
  echo "$path"
}

# --- timing ------------------------------------------------------------------------------

# bench_input PATH [RECORDS] → the data volume that the following timeit calls process, for
# their MB/s and records/s columns. RECORDS defaults to the file's line count (less the
# header for .csv). Reading the file also brings it into the page cache before timing.
BENCH_INPUT_BYTES=0
BENCH_INPUT_RECORDS=0
bench_input() {
  local path=$1
  [[ -r $path ]] || { bench_die "bench_input: cannot read $path"; return 1; }
  BENCH_INPUT_BYTES=$(file_size "$path")
  if [[ -n ${2:-} ]]; then
    BENCH_INPUT_RECORDS=$2
  else
    BENCH_INPUT_RECORDS=$(wc -l < "$path")
    [[ $path == *.csv ]] && BENCH_INPUT_RECORDS=$((BENCH_INPUT_RECORDS - 1))
  fi
  cat "$path" > /dev/null
}

# Results recorded by timeit, in order.
RESULT_LABELS=() RESULT_SECONDS=() RESULT_RSS_KB=() RESULT_BYTES=() RESULT_RECORDS=() RESULT_PEERS=()
declare -A RESULT_BY_LABEL=()
_RESULT_HEADER_SHOWN=0

# timeit [--peer LABEL] [--runs N] LABEL CMD…
# Runs CMD (a shell command line, given as one string or as words) BENCH_RUNS times with
# bash -o pipefail, stdout to /dev/null unless CMD redirects it, and records the median wall
# time and the peak RSS (KB, largest single process of the command, max over the runs).
# --peer names an earlier label: the table then shows peer seconds / these seconds.
# Sets TIMEIT_SECONDS and TIMEIT_RSS_KB; returns 1 (and records nothing) if CMD fails.
# Trap: GNU grep stops at the first match when its stdout is /dev/null; time it as
# "grep … | cat" (or with -c) to make it read everything.
timeit() {
  local peer="" runs=$BENCH_RUNS
  while [[ $# -gt 0 ]]; do
    case $1 in
      --peer) peer=$2; shift 2 ;;
      --runs) runs=$2; shift 2 ;;
      *) break ;;
    esac
  done
  local label=$1
  shift
  local cmd="$*"
  local times=() rss=0 i t0 t1 r err
  err=$(mktemp) || return 1
  # GNU time reports the peak RSS; without it the RSS column shows 0.
  local _timer=()
  [[ -x /usr/bin/time ]] && _timer=(/usr/bin/time -f %M -o "$err.rss")
  for ((i = 0; i < runs; i++)); do
    t0=$(now_s)
    if ! "${_timer[@]}" bash -o pipefail -c "$cmd" > /dev/null 2> "$err"; then
      printf '  %-34s FAILED (run %d)\n' "$label" $((i + 1)) >&2
      tail -n 5 "$err" | sed 's/^/    /' >&2
      rm -f "$err" "$err.rss"
      return 1
    fi
    t1=$(now_s)
    times+=("$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f", b - a }')")
    r=$(tail -n 1 "$err.rss" 2>/dev/null)
    [[ $r =~ ^[0-9]+$ ]] && ((r > rss)) && rss=$r
  done
  rm -f "$err" "$err.rss"
  if [[ $_RESULT_HEADER_SHOWN == 0 ]]; then _result_header; _RESULT_HEADER_SHOWN=1; fi
  TIMEIT_SECONDS=$(median "${times[@]}")
  TIMEIT_RSS_KB=$rss
  RESULT_LABELS+=("$label")
  RESULT_SECONDS+=("$TIMEIT_SECONDS")
  RESULT_RSS_KB+=("$rss")
  RESULT_BYTES+=("$BENCH_INPUT_BYTES")
  RESULT_RECORDS+=("$BENCH_INPUT_RECORDS")
  RESULT_PEERS+=("$peer")
  RESULT_BY_LABEL[$label]=$TIMEIT_SECONDS
  _result_row "$label" "$TIMEIT_SECONDS" "$BENCH_INPUT_BYTES" "$BENCH_INPUT_RECORDS" "$rss" "$peer"
  if [[ -n ${BENCH_TSV:-} ]]; then
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$label" "$TIMEIT_SECONDS" "$BENCH_INPUT_BYTES" \
      "$BENCH_INPUT_RECORDS" "$rss" "$peer" >> "$BENCH_TSV"
  fi
}

# One formatted line: label, seconds, MB/s, records/s, peak RSS, ratio vs peer.
_result_row() {
  local label=$1 secs=$2 bytes=$3 records=$4 rss=$5 peer=$6 mbs="-" rps="-" vs=""
  if [[ $bytes -gt 0 ]]; then mbs=$(awk -v b="$bytes" -v s="$secs" 'BEGIN { printf "%.1f", b / 1e6 / s }'); fi
  if [[ $records -gt 0 ]]; then rps=$(human "$(awk -v r="$records" -v s="$secs" 'BEGIN { print r / s }')"); fi
  if [[ -n $peer && -n ${RESULT_BY_LABEL[$peer]:-} ]]; then
    vs="$(ratio "${RESULT_BY_LABEL[$peer]}" "$secs") vs $peer"
  fi
  printf '  %-34s %9.3f %9s %9s %9s  %s\n' "$label" "$secs" "$mbs" "$rps" \
    "$(awk -v k="$rss" 'BEGIN { printf "%.1f MB", k / 1024 }')" "$vs"
}

_result_header() {
  printf '  %-34s %9s %9s %9s %9s  %s\n' "command" "seconds" "MB/s" "rec/s" "peak RSS" "vs peer"
  printf '  %-34s %9s %9s %9s %9s  %s\n' "-------" "-------" "----" "-----" "--------" "-------"
}

# results_table [TITLE] → every result recorded so far, as one aligned table
results_table() {
  [[ -n ${1:-} ]] && printf '\n%s\n' "$1"
  echo
  _result_header
  local i
  for i in "${!RESULT_LABELS[@]}"; do
    _result_row "${RESULT_LABELS[$i]}" "${RESULT_SECONDS[$i]}" "${RESULT_BYTES[$i]}" \
      "${RESULT_RECORDS[$i]}" "${RESULT_RSS_KB[$i]}" "${RESULT_PEERS[$i]}"
  done
  echo
}

# results_reset → forget the recorded results (e.g. between sections of one script)
results_reset() {
  RESULT_LABELS=() RESULT_SECONDS=() RESULT_RSS_KB=() RESULT_BYTES=() RESULT_RECORDS=() RESULT_PEERS=()
  RESULT_BY_LABEL=()
  _RESULT_HEADER_SHOWN=0
}

# bench_header TITLE → what was measured, where and how: printed once at the top of a run.
bench_header() {
  local cpu
  cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null)
  echo "== ${1:-mailpipe bench} =="
  echo "   $(date -u +%Y-%m-%dT%H:%M:%SZ)  ${cpu:-unknown cpu}, $(nproc) cores"
  echo "   $(swiftc --version 2>/dev/null | head -n 1)"
  echo "   N=$BENCH_N  seed=$BENCH_SEED  runs=$BENCH_RUNS (median wall time; RSS = largest process)"
}
