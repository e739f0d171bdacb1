#!/usr/bin/env bash
# validate's syntax verdicts against python email-validator's (practical defaults, deliverability
# off) on email-validator's own test cases and pyIsEmail's, fetched from PyPI at test time and
# computed live (Tests/Shell/syntax_agreement.py says how). Goal: at least 99 % agreement.
source "$(dirname "$0")/lib.sh"
# The version whose test suite is the reference; the sdist is kept in .build for later runs.
version=${EMAIL_VALIDATOR_VERSION:-2.4.0}
cache="$REPO/.build/pypi"
mkdir -p "$cache"
sdist="$cache/email_validator-$version.tar.gz"
if [ ! -s "$sdist" ]; then
  # pip prepares the sdist's metadata: with the installed setuptools first (fast), else isolated.
  get() { python3 -m pip download --no-binary :all: --no-deps --disable-pip-version-check -q "$@" \
            "email-validator==$version" -d "$WORK/dl" >"$WORK/pip.log" 2>&1; }
  if ! get --no-build-isolation && ! get; then
    skip "PyPI unreachable, or email-validator $version not downloadable: $(tail -n 1 "$WORK/pip.log")"
  fi
  mv "$WORK/dl/email_validator-$version.tar.gz" "$sdist"
fi
python3 -c 'import idna' 2>/dev/null || fail "python3 cannot import idna (scripts/install-deps --test installs email-validator and it)"
tar -xzf "$sdist" -C "$WORK"
report=$(python3 "$REPO/Tests/Shell/syntax_agreement.py" "$WORK/email_validator-$version" "$MAILPIPE_BIN/validate" --min 0.99) \
  || fail "agreement below 99 %: $report"
echo "$report"
assert_contains "$report" "agree:" "agreement reported"
done_ok
