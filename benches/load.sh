#!/usr/bin/env bash
# Load harness for the tongban gateway: run by hand, not in CI (see docs/load.md).
#
# Builds tongban in release, installs the load generator oha (pinned, project-local) when it is
# missing, generates a demo PKI, starts `tongban serve` on free loopback ports and drives it
# over TLS keep-alive with a real client certificate. Prints a table and writes the same as JSON.
# Every process it starts is stopped on exit; all traffic goes to 127.0.0.1.
set -euo pipefail

# oha 1.12.0 has --cert/--key (client certificates), --cacert and --output-format json, and
# builds with Rust 1.85 (the project's minimum). Changing it: check `oha --help` for those flags
# and the JSON keys read in `measure` (summary.requestsPerSec, latencyPercentiles.p50/p99,
# statusCodeDistribution, errorDistribution).
readonly OHA_VERSION=1.12.0
readonly VERIFY_PATH=/v1/licences/verify
# The caller (its client certificate from the demo PKI) and the licence sent: a valid business
# licence of Wuhan verified for Wuhan (the caller's city).
readonly CLIENT=420100-GOV_SERVICE
readonly LICENCE_REL=licences/BUSINESS_LICENCE.jws

usage() {
    cat <<EOF
Usage: benches/load.sh [OPTIONS]

Load test of the tongban gateway on loopback (a developer tool, not run in CI).

Scenarios, each with the same connections and duration after a warm-up:
  verify-cached      POST /v1/licences/verify, the same licence every request; the verdict
                     cache answers all but the first
  verify-uncached    the same against a second gateway with [cache] max_entries = 0: every
                     request verifies the licence (signature, chain, CRLs, policies)
  exchange           GET /v1/exchange/ITEM/PATH with X-Purpose through the gateway (policy,
                     forwarding, filtering, masking, audit record) to the shipped sample
                     upstream (`tongban sample-upstream`), unless --gateway-config is given
  direct-upstream    the same upstream URL called directly over plain HTTP (no gateway), the
                     baseline of the exchange; --upstream overrides the URL

Options:
  -d, --duration SECS       measured run per scenario (default 10)
  -c, --connections N       concurrent keep-alive connections (default 32)
  -w, --warmup SECS         warm-up before each measured run (default 2)
  -o, --out FILE            JSON results (default: <cargo target dir>/load/verify.json)
      --only LIST           comma-separated scenarios to run (default: all)
      --log LEVEL           the gateway's request log level: info (default, as deployed) logs
                            one line per request; warn turns request logs off
      --exchange-item ID    item of the exchange scenario (default TAX-CREDIT-RATING-EZ)
      --exchange-purpose P  its X-Purpose (default ONE_NETWORK_SERVICE)
      --exchange-path PATH  its path after the item (default query)
      --gateway-config FILE TOML appended to every generated gateway configuration
                            (e.g. [policies] and [upstreams.NAME] for the exchange)
      --upstream URL        plain-HTTP loopback URL for direct-upstream
      --upstream-pid PID    the upstream's process, to report its CPU per request
      --no-build            use the existing release binary
      --keep                keep the work folder (PKI, configurations, logs, oha output)
  -h, --help                this help

Needs cargo, curl and jq. oha $OHA_VERSION is installed with "cargo install --locked" into
<cargo target dir>/tools when missing (crates.io access needed once).
The cargo target dir is \$CARGO_TARGET_DIR, else ./target of the repository.
EOF
}

note() { printf 'load.sh: %s\n' "$*" >&2; }
die() {
    printf 'load.sh: error: %s\n' "$*" >&2
    exit 1
}

# --- options -------------------------------------------------------------------------------

DURATION=10
CONNECTIONS=32
WARMUP=2
OUT=
ONLY=all
LOG_LEVEL=info
# a shipped item the demo caller may call without a subject licence and without a rate limit
EXCHANGE_ITEM=TAX-CREDIT-RATING-EZ
EXCHANGE_PURPOSE=ONE_NETWORK_SERVICE
EXCHANGE_PATH=query
GATEWAY_CONFIG_EXTRA=
UPSTREAM_URL=
UPSTREAM_PID=
BUILD=1
KEEP=0

need_value() {
    [[ $# -ge 2 && -n $2 ]] || die "$1 needs a value (see --help)"
}

positive_int() {
    [[ $2 =~ ^[1-9][0-9]*$ ]] || die "$1: expected a positive whole number, got '$2'"
}

while [[ $# -gt 0 ]]; do
    case $1 in
    -d | --duration) need_value "$@"; DURATION=${2%s}; shift 2 ;;
    -c | --connections) need_value "$@"; CONNECTIONS=$2; shift 2 ;;
    -w | --warmup) need_value "$@"; WARMUP=${2%s}; shift 2 ;;
    -o | --out) need_value "$@"; OUT=$2; shift 2 ;;
    --only) need_value "$@"; ONLY=$2; shift 2 ;;
    --log) need_value "$@"; LOG_LEVEL=$2; shift 2 ;;
    --exchange-item) need_value "$@"; EXCHANGE_ITEM=$2; shift 2 ;;
    --exchange-purpose) need_value "$@"; EXCHANGE_PURPOSE=$2; shift 2 ;;
    --exchange-path) need_value "$@"; EXCHANGE_PATH=$2; shift 2 ;;
    --gateway-config) need_value "$@"; GATEWAY_CONFIG_EXTRA=$2; shift 2 ;;
    --upstream) need_value "$@"; UPSTREAM_URL=$2; shift 2 ;;
    --upstream-pid) need_value "$@"; UPSTREAM_PID=$2; shift 2 ;;
    --no-build) BUILD=0; shift ;;
    --keep) KEEP=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) die "unknown argument '$1' (see --help)" ;;
    esac
done

positive_int --duration "$DURATION"
positive_int --connections "$CONNECTIONS"
positive_int --warmup "$WARMUP"
[[ $LOG_LEVEL =~ ^(trace|debug|info|warn|error|off)$ ]] ||
    die "--log: expected trace, debug, info, warn, error or off, got '$LOG_LEVEL'"
[[ -z $UPSTREAM_PID || $UPSTREAM_PID =~ ^[1-9][0-9]*$ ]] || die "--upstream-pid: not a process id"
[[ -z $GATEWAY_CONFIG_EXTRA || -r $GATEWAY_CONFIG_EXTRA ]] ||
    die "--gateway-config: cannot read '$GATEWAY_CONFIG_EXTRA'"
if [[ -n $UPSTREAM_URL ]]; then
    # all traffic stays on this machine
    [[ $UPSTREAM_URL =~ ^http://(127\.0\.0\.1|localhost|\[::1\])(:[0-9]+)?(/|$) ]] ||
        die "--upstream: only plain-HTTP loopback URLs (http://127.0.0.1:PORT/...), got '$UPSTREAM_URL'"
fi
for s in ${ONLY//,/ }; do
    [[ $s =~ ^(all|verify-cached|verify-uncached|exchange|direct-upstream)$ ]] ||
        die "--only: unknown scenario '$s'"
done

for tool in cargo curl jq getconf; do
    command -v "$tool" >/dev/null || die "$tool is needed (see --help)"
done
[[ -r /proc/self/stat ]] || die "/proc is needed to read the gateway's CPU time (Linux only)"

REPO=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)
TARGET=${CARGO_TARGET_DIR:-$REPO/target}
[[ $TARGET == /* ]] || TARGET=$PWD/$TARGET
TONGBAN=$TARGET/release/tongban
TOOLS=$TARGET/tools
OHA=$TOOLS/bin/oha
OUT=${OUT:-$TARGET/load/verify.json}
CLK_TCK=$(getconf CLK_TCK)

# --- processes and clean-up ----------------------------------------------------------------

STARTED_PIDS=()
WORK=

# stop_pid PID: SIGTERM (the gateway drains), then SIGKILL after 10 s.
stop_pid() {
    local pid=$1 i
    kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
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
}

cleanup() {
    local status=$? pid
    trap - EXIT
    for pid in ${STARTED_PIDS[@]+"${STARTED_PIDS[@]}"}; do
        stop_pid "$pid"
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
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- setup ---------------------------------------------------------------------------------

build_tongban() {
    if ((BUILD)); then
        note "building tongban (release)"
        (cd -- "$REPO" && cargo build --release --locked --bin tongban)
    fi
    [[ -x $TONGBAN ]] || die "$TONGBAN is missing (drop --no-build)"
}

ensure_oha() {
    local version help opt
    version=$("$OHA" --version 2>/dev/null || true)
    if [[ $version != "oha $OHA_VERSION" ]]; then
        note "installing oha $OHA_VERSION into $TOOLS (once; needs crates.io)"
        cargo install oha --version "=$OHA_VERSION" --locked --root "$TOOLS" ||
            die "cannot install oha $OHA_VERSION"
        version=$("$OHA" --version)
        [[ $version == "oha $OHA_VERSION" ]] || die "$OHA reports '$version', expected oha $OHA_VERSION"
    fi
    help=$("$OHA" --help)
    for opt in --cert --key --cacert --output-format --no-tui; do
        grep -q -e "$opt" <<<"$help" || die "$OHA has no $opt option"
    done
    OHA_VERSION_SEEN=${version#oha }
}

make_pki() {
    note "generating the demo PKI"
    # run where no ./policies exists: the PKI is made from the catalog built into the binary,
    # the one the generated gateways use (their configurations have no [policies])
    (cd -- "$WORK" && "$TONGBAN" pki demo --out "$WORK/pki") >"$WORK/pki.log" 2>&1 ||
        die "tongban pki demo failed: $(cat -- "$WORK/pki.log")"
    PKI=$WORK/pki
    CLIENT_TLS=(--cert "$PKI/clients/$CLIENT.pem" --key "$PKI/clients/$CLIENT.key"
        --cacert "$PKI/server/ca.pem")
    LICENCE=$PKI/$LICENCE_REL
    local f
    for f in "$PKI/clients/$CLIENT.pem" "$PKI/clients/$CLIENT.key" "$PKI/server/ca.pem" "$LICENCE"; do
        [[ -r $f ]] || die "the demo PKI has no $f"
    done
}

# --- gateways ------------------------------------------------------------------------------

GW_PID=
GW_URL=
GW_ADMIN=

# start_gateway NAME CACHE_MAX_ENTRIES: writes a configuration on free loopback ports (port 0,
# the addresses are read from the gateway's log), starts `tongban serve`, waits for /readyz.
# Sets GW_PID, GW_URL (https://127.0.0.1:PORT) and GW_ADMIN (127.0.0.1:PORT).
start_gateway() {
    local name=$1 max_entries=$2 dir=$WORK/gateway-$1 i addrs public admin
    mkdir -p -- "$dir"
    # relative paths: the gateway resolves them against the configuration's folder
    cat >"$dir/tongban.toml" <<EOF
[listen]
public = "127.0.0.1:0"
admin = "127.0.0.1:0"

[tls]
cert = "../pki/server/server-chain.pem"
key = "../pki/server/server.key"

[trust]
dir = "../pki/trust"

[audit]
path = "audit.jsonl"

[limits]
drain_timeout_ms = 2000

[cache]
max_entries = $max_entries
EOF
    if [[ -n $GATEWAY_CONFIG_EXTRA ]]; then
        cat -- "$GATEWAY_CONFIG_EXTRA" >>"$dir/tongban.toml"
    fi
    # request logs at LOG_LEVEL; the server's own start line stays at info (it gives the ports)
    RUST_LOG="$LOG_LEVEL,tongban::server=info,tongban::server::service=$LOG_LEVEL" \
        "$TONGBAN" serve --config "$dir/tongban.toml" 2>"$dir/gateway.log" &
    GW_PID=$!
    STARTED_PIDS+=("$GW_PID")
    note "gateway $name: pid $GW_PID, [cache] max_entries = $max_entries, log $dir/gateway.log"
    addrs=
    for ((i = 0; i < 300; i++)); do
        addrs=$(sed -n 's/.*tongban listening public=\([0-9.:]*\) admin=\([0-9.:]*\).*/\1 \2/p' \
            "$dir/gateway.log")
        [[ -n $addrs ]] && break
        kill -0 "$GW_PID" 2>/dev/null ||
            die "gateway $name exited during start-up: $(tail -n 20 -- "$dir/gateway.log")"
        sleep 0.1
    done
    [[ -n $addrs ]] || die "gateway $name did not log its addresses within 30 s: $dir/gateway.log"
    read -r public admin <<<"$addrs"
    [[ $public == 127.0.0.1:* && $admin == 127.0.0.1:* ]] ||
        die "gateway $name is not on loopback ($public, $admin)"
    GW_URL=https://$public
    GW_ADMIN=$admin
    for ((i = 0; i < 100; i++)); do
        if curl -fsS --max-time 1 -o /dev/null "http://$GW_ADMIN/readyz" 2>/dev/null; then
            note "gateway $name: ready on $GW_URL (admin http://$GW_ADMIN)"
            return 0
        fi
        kill -0 "$GW_PID" 2>/dev/null || die "gateway $name exited: $(tail -n 20 -- "$dir/gateway.log")"
        sleep 0.1
    done
    die "gateway $name: http://$GW_ADMIN/readyz not ready within 10 s"
}

stop_gateway() {
    [[ -n $GW_PID ]] || return 0
    stop_pid "$GW_PID"
    GW_PID=""
    GW_URL=""
    GW_ADMIN=""
}

# --- measuring -----------------------------------------------------------------------------

RESULTS= # one JSON object per line, per scenario

# cpu_ticks PID: user + system time of the whole process (all threads), in clock ticks.
cpu_ticks() {
    local stat fields
    stat=$(<"/proc/$1/stat") || die "cannot read /proc/$1/stat (has process $1 exited?)"
    # the command name (field 2) may hold spaces: split after its closing parenthesis
    read -r -a fields <<<"${stat##*) }"
    # fields[0] is field 3 (state); utime is field 14, stime field 15
    echo $((fields[11] + fields[12]))
}

# children_ticks: CPU time of this shell's finished children (oha, curl), in clock ticks.
children_ticks() {
    local stat fields
    stat=$(<"/proc/$$/stat")
    read -r -a fields <<<"${stat##*) }"
    # cutime is field 16, cstime field 17
    echo $((fields[13] + fields[14]))
}

# machine_busy_ticks: CPU time of the whole machine (user, nice, system, irq, softirq, steal).
machine_busy_ticks() {
    awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8 + $9; exit }' /proc/stat
}

# metric ADMIN NAME: a label-less counter of the gateway's /metrics ("null" when absent).
metric() {
    local value
    value=$(curl -fsS --max-time 5 "http://$1/metrics" | awk -v n="$2" '$1 == n { print $2 }') ||
        die "cannot read http://$1/metrics"
    [[ -z $value || $value =~ ^[0-9]+$ ]] || die "http://$1/metrics: $2 is '$value', not a count"
    echo "${value:-null}"
}

record_skipped() {
    jq -cn --arg scenario "$1" --arg reason "$2" '{scenario: $scenario, skipped: $reason}' >>"$RESULTS"
}

# measure SCENARIO PID ADMIN URL [OHA_ARGS...]: a warm-up run, then the measured run with the
# CPU time of process PID read from /proc before and after, and the verdict cache counters of
# the gateway's admin listener ADMIN. PID and ADMIN may be "-" (not known / not a gateway).
# Appends one JSON result to $RESULTS.
measure() {
    local scenario=$1 pid=$2 admin=$3 url=$4
    shift 4
    local file=$WORK/oha-$scenario.json cpu0=null cpu1=null hits0=null hits1=null misses0=null misses1=null
    local oha=("$OHA" --no-tui -c "$CONNECTIONS" --wait-ongoing-requests-after-deadline "$@")
    note "$scenario: warm-up ${WARMUP}s, $CONNECTIONS connections"
    "${oha[@]}" -z "${WARMUP}s" --output-format json -o "$WORK/oha-$scenario-warmup.json" "$url" ||
        die "$scenario: oha failed during the warm-up"
    if [[ $admin != - ]]; then
        hits0=$(metric "$admin" tongban_licence_cache_hits_total)
        misses0=$(metric "$admin" tongban_licence_cache_misses_total)
    fi
    [[ $pid == - ]] || cpu0=$(cpu_ticks "$pid")
    local machine0 children0 machine1 children1
    children0=$(children_ticks)
    machine0=$(machine_busy_ticks)
    note "$scenario: measuring ${DURATION}s"
    "${oha[@]}" -z "${DURATION}s" --output-format json -o "$file" "$url" ||
        die "$scenario: oha failed"
    [[ $pid == - ]] || cpu1=$(cpu_ticks "$pid")
    machine1=$(machine_busy_ticks)
    children1=$(children_ticks)
    if [[ $admin != - ]]; then
        hits1=$(metric "$admin" tongban_licence_cache_hits_total)
        misses1=$(metric "$admin" tongban_licence_cache_misses_total)
    fi
    jq -c --arg scenario "$scenario" --argjson hz "$CLK_TCK" \
        --argjson cpu0 "$cpu0" --argjson cpu1 "$cpu1" \
        --argjson hits0 "$hits0" --argjson hits1 "$hits1" \
        --argjson misses0 "$misses0" --argjson misses1 "$misses1" \
        --argjson machine "$((machine1 - machine0))" --argjson children "$((children1 - children0))" '
        def delta(a; b): if a == null or b == null then null else b - a end;
        ([.statusCodeDistribution[]] | add // 0) as $responses
        | ([.statusCodeDistribution | to_entries[] | select(.key != "200") | .value] | add // 0) as $non200
        | ([.errorDistribution[]] | add // 0) as $errors
        | delta($cpu0; $cpu1) as $ticks
        | {
            scenario: $scenario,
            responses: $responses,
            non_200: $non200,
            errors: $errors,
            status_codes: .statusCodeDistribution,
            error_kinds: .errorDistribution,
            seconds: .summary.total,
            requests_per_sec: .summary.requestsPerSec,
            p50_ms: (.latencyPercentiles.p50 * 1000),
            p99_ms: (.latencyPercentiles.p99 * 1000),
            cpu_seconds: (if $ticks == null then null else $ticks / $hz end),
            cpu_us_per_request:
              (if $ticks == null or $responses == 0 then null else $ticks / $hz / $responses * 1e6 end),
            cpu_cores_busy: (if $ticks == null then null else $ticks / $hz / .summary.total end),
            cache_hits: delta($hits0; $hits1),
            cache_misses: delta($misses0; $misses1),
            load_generator_cpu_seconds: ($children / $hz),
            # busy CPU of everything else on the machine: noise in the figures above
            other_cpu_cores: ((($machine - $children - ($ticks // 0)) / $hz / .summary.total)
                              | if . < 0 then 0 else . end)
          }' "$file" >>"$RESULTS" || die "$scenario: cannot read oha's output $file"
    local last
    last=$(tail -n 1 -- "$RESULTS")
    if jq -e '.other_cpu_cores > 0.2' <<<"$last" >/dev/null; then
        note "$scenario: WARNING: other processes kept $(jq '.other_cpu_cores * 100 | round / 100' <<<"$last") CPUs busy during the run; the figures are noisy"
    fi
    if [[ $(jq '.non_200 + .errors' <<<"$last") != 0 ]]; then
        note "$scenario: WARNING: not every request got 200: $(jq -c '{status_codes, error_kinds}' <<<"$last")"
    fi
}

# --- scenarios -----------------------------------------------------------------------------
# A scenario checks one request by hand (so a wrong set-up fails loudly instead of measuring
# error answers), then calls `measure`. Add one by writing a function and calling it in main.

# scenario_verify NAME: POST /v1/licences/verify with the same licence every request, against
# the running gateway (whose cache configuration makes it "cached" or "uncached").
scenario_verify() {
    local name=$1 body=$WORK/verify-$1.json status
    status=$(curl -sS --max-time 10 "${CLIENT_TLS[@]}" -H 'Content-Type: application/jose' \
        --data-binary "@$LICENCE" -o "$body" -w '%{http_code}' "$GW_URL$VERIFY_PATH") ||
        die "$name: the check request failed (curl)"
    [[ $status == 200 ]] || die "$name: $VERIFY_PATH answered $status: $(head -c 500 -- "$body")"
    [[ $(jq -r .valid "$body") == true ]] ||
        die "$name: the licence is not valid, not a representative load: $(head -c 500 -- "$body")"
    measure "$name" "$GW_PID" "$GW_ADMIN" "$GW_URL$VERIFY_PATH" \
        -m POST -T application/jose -D "$LICENCE" "${CLIENT_TLS[@]}"
}

# scenario_exchange ITEM PURPOSE [PATH]: GET /v1/exchange/ITEM/PATH with X-Purpose: PURPOSE
# as the demo caller. Skipped with a message while the gateway answers 404 (the exchange route
# is not there yet, or the item is unknown). Needs the gateway configured with the item's
# upstream (--gateway-config) and an upstream listening on loopback.
scenario_exchange() {
    local item=$1 purpose=$2 path=${3:-query} name=exchange body status url
    body=$WORK/exchange.body
    url=$GW_URL/v1/exchange/$item/$path
    status=$(curl -sS --max-time 10 "${CLIENT_TLS[@]}" -H "X-Purpose: $purpose" \
        -o "$body" -w '%{http_code}' "$url") || die "$name: the check request failed (curl)"
    if [[ $status == 404 ]]; then
        note "$name: skipped: GET $url answered 404 (no exchange route yet, or unknown item): $(head -c 300 -- "$body")"
        record_skipped "$name" "GET /v1/exchange/$item/$path answered 404"
        return 0
    fi
    if [[ $status != 200 ]]; then
        note "$name: skipped: GET $url answered $status: $(head -c 300 -- "$body")"
        record_skipped "$name" "GET /v1/exchange/$item/$path answered $status"
        return 0
    fi
    measure "$name" "$GW_PID" "$GW_ADMIN" "$url" -H "X-Purpose: $purpose" "${CLIENT_TLS[@]}"
}

# scenario_direct_upstream URL [PID]: GET an upstream directly over plain HTTP (no gateway), the
# baseline for the exchange scenario. PID, when given, is the upstream's process (its CPU).
scenario_direct_upstream() {
    local url=$1 pid=${2:--} name=direct-upstream status
    if [[ -z $url ]]; then
        note "$name: skipped: no upstream (pass --upstream http://127.0.0.1:PORT/PATH)"
        record_skipped "$name" "no --upstream given"
        return 0
    fi
    status=$(curl -sS --max-time 10 -o /dev/null -w '%{http_code}' "$url") ||
        die "$name: cannot reach $url"
    if [[ $status != 2* ]]; then
        note "$name: skipped: GET $url answered $status"
        record_skipped "$name" "GET $url answered $status"
        return 0
    fi
    measure "$name" "$pid" - "$url"
}

# start_sample_upstream: `tongban sample-upstream` on a free loopback port with the shipped
# policies; its printed [policies]/[upstreams.*] configuration becomes --gateway-config, and the
# exchange item's upstream URL the direct-upstream baseline (unless --upstream was given).
start_sample_upstream() {
    local toml=$WORK/sample-upstream.toml i upstream url
    "$TONGBAN" sample-upstream --policies "$REPO/policies" --listen 127.0.0.1:0 \
        >"$toml" 2>"$WORK/sample-upstream.log" &
    UPSTREAM_SERVER_PID=$!
    STARTED_PIDS+=("$UPSTREAM_SERVER_PID")
    for ((i = 0; i < 100; i++)); do
        grep -q 'stop with' "$WORK/sample-upstream.log" 2>/dev/null && break
        kill -0 "$UPSTREAM_SERVER_PID" 2>/dev/null ||
            die "tongban sample-upstream exited: $(cat -- "$WORK/sample-upstream.log")"
        sleep 0.1
    done
    GATEWAY_CONFIG_EXTRA=$toml
    upstream=$(awk -v id="$EXCHANGE_ITEM" '$1 == "id" && $3 == "\"" id "\"" { found = 1 }
        found && $1 == "upstream" { gsub(/"/, "", $3); print $3; exit }' \
        $(find "$REPO/policies/items" -name '*.toml'))
    [[ -n $upstream ]] || die "item $EXCHANGE_ITEM not found in $REPO/policies/items"
    url=$(awk -v name="[upstreams.$upstream]" '$0 == name { getline; gsub(/"/, "", $3); print $3; exit }' "$toml")
    [[ -n $url ]] || die "no upstream $upstream in $toml"
    if [[ -z $UPSTREAM_URL ]]; then
        UPSTREAM_URL=$url/$EXCHANGE_PATH
        UPSTREAM_PID=$UPSTREAM_SERVER_PID
    fi
    note "sample upstream: pid $UPSTREAM_SERVER_PID, $EXCHANGE_ITEM is served by $upstream at $url"
}

wanted() {
    [[ ,$ONLY, == *,all,* || ,$ONLY, == *,$1,* ]]
}

# --- report --------------------------------------------------------------------------------

write_report() {
    local machine commit
    machine=$(jq -n --arg nproc "$(nproc)" \
        --arg cpu "$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)" \
        --arg kernel "$(uname -sr)" '{nproc: ($nproc | tonumber), cpu_model: $cpu, kernel: $kernel}')
    commit=$(git -C "$REPO" describe --always --dirty 2>/dev/null || echo unknown)
    mkdir -p -- "$(dirname -- "$OUT")"
    jq -s --argjson machine "$machine" --arg commit "$commit" --arg oha "$OHA_VERSION_SEEN" \
        --arg date "$(date -u +%Y-%m-%dT%H:%M:%SZ)" --argjson duration "$DURATION" \
        --argjson warmup "$WARMUP" --argjson connections "$CONNECTIONS" --arg log "$LOG_LEVEL" \
        --arg client "$CLIENT" --arg licence "$LICENCE_REL" '
        {date: $date, commit: $commit, machine: $machine, oha_version: $oha,
         settings: {duration_s: $duration, warmup_s: $warmup, connections: $connections,
                    request_log: $log, client: $client, licence: $licence,
                    transport: "HTTP/1.1 over TLS, keep-alive, client certificate"},
         scenarios: .}' "$RESULTS" >"$OUT.tmp"
    mv -f -- "$OUT.tmp" "$OUT"

    printf '\n%-18s %9s %10s %9s %9s %12s %7s %7s %9s\n' \
        scenario requests req/s 'p50 ms' 'p99 ms' 'CPU µs/req' cores other non-200
    jq -r '.scenarios[]
        | if .skipped then [.scenario, "skipped: " + .skipped] | @tsv
          else [.scenario, .responses, (.requests_per_sec | round),
                (.p50_ms * 100 | round / 100), (.p99_ms * 100 | round / 100),
                (.cpu_us_per_request // "n/a" | if type == "number" then (. * 10 | round / 10) else . end),
                (.cpu_cores_busy // "n/a" | if type == "number" then (. * 100 | round / 100) else . end),
                (.other_cpu_cores * 100 | round / 100),
                (.non_200 + .errors)] | @tsv end' "$OUT" |
        while IFS=$'\t' read -r -a row; do
            if [[ ${#row[@]} -eq 2 ]]; then
                printf '%-18s %s\n' "${row[0]}" "${row[1]}"
            else
                printf '%-18s %9s %10s %9s %9s %11s %7s %7s %9s\n' "${row[@]}"
            fi
        done
    printf '\n%s connections, %ss measured after %ss warm-up; %s; %s CPUs (%s); oha %s\n' \
        "$CONNECTIONS" "$DURATION" "$WARMUP" "request log: $LOG_LEVEL" "$(nproc)" \
        "$(jq -r .machine.cpu_model "$OUT")" "$OHA_VERSION_SEEN"
    note "results written to $OUT"
}

# --- main ----------------------------------------------------------------------------------

main() {
    build_tongban
    ensure_oha
    WORK=$(mktemp -d "${TMPDIR:-/tmp}/tongban-load.XXXXXX")
    RESULTS=$WORK/results.jsonl
    : >"$RESULTS"
    make_pki
    if [[ -z $GATEWAY_CONFIG_EXTRA ]] && { wanted exchange || wanted direct-upstream; }; then
        start_sample_upstream
    fi

    if wanted verify-cached || wanted exchange; then
        start_gateway cached 100000
        if wanted verify-cached; then scenario_verify verify-cached; fi
        if wanted exchange; then scenario_exchange "$EXCHANGE_ITEM" "$EXCHANGE_PURPOSE" "$EXCHANGE_PATH"; fi
        stop_gateway
    fi
    if wanted verify-uncached; then
        start_gateway uncached 0
        scenario_verify verify-uncached
        stop_gateway
    fi
    if wanted direct-upstream; then
        scenario_direct_upstream "$UPSTREAM_URL" "${UPSTREAM_PID:--}"
    fi
    write_report
}

main
