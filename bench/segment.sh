#!/usr/bin/env bash
# segment against peers on the same data and the same filter, in one run.
#
#   bench/segment.sh [N]          (default 1000000 contacts; needs a release build)
#
# Prints wall seconds, ratios, and segment's peak RSS (GNU time), for:
#   filter on NDJSON: segment vs jq -c 'select(…)' vs Miller (mlr --ijson --ojsonl filter)
#   from the store:   segment --contacts store vs zcat <store run> | wc -l
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
source "$here/lib.sh"
N=${1:-1000000}
bin=${MAILPIPE_BIN:-$root/.build/release}
out="$here/.out"
mkdir -p "$out"

best() { local b=999999 t; for _ in 1 2 3; do t=$(secs "$@"); b=$(echo "if ($t < $b) $t else $b" | bc -l); done; printf '%.3f' "$b"; }
rss() { /usr/bin/time -f '%M' "$@" 2>&1 >/dev/null | tail -n 1; }
ratio() { echo "scale=1; $1 / $2" | bc -l; }

data=$(dataset "$N")
echo "dataset: $N contacts, $(du -h "$data" | cut -f1) ($data)"

# The same filter everywhere: avocat AND lang-fr tags, NOT vip, status not held.
held='["bounced","unsubscribed","complained","blacklisted","invalid"]'
jqf='select((.tags|index("avocat")) and (.tags|index("lang-fr")) and ((.tags|index("vip"))|not) and ([.status]|inside('"$held"')|not))'
mlrf='is_present($tags) && any($tags, func(v) {return v == "avocat"}) && any($tags, func(v) {return v == "lang-fr"}) && !any($tags, func(v) {return v == "vip"}) && !($status =~ "^(bounced|unsubscribed|complained|blacklisted|invalid)$")'

n_seg=$("$bin/segment" --contacts stdin --all avocat,lang-fr --exclude vip "$data" 2>/dev/null | wc -l)
n_jq=$(jq -c "$jqf" "$data" | wc -l)
echo "matches: segment $n_seg, jq $n_jq"
[ "$n_seg" = "$n_jq" ] || { echo "segment and jq disagree" >&2; exit 1; }

t_seg=$(best "$bin/segment" --contacts stdin --all avocat,lang-fr --exclude vip "$data")
t_jq=$(secs jq -c "$jqf" "$data")
echo "filter  segment ${t_seg}s   jq ${t_jq}s   jq/segment $(ratio "$t_jq" "$t_seg")x (goal ≥ 8)"
if [ "$N" -le 1000000 ]; then
  n_mlr=$(mlr --ijson --ojsonl filter "$mlrf" "$data" | wc -l)
  [ "$n_mlr" = "$n_seg" ] || { echo "segment and Miller disagree ($n_mlr)" >&2; exit 1; }
  t_mlr=$(secs mlr --ijson --ojsonl filter "$mlrf" "$data")
  echo "filter  Miller ${t_mlr}s   Miller/segment $(ratio "$t_mlr" "$t_seg")x (goal ≥ 20)"
fi
t_where=$(best "$bin/segment" --contacts stdin --where 'tags has all (avocat, lang-fr) and not tags has vip' "$data")
echo "filter  segment --where ${t_where}s"
echo "rss     segment (stdin) $(rss "$bin/segment" --contacts stdin --all avocat,lang-fr --exclude vip "$data") KB"

# From the store.
state="$out/segment-state-$N"
if [ ! -f "$state/bench/contacts/manifest.json" ]; then
  rm -rf "$state"
  MAILPIPE_STATE="$state" "$bin/account" init --tenant bench >/dev/null 2>&1
  sed 's/"tenant":"sos-expat"/"tenant":"bench"/' "$data" | MAILPIPE_STATE="$state" "$bin/account" commit --tenant bench --now 2026-01-01T00:00:00Z 2>&1 | tail -n 1
  MAILPIPE_STATE="$state" "$bin/account" compact --tenant bench 2>&1 | tail -n 1
fi
run=$(ls "$state/bench/contacts/"*.gz | head -n 1)
t_zcat=$(best bash -c "zcat '$run' | wc -l")
t_store=$(best env MAILPIPE_STATE="$state" "$bin/segment" --tenant bench --contacts store --all avocat,lang-fr --exclude vip)
t_count=$(best env MAILPIPE_STATE="$state" "$bin/segment" --tenant bench --contacts store --count)
echo "store   segment ${t_store}s   --count ${t_count}s   zcat|wc -l ${t_zcat}s   segment/zcat $(ratio "$t_store" "$t_zcat")x (goal ≤ 1.2)"
echo "rss     segment (store) $(rss env MAILPIPE_STATE="$state" "$bin/segment" --tenant bench --contacts store --all avocat,lang-fr --exclude vip) KB (goal ≤ 65536)"
echo "rss     segment (store, --breakdown tag) $(rss env MAILPIPE_STATE="$state" "$bin/segment" --tenant bench --contacts store --breakdown tag) KB"
