#!/bin/sh
# make bench: sluice's throughput beside redis-benchmark on the same
# redis-server in the same run, as ratios. Starts its own server in a temp
# dir (persistence off) unless SLUICE_BENCH_URL names one; always cleans up.
# SCALE=N multiplies the job counts.
set -eu
BUILD=${BUILD:-build}
. "$(dirname "$0")/redis-temp.sh"
redis_temp_start bench

echo "sluice bench: one redis-server $(redis-server --version | sed -n 's/.*v=\([^ ]*\).*/\1/p'), unix socket, $(nproc) cores" >&2
rb() { # requests/s of one redis-benchmark test
    redis-benchmark -s "$sock" -q -n "$1" -c 1 -P "$2" -t "$3" 2>/dev/null |
        tr '\r' '\n' | sed -n 's/.*: \([0-9.]*\) requests per second.*/\1/p' | tail -n 1
}
set_c1=$(rb 100000 1 set)
set_p=$(rb 1000000 1000 set)
out=$("$BUILD/bin/sluice-bench" "unix://$sock" "$BUILD/bin/sluice-worker" "${SCALE:-1}")
get() { echo "$out" | sed -n "s/^$1 //p"; }

printf '\n%-34s %12s %14s %8s\n' "measure" "jobs/s" "reference" "ratio"
row() {
    printf '%-34s %12.0f %14s %8.3f\n' "$1" "$2" "$3" "$(awk "BEGIN { print $2 / $4 }")"
}
row "enqueue, one at a time"        "$(get enqueue_single)"    "SET c=1"      "$set_c1"
row "enqueue, bulk (1000/call)"     "$(get enqueue_bulk)"      "SET c=1 P=1000" "$set_p"
row "claim(100)+ack, ungated"       "$(get claim_ack_ungated)" "SET c=1"      "$set_c1"
row "claim(100)+ack, gate wide open" "$(get claim_ack_gated)"  "SET c=1"      "$set_c1"
row "worker, in-process no-op (c=64)" "$(get worker_inprocess)" "SET c=1"     "$set_c1"
row "sluice-worker, exec /bin/true (c=32)" "$(get worker_exec)" "SET c=1"     "$set_c1"
# exec handlers against a bare serial fork+exec+wait loop of the same program
row "sluice-worker, exec /bin/true (c=32)" "$(get worker_exec)" "fork+exec loop" "$(get fork_exec_loop)"
used_memory() { redis-cli -s "$sock" info memory | tr -d '\r' | sed -n 's/^used_memory://p'; }
per_job() { # bytes of Redis memory per queued job, after FLUSHALL, for "$@" --fill N
    redis-cli -s "$sock" flushall >/dev/null
    before=$(used_memory)
    "$@" "$MEMORY_JOBS" >/dev/null
    after=$(used_memory)
    awk "BEGIN { printf \"%.0f\", ($after - $before) / $MEMORY_JOBS }"
}
MEMORY_JOBS=${MEMORY_JOBS:-1000000}
sluice_mem=$(per_job "$BUILD/bin/sluice-bench" "unix://$sock" --fill)

# BullMQ from npm (pinned in tests/bench/package.json), same server, same workload.
bull=""
node_dir="$BUILD/bench-node"
if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then
    mkdir -p "$node_dir"
    cp "$(dirname "$0")/../tests/bench/package.json" "$(dirname "$0")/../tests/bench/bullmq-bench.mjs" "$node_dir/"
    if (cd "$node_dir" && npm install --no-audit --no-fund --loglevel=error >/dev/null 2>&1); then
        redis-cli -s "$sock" flushall >/dev/null
        bull=$(node "$node_dir/bullmq-bench.mjs" "$sock" "${SCALE:-1}")
        bull_mem=$(per_job node "$node_dir/bullmq-bench.mjs" "$sock" --fill)
    else
        echo "bench: npm install of bullmq failed; BullMQ figures skipped" >&2
    fi
else
    echo "bench: node/npm not found; BullMQ figures skipped" >&2
fi
bget() { echo "$bull" | sed -n "s/^$1 //p"; }
if [ -n "$bull" ]; then
    printf '\n%-34s %12s %14s %8s\n' "sluice vs BullMQ $(cd "$node_dir" && node -p "require('bullmq/package.json').version")" "sluice/s" "BullMQ/s" "ratio"
    brow() { printf '%-34s %12.0f %14.0f %8.2f\n' "$1" "$2" "$3" "$(awk "BEGIN { print $2 / $3 }")"; }
    brow "enqueue, one at a time"   "$(get enqueue_single)"   "$(bget enqueue_single)"
    brow "enqueue, bulk (1000/call)" "$(get enqueue_bulk)"    "$(bget enqueue_bulk)"
    brow "worker, in-process no-op (c=64)" "$(get worker_inprocess)" "$(bget worker_inprocess)"
    printf '%-34s %12s %14s %8.2f\n' "Redis bytes per queued job" "$sluice_mem" "$bull_mem" \
        "$(awk "BEGIN { print $sluice_mem / $bull_mem }")"
else
    printf '\nRedis bytes per queued job (sluice): %s\n' "$sluice_mem"
fi

printf '\nredis-benchmark SET, 1 client: %.0f/s; pipelined 1000: %.0f/s\n' "$set_c1" "$set_p"
printf 'gate cost: wide-open gate at %.1f%% of the ungated claim+ack rate (goal: >= 90%%)\n' \
    "$(awk "BEGIN { print 100 * $(get claim_ack_gated) / $(get claim_ack_ungated) }")"
