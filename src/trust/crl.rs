//! X.509 CRLs and the contract's revocation rule.

use std::collections::HashMap;

use x509_parser::prelude::{CertificateRevocationList, FromDer};

use super::cert::strip_leading_zeros;
use crate::crypto::{self, Algorithm, PublicKey, Signature, SignatureError};
use crate::time::UnixTime;

/// CRLReason codes (RFC 5280 5.3.1) that mean the key itself is compromised: revoked at any time.
const COMPROMISE_REASONS: [u8; 3] = [
    1,  /* keyCompromise */
    2,  /* cACompromise */
    10, /* aACompromise */
];
/// removeFromCRL: the entry un-revokes (delta CRLs); never a revocation.
const REMOVE_FROM_CRL: u8 = 8;

/// One revoked certificate entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Revocation {
    pub revoked_at: UnixTime,
    /// CRLReason code, `None` when the entry has none.
    pub reason: Option<u8>,
}

impl Revocation {
    /// The contract's rule: a compromise (or no reason) revokes at any time; any other reason
    /// revokes certificates whose use (`iat`) is at or after the revocation date.
    pub fn revokes_at(&self, iat: UnixTime) -> bool {
        match self.reason {
            None => true,
            Some(r) if COMPROMISE_REASONS.contains(&r) => true,
            Some(REMOVE_FROM_CRL) => false,
            Some(_) => self.revoked_at <= iat,
        }
    }

    /// The reason's RFC 5280 name, for messages.
    pub fn reason_name(&self) -> &'static str {
        match self.reason {
            None => "no reason given",
            Some(0) => "unspecified",
            Some(1) => "keyCompromise",
            Some(2) => "cACompromise",
            Some(3) => "affiliationChanged",
            Some(4) => "superseded",
            Some(5) => "cessationOfOperation",
            Some(6) => "certificateHold",
            Some(8) => "removeFromCRL",
            Some(9) => "privilegeWithdrawn",
            Some(10) => "aACompromise",
            Some(_) => "unknown reason",
        }
    }
}

/// A parsed CRL.
#[derive(Clone, Debug)]
pub struct Crl {
    source: String,
    der: Vec<u8>,
    issuer: Vec<u8>,
    this_update: UnixTime,
    next_update: Option<UnixTime>,
    entries: HashMap<Vec<u8>, Revocation>,
    tbs: Vec<u8>,
    /// `None`: a signature algorithm outside the certificate profile.
    sig_alg: Option<Algorithm>,
    signature: Vec<u8>,
}

impl Crl {
    /// Parses a DER CRL; `source` names it in messages.
    pub fn from_der(der: &[u8], source: &str) -> Result<Self, String> {
        let (_, crl) = CertificateRevocationList::from_der(der)
            .map_err(|e| format!("`{source}` is not a readable CRL: {e}"))?;
        let entries = crl
            .iter_revoked_certificates()
            .map(|entry| {
                let revocation = Revocation {
                    revoked_at: entry.revocation_date.timestamp(),
                    reason: entry.reason_code().map(|(_, code)| code.0),
                };
                (strip_leading_zeros(entry.raw_serial()).to_vec(), revocation)
            })
            .collect();
        Ok(Self {
            source: source.to_owned(),
            der: der.to_vec(),
            issuer: crl.issuer().as_raw().to_vec(),
            this_update: crl.last_update().timestamp(),
            next_update: crl.next_update().map(|t| t.timestamp()),
            entries,
            tbs: crl.tbs_cert_list.as_ref().to_vec(),
            sig_alg: Algorithm::from_x509_oid(&crl.signature_algorithm.algorithm),
            signature: crl.signature_value.data.to_vec(),
        })
    }

    /// The CRL as read (DER).
    pub fn der(&self) -> &[u8] {
        &self.der
    }
    /// Its signature algorithm; `None` outside the certificate profile.
    pub fn signature_algorithm(&self) -> Option<Algorithm> {
        self.sig_alg
    }
    /// Its nextUpdate, when it has one.
    pub fn next_update(&self) -> Option<UnixTime> {
        self.next_update
    }
    pub fn source(&self) -> &str {
        &self.source
    }
    /// Raw DER of the issuer name.
    pub fn issuer(&self) -> &[u8] {
        &self.issuer
    }
    pub fn this_update(&self) -> UnixTime {
        self.this_update
    }
    /// Past its nextUpdate at `now` (still used, with the warning `CRL_STALE`).
    pub fn is_stale(&self, now: UnixTime) -> bool {
        self.next_update.is_some_and(|next| next < now)
    }
    /// The entry for a serial (big-endian, leading zeros stripped).
    pub fn lookup(&self, serial: &[u8]) -> Option<&Revocation> {
        self.entries.get(serial)
    }
    /// Checks that `issuer` signed this CRL, in the algorithm of the issuer's key.
    pub fn verify_signed_by(&self, issuer: &PublicKey) -> Result<(), SignatureError> {
        let alg = self.sig_alg.ok_or(SignatureError::UnsupportedAlgorithm)?;
        crypto::verify(alg, issuer, &self.tbs, Signature::X509(&self.signature))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn revocation_rule() {
        let at = |reason| Revocation {
            revoked_at: 1000,
            reason,
        };
        // key compromise and no reason: revoked whatever the time
        assert!(at(Some(1)).revokes_at(10));
        assert!(at(None).revokes_at(10));
        assert!(at(Some(2)).revokes_at(10));
        // superseded: only at or after the revocation date
        assert!(!at(Some(4)).revokes_at(999));
        assert!(at(Some(4)).revokes_at(1000));
        assert!(at(Some(0)).revokes_at(2000));
        assert!(!at(Some(REMOVE_FROM_CRL)).revokes_at(2000));
    }
}
