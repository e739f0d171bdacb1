#!/usr/bin/env bash
# Every shell example of README.md and docs/*.md runs as written, on the samples: a file's
# ```sh blocks in order, in a scratch copy of the repository with an empty state; servers are
# started when a block needs them. The convention is in Tests/Shell/examples.py.
source "$(dirname "$0")/lib.sh"
counted python3 "$REPO/Tests/Shell/examples.py" docs "$REPO/README.md" "$REPO"/docs/*.md
done_ok
