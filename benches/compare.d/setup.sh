# shellcheck shell=bash
# benches/compare: tools, the demo PKI, policy sets, and the processes under test (the two
# upstreams, nginx as a lean mTLS proxy, tongban gateways). Sourced by benches/compare.

# --- tools ---------------------------------------------------------------------------------

build_tongban() {
    if ((BUILD)); then
        note "building tongban and the CPU probe (release)"
        (cd -- "$REPO" && cargo build --release --locked --bin tongban) ||
            die "cargo build --release failed"
    fi
    [[ -x $TONGBAN ]] || die "$TONGBAN is missing (drop --no-build)"
    # the probe: one raw ring ES256 verification, timed (benches/probe.rs)
    PROBE=$( (cd -- "$REPO" && cargo bench --locked --bench probe --no-run --message-format=json 2>"$TARGET/probe-build.log") |
        jq -r 'select(.reason == "compiler-artifact" and .target.name == "probe") | .executable // empty' | tail -n 1)
    [[ -n $PROBE && -x $PROBE ]] || die "cannot build the CPU probe (benches/probe.rs): $(tail -n 20 -- "$TARGET/probe-build.log")"
}

# apt_install PACKAGE WHY: Debian's package, when root and allowed; otherwise say what to do.
apt_install() {
    local package=$1 why=$2
    ((INSTALL)) || die "$why is missing: install Debian's $package, or drop --no-install"
    [[ $(id -u) == 0 ]] || die "$why is missing and this is not root: run 'sudo apt-get install $package', then run this again"
    command -v apt-get >/dev/null || die "$why is missing and there is no apt-get: install it by hand"
    note "installing Debian's $package package ($why)"
    if [[ -z ${APT_UPDATED:-} ]]; then
        apt-get update -qq || die "apt-get update failed"
        APT_UPDATED=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$package" >/dev/null ||
        die "apt-get install $package failed"
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

# ensure_wrk: Debian's wrk (OpenSSL, no client-certificate option) and the LD_PRELOAD shim that
# gives it one (compare.d/wrk-client-cert.c, built here with cc).
ensure_wrk() {
    WRK=$(command -v wrk || true)
    if [[ -z $WRK ]]; then
        apt_install wrk "wrk (a load generator)"
        WRK=$(command -v wrk) || die "wrk still missing after apt-get install"
    fi
    [[ $(ldd "$WRK" 2>/dev/null || true) == *libssl* ]] || die "$WRK is not linked with OpenSSL's libssl: the client-certificate shim cannot work"
    if ! command -v cc >/dev/null; then
        apt_install gcc "a C compiler (for wrk's client-certificate shim)"
    fi
    WRK_SHIM=$TOOLS/wrk-client-cert.so
    mkdir -p -- "$TOOLS"
    if [[ ! -f $WRK_SHIM || $HERE/compare.d/wrk-client-cert.c -nt $WRK_SHIM ]]; then
        cc -shared -fPIC -O2 -Wall -o "$WRK_SHIM" "$HERE/compare.d/wrk-client-cert.c" -ldl ||
            die "cannot build $WRK_SHIM"
    fi
    # `wrk -v` prints its version and exits 1
    WRK_VERSION=$({ "$WRK" -v 2>&1 || true; } | sed -n 's/^wrk \([^ ]*\).*/\1/p' | head -n 1)
}

# ensure_nginx: Debian's nginx package when `nginx` is missing (root, unless --no-install).
ensure_nginx() {
    NGINX=$(command -v nginx || true)
    if [[ -z $NGINX && -x /usr/sbin/nginx ]]; then NGINX=/usr/sbin/nginx; fi
    if [[ -z $NGINX ]]; then
        # on a host with systemd this also enables the system's nginx service on port 80
        apt_install nginx "nginx"
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

# make_policies N: a policies directory with N synthetic items (`tongban policy generate`), the
# three bench items (bodies.sh) and their samples (for `tongban sample-upstream`); the
# `[upstreams.*]` its synthetic items need go to $WORK/policies-N.toml (pointing at the nginx
# upstream; only the bench items are called).
make_policies() {
    local n=$1 dir=$WORK/policies-$1 b
    "$TONGBAN" policy generate --items "$n" --seed "$POLICY_SEED" --out "$dir" \
        --upstream-url "http://127.0.0.1:$UPSTREAM_PORT" >"$WORK/policies-$n.toml" \
        2>"$WORK/policies-$n.log" || die "tongban policy generate failed: $(cat -- "$WORK/policies-$n.log")"
    mkdir -p -- "$dir/items/bench" "$dir/samples"
    bench_items "${CLIENT%%-*}/${CLIENT#*-}" "$PURPOSE" >"$dir/items/bench/bench.toml"
    for b in $BODIES; do
        body "$b" >"$dir/samples/$(body_item "$b").json"
    done
    note "policies-$n: $(sed 's/^tongban: //' "$WORK/policies-$n.log") (+ the bench items)"
}

# bench_upstreams KIND: the `[upstreams.bench-*]` of a gateway whose bench items go to the
# nginx upstream or the sample upstream.
bench_upstreams() {
    local port b
    case $1 in
    nginx) port=$UPSTREAM_PORT ;;
    sample) port=$SAMPLE_PORT ;;
    *) die "no upstream '$1'" ;;
    esac
    for b in $BODIES; do
        printf '[upstreams.bench-%s]\nurl = "http://127.0.0.1:%s/u/bench-%s"\n\n' "$b" "$port" "$b"
    done
}

# --- the upstreams -------------------------------------------------------------------------

UPSTREAM_PORT=
UPSTREAM_PID=
SAMPLE_PORT=
SAMPLE_PID=

# nginx_return BODY: an nginx `return 200` of the body. nginx reads at most 4 KiB per token, so
# a longer body is `set` in 3000-byte pieces and returned as their concatenation (the bodies hold
# no `$`, `'` nor `\`, which this would break).
nginx_return() {
    local text i=0 sets="" vars=""
    text=$(body "$1")
    [[ $text != *[\$\'\\]* ]] || die "body $1 holds \$, ' or \\"
    while ((i * 3000 < ${#text})); do
        sets+="set \$part$i '${text:i*3000:3000}'; "
        vars+="\$part$i"
        i=$((i + 1))
    done
    if ((i == 1)); then
        printf "return 200 '%s';" "$text"
    else
        printf '%s return 200 "%s";' "$sets" "$vars"
    fi
}

# start_upstream: the nginx upstream, a private nginx (one worker, access log off) answering
# `/u/bench-<body>/…` with bodies.sh's bodies (`return 200`, application/json).
start_upstream() {
    local dir=$WORK/upstream b
    UPSTREAM_PORT=$(free_port)
    mkdir -p -- "$dir/tmp"
    {
        echo "# benches/compare: the nginx upstream of both proxies (not counted as proxy CPU)"
        echo "worker_processes 1;"
        echo "pid $dir/nginx.pid;"
        echo "error_log $dir/error.log warn;"
        echo "events { worker_connections 4096; }"
        echo "http {"
        echo "    access_log off;"
        echo "    keepalive_requests 1000000;"
        temp_paths "$dir"
        echo "    server {"
        echo "        listen 127.0.0.1:$UPSTREAM_PORT;"
        echo "        default_type application/json;"
        for b in $BODIES; do
            echo "        location /u/bench-$b/ { $(nginx_return "$b") }"
        done
        echo "    }"
        echo "}"
    } >"$dir/nginx.conf"
    start_nginx upstream "$dir" "$UPSTREAM_PORT"
    UPSTREAM_PID=$STARTED_NGINX
    for b in $BODIES; do
        [[ $(curl -fsS --max-time 5 "http://127.0.0.1:$UPSTREAM_PORT/u/bench-$b/query") == "$(body "$b")" ]] ||
            die "the nginx upstream does not answer body $b"
    done
    note "nginx upstream: pid $UPSTREAM_PID on 127.0.0.1:$UPSTREAM_PORT"
}

# start_sample_upstream: `tongban sample-upstream` over policies-10 (the bench items' samples).
start_sample_upstream() {
    local dir=$WORK/sample-upstream b got
    SAMPLE_PORT=$(free_port)
    mkdir -p -- "$dir"
    RUST_LOG=warn "$TONGBAN" sample-upstream --policies "$WORK/policies-10" \
        --listen "127.0.0.1:$SAMPLE_PORT" >"$dir/stdout.log" 2>"$dir/stderr.log" &
    SAMPLE_PID=$!
    STARTED_PIDS+=("$SAMPLE_PID")
    wait_port "$SAMPLE_PORT" "$SAMPLE_PID" "tongban sample-upstream (see $dir/stderr.log)"
    for b in $BODIES; do
        got=$(curl -fsS --max-time 5 "http://127.0.0.1:$SAMPLE_PORT/u/bench-$b/query") ||
            die "the sample upstream does not answer body $b"
        # the same JSON (the sample server writes it again: its members may be reordered)
        [[ $(jq -cS . <<<"$got") == "$(body "$b" | jq -cS .)" ]] || die "the sample upstream answers another body $b"
    done
    note "sample upstream: tongban sample-upstream pid $SAMPLE_PID on 127.0.0.1:$SAMPLE_PORT"
}

# upstream_pid KIND, upstream_url KIND
upstream_pid() {
    case $1 in nginx) echo "$UPSTREAM_PID" ;; sample) echo "$SAMPLE_PID" ;; esac
}

temp_paths() {
    local dir=$1
    echo "    client_body_temp_path $dir/tmp/client_body;"
    echo "    proxy_temp_path $dir/tmp/proxy;"
    echo "    fastcgi_temp_path $dir/tmp/fastcgi;"
    echo "    uwsgi_temp_path $dir/tmp/uwsgi;"
    echo "    scgi_temp_path $dir/tmp/scgi;"
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
    [[ -n $want ]] || want=$NPROC
    for ((i = 0; i < 50; i++)); do
        [[ $(children_of "$pid" | wc -l) -ge $want ]] && break
        sleep 0.1
    done
    STARTED_NGINX=$pid
}

# --- nginx as the lean mTLS reverse proxy --------------------------------------------------

declare -A NGINX_PID NGINX_URL

# start_nginx_proxy WORKERS UPSTREAM: nginx (worker_processes 1 or auto) as an mTLS reverse
# proxy to the nginx or the sample upstream, in its lean form: no access log, no map, no regex;
# see docs/performance.md, "The nginx configuration".
start_nginx_proxy() {
    local workers=$1 upstream=$2 name=nginx-$1-$2 dir port upstream_port b
    dir=$WORK/$name
    port=$(free_port)
    case $upstream in nginx) upstream_port=$UPSTREAM_PORT ;; sample) upstream_port=$SAMPLE_PORT ;; esac
    mkdir -p -- "$dir/tmp"
    {
        echo "# benches/compare: nginx as a lean mTLS reverse proxy (docs/performance.md)"
        echo "worker_processes $workers;"
        echo "pid $dir/nginx.pid;"
        echo "error_log $dir/error.log warn;"
        echo "events { worker_connections 4096; }"
        echo "http {"
        echo "    access_log off;"
        echo "    # a client connection may send any number of requests (tongban has no such limit)"
        echo "    keepalive_requests 1000000;"
        temp_paths "$dir"
        echo "    upstream bench_upstream {"
        echo "        server 127.0.0.1:$upstream_port;"
        echo "        keepalive 512;"
        echo "        keepalive_requests 1000000;"
        echo "    }"
        echo "    server {"
        echo "        listen 127.0.0.1:$port ssl;"
        echo "        ssl_certificate $PKI/server/server-chain.pem;"
        echo "        ssl_certificate_key $PKI/server/server.key;"
        echo "        ssl_protocols TLSv1.3;"
        echo "        ssl_verify_client on;"
        echo "        ssl_client_certificate $WORK/client-roots.pem;"
        echo "        ssl_verify_depth 4;"
        echo "        # every connection is a full handshake (tongban: [tls] session_resumption = false)"
        echo "        ssl_session_cache off;"
        echo "        ssl_session_tickets off;"
        for b in $BODIES; do
            echo "        location /v1/exchange/$(body_item "$b")/ {"
            echo "            if (\$http_x_purpose = \"\") { return 400; }"
            echo "            if (\$http_x_purpose != \"$PURPOSE\") { return 403; }"
            echo "            proxy_pass http://bench_upstream/u/bench-$b/;"
            echo "            proxy_http_version 1.1;"
            echo "            proxy_set_header Connection \"\";"
            echo "            proxy_set_header X-Request-Id \$request_id;"
            echo "            add_header X-Request-Id \$request_id always;"
            echo "        }"
        done
        echo "        location / { return 404; }"
        echo "    }"
        echo "}"
    } >"$dir/nginx.conf"
    start_nginx "$name" "$dir" "$port"
    NGINX_PID[$workers-$upstream]=$STARTED_NGINX
    NGINX_URL[$workers-$upstream]=https://127.0.0.1:$port
    note "nginx proxy $name: master pid $STARTED_NGINX, workers $(children_of "$STARTED_NGINX" | paste -sd ' '), https://127.0.0.1:$port"
}

# --- tongban gateways ----------------------------------------------------------------------

declare -A GW_PID GW_URL GW_ADMIN GW_DIR

# start_gateway NAME POLICIES_N CACHE_MAX_ENTRIES UPSTREAM WORKERS: `tongban serve` with the
# policy set of POLICIES_N items, its bench items on the nginx or the sample upstream, WORKERS
# runtime workers (1, or auto: one per CPU), on free loopback ports (port 0; the addresses are
# read from its log), session resumption off; waits for /readyz.
start_gateway() {
    local name=$1 policies=$2 max_entries=$3 upstream=$4 workers=$5 dir=$WORK/gateway-$1
    local i addrs public admin pid
    local -a env=(RUST_LOG="$LOG_LEVEL,tongban::server=info,tongban::server::service=$LOG_LEVEL")
    [[ $workers == auto ]] || env+=(TOKIO_WORKER_THREADS="$workers")
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
    bench_upstreams "$upstream" >>"$dir/tongban.toml"
    cat -- "$WORK/policies-$policies.toml" >>"$dir/tongban.toml"
    : >"$dir/gateway.log" # read below before the gateway may have opened it
    # request logs at LOG_LEVEL; the server's own start line stays at info (it gives the ports)
    env "${env[@]}" "$TONGBAN" serve --config "$dir/tongban.toml" 2>"$dir/gateway.log" &
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
    GW_DIR[$name]=$dir
    note "tongban $name: pid $pid, $policies items, $upstream upstream, $workers worker(s), [cache] max_entries = $max_entries, https://$public"
}

stop_gateway() {
    [[ -n ${GW_PID[$1]:-} ]] || return 0
    stop_pid "${GW_PID[$1]}"
    unset "GW_PID[$1]" "GW_URL[$1]" "GW_ADMIN[$1]"
}

# trim_audit NAME: removes the gateway's rotated audit segments (the chain is not checked here;
# a full run would otherwise write gigabytes).
trim_audit() {
    local dir=${GW_DIR[$1]:-}
    [[ -n $dir ]] || return 0
    rm -f -- "$dir"/audit.jsonl.[0-9]*
}

# --- the CPU probe -------------------------------------------------------------------------

# probe: one raw ring ES256 verification, in µs (the median of ~200 ms of batches).
probe() {
    "$PROBE" --ms "$PROBE_MS" | jq -r .es256_verify_us || die "the CPU probe failed"
}
