#!/usr/bin/env bash
# No write through a link in a tenant's state: each state file and folder in turn is replaced by
# a symbolic link to a file outside the state; every command that would open it refuses with an
# error naming the link (exit 1), and the file outside is left byte for byte as it was.
source "$(dirname "$0")/lib.sh"
T=sos-expat
S="$MAILPIPE_STATE/$T"
account init --tenant "$T" --config "$REPO/samples/sos-expat/tenant.json" 2>/dev/null
python3 "$REPO/Tests/Shell/gen_contacts.py" 50 > "$WORK/c.ndjson"
account commit --tenant "$T" "$WORK/c.ndjson" 2>/dev/null
echo '{"email":"contact0000001@example1.fr","type":"bounced","bounce_class":"hard","at":"2026-11-23T09:00:00Z","campaign":"c1"}' \
  | account events --tenant "$T" 2>/dev/null
account suppress --tenant "$T" --add manual@x.test --reason "asked" --now 2026-11-23T10:00:00Z 2>/dev/null
mkdir -p "$S/journal/http"

outside="$WORK/outside"
make_outside() { printf 'precious bytes, not state\n' > "$outside"; }
# refuses NAME CMD… — with NAME a link to the outside file (or folder), the command exits 1
# with an error naming the link, and the outside file is unchanged.
refuses() {
  local name=$1; shift
  local err="$WORK/err"
  local status
  set +e; "$@" </dev/null >/dev/null 2>"$err"; status=$?; set -e
  assert_eq "$status" 1 "$name: $* exits 1"
  assert_contains "$(cat "$err")" "is a symbolic link" "$name: $1 says why"
  assert_contains "$(cat "$err")" "$S/$name" "$name: $1 names the link"
  assert_eq "$(cat "$outside")" "precious bytes, not state" "$name: the file outside is untouched"
}
# with_link NAME: moves the state file aside and puts a link to the outside file in its place.
with_link() { make_outside; mv "$S/$1" "$WORK/saved"; ln -s "$outside" "$S/$1"; }
restore() { rm "$S/$1"; mv "$WORK/saved" "$S/$1"; }

event='{"email":"contact0000002@example2.fr","type":"bounced","bounce_class":"hard","at":"2026-11-24T09:00:00Z"}'

with_link events.ndjson.gz
refuses events.ndjson.gz sh -c "echo '$event' | account events --tenant $T"
refuses events.ndjson.gz account suppress --tenant "$T" --add z@x.test --reason r
refuses events.ndjson.gz account report --tenant "$T"
restore events.ndjson.gz

with_link suppression.ndjson.gz
refuses suppression.ndjson.gz account suppress --tenant "$T" --add z@x.test --reason r
refuses suppression.ndjson.gz account suppress --tenant "$T" --remove manual@x.test
refuses suppression.ndjson.gz segment --tenant "$T" --all tag1
restore suppression.ndjson.gz

with_link ledger.json
refuses ledger.json account warmup --tenant "$T" --advance
refuses ledger.json sh -c "echo '$event' | account events --tenant $T"
restore ledger.json

with_link lock
refuses lock account commit --tenant "$T" "$WORK/c.ndjson"
refuses lock account compact --tenant "$T"
refuses lock account suppress --tenant "$T" --add z@x.test --reason r
restore lock

with_link contacts/manifest.json
refuses contacts/manifest.json account commit --tenant "$T" "$WORK/c.ndjson"
refuses contacts/manifest.json account export --tenant "$T"
restore contacts/manifest.json

run=$(cd "$S/contacts" && ls run-*.ndjson.gz | head -1)
with_link "contacts/$run"
refuses "contacts/$run" account export --tenant "$T"
refuses "contacts/$run" account compact --tenant "$T"
restore "contacts/$run"

with_link tenant.json
refuses tenant.json account warmup --tenant "$T"
refuses tenant.json account init --tenant "$T" --config "$REPO/samples/sos-expat/tenant.json"
restore tenant.json

# inject's idempotency journal, and its lock. The URL is never reached: the journal is opened
# before the first send.
printf '%s\n' '{"tenant":"sos-expat","email":"contact0000003@example3.fr","campaign":"c1","subject":"s"}' > "$WORK/send.ndjson"
echo '{"to": {{email}}}' > "$WORK/body.json"
make_outside; ln -s "$outside" "$S/journal/http/c1.ndjson"
refuses journal/http/c1.ndjson inject http --url http://127.0.0.1:9/ --template "$WORK/body.json" "$WORK/send.ndjson"
rm "$S/journal/http/c1.ndjson"
rm -f "$S/journal/http/c1.lock"; make_outside; ln -s "$outside" "$S/journal/http/c1.lock"
refuses journal/http/c1.lock inject http --url http://127.0.0.1:9/ --template "$WORK/body.json" "$WORK/send.ndjson"
rm "$S/journal/http/c1.lock"

# Folders: a linked contacts/ or journal/ folder, or a linked sub-folder of the journal.
mkdir -p "$WORK/elsewhere"
make_outside
mv "$S/contacts" "$WORK/saved"; ln -s "$WORK/elsewhere" "$S/contacts"
refuses contacts account commit --tenant "$T" "$WORK/c.ndjson"
refuses contacts account export --tenant "$T"
rm "$S/contacts"; mv "$WORK/saved" "$S/contacts"
rm -rf "$S/journal/http"; ln -s "$WORK/elsewhere" "$S/journal/http"
refuses journal/http inject http --url http://127.0.0.1:9/ --template "$WORK/body.json" "$WORK/send.ndjson"
rm "$S/journal/http"
# The pause/ folder: neither `inject pause` nor `inject resume` goes through a link (a switch
# made, or removed, outside the state).
touch "$WORK/elsewhere/c1"
ln -s "$WORK/elsewhere" "$S/pause"
refuses pause inject pause --tenant "$T" --campaign c2 --reason test
refuses pause inject resume --tenant "$T" --campaign c1
assert_eq "$(ls -A "$WORK/elsewhere")" "c1" "the linked folder's file is still there"
rm "$S/pause" "$WORK/elsewhere/c1"
assert_eq "$(ls -A "$WORK/elsewhere")" "" "nothing was written into a linked folder"

# A dangling link is refused too (creating through it would make a file outside the state).
rm "$S/lock"; ln -s "$WORK/made-through-link" "$S/lock"
status=$(run_status account compact --tenant "$T" 2>/dev/null)
assert_eq "$status" 1 "a dangling lock link is refused"
[ ! -e "$WORK/made-through-link" ] || fail "a file was created through a dangling link"
rm "$S/lock"

# With every link gone, the state is whole: same contacts, same suppression.
assert_eq "$(account export --tenant "$T" 2>/dev/null | wc -l)" 50 "contacts intact"
assert_eq "$(account suppress --tenant "$T" --list 2>/dev/null | jq -r .email | sort | xargs)" \
  "contact0000001@example1.fr manual@x.test" "suppression intact"
done_ok
