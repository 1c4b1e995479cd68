# shellcheck shell=bash
# benches/compare: the JSON results file and the printed tables. Sourced by benches/compare.

# write_report: per scenario and side, the median and spread (min, max) over the rounds; per
# exchange cell, the faster nginx and the faster tongban by median req/s and their same-round
# ratios; the targets; all of it as JSON in $OUT, and printed.
write_report() {
    local machine versions settings commit
    commit=$(git -C "$REPO" describe --always --dirty 2>/dev/null || echo unknown)
    machine=$(jq -n --arg nproc "$NPROC" --arg cpu "$CPU_MODEL" --arg kernel "$(uname -sr)" \
        '{nproc: ($nproc | tonumber), cpu_model: $cpu, kernel: $kernel}')
    versions=$(jq -n --arg tongban "$commit" --arg rustc "$(rustc -V 2>/dev/null || echo unknown)" \
        --arg nginx "$NGINX_VERSION" --arg nginx_ssl "$NGINX_OPENSSL" --arg oha "$OHA_VERSION_SEEN" \
        --arg wrk "${WRK_VERSION:-unknown}" \
        '{tongban: $tongban, rustc: $rustc, nginx: $nginx, nginx_built_with: $nginx_ssl, oha: $oha, wrk: $wrk}')
    settings=$(jq -n --argjson duration "$DURATION" --argjson warmup "$WARMUP" \
        --argjson rounds "$ROUNDS" --arg log "$LOG_LEVEL" --arg client "$CLIENT" \
        --arg licence "$LICENCE_REL" --argjson nproc "$NPROC" --argjson probe_ms "$PROBE_MS" \
        --arg resumption "$RESUMPTION_CHECK" --arg bodies "$BODIES_WANTED" \
        --arg upstreams "$UPSTREAMS_WANTED" --arg loads "$LOADS_WANTED" \
        --arg connections "$CONNECTIONS_WANTED" --arg sides "$SIDES_WANTED" '
        {duration_s: $duration, warmup_s: $warmup, rounds: $rounds, request_log: $log,
         client: $client, licence: $licence, cpus: $nproc, probe_ms: $probe_ms,
         bodies: $bodies, upstreams: $upstreams, loads: $loads, connections: $connections,
         sides: $sides,
         tls: "TLS 1.3, ECDSA P-256 server key, client certificate verified, no session resumption on either side",
         resumption: $resumption,
         transport: "HTTP/1.1 keep-alive (handshake: a new connection per request)"}')
    mkdir -p -- "$(dirname -- "$OUT")"
    jq -s --argjson machine "$machine" --argjson versions "$versions" --argjson settings "$settings" \
        --arg date "$(date -u +%Y-%m-%dT%H:%M:%SZ)" '
        def median: sort | if length == 0 then null
            elif length % 2 == 1 then .[(length - 1) / 2]
            else (.[length / 2 - 1] + .[length / 2]) / 2 end;
        def spread(f): map(f) | map(select(. != null))
            | {median: median, min: (min // null), max: (max // null)};
        def ratio(a; b): if a == null or b == null or b == 0 then null else a / b end;
        [.[] | select(.type == "run")] as $runs
        | ([.[] | select(.type == "memory")] | first) as $memory
        | ($runs | group_by([.scenario, .body, .upstream, .load, .connections, .side]) | map({
              scenario: .[0].scenario, body: .[0].body, upstream: .[0].upstream,
              load: .[0].load, connections: .[0].connections, side: .[0].side,
              rounds: length,
              requests_per_sec: spread(.requests_per_sec), p50_ms: spread(.p50_ms),
              p99_ms: spread(.p99_ms), cpu_us_per_request: spread(.cpu_us_per_request),
              user_us_per_request: spread(.user_us_per_request),
              system_us_per_request: spread(.system_us_per_request),
              upstream_cpu_us_per_request: spread(.upstream_cpu_us_per_request),
              probe_us: spread(.probe_us),
              other_cpu_cores_max: (map(.other_cpu_cores) | max),
              failed: (map(.non_2xx + .errors) | add)})) as $summary
        # exchange cells: the faster side of each kind by median req/s, and same-round ratios
        | ($summary | map(select(.scenario == "exchange"))
           | group_by([.body, .upstream, .load, .connections]) | map(
              . as $sides
              | (map(select(.side | startswith("nginx"))) | max_by(.requests_per_sec.median)) as $n
              | (map(select(.side | startswith("tongban"))) | max_by(.requests_per_sec.median)) as $t
              | select($n != null and $t != null)
              | [$runs[] | select(.scenario == "exchange" and .body == $n.body and .upstream == $n.upstream
                                  and .load == $n.load and .connections == $n.connections)] as $cell
              | [range(1; ($cell | map(.round) | max) + 1) as $r
                 | (first($cell[] | select(.round == $r and .side == $n.side)) // null) as $nr
                 | (first($cell[] | select(.round == $r and .side == $t.side)) // null) as $tr
                 | select($nr != null and $tr != null)
                 | {round: $r, probe_us: (($nr.probe_us + $tr.probe_us) / 2),
                    rps: ratio($tr.requests_per_sec; $nr.requests_per_sec),
                    cpu: ratio($tr.cpu_us_per_request; $nr.cpu_us_per_request),
                    p99: ratio($tr.p99_ms; $nr.p99_ms)}] as $per_round
              | {body: $n.body, upstream: $n.upstream, load: $n.load, connections: $n.connections,
                 nginx: {side: $n.side, requests_per_sec: $n.requests_per_sec,
                         cpu_us_per_request: $n.cpu_us_per_request, p99_ms: $n.p99_ms},
                 tongban: {side: $t.side, requests_per_sec: $t.requests_per_sec,
                           cpu_us_per_request: $t.cpu_us_per_request, p99_ms: $t.p99_ms},
                 ratios: {requests_per_sec: ($per_round | spread(.rps)),
                          cpu_us_per_request: ($per_round | spread(.cpu)),
                          p99_ms: ($per_round | spread(.p99))},
                 per_round: $per_round})) as $cells
        | def cell(b; u; l; c): first($cells[] | select(.body == b and .upstream == u and .load == l and .connections == c)) // null;
          def s(sc; sd): first($summary[] | select(.scenario == sc and .side == sd)) // null;
          def verdict(goal; limit): if .ratio == null then "n/a"
              elif (goal == ">=" and .ratio >= limit) or (goal == "<=" and .ratio <= limit) then "PASS"
              else "MISS" end;
          def target(name; value; goal; limit; spread_):
            {target: name, ratio: value, spread: spread_, goal: goal, limit: limit}
            | .result = verdict(goal; limit);
          ( [ $cells[] | select(.body == "1k") | . as $c
              | "exchange 1k, \(.upstream) upstream, \(.load), \(.connections) conns" as $n
              | target("\($n): req/s vs nginx"; $c.ratios.requests_per_sec.median; ">="; 1.0; $c.ratios.requests_per_sec),
                target("\($n): CPU/request vs nginx"; $c.ratios.cpu_us_per_request.median; "<="; 1.0; $c.ratios.cpu_us_per_request),
                target("\($n): p99 vs nginx"; $c.ratios.p99_ms.median; "<="; 1.0; $c.ratios.p99_ms) ]
            + [ $cells[] | select(.body == "16k") | . as $c
              | target("exchange 16k, \(.upstream) upstream, \(.load), \(.connections) conns: CPU/request vs nginx";
                       $c.ratios.cpu_us_per_request.median; "<="; 1.5; $c.ratios.cpu_us_per_request) ]
            + [ (cell("1k"; "nginx"; "oha"; 32)) as $c
              | (first($summary[] | select(.scenario == "exchange" and .body == "1k" and .upstream == "nginx"
                                           and .load == "oha" and .connections == 32 and .side == "tongban-auto")) // null) as $t10
              | (s("exchange-1062"; "tongban")) as $t1062
              | (s("verify-cached"; "tongban")) as $vc
              | (s("verify-uncached"; "tongban")) as $vu
              | (s("handshake"; "tongban")) as $ht | (s("handshake"; "nginx")) as $hn
              | target("exchange CPU/request, 1,062 items vs 10 (tongban-auto, 1k, oha, 32)";
                       ratio($t1062.cpu_us_per_request.median; $t10.cpu_us_per_request.median); "<="; 1.1; null),
                target("verify cached req/s vs nginx 1k exchange req/s (oha, 32)";
                       ratio($vc.requests_per_sec.median; $c.nginx.requests_per_sec.median); ">="; 1.0; null),
                target("verify uncached CPU/request vs the CPU probe (raw ring ES256)";
                       ratio($vu.cpu_us_per_request.median; $vu.probe_us.median); "<="; 1.5; null),
                target("full mTLS handshake CPU vs nginx (auto workers each)";
                       ratio($ht.cpu_us_per_request.median; $hn.cpu_us_per_request.median); "<="; 0.5; null),
                target("peak RSS with \(if $memory == null then "the" else $memory.licences end) cached verdicts vs 64 MiB";
                       (if $memory == null then null else $memory.vm_hwm_kib / 1024 / 64 end); "<="; 1.0; null) ]
          ) as $targets
        | ($runs | map(.probe_us)) as $probes
        | {date: $date, machine: $machine, versions: $versions, settings: $settings,
           probe: {median_us: ($probes | median), min_us: ($probes | min), max_us: ($probes | max),
                   by_round: ($runs | group_by(.round) | map({round: .[0].round, median_us: (map(.probe_us) | median)}))},
           cells: $cells, summary: $summary, targets: $targets, memory: $memory, runs: $runs}' \
        "$RESULTS" >"$OUT.tmp" || die "cannot summarise $RESULTS"
    mv -f -- "$OUT.tmp" "$OUT"
    print_report
    note "results written to $OUT"
}

# print_report: the tables of $OUT.
print_report() {
    printf '\n%s\n' "$(jq -r '"tongban \(.versions.tongban) vs nginx \(.versions.nginx) (\(.versions.nginx_built_with)); wrk \(.versions.wrk), oha \(.versions.oha); \(.date)"' "$OUT")"
    printf '%s\n' "$(jq -r '"machine: \(.machine.nproc) CPUs, \(.machine.cpu_model), \(.machine.kernel); load generator, proxies and upstream share them"' "$OUT")"
    printf '%s\n' "$(jq -r '.settings | "\(.warmup_s) s warm-up + \(.duration_s) s measured per run, \(.rounds) round(s), sides alternating; tongban request log: \(.request_log); nginx access log off"' "$OUT")"
    printf '%s\n' "$(jq -r '.probe | "CPU probe (one raw ring ES256 verification): median \(.median_us) µs, \(.min_us)–\(.max_us) µs over the runs; by round: \([.by_round[] | "\(.round): \(.median_us)"] | join(", "))"' "$OUT")"

    printf '\n%s\n' "exchange: the faster nginx and the faster tongban of each cell by median req/s; ratios tongban / nginx per round: median [min–max]"
    printf '%-5s %-6s %-4s %5s | %-10s %8s %6s | %-12s %8s %6s | %-18s %-18s %-18s\n' \
        body up load conns nginx req/s 'CPU µs' tongban req/s 'CPU µs' 'req/s ratio' 'CPU ratio' 'p99 ratio'
    jq -r '.cells | sort_by(({"tiny": 0, "1k": 1, "16k": 2}[.body]), .upstream, .load, .connections)[]
        | def r(n): if . == null then "n/a" else (. * n | round / n) end;
          def sp: "\(.median | r(100)) [\(.min | r(100))–\(.max | r(100))]";
          [.body, .upstream, .load, .connections, .nginx.side, (.nginx.requests_per_sec.median | round),
           (.nginx.cpu_us_per_request.median | r(10)), .tongban.side, (.tongban.requests_per_sec.median | round),
           (.tongban.cpu_us_per_request.median | r(10)), (.ratios.requests_per_sec | sp),
           (.ratios.cpu_us_per_request | sp), (.ratios.p99_ms | sp)] | @tsv' "$OUT" |
        while IFS=$'\t' read -r -a row; do
            printf '%-5s %-6s %-4s %5s | %-10s %8s %6s | %-12s %8s %6s | %-18s %-18s %-18s\n' "${row[@]}"
        done

    printf '\n%s\n' "every side: median [min–max] over the rounds"
    printf '%-16s %-5s %-6s %-4s %5s %-12s %-24s %-20s %-20s %8s %6s %6s\n' \
        scenario body up load conns side 'req/s' 'p99 ms' 'CPU µs/req (user)' 'upstr µs' other failed
    jq -r '.summary | sort_by(({"exchange": 0, "exchange-1062": 1, "verify-cached": 2, "verify-uncached": 3,
                               "handshake": 4, "direct-upstream": 5, "rss": 6}[.scenario] // 9),
                              ({"tiny": 0, "1k": 1, "16k": 2}[.body] // 3), .upstream, .load, .connections, .side)[]
        | def r(n): if . == null then "n/a" else (. * n | round / n) end;
          [.scenario, .body, .upstream, .load, .connections, .side,
           "\(.requests_per_sec.median | r(1) | if type == "number" then round else . end) [\(.requests_per_sec.min | r(1) | if type == "number" then round else . end)–\(.requests_per_sec.max | r(1) | if type == "number" then round else . end)]",
           "\(.p99_ms.median | r(100)) [\(.p99_ms.min | r(100))–\(.p99_ms.max | r(100))]",
           "\(.cpu_us_per_request.median | r(10)) (\(.user_us_per_request.median | r(10)))",
           (.upstream_cpu_us_per_request.median | r(10)), (.other_cpu_cores_max | r(100)), .failed] | @tsv' "$OUT" |
        while IFS=$'\t' read -r -a row; do
            printf '%-16s %-5s %-6s %-4s %5s %-12s %-24s %-20s %-20s %8s %6s %6s\n' "${row[@]}"
        done
    jq -r '.memory // empty | "rss: VmHWM \(.vm_hwm_kib / 1024 | . * 10 | round / 10) MiB (\(.vm_hwm_kib_loaded / 1024 | . * 10 | round / 10) MiB after loading, \(.vm_rss_kib_at_start / 1024 | . * 10 | round / 10) MiB at start) with \(.licences) licences of \(.licence_bytes) bytes loaded; cache entries gauge: \(.cache_entries_gauge // "not exported")"' "$OUT"

    printf '\n%-78s %7s %-14s %8s %s\n' target ratio spread goal result
    jq -r '.targets[] | def r: if . == null then "n/a" else (. * 100 | round / 100) end;
        [.target, (.ratio | r), (if .spread == null then "-" else "\(.spread.min | r)–\(.spread.max | r)" end),
         "\(.goal) \(.limit)", .result] | @tsv' "$OUT" |
        while IFS=$'\t' read -r -a row; do
            printf '%-78s %7s %-14s %8s %s\n' "${row[@]}"
        done
    printf '(ratios are tongban / reference, each from runs of the same round; req/s: more is better)\n'
}
