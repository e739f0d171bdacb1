#!/usr/bin/env bash
# The progress line on a real terminal (tmux): a 300,000-contact pipeline shows one line, drawn
# by the stage that reads the file, with a percentage, a bar, the rate and an ETA; a commit
# reading a file names its phases; nothing at all is written when standard error is a file.
source "$(dirname "$0")/lib.sh"
command -v tmux >/dev/null || fail "tmux is not installed (scripts/install-deps --test)"
command -v script >/dev/null || fail "script (util-linux, essential on Debian) is not installed"
python3 "$REPO/Tests/Shell/gen_contacts.py" 300000 > "$WORK/big.ndjson"
account init --tenant sos-expat 2>/dev/null
socket="mailpipe-progress-$$"
trap 'tmux -L "$socket" kill-server 2>/dev/null || true; rm -rf "$WORK"' EXIT   # the server quits with its last session

# run_on_terminal NAME COMMAND — runs COMMAND in a 100x12 tmux pane (a terminal; CI unset, as on
# a person's terminal) and captures the screen every 50 ms until it ends; the captures go to
# $WORK/NAME.screens, separated by lines "----".
run_on_terminal() {
  local name=$1 command=$2 screens="$WORK/$1.screens"
  : > "$screens"
  tmux -L "$socket" new-session -d -s "$name" -x 100 -y 12 \
    "env -u CI PATH='$PATH' MAILPIPE_STATE='$MAILPIPE_STATE' bash -c '$command; echo \"done \$?\" > $WORK/$name.done; sleep 30'"
  for _ in $(seq 1 1200); do
    tmux -L "$socket" capture-pane -p -t "$name" >> "$screens" 2>/dev/null || true
    echo "----" >> "$screens"
    [ -s "$WORK/$name.done" ] && break
    sleep 0.05
  done
  tmux -L "$socket" capture-pane -p -t "$name" >> "$screens"
  tmux -L "$socket" kill-session -t "$name"
  [ "$(cat "$WORK/$name.done" 2>/dev/null)" = "done 0" ] || fail "$name: the command failed: $(cat "$WORK/$name.done" 2>/dev/null) $(tail -5 "$screens")"
}

run_on_terminal pipeline "cd $WORK && ingest --tenant sos-expat --format ndjson big.ndjson | dedupe | validate | account commit"
python3 - "$WORK/pipeline.screens" <<'PY'
import re, sys
screens = open(sys.argv[1], encoding="utf-8", errors="replace").read().split("----\n")
line = re.compile(r"^ingest +\d{1,3}% \[[=> ]+\] +[\d.]+(B|KiB|MiB|GiB)/[\d.]+(KiB|MiB|GiB) +[\d.]+(B|KiB|MiB|GiB)/s( +[\d.]+[kM]? rec/s)? +ETA \d+:\d\d:\d\d\s*$")
other = re.compile(r"^(dedupe|validate|account commit)\b.*(/s|%|ETA)")
seen = [l for s in screens for l in s.splitlines() if line.match(l)]
assert seen, "no progress line of the shape 'ingest  45% [===>  ] 12.3MiB/120.0MiB  40.1MiB/s  ETA 0:00:02' was seen:\n" + "\n".join(screens[len(screens) // 2].splitlines())
percents = sorted({int(re.match(r"^ingest +(\d+)%", l).group(1)) for l in seen})
assert all(0 <= p <= 100 for p in percents), percents
for s in screens:
    progress_lines = [l for l in s.splitlines() if line.match(l) or other.match(l)]
    assert len(progress_lines) <= 1, "more than one progress line on the screen:\n" + s
    assert not any(other.match(l) for l in s.splitlines()), "a downstream stage drew a progress line:\n" + s
assert all(len(l) <= 100 for l in seen), "the line fits the terminal"
final = screens[-1]
assert "account commit: 300000 in" in final, "the summaries follow: " + final
print("progress line seen %d times, percentages %s" % (len(seen), percents[:5] + ["…"] + percents[-3:]))
PY
checks=$((checks + 1))

# A commit that reads the file itself shows the line, then names its phases. Every byte the pane
# receives is recorded (script), so a line drawn and replaced between two screen captures still
# counts, and the first line is asked for at once: a fast machine reads the file in less than the
# default wait, and the test must not depend on the machine's speed.
account init --tenant phases 2>/dev/null
sed s/sos-expat/phases/ "$WORK/big.ndjson" > "$WORK/phases.ndjson"
cat > "$WORK/commit.sh" <<SH
cd "$WORK" && MAILPIPE_PROGRESS_DELAY=0 script -qfec "account commit --tenant phases phases.ndjson" commit.raw
SH
run_on_terminal commit "bash $WORK/commit.sh"
tr '\r' '\n' < "$WORK/commit.raw" > "$WORK/commit.lines"
grep -qaE "^account commit +[0-9]+% .*ETA" "$WORK/commit.lines" || fail "account commit reading a file shows the progress line: $(grep -a 'account commit' "$WORK/commit.lines" | sort -u | head -5)"
grep -qaE "^account commit: (merging [0-9]+ contacts into the store|writing the new runs and the manifest)… [0-9]+:[0-9]{2}:[0-9]{2}" \
  "$WORK/commit.lines" || fail "account commit names its phases: $(grep -a 'account commit' "$WORK/commit.lines" | sort -u | head -5)"
checks=$((checks + 1))

# Standard error in a file, on the same terminal: only the summaries, no progress, no \r.
run_on_terminal quiet "cd $WORK && ingest --tenant sos-expat --format ndjson big.ndjson 2> ingest.err | dedupe 2> dedupe.err > /dev/null"
assert_eq "$(grep -c $'\r' "$WORK/ingest.err" || true)" "0" "no carriage return in a file"
assert_eq "$(grep -c 'MiB/s\|rec/s' "$WORK/ingest.err" || true)" "0" "no progress line in a file"
assert_contains "$(cat "$WORK/ingest.err")" "ingest: 300000 in" "the summary"
case "$(cat "$WORK/ingest.err")" in *ETA*|*%*) fail "progress written to a file";; esac
# --progress asks for it anyway (here in a file: the line and its clearing are written).
ingest --tenant sos-expat --format ndjson --progress "$WORK/big.ndjson" 2> "$WORK/forced.err" > /dev/null
grep -q "ETA" "$WORK/forced.err" || fail "--progress draws the line even when standard error is not a terminal"
checks=$((checks + 1))
done_ok
