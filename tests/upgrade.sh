#!/bin/bash
# A rolling upgrade, side by side: the previous release (the commit in
# tests/upgrade/previous, built from git into $BUILD/upgrade/) declares a
# class, queues jobs and runs a worker; then this tree's sluicectl loads its
# Functions, enqueues more, and this tree's worker drains the class while
# the old worker still runs. Checks: the library version moved from the old
# one to the new one, both workers ran jobs after the new Functions were
# loaded, every job ran exactly once with its payload intact (0 lost, 0
# corrupted, no duplicate: nothing was killed), the counters add up,
# `sluicectl check` finds nothing, and the previous release's sluicectl
# still reads a job and a class's keys. redis-server runs on a unix socket in a
# temp dir; everything it starts is stopped on exit.
#   usage: tests/upgrade.sh [COMMIT]   (BUILD=... for this tree's build dir)
# Without COMMIT, it runs once from each release tests/upgrade/previous
# names (one commit a line, each the last release before a change of the
# Functions or the job record whose data this tree still reads), and ends
# with the sum of their counts.
set -u
BUILD=${BUILD:-build}
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1
if [ $# -eq 0 ]; then
    sum_p=0 sum_f=0 sum_s=0
    for c in $(sed -n 's/^\([0-9a-f]\{7,40\}\).*/\1/p' tests/upgrade/previous); do
        out=$("$0" "$c")
        echo "$out"
        line=$(echo "$out" | tail -n 1)
        p=$(echo "$line" | sed -n 's/.*: \([0-9]*\) passed.*/\1/p')
        f=$(echo "$line" | sed -n 's/.* \([0-9]*\) failed.*/\1/p')
        s=$(echo "$line" | sed -n 's/.* \([0-9]*\) skipped.*/\1/p')
        [ -n "$p" ] && [ -n "$f" ] || f=1
        sum_p=$((sum_p + ${p:-0})) sum_f=$((sum_f + f)) sum_s=$((sum_s + ${s:-0}))
    done
    if [ "$sum_s" -gt 0 ]; then
        echo "upgrade: $sum_p passed, $sum_f failed, $sum_s skipped"
    else
        echo "upgrade: $sum_p passed, $sum_f failed"
    fi
    [ "$sum_f" -eq 0 ]
    exit
fi
passed=0
failed=0
ok() {
    passed=$((passed + 1))
    echo "ok - $*"
}
not_ok() {
    failed=$((failed + 1))
    echo "not ok - $*"
}
finish() {
    echo "upgrade: $passed passed, $failed failed"
    [ "$failed" -eq 0 ]
    exit
}

prev=$1
new_bin=$BUILD/bin
case $BUILD in
/*) old_root=$BUILD/upgrade/$prev ;;
*) old_root=$top/$BUILD/upgrade/$prev ;;
esac
old_bin=$old_root/build/bin
for b in sluicectl sluice-worker; do
    [ -x "$new_bin/$b" ] || { echo "upgrade: $new_bin/$b missing (make all)"; exit 1; }
done

# The previous release, built once per build dir (plain, without sanitizers:
# it stands for the binaries already deployed).
if [ ! -x "$old_bin/sluice-worker" ] || [ ! -x "$old_bin/sluicectl" ]; then
    rm -rf "$old_root"
    mkdir -p "$old_root"
    if ! git -C "$top" cat-file -e "$prev^{commit}" 2>/dev/null; then
        # a tarball or a shallow clone: nothing to build the old side from
        rm -rf "$old_root"
        echo "skipped - rolling upgrade: the previous release $prev is not in this checkout's git history"
        echo "upgrade: 0 passed, 0 failed, 1 skipped"
        exit 0
    fi
    git -C "$top" archive "$prev" | tar -x -C "$old_root" || { not_ok "git archive $prev"; finish; }
    if ! make -C "$old_root" -j2 CC=cc SANITIZER= BUILD="$old_root/build" \
        "$old_root/build/bin/sluice-worker" "$old_root/build/bin/sluicectl" >"$old_root/make.log" 2>&1; then
        tail -n 20 "$old_root/make.log"
        not_ok "the previous release $prev builds"
        finish
    fi
fi

tmp=$(mktemp -d)
pids=""
cleanup() {
    for p in $pids; do kill -TERM "$p" 2>/dev/null; done
    for p in $pids; do wait "$p" 2>/dev/null; done
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

sock=$tmp/redis.sock
redis-server --port 0 --unixsocket "$sock" --save '' --appendonly no --dir "$tmp" \
    --logfile "$tmp/redis.log" &
pids="$!"
url=unix://$sock
export SLUICE_NAMESPACE=up
# wait_for S CMD...: runs CMD every 0.1 s until it succeeds, for at most S s.
wait_for() {
    local limit=$1 i=0
    shift
    while ! "$@" >/dev/null 2>&1; do
        i=$((i + 1))
        [ "$i" -ge $((limit * 10)) ] && return 1
        sleep 0.1
    done
}
wait_for 20 redis-cli -s "$sock" ping || { not_ok "redis-server starts"; finish; }
version() { redis-cli -s "$sock" fcall_ro sluice_version 0; }

# The handler logs who ran which job with its payload, slowly enough that
# jobs are in flight when the Functions change.
handler=$tmp/handler.sh
cat >"$handler" <<'EOF'
#!/bin/sh
payload=$(cat)
sleep 0.05
echo "$1 $SLUICE_JOB_ID $payload" >>"$2"
EOF
chmod +x "$handler"
log=$tmp/ran.log
: >"$log"
enqueue() { # BIN FROM TO [OPTION...]
    local i bin=$1 from=$2 to=$3
    shift 3
    for i in $(seq "$from" "$to"); do
        "$bin/sluicectl" --redis "$url" enqueue up "{\"n\":$i,\"text\":\"job $i of the upgrade\"}" "$@" >>"$tmp/ids" ||
            return 1
    done
}
worker() { # BIN WHO
    "$1/sluice-worker" --redis "$url" --no-governor --concurrency 4 --grace 10s --name "$2" \
        --handler up="$handler" "$2" "$log" 2>>"$tmp/$2.log" &
    pids="$pids $!"
}
ran() { wc -l <"$log"; }
ran_at_least() { [ "$(ran)" -ge "$1" ]; }
no_leases() { [ "$(redis-cli -s "$sock" zcard 'up:{up}:leased')" = 0 ]; }

# 1. The previous release: its Functions, its class, 300 jobs, its worker.
"$old_bin/sluicectl" --redis "$url" class set up --tier normal --max-concurrency 8 >/dev/null &&
    enqueue "$old_bin" 1 300 || { not_ok "the previous release declares a class and enqueues"; finish; }
old_version=$(version)
worker "$old_bin" old
if wait_for 60 ran_at_least 30; then ok "the previous release ($prev, Functions v$old_version) runs jobs"; else
    not_ok "the previous release's worker runs jobs"
fi

# 2. This tree loads its Functions while the old worker runs, and enqueues
#    jobs with a start_by: those the old worker claims leave their entries,
#    which the new Functions and the checker tolerate.
"$new_bin/sluicectl" --redis "$url" status >/dev/null
new_version=$(version)
switched=$(ran)
if [ "$new_version" -gt "$old_version" ] 2>/dev/null; then
    ok "this tree's client replaced the Functions v$old_version with v$new_version under a running worker"
else
    not_ok "the Functions moved from v$old_version to a newer version (now $new_version)"
fi
worker "$new_bin" new
enqueue "$new_bin" 301 600 --start-within 1h || not_ok "this tree's producer enqueues beside the old worker"

# 3. Both drain the class; nothing lost, nothing run twice, nothing garbled.
if wait_for 240 ran_at_least 600; then ok "600 jobs ran"; else not_ok "600 jobs ran (only $(ran))"; fi
wait_for 20 no_leases
after_old=$(tail -n +$((switched + 1)) "$log" | grep -c '^old ')
after_new=$(grep -c '^new ' "$log")
if [ "$after_old" -gt 0 ] && [ "$after_new" -gt 0 ]; then
    ok "side by side: after the switch the old worker ran $after_old jobs, the new one $after_new"
else
    not_ok "both workers ran jobs after the switch (old $after_old, new $after_new)"
fi
bad=$(awk '{ id = $2; n = $0; sub(/^[^ ]* [^ ]* /, "", n)
             if (n !~ /^\{"n":[0-9]+,"text":"job [0-9]+ of the upgrade"\}$/) { print "garbled: " $0; next }
             split(n, a, /[:,]/); k = a[2]; if (seen[k]++) print "twice: " k; if (ids[id]++) print "id twice: " id }
           END { for (k = 1; k <= 600; k++) if (!seen[k]) print "lost: " k }' "$log")
if [ -z "$bad" ]; then ok "every job ran exactly once with its payload intact (0 lost, 0 corrupted)"; else
    not_ok "jobs lost, repeated or garbled:"
    echo "$bad" | head -n 10
fi
if sort -u "$tmp/ids" | cmp -s - <(awk '{print $2}' "$log" | sort -u); then
    ok "the ids the producers were given are the ids that ran"
else
    not_ok "the ids enqueued and the ids run differ"
fi
if out=$("$new_bin/sluicectl" --redis "$url" check up 2>&1); then ok "sluicectl check finds nothing"; else
    not_ok "sluicectl check: $out"
fi

# 4. The previous release's operator reads a waiting job, and (from version
#    8) a class's keys, through this tree's Functions: its calls lack the
#    flags later versions added, and get the replies it knows.
"$new_bin/sluicectl" --redis "$url" class set still --tier critical >/dev/null &&
    still=$("$new_bin/sluicectl" --redis "$url" enqueue still '{"kept":1}' --key acme) ||
    not_ok "this tree declares a class and enqueues a keyed job"
if out=$("$old_bin/sluicectl" --redis "$url" job show "$still" 2>&1) && echo "$out" | grep -q kept; then
    ok "the previous release's sluicectl shows a job"
else
    not_ok "the previous release's sluicectl job show: $out"
fi
if "$old_bin/sluicectl" class keys --help 2>&1 | grep -q 'class keys CLASS'; then
    if out=$("$old_bin/sluicectl" --redis "$url" class keys still 2>&1) && echo "$out" | grep -q acme; then
        ok "the previous release's sluicectl lists a class's keys"
    else
        not_ok "the previous release's sluicectl class keys: $out"
    fi
fi
finish
