#!/bin/sh
# make bench: sluice's throughput beside redis-benchmark, and its throughput,
# Redis CPU per job and Redis memory per queued job beside BullMQ's, on the
# same redis-server in the same run, as ratios; then claim+ack at 1k, 100k
# and 1M queued jobs (and 10M with SCALE>=10); then claim+ack over 30
# classes on a Redis Cluster of 3 masters beside one Redis. Starts its own
# servers in temp dirs (persistence off); always cleans up. SCALE=N
# multiplies the job counts. Prints tables, and writes every figure to $BUILD/bench/summary.json.
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
# fair shares: jobs of 10,000 keys against keyless jobs, same run
row "claim(100)+ack, 10,000 keys" "$(get claim_ack_keyed)" "no keys" "$(get claim_ack_keyless)"
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

# Claim+ack at steady depths, on a server holding nothing else.
DEPTHS="1000 100000 1000000"
if awk "BEGIN { exit !(${SCALE:-1} >= 10) }"; then DEPTHS="$DEPTHS 10000000"; fi
redis-cli -s "$sock" flushall >/dev/null
depth_t0=$(date +%s)
# shellcheck disable=SC2086 # one argument per depth
depth=$("$BUILD/bin/sluice-bench" "unix://$sock" --depth $DEPTHS)
depth_seconds=$(($(date +%s) - depth_t0))
echo "bench: the depth table took ${depth_seconds}s (filling $DEPTHS, then 20,000 claim+acks each)" >&2

# BullMQ from npm (pinned in tests/bench/package.json), same server, same workload.
bull=""
bull_mem=""
bull_version=""
node_dir="$BUILD/bench-node"
if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then
    mkdir -p "$node_dir"
    cp "$(dirname "$0")/../tests/bench/package.json" "$(dirname "$0")/../tests/bench/bullmq-bench.mjs" "$node_dir/"
    if (cd "$node_dir" && npm install --no-audit --no-fund --loglevel=error >/dev/null 2>&1); then
        redis-cli -s "$sock" flushall >/dev/null
        bull=$(node "$node_dir/bullmq-bench.mjs" "$sock" "${SCALE:-1}")
        bull_mem=$(per_job node "$node_dir/bullmq-bench.mjs" "$sock" --fill)
        bull_version=$(cd "$node_dir" && node -p "require('bullmq/package.json').version")
    else
        echo "bench: npm install of bullmq failed; BullMQ figures skipped" >&2
    fi
else
    echo "bench: node/npm not found; BullMQ figures skipped" >&2
fi
bget() { echo "$bull" | sed -n "s/^$1 //p"; }

# sluice beside BullMQ: throughput (jobs/s), Redis CPU per job (µs, INFO cpu
# user+sys around each phase) and Redis bytes per queued job. Ratios are
# sluice/BullMQ: above 1 is better for jobs/s, below 1 for µs and bytes.
printf '\n%-44s %10s %10s %8s\n' "sluice vs BullMQ ${bull_version:-(not run)}" "sluice" "BullMQ" "ratio"
brow() { # label, sluice figure, BullMQ figure ("" when not run), printf format
    case $1 in *µ*) w=45 ;; *) w=44 ;; esac # printf pads bytes; µ is two
    if [ -n "$3" ]; then
        printf "%-${w}s %10$4 %10$4 %8.2f\n" "$1" "$2" "$3" "$(awk "BEGIN { print $2 / $3 }")"
    else
        printf "%-${w}s %10$4 %10s %8s\n" "$1" "$2" "-" "-"
    fi
}
brow "enqueue, one at a time (jobs/s)"        "$(get enqueue_single)"   "$(bget enqueue_single)" .0f
brow "enqueue, bulk (1000/call) (jobs/s)"     "$(get enqueue_bulk)"     "$(bget enqueue_bulk)" .0f
brow "worker, in-process no-op c=64 (jobs/s)" "$(get worker_inprocess)" "$(bget worker_inprocess)" .0f
brow "Redis CPU µs/job: enqueue, one at a time" "$(get cpu_enqueue_single)" "$(bget cpu_enqueue_single)" .1f
brow "Redis CPU µs/job: enqueue, bulk"        "$(get cpu_enqueue_bulk)" "$(bget cpu_enqueue_bulk)" .1f
brow "Redis CPU µs/job: claim(100)+ack"       "$(get cpu_claim_ack_ungated)" "" .1f
brow "Redis CPU µs/job: claim(100)+ack, gated" "$(get cpu_claim_ack_gated)" "" .1f
brow "Redis CPU µs/job: worker c=64"          "$(get cpu_worker_inprocess)" "$(bget cpu_worker_inprocess)" .1f
brow "Redis CPU µs/job: whole life (bulk+worker)" "$(get cpu_whole_life)" "$(bget cpu_whole_life)" .1f
brow "Redis bytes per queued job"             "$sluice_mem"             "$bull_mem" .0f

# Cost flat with depth: each row beside the shallowest's.
first=$(echo "$depth" | head -n 1)
printf '\n%-34s %10s %13s %10s %11s\n' "claim(100)+ack at depth (queued)" "jobs/s" "Redis µs/job" "jobs/s x" "µs/job x"
echo "$depth" | while read -r _ d rate us; do
    printf '%-34s %10.0f %12.1f %10.2f %10.2f\n' "$d" "$rate" "$us" \
        "$(echo "$first" | awk -v r="$rate" '{ print r / $3 }')" "$(echo "$first" | awk -v u="$us" '{ print u / $4 }')"
done

printf '\nredis-benchmark SET, 1 client: %.0f/s; pipelined 1000: %.0f/s\n' "$set_c1" "$set_p"
printf 'gate cost: wide-open gate at %.1f%% of the ungated claim+ack rate (goal: >= 90%%)\n' \
    "$(awk "BEGIN { print 100 * $(get claim_ack_gated) / $(get claim_ack_ungated) }")"

# The hosted governor's cost: 200 classes, the governor leading with a
# 200 ms tick, against the same worker without it (goal: >= 0.95).
governor_cost() {
    gov=$("$BUILD/bin/sluice-bench" "unix://$sock" --governor "${SCALE:-1}")
    gget() { echo "$gov" | sed -n "s/^$1 //p"; }
    printf '\n%-34s %12s %14s %8s\n' "governor hosted, 200 classes" "jobs/s" "no governor" "ratio"
    printf '%-34s %12.0f %14.0f %8.3f\n' "worker, in-process no-op (c=64)" "$(gget governor_on)" "$(gget governor_off)" \
        "$(gget governor_ratio)"
    printf 'governor: %s ticks of 200 classes while the worker drained (goal: ratio >= 0.95)\n' "$(gget governor_ticks)"
}
governor_cost

# A Redis Cluster of 3 masters beside one Redis, in a subshell of its own
# (its servers stop with it), both on TCP: claim(100)+ack over 30 classes,
# Redis CPU per job per shard and in all, and the MOVED replies the masters
# gave in the windows (steady state: 0 expected). Ratio: cluster over one
# Redis (goal: <= 1.10; on 2 cores 3 masters and the client share them).
cluster=$(
    . "$(dirname "$0")/redis-cluster-temp.sh"
    redis_cluster_temp_start bench-cluster 3
    # shellcheck disable=SC2086 # one argument per master
    "$BUILD/bin/sluice-bench" "$single_url" --cluster $cluster_urls
)
cget() { echo "$cluster" | sed -n "s/^$1 //p"; }
printf '\n%-34s %10s %13s %8s\n' "claim(100)+ack, 30 classes" "jobs" "Redis µs/job" "MOVED"
printf '%-34s %10s %12.1f %8s\n' "one Redis" "$(cget single_shard1_jobs)" "$(cget single_cpu_us)" "$(cget single_moved)"
for i in 1 2 3; do
    printf '%-34s %10s %12.1f %8s\n' "cluster, master $i" "$(cget cluster_shard${i}_jobs)" "$(cget cluster_shard${i}_cpu_us)" ""
done
printf '%-34s %10s %12.1f %8s\n' "cluster, all 3 masters" "$(($(cget cluster_shard1_jobs) + $(cget cluster_shard2_jobs) + \
    $(cget cluster_shard3_jobs)))" "$(cget cluster_cpu_us)" "$(cget cluster_moved)"
printf 'cluster: Redis CPU per job %.3f x that of one Redis (median of 5 rounds; goal <= 1.10), %s MOVED\n' \
    "$(cget cluster_ratio)" "$(cget cluster_moved)"

# Every figure, machine-readable: "name value" lines as one JSON object.
json_object() { awk 'BEGIN { printf "{" } NF == 2 { printf "%s\"%s\": %s", (n++ ? ", " : ""), $1, $2 } END { printf "}" }'; }
mkdir -p "$BUILD/bench"
{
    printf '{"redis_version": "%s", "cores": %s, "scale": %s,\n' \
        "$(redis-server --version | sed -n 's/.*v=\([^ ]*\).*/\1/p')" "$(nproc)" "${SCALE:-1}"
    printf ' "depth_seconds": %s,\n' "$depth_seconds"
    printf ' "redis_benchmark": {"set_c1": %s, "set_c1_p1000": %s},\n' "$set_c1" "$set_p"
    printf ' "sluice": '
    printf '%s\nmemory_bytes_per_job %s\n' "$out" "$sluice_mem" | json_object
    printf ',\n "bullmq_version": "%s",\n "bullmq": ' "$bull_version"
    if [ -n "$bull" ]; then printf '%s\nmemory_bytes_per_job %s\n' "$bull" "$bull_mem" | json_object; else printf 'null'; fi
    printf ',\n "governor_cost": '
    echo "$gov" | json_object
    printf ',\n "cluster_cost": '
    echo "$cluster" | json_object
    printf ',\n "depth": ['
    echo "$depth" | awk '{ printf "%s{\"queued\": %s, \"jobs_per_s\": %s, \"cpu_us_per_job\": %s}", (NR > 1 ? ", " : ""), $2, $3, $4 }'
    printf ']}\n'
} >"$BUILD/bench/summary.json.tmp"
mv "$BUILD/bench/summary.json.tmp" "$BUILD/bench/summary.json"
echo "bench: every figure in $BUILD/bench/summary.json" >&2
