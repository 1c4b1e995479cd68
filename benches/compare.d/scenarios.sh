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

# measure SCENARIO SIDE ROUND ROOT_PID ADMIN URL [OHA_ARGS...]: a warm-up run, then the
# measured run. Before and after it, from /proc: the CPU time of the proxy (ROOT_PID and its
# children: nginx's master and workers, or tongban's one process), of the upstream, of this
# shell's children (oha) and of the whole machine; and, when ADMIN is not "-", the gateway's
# verdict cache counters. Appends one JSON object to $RESULTS.
measure() {
    local scenario=$1 side=$2 round=$3 root=$4 admin=$5 url=$6
    shift 6
    local tag=$scenario-$side-$round
    local file=$WORK/oha/$tag.json hits0=null hits1=null misses0=null misses1=null
    local oha=("$OHA" --no-tui -c "$CONNECTIONS" --wait-ongoing-requests-after-deadline "$@")
    local -a pids upids
    "${oha[@]}" -z "${WARMUP}s" --output-format json -o "$WORK/oha/$tag-warmup.json" "$url" ||
        die "$tag: oha failed during the warm-up"
    mapfile -t pids < <(tree_pids "$root")
    mapfile -t upids < <(tree_pids "$UPSTREAM_PID")
    if [[ $admin != - ]]; then
        hits0=$(metric "$admin" tongban_licence_cache_hits_total)
        misses0=$(metric "$admin" tongban_licence_cache_misses_total)
    fi
    local cpu0 up0 machine0 children0 cpu1 up1 machine1 children1
    cpu0=$(cpu_ticks "${pids[@]}")
    up0=$(cpu_ticks "${upids[@]}")
    children0=$(children_ticks)
    machine0=$(machine_busy_ticks)
    "${oha[@]}" -z "${DURATION}s" --output-format json -o "$file" "$url" || die "$tag: oha failed"
    machine1=$(machine_busy_ticks)
    children1=$(children_ticks)
    cpu1=$(cpu_ticks "${pids[@]}")
    up1=$(cpu_ticks "${upids[@]}")
    if [[ $admin != - ]]; then
        hits1=$(metric "$admin" tongban_licence_cache_hits_total)
        misses1=$(metric "$admin" tongban_licence_cache_misses_total)
    fi
    jq -c --arg scenario "$scenario" --arg side "$side" --argjson round "$round" \
        --argjson hz "$CLK_TCK" --argjson processes "${#pids[@]}" \
        --argjson cpu "$((cpu1 - cpu0))" --argjson upstream "$((up1 - up0))" \
        --argjson machine "$((machine1 - machine0))" --argjson children "$((children1 - children0))" \
        --argjson hits0 "$hits0" --argjson hits1 "$hits1" \
        --argjson misses0 "$misses0" --argjson misses1 "$misses1" '
        def delta(a; b): if a == null or b == null then null else b - a end;
        ([.statusCodeDistribution[]] | add // 0) as $responses
        | ([.statusCodeDistribution | to_entries[] | select(.key != "200") | .value] | add // 0) as $non200
        | ([.errorDistribution[]] | add // 0) as $errors
        | {
            type: "run", scenario: $scenario, side: $side, round: $round,
            responses: $responses, non_200: $non200, errors: $errors,
            status_codes: .statusCodeDistribution, error_kinds: .errorDistribution,
            seconds: .summary.total,
            requests_per_sec: .summary.requestsPerSec,
            p50_ms: (.latencyPercentiles.p50 * 1000),
            p99_ms: (.latencyPercentiles.p99 * 1000),
            proxy_processes: $processes,
            cpu_seconds: ($cpu / $hz),
            cpu_us_per_request: (if $responses == 0 then null else $cpu / $hz / $responses * 1e6 end),
            cpu_cores_busy: ($cpu / $hz / .summary.total),
            upstream_cpu_us_per_request:
              (if $responses == 0 then null else $upstream / $hz / $responses * 1e6 end),
            cache_hits: delta($hits0; $hits1),
            cache_misses: delta($misses0; $misses1),
            load_generator_cpu_seconds: ($children / $hz),
            # busy CPU of everything else on the machine: noise in the figures above
            other_cpu_cores: ((($machine - $children - $cpu - $upstream) / $hz / .summary.total)
                              | if . < 0 then 0 else . end)
          }' "$file" >>"$RESULTS" || die "$tag: cannot read oha's output $file"
    local last
    last=$(tail -n 1 -- "$RESULTS")
    note "$(jq -r '"\(.scenario) \(.side) round \(.round): \(.requests_per_sec | round) req/s, p50 \(.p50_ms * 100 | round / 100) ms, p99 \(.p99_ms * 100 | round / 100) ms, \(.cpu_us_per_request * 10 | round / 10) µs CPU/request"' <<<"$last")"
    if jq -e '.other_cpu_cores > 0.2' <<<"$last" >/dev/null; then
        note "$tag: WARNING: other processes kept $(jq '.other_cpu_cores * 100 | round / 100' <<<"$last") CPUs busy during the run; the figures are noisy"
    fi
    if [[ $(jq '.non_200 + .errors' <<<"$last") != 0 ]]; then
        note "$tag: WARNING: not every request got 200: $(jq -c '{status_codes, error_kinds}' <<<"$last")"
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

# check_exchange SIDE BASE_URL: the demo caller gets 200 and the data: as the upstream sent it
# through nginx; filtered and masked through tongban.
check_exchange() {
    local side=$1 url=$2$EXCHANGE_PATH status
    status=$(request "$side exchange" "$CLIENT" "$url" -H "X-Purpose: $PURPOSE")
    [[ $status == 200 ]] || die "$side: GET $url answered $status: $(head -c 500 -- "$WORK/check.body")"
    case $side in
    nginx)
        [[ $(<"$WORK/check.body") == "$UPSTREAM_JSON" ]] ||
            die "nginx: GET $url did not answer the upstream's body: $(head -c 500 -- "$WORK/check.body")"
        ;;
    *)
        jq -e '.record.no == "GS-2026-000123" and (.holder.name | startswith("张") and . != "张三丰")
               and (.holder.id_number | endswith("1234") and contains("*"))
               and .holder.address == null and .internal == null and .record.authority == null
               and (.details | length == 3) and .details[0].note == null' \
            "$WORK/check.body" >/dev/null ||
            die "$side: GET $url is not filtered and masked as the bench item says: $(head -c 500 -- "$WORK/check.body")"
        ;;
    esac
}

# check_refusals SIDE BASE_URL: what both proxies refuse, with the same statuses.
check_refusals() {
    local side=$1 base=$2 url=$2$EXCHANGE_PATH status other_dept other_city got=()
    other_dept=${CLIENT%%-*}-TAX
    other_city=420200-${CLIENT#*-}
    status=$(request "$side" "$CLIENT" "$url")
    got+=("no X-Purpose: $status")
    [[ $status == 400 ]] || die "$side: a request without X-Purpose got $status, not 400"
    status=$(request "$side" "$CLIENT" "$url" -H "X-Purpose: OTHER_PURPOSE")
    got+=("other purpose: $status")
    [[ $status == 403 ]] || die "$side: another purpose got $status, not 403"
    status=$(request "$side" "$other_dept" "$url" -H "X-Purpose: $PURPOSE")
    got+=("$other_dept: $status")
    [[ $status == 403 ]] || die "$side: caller $other_dept got $status, not 403"
    status=$(request "$side" "$other_city" "$url" -H "X-Purpose: $PURPOSE")
    got+=("$other_city: $status")
    [[ $status == 403 ]] || die "$side: caller $other_city got $status, not 403"
    status=$(request "$side" "$CLIENT" "$base/v1/exchange/NO-SUCH-ITEM/query" -H "X-Purpose: $PURPOSE")
    got+=("unknown item: $status")
    [[ $status == 404 ]] || die "$side: an unknown item got $status, not 404"
    local list
    list=$(printf '%s, ' "${got[@]}")
    note "$side refuses as it should: ${list%, }"
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

# --- scenarios -----------------------------------------------------------------------------

# run SCENARIO SIDE ROUND: one check request, then `measure`.
run() {
    local scenario=$1 side=$2 round=$3 gw base root admin
    local -a args=()
    case $scenario-$side in
    proxy-nginx | handshake-nginx) base=$NGINX_URL root=$NGINX_PID admin=- ;;
    proxy-tongban | handshake-tongban | verify-cached-tongban) gw=items-10 ;;
    exchange-1062-tongban) gw=items-1062 ;;
    verify-uncached-tongban) gw=uncached ;;
    direct-upstream-upstream) base=http://127.0.0.1:$UPSTREAM_PORT root=$UPSTREAM_PID admin=- ;;
    *) die "no run $scenario $side" ;;
    esac
    if [[ -n ${gw:-} ]]; then
        base=${GW_URL[$gw]} root=${GW_PID[$gw]} admin=${GW_ADMIN[$gw]}
    fi
    case $scenario in
    direct-upstream)
        curl -fsS --max-time 10 -o /dev/null "$base/query" || die "the upstream does not answer"
        measure "$scenario" "$side" "$round" "$root" "$admin" "$base/query"
        ;;
    verify-*)
        check_verify "$scenario" "$base"
        measure "$scenario" "$side" "$round" "$root" "$admin" "$base$VERIFY_PATH" \
            -m POST -T application/jose -D "$LICENCE" "${CLIENT_TLS[@]}"
        ;;
    *)
        [[ $scenario == handshake ]] && args=(--disable-keepalive)
        check_exchange "$side" "$base"
        measure "$scenario" "$side" "$round" "$root" "$admin" "$base$EXCHANGE_PATH" \
            -H "X-Purpose: $PURPOSE" "${CLIENT_TLS[@]}" ${args[@]+"${args[@]}"}
        ;;
    esac
}

# scenario_rss: 100,000 (--rss-licences) distinct licences issued, loaded into the verdict cache
# of a fresh gateway through verify-batch; one batch of a sample spread over the set must be all
# cache hits; then the measured load: the verify-cached load (one of the licences, a hit every
# time). Records the gateway's resident set (VmHWM: its peak) and the cache's entries.
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

    start_gateway rss 10 "$CACHE_ENTRIES"
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
    measure rss tongban 1 "${GW_PID[rss]}" "${GW_ADMIN[rss]}" "${GW_URL[rss]}$VERIFY_PATH" \
        -m POST -T application/jose -D "$dir/one.jws" "${CLIENT_TLS[@]}"
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
}
