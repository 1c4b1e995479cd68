# shellcheck shell=bash
# benches/compare: processes, clean-up, free ports and the /proc accounting of CPU time.
# Sourced by benches/compare; see docs/performance.md.

note() { printf 'compare: %s\n' "$*" >&2; }
die() {
    printf 'compare: error: %s\n' "$*" >&2
    exit 1
}

# --- processes and clean-up ----------------------------------------------------------------

STARTED_PIDS=() # every process started, stopped (SIGTERM, then SIGKILL) on exit
WORK=

# stop_pid PID: SIGTERM (tongban drains, nginx's master stops its workers), then SIGKILL after
# 10 s. An nginx master's workers are killed too if they outlive it.
stop_pid() {
    local pid=$1 i children
    kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
    children=$(children_of "$pid")
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        note "process $pid did not stop after SIGTERM; killing it"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
    for pid in $children; do
        kill -KILL "$pid" 2>/dev/null || true
    done
}

cleanup() {
    local status=$? i
    trap - EXIT
    # newest first: gateways and proxies before their upstream
    for ((i = ${#STARTED_PIDS[@]} - 1; i >= 0; i--)); do
        stop_pid "${STARTED_PIDS[i]}"
    done
    if [[ -n $WORK && -d $WORK ]]; then
        if ((KEEP)); then
            note "work folder kept: $WORK"
        else
            rm -rf -- "$WORK"
        fi
    fi
    exit "$status"
}

# --- ports ---------------------------------------------------------------------------------

HANDED_PORTS=" "

# free_port: a loopback TCP port nobody listens on (from /proc/net/tcp{,6}), not handed out
# before by this run. nginx needs fixed ports; tongban binds port 0 and logs what it got.
free_port() {
    local listening=" " port i addr state
    # local_address is HEXIP:HEXPORT, st 0A is LISTEN
    while read -r _ addr _ state _; do
        [[ $state == 0A ]] && listening+="$((16#${addr##*:})) "
    done < <(cat /proc/net/tcp /proc/net/tcp6 2>/dev/null)
    for ((i = 0; i < 1000; i++)); do
        port=$((20000 + RANDOM % 12000))
        if [[ $listening != *" $port "* && $HANDED_PORTS != *" $port "* ]]; then
            HANDED_PORTS+="$port "
            echo "$port"
            return 0
        fi
    done
    die "no free loopback port found"
}

# wait_port PORT PID WHAT: until something accepts on 127.0.0.1:PORT (10 s), while PID lives.
wait_port() {
    local port=$1 pid=$2 what=$3 i
    for ((i = 0; i < 100; i++)); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            return 0
        fi
        kill -0 "$pid" 2>/dev/null || die "$what exited during start-up"
        sleep 0.1
    done
    die "$what does not accept connections on 127.0.0.1:$port after 10 s"
}

# --- CPU accounting from /proc -------------------------------------------------------------

# stat_fields PID: the fields of /proc/PID/stat after the command name (field 3 onwards), or
# nothing when the process is gone. The command name may hold spaces: split after its ')'.
stat_fields() {
    local stat
    { stat=$(<"/proc/$1/stat"); } 2>/dev/null || return 0
    echo "${stat##*) }"
}

# children_of PID: the processes whose parent is PID (nginx's workers), one per line.
children_of() {
    local f fields
    for f in /proc/[0-9]*/stat; do
        read -r -a fields <<<"$(stat_fields "${f//[^0-9]/}")"
        [[ ${#fields[@]} -gt 1 && ${fields[1]} == "$1" ]] && echo "${f//[^0-9]/}"
    done
    return 0
}

# tree_pids PID: PID and its children (tongban: itself; nginx: master and workers).
tree_pids() {
    echo "$1"
    children_of "$1"
}

# cpu_ticks PID...: user + system time of the processes (all threads each), in clock ticks.
# Fails when one of them is gone: its time would be missing from the difference.
cpu_ticks() {
    local pid fields total=0
    for pid in "$@"; do
        read -r -a fields <<<"$(stat_fields "$pid")"
        [[ ${#fields[@]} -gt 13 ]] || die "process $pid has exited; its CPU time cannot be counted"
        # fields[0] is field 3 (state); utime is field 14, stime field 15
        total=$((total + fields[11] + fields[12]))
    done
    echo "$total"
}

# cpu_ticks_split PID...: "USER SYSTEM" time of the processes, in clock ticks.
cpu_ticks_split() {
    local pid fields user=0 sys=0
    for pid in "$@"; do
        read -r -a fields <<<"$(stat_fields "$pid")"
        [[ ${#fields[@]} -gt 13 ]] || die "process $pid has exited; its CPU time cannot be counted"
        user=$((user + fields[11]))
        sys=$((sys + fields[12]))
    done
    echo "$user $sys"
}

# children_ticks: CPU time of this shell's finished children (oha, curl), in clock ticks.
children_ticks() {
    local fields
    read -r -a fields <<<"$(stat_fields $$)"
    # cutime is field 16, cstime field 17
    echo $((fields[13] + fields[14]))
}

# machine_busy_ticks: busy CPU time of the whole machine (user, nice, system, irq, softirq, steal).
machine_busy_ticks() {
    local user nice system irq softirq steal
    # cpu user nice system idle iowait irq softirq steal ...
    read -r _ user nice system _ _ irq softirq steal _ </proc/stat
    echo $((user + nice + system + irq + softirq + steal))
}

# memory_kib PID FIELD: a field of /proc/PID/status in KiB (VmHWM: peak resident set, VmRSS).
memory_kib() {
    awk -v f="$2:" '$1 == f { print $2; found = 1 } END { if (!found) print "null" }' "/proc/$1/status"
}

# busy_cpus SECONDS: how many CPUs the machine kept busy over the next SECONDS, two decimals.
busy_cpus() {
    local before after
    before=$(machine_busy_ticks)
    sleep "$1"
    after=$(machine_busy_ticks)
    awk -v d=$((after - before)) -v hz="$CLK_TCK" -v s="$1" 'BEGIN { printf "%.2f", d / hz / s }'
}
