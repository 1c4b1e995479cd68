//! Signing licences: the demo data, the tests and `tongban licence issue` all use this.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use jsonwebtoken::{crypto, EncodingKey};
use serde_json::{json, Map, Value};

use super::jws::LICENCE_TYP;
use super::signature::JwsAlg;
use crate::catalog::Catalog;
use crate::lid::make_lid;
use crate::time::UnixTime;
use crate::trust::cert::Cert;

/// Why a licence could not be issued.
#[derive(Debug, thiserror::Error)]
pub enum IssueError {
    #[error("signer certificate: {0}")]
    Cert(String),
    #[error("signer key does not fit `{alg}`: {source}")]
    Key {
        alg: JwsAlg,
        source: jsonwebtoken::errors::Error,
    },
    #[error("the signer certificate's key type has no licence algorithm")]
    NoAlgorithm,
    #[error("the signer certificate has no organizationIdentifier to issue under")]
    NoOrgId,
    #[error("`{0}` is not a licence type of the catalog")]
    UnknownType(String),
    #[error("lid: {0}")]
    Lid(String),
    #[error("signing failed: {0}")]
    Sign(#[from] jsonwebtoken::errors::Error),
}

/// How the header names the signer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignerHeader {
    /// `x5c` with the signer certificate and the given intermediates.
    X5c,
    /// `kid` only: verifiers resolve it from the trust directory's `signers/`.
    Kid,
}

/// A department's licence-signing key with its certificate chain.
pub struct LicenceSigner {
    alg: JwsAlg,
    key: EncodingKey,
    header_b64: String,
    org_id: Option<String>,
}

impl LicenceSigner {
    /// `chain`: DER certificates, signer first. `alg` defaults to the key's natural algorithm.
    pub fn new(
        key_pem: &str,
        chain: &[Vec<u8>],
        alg: Option<JwsAlg>,
        header: SignerHeader,
    ) -> Result<Self, IssueError> {
        Self::with_typ(key_pem, chain, alg, header, LICENCE_TYP)
    }

    /// A signer of JWS objects of another `typ` (signed policy sets use it).
    pub fn with_typ(
        key_pem: &str,
        chain: &[Vec<u8>],
        alg: Option<JwsAlg>,
        header: SignerHeader,
        typ: &str,
    ) -> Result<Self, IssueError> {
        let signer_der = chain
            .first()
            .ok_or_else(|| IssueError::Cert("no certificate given".into()))?;
        let signer = Cert::from_der(signer_der).map_err(|e| IssueError::Cert(e.to_string()))?;
        let alg = alg
            .or_else(|| JwsAlg::for_key(signer.key()))
            .ok_or(IssueError::NoAlgorithm)?;
        let pem = key_pem.as_bytes();
        let key = match alg {
            JwsAlg::ES256 | JwsAlg::ES384 => EncodingKey::from_ec_pem(pem),
            JwsAlg::EdDSA => EncodingKey::from_ed_pem(pem),
            JwsAlg::RS256 | JwsAlg::PS256 => EncodingKey::from_rsa_pem(pem),
        }
        .map_err(|source| IssueError::Key { alg, source })?;
        let mut protected = Map::new();
        protected.insert("alg".into(), json!(alg.as_str()));
        protected.insert("typ".into(), json!(typ));
        match header {
            SignerHeader::X5c => {
                protected.insert(
                    "x5c".into(),
                    chain
                        .iter()
                        .map(|der| json!(STANDARD.encode(der)))
                        .collect(),
                );
            }
            SignerHeader::Kid => {
                protected.insert("kid".into(), json!(URL_SAFE_NO_PAD.encode(signer.kid())));
            }
        }
        Ok(Self {
            alg,
            key,
            header_b64: URL_SAFE_NO_PAD.encode(Value::Object(protected).to_string()),
            org_id: signer.identity().org_id.clone(),
        })
    }

    pub fn alg(&self) -> JwsAlg {
        self.alg
    }

    /// The signer's organizationIdentifier: the `iss` of its licences.
    pub fn org_id(&self) -> Option<&str> {
        self.org_id.as_deref()
    }

    /// Signs a payload (any JSON value; the verifier wants an object).
    pub fn sign(&self, payload: &Value) -> Result<String, IssueError> {
        sign_parts(
            &self.header_b64,
            payload.to_string().as_bytes(),
            &self.key,
            self.alg,
        )
    }
}

/// Signs `header_b64.base64url(payload)`; tests use it to build hostile licences.
pub fn sign_parts(
    header_b64: &str,
    payload: &[u8],
    key: &EncodingKey,
    alg: JwsAlg,
) -> Result<String, IssueError> {
    let signing_input = format!("{header_b64}.{}", URL_SAFE_NO_PAD.encode(payload));
    let signature = crypto::sign(signing_input.as_bytes(), key, alg.jsonwebtoken())?;
    Ok(format!("{signing_input}.{signature}"))
}

/// The facts of a licence to issue; `claims` turns them into a payload with a valid lid.
#[derive(Clone, Debug)]
pub struct Draft {
    pub ltype: String,
    pub serial: String,
    pub holder_name: String,
    pub holder_id: String,
    pub holder_id_type: String,
    pub iat: UnixTime,
    pub nbf: Option<UnixTime>,
    pub exp: Option<UnixTime>,
    /// Field values; required fields missing here are filled with a placeholder.
    pub fields: Map<String, Value>,
}

impl Draft {
    /// The payload of this draft, issued under `iss` (the signer's organizationIdentifier).
    pub fn claims(&self, catalog: &Catalog, iss: &str) -> Result<Value, IssueError> {
        let t = catalog
            .licence_type(&self.ltype)
            .ok_or_else(|| IssueError::UnknownType(self.ltype.clone()))?;
        let lid = make_lid(&t.type_code, iss, &self.serial, "001")
            .map_err(|e| IssueError::Lid(e.to_string()))?;
        let mut fields = self.fields.clone();
        for name in &t.required_fields {
            fields
                .entry(name.clone())
                .or_insert_with(|| json!(format!("示例{name}")));
        }
        let mut claims = json!({
            "lid": lid,
            "ltype": t.code,
            "iss": iss,
            "holder": { "name": self.holder_name, "id": self.holder_id, "id_type": self.holder_id_type },
            "iat": self.iat,
            "fields": fields,
        });
        if let Some(obj) = claims.as_object_mut() {
            if let Some(nbf) = self.nbf {
                obj.insert("nbf".into(), json!(nbf));
            }
            if let Some(exp) = self.exp {
                obj.insert("exp".into(), json!(exp));
            }
        }
        Ok(claims)
    }

    /// Signs this draft with `signer`.
    pub fn issue(&self, catalog: &Catalog, signer: &LicenceSigner) -> Result<String, IssueError> {
        let iss = signer.org_id().ok_or(IssueError::NoOrgId)?;
        signer.sign(&self.claims(catalog, iss)?)
    }
}
