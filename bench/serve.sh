#!/usr/bin/env bash
# bench/serve.sh — one-click unsubscribes per second through `account serve`, each answered
# only once durable, against a peer in the same run (a Python server that fsyncs each request);
# wrk on loopback, each request a distinct signed link; checks that every answered request is
# in the books. Goal (issue 16): ≥ 2,000/s with p99 < 50 ms. See serve_bench in bench/lib.sh.
# Environment: BENCH_SECONDS (10), BENCH_CONNECTIONS (32), BENCH_THREADS (2), BENCH_CONTACTS
# (100000 in the store), BENCH_RUNS (3, medians), MAILPIPE_BIN (default .build/release).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
BENCH_CONNECTIONS=${BENCH_CONNECTIONS:-32} serve_bench unsubscribe
