#!/usr/bin/env bash
# The cost of render --spamcheck per message, against its peer: spamc (SpamAssassin's own
# client) run once per message on the same messages, against the same spamd, in the same run.
# Both wait for spamd, which does the scoring; what differs is what the client adds around it.
#
#   bench/spamcheck.sh [N]        (default 200 messages; needs a release build and spamd)
#
# Prints the medians of BENCH_RUNS runs (default 3): render alone, render --spamcheck, the
# spamc loop; the check's cost per message (render --spamcheck minus render alone); and
# spamc-loop / render --spamcheck.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
source "$here/lib.sh"
N=${1:-200}
bin=${MAILPIPE_BIN:-$root/.build/release}
out="$here/.out/spamcheck"
rm -rf "$out"; mkdir -p "$out/tpl/bench" "$out/eml"
export MAILPIPE_UNSUB_SECRET=bench-secret
command -v spamc >/dev/null || { echo "spamc is not installed: ./scripts/install-deps --bench" >&2; exit 1; }

addr=$(bash "$root/Tests/Servers/start-spamd.sh" "$out/spamd")
trap 'bash "$root/Tests/Servers/stop-spamd.sh" "$out/spamd" >/dev/null 2>&1 || true' EXIT

# A newsletter of ~3 KB of HTML, one contact per message.
printf 'Your December update, {firstName|there}\n' > "$out/tpl/bench/en.subject"
python3 - "$out/tpl/bench/en.html" <<'PY'
import sys
para = "<p>Our office in Lyon opens on Monday; support answers from 9 to 18, and the new guide to moving abroad is online.</p>\n"
html = "<html><body><p>Hello {firstName|there},</p>\n" + para * 24 + "<p><a href=\"{unsubscribe_url}\">unsubscribe</a></p></body></html>\n"
open(sys.argv[1], "w").write(html)
PY
for i in $(seq 1 "$N"); do echo "{\"tenant\":\"bench-t\",\"email\":\"person$i@example.org\",\"first_name\":\"Name$i\",\"language\":\"en\"}"; done > "$out/contacts.ndjson"
args=(--tenant bench-t --campaign bench --templates "$out/tpl" --from "Bench <news@mail.example.org>" --now 2026-12-07T09:00:00Z)

# The messages as files, built by render --preview --eml (the bytes render --spamcheck sends).
"$bin/render" "${args[@]}" "$out/contacts.ndjson" > "$out/messages.ndjson" 2>/dev/null
i=0
while read -r email; do
  i=$((i + 1))
  "$bin/render" "${args[@]}" --preview "$email" --eml "$out/eml/$i.eml" "$out/contacts.ndjson" >/dev/null 2>&1
done < <(jq -r .email "$out/messages.ndjson")

host=${addr%:*}; port=${addr##*:}
spamc_loop() { for f in "$out"/eml/*.eml; do spamc -d "$host" -p "$port" -R < "$f" > /dev/null; done; }
plain=() checked=() peer=()
for _ in $(seq 1 "$BENCH_RUNS"); do
  plain+=("$(secs "$bin/render" "${args[@]}" "$out/contacts.ndjson")")
  checked+=("$(secs "$bin/render" "${args[@]}" --spamcheck --spamd "$addr" "$out/contacts.ndjson")")
  peer+=("$(secs spamc_loop)")
done
p=$(median "${plain[@]}"); c=$(median "${checked[@]}"); s=$(median "${peer[@]}")
echo "messages            $N (HTML $(wc -c < "$out/tpl/bench/en.html") bytes), spamd with 2 children, medians of $BENCH_RUNS"
echo "render              ${p}s"
echo "render --spamcheck  ${c}s   cost per message $(echo "scale=2; ($c - $p) * 1000 / $N" | bc -l) ms"
echo "spamc per message   ${s}s   $(echo "scale=2; $s * 1000 / $N" | bc -l) ms a message"
echo "spamc loop / render --spamcheck: $(ratio "$s" "$c")"
