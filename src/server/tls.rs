//! The public listener's TLS: TLS 1.2 and 1.3 only, ALPN h2 and http/1.1, ring only, and client
//! certificates checked by rustls against the union of every city's anchors (but SM2 ones,
//! which rustls cannot use) and the CRLs of their CAs (but SM2-signed ones, likewise).
//!
//! rustls only proves that the client chain ends at *some* city's anchor; which city may vouch
//! for the caller is judged per connection by [`super::caller`].

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, CertificateRevocationListDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};

use super::config::StaleCrls;
use crate::crypto::{Algorithm, KeyType};
use crate::trust::TrustStore;

/// The server's certificate chain and key, read once at start.
pub struct ServerIdentity {
    pub chain: Vec<CertificateDer<'static>>,
    pub key: PrivateKeyDer<'static>,
}

impl Clone for ServerIdentity {
    fn clone(&self) -> Self {
        Self {
            chain: self.chain.clone(),
            key: self.key.clone_key(),
        }
    }
}

/// Why a TLS configuration could not be made.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{path}: cannot read the server certificate chain: {reason}")]
    Chain { path: PathBuf, reason: String },
    #[error("{path}: cannot read the server key: {reason}")]
    Key { path: PathBuf, reason: String },
    #[error("trust anchor `{subject}` of city {city} is not usable for TLS: {reason}")]
    Anchor {
        city: String,
        subject: String,
        reason: String,
    },
    #[error("the trust directory holds no anchor usable for TLS (ECDSA, Ed25519 or RSA): no client could ever connect")]
    NoAnchors,
    #[error("cannot build the TLS configuration: {0}")]
    Rustls(String),
}

/// The one crypto provider of the gateway.
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

impl ServerIdentity {
    /// Reads a PEM chain (leaf first) and a PEM private key.
    pub fn load(chain: &Path, key: &Path) -> Result<Self, TlsError> {
        let chain_err = |reason: String| TlsError::Chain {
            path: chain.to_path_buf(),
            reason,
        };
        let certs = CertificateDer::pem_file_iter(chain)
            .map_err(|e| chain_err(e.to_string()))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| chain_err(e.to_string()))?;
        if certs.is_empty() {
            return Err(chain_err("no certificate in the file".into()));
        }
        let key = PrivateKeyDer::from_pem_file(key).map_err(|e| TlsError::Key {
            path: key.to_path_buf(),
            reason: e.to_string(),
        })?;
        Ok(Self { chain: certs, key })
    }

    /// Whether a certificate of the chain was made by `tongban init` for trying.
    pub fn is_trial(&self) -> bool {
        self.chain.iter().any(|der| {
            crate::trust::cert::Cert::from_der(der)
                .is_ok_and(|c| c.subject_text().contains(super::config::check::TRIAL_MARK))
        })
    }
}

/// The server configuration for the current trust store; `resumption` false turns session
/// resumption off (no TLS 1.3 tickets, no session cache: every handshake is a full one).
pub fn server_config(
    identity: &ServerIdentity,
    trust: &TrustStore,
    resumption: bool,
    stale_crls: StaleCrls,
) -> Result<Arc<ServerConfig>, TlsError> {
    let mut roots = RootCertStore::empty();
    // rustls has no SM2: an SM2 anchor vouches for licences only, and a city's callers chain to
    // an ECDSA or RSA root beside it in the same `roots.pem` (the dual PKI)
    let tls_anchors = trust
        .all_anchors()
        .filter(|(_, anchor)| anchor.key().key_type() != Some(KeyType::Sm2));
    for (city, anchor) in tls_anchors {
        roots
            .add(CertificateDer::from(anchor.der().to_vec()))
            .map_err(|e| TlsError::Anchor {
                city: city.to_owned(),
                subject: anchor.subject_text().to_owned(),
                reason: e.to_string(),
            })?;
    }
    if roots.is_empty() {
        return Err(TlsError::NoAnchors);
    }
    let provider = provider();
    let roots = Arc::new(roots);
    let mut verifier = WebPkiClientVerifier::builder_with_provider(roots.clone(), provider.clone())
        .with_crls(tls_crls(trust, &roots, &provider))
        // CRLs are optional per CA (contract section 3)
        .allow_unknown_revocation_status()
        // a request without a certificate gets a 401 problem instead of a bare TLS alert
        .allow_unauthenticated();
    if stale_crls == StaleCrls::Refuse {
        verifier = verifier.enforce_revocation_expiration();
    }
    let verifier = verifier
        .build()
        .map_err(|e| TlsError::Rustls(e.to_string()))?;
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS12, &rustls::version::TLS13])
        .map_err(|e| TlsError::Rustls(e.to_string()))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(identity.chain.clone(), identity.key.clone_key())
        .map_err(|e| TlsError::Rustls(e.to_string()))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    if !resumption {
        config.session_storage = Arc::new(rustls::server::NoServerSessionStorage {});
        config.send_tls13_tickets = 0;
    }
    Ok(Arc::new(config))
}

/// The trust directory's CRLs that rustls can apply to callers: those that verified against a
/// CA of their city at load time, signed with ECDSA, RSA or Ed25519. SM2-signed CRLs are left
/// out, as SM2 anchors are: they speak for licence signers, never for a TLS caller's chain. A
/// CRL webpki refuses to parse is left out with a warning (the licence path still uses it).
fn tls_crls(
    trust: &TrustStore,
    roots: &Arc<RootCertStore>,
    provider: &Arc<CryptoProvider>,
) -> Vec<CertificateRevocationListDer<'static>> {
    let mut out = Vec::new();
    for city in trust.city_codes() {
        let Some(city_trust) = trust.city(city) else {
            continue;
        };
        for entry in &city_trust.crls {
            let crl = &entry.crl;
            let usable = !entry.verified_by.is_empty()
                && crl
                    .signature_algorithm()
                    .is_some_and(|alg| alg != Algorithm::Sm2Sm3);
            if !usable {
                continue;
            }
            let der = CertificateRevocationListDer::from(crl.der().to_vec());
            let parsed =
                WebPkiClientVerifier::builder_with_provider(roots.clone(), provider.clone())
                    .with_crls([der.clone()])
                    .build();
            match parsed {
                Ok(_) => out.push(der),
                Err(e) => {
                    tracing::warn!(city, crl = %crl.source(), error = %e, "CRL not usable for TLS callers")
                }
            }
        }
    }
    out
}
