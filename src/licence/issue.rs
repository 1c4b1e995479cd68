//! Signing licences: the demo data, the tests and `tongban licence issue` all use this.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use serde_json::{json, Map, Value};

use super::jws::LICENCE_TYP;
use crate::catalog::Catalog;
use crate::crypto::{Algorithm, Form, KeyError, PrivateKey};
use crate::lid::make_lid;
use crate::time::UnixTime;
use crate::trust::cert::Cert;

/// Why a licence could not be issued.
#[derive(Debug, thiserror::Error)]
pub enum IssueError {
    #[error("signer certificate: {0}")]
    Cert(String),
    #[error("signer key: {0}")]
    Key(KeyError),
    #[error("the signer key is {key}, but the signer certificate's key is {cert}")]
    KeyNotCertificate {
        key: &'static str,
        cert: &'static str,
    },
    #[error("`{0}` is not a JWS algorithm of the contract")]
    NotJws(Algorithm),
    #[error("the signer certificate has no organizationIdentifier to issue under")]
    NoOrgId,
    #[error("`{0}` is not a licence type of the catalog")]
    UnknownType(String),
    #[error("lid: {0}")]
    Lid(String),
    #[error("signing failed: {0}")]
    Sign(#[from] KeyError),
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
    alg: Algorithm,
    key: PrivateKey,
    header_b64: String,
    org_id: Option<String>,
}

impl LicenceSigner {
    /// `chain`: DER certificates, signer first; `key_pem`: its PKCS#8 private key. `alg`
    /// defaults to the key's natural algorithm (`SM2` for an SM2 key).
    pub fn new(
        key_pem: &str,
        chain: &[Vec<u8>],
        alg: Option<Algorithm>,
        header: SignerHeader,
    ) -> Result<Self, IssueError> {
        Self::with_typ(key_pem, chain, alg, header, LICENCE_TYP)
    }

    /// A signer of JWS objects of another `typ` (signed policy sets use it).
    pub fn with_typ(
        key_pem: &str,
        chain: &[Vec<u8>],
        alg: Option<Algorithm>,
        header: SignerHeader,
        typ: &str,
    ) -> Result<Self, IssueError> {
        let signer_der = chain
            .first()
            .ok_or_else(|| IssueError::Cert("no certificate given".into()))?;
        let signer = Cert::from_der(signer_der).map_err(|e| IssueError::Cert(e.to_string()))?;
        let key = PrivateKey::from_pkcs8_pem(key_pem).map_err(IssueError::Key)?;
        if key.public_key() != *signer.key() {
            return Err(IssueError::KeyNotCertificate {
                key: key.key_type().name(),
                cert: signer.key().kind(),
            });
        }
        let alg = alg.unwrap_or_else(|| Algorithm::default_for(key.key_type()));
        let name = alg.jws_name().ok_or(IssueError::NotJws(alg))?;
        let mut protected = Map::new();
        protected.insert("alg".into(), json!(name));
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

    pub fn alg(&self) -> Algorithm {
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
    key: &PrivateKey,
    alg: Algorithm,
) -> Result<String, IssueError> {
    let signing_input = format!("{header_b64}.{}", URL_SAFE_NO_PAD.encode(payload));
    let signature = key.sign(alg, Form::Jws, signing_input.as_bytes())?;
    Ok(format!(
        "{signing_input}.{}",
        URL_SAFE_NO_PAD.encode(signature)
    ))
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
