#!/usr/bin/env bash
# Inputs at the edges: a first line over --max-line is not slurped as a document; --max-depth is
# bounded; unpaired surrogate escapes never reach an identity; account commit refuses what it
# cannot store (with a reason); a campaign too long for a journal name is one reject, not a
# failed run; a failed account init leaves nothing behind; unreadable state says so.
source "$(dirname "$0")/lib.sh"
T=sos-expat
account init --tenant "$T" 2>/dev/null
status_of() { set +e; "$@" >"$WORK/out" 2>"$WORK/err" </dev/null; local s=$?; set -e; echo "$s"; }
# The reasons of a rejects file, counted (python: jq refuses the unpaired surrogates they echo).
reasons() { python3 -c 'import json,sys; [print(json.loads(l)["reason"]) for l in open(sys.argv[1])]' "$1" | sort | uniq -c | xargs; }

# --- A first line over --max-line that starts like JSON: one line_too_long reject, the other
# lines read, memory bounded (the line is never held whole).
python3 - "$WORK/long.txt" <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    f.write('{"email":"big@x.test","note":"' + "x" * (40 << 20) + '"}\n')
    f.write('{"email":"a@x.test"}\n{"email":"b@x.test"}\n')
PY
# Peak memory of ingest on the file, and on the same file without its long line.
tail -n +2 "$WORK/long.txt" > "$WORK/short.txt"
peak_of() {
  python3 - "$1" "$2" "$3" <<'PY'
import resource, subprocess, sys
with open(sys.argv[2], "w") as out:
    subprocess.run(["ingest", "--tenant", "sos-expat", "--format", "auto", "--rejects", sys.argv[3], sys.argv[1]],
                   stdout=out, stderr=subprocess.DEVNULL, check=True)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024)
PY
}
base=$(peak_of "$WORK/short.txt" "$WORK/short.out" "$WORK/short.rej")
peak=$(peak_of "$WORK/long.txt" "$WORK/long.out" "$WORK/long.rej")
assert_eq "$(jq -r .email "$WORK/long.out" | xargs)" "a@x.test b@x.test" "the lines after the long one are read"
assert_eq "$(jq -r '[.reason, (.line|tostring)] | join(" ")' "$WORK/long.rej")" "line_too_long 1" "the long first line is one reject"
[ "$peak" -lt $((base + 20)) ] || fail "ingest held the 40 MB line: peak RSS $peak MB (without it $base MB)"
checks=$((checks + 1))

# --- --max-depth is bounded; nesting within it never overflows a stack.
assert_eq "$(status_of ingest --tenant "$T" --max-depth 1000000 "$WORK/long.txt")" 2 "--max-depth 1000000 is refused"
assert_contains "$(cat "$WORK/err")" "--max-depth takes 1…1000" "and the range is said"
python3 -c "
d = 990
print('{\"email\":\"deep@x.test\",\"custom\":{\"x\":' + '[' * d + ']' * d + '}}')
print('{\"email\":\"deeper@x.test\",\"custom\":{\"x\":' + '[' * 5000 + ']' * 5000 + '}}')
print('{\"email\":\"flat@x.test\"}')" > "$WORK/deep.ndjson"
for cmd in "ingest --tenant $T --format ndjson" "dedupe --tenant $T" "account commit --tenant $T"; do
  s=$(status_of $cmd --max-depth 1000 --rejects "$WORK/deep.rej" "$WORK/deep.ndjson")
  assert_eq "$s" 0 "$cmd: deep nesting within --max-depth is no crash"
  assert_eq "$(reasons "$WORK/deep.rej")" "1 too_deep" "$cmd: nesting past --max-depth is one reject"
done

# --- Unpaired surrogate escapes: U+FFFD would make different addresses one.
printf '%s\n' '{"email":"a\uD800@x.test"}' '{"email":"a\uDBFF@x.test"}' '{"email":"a\uDC00b@x.test"}' \
  '{"email":"smile\uD83D\uDE00@x.test"}' '{"email":"ok@x.test","tenant":"sos\uD800"}' > "$WORK/sur.ndjson"
ingest --tenant "$T" --format ndjson --rejects "$WORK/sur.rej" "$WORK/sur.ndjson" > "$WORK/sur.out" 2>/dev/null
assert_eq "$(jq -r .email "$WORK/sur.out" | xargs)" "smile😀@x.test" "ingest: only whole characters pass"
assert_eq "$(reasons "$WORK/sur.rej")" "3 invalid_email 1 tenant_mismatch" "ingest: each unpaired surrogate is a reject"
head -4 "$WORK/sur.ndjson" | sed 's/}$/,"tenant":"sos-expat"}/' > "$WORK/sur4.ndjson"
printf '%s\n' '{"email":"ok@x.test","tenant":"sos\uD800"}' >> "$WORK/sur4.ndjson"
for cmd in "dedupe --tenant $T" "account commit --tenant $T"; do
  status_of $cmd --rejects "$WORK/sur.rej" "$WORK/sur4.ndjson" >/dev/null
  assert_eq "$(reasons "$WORK/sur.rej")" "4 invalid_email" "$cmd: unpaired surrogates in email or tenant are rejects"
done
# (python: jq refuses the 990-deep record stored above)
account export --tenant "$T" 2>/dev/null | python3 -c 'import json,sys; [print(json.loads(l)["email"]) for l in sys.stdin]' > "$WORK/stored"
grep -q $'\xef\xbf\xbd' "$WORK/stored" && fail "a replacement character reached the store"
assert_contains "$(cat "$WORK/stored")" "smile😀@x.test" "a surrogate pair is a character like any other"

# --- account commit refuses what it cannot store, with a reason; the rest lands.
printf '%s\n' '{"email":"not an email"}' '{"email":"@x.test"}' '{"email":"a@"}' '{"email":"t@x.test","tags":[1e400]}' \
  '{"email":"u@x.test","tags":["ok",7]}' '{"email":"v@x.test","custom":{"score":-1e400}}' \
  '{"email":"w@x.test","tags":["ok"],"custom":{"id":123456789012345678901234567890,"small":1e-400}}' > "$WORK/bad.ndjson"
account commit --tenant "$T" --rejects "$WORK/bad.rej" "$WORK/bad.ndjson" 2>/dev/null
assert_eq "$(reasons "$WORK/bad.rej")" "3 invalid_email 1 invalid_number 2 invalid_tags" "each refusal has its reason"
assert_eq "$(jq -r 'select(.reason=="invalid_tags") | .detail' "$WORK/bad.rej" | head -1)" "tags must be strings; element 1 is 1e400" "the detail says which element"
assert_contains "$(account export --tenant "$T" 2>/dev/null | grep '"w@x.test"')" \
  '"custom":{"id":123456789012345678901234567890,"small":1e-400}' "a long integer is kept as written"
account export --tenant "$T" 2>/dev/null | python3 -c 'import json,sys; [print(json.loads(l)["email"]) for l in sys.stdin]' > "$WORK/stored"
grep -qxE 'not an email|t@x.test|u@x.test|v@x.test' "$WORK/stored" && fail "a refused record was stored"
checks=$((checks + 1))

# --- A campaign name too long for its journal file: that record is refused, the run goes on.
long=$(python3 -c "print('c' * 300)")
printf '%s\n' "{\"tenant\":\"$T\",\"email\":\"a@x.test\",\"campaign\":\"$long\",\"subject\":\"s\"}" \
  "{\"tenant\":\"$T\",\"email\":\"b@x.test\",\"campaign\":\"short\",\"subject\":\"s\"}" > "$WORK/send.ndjson"
echo '{"to": {{email}}}' > "$WORK/body.json"
s=$(status_of inject http --url http://127.0.0.1:9/ --template "$WORK/body.json" --max-attempts 1 --rejects "$WORK/send.rej" "$WORK/send.ndjson")
assert_eq "$s" 0 "inject goes on past a campaign name too long"
assert_eq "$(reasons "$WORK/send.rej")" "1 invalid_campaign" "the long campaign is one reject"
assert_eq "$(jq -r .email "$WORK/out")" "b@x.test" "the other record was tried"

# --- A failed account init leaves no half-made tenant.
echo '{"slug": "neu", "fallback_language": "tlh"}' > "$WORK/bad-tenant.json"
assert_eq "$(status_of account init --tenant neu --config "$WORK/bad-tenant.json")" 2 "a bad tenant.json is refused"
assert_eq "$(status_of account init --tenant neu --shards 0)" 2 "a bad shard count is refused"
assert_eq "$(ls -A "$MAILPIPE_STATE" | grep -v "^$T$" | xargs)" "" "nothing half made is left in the state folder"
account init --tenant neu --shards 2 2>/dev/null
assert_eq "$(ls "$MAILPIPE_STATE/neu" | xargs)" "contacts journal tenant.json" "a good init makes the whole tenant"
assert_eq "$(jq -r .shards "$MAILPIPE_STATE/neu/contacts/layout.json")" 2 "with its layout"

# --- State this user cannot read: "permission denied" and the path, not "run account init".
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
  chmod 755 "$WORK"; chmod 711 "$MAILPIPE_STATE"; chmod 700 "$MAILPIPE_STATE/$T"
  share_executables
  for cmd in "account export --tenant $T" "segment --tenant $T --all x" "account report --tenant $T"; do
    set +e; setpriv --reuid=nobody --regid=nogroup --clear-groups -- env MAILPIPE_STATE="$MAILPIPE_STATE" $cmd >/dev/null 2>"$WORK/err" </dev/null; s=$?; set -e
    assert_eq "$s" 1 "unreadable state: $cmd exits 1"
    assert_contains "$(cat "$WORK/err")" "permission denied: $MAILPIPE_STATE/$T" "unreadable state: $cmd names the path"
    case "$(cat "$WORK/err")" in *"account init"*) fail "unreadable state: $cmd suggests account init";; esac
  done
  chmod 700 "$WORK" "$MAILPIPE_STATE"
else
  echo "SKIP: reading state as another user needs root and setpriv"
fi
done_ok
