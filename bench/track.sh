#!/usr/bin/env bash
# bench/track.sh — tracked clicks per second through `account serve`, each recorded durably
# (the 302 comes only once the click's event is fsynced in the books), against a peer in the
# same run (a Python server that fsyncs each click, then answers 302); wrk on loopback, each
# request a distinct click link `render --track` wrote for a contact of the store; checks that
# every click answered as recorded is in the books. Goal (issue 19): ≥ 5,000/s. See serve_bench
# in bench/lib.sh.
# Environment: BENCH_SECONDS (10), BENCH_CONNECTIONS (128), BENCH_THREADS (2), BENCH_CONTACTS
# (100000), BENCH_RUNS (3, medians), MAILPIPE_BIN (default .build/release).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
BENCH_CONNECTIONS=${BENCH_CONNECTIONS:-128} serve_bench click
