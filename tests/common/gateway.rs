//! Helpers of the server tests: a test PKI made by code, an in-process server on ephemeral
//! ports, and a real TLS + hyper client.
#![allow(dead_code)]

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::{HeaderMap, Request, StatusCode};
use hyper_util::rt::TokioIo;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

use tongban::catalog::Catalog;
use tongban::pki::{CertSpec, Issued};
use tongban::server::config::{AuditConfig, CacheConfig, Config, Limits};
use tongban::server::{self, Running};

/// The demo PKI plus the certificates of the negative cases, generated once per test binary.
pub struct Pki {
    pub dir: PathBuf,
    _temp: tempfile::TempDir,
}

pub const DAY: i64 = 86_400;

/// A client identity: PEM chain and key files.
#[derive(Clone, Debug)]
pub struct ClientId {
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl Pki {
    /// The shared PKI (never modify it; use [`Pki::copy`] for that).
    pub fn shared() -> &'static Pki {
        static PKI: OnceLock<Pki> = OnceLock::new();
        PKI.get_or_init(|| Pki::generate().expect("test PKI"))
    }

    fn generate() -> Result<Pki, Box<dyn std::error::Error>> {
        let temp = tempfile::tempdir()?;
        let dir = temp.path().join("pki");
        let catalog = Catalog::embedded()?;
        tongban::pki::demo::generate(&dir, &catalog)?;
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let (nb, na) = (now - DAY, now + DAY);
        // a second anchor for Huangshi whose key we hold: it must not vouch for Wuhan
        let huangshi =
            Issued::self_signed(&CertSpec::root("420200", "test Huangshi root", nb, na))?;
        let mut roots = std::fs::OpenOptions::new()
            .append(true)
            .open(dir.join("trust/420200/roots.pem"))?;
        roots.write_all(huangshi.cert_pem().as_bytes())?;
        let wrong_city = huangshi.issue(&CertSpec::client(
            "420100",
            "GOV_SERVICE",
            "冒充的武汉市政务服务中心",
            None,
            nb,
            na,
        ))?;
        write_id(&dir, "wrong-city", &wrong_city)?;
        let huangshi_ok = huangshi.issue(&CertSpec::client(
            "420200",
            "TAX",
            "黄石市税务局",
            None,
            nb,
            na,
        ))?;
        write_id(&dir, "huangshi-no-org-id", &huangshi_ok)?;
        let unknown_dept = huangshi.issue(&CertSpec::client(
            "420200",
            "ASTROLOGY",
            "黄石市占星局",
            None,
            nb,
            na,
        ))?;
        write_id(&dir, "unknown-dept", &unknown_dept)?;
        // a CA in no trust directory
        let stranger = Issued::self_signed(&CertSpec::root("420100", "stranger root", nb, na))?;
        let untrusted = stranger.issue(&CertSpec::client(
            "420100",
            "GOV_SERVICE",
            "陌生人",
            None,
            nb,
            na,
        ))?;
        write_id(&dir, "untrusted", &untrusted)?;
        Ok(Pki { dir, _temp: temp })
    }

    /// A demo client, e.g. `420100-GOV_SERVICE`.
    pub fn client(&self, name: &str) -> ClientId {
        ClientId {
            cert: self.dir.join(format!("clients/{name}.pem")),
            key: self.dir.join(format!("clients/{name}.key")),
        }
    }

    /// One of the negative-case clients made above.
    pub fn extra(&self, name: &str) -> ClientId {
        ClientId {
            cert: self.dir.join(format!("extra/{name}.pem")),
            key: self.dir.join(format!("extra/{name}.key")),
        }
    }

    pub fn licence(&self, rel: &str) -> Vec<u8> {
        std::fs::read(self.dir.join("licences").join(rel)).expect("licence file")
    }

    /// A private copy of the PKI's files under `to` (for tests that change the trust directory).
    pub fn copy(&self, to: &Path) -> PathBuf {
        copy_dir(&self.dir, to).expect("copy pki");
        to.to_path_buf()
    }
}

fn write_id(dir: &Path, name: &str, issued: &Issued) -> std::io::Result<()> {
    let extra = dir.join("extra");
    std::fs::create_dir_all(&extra)?;
    std::fs::write(extra.join(format!("{name}.pem")), issued.cert_pem())?;
    std::fs::write(extra.join(format!("{name}.key")), issued.key_pem())
}

fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), target)?;
        }
    }
    Ok(())
}

/// A server config over the PKI in `dir`, on ephemeral loopback ports, with an audit log of its
/// own (servers of concurrent tests share the PKI; one log written by two servers is broken).
pub fn config(dir: &Path) -> Config {
    static SERVERS: AtomicUsize = AtomicUsize::new(0);
    let n = SERVERS.fetch_add(1, Ordering::Relaxed);
    Config {
        public: "127.0.0.1:0".parse().unwrap(),
        admin: "127.0.0.1:0".parse().unwrap(),
        tls_cert: dir.join("server/server-chain.pem"),
        tls_key: dir.join("server/server.key"),
        tls_session_resumption: true,
        stale_crls: Default::default(),
        trust_dir: dir.join("trust"),
        policies_dir: None,
        require_signed_policies: false,
        policy_signers: vec!["GOV_SERVICE".into()],
        mask_key_file: None,
        audit: AuditConfig::at(dir.join(format!("audit-{n}.jsonl"))),
        upstreams: Default::default(),
        limits: Limits::default(),
        cache: CacheConfig::default(),
        cluster: None,
    }
}

/// [`config`] with the audit log of its own in `work` (for the tests that count records).
pub fn config_in(dir: &Path, work: &Path) -> Config {
    Config {
        audit: AuditConfig::at(work.join("audit.jsonl")),
        ..config(dir)
    }
}

/// A policies directory under `work`: the shipped catalog, and `items` as the one item file.
pub fn policies_with(work: &Path, items: &str) -> PathBuf {
    let policies = work.join("policies");
    std::fs::create_dir_all(policies.join("catalog")).unwrap();
    std::fs::create_dir_all(policies.join("items")).unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("policies/catalog");
    for f in ["cities.csv", "departments.csv", "licence-types.csv"] {
        std::fs::copy(root.join(f), policies.join("catalog").join(f)).unwrap();
    }
    std::fs::write(policies.join("items/test.toml"), items).unwrap();
    policies
}

/// `tongban.toml` for `tongban serve` in `dir` (a copy of the PKI), with `extra` appended.
pub fn write_serve_config(dir: &Path, extra: &str) -> PathBuf {
    let path = dir.join("tongban.toml");
    std::fs::write(
        &path,
        format!(
            "[listen]\npublic = \"127.0.0.1:0\"\nadmin = \"127.0.0.1:0\"\n\n\
             [tls]\ncert = \"server/server-chain.pem\"\nkey = \"server/server.key\"\n\n\
             [trust]\ndir = \"trust\"\n\n[audit]\npath = \"audit.jsonl\"\n{extra}"
        ),
    )
    .unwrap();
    path
}

/// A JSON upstream on loopback that answers every request with `body`.
pub async fn json_upstream(body: &'static str) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            tokio::spawn(async move {
                let service = hyper::service::service_fn(
                    move |_req: Request<hyper::body::Incoming>| async move {
                        Ok::<_, std::convert::Infallible>(
                            hyper::Response::builder()
                                .header("content-type", "application/json")
                                .body(Full::new(Bytes::from_static(body.as_bytes())))
                                .unwrap(),
                        )
                    },
                );
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(tcp), service)
                    .await;
            });
        }
    });
    addr
}

pub async fn start(config: Config) -> Running {
    server::start(config).await.expect("server starts")
}

/// A TLS client for the server of `dir`, presenting `id` when given.
pub fn connector(dir: &Path, id: Option<&ClientId>) -> TlsConnector {
    connector_with_alpn(dir, id, vec![b"http/1.1".to_vec()])
}

pub fn connector_with_alpn(dir: &Path, id: Option<&ClientId>, alpn: Vec<Vec<u8>>) -> TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_file_iter(dir.join("server/ca.pem")).unwrap() {
        roots.add(c.unwrap()).unwrap();
    }
    let builder = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots);
    let mut config = match id {
        Some(id) => {
            let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&id.cert)
                .unwrap()
                .map(|c| c.unwrap())
                .collect();
            let key = PrivateKeyDer::from_pem_file(&id.key).unwrap();
            builder.with_client_auth_cert(chain, key).unwrap()
        }
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = alpn;
    TlsConnector::from(Arc::new(config))
}

/// Opens a TLS connection to `addr` as `localhost`.
pub async fn tls_connect(
    connector: &TlsConnector,
    addr: SocketAddr,
) -> std::io::Result<TlsStream<TcpStream>> {
    let tcp = TcpStream::connect(addr).await?;
    connector
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
}

/// A response as the tests look at it.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Reply {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", String::from_utf8_lossy(&self.body)))
    }
}

/// One HTTP/1.1 request over a fresh TLS connection; `Err` when TLS or HTTP fails.
pub async fn send(
    connector: &TlsConnector,
    addr: SocketAddr,
    req: Request<Full<Bytes>>,
) -> Result<Reply, String> {
    let tls = tls_connect(connector, addr)
        .await
        .map_err(|e| e.to_string())?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(conn);
    let response = sender.send_request(req).await.map_err(|e| e.to_string())?;
    let (parts, body) = response.into_parts();
    let body = body.collect().await.map_err(|e| e.to_string())?.to_bytes();
    Ok(Reply {
        status: parts.status,
        headers: parts.headers,
        body,
    })
}

/// `POST path` with `content_type` and `body`.
pub fn post(path: &str, content_type: &str, body: impl Into<Bytes>) -> Request<Full<Bytes>> {
    Request::post(path)
        .header("host", "localhost")
        .header("content-type", content_type)
        .body(Full::new(body.into()))
        .unwrap()
}

/// `GET http://admin/path` in plain HTTP.
pub async fn admin_get(addr: SocketAddr, path: &str) -> Reply {
    let tcp = TcpStream::connect(addr).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
        .await
        .unwrap();
    tokio::spawn(conn);
    let req = Request::get(path)
        .header("host", "localhost")
        .body(Full::new(Bytes::new()))
        .unwrap();
    let response = sender.send_request(req).await.unwrap();
    let (parts, body) = response.into_parts();
    Reply {
        status: parts.status,
        headers: parts.headers,
        body: body.collect().await.unwrap().to_bytes(),
    }
}

/// The value of a metric line (exact name with labels) in the exposition, 0 when absent.
pub fn metric(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| {
            l.strip_prefix(series)
                .and_then(|rest| rest.strip_prefix(' '))
        })
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0.0)
}

/// `tongban serve --config FILE` as a child process, with the addresses it logged.
pub struct ServeProcess {
    pub child: tokio::process::Child,
    pub pid: String,
    pub public: SocketAddr,
    pub admin: SocketAddr,
}

/// Starts the real binary and waits (20 s at most) for its "listening" line; the rest of its
/// log is drained in the background.
pub async fn spawn_serve(config_path: &Path) -> ServeProcess {
    use tokio::io::AsyncBufReadExt;
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_tongban"))
        .args(["serve", "--config"])
        .arg(config_path)
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let pid = child.id().unwrap().to_string();
    let mut lines = tokio::io::BufReader::new(child.stderr.take().unwrap()).lines();
    let (public, admin) = loop {
        let line = tokio::time::timeout(std::time::Duration::from_secs(20), lines.next_line())
            .await
            .expect("the server logs its addresses")
            .unwrap()
            .expect("the server is running");
        if line.contains("tongban listening") {
            let field = |name: &str| -> SocketAddr {
                let start = line.find(&format!("{name}=")).unwrap() + name.len() + 1;
                line[start..]
                    .split_whitespace()
                    .next()
                    .unwrap()
                    .parse()
                    .unwrap()
            };
            break (field("public"), field("admin"));
        }
    };
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    ServeProcess {
        child,
        pid,
        public,
        admin,
    }
}

/// Every `<script>` loads a file; no `on…=` handler attribute, no inline style.
pub fn assert_no_inline_script(html: &str) {
    for tag in html.split("<script").skip(1) {
        let head = tag.split('>').next().unwrap_or_default();
        assert!(head.contains(" src=\""), "inline script: <script{head}>");
    }
    let lower = html.to_ascii_lowercase();
    for attr in [
        " onclick=",
        " onload=",
        " onerror=",
        " onsubmit=",
        " style=",
        "javascript:",
    ] {
        assert!(!lower.contains(attr), "{attr} in the page");
    }
}

/// A body of `size` bytes POSTed by curl to `https://localhost:PORT{path}` (`addr`'s port) over
/// HTTP `http` ("2" or "1.1") as client `id`: with its length declared, or (`from_pipe`) chunked
/// from a pipe with no length at all.
/// Returns curl's exit status and stdout: the answer's body, a newline, then
/// `STATUS HTTP_VERSION`.
pub async fn curl_post(
    pki_dir: &Path,
    id: &ClientId,
    (addr, path): (SocketAddr, &str),
    headers: &[&str],
    size: usize,
    from_pipe: bool,
    http: &str,
) -> (std::process::ExitStatus, String, String) {
    let work = tempfile::tempdir().unwrap();
    let body = work.path().join("body");
    std::fs::write(&body, vec![b'a'; size]).unwrap();
    let mut curl = std::process::Command::new("curl");
    curl.args(["--silent", "--show-error", "--max-time", "20"])
        .arg(if http == "2" { "--http2" } else { "--http1.1" })
        .arg("--cacert")
        .arg(pki_dir.join("server/ca.pem"))
        .arg("--cert")
        .arg(&id.cert)
        .arg("--key")
        .arg(&id.key)
        .args(["-w", "\n%{http_code} %{http_version}"])
        .arg(format!("https://localhost:{}{path}", addr.port()));
    for h in headers {
        curl.args(["-H", h]);
    }
    if from_pipe {
        curl.args(["-H", "transfer-encoding: chunked", "--data-binary", "@-"])
            .stdin(std::fs::File::open(&body).unwrap());
    } else {
        curl.arg("--data-binary")
            .arg(format!("@{}", body.display()));
    }
    let out = tokio::task::spawn_blocking(move || curl.output().unwrap())
        .await
        .unwrap();
    (
        out.status,
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
