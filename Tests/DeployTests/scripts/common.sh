# Shared by the deploy test scripts (sourced, not run).  Each script calls begin_test, which
# makes one temporary directory, $work; every process the script starts carries
# TRPO_DEPLOY_TEST=$work in its environment, so that cleanup can find exactly those processes
# (and no one else's) by pid.

# begin_test NAME: makes $work and arranges that on any exit every process of the test is
# stopped, the logs in $work are shown if the test failed, and $work is removed.  A script may
# define before_cleanup to do something first (cancel a Slurm job, say).
begin_test() {
    work=$(mktemp -d "/tmp/trpo-$1.XXXXXX")
    export TRPO_DEPLOY_TEST=$work
    trap end_test EXIT
    trap 'exit 143' TERM INT
}
before_cleanup() { :; }
end_test() {
    local status=$?
    before_cleanup || true
    kill_marked
    if ((status != 0)); then show_logs $(find "$work" -name '*.log' -o -name '*.out' | sort); fi
    rm -rf "$work"
    exit "$status"
}

# A tcp port on 127.0.0.1 that was free a moment ago.
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Daemons started by the test, by pid: some (sshd) overwrite their environment with their
# process title, so the marker cannot find them.
daemons=()

# Pids of the live processes whose environment carries this test's marker, and the daemons.
marked_pids() {
    local daemon
    for daemon in "${daemons[@]}"; do if kill -0 "$daemon" 2>/dev/null; then echo "$daemon"; fi; done
    local environ pid
    for environ in /proc/[0-9]*/environ; do
        pid=${environ#/proc/}; pid=${pid%/environ}
        [[ $pid == "$$" || $pid == "$BASHPID" ]] && continue
        if tr '\0' '\n' 2>/dev/null <"$environ" | grep -xF "TRPO_DEPLOY_TEST=$work" >/dev/null; then echo "$pid"; fi
    done
}

# TERM, then after a grace period KILL, every process this test started.
kill_marked() {
    local pids
    pids=$(marked_pids | sort -u)
    [[ -z $pids ]] && return 0
    kill -TERM $pids 2>/dev/null || true
    for _ in $(seq 50); do
        pids=$(marked_pids | sort -u)
        [[ -z $pids ]] && return 0
        sleep 0.1
    done
    echo "still running after TERM, killing: $pids" >&2
    kill -KILL $pids 2>/dev/null || true
}

# The last value of column $2 in the progress.csv of run directory $1 (empty if none).
last_progress() {
    local csv=$1/progress.csv
    [[ -f $csv ]] || return 0
    awk -F, -v column="$2" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == column) c = i; next } c { v = $c } END { print v }' "$csv"
}

# Fails unless run directory $1 has progress.csv rows up to at least $2 timesteps.
expect_steps() {
    local steps
    steps=$(last_progress "$1" timesteps)
    if [[ -z $steps ]] || ((steps < $2)); then
        echo "FAIL: $1/progress.csv reached ${steps:-no} timesteps, expected at least $2" >&2
        return 1
    fi
    echo "ok: $1/progress.csv reached $steps timesteps ($(($(wc -l <"$1/progress.csv") - 1)) iterations)"
}

# Prints the tails of the given log files (for a failure's diagnosis).
show_logs() {
    local f
    for f in "$@"; do
        [[ -f $f ]] || continue
        echo "----- $f (last 30 lines)"
        tail -n 30 "$f"
    done
}
