# shellcheck shell=bash
# benches/compare: the JSON results file and the printed tables. Sourced by benches/compare.

# write_report: medians per scenario and side over the rounds, the targets with their ratios,
# all of it as JSON in $OUT, and printed.
write_report() {
    local machine versions settings commit
    commit=$(git -C "$REPO" describe --always --dirty 2>/dev/null || echo unknown)
    machine=$(jq -n --arg nproc "$NPROC" --arg cpu "$CPU_MODEL" --arg kernel "$(uname -sr)" \
        '{nproc: ($nproc | tonumber), cpu_model: $cpu, kernel: $kernel}')
    versions=$(jq -n --arg tongban "$commit" --arg rustc "$(rustc -V 2>/dev/null || echo unknown)" \
        --arg nginx "$NGINX_VERSION" --arg nginx_ssl "$NGINX_OPENSSL" --arg oha "$OHA_VERSION_SEEN" \
        '{tongban: $tongban, rustc: $rustc, nginx: $nginx, nginx_built_with: $nginx_ssl, oha: $oha}')
    settings=$(jq -n --argjson duration "$DURATION" --argjson warmup "$WARMUP" \
        --argjson connections "$CONNECTIONS" --argjson rounds "$ROUNDS" --arg log "$LOG_LEVEL" \
        --arg client "$CLIENT" --arg licence "$LICENCE_REL" --arg item "$BENCH_ITEM" \
        --argjson nproc "$NPROC" --argjson raw "${RAW_VERIFY_US:-null}" \
        --arg raw_source "${RAW_VERIFY_SOURCE:-not measured}" --arg resumption "$RESUMPTION_CHECK" '
        {duration_s: $duration, warmup_s: $warmup, connections: $connections, rounds: $rounds,
         request_log: $log, client: $client, licence: $licence, exchange_item: $item,
         nginx_worker_processes: $nproc, tongban_runtime_workers: $nproc,
         tls: "TLS 1.3, ECDSA P-256 server key, client certificate verified, no session resumption on either side",
         resumption: $resumption,
         transport: "HTTP/1.1 keep-alive (handshake: a new connection per request)",
         raw_ring_es256_us: $raw, raw_ring_es256_source: $raw_source}')
    mkdir -p -- "$(dirname -- "$OUT")"
    jq -s --argjson machine "$machine" --argjson versions "$versions" --argjson settings "$settings" \
        --arg date "$(date -u +%Y-%m-%dT%H:%M:%SZ)" '
        def median: sort | if length == 0 then null
            elif length % 2 == 1 then .[(length - 1) / 2]
            else (.[length / 2 - 1] + .[length / 2]) / 2 end;
        def med(f): map(f) | map(select(. != null)) | median;
        [.[] | select(.type == "run")] as $runs
        | ([.[] | select(.type == "memory")] | first) as $memory
        | ($runs | group_by([.scenario, .side]) | map({
              scenario: .[0].scenario, side: .[0].side, rounds: length,
              requests_per_sec: med(.requests_per_sec), p50_ms: med(.p50_ms), p99_ms: med(.p99_ms),
              cpu_us_per_request: med(.cpu_us_per_request),
              upstream_cpu_us_per_request: med(.upstream_cpu_us_per_request),
              other_cpu_cores_max: (map(.other_cpu_cores) | max),
              failed: (map(.non_200 + .errors) | add)})) as $summary
        # what a full handshake adds to a keep-alive request of the same proxy
        | ([$summary[] | select(.scenario == "handshake") | . as $h
            | (first($summary[] | select(.scenario == "proxy" and .side == $h.side)) // null) as $k
            | select($k != null and $h.cpu_us_per_request != null and $k.cpu_us_per_request != null)
            | {side: .side, cpu_us: ($h.cpu_us_per_request - $k.cpu_us_per_request)}]) as $handshake_only
        | def s(sc; sd): first($summary[] | select(.scenario == sc and .side == sd)) // {};
          def target(name; a; b; goal; limit; unit):
            {target: name, tongban: a, reference: b, unit: unit, goal: goal, limit: limit,
             ratio: (if a == null or b == null or b == 0 then null else a / b end)}
            | .result = (if .ratio == null then "n/a"
                         elif (goal == ">=" and .ratio >= limit) or (goal == "<=" and .ratio <= limit) then "PASS"
                         else "MISS" end);
          [ target("exchange req/s vs nginx mTLS proxy";
                   s("proxy"; "tongban").requests_per_sec; s("proxy"; "nginx").requests_per_sec; ">="; 1.0; "req/s"),
            target("exchange p50 vs nginx";
                   s("proxy"; "tongban").p50_ms; s("proxy"; "nginx").p50_ms; "<="; 1.0; "ms"),
            target("exchange CPU/request vs nginx";
                   s("proxy"; "tongban").cpu_us_per_request; s("proxy"; "nginx").cpu_us_per_request; "<="; 1.0; "us"),
            target("exchange CPU/request, 1,062 items vs 10 items";
                   s("exchange-1062"; "tongban").cpu_us_per_request; s("proxy"; "tongban").cpu_us_per_request; "<="; 1.1; "us"),
            target("verify cached req/s vs nginx proxy req/s";
                   s("verify-cached"; "tongban").requests_per_sec; s("proxy"; "nginx").requests_per_sec; ">="; 1.0; "req/s"),
            target("verify uncached CPU/request vs raw ring ES256";
                   s("verify-uncached"; "tongban").cpu_us_per_request; $settings.raw_ring_es256_us; "<="; 1.5; "us"),
            target("full mTLS handshake CPU vs nginx";
                   s("handshake"; "tongban").cpu_us_per_request; s("handshake"; "nginx").cpu_us_per_request; "<="; 0.5; "us"),
            target("peak RSS, 100,000 cached verdicts, vs 64 MiB";
                   (if $memory == null then null else $memory.vm_hwm_kib / 1024 end); 64; "<="; 1.0; "MiB")
          ] as $targets
        | {date: $date, machine: $machine, versions: $versions, settings: $settings,
           summary: $summary, handshake_only: $handshake_only, targets: $targets, memory: $memory,
           runs: $runs}' \
        "$RESULTS" >"$OUT.tmp" || die "cannot summarise $RESULTS"
    mv -f -- "$OUT.tmp" "$OUT"
    print_report
    note "results written to $OUT"
}

# print_report: the tables of $OUT.
print_report() {
    printf '\n%s\n' "$(jq -r '"tongban \(.versions.tongban) vs nginx \(.versions.nginx) (\(.versions.nginx_built_with)); oha \(.versions.oha); \(.date)"' "$OUT")"
    printf '%s\n' "$(jq -r '"machine: \(.machine.nproc) CPUs, \(.machine.cpu_model), \(.machine.kernel); load generator, proxies and upstream share them"' "$OUT")"
    printf '%s\n' "$(jq -r '.settings | "\(.connections) connections, \(.warmup_s) s warm-up + \(.duration_s) s measured per run, rounds: \(.rounds) (alternating; medians shown); nginx worker_processes \(.nginx_worker_processes), tongban \(.tongban_runtime_workers) runtime workers; request logs: \(.request_log)"' "$OUT")"
    printf '%s\n' "$(jq -r '.settings | "\(.tls); resumption \(.resumption)"' "$OUT")"
    printf '%s\n' "$(jq -r '.settings | "raw ring ES256 verification: \(.raw_ring_es256_us // "n/a" | if type == "number" then . * 10 | round / 10 else . end) us (\(.raw_ring_es256_source))"' "$OUT")"

    printf '\n%-16s %-8s %6s %9s %8s %8s %11s %11s %6s %7s\n' \
        scenario side rounds req/s 'p50 ms' 'p99 ms' 'CPU us/req' 'upstr us/r' other failed
    jq -r '.summary | sort_by(({"proxy": 0, "exchange-1062": 1, "verify-cached": 2, "verify-uncached": 3,
                               "handshake": 4, "direct-upstream": 5, "rss": 6}[.scenario] // 9), .side)[]
        | def r(n): if . == null then "n/a" else (. * n | round / n) end;
          [.scenario, .side, .rounds, (.requests_per_sec | r(1) | if type == "number" then round else . end),
           (.p50_ms | r(100)), (.p99_ms | r(100)), (.cpu_us_per_request | r(10)),
           (.upstream_cpu_us_per_request | r(10)), (.other_cpu_cores_max | r(100)), .failed] | @tsv' "$OUT" |
        while IFS=$'\t' read -r -a row; do
            printf '%-16s %-8s %6s %9s %8s %8s %11s %11s %6s %7s\n' "${row[@]}"
        done
    jq -r '.handshake_only[] | "handshake: \(.side) spends \(.cpu_us | round) us of CPU per handshake beyond a keep-alive request"' "$OUT"
    jq -r '.memory // empty | "rss: VmHWM \(.vm_hwm_kib / 1024 | . * 10 | round / 10) MiB (\(.vm_hwm_kib_loaded / 1024 | . * 10 | round / 10) MiB after loading, \(.vm_rss_kib_at_start / 1024 | . * 10 | round / 10) MiB at start) with \(.licences) licences of \(.licence_bytes) bytes loaded; cache entries gauge: \(.cache_entries_gauge // "not exported")"' "$OUT"

    printf '\n%-50s %11s %11s %7s %8s %s\n' target tongban reference ratio goal result
    jq -r '.targets[] | def r: if . == null then "n/a" elif . >= 100 then round else (. * 100 | round / 100) end;
        [.target, (.tongban | r), (.reference | r), (.ratio | r), "\(.goal) \(.limit)", .result] | @tsv' "$OUT" |
        while IFS=$'\t' read -r -a row; do
            printf '%-50s %11s %11s %7s %8s %s\n' "${row[@]}"
        done
    printf '(req/s and latency: more is better for req/s, less for the rest; ratios are tongban / reference)\n'
}
