//! The verdict on one licence and the stable codes of its errors and warnings (contract section 2).

use std::sync::Arc;

use serde::Serialize;

/// Every error and warning code of the contract.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Code {
    Malformed,
    UnsupportedAlgorithm,
    KeyTooWeak,
    UnknownSigner,
    SignatureInvalid,
    SignerNotEligible,
    ChainUntrusted,
    CertNotValidAtIssuance,
    CertRevoked,
    IssuerNotAuthorized,
    IssuerMismatch,
    LidInvalid,
    UnknownLicenceType,
    SchemaViolation,
    LicenceNotYetValid,
    LicenceExpired,
    IssuedInFuture,
    LicenceRevoked,
    #[serde(rename = "NOT_RECOGNIZED")]
    NotRecognized,
    /// Warning: a holder's USCC or resident-ID check digit fails.
    HolderIdCheck,
    /// Warning: a CRL used is past its nextUpdate.
    CrlStale,
}

impl Code {
    /// Every code, errors first; used by metrics and tests.
    pub const ALL: [Code; 21] = [
        Code::Malformed,
        Code::UnsupportedAlgorithm,
        Code::KeyTooWeak,
        Code::UnknownSigner,
        Code::SignatureInvalid,
        Code::SignerNotEligible,
        Code::ChainUntrusted,
        Code::CertNotValidAtIssuance,
        Code::CertRevoked,
        Code::IssuerNotAuthorized,
        Code::IssuerMismatch,
        Code::LidInvalid,
        Code::UnknownLicenceType,
        Code::SchemaViolation,
        Code::LicenceNotYetValid,
        Code::LicenceExpired,
        Code::IssuedInFuture,
        Code::LicenceRevoked,
        Code::NotRecognized,
        Code::HolderIdCheck,
        Code::CrlStale,
    ];

    /// The code as it appears in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Code::Malformed => "MALFORMED",
            Code::UnsupportedAlgorithm => "UNSUPPORTED_ALGORITHM",
            Code::KeyTooWeak => "KEY_TOO_WEAK",
            Code::UnknownSigner => "UNKNOWN_SIGNER",
            Code::SignatureInvalid => "SIGNATURE_INVALID",
            Code::SignerNotEligible => "SIGNER_NOT_ELIGIBLE",
            Code::ChainUntrusted => "CHAIN_UNTRUSTED",
            Code::CertNotValidAtIssuance => "CERT_NOT_VALID_AT_ISSUANCE",
            Code::CertRevoked => "CERT_REVOKED",
            Code::IssuerNotAuthorized => "ISSUER_NOT_AUTHORIZED",
            Code::IssuerMismatch => "ISSUER_MISMATCH",
            Code::LidInvalid => "LID_INVALID",
            Code::UnknownLicenceType => "UNKNOWN_LICENCE_TYPE",
            Code::SchemaViolation => "SCHEMA_VIOLATION",
            Code::LicenceNotYetValid => "LICENCE_NOT_YET_VALID",
            Code::LicenceExpired => "LICENCE_EXPIRED",
            Code::IssuedInFuture => "ISSUED_IN_FUTURE",
            Code::LicenceRevoked => "LICENCE_REVOKED",
            Code::NotRecognized => "NOT_RECOGNIZED",
            Code::HolderIdCheck => "HOLDER_ID_CHECK",
            Code::CrlStale => "CRL_STALE",
        }
    }

    /// Warnings never make a licence invalid.
    pub fn is_warning(self) -> bool {
        matches!(self, Code::HolderIdCheck | Code::CrlStale)
    }
}

/// One error or warning.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub code: Code,
    pub message: String,
}

impl Finding {
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

/// The issuing department, from the signer certificate.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct IssuerInfo {
    pub city: Option<String>,
    pub department: Option<String>,
    pub org_id: Option<String>,
    pub org_name: Option<String>,
}

/// The licence holder, from the payload.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct HolderInfo {
    pub name: Option<String>,
    pub id: Option<String>,
    pub id_type: Option<String>,
}

/// The verdict on one licence; `valid` exactly when `errors` is empty.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Verdict {
    pub valid: bool,
    pub lid: Option<String>,
    pub ltype: Option<String>,
    pub ltype_name: Option<String>,
    /// Shared by every verdict on the same signer.
    pub issuer: Option<Arc<IssuerInfo>>,
    pub holder: Option<HolderInfo>,
    pub errors: Vec<Finding>,
    pub warnings: Vec<Finding>,
    pub verified_for_city: String,
    pub cached: bool,
    /// Our extension: the licence's `iat`, `nbf` and `exp` (Unix seconds) when readable.
    pub iat: Option<i64>,
    pub nbf: Option<i64>,
    pub exp: Option<i64>,
}

/// What verification found beyond the licence's own text: the signer's department and the
/// errors and warnings. With the licence it gives back the whole verdict
/// ([`Verifier::reassemble`](super::Verifier::reassemble)), so a cache keeps only this.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Judgement {
    pub issuer: Option<Arc<IssuerInfo>>,
    /// Errors, then warnings, each in the verdict's order.
    pub findings: Box<[Finding]>,
}

impl Verdict {
    /// An empty verdict for `city`: not valid, nothing read yet.
    pub(super) fn new(city: &str) -> Self {
        Self {
            valid: false,
            lid: None,
            ltype: None,
            ltype_name: None,
            issuer: None,
            holder: None,
            errors: Vec::new(),
            warnings: Vec::new(),
            verified_for_city: city.to_owned(),
            cached: false,
            iat: None,
            nbf: None,
            exp: None,
        }
    }

    /// The part of this verdict that is not read from the licence itself.
    pub fn judgement(&self) -> Judgement {
        Judgement {
            issuer: self.issuer.clone(),
            findings: self.errors.iter().chain(&self.warnings).cloned().collect(),
        }
    }

    /// Codes of the errors, in order.
    pub fn error_codes(&self) -> Vec<Code> {
        self.errors.iter().map(|f| f.code).collect()
    }

    pub fn has_error(&self, code: Code) -> bool {
        self.errors.iter().any(|f| f.code == code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_serialize_as_the_contract_spells_them() {
        for code in Code::ALL {
            let json = serde_json::to_string(&code).unwrap();
            assert_eq!(json, format!("\"{}\"", code.as_str()));
        }
        assert_eq!(Code::ALL.iter().filter(|c| c.is_warning()).count(), 2);
    }
}
