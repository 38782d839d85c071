#!/bin/sh
# Worker throughput figures: builds the worker tests and prints the lines
# they measure ("# ..."): 100,000 in-process no-op jobs through the embedded
# runtime, 10,000 exec jobs (/bin/true, concurrency 32) through sluice-worker,
# and the recovery timings. Run from the top of the tree.
set -eu
make --no-print-directory build/bin/sluice-worker build/tests/test_worker build/tests/test_worker_exec >/dev/null
for t in build/tests/test_worker build/tests/test_worker_exec; do
    "$t" 2>&1 | grep '^#' || true
done
