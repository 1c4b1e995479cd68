//! The server configuration file (contract section 6, plus our `[limits]` and `[cache]`, and the
//! `[cluster]` of section 9).
//!
//! Read into serde structs ([`toml_file::parse`]: every unknown key is a problem), then resolved
//! into [`Config`]: paths made absolute against the file's folder, addresses parsed, upstream
//! URLs checked. Every problem is listed with its line. [`check`] goes on to the files the
//! configuration names and the policies it loads.

pub mod check;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::catalog::{write_problems, Problem};
use crate::toml_file::{self, Located};

/// The resolved configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// The TLS listener of the `/v1` API.
    pub public: SocketAddr,
    /// The plain-HTTP listener of `/metrics`, `/healthz` and `/readyz`.
    pub admin: SocketAddr,
    /// PEM server chain, leaf first.
    pub tls_cert: PathBuf,
    /// PEM PKCS#8 (or SEC1/PKCS#1) server key.
    pub tls_key: PathBuf,
    /// Let clients resume TLS sessions (rustls' defaults: TLS 1.3 tickets backed by a cache of
    /// 256 sessions, TLS 1.2 session ids). Off: every connection is a full handshake with the
    /// client certificate checked (load tests of handshakes).
    pub tls_session_resumption: bool,
    pub trust_dir: PathBuf,
    /// What happens to a caller whose chain's CRL is past its nextUpdate.
    pub stale_crls: StaleCrls,
    /// `None`: the catalog and recognition table compiled into the binary, and no data-exchange
    /// items.
    pub policies_dir: Option<PathBuf>,
    /// Load (and reload) only a policy set whose `policy-set.jws` verifies (`tongban policy sign`).
    pub require_signed_policies: bool,
    /// Department kinds whose certificates may sign policy sets.
    pub policy_signers: Vec<String>,
    /// Secret of the `hash` mask; default: derived from the server key.
    pub mask_key_file: Option<PathBuf>,
    pub audit: AuditConfig,
    /// The data exchange's upstreams, by name.
    pub upstreams: BTreeMap<String, Upstream>,
    pub limits: Limits,
    pub cache: CacheConfig,
    /// Several gateways on one PostgreSQL (contract section 9); `None`: this gateway alone, with
    /// its audit file and in-process rate limits.
    pub cluster: Option<ClusterConfig>,
}

/// The stance on a caller (a TLS client) whose chain is judged with a CRL past its nextUpdate.
/// Licences are not concerned: the contract keeps a stale CRL in force with `CRL_STALE`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StaleCrls {
    /// Served, with a warning in the log and the CRL in `tongban_trust_stale_crls` (a CRL
    /// distribution point that is late must not cut nine cities off each other).
    #[default]
    Warn,
    /// Refused at the handshake (and on the next request of a connection already open).
    Refuse,
}

/// The audit log (contract section 8).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditConfig {
    /// The file; `None` only with `[cluster]` (the records then go to the database).
    pub path: Option<PathBuf>,
    /// fsync at least this often (group commit); zero: fsync every record before answering.
    pub flush_interval: Duration,
    /// A file past this size is rotated (the chain continues in the next one).
    pub max_bytes: u64,
    /// Secret of the keyed hashes of personal identifiers; default: derived from the server key.
    pub key_file: Option<PathBuf>,
}

impl AuditConfig {
    /// Defaults for a log at `path`.
    pub fn at(path: PathBuf) -> Self {
        Self {
            path: Some(path),
            flush_interval: Duration::from_millis(DEFAULT_AUDIT_FLUSH_MS),
            max_bytes: DEFAULT_AUDIT_MAX_BYTES,
            key_file: None,
        }
    }
}

pub const DEFAULT_AUDIT_FLUSH_MS: u64 = 100;
pub const DEFAULT_AUDIT_MAX_BYTES: u64 = 64 * 1024 * 1024;
/// Largest upstream response body read (and filtered); a bigger one is a 502.
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 4 * 1024 * 1024;

/// `[cluster]`: the shared database and this gateway's name in it (contract section 9).
#[derive(Clone, PartialEq, Eq)]
pub struct ClusterConfig {
    /// The connection string as written (libpq `key=value` or a `postgresql://` URL); it may hold
    /// a password, so it is never printed.
    pub database: String,
    /// This gateway's name: its audit chain and its lease.
    pub node: String,
    /// PEM roots of the database server's certificate: TLS to the database, required and
    /// verified (host name included). Without it the connection is plain.
    pub ca: Option<PathBuf>,
    /// The database password, from a file (not in the connection string).
    pub password_file: Option<PathBuf>,
    /// Longest wait of any database step of a request (a connection from the pool, a rate
    /// decision, the commit of its audit record); past it the request is refused with 503.
    pub timeout: Duration,
    /// Connections of the pool (rate decisions, statistics); the audit writer has its own.
    pub pool_size: usize,
    /// Most records committed in one transaction (group commit).
    pub max_batch: usize,
}

impl std::fmt::Debug for ClusterConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterConfig")
            .field("database", &"…")
            .field("node", &self.node)
            .field("ca", &self.ca)
            .field("password_file", &self.password_file)
            .field("timeout", &self.timeout)
            .field("pool_size", &self.pool_size)
            .field("max_batch", &self.max_batch)
            .finish()
    }
}

impl ClusterConfig {
    /// Defaults for `node` on `database`.
    pub fn new(database: impl Into<String>, node: impl Into<String>) -> Self {
        Self {
            database: database.into(),
            node: node.into(),
            ca: None,
            password_file: None,
            timeout: Duration::from_millis(DEFAULT_CLUSTER_TIMEOUT_MS),
            pool_size: DEFAULT_CLUSTER_POOL_SIZE,
            max_batch: DEFAULT_CLUSTER_MAX_BATCH,
        }
    }
}

/// A database step slower than this refuses its request (well under the upstreams' 5 s).
pub const DEFAULT_CLUSTER_TIMEOUT_MS: u64 = 2000;
/// Pool connections per gateway: a rate decision holds one for a round trip.
pub const DEFAULT_CLUSTER_POOL_SIZE: usize = 8;
/// Records per group commit: a batch of 512 lines is about 300 KiB.
pub const DEFAULT_CLUSTER_MAX_BATCH: usize = 512;

/// One upstream of the data exchange.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Upstream {
    pub url: String,
    pub timeout: Duration,
    /// PEM roots to trust for an `https` upstream.
    pub ca: Option<PathBuf>,
}

/// Bounds on the work one peer can cause.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// A TLS handshake not finished by then is dropped (slowloris on the handshake).
    pub handshake_timeout: Duration,
    /// HTTP/1 request headers not received by then close the connection (slowloris on headers).
    pub header_read_timeout: Duration,
    /// Largest `POST /v1/licences/verify` body: a licence is a few KiB.
    pub max_body_bytes: usize,
    /// Largest `POST /v1/licences/verify-batch` body.
    pub max_batch_body_bytes: usize,
    /// Most licences in one batch (contract section 5).
    pub max_batch: usize,
    /// Most open connections on the public listener; beyond it, accepting waits.
    pub max_connections: usize,
    /// On shutdown, requests still running after this long are cut off.
    pub drain_timeout: Duration,
    /// Largest upstream response body (exchange); bigger is 502 `UPSTREAM_ERROR`.
    pub max_response_bytes: usize,
}

/// Defaults of [`Limits`]; each names its reason at the field.
pub const DEFAULT_HANDSHAKE_TIMEOUT_MS: u64 = 10_000;
pub const DEFAULT_HEADER_READ_TIMEOUT_MS: u64 = 10_000;
pub const DEFAULT_MAX_BODY_BYTES: usize = 128 * 1024;
pub const DEFAULT_MAX_BATCH_BODY_BYTES: usize = 1024 * 1024;
pub const DEFAULT_MAX_BATCH: usize = 1000;
pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;
pub const DEFAULT_DRAIN_TIMEOUT_MS: u64 = 30_000;
/// Verdicts kept at most (each holds at most `cache::MAX_CACHED_LICENCE_BYTES` of key).
pub const DEFAULT_CACHE_MAX_ENTRIES: u64 = 100_000;
/// A cached verdict is recomputed after this long even if the licence is still valid.
pub const DEFAULT_CACHE_TTL_SECS: u64 = 3600;
/// An upstream's default timeout when `timeout_ms` is absent.
pub const DEFAULT_UPSTREAM_TIMEOUT_MS: u64 = 5000;

impl Default for Limits {
    fn default() -> Self {
        Self {
            handshake_timeout: Duration::from_millis(DEFAULT_HANDSHAKE_TIMEOUT_MS),
            header_read_timeout: Duration::from_millis(DEFAULT_HEADER_READ_TIMEOUT_MS),
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            max_batch_body_bytes: DEFAULT_MAX_BATCH_BODY_BYTES,
            max_batch: DEFAULT_MAX_BATCH,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            drain_timeout: Duration::from_millis(DEFAULT_DRAIN_TIMEOUT_MS),
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
        }
    }
}

/// The verdict cache's bounds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CacheConfig {
    /// Most verdicts kept; 0 disables the cache (every request is verified).
    pub max_entries: u64,
    pub ttl: Duration,
}

impl Default for CacheConfig {
    fn default() -> Self {
        Self {
            max_entries: DEFAULT_CACHE_MAX_ENTRIES,
            ttl: Duration::from_secs(DEFAULT_CACHE_TTL_SECS),
        }
    }
}

/// Why the configuration could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{}: cannot read the configuration: {source}", .path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// Every problem of the file (and, from [`check`], of the files it names).
    #[error("{}", Problems(.0))]
    Invalid(Vec<Problem>),
}

/// Problems one per line.
pub struct Problems<'a>(pub &'a [Problem]);

impl std::fmt::Display for Problems<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write_problems(f, self.0)
    }
}

impl Config {
    /// Reads and resolves the file at `path`.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        Self::parse(&text, base, &path.display().to_string()).map_err(ConfigError::Invalid)
    }

    /// Parses TOML text (of the file named `file`); relative paths are taken against `base`.
    pub fn parse(text: &str, base: &Path, file: &str) -> Result<Self, Vec<Problem>> {
        match Self::parse_all(text, base, file) {
            (Some(config), problems) if problems.is_empty() => Ok(config),
            (_, problems) => Err(problems),
        }
    }

    /// As [`Config::parse`], but a configuration with unknown keys or bad values is still
    /// returned (`None` only when the text is not TOML of our shape), beside every problem, so
    /// that the files it names can be checked too.
    pub fn parse_all(text: &str, base: &Path, file: &str) -> (Option<Self>, Vec<Problem>) {
        let parsed = toml_file::parse_lenient::<RawConfig>(text, file);
        let mut problems = parsed.problems;
        let config = parsed
            .value
            .map(|raw| raw.resolve(base, &Located::new(file, text), &mut problems));
        problems.sort_by_key(|p| p.line);
        (config, problems)
    }
}

#[derive(Deserialize)]
struct RawConfig {
    listen: RawListen,
    tls: RawTls,
    trust: RawTrust,
    #[serde(default)]
    policies: Option<RawPolicies>,
    #[serde(default)]
    audit: RawAudit,
    #[serde(default)]
    upstreams: BTreeMap<String, RawUpstream>,
    #[serde(default)]
    limits: RawLimits,
    #[serde(default)]
    cache: RawCache,
    #[serde(default)]
    cluster: Option<RawCluster>,
}

#[derive(Deserialize)]
struct RawListen {
    public: String,
    #[serde(default = "default_admin")]
    admin: String,
}

fn default_admin() -> String {
    "127.0.0.1:9100".to_owned()
}

#[derive(Deserialize)]
struct RawTls {
    cert: PathBuf,
    key: PathBuf,
    #[serde(default = "default_session_resumption")]
    session_resumption: bool,
}

fn default_session_resumption() -> bool {
    true
}

#[derive(Deserialize)]
struct RawTrust {
    dir: PathBuf,
    #[serde(default)]
    stale_crls: StaleCrls,
}

#[derive(Deserialize)]
struct RawPolicies {
    dir: PathBuf,
    #[serde(default)]
    require_signed_policies: bool,
    #[serde(default)]
    signers: Option<Vec<String>>,
    #[serde(default)]
    mask_key_file: Option<PathBuf>,
}

#[derive(Default, Deserialize)]
struct RawAudit {
    #[serde(default)]
    path: Option<PathBuf>,
    #[serde(default)]
    flush_interval_ms: Option<u64>,
    #[serde(default)]
    max_bytes: Option<u64>,
    #[serde(default)]
    key_file: Option<PathBuf>,
}

#[derive(Deserialize)]
struct RawUpstream {
    url: String,
    #[serde(default)]
    timeout_ms: Option<u64>,
    #[serde(default)]
    ca: Option<PathBuf>,
}

#[derive(Default, Deserialize)]
struct RawLimits {
    handshake_timeout_ms: Option<u64>,
    header_read_timeout_ms: Option<u64>,
    max_body_bytes: Option<usize>,
    max_batch_body_bytes: Option<usize>,
    max_batch: Option<usize>,
    max_connections: Option<usize>,
    drain_timeout_ms: Option<u64>,
    max_response_bytes: Option<usize>,
}

#[derive(Deserialize)]
struct RawCluster {
    database: String,
    node: String,
    #[serde(default)]
    ca: Option<PathBuf>,
    #[serde(default)]
    password_file: Option<PathBuf>,
    #[serde(default)]
    timeout_ms: Option<u64>,
    #[serde(default)]
    pool_size: Option<usize>,
    #[serde(default)]
    max_batch: Option<usize>,
}

#[derive(Default, Deserialize)]
struct RawCache {
    max_entries: Option<u64>,
    ttl_secs: Option<u64>,
}

impl RawConfig {
    fn resolve(self, base: &Path, at: &Located<'_>, problems: &mut Vec<Problem>) -> Config {
        let mut addr = |key: &str, text: &str| match text.parse::<SocketAddr>() {
            Ok(a) => Some(a),
            Err(e) => {
                problems.push(at.problem(
                    &["listen", key],
                    format!("listen.{key}: `{text}` is not an IP address and port: {e}"),
                ));
                None
            }
        };
        let public = addr("public", &self.listen.public);
        let admin = addr("admin", &self.listen.admin);
        let mut upstreams = BTreeMap::new();
        for (name, u) in self.upstreams {
            if let Err(why) = check_upstream_url(&u.url) {
                problems.push(at.problem(
                    &["upstreams", &name, "url"],
                    format!("upstreams.{name}.url: `{}` {why}", u.url),
                ));
            }
            if u.ca.is_some() && !u.url.starts_with("https://") {
                problems.push(at.problem(
                    &["upstreams", &name, "ca"],
                    format!("upstreams.{name}.ca: only meaningful for an https url"),
                ));
            }
            let timeout_ms = u.timeout_ms.unwrap_or(DEFAULT_UPSTREAM_TIMEOUT_MS);
            if timeout_ms == 0 {
                problems.push(at.problem(
                    &["upstreams", &name, "timeout_ms"],
                    format!("upstreams.{name}.timeout_ms: must be positive"),
                ));
            }
            upstreams.insert(
                name,
                Upstream {
                    url: u.url,
                    timeout: Duration::from_millis(timeout_ms),
                    ca: u.ca.map(|p| base.join(p)),
                },
            );
        }
        let d = Limits::default();
        let l = self.limits;
        let limits = Limits {
            handshake_timeout: l
                .handshake_timeout_ms
                .map_or(d.handshake_timeout, Duration::from_millis),
            header_read_timeout: l
                .header_read_timeout_ms
                .map_or(d.header_read_timeout, Duration::from_millis),
            max_body_bytes: l.max_body_bytes.unwrap_or(d.max_body_bytes),
            max_batch_body_bytes: l.max_batch_body_bytes.unwrap_or(d.max_batch_body_bytes),
            max_batch: l.max_batch.unwrap_or(d.max_batch),
            max_connections: l.max_connections.unwrap_or(d.max_connections),
            drain_timeout: l
                .drain_timeout_ms
                .map_or(d.drain_timeout, Duration::from_millis),
            max_response_bytes: l.max_response_bytes.unwrap_or(d.max_response_bytes),
        };
        for (name, zero) in [
            ("handshake_timeout_ms", limits.handshake_timeout.is_zero()),
            (
                "header_read_timeout_ms",
                limits.header_read_timeout.is_zero(),
            ),
            ("max_body_bytes", limits.max_body_bytes == 0),
            ("max_batch_body_bytes", limits.max_batch_body_bytes == 0),
            ("max_batch", limits.max_batch == 0),
            ("max_connections", limits.max_connections == 0),
            ("max_response_bytes", limits.max_response_bytes == 0),
        ] {
            if zero {
                problems.push(at.problem(
                    &["limits", name],
                    format!("limits.{name}: must be positive"),
                ));
            }
        }
        let cluster = self.cluster.map(|c| resolve_cluster(c, base, at, problems));
        if cluster.is_none() && self.audit.path.is_none() {
            problems.push(at.problem(
                &["audit"],
                "audit.path: required (the audit log), unless a [cluster] database takes the records",
            ));
        }
        let dc = CacheConfig::default();
        let cache = CacheConfig {
            max_entries: self.cache.max_entries.unwrap_or(dc.max_entries),
            ttl: self.cache.ttl_secs.map_or(dc.ttl, Duration::from_secs),
        };
        Config {
            public: public.unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 0))),
            admin: admin.unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 0))),
            tls_cert: base.join(self.tls.cert),
            tls_key: base.join(self.tls.key),
            tls_session_resumption: self.tls.session_resumption,
            trust_dir: base.join(self.trust.dir),
            stale_crls: self.trust.stale_crls,
            policies_dir: self.policies.as_ref().map(|p| base.join(&p.dir)),
            require_signed_policies: self
                .policies
                .as_ref()
                .is_some_and(|p| p.require_signed_policies),
            policy_signers: self
                .policies
                .as_ref()
                .and_then(|p| p.signers.clone())
                .unwrap_or_else(|| {
                    crate::policy::signing::DEFAULT_SIGNER_DEPARTMENTS
                        .iter()
                        .map(|d| d.to_string())
                        .collect()
                }),
            mask_key_file: self
                .policies
                .as_ref()
                .and_then(|p| p.mask_key_file.as_ref())
                .map(|f| base.join(f)),
            audit: AuditConfig {
                path: self.audit.path.as_ref().map(|p| base.join(p)),
                flush_interval: Duration::from_millis(
                    self.audit
                        .flush_interval_ms
                        .unwrap_or(DEFAULT_AUDIT_FLUSH_MS),
                ),
                max_bytes: self.audit.max_bytes.unwrap_or(DEFAULT_AUDIT_MAX_BYTES),
                key_file: self.audit.key_file.as_ref().map(|f| base.join(f)),
            },
            upstreams,
            limits,
            cache,
            cluster,
        }
    }
}

/// `[cluster]`, every problem reported.
fn resolve_cluster(
    c: RawCluster,
    base: &Path,
    at: &Located<'_>,
    problems: &mut Vec<Problem>,
) -> ClusterConfig {
    if let Err(why) = crate::cluster::check_database(&c.database) {
        problems.push(at.problem(&["cluster", "database"], format!("cluster.database: {why}")));
    }
    if let Err(why) = crate::cluster::check_node(&c.node) {
        problems.push(at.problem(&["cluster", "node"], format!("cluster.node: {why}")));
    }
    let d = ClusterConfig::new(String::new(), String::new());
    let config = ClusterConfig {
        database: c.database,
        node: c.node,
        ca: c.ca.map(|p| base.join(p)),
        password_file: c.password_file.map(|p| base.join(p)),
        timeout: c.timeout_ms.map_or(d.timeout, Duration::from_millis),
        pool_size: c.pool_size.unwrap_or(d.pool_size),
        max_batch: c.max_batch.unwrap_or(d.max_batch),
    };
    for (name, zero) in [
        ("timeout_ms", config.timeout.is_zero()),
        ("pool_size", config.pool_size == 0),
        ("max_batch", config.max_batch == 0),
    ] {
        if zero {
            problems.push(at.problem(
                &["cluster", name],
                format!("cluster.{name}: must be positive"),
            ));
        }
    }
    config
}

/// `http://host[:port][/path]` or `https://…`, no query, fragment or user info.
fn check_upstream_url(url: &str) -> Result<(), &'static str> {
    let uri: hyper::Uri = url.parse().map_err(|_| "is not a URL")?;
    match uri.scheme_str() {
        Some("http") | Some("https") => {}
        _ => return Err("must start with http:// or https://"),
    }
    let Some(authority) = uri.authority() else {
        return Err("has no host");
    };
    if authority.as_str().contains('@') {
        return Err("must not carry user info");
    }
    if authority.host().is_empty() {
        return Err("has no host");
    }
    if uri.query().is_some() || url.contains('#') {
        return Err("must not carry a query or fragment");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const FULL: &str = r#"
[listen]
public = "127.0.0.1:8443"
admin = "127.0.0.1:9100"

[tls]
cert = "server-chain.pem"
key = "server.key"

[trust]
dir = "trust"

[policies]
dir = "/etc/tongban/policies"

[audit]
path = "audit.jsonl"

[upstreams.hpf-xianning]
url = "http://127.0.0.1:18080"
timeout_ms = 5000

[limits]
max_batch = 10

[cache]
ttl_secs = 60
"#;

    #[test]
    fn the_contract_example_parses_with_paths_relative_to_the_file() {
        let c = Config::parse(FULL, Path::new("/srv/tb"), "t.toml").unwrap();
        assert_eq!(c.public, "127.0.0.1:8443".parse().unwrap());
        assert_eq!(c.tls_cert, PathBuf::from("/srv/tb/server-chain.pem"));
        assert_eq!(c.trust_dir, PathBuf::from("/srv/tb/trust"));
        assert_eq!(c.policies_dir, Some(PathBuf::from("/etc/tongban/policies")));
        assert_eq!(c.audit.path, Some(PathBuf::from("/srv/tb/audit.jsonl")));
        assert_eq!(c.cluster, None);
        assert_eq!(c.upstreams["hpf-xianning"].timeout, Duration::from_secs(5));
        assert_eq!(c.limits.max_batch, 10);
        assert_eq!(c.limits.max_body_bytes, DEFAULT_MAX_BODY_BYTES);
        assert_eq!(c.cache.ttl, Duration::from_secs(60));
        assert_eq!(c.cache.max_entries, DEFAULT_CACHE_MAX_ENTRIES);
        assert!(c.tls_session_resumption);
        let text = FULL.replace("[tls]", "[tls]\nsession_resumption = false");
        assert!(
            !Config::parse(&text, Path::new("."), "t.toml")
                .unwrap()
                .tls_session_resumption
        );
    }

    #[test]
    fn cache_max_entries_zero_is_accepted_and_disables() {
        let text = FULL.replace("[cache]", "[cache]\nmax_entries = 0");
        let c = Config::parse(&text, Path::new("."), "t.toml").unwrap();
        assert_eq!(c.cache.max_entries, 0);
        assert!(!super::super::cache::VerdictCache::new(&c.cache).is_enabled());
    }

    #[test]
    fn the_stale_crl_stance_is_warn_unless_refuse_is_written() {
        let c = Config::parse(FULL, Path::new("."), "t.toml").unwrap();
        assert_eq!(c.stale_crls, StaleCrls::Warn);
        let text = FULL.replace("[trust]", "[trust]\nstale_crls = \"refuse\"");
        let c = Config::parse(&text, Path::new("."), "t.toml").unwrap();
        assert_eq!(c.stale_crls, StaleCrls::Refuse);
        let text = FULL.replace("[trust]", "[trust]\nstale_crls = \"ignore\"");
        let found = problems(&text);
        assert!(
            found.len() == 1 && found[0].contains("unknown variant `ignore`"),
            "{found:?}"
        );
    }

    /// The problems of a configuration text, as printed.
    fn problems(text: &str) -> Vec<String> {
        Config::parse(text, Path::new("."), "t.toml")
            .unwrap_err()
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn unknown_fields_are_refused_all_at_once_with_their_lines() {
        let text = FULL
            .replace("[cache]", "[cache]\nsize = 3")
            .replace("[tls]", "[tls]\nchain = \"x.pem\"");
        assert_eq!(
            problems(&text),
            [
                "t.toml:7: unknown key `tls.chain`",
                "t.toml:28: unknown key `cache.size`"
            ]
        );
    }

    #[test]
    fn every_bad_value_is_reported_at_once_with_its_line() {
        let text = FULL
            .replace("127.0.0.1:8443", "localhost")
            .replace("http://127.0.0.1:18080", "ftp://x")
            .replace("max_batch = 10", "max_batch = 0");
        assert_eq!(
            problems(&text),
            [
                "t.toml:3: listen.public: `localhost` is not an IP address and port: invalid socket address syntax",
                "t.toml:20: upstreams.hpf-xianning.url: `ftp://x` must start with http:// or https://",
                "t.toml:24: limits.max_batch: must be positive",
            ]
        );
    }

    #[test]
    fn a_cluster_takes_the_audit_and_names_every_problem() {
        let text = FULL.replace("[audit]\npath = \"audit.jsonl\"\n", "")
            + "\n[cluster]\ndatabase = \"host=db port=5432 user=tongban\"\nnode = \"gw-1\"\nca = \"db-ca.pem\"\n";
        let c = Config::parse(&text, Path::new("/srv/tb"), "t.toml").unwrap();
        let cluster = c.cluster.unwrap();
        assert_eq!(cluster.node, "gw-1");
        assert_eq!(cluster.ca, Some(PathBuf::from("/srv/tb/db-ca.pem")));
        assert_eq!(
            cluster.timeout,
            Duration::from_millis(DEFAULT_CLUSTER_TIMEOUT_MS)
        );
        assert_eq!(c.audit.path, None);
        assert!(
            !format!("{cluster:?}").contains("host=db"),
            "the connection string is not printed"
        );
        let bad = text
            .replace("gw-1", "gw 1")
            .replace("host=db port=5432", "host=db port=x")
            + "pool_size = 0\n";
        let found = problems(&bad);
        assert_eq!(found.len(), 3, "{found:?}");
        assert!(found[0].contains("cluster.database: invalid"), "{found:?}");
        assert!(
            found[1].contains("cluster.node: `gw 1` is not a node name"),
            "{found:?}"
        );
        assert!(
            found[2].contains("cluster.pool_size: must be positive"),
            "{found:?}"
        );
        let none = FULL.replace("[audit]\npath = \"audit.jsonl\"\n", "");
        assert!(problems(&none)[0].contains("audit.path: required"));
    }

    #[test]
    fn upstream_urls() {
        assert!(check_upstream_url("https://hpf.example:8443/api").is_ok());
        assert!(check_upstream_url("http://u:p@host").is_err());
        assert!(check_upstream_url("http://host/?q=1").is_err());
        assert!(check_upstream_url("not a url").is_err());
    }
}
