#!/usr/bin/env bash
# The damage campaign over inject's state (issue 14): a campaign's journal, its dead-letter file
# and their seals (journal/smtp/<campaign>.ndjson, .dead.ndjson, each with .seal) × {truncation at
# a random offset, a cut at a line boundary, a flipped bit, deletion, a symbolic link, a folder in
# its place}, then the re-run of the same messages and the replay of the dead letters, against an
# SMTP server that logs every message it accepts. Each run ends in one of:
#   - exit 0: no address delivered a second time, and an outcome for every record (never a
#     silently empty or short run);
#   - an error naming the damaged file and a way out (account fsck, removing the link), nothing
#     delivered; `account fsck` names the file too, `--repair` makes inject run again, and an
#     address is delivered again only where fsck said lines were lost.
# Never a signal, never a hang. A journal cut exactly at a line boundary is a shorter journal of
# whole lines: only its seal (length and CRC-32, docs/inject.md) shows what is missing.
# DAMAGE_SEED=N picks other offsets; DAMAGE_KEEP_GOING=1 lists every broken rule.
source "$(dirname "$0")/lib.sh"
SERVERS="$REPO/Tests/Servers"
FIX="$REPO/Tests/Shell/inject-fixtures.py"
seed=${DAMAGE_SEED:-1414}
RANDOM=$seed
T=jdmg
NOW=2026-11-25T12:00:00Z
python3 "$SERVERS/strict_smtp.py" --port-file "$WORK/smtp-port" --log "$WORK/smtp.log" \
  --refuse gone1@example.test --refuse gone2@example.test &
SMTP_PID=$!
trap 'kill "$SMTP_PID" 2>/dev/null || true; rm -rf "$WORK"' EXIT
for _ in $(seq 1 100); do [ -s "$WORK/smtp-port" ] && break; sleep 0.1; done
[ -s "$WORK/smtp-port" ] || fail "the SMTP server did not start"
touch "$WORK/smtp.log"
cat > "$WORK/tenant.json" <<JSON
{"slug":"$T","sending_domain":"example.test",
 "smtp":{"url":"smtp://127.0.0.1:$(cat "$WORK/smtp-port")","from":"hello@example.test"}}
JSON
account init --tenant $T --config "$WORK/tenant.json" 2>/dev/null
D="$MAILPIPE_STATE/$T"
J=journal/smtp
# Eight messages the server accepts, two it refuses for good (failed, dead-lettered).
python3 "$FIX" messages 8 --tenant $T --campaign nov > "$WORK/msgs.ndjson"
for e in gone1 gone2; do head -1 "$WORK/msgs.ndjson" | jq -c --arg e "$e@example.test" '.email = $e'; done >> "$WORK/msgs.ndjson"
records=$(wc -l < "$WORK/msgs.ndjson")
INJECT="inject smtp --tenant $T --now $NOW"
$INJECT "$WORK/msgs.ndjson" > "$WORK/first.ndjson" 2>/dev/null
assert_eq "$(jq -r .outcome "$WORK/first.ndjson" | sort | uniq -c | xargs)" "2 failed 8 sent" "first run: 8 sent, 2 refused"
# delivered_after N: the addresses the server accepted after its log's line N, one a line.
delivered_after() { tail -n +"$(( $1 + 1 ))" "$WORK/smtp.log" | awk '$1 == "message" { gsub(/[<>]/, "", $2); print $2 }' | sort; }
sent_once=$(delivered_after 0)
assert_eq "$(echo "$sent_once" | wc -l)" "8" "eight delivered"
assert_eq "$(wc -l < "$D/$J/nov.dead.ndjson")" "2" "two dead letters"
assert_eq "$(head -1 "$D/$J/nov.ndjson")" '{"journal":2}' "the journal starts with its format line"
assert_eq "$(stat -c %s "$D/$J/nov.ndjson.seal") $(stat -c %s "$D/$J/nov.dead.ndjson.seal")" "24 24" "both files sealed"
assert_eq "$(run_capture account fsck --tenant $T)" "0" "fsck: sound journal and dead letters"
cp -a "$D" "$WORK/pristine"

# A journal written before seals (format 1: no format line, no seal) is read as it was — the
# re-run sends nothing again — and sealed by that run.
grep -v '^{"journal":2}$' "$WORK/pristine/$J/nov.ndjson" > "$D/$J/nov.ndjson"
rm "$D/$J/nov.ndjson.seal" "$D/$J/nov.dead.ndjson.seal"
mark=$(wc -l < "$WORK/smtp.log")
assert_eq "$(run_capture $INJECT "$WORK/msgs.ndjson")" "0" "format-1 journal: the re-run works"
assert_eq "$(jq -r .outcome "$WORK/stdout" | sort | uniq -c | xargs)" "10 skipped" "format-1 journal: everything skipped"
assert_eq "$(delivered_after "$mark")" "" "format-1 journal: nothing delivered again"
assert_eq "$(tail -1 "$D/$J/nov.ndjson") $(stat -c %s "$D/$J/nov.ndjson.seal")" '{"journal":2} 24' "format-1 journal: sealed by the run"
assert_eq "$(run_capture account fsck --tenant $T)" "0" "format-1 journal: fsck clean after the upgrade"

source "$(dirname "$0")/damage_lib.sh"
reset() { rm -rf "$D"; cp -a "$1" "$D"; }
# judge_inject WHAT FILE KIND STATUS MARK — the rules above for an inject run on $WORK/stdout and
# $WORK/stderr; MARK: the server log's length before it.
judge_inject() {
  local what="$1 after $3 of $2 (seed $seed)" base err again
  base=$(basename "$2"); err=$(head -c 1500 "$WORK/stderr")
  checks=$((checks + 1))
  [ "$4" != 124 ] || bad "$what: hung (timeout)"
  [ "$4" -lt 128 ] || bad "$what: killed by signal $(( $4 - 128 )): $err"
  again=$(delivered_after "$5" | comm -12 - <(echo "$sent_once") | xargs)
  if [ "$4" = 0 ]; then
    [ -z "$again" ] || bad "$what: delivered again: $again"
    [ "$(wc -l < "$WORK/stdout")" = "$6" ] || bad "$what: exit 0 with $(wc -l < "$WORK/stdout") outcomes for $6 records: $err"
  else
    case $err in *"$base"*) ;; *) bad "$what: exit $4 without naming $base: $err";; esac
    case $err in *"account fsck"*|*"remove the link"*) ;; *) bad "$what: exit $4 without a way out: $err";; esac
    [ -z "$(delivered_after "$5")" ] || bad "$what: exit $4 after delivering $(delivered_after "$5" | xargs)"
  fi
}

runs=0; refused=0; repaired=0
start=$(date +%s)
for f in $J/nov.ndjson $J/nov.ndjson.seal $J/nov.dead.ndjson $J/nov.dead.ndjson.seal; do
  kinds="truncate truncate flip flip delete link folder"
  case $f in *.ndjson) kinds="$kinds cutline cutline cutline";; esac
  for kind in $kinds; do
    reset "$WORK/pristine"
    damage $kind "$f"
    rm -rf "$WORK/damaged"; cp -a "$D" "$WORK/damaged"
    # The replay of the dead letters: their records (both refused again), or an error.
    mark=$(wc -l < "$WORK/smtp.log")
    s=$(run_capture timeout 20 $INJECT --replay "$D/$J/nov.dead.ndjson" < /dev/null)
    judge_inject replay "$f" $kind "$s" "$mark" 2
    runs=$((runs + 1))
    # The re-run of the same messages.
    reset "$WORK/damaged"
    mark=$(wc -l < "$WORK/smtp.log")
    s=$(run_capture timeout 20 $INJECT "$WORK/msgs.ndjson" < /dev/null)
    judge_inject re-run "$f" $kind "$s" "$mark" "$records"
    runs=$((runs + 1))
    [ "$s" != 0 ] || continue
    refused=$((refused + 1))
    # The way out: fsck names the damage; --repair (or, for a link, the file put back in its
    # place) lets the re-run go; an address goes again only where fsck said lines were lost.
    what="after $kind of $f (seed $seed)"
    s=$(run_capture timeout 20 account fsck --tenant $T)
    checks=$((checks + 1))
    [ "$s" = 1 ] && grep -q "$(basename "$f")" "$WORK/stdout" || bad "fsck $what: exit $s, no finding naming $(basename "$f"): $(head -c 600 "$WORK/stdout") $(head -c 300 "$WORK/stderr")"
    lost=0
    if [ $kind = link ]; then
      rm "$D/$f"; cp "$WORK/elsewhere/$(basename "$f")" "$D/$f"
    else
      s=$(run_capture timeout 20 account fsck --tenant $T --repair)
      [ "$s" -lt 2 ] || bad "fsck --repair $what: exit $s: $(head -c 300 "$WORK/stderr")"
      lost=$(grep -c '"outcome":"lost"' "$WORK/stdout" || true)
      s=$(run_capture timeout 20 account fsck --tenant $T)
      [ "$s" = 0 ] || bad "fsck $what, after --repair: exit $s: $(head -c 600 "$WORK/stdout")"
      repaired=$((repaired + 1))
    fi
    mark=$(wc -l < "$WORK/smtp.log")
    s=$(run_capture timeout 20 $INJECT "$WORK/msgs.ndjson" < /dev/null)
    checks=$((checks + 1))
    [ "$s" = 0 ] || bad "re-run $what, after the way out: exit $s: $(head -c 600 "$WORK/stderr")"
    [ "$(wc -l < "$WORK/stdout")" = "$records" ] || bad "re-run $what, after the way out: $(wc -l < "$WORK/stdout") outcomes for $records records"
    again=$(delivered_after "$mark" | comm -12 - <(echo "$sent_once") | xargs)
    [ -z "$again" ] || [ "$lost" -gt 0 ] || bad "re-run $what, after the way out: delivered again ($again) though fsck reported nothing lost"
  done
done
echo "journal damage campaign: 4 files, $runs inject runs in $(( $(date +%s) - start )) s (seed $seed): $refused refused with a way out, $repaired repaired by fsck"
[ "$refused" -gt 0 ] || fail "no damage was refused: the seal is not checked"
[ "$broken" = 0 ] || fail "$broken broken rules"
done_ok
