# Sourced by scripts that compare one Redis with a Redis Cluster: starts, in
# a temp dir on free TCP ports of 127.0.0.1 (persistence off), a standalone
# redis-server and a cluster of N masters (no replicas) made with
# redis-cli --cluster create, and waits until the cluster says ok; stops
# them all and removes the dir on exit, Ctrl-C or TERM. Sets $single_url and
# $cluster_urls (the masters' redis:// URLs, space-separated).
# usage: . scripts/redis-cluster-temp.sh; redis_cluster_temp_start NAME N
cl_dir=""
cl_pids=""
redis_cluster_temp_cleanup() {
    for p in $cl_pids; do kill "$p" 2>/dev/null || true; done
    for p in $cl_pids; do wait "$p" 2>/dev/null || true; done
    [ -n "$cl_dir" ] && rm -rf "$cl_dir"
}
trap redis_cluster_temp_cleanup EXIT
trap 'exit 130' INT TERM

# A port of 127.0.0.1 free now (the kernel's choice).
cl_free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# cl_node NAME PORT [ARG...]: a redis-server in $cl_dir/NAME, answering PING.
cl_node() {
    name=$1 port=$2
    shift 2
    mkdir -p "$cl_dir/$name"
    redis-server --bind 127.0.0.1 --port "$port" --save "" --appendonly no --dir "$cl_dir/$name" \
        --logfile "$cl_dir/$name/redis.log" "$@" >/dev/null &
    cl_pids="$cl_pids $!"
    i=0
    until redis-cli -p "$port" ping >/dev/null 2>&1; do
        i=$((i + 1))
        if [ $i -gt 200 ]; then
            echo "redis-cluster-temp: $name did not start (see $cl_dir/$name/redis.log)" >&2
            exit 1
        fi
        sleep 0.05
    done
}

redis_cluster_temp_start() {
    cl_dir=$(mktemp -d "${TMPDIR:-/tmp}/sluice-$1-XXXXXX")
    port=$(cl_free_port)
    cl_node single "$port"
    single_url="redis://127.0.0.1:$port"
    addrs=""
    cluster_urls=""
    k=0
    while [ $k -lt "$2" ]; do
        k=$((k + 1))
        port=$(cl_free_port)
        cl_node "node$k" "$port" --cluster-enabled yes --cluster-port "$(cl_free_port)" \
            --cluster-config-file "$cl_dir/node$k/nodes.conf"
        addrs="$addrs 127.0.0.1:$port"
        cluster_urls="$cluster_urls redis://127.0.0.1:$port"
    done
    # shellcheck disable=SC2086 # one argument per node
    if ! redis-cli --cluster create $addrs --cluster-yes >"$cl_dir/create.log" 2>&1; then
        echo "redis-cluster-temp: redis-cli --cluster create failed (see $cl_dir/create.log)" >&2
        exit 1
    fi
    for a in $addrs; do
        i=0
        until redis-cli -p "${a##*:}" cluster info 2>/dev/null | grep -q '^cluster_state:ok'; do
            i=$((i + 1))
            if [ $i -gt 400 ]; then
                echo "redis-cluster-temp: $a never said cluster_state:ok" >&2
                exit 1
            fi
            sleep 0.05
        done
    done
}
