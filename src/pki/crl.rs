//! CRLs signed by an [`Issued`](super::Issued): the entries and their reasons.

use super::{pem_encode, UnixTime};

/// One CRL entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RevokedCert {
    /// Serial of the revoked certificate.
    pub serial: u64,
    /// revocationDate.
    pub revoked_at: UnixTime,
    /// reasonCode entry extension; `None` and `Some(Unspecified)` both omit it
    /// (RFC 5280 §5.3.1: `unspecified` is never written).
    pub reason: Option<Reason>,
}

/// CRL reason codes (RFC 5280 §5.3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reason {
    /// unspecified (0); never written, see [`RevokedCert::reason`].
    Unspecified,
    /// keyCompromise (1).
    KeyCompromise,
    /// cACompromise (2).
    CaCompromise,
    /// affiliationChanged (3).
    AffiliationChanged,
    /// superseded (4).
    Superseded,
    /// cessationOfOperation (5).
    CessationOfOperation,
    /// certificateHold (6).
    CertificateHold,
}

impl Reason {
    /// The RFC 5280 integer code.
    pub fn code(self) -> u8 {
        match self {
            Reason::Unspecified => 0,
            Reason::KeyCompromise => 1,
            Reason::CaCompromise => 2,
            Reason::AffiliationChanged => 3,
            Reason::Superseded => 4,
            Reason::CessationOfOperation => 5,
            Reason::CertificateHold => 6,
        }
    }
}

/// A DER-encoded X.509 v2 CRL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Crl {
    der: Vec<u8>,
}

impl Crl {
    pub(super) fn from_der(der: Vec<u8>) -> Self {
        Self { der }
    }

    /// DER.
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// PEM (`X509 CRL`).
    pub fn pem(&self) -> String {
        pem_encode("X509 CRL", &self.der)
    }
}
