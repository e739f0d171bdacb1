# The damage campaigns' shared part (damage-campaign*.test.sh): damaging a state file, the rules
# every command run on damage is judged by, and the campaign's loop. Uses the campaign's globals:
# D (the tenant folder), WORK, seed, blocked, checks; commands[] ("NAME|COMMAND"), and its
# functions reads NAME FILE (whether the command reads or writes the file) and normalise NAME.
declare -gA want   # NAME → the digest of the command's undamaged output
want_contacts=0    # the undamaged export's lines
damage() {  # damage KIND FILE (in $D)
  local path="$D/$2" size
  size=$(stat -c %s "$path")
  case $1 in
    truncate) truncate -s $(( size > 0 ? RANDOM % size : 0 )) "$path" ;;
    flip) [ "$size" -gt 0 ] || return 0
          local at=$(( (RANDOM * 32768 + RANDOM) % size )) byte
          byte=$(od -An -tu1 -j "$at" -N1 "$path" | tr -d ' ')
          printf "\\$(printf '%03o' $(( byte ^ (1 << (RANDOM % 8)) )))" | dd of="$path" bs=1 seek="$at" conv=notrunc 2>/dev/null ;;
    digit) # one digit made another (a count, a length, a date): what leaves JSON valid most often
          local offsets at byte
          mapfile -t offsets < <(grep -bo '[0-9]' "$path" | cut -d: -f1)
          [ ${#offsets[@]} -gt 0 ] || return 0
          at=${offsets[$((RANDOM % ${#offsets[@]}))]}
          byte=$(od -An -tu1 -j "$at" -N1 "$path" | tr -d ' ')
          printf "\\$(printf '%03o' $(( byte ^ 1 )))" | dd of="$path" bs=1 seek="$at" conv=notrunc 2>/dev/null ;;
    cutline) # cut at a line boundary: a shorter file of whole lines (what a checksum per line cannot see)
          local ends
          mapfile -t ends < <(LC_ALL=C awk '{ print n + 0; n += length($0) + 1 }' "$path")
          [ ${#ends[@]} -gt 0 ] || return 0
          truncate -s "${ends[$((RANDOM % ${#ends[@]}))]}" "$path" ;;
    folder) rm "$path"; mkdir "$path" ;;
    delete) rm "$path" ;;
    link) mkdir -p "$WORK/elsewhere"; cp "$path" "$WORK/elsewhere/$(basename "$2")"; rm "$path"
          ln -s "$WORK/elsewhere/$(basename "$2")" "$path" ;;
  esac
}

# bad MESSAGE — a broken rule: the test fails (DAMAGE_KEEP_GOING=1: said, and the campaign goes on).
broken=0
bad() { if [ -n "${DAMAGE_KEEP_GOING:-}" ]; then echo "FAIL: $*" >&2; broken=$((broken + 1)); else fail "$@"; fi; }
# judge NAME FILE KIND STATUS [same|any|detect] — the rules above, on $WORK/stdout and
# $WORK/stderr; the output is compared with the undamaged run's unless the fifth argument is
# "any"; "detect": the command must name the file (an error, a warning, a finding) whatever it did.
judge() {
  local name=$1 f=$2 kind=$3 s=$4 compare=${5:-same} base err what
  base=$(basename "$f"); err=$(head -c 2000 "$WORK/stderr"); what="$name after $kind of $f (seed $seed)"
  # fsck's findings are its output: {"file","problem","outcome":"repairable|lost","action"}.
  case $name in fsck|repair) err="$(head -c 2000 "$WORK/stdout") $err" ;; esac
  checks=$((checks + 1))
  [ "$s" != 124 ] || bad "$what: hung (timeout)"
  [ "$s" -lt 128 ] || bad "$what: killed by signal $((s - 128)): $err"
  if [ "$compare" = detect ]; then
    case $err in *"$base"*) ;; *) bad "$what: the damage went unseen (exit $s, nothing names $base): $err";; esac
  fi
  if [ "$s" = 0 ]; then
    if [ "$compare" = same ] && [ "$(md5sum < "$WORK/stdout")" != "${want[$name]}" ]; then
      [ -s "$WORK/stdout" ] || bad "$what: exit 0 with an empty result: $err"
      case $err in *"$base"*) ;; *) bad "$what: exit 0, a different result, no warning naming $base: $err";; esac
    fi
    [ "$name" != export ] || [ "$(wc -l < "$WORK/stdout")" = "$want_contacts" ] || bad "$what: exit 0 with contacts missing"
  else
    # fsck names the files of its findings: a damaged value may show as another file's finding.
    if { [ "$name" = fsck ] || [ "$name" = repair ]; } && [ "$compare" = any ] && grep -q '"outcome":' "$WORK/stdout"; then base='"outcome":'; fi
    case $err in *"$base"*|*"has no state"*) ;; *) bad "$what: exit $s without naming $base: $err";; esac
    case $err in *fsck*|*restore*|*"remove the link"*|*"account init"*|*"tenant.json"*|*'"outcome":"repairable"'*|*'"outcome":"lost"'*) ;; *) bad "$what: exit $s without a way out: $err";; esac
  fi
  case $name in
    segment) leaked=$({ jq -r .email "$WORK/stdout" 2>/dev/null || true; } | sort | comm -12 - <(echo "$blocked"))
             [ -z "$leaked" ] || bad "$what: selected blocked addresses: $leaked" ;;
    inject) leaked=$({ jq -r '.[0] as $e | select(.[1] != "skipped") | $e' "$WORK/stdout" 2>/dev/null || true; } | sort | comm -12 - <(echo "$blocked"))
            [ -z "$leaked" ] || bad "$what: tried to send to blocked addresses: $leaked" ;;
  esac
  return 0
}

# checksummed FILE — a JSON file the store writes, with its checksum.
checksummed() { case $1 in ledger.json|contacts/manifest.json|contacts/layout.json|contacts/shard-*/manifest.json) return 0;; *) return 1;; esac; }


# record_undamaged — runs every command on a copy of $WORK/pristine: want[] and want_contacts.
record_undamaged() {
  local entry name s
  for entry in "${commands[@]}"; do
    name=${entry%%|*}
    rm -rf "$D"; cp -a "$WORK/pristine" "$D"
    s=$(run_capture timeout 20 ${entry#*|} < /dev/null)
    [ "$s" = 0 ] || fail "setup: $name exits $s on the undamaged state: $(head -c 300 "$WORK/stderr")"
    normalise "$name"
    want[$name]=$(md5sum < "$WORK/stdout")
    if [ "$name" = export ]; then want_contacts=$(wc -l < "$WORK/stdout"); fi
  done
}

# damage_campaign all|two WRITER... — every file of $WORK/pristine × its damages (truncate, flip,
# delete, link; digit too for JSON; "two": two of them drawn with the seed unless DAMAGE_ALL=1)
# × every command that reads it, each judged; after a WRITER ran on the damage, a segment run
# must still select nobody blocked. Sets runs, detected (flips leaving a checksummed file valid
# JSON, which must be seen) and undetectable (those leaving tenant.json valid JSON).
damage_campaign() {
  local draw=$1 files f kind kinds compare entry name s r
  shift
  local writers=" $* "
  runs=0; detected=0; undetectable=0
  files=$(cd "$WORK/pristine" && find . -type f | sed 's|^\./||' | sort)
  for f in $files; do
    kinds="truncate flip delete link"
    [ "${f%.json}" = "$f" ] || kinds="$kinds digit"
    if [ "$draw" = two ] && [ -z "${DAMAGE_ALL:-}" ]; then
      r=$RANDOM   # drawn here: a command substitution would reseed it, and the seed would not repeat
      kinds=$(printf '%s\n' $kinds | awk -v r="$r" 'BEGIN { srand(r) } { print rand(), $0 }' | sort -n | head -2 | cut -d' ' -f2)
    fi
    for kind in $kinds; do
      rm -rf "$D"; cp -a "$WORK/pristine" "$D"
      damage $kind "$f"
      # A flip that leaves a JSON file valid JSON: in the files the store writes (checksummed) it
      # must be seen by every command reading the file; in tenant.json (the operator's, edited by
      # hand: no checksum) it is an edited value — a clear error or the value's effect, any
      # output, the other rules hold.
      compare=same
      if [ $kind = flip ] || [ $kind = digit ]; then
        if checksummed "$f"; then compare=detect
          if jq -e . "$D/$f" >/dev/null 2>&1; then detected=$((detected + 1)); fi
        elif [ "${f%.json}" != "$f" ] && jq -e . "$D/$f" >/dev/null 2>&1; then compare=any; undetectable=$((undetectable + 1)); fi
      fi
      rm -rf "$WORK/damaged"; cp -a "$D" "$WORK/damaged"
      for entry in "${commands[@]}"; do
        name=${entry%%|*}
        reads "$name" "$f" || continue
        rm -rf "$D"; cp -a "$WORK/damaged" "$D"
        s=$(run_capture timeout 20 ${entry#*|} < /dev/null)
        normalise "$name"
        judge "$name" "$f" "$kind" "$s" $compare
        runs=$((runs + 1))
        case $writers in *" $name "*)
          s=$(run_capture timeout 20 segment --tenant $T --contacts store < /dev/null)
          judge segment "$f" "$kind then $name" "$s" any ;;
        esac
      done
    done
  done
}
