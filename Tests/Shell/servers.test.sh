# The real test servers themselves (MailWizz double, Postfix, smtp-sink, dnsmasq) start, answer
# on 127.0.0.1 as the spec says, and stop.
. "$(dirname "$0")/lib.sh"
bash "$REPO/Tests/Servers/selftest.sh"
