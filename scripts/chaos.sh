#!/bin/sh
# The long runs of the fault battery (make chaos): runs each chaos test
# binary with SLUICE_CHAOS=long, which switches every scenario to its long
# parameters (docs/reliability.md), and ends like run-tests.sh with
# "N passed, N failed". A checker table is printed after every scenario.
#
#   scripts/chaos.sh BUILD/tests/test_chaos_worker ...
set -u
cd "$(dirname "$0")/.."
SLUICE_CHAOS=${SLUICE_CHAOS:-long}
export SLUICE_CHAOS
start=$(date +%s)
./scripts/run-tests.sh "$@"
rc=$?
echo "chaos: long runs took $(( $(date +%s) - start )) s"
exit $rc
