# shellcheck shell=bash
# benches/compare: check requests, the measured runs, and the scenarios. Sourced by
# benches/compare.

readonly VERIFY_PATH=/v1/licences/verify
readonly BATCH_PATH=/v1/licences/verify-batch

RESULTS= # one JSON object per line: every measured run, the memory reading, the settings

# metric ADMIN NAME: a label-less series of the gateway's /metrics ("null" when absent).
metric() {
    local value
    value=$(curl -fsS --max-time 5 "http://$1/metrics" | awk -v n="$2" '$1 == n { print $2 }') ||
        die "cannot read http://$1/metrics"
    [[ -z $value || $value =~ ^[0-9]+(\.[0-9]+)?([eE]\+?[0-9]+)?$ ]] ||
        die "http://$1/metrics: $2 is '$value', not a count"
    echo "${value:-null}"
}

# --- load generators -----------------------------------------------------------------------

# load LOAD SECONDS OUT URL [ARGS...]: one run of wrk or oha with $CONNECTIONS_NOW connections;
# ARGS: -H "name: value", -m METHOD, -D FILE (body), -T TYPE, --disable-keepalive. Leaves a JSON
# summary in OUT: requests, seconds, rps, p50_ms, p99_ms, non_2xx, errors.
load() {
    local tool=$1 secs=$2 out=$3 url=$4
    shift 4
    case $tool in
    oha) load_oha "$secs" "$out" "$url" "$@" ;;
    wrk) load_wrk "$secs" "$out" "$url" "$@" ;;
    *) die "no load generator '$tool'" ;;
    esac
}

load_oha() {
    local secs=$1 out=$2 url=$3
    shift 3
    "$OHA" --no-tui -c "$CONNECTIONS_NOW" --wait-ongoing-requests-after-deadline -z "${secs}s" \
        --output-format json -o "$out.raw" "$@" "${CLIENT_TLS[@]}" "$url" ||
        die "oha failed ($url)"
    jq -c '
        ([.statusCodeDistribution[]] | add // 0) as $responses
        | {requests: $responses, seconds: .summary.total, rps: .summary.requestsPerSec,
           p50_ms: (.latencyPercentiles.p50 * 1000), p99_ms: (.latencyPercentiles.p99 * 1000),
           non_2xx: ([.statusCodeDistribution | to_entries[] | select(.key | startswith("2") | not) | .value] | add // 0),
           errors: ([.errorDistribution[]] | add // 0)}' "$out.raw" >"$out" ||
        die "cannot read oha's output $out.raw"
}

load_wrk() {
    local secs=$1 out=$2 url=$3 script=$WORK/wrk-$$.lua threads
    shift 3
    local -a headers=() extra=()
    local method=GET body_file="" type=""
    while [[ $# -gt 0 ]]; do
        case $1 in
        -H) headers+=("$2"); shift 2 ;;
        -m) method=$2; shift 2 ;;
        -D) body_file=$2; shift 2 ;;
        -T) type=$2; shift 2 ;;
        --disable-keepalive) extra+=(-H "Connection: close"); shift ;;
        *) die "load_wrk: unknown argument '$1'" ;;
        esac
    done
    {
        printf 'wrk.method = "%s"\n' "$method"
        local h
        for h in "${headers[@]}"; do
            printf 'wrk.headers["%s"] = "%s"\n' "${h%%:*}" "$(sed 's/^ *//' <<<"${h#*:}")"
        done
        [[ -n $type ]] && printf 'wrk.headers["Content-Type"] = "%s"\n' "$type"
        if [[ -n $body_file ]]; then
            printf 'wrk.body = [[%s]]\n' "$(cat -- "$body_file")"
        fi
    } >"$script"
    threads=$NPROC
    ((threads > CONNECTIONS_NOW)) && threads=$CONNECTIONS_NOW
    WRK_CLIENT_CERT=$PKI/clients/$CLIENT.pem WRK_CLIENT_KEY=$PKI/clients/$CLIENT.key \
        LD_PRELOAD=$WRK_SHIM "$WRK" -t "$threads" -c "$CONNECTIONS_NOW" -d "${secs}s" --latency \
        -s "$script" ${extra[@]+"${extra[@]}"} "$url" >"$out.raw" 2>&1 || die "wrk failed ($url): $(tail -n 5 -- "$out.raw")"
    awk '
        function ms(v) {
            if (v ~ /us$/) { sub(/us$/, "", v); return v / 1000 }
            if (v ~ /ms$/) { sub(/ms$/, "", v); return v + 0 }
            if (v ~ /s$/) { sub(/s$/, "", v); return v * 1000 }
            return v + 0
        }
        / requests in / { requests = $1; seconds = $4; sub(/s,$/, "", seconds) }
        /^Requests\/sec:/ { rps = $2 }
        $1 == "50%" { p50 = ms($2) }
        $1 == "99%" { p99 = ms($2) }
        /Non-2xx or 3xx responses:/ { non2xx = $NF }
        /Socket errors:/ { gsub(/,/, ""); errors = $4 + $6 + $8 + $10 }
        END {
            if (requests == "") exit 1
            printf "{\"requests\":%d,\"seconds\":%s,\"rps\":%s,\"p50_ms\":%s,\"p99_ms\":%s,\"non_2xx\":%d,\"errors\":%d}\n",
                requests, seconds, rps, p50, p99, non2xx + 0, errors + 0
        }' "$out.raw" >"$out" || die "cannot read wrk's output $out.raw: $(head -c 500 -- "$out.raw")"
}

# measure TAG FIELDS ROOT_PID UPSTREAM_PID ADMIN LOAD URL [ARGS...]: the CPU probe, a warm-up run,
# then the measured run. Before and after it, from /proc: the CPU time (user and system) of the
# process under test (ROOT_PID and its children: nginx's master and workers, or tongban's one
# process), of the upstream, of this shell's children (the load generator) and of the whole
# machine; when ADMIN is not "-", the gateway's verdict cache counters. Appends one JSON object
# (FIELDS, a JSON object naming the run, plus the figures) to $RESULTS.
measure() {
    local tag=$1 fields=$2 root=$3 upstream=$4 admin=$5 tool=$6 url=$7
    shift 7
    local file=$WORK/runs/$tag.json hits0=null hits1=null misses0=null misses1=null probe_us
    local -a pids upids=()
    probe_us=$(probe)
    load "$tool" "$WARMUP" "$WORK/runs/$tag-warmup.json" "$url" "$@"
    mapfile -t pids < <(tree_pids "$root")
    [[ $upstream == - ]] || mapfile -t upids < <(tree_pids "$upstream")
    if [[ $admin != - ]]; then
        hits0=$(metric "$admin" tongban_licence_cache_hits_total)
        misses0=$(metric "$admin" tongban_licence_cache_misses_total)
    fi
    local cpu0 up0=0 machine0 children0 cpu1 up1=0 machine1 children1
    cpu0=$(cpu_ticks_split "${pids[@]}")
    ((${#upids[@]})) && up0=$(cpu_ticks "${upids[@]}")
    children0=$(children_ticks)
    machine0=$(machine_busy_ticks)
    load "$tool" "$DURATION" "$file" "$url" "$@"
    machine1=$(machine_busy_ticks)
    children1=$(children_ticks)
    cpu1=$(cpu_ticks_split "${pids[@]}")
    ((${#upids[@]})) && up1=$(cpu_ticks "${upids[@]}")
    if [[ $admin != - ]]; then
        hits1=$(metric "$admin" tongban_licence_cache_hits_total)
        misses1=$(metric "$admin" tongban_licence_cache_misses_total)
    fi
    local user0 sys0 user1 sys1
    read -r user0 sys0 <<<"$cpu0"
    read -r user1 sys1 <<<"$cpu1"
    jq -c --argjson fields "$fields" --argjson hz "$CLK_TCK" --argjson processes "${#pids[@]}" \
        --argjson user "$((user1 - user0))" --argjson sys "$((sys1 - sys0))" \
        --argjson upstream "$((up1 - up0))" \
        --argjson machine "$((machine1 - machine0))" --argjson children "$((children1 - children0))" \
        --argjson hits0 "$hits0" --argjson hits1 "$hits1" --argjson probe "$probe_us" \
        --argjson misses0 "$misses0" --argjson misses1 "$misses1" '
        def delta(a; b): if a == null or b == null then null else b - a end;
        def per(x): if .requests == 0 then null else x / $hz / .requests * 1e6 end;
        $fields + {
            type: "run", requests, seconds, requests_per_sec: .rps, p50_ms, p99_ms,
            non_2xx, errors, probe_us: $probe,
            processes: $processes,
            cpu_us_per_request: per($user + $sys),
            user_us_per_request: per($user), system_us_per_request: per($sys),
            cpu_cores_busy: (($user + $sys) / $hz / .seconds),
            upstream_cpu_us_per_request: per($upstream),
            cache_hits: delta($hits0; $hits1), cache_misses: delta($misses0; $misses1),
            load_generator_cpu_seconds: ($children / $hz),
            # busy CPU of everything else on the machine: noise in the figures above
            other_cpu_cores: ((($machine - $children - $user - $sys - $upstream) / $hz / .seconds)
                              | if . < 0 then 0 else . end)
        }' "$file" >>"$RESULTS" || die "$tag: cannot read the run's summary $file"
    local last
    last=$(tail -n 1 -- "$RESULTS")
    note "$(jq -r '"\(.name): \(.requests_per_sec | round) req/s, p99 \(.p99_ms * 100 | round / 100) ms, \(.cpu_us_per_request * 10 | round / 10) µs CPU/request (user \(.user_us_per_request * 10 | round / 10)), probe \(.probe_us) µs"' <<<"$last")"
    if jq -e '.other_cpu_cores > 0.2' <<<"$last" >/dev/null; then
        note "$tag: WARNING: other processes kept $(jq '.other_cpu_cores * 100 | round / 100' <<<"$last") CPUs busy during the run; the figures are noisy"
    fi
    if [[ $(jq '.non_2xx + .errors' <<<"$last") != 0 ]]; then
        note "$tag: WARNING: not every request got a 2xx answer: $(jq -c '{non_2xx, errors}' <<<"$last")"
    fi
}

# --- check requests ------------------------------------------------------------------------

# request WHAT CLIENT URL [CURL_ARGS...]: one request by curl as CLIENT (a demo client name);
# prints the status and leaves the body in $WORK/check.body.
request() {
    local what=$1 client=$2 url=$3
    shift 3
    curl -sS --max-time 10 --cert "$PKI/clients/$client.pem" --key "$PKI/clients/$client.key" \
        --cacert "$PKI/server/ca.pem" -o "$WORK/check.body" -w '%{http_code}' "$@" "$url" ||
        die "$what: the check request failed (curl)"
}

# check_exchange SIDE BASE_URL BODY: the demo caller gets 200 and the data: as the upstream
# sent it through nginx; filtered and masked through tongban.
check_exchange() {
    local side=$1 url=$2/v1/exchange/$(body_item "$3")/query b=$3 status
    status=$(request "$side exchange" "$CLIENT" "$url" -H "X-Purpose: $PURPOSE")
    [[ $status == 200 ]] || die "$side: GET $url answered $status: $(head -c 500 -- "$WORK/check.body")"
    case $side in
    nginx*)
        [[ $(jq -cS . "$WORK/check.body") == "$(body "$b" | jq -cS .)" ]] ||
            die "$side: GET $url did not answer the upstream's body: $(head -c 500 -- "$WORK/check.body")"
        ;;
    *)
        local expected
        case $b in
        tiny) expected='. == {"a": 1}' ;;
        1k) expected='(.holder.id_number | endswith("1234") and contains("*")) and .holder.name == "张三丰"
                      and .holder.phone == null and .holder.address == null and .employer.contact == null
                      and .case.no == "GS-2026-000123" and (.account | length == 7) and .flags.loan == true' ;;
        16k) expected='(.records | length == 200) and (.records[0] | keys == ["amount"])' ;;
        esac
        jq -e "$expected" "$WORK/check.body" >/dev/null ||
            die "$side: GET $url is not filtered and masked as the bench item says: $(head -c 500 -- "$WORK/check.body")"
        ;;
    esac
}

# check_refusals SIDE BASE_URL: what the proxies refuse. Both: no X-Purpose (400), another
# purpose (403), an unknown item (404). tongban also: another department of the caller's city and
# the caller's department of another city (403); the lean nginx checks no caller.
check_refusals() {
    local side=$1 base=$2 url=$2/v1/exchange/BENCH-1K/query
    local purpose=(-H "X-Purpose: $PURPOSE") got=()
    refused "no X-Purpose" 400 "$CLIENT" "$url"
    refused "other purpose" 403 "$CLIENT" "$url" -H "X-Purpose: OTHER_PURPOSE"
    refused "unknown item" 404 "$CLIENT" "$base/v1/exchange/NO-SUCH-ITEM/query" "${purpose[@]}"
    if [[ $side == tongban* ]]; then
        refused "${CLIENT%%-*}-TAX" 403 "${CLIENT%%-*}-TAX" "$url" "${purpose[@]}"
        refused "420200-${CLIENT#*-}" 403 "420200-${CLIENT#*-}" "$url" "${purpose[@]}"
    fi
    local list
    list=$(printf '%s, ' "${got[@]}")
    note "$side refuses as it should: ${list%, }"
}

# refused WHAT STATUS CLIENT URL [CURL_ARGS...]: a check request of check_refusals must get STATUS
# (adds to its `got`).
refused() {
    local what=$1 expected=$2 client=$3 url=$4 status
    shift 4
    status=$(request "$side" "$client" "$url" "$@")
    got+=("$what: $status")
    [[ $status == "$expected" ]] || die "$side: $what got $status, not $expected"
}

RESUMPTION_CHECK="not checked"

# check_no_resumption SIDE BASE_URL: a second connection that offers the first one's session
# gets a full handshake (openssl s_client -sess_out, then -sess_in), so that the handshake
# scenario measures full handshakes with the client certificate checked each time. A server
# that sends no ticket leaves no session to offer: that passes too. Skipped with a note when
# openssl is missing.
check_no_resumption() {
    local side=$1 first second session=$WORK/session-$1.pem
    local -a tls=(-connect "${2#https://}" -cert "$PKI/clients/$CLIENT.pem"
        -key "$PKI/clients/$CLIENT.key" -CAfile "$PKI/server/ca.pem")
    if ! command -v openssl >/dev/null; then
        note "$side: openssl is missing: session resumption not checked"
        RESUMPTION_CHECK="not checked (no openssl)"
        return 0
    fi
    first=$(echo | openssl s_client "${tls[@]}" -sess_out "$session" 2>&1 |
        grep -m 1 -o -E '^(New|Reused), TLSv[0-9.]+' || true)
    [[ $first == New,* ]] || die "$side: openssl s_client could not make a TLS connection to check resumption"
    if [[ ! -s $session ]]; then
        note "$side: no session ticket sent, nothing to resume"
        RESUMPTION_CHECK="checked with openssl s_client -sess_out/-sess_in: both sides refuse to resume"
        return 0
    fi
    second=$(echo | openssl s_client "${tls[@]}" -sess_in "$session" 2>&1 |
        grep -m 1 -o -E '^(New|Reused), TLSv[0-9.]+' || true)
    [[ $second == New,* ]] ||
        die "$side resumed a TLS session ($second): the handshake scenario would not measure full handshakes"
    RESUMPTION_CHECK="checked with openssl s_client -sess_out/-sess_in: both sides refuse to resume"
    note "$side: a reconnection with the previous session is a full handshake ($second)"
}

# check_verify NAME BASE_URL: the licence verifies (200, valid).
check_verify() {
    local name=$1 url=$2$VERIFY_PATH status
    status=$(request "$name" "$CLIENT" "$url" -H 'Content-Type: application/jose' --data-binary "@$LICENCE")
    [[ $status == 200 ]] || die "$name: $VERIFY_PATH answered $status: $(head -c 500 -- "$WORK/check.body")"
    [[ $(jq -r .valid "$WORK/check.body") == true ]] ||
        die "$name: the licence is not valid, not a representative load: $(head -c 500 -- "$WORK/check.body")"
}

# --- the runs ------------------------------------------------------------------------------

# run_exchange ROUND BODY UPSTREAM LOAD CONNECTIONS SIDE: one measured exchange run; SIDE is
# nginx-1, nginx-auto, tongban-1 or tongban-auto.
run_exchange() {
    local round=$1 b=$2 upstream=$3 tool=$4 conns=$5 side=$6 workers=${6#*-} base root admin name
    CONNECTIONS_NOW=$conns
    case $side in
    nginx-*) base=${NGINX_URL[$workers-$upstream]} root=${NGINX_PID[$workers-$upstream]} admin=- ;;
    tongban-*)
        name=$workers-$upstream
        base=${GW_URL[$name]} root=${GW_PID[$name]} admin=${GW_ADMIN[$name]}
        ;;
    esac
    check_exchange "$side" "$base" "$b"
    local fields
    fields=$(jq -cn --arg body "$b" --arg upstream "$upstream" --arg load "$tool" \
        --argjson connections "$conns" --arg side "$side" --argjson round "$round" \
        '{scenario: "exchange", body: $body, upstream: $upstream, load: $load,
          connections: $connections, side: $side, round: $round,
          name: "exchange \($body) \($upstream)-upstream \($load) c\($connections) \($side) round \($round)"}')
    measure "exchange-$b-$upstream-$tool-$conns-$side-$round" "$fields" "$root" \
        "$(upstream_pid "$upstream")" "$admin" "$tool" "$base/v1/exchange/$(body_item "$b")/query" \
        -H "X-Purpose: $PURPOSE"
    [[ $side == tongban-* ]] && trim_audit "$name"
    return 0
}

# run_other ROUND SCENARIO SIDE: one measured run of the gateway's own scenarios (1 KiB body,
# nginx upstream, oha, 32 connections).
run_other() {
    local round=$1 scenario=$2 side=$3 base root admin gw="" upstream=nginx url
    local -a args=(-H "X-Purpose: $PURPOSE")
    CONNECTIONS_NOW=32
    case $scenario-$side in
    handshake-nginx) base=${NGINX_URL[auto-nginx]} root=${NGINX_PID[auto-nginx]} admin=- ;;
    handshake-tongban) gw=auto-nginx ;;
    exchange-1062-tongban) gw=items-1062 ;;
    verify-cached-tongban) gw=auto-nginx ;;
    verify-uncached-tongban) gw=uncached ;;
    direct-upstream-upstream) base=http://127.0.0.1:$UPSTREAM_PORT root=$UPSTREAM_PID admin=- upstream=- ;;
    *) die "no run $scenario $side" ;;
    esac
    if [[ -n $gw ]]; then
        base=${GW_URL[$gw]} root=${GW_PID[$gw]} admin=${GW_ADMIN[$gw]}
    fi
    case $scenario in
    direct-upstream)
        url=$base/u/bench-1k/query
        curl -fsS --max-time 10 -o /dev/null "$url" || die "the upstream does not answer"
        args=()
        ;;
    verify-*)
        check_verify "$scenario" "$base"
        url=$base$VERIFY_PATH
        args=(-m POST -T application/jose -D "$LICENCE")
        ;;
    handshake)
        check_exchange "$side" "$base" 1k
        url=$base/v1/exchange/BENCH-1K/query
        args+=(--disable-keepalive)
        ;;
    *)
        check_exchange "$side" "$base" 1k
        url=$base/v1/exchange/BENCH-1K/query
        ;;
    esac
    local fields up
    fields=$(jq -cn --arg scenario "$scenario" --arg side "$side" --argjson round "$round" \
        '{scenario: $scenario, body: "1k", upstream: "nginx", load: "oha", connections: 32,
          side: $side, round: $round, name: "\($scenario) \($side) round \($round)"}')
    up=-
    [[ $upstream == - ]] || up=$UPSTREAM_PID
    measure "$scenario-$side-$round" "$fields" "$root" "$up" "$admin" oha "$url" ${args[@]+"${args[@]}"}
    [[ -n $gw ]] && trim_audit "$gw"
    return 0
}

# --- memory --------------------------------------------------------------------------------

# scenario_rss: $RSS_LICENCES distinct licences issued, loaded into the verdict cache of a fresh
# gateway through verify-batch; one batch of a sample spread over the set must be all cache hits;
# then the measured load: the verify-cached load (one of the licences, a hit every time).
# Records the gateway's resident set (VmHWM: its peak) and the cache's entries.
scenario_rss() {
    local dir=$WORK/rss n=$RSS_LICENCES per longest url status file valid entries
    mkdir -p -- "$dir"
    note "rss: issuing $n licences (tongban licence issue --count)"
    (cd -- "$WORK" && "$TONGBAN" licence issue --cert "$PKI/signers/420100-MARKET_REG.pem" \
        --key "$PKI/signers/420100-MARKET_REG.key" --type BUSINESS_LICENCE --serial RSS \
        --count "$n" --holder-name 湖北示例科技有限公司 --holder-id 91420100MA4K12345K \
        --holder-id-type USCC) >"$dir/licences.txt" 2>"$dir/issue.log" ||
        die "tongban licence issue failed: $(cat -- "$dir/issue.log")"
    # as many licences per batch as fit the default body limit (1 MiB), at most 1000 (contract)
    longest=$(awk '{ if (length($0) > m) m = length($0) } END { print m + 0 }' "$dir/licences.txt")
    per=$(((1048576 - 2) / (longest + 3)))
    ((per > 1000)) && per=1000
    awk -v per="$per" -v dir="$dir" '
        (NR - 1) % per == 0 {
            if (f != "") { print "]" > f; close(f) }
            f = sprintf("%s/batch-%05d.json", dir, (NR - 1) / per)
            printf "[\"%s\"", $0 > f
            next
        }
        { printf ",\"%s\"", $0 > f }
        END { if (f != "") print "]" > f }' "$dir/licences.txt"
    # the sample checked after loading: one batch spread over the whole set
    awk -v step=$(((n + per - 1) / per)) 'NR % step == 1 || step == 1' "$dir/licences.txt" |
        jq -Rsc 'split("\n") | map(select(length > 0))' >"$dir/sample.json"
    # the licence of the measured load: one from the middle of the set
    printf '%s' "$(sed -n "$(((n + 1) / 2))p" "$dir/licences.txt")" >"$dir/one.jws"

    start_gateway rss 10 "$CACHE_ENTRIES" nginx auto
    url=${GW_URL[rss]}$BATCH_PATH
    local rss_start
    rss_start=$(memory_kib "${GW_PID[rss]}" VmRSS)
    note "rss: loading $n verdicts into the cache ($per licences per verify-batch request)"
    local -a jobs=()
    for file in "$dir"/batch-*.json; do
        curl -sS --max-time 300 "${CLIENT_TLS[@]}" -H 'Content-Type: application/json' \
            --data-binary "@$file" -o "$file.out" -w '%{http_code}\n' "$url" >"$file.status" &
        jobs+=($!)
        if ((${#jobs[@]} >= NPROC)); then
            wait "${jobs[0]}" || die "rss: a verify-batch request failed (curl)"
            jobs=("${jobs[@]:1}")
        fi
    done
    for file in "${jobs[@]}"; do wait "$file" || die "rss: a verify-batch request failed (curl)"; done
    status=$(cat -- "$dir"/batch-*.json.status | sort -u | paste -sd ' ')
    [[ $status == 200 ]] || die "rss: verify-batch answered $status"
    valid=$(cat -- "$dir"/batch-*.json.out | grep -o '"valid":true' | wc -l)
    [[ $valid == "$n" ]] || die "rss: $valid of $n licences verified as valid"
    local rss_loaded hwm_loaded
    rss_loaded=$(memory_kib "${GW_PID[rss]}" VmRSS)
    hwm_loaded=$(memory_kib "${GW_PID[rss]}" VmHWM)

    local hits0 misses0 hits misses sample
    sample=$(jq length "$dir/sample.json")
    hits0=$(metric "${GW_ADMIN[rss]}" tongban_licence_cache_hits_total)
    misses0=$(metric "${GW_ADMIN[rss]}" tongban_licence_cache_misses_total)
    status=$(request rss "$CLIENT" "$url" -H 'Content-Type: application/json' --data-binary "@$dir/sample.json")
    [[ $status == 200 ]] || die "rss: the sample batch answered $status"
    hits=$(jq -n "$(metric "${GW_ADMIN[rss]}" tongban_licence_cache_hits_total) - $hits0")
    misses=$(jq -n "$(metric "${GW_ADMIN[rss]}" tongban_licence_cache_misses_total) - $misses0")
    [[ $hits == "$sample" && $misses == 0 ]] ||
        die "rss: of $sample loaded licences spread over the set, $hits were cache hits and $misses misses"
    note "rss: a sample of $sample licences spread over the set: all cache hits"
    LICENCE=$dir/one.jws check_verify rss "${GW_URL[rss]}"
    CONNECTIONS_NOW=32
    local fields
    fields='{"scenario": "rss", "body": "-", "upstream": "-", "load": "oha", "connections": 32, "side": "tongban", "round": 1, "name": "rss tongban"}'
    measure rss "$fields" "${GW_PID[rss]}" - "${GW_ADMIN[rss]}" oha "${GW_URL[rss]}$VERIFY_PATH" \
        -m POST -T application/jose -D "$dir/one.jws"
    entries=$(metric "${GW_ADMIN[rss]}" tongban_licence_cache_entries)
    jq -cn --argjson licences "$n" --argjson per "$per" --argjson longest "$longest" \
        --argjson sample "$sample" --argjson entries "$entries" \
        --argjson rss_start "$rss_start" --argjson rss_loaded "$rss_loaded" \
        --argjson hwm_loaded "$hwm_loaded" \
        --argjson rss_end "$(memory_kib "${GW_PID[rss]}" VmRSS)" \
        --argjson hwm "$(memory_kib "${GW_PID[rss]}" VmHWM)" \
        --argjson misses "$(metric "${GW_ADMIN[rss]}" tongban_licence_cache_misses_total)" '
        {type: "memory", scenario: "rss", side: "tongban", licences: $licences,
         licence_bytes: $longest, batch_size: $per, sample_size: $sample,
         cache_entries_gauge: $entries, cache_misses_total: $misses,
         vm_rss_kib_at_start: $rss_start, vm_rss_kib_loaded: $rss_loaded,
         vm_hwm_kib_loaded: $hwm_loaded, vm_rss_kib_end: $rss_end, vm_hwm_kib: $hwm}' >>"$RESULTS"
    note "rss: VmHWM $(($(memory_kib "${GW_PID[rss]}" VmHWM) / 1024)) MiB with $n licences loaded (cache entries gauge: $entries)"
    stop_gateway rss
    rm -rf -- "$dir"
}
