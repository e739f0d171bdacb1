#!/usr/bin/env bash
# Every executable's and subcommand's --help: laid out for 80 columns (no line wider, no
# paragraph pre-wrapped in the source and re-wrapped by the parser, one default per option, no
# "see below"), and every example in it runs as written (Tests/Shell/examples.py has the
# convention: a scratch copy of the repository, a prepared state, servers started on demand).
source "$(dirname "$0")/lib.sh"
command -v jq >/dev/null || fail "jq is not installed (scripts/install-deps --test)"
counted python3 "$REPO/Tests/Shell/examples.py" help-layout
counted python3 "$REPO/Tests/Shell/examples.py" help
done_ok
