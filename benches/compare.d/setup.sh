# shellcheck shell=bash
# benches/compare: tools, the demo PKI, policy sets, and the processes under test (the trivial
# upstream, nginx as an mTLS proxy, tongban gateways). Sourced by benches/compare.

# --- tools ---------------------------------------------------------------------------------

build_tongban() {
    if ((BUILD)); then
        note "building tongban (release)"
        (cd -- "$REPO" && cargo build --release --locked --bin tongban)
    fi
    [[ -x $TONGBAN ]] || die "$TONGBAN is missing (drop --no-build)"
}

# ensure_oha: oha $OHA_VERSION in <target>/tools, installed with cargo when missing.
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
    for opt in --cert --key --cacert --output-format --no-tui --disable-keepalive; do
        grep -q -e "$opt" <<<"$help" || die "$OHA has no $opt option"
    done
    OHA_VERSION_SEEN=${version#oha }
}

# ensure_nginx: Debian's nginx package when `nginx` is missing and we are root (and
# --no-install was not given); otherwise an error that says what to install.
ensure_nginx() {
    NGINX=$(command -v nginx || true)
    if [[ -z $NGINX && -x /usr/sbin/nginx ]]; then NGINX=/usr/sbin/nginx; fi
    if [[ -z $NGINX ]]; then
        ((INSTALL)) || die "nginx is missing: install it (Debian: apt-get install nginx), or drop --no-install"
        [[ $(id -u) == 0 ]] ||
            die "nginx is missing and this is not root: run 'sudo apt-get install nginx' (Debian's package), then run this again"
        command -v apt-get >/dev/null || die "nginx is missing and there is no apt-get: install nginx by hand"
        note "installing Debian's nginx package (apt-get install nginx; on a systemd host this also enables the system's nginx service on port 80)"
        apt-get update -qq || die "apt-get update failed"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nginx ||
            die "apt-get install nginx failed"
        NGINX=$(command -v nginx || echo /usr/sbin/nginx)
        [[ -x $NGINX ]] || die "nginx still missing after apt-get install"
    fi
    NGINX_VERSION=$("$NGINX" -v 2>&1 | sed -n 's|^nginx version: nginx/||p')
    NGINX_OPENSSL=$("$NGINX" -V 2>&1 | sed -n 's/^built with //p' | head -n 1)
    [[ -n $NGINX_VERSION ]] || die "$NGINX -v says nothing like 'nginx version: nginx/…'"
    "$NGINX" -V 2>&1 | grep -q -e http_ssl_module || die "$NGINX is built without http_ssl_module"
}

# --- the demo PKI, licences and policy sets ------------------------------------------------

make_pki() {
    note "generating the demo PKI"
    # run where no ./policies exists: the PKI is made from the catalog built into the binary
    (cd -- "$WORK" && "$TONGBAN" pki demo --out "$WORK/pki") >"$WORK/pki.log" 2>&1 ||
        die "tongban pki demo failed: $(cat -- "$WORK/pki.log")"
    PKI=$WORK/pki
    CLIENT_TLS=(--cert "$PKI/clients/$CLIENT.pem" --key "$PKI/clients/$CLIENT.key"
        --cacert "$PKI/server/ca.pem")
    LICENCE=$PKI/$LICENCE_REL
    local f alg
    for f in "$PKI/clients/$CLIENT.pem" "$PKI/clients/$CLIENT.key" "$PKI/server/ca.pem" \
        "$PKI/server/server-chain.pem" "$PKI/server/server.key" "$LICENCE"; do
        [[ -r $f ]] || die "the demo PKI has no $f"
    done
    # the raw verification it is compared with is ring ES256
    alg=$(cut -d . -f 1 <"$LICENCE" | tr '_-' '/+' | base64 -d 2>/dev/null | jq -r .alg) || true
    [[ $alg == ES256 ]] || die "$LICENCE_REL is signed with '$alg', expected ES256"
    # nginx's ssl_client_certificate: every city's anchors, as tongban's TLS roots
    cat "$PKI"/trust/*/roots.pem >"$WORK/client-roots.pem"
}

# make_policies N: a policies directory with N synthetic items (`tongban policy generate`)
# plus the bench item; writes the `[upstreams.*]` its items need to $WORK/policies-N.toml.
make_policies() {
    local n=$1 dir=$WORK/policies-$1
    "$TONGBAN" policy generate --items "$n" --seed "$POLICY_SEED" --out "$dir" \
        --upstream-url "http://127.0.0.1:$UPSTREAM_PORT" >"$WORK/policies-$n.toml" \
        2>"$WORK/policies-$n.log" || die "tongban policy generate failed: $(cat -- "$WORK/policies-$n.log")"
    mkdir -p -- "$dir/items/bench"
    bench_item >"$dir/items/bench/bench.toml"
    printf '[upstreams.%s]\nurl = "http://127.0.0.1:%s"\n' "$BENCH_UPSTREAM" "$UPSTREAM_PORT" \
        >>"$WORK/policies-$n.toml"
    note "policies-$n: $(sed 's/^tongban: //' "$WORK/policies-$n.log") (+ $BENCH_ITEM)"
}

# The item every exchange request calls: the demo caller may call it for one purpose, sees 8 of
# the 12 fields of the upstream's answer with 3 masked, no rate limit, no licence required.
bench_item() {
    cat <<EOT
# benches/compare: the item of the exchange scenarios (answered by the trivial upstream)
[[item]]
id = "$BENCH_ITEM"
name = "一网通办 基准测试查询"
category = "政务服务"
provider = "420100/GOV_SERVICE"
upstream = "$BENCH_UPSTREAM"
methods = ["GET"]
fields = ["record.no", "record.status", "record.issue_date", "record.valid_until", "record.authority",
          "holder.name", "holder.id_number", "holder.phone", "holder.address",
          "details[].date", "details[].amount", "details[].note"]
legal_basis = "基准测试（benches/compare）"

[[item.permit]]
id = "bench-caller"
callers = ["${CLIENT%%-*}/${CLIENT#*-}"]
purposes = ["$PURPOSE"]
fields = ["record.no", "record.status", "record.issue_date", "holder.name", "holder.id_number",
          "holder.phone", "details[].date", "details[].amount"]
mask = { "holder.name" = "name", "holder.id_number" = "id_number", "holder.phone" = "phone" }
EOT
}

# --- the trivial upstream: a second nginx answering a fixed JSON ---------------------------

# The upstream's answer: the bench item's fields, some it removes (record.valid_until,
# record.authority, holder.address, details[].note, internal) and some it masks.
readonly UPSTREAM_JSON='{"record":{"no":"GS-2026-000123","status":"VALID","issue_date":"2025-03-01","valid_until":"2030-02-28","authority":"武汉市政务服务和大数据管理局","internal_ref":"X9-77"},"holder":{"name":"张三丰","id_number":"420106199001011234","phone":"13812345678","address":"武汉市江岸区沿江大道188号"},"details":[{"date":"2025-01-15","amount":"1200.00","note":"首次缴存"},{"date":"2025-02-15","amount":"1200.00","note":"按月缴存"},{"date":"2025-03-15","amount":"1250.00","note":"基数调整"}],"internal":{"operator":"op-0042","terminal":"T-7"}}'

UPSTREAM_PORT=
UPSTREAM_PID=

start_upstream() {
    local dir=$WORK/upstream
    UPSTREAM_PORT=$(free_port)
    mkdir -p -- "$dir/tmp"
    cat >"$dir/nginx.conf" <<EOT
# benches/compare: the trivial upstream of both proxies (not counted as proxy CPU)
worker_processes 1;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    keepalive_requests 1000000;
    client_body_temp_path $dir/tmp/client_body;
    proxy_temp_path $dir/tmp/proxy;
    fastcgi_temp_path $dir/tmp/fastcgi;
    uwsgi_temp_path $dir/tmp/uwsgi;
    scgi_temp_path $dir/tmp/scgi;
    server {
        listen 127.0.0.1:$UPSTREAM_PORT;
        location / {
            default_type application/json;
            return 200 '$UPSTREAM_JSON';
        }
    }
}
EOT
    start_nginx upstream "$dir" "$UPSTREAM_PORT"
    UPSTREAM_PID=$STARTED_NGINX
    local body
    body=$(curl -fsS --max-time 5 "http://127.0.0.1:$UPSTREAM_PORT/query") ||
        die "the upstream does not answer on 127.0.0.1:$UPSTREAM_PORT"
    [[ $body == "$UPSTREAM_JSON" ]] || die "the upstream answers '$body'"
    note "upstream: nginx pid $UPSTREAM_PID on 127.0.0.1:$UPSTREAM_PORT"
}

# start_nginx NAME DIR PORT: checks DIR/nginx.conf (nginx -t), starts a private nginx with it
# in the foreground of a background job (prefix DIR, error log in DIR), waits for PORT and for
# its workers. Sets STARTED_NGINX to the master's pid.
start_nginx() {
    local name=$1 dir=$2 port=$3 pid want i
    "$NGINX" -t -q -p "$dir" -c "$dir/nginx.conf" -e "$dir/error.log" >"$dir/test.log" 2>&1 ||
        die "nginx $name: bad configuration: $(cat -- "$dir/test.log")"
    "$NGINX" -p "$dir" -c "$dir/nginx.conf" -e "$dir/error.log" -g 'daemon off;' \
        >"$dir/stderr.log" 2>&1 &
    pid=$!
    STARTED_PIDS+=("$pid")
    wait_port "$port" "$pid" "nginx $name (see $dir/error.log)"
    want=$(sed -n 's/^worker_processes \([0-9]*\);/\1/p' "$dir/nginx.conf")
    for ((i = 0; i < 50; i++)); do
        [[ $(children_of "$pid" | wc -l) -ge $want ]] && break
        sleep 0.1
    done
    STARTED_NGINX=$pid
}

# --- nginx as the mTLS reverse proxy -------------------------------------------------------

NGINX_PID=
NGINX_URL=

start_nginx_proxy() {
    local dir=$WORK/nginx-proxy port access_log
    port=$(free_port)
    mkdir -p -- "$dir/tmp"
    if [[ $LOG_LEVEL =~ ^(trace|debug|info)$ ]]; then
        access_log="access_log $dir/access.log;"
    else
        access_log="access_log off;"
    fi
    cat >"$dir/nginx.conf" <<EOT
# benches/compare: nginx as an mTLS reverse proxy with the gateway's checks that nginx can
# express (see docs/performance.md, "The nginx configuration")
worker_processes $NPROC;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 4096; }
http {
    $access_log
    # the same client connection may send any number of requests (tongban has no such limit)
    keepalive_requests 1000000;
    client_body_temp_path $dir/tmp/client_body;
    proxy_temp_path $dir/tmp/proxy;
    fastcgi_temp_path $dir/tmp/fastcgi;
    uwsgi_temp_path $dir/tmp/uwsgi;
    scgi_temp_path $dir/tmp/scgi;

    # the caller from the verified client certificate's subject (RFC 2253: ...,OU=...,L=...)
    map \$ssl_client_s_dn \$caller_city {
        default "";
        "~(^|,)L=(?<city>[0-9]{6})(,|\$)" \$city;
    }
    map \$ssl_client_s_dn \$caller_dept {
        default "";
        "~(^|,)OU=(?<dept>[A-Z_]+)(,|\$)" \$dept;
    }
    # the bench item's permit: this caller, this purpose
    map "\$caller_city/\$caller_dept" \$caller_permitted {
        default 0;
        "${CLIENT%%-*}/${CLIENT#*-}" 1;
    }
    map \$http_x_purpose \$purpose_permitted {
        default 0;
        "$PURPOSE" 1;
    }

    upstream bench_upstream {
        server 127.0.0.1:$UPSTREAM_PORT;
        keepalive 64;
        keepalive_requests 1000000;
    }

    server {
        listen 127.0.0.1:$port ssl;
        ssl_certificate $PKI/server/server-chain.pem;
        ssl_certificate_key $PKI/server/server.key;
        ssl_protocols TLSv1.3;
        ssl_verify_client on;
        ssl_client_certificate $WORK/client-roots.pem;
        ssl_verify_depth 4;
        # every connection is a full handshake (tongban: [tls] session_resumption = false)
        ssl_session_cache off;
        ssl_session_tickets off;

        location /v1/exchange/$BENCH_ITEM/ {
            if (\$http_x_purpose = "") { return 400; }
            if (\$caller_permitted = 0) { return 403; }
            if (\$purpose_permitted = 0) { return 403; }
            proxy_pass http://bench_upstream/;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header X-Caller-City \$caller_city;
            proxy_set_header X-Caller-Department \$caller_dept;
            proxy_set_header X-Purpose \$http_x_purpose;
            proxy_set_header X-Request-Id \$request_id;
            add_header X-Request-Id \$request_id always;
        }
        location / {
            return 404;
        }
    }
}
EOT
    start_nginx proxy "$dir" "$port"
    NGINX_PID=$STARTED_NGINX
    NGINX_URL=https://127.0.0.1:$port
    note "nginx proxy: master pid $NGINX_PID, workers $(children_of "$NGINX_PID" | paste -sd ' '), $NGINX_URL"
}

# --- tongban gateways ----------------------------------------------------------------------

declare -A GW_PID GW_URL GW_ADMIN

# start_gateway NAME POLICIES_N CACHE_MAX_ENTRIES: `tongban serve` with the policy set of
# POLICIES_N items on free loopback ports (port 0; the addresses are read from its log), the
# bench upstream, session resumption off; waits for /readyz.
start_gateway() {
    local name=$1 policies=$2 max_entries=$3 dir=$WORK/gateway-$1 i addrs public admin pid
    mkdir -p -- "$dir"
    # relative paths: the gateway resolves them against the configuration's folder
    cat >"$dir/tongban.toml" <<EOT
[listen]
public = "127.0.0.1:0"
admin = "127.0.0.1:0"

[tls]
cert = "../pki/server/server-chain.pem"
key = "../pki/server/server.key"
# every connection is a full handshake (nginx: ssl_session_cache off, ssl_session_tickets off)
session_resumption = false

[trust]
dir = "../pki/trust"

[policies]
dir = "../policies-$policies"

[audit]
path = "audit.jsonl"

[limits]
drain_timeout_ms = 2000

[cache]
max_entries = $max_entries

EOT
    cat -- "$WORK/policies-$policies.toml" >>"$dir/tongban.toml"
    : >"$dir/gateway.log" # read below before the gateway may have opened it
    # request logs at LOG_LEVEL; the server's own start line stays at info (it gives the ports)
    RUST_LOG="$LOG_LEVEL,tongban::server=info,tongban::server::service=$LOG_LEVEL" \
        "$TONGBAN" serve --config "$dir/tongban.toml" 2>"$dir/gateway.log" &
    pid=$!
    STARTED_PIDS+=("$pid")
    addrs=
    for ((i = 0; i < 300; i++)); do
        addrs=$(sed -n 's/.*tongban listening public=\([0-9.:]*\) admin=\([0-9.:]*\).*/\1 \2/p' \
            "$dir/gateway.log")
        [[ -n $addrs ]] && break
        kill -0 "$pid" 2>/dev/null ||
            die "gateway $name exited during start-up: $(tail -n 20 -- "$dir/gateway.log")"
        sleep 0.1
    done
    [[ -n $addrs ]] || die "gateway $name did not log its addresses within 30 s: $dir/gateway.log"
    read -r public admin <<<"$addrs"
    [[ $public == 127.0.0.1:* && $admin == 127.0.0.1:* ]] ||
        die "gateway $name is not on loopback ($public, $admin)"
    for ((i = 0; i < 100; i++)); do
        curl -fsS --max-time 1 -o /dev/null "http://$admin/readyz" 2>/dev/null && break
        sleep 0.1
    done
    curl -fsS --max-time 1 -o /dev/null "http://$admin/readyz" ||
        die "gateway $name: http://$admin/readyz not ready within 10 s"
    GW_PID[$name]=$pid
    GW_URL[$name]=https://$public
    GW_ADMIN[$name]=$admin
    note "tongban $name: pid $pid, $policies items, [cache] max_entries = $max_entries, https://$public"
}

stop_gateway() {
    [[ -n ${GW_PID[$1]:-} ]] || return 0
    stop_pid "${GW_PID[$1]}"
    unset "GW_PID[$1]" "GW_URL[$1]" "GW_ADMIN[$1]"
}

# --- the raw ring verification -------------------------------------------------------------

RAW_VERIFY_US=

# raw_verify: the median of criterion's `licence_verify/raw_ring_es256` (benches/verify.rs),
# one ring ECDSA P-256 verification, in µs; --raw-verify-us gives it instead.
raw_verify() {
    if [[ -n $RAW_VERIFY_ARG ]]; then
        RAW_VERIFY_US=$RAW_VERIFY_ARG
        RAW_VERIFY_SOURCE="given with --raw-verify-us"
        return 0
    fi
    local estimates=$TARGET/criterion/licence_verify/raw_ring_es256/new/estimates.json marker
    marker=$WORK/raw-verify.start
    : >"$marker"
    note "raw ring ES256 verification: cargo bench --bench verify (${CRITERION_SECS}s; the first run compiles the benchmark)"
    (cd -- "$REPO" && cargo bench --locked --bench verify -- --warm-up-time 1 \
        --measurement-time "$CRITERION_SECS" --exact licence_verify/raw_ring_es256) \
        >"$WORK/raw-verify.log" 2>&1 || die "cargo bench --bench verify failed: $(tail -n 20 -- "$WORK/raw-verify.log")"
    [[ -n $(find "$estimates" -newer "$marker" 2>/dev/null) ]] ||
        die "criterion wrote no new $estimates (see $WORK/raw-verify.log)"
    RAW_VERIFY_US=$(jq '.median.point_estimate / 1000' "$estimates")
    RAW_VERIFY_SOURCE="criterion median, benches/verify.rs licence_verify/raw_ring_es256"
    note "raw ring ES256 verification: $RAW_VERIFY_US µs"
}
