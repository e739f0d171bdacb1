#!/usr/bin/env bash
# account suppress --add/--remove/--list (audit events, status lifting), suppression taking
# effect in a following segment run, and account pmta-config.
source "$(dirname "$0")/lib.sh"
S="$REPO/samples"
T=books-demo
account init --tenant $T --config "$S/account/tenant.json" 2>/dev/null
account commit --tenant $T "$S/account/contacts.ndjson" 2>/dev/null
status_of() { account export --tenant $T 2>/dev/null | jq -r --arg e "$1" 'select(.email==$e) | .status'; }

account suppress --tenant $T --now 2026-11-25T09:00:00Z --add Ana@Example.org --reason "unsubscribed by e-mail" 2>/dev/null
account suppress --tenant $T --now 2026-11-25T09:01:00Z --add carla@example.es --reason "legal request" 2>/dev/null
assert_eq "$(status_of ana@example.org) $(status_of carla@example.es)" "unsubscribed blacklisted" "statuses from the reason"
assert_eq "$(account suppress --tenant $T --list 2>/dev/null | jq -r '"\(.email) \(.reason) \(.source)"' | tr '\n' ';')" \
  "ana@example.org unsubscribed by e-mail manual;carla@example.es legal request manual;" "--list"
# A re-import does not lift a suppression.
account commit --tenant $T "$S/account/contacts.ndjson" 2>/dev/null
assert_eq "$(status_of ana@example.org)" "unsubscribed" "re-import keeps the suppressed status"
# Suppression takes effect in a following segment run.
out=$(segment --tenant $T --contacts store 2>/dev/null | jq -r .email | sort | tr '\n' ' ')
[ -n "$out" ] || fail "segment selected nobody"
case "$out" in *ana@example.org*|*carla@example.es*) fail "segment still selects suppressed addresses: $out";; esac
all=$(segment --tenant $T --contacts store --include-suppressed 2>/dev/null | jq -r .email | sort | tr '\n' ' ')
assert_contains "$all" "ana@example.org" "--include-suppressed shows the held-back contact"
# --remove lifts both, with an audit event.
account suppress --tenant $T --now 2026-11-26T09:00:00Z --remove carla@example.es --reason "request withdrawn" 2>/dev/null
assert_eq "$(status_of carla@example.es)" "validated" "remove lifts the status"
assert_eq "$(account suppress --tenant $T --list 2>/dev/null | jq -r .email)" "ana@example.org" "removed from the list"
assert_eq "$(zcat "$MAILPIPE_STATE/$T/suppression.ndjson.gz" | jq -r .email)" "ana@example.org" "suppression file rewritten"
assert_eq "$(zcat "$MAILPIPE_STATE/$T/events.ndjson.gz" | jq -r 'select(.source=="manual") | "\(.type) \(.email) \(.reason)"' | tr '\n' ';')" \
  "suppressed ana@example.org unsubscribed by e-mail;suppressed carla@example.es legal request;unsuppressed carla@example.es request withdrawn;" "audit events"
assert_eq "$(run_status account suppress --tenant $T --add x@y.example 2>/dev/null)" "2" "--add needs --reason"
assert_eq "$(run_status account suppress --tenant $T --add --remove x@y.example 2>/dev/null)" "2" "one action only"

# pmta-config: vmta and pool blocks capped at today's warm-up quota (week 1: 50 a day → 2/h),
# DNS records.
openssl genrsa 2048 2>/dev/null | openssl rsa -pubout 2>/dev/null > "$WORK/dkim.pub" || true
cfg=$(account pmta-config --tenant $T --now 2026-11-24T12:00:00Z --dkim-public-key "$WORK/dkim.pub" --dmarc-policy quarantine)
assert_contains "$cfg" $'<virtual-mta vmta-a>\n  smtp-source-host 192.0.2.10 mta-a.books-demo.example\n  # warm-up week 1: 50 messages a day → at most 2 an hour\n  <domain *>\n    max-msg-rate 2/h\n  </domain>\n</virtual-mta>' "vmta block"
assert_contains "$cfg" "Warm-up limits for 2026-11-24 (UTC)" "the day the limits are for"
assert_contains "$cfg" $'<virtual-mta-pool books-demo-pool>\n  virtual-mta vmta-a\n  virtual-mta vmta-a\n  virtual-mta vmta-b\n</virtual-mta-pool>' "pool with weights"
assert_contains "$cfg" 'mail.books-demo.example. IN TXT "v=spf1 ip4:192.0.2.10 ip4:192.0.2.11 -all"' "SPF"
assert_contains "$cfg" '_dmarc.mail.books-demo.example. IN TXT "v=DMARC1; p=quarantine;' "DMARC"
assert_contains "$cfg" '10.2.0.192.in-addr.arpa. IN PTR mta-a.books-demo.example.' "PTR"
assert_contains "$cfg" 'mta-b.books-demo.example. IN A 192.0.2.11' "A record matching the PTR"
if [ -s "$WORK/dkim.pub" ]; then assert_contains "$cfg" 'mp._domainkey.mail.books-demo.example. IN TXT ( "v=DKIM1; k=rsa; p=MII' "DKIM"; fi
done_ok
