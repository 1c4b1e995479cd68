//! SM2 with SM3 (国密, GB/T 32918.2 and GM/T 0009) over RustCrypto `sm2`.
//!
//! Interoperability traps met on the way: the signer ID is part of the signed hash (`Z`), and
//! the contract's is GM/T 0009's default `1234567812345678` (OpenSSL 3 signs with an *empty* ID
//! unless told `-sigopt distid:1234567812345678`); an SM2 key comes as `id-ecPublicKey` with the
//! SM2 curve or under the SM2 OID itself; X.509 signatures are DER, JWS signatures `r‖s`.

use std::borrow::Cow;
use std::fmt;

use ::sm2::dsa::signature::Verifier;
use ::sm2::dsa::{Signature, VerifyingKey};
use x509_parser::oid_registry::Oid;

/// The signer ID (distinguishing identifier) every SM2 signature of the contract is made with.
pub const DEFAULT_DISTID: &str = "1234567812345678";
/// The SM2 curve (and, in some encoders, the key algorithm): 1.2.156.10197.1.301.
pub const OID_SM2: &str = "1.2.156.10197.1.301";
/// SM2 signature with SM3: 1.2.156.10197.1.501.
pub const OID_SM2_WITH_SM3: &str = "1.2.156.10197.1.501";
/// DER content bytes of [`OID_SM2`].
const OID_SM2_DER: &[u8] = &[0x2a, 0x81, 0x1c, 0xcf, 0x55, 0x01, 0x82, 0x2d];

/// [`OID_SM2`] as an x509-parser OID.
pub fn oid_sm2() -> Oid<'static> {
    Oid::new(Cow::Borrowed(OID_SM2_DER))
}

/// An SM2 public key, prepared once: the `Z` hash of the signer ID and the key is computed
/// here, not per signature.
#[derive(Clone)]
pub struct Sm2Key {
    point: Vec<u8>,
    verifying: VerifyingKey,
}

impl Sm2Key {
    /// From a SEC1 point (uncompressed or compressed); fails when it is not on the curve.
    pub fn from_sec1(point: &[u8]) -> Result<Self, String> {
        let verifying = VerifyingKey::from_sec1_bytes(DEFAULT_DISTID, point)
            .map_err(|_| "SM2 public key is not a point of the curve".to_owned())?;
        Ok(Self {
            point: point.to_vec(),
            verifying,
        })
    }

    /// The SEC1 point as found in the certificate.
    pub fn point(&self) -> &[u8] {
        &self.point
    }

    /// Checks a DER `SEQUENCE { r, s }` signature (certificates, CRLs).
    pub fn verify_der(&self, message: &[u8], der: &[u8]) -> bool {
        Signature::from_der(der).is_ok_and(|sig| self.verifying.verify(message, &sig).is_ok())
    }

    /// Whether a DER signature that failed was made with the empty signer ID (OpenSSL's default
    /// without `-sigopt distid:…`): only to say so in the error, never to accept it.
    pub fn made_with_empty_distid(&self, message: &[u8], der: &[u8]) -> bool {
        let (Ok(sig), Ok(empty)) = (
            Signature::from_der(der),
            VerifyingKey::from_sec1_bytes("", &self.point),
        ) else {
            return false;
        };
        empty.verify(message, &sig).is_ok()
    }

    /// Checks a 64-byte big-endian `r‖s` signature (JWS); any other length fails.
    pub fn verify_fixed(&self, message: &[u8], rs: &[u8]) -> bool {
        Signature::from_slice(rs).is_ok_and(|sig| self.verifying.verify(message, &sig).is_ok())
    }
}

impl PartialEq for Sm2Key {
    fn eq(&self, other: &Self) -> bool {
        self.point == other.point
    }
}
impl Eq for Sm2Key {}

impl fmt::Debug for Sm2Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sm2Key({})", super::hex(&self.point))
    }
}
