//! CRLs signed by an [`Issued`](super::Issued).

use rcgen::{
    CertificateRevocationListParams, Issuer, KeyIdMethod, KeyPair, RevocationReason,
    RevokedCertParams, SerialNumber,
};

use super::{pem_encode, unix_to_dt, PkiError, UnixTime};

pub(super) fn crl_signed_by(
    issuer: &Issuer<'_, &KeyPair>,
    revoked: &[RevokedCert],
    this_update: UnixTime,
    next_update: UnixTime,
    crl_number: u64,
) -> Result<Crl, PkiError> {
    let revoked_certs = revoked
        .iter()
        .map(|r| {
            Ok(RevokedCertParams {
                serial_number: SerialNumber::from(r.serial),
                revocation_time: unix_to_dt(r.revoked_at)?,
                reason_code: r.reason.map(Reason::rcgen),
                invalidity_date: None,
            })
        })
        .collect::<Result<Vec<_>, PkiError>>()?;
    let params = CertificateRevocationListParams {
        this_update: unix_to_dt(this_update)?,
        next_update: unix_to_dt(next_update)?,
        crl_number: SerialNumber::from(crl_number),
        issuing_distribution_point: None,
        revoked_certs,
        key_identifier_method: KeyIdMethod::Sha256,
    };
    Ok(Crl {
        der: params.signed_by(issuer)?.der().to_vec(),
    })
}

/// One CRL entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RevokedCert {
    /// Serial of the revoked certificate.
    pub serial: u64,
    /// revocationDate.
    pub revoked_at: UnixTime,
    /// reasonCode entry extension; `None` and `Some(Unspecified)` both omit it
    /// (rcgen follows RFC 5280 §5.3.1 and never writes `unspecified`).
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
        self.rcgen() as u8
    }

    fn rcgen(self) -> RevocationReason {
        match self {
            Reason::Unspecified => RevocationReason::Unspecified,
            Reason::KeyCompromise => RevocationReason::KeyCompromise,
            Reason::CaCompromise => RevocationReason::CaCompromise,
            Reason::AffiliationChanged => RevocationReason::AffiliationChanged,
            Reason::Superseded => RevocationReason::Superseded,
            Reason::CessationOfOperation => RevocationReason::CessationOfOperation,
            Reason::CertificateHold => RevocationReason::CertificateHold,
        }
    }
}

/// A DER-encoded X.509 v2 CRL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Crl {
    der: Vec<u8>,
}

impl Crl {
    /// DER.
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// PEM (`X509 CRL`).
    pub fn pem(&self) -> String {
        pem_encode("X509 CRL", &self.der)
    }
}
