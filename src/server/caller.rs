//! Who is calling: taken only from the verified TLS client certificate (contract section 1),
//! never from a header.
//!
//! rustls has already checked the chain against the union of every city's anchors; here the
//! chain must also end at an anchor of the city in the certificate's own `L`, and `OU` must be a
//! department kind of the catalog, and no certificate of the chain may be on its city's CRLs
//! (rustls checks them at the handshake too; this check catches connections opened before a
//! reload that revoked them). A certificate that fails gets 403 `CALLER_NOT_TRUSTED` on
//! every `/v1` request of its connection (the connection is kept so the caller learns why).

use std::sync::Arc;

use hyper::header::{HeaderName, HeaderValue};
use rustls::pki_types::CertificateDer;

use super::config::StaleCrls;
use crate::catalog::Catalog;
use crate::crypto::hex;
use crate::time::{format_rfc3339, UnixTime};
use crate::trust::cert::Cert;
use crate::trust::{chain, TrustStore};

/// The calling department.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    /// `L`: the caller's city; also the verifying city of its licence checks.
    pub city: String,
    /// `OU`: the department kind.
    pub department: String,
    /// `O`, when present.
    pub org_name: Option<String>,
    /// `organizationIdentifier`, else the hex SHA-256 of the certificate.
    pub org: String,
    /// The values of [`CALLER_HEADERS`], made once per connection.
    upstream: [HeaderValue; 4],
    /// Until when this judgement holds without a reload: the first `notAfter` of the chain's
    /// certificates below the anchor, or the first nextUpdate of the CRLs consulted (a CRL
    /// that becomes stale refuses under `stale_crls = "refuse"`). A connection's caller is
    /// judged again after it.
    pub judged_until: UnixTime,
}

impl Caller {
    /// Whether the judgement must be made again at `now`.
    pub fn judgement_expired(&self, now: UnixTime) -> bool {
        now >= self.judged_until
    }
}

/// Headers the gateway sets upstream from the certificate; a caller's own are dropped.
pub const CALLER_HEADERS: [&str; 4] = [
    "x-caller-city",
    "x-caller-department",
    "x-caller-org",
    "x-caller-org-name",
];

impl Caller {
    /// `X-Caller-City`, `-Department`, `-Org` and `-Org-Name` (percent-encoded UTF-8).
    pub fn upstream_headers(&self) -> impl Iterator<Item = (HeaderName, &HeaderValue)> {
        CALLER_HEADERS
            .iter()
            .map(|name| HeaderName::from_static(name))
            .zip(&self.upstream)
    }
}

/// A connection's caller, or why its certificate names none we serve (shared, judged once).
pub type Judged = Result<Arc<Caller>, String>;

/// Why a verified certificate does not name a caller we serve.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CallerError {
    #[error("the client certificate cannot be read: {0}")]
    Unreadable(String),
    #[error("the client certificate has no `L` (city)")]
    NoCity,
    #[error("the client certificate's city `{0}` has no trust anchors here")]
    UnknownCity(String),
    #[error("the client certificate does not chain to an anchor of its own city `{city}`: {why}")]
    WrongCityChain { city: String, why: String },
    #[error("certificate `{subject}` of the client chain is revoked ({reason}) since {since}")]
    Revoked {
        subject: String,
        reason: &'static str,
        since: String,
    },
    #[error("CRL `{0}` of the client chain is past its nextUpdate, and stale CRLs refuse callers (`[trust] stale_crls = \"refuse\"`)")]
    StaleCrl(String),
    #[error("certificate `{0}` of the client chain has expired")]
    Expired(String),
    #[error("the client certificate has no `OU` (department kind)")]
    NoDepartment,
    #[error("`{0}` is not a department kind of the catalog")]
    UnknownDepartment(String),
}

/// Judges the certificates the peer presented (leaf first), already verified by rustls, at
/// `now`: its own city's chain, that city's CRLs (so a connection opened before a reload that
/// revokes it is refused on its next request) and `stale_crls`.
pub fn identify(
    presented: &[CertificateDer<'_>],
    trust: &TrustStore,
    catalog: &Catalog,
    now: UnixTime,
    stale_crls: StaleCrls,
) -> Result<Caller, CallerError> {
    let (leaf, rest) = presented
        .split_first()
        .ok_or_else(|| CallerError::Unreadable("no certificate".into()))?;
    let leaf = Arc::new(Cert::from_der(leaf).map_err(|e| CallerError::Unreadable(e.0))?);
    // intermediates the client sent; unreadable ones simply do not help build a chain
    let extra: Vec<Arc<Cert>> = rest
        .iter()
        .filter_map(|c| Cert::from_der(c).ok().map(Arc::new))
        .collect();
    let identity = leaf.identity();
    let city = identity.city.clone().ok_or(CallerError::NoCity)?;
    let city_trust = trust
        .city(&city)
        .ok_or_else(|| CallerError::UnknownCity(city.clone()))?;
    let chain =
        chain::build(&leaf, &extra, city_trust).map_err(|e| CallerError::WrongCityChain {
            city: city.clone(),
            why: e.0,
        })?;
    let status = city_trust.revocation(&chain.certs, now, now);
    if let Some((cert, entry)) = status.revoked.first() {
        return Err(CallerError::Revoked {
            subject: cert.subject_text().to_owned(),
            reason: entry.reason_name(),
            since: format_rfc3339(entry.revoked_at),
        });
    }
    // below the anchor: rustls checked them at the handshake, this is for a connection kept
    // open past a certificate's end
    let below_anchor = chain.certs.split_last().map_or(&[][..], |(_, rest)| rest);
    if let Some(cert) = below_anchor.iter().find(|c| c.not_after() < now) {
        return Err(CallerError::Expired(cert.subject_text().to_owned()));
    }
    let first_end = below_anchor
        .iter()
        .map(|c| c.not_after().saturating_add(1))
        .min();
    let judged_until = [first_end, status.next_stale]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or(UnixTime::MAX);
    if let Some(crl) = status.stale.first() {
        match stale_crls {
            StaleCrls::Refuse => return Err(CallerError::StaleCrl(crl.source().to_owned())),
            StaleCrls::Warn => {
                tracing::warn!(crl = %crl.source(), city = %city, "a caller's chain is judged with a CRL past its nextUpdate")
            }
        }
    }
    let department = identity
        .department
        .clone()
        .ok_or(CallerError::NoDepartment)?;
    if catalog.department(&department).is_none() {
        return Err(CallerError::UnknownDepartment(department));
    }
    let org_name = identity.org_name.clone();
    let org = identity
        .org_id
        .clone()
        .unwrap_or_else(|| hex(leaf.fingerprint()));
    // certificate text that is no header value (e.g. a control character) is sent empty
    let header = |text: &str| HeaderValue::from_str(text).unwrap_or(HeaderValue::from_static(""));
    let upstream = [
        header(&city),
        header(&department),
        header(&org),
        header(&percent_encode(org_name.as_deref().unwrap_or_default())),
    ];
    Ok(Caller {
        city,
        department,
        org_name,
        org,
        upstream,
        judged_until,
    })
}

/// UTF-8 percent-encoding of everything outside unreserved ASCII (RFC 3986).
pub fn percent_encode(text: &str) -> String {
    let upper = |nibble: u8| crate::crypto::hex::hex_digit(nibble).to_ascii_uppercase();
    let mut out = String::with_capacity(text.len() * 3);
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(upper(b >> 4));
            out.push(upper(b & 0xf));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn organisation_names_are_percent_encoded() {
        assert_eq!(percent_encode("武汉"), "%E6%AD%A6%E6%B1%89");
        assert_eq!(percent_encode("a b"), "a%20b");
    }
}
