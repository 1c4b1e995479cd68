//! The data exchange's upstreams: one pooled hyper client per upstream (HTTP, or HTTPS with the
//! upstream's own roots, ring only), keep-alive, and its timeout.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::combinators::BoxBody;
use hyper::body::Bytes;
use hyper::Uri;
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;

use super::config::Upstream as UpstreamConfig;

/// The body type sent upstream: the caller's body, streamed under the size limit.
pub type UpstreamBody = BoxBody<Bytes, Box<dyn std::error::Error + Send + Sync>>;
type HttpClient = Client<HttpsConnector<HttpConnector>, UpstreamBody>;

/// Idle upstream connections kept per host; enough for the gateway's concurrency.
const POOL_MAX_IDLE_PER_HOST: usize = 256;
/// Idle upstream connections are closed after this long.
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// Why an upstream could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamSetupError {
    #[error("upstream `{name}`: {why}")]
    Invalid { name: String, why: String },
}

/// One upstream.
pub struct Upstream {
    /// `scheme://authority` and a path prefix without trailing slash.
    pub scheme: String,
    pub authority: String,
    pub prefix: String,
    pub timeout: Duration,
    pub client: HttpClient,
}

/// Every configured upstream, by name.
#[derive(Default)]
pub struct Upstreams {
    by_name: HashMap<String, Arc<Upstream>>,
}

impl Upstreams {
    pub fn new(
        config: &std::collections::BTreeMap<String, UpstreamConfig>,
    ) -> Result<Self, UpstreamSetupError> {
        let mut by_name = HashMap::new();
        for (name, u) in config {
            let bad = |why: String| UpstreamSetupError::Invalid {
                name: name.clone(),
                why,
            };
            let uri: Uri = u.url.parse().map_err(|e| bad(format!("url: {e}")))?;
            let scheme = uri.scheme_str().unwrap_or("http").to_owned();
            let authority = uri
                .authority()
                .map(|a| a.to_string())
                .ok_or_else(|| bad("url has no host".into()))?;
            let prefix = uri.path().trim_end_matches('/').to_owned();
            let tls = client_tls(u).map_err(bad)?;
            let connector = HttpsConnectorBuilder::new()
                .with_tls_config(tls)
                .https_or_http()
                .enable_http1()
                .build();
            let client = Client::builder(TokioExecutor::new())
                .pool_idle_timeout(POOL_IDLE_TIMEOUT)
                .pool_max_idle_per_host(POOL_MAX_IDLE_PER_HOST)
                .build(connector);
            by_name.insert(
                name.clone(),
                Arc::new(Upstream {
                    scheme,
                    authority,
                    prefix,
                    timeout: u.timeout,
                    client,
                }),
            );
        }
        Ok(Self { by_name })
    }

    pub fn get(&self, name: &str) -> Option<Arc<Upstream>> {
        self.by_name.get(name).cloned()
    }

    pub fn names(&self) -> std::collections::HashSet<String> {
        self.by_name.keys().cloned().collect()
    }
}

impl Upstream {
    /// The upstream URI for the caller's remaining path and query.
    pub fn uri(&self, rest: &str, query: Option<&str>) -> Result<Uri, String> {
        let mut text = format!(
            "{}://{}{}/{}",
            self.scheme, self.authority, self.prefix, rest
        );
        if let Some(q) = query {
            text.push('?');
            text.push_str(q);
        }
        text.parse().map_err(|e| format!("{e}"))
    }
}

/// TLS to an upstream trusts only the roots named by its `ca` (ring provider, TLS 1.2+).
pub(crate) fn client_tls(u: &UpstreamConfig) -> Result<rustls::ClientConfig, String> {
    let mut roots = rustls::RootCertStore::empty();
    if let Some(ca) = &u.ca {
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(ca)
            .map_err(|e| format!("ca `{}`: {e}", ca.display()))?
            .collect::<Result<_, _>>()
            .map_err(|e| format!("ca `{}`: {e}", ca.display()))?;
        for cert in certs {
            roots
                .add(cert)
                .map_err(|e| format!("ca `{}`: {e}", ca.display()))?;
        }
    } else if u.url.starts_with("https://") {
        return Err("an https upstream needs `ca` (the PEM roots to trust)".into());
    }
    rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_protocol_versions(&[&rustls::version::TLS12, &rustls::version::TLS13])
        .map_err(|e| e.to_string())
        .map(|b| b.with_root_certificates(roots).with_no_client_auth())
}
