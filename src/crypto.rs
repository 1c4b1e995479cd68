//! Signatures and digests in one place: every public key, every signature algorithm of the
//! contract (X.509 certificates and CRLs, JWS licences and policy sets) and the one function that
//! checks a signature.
//!
//! One crypto stack: ring for everything ring does (ECDSA P-256/P-384, Ed25519, RSA, SHA-2);
//! the JWS forms of those go through jsonwebtoken's ring backend; RustCrypto `sm2` only for
//! national cryptography (国密 SM2 with SM3), which ring lacks.
//!
//! # Layout
//! - [`alg`]: [`Algorithm`], one enum for X.509 signature OIDs and JWS `alg` names;
//! - [`key`]: [`PublicKey`] from a SubjectPublicKeyInfo (SM2 in both of its forms);
//! - [`verify`](mod@verify): [`verify`], the one signature check, and [`SignatureError`];
//! - [`private`]: [`PrivateKey`]: PKCS#8 keys that sign certificates, CRLs and licences
//!   (issuing, the demo and the test PKI);
//! - [`sm2`](mod@sm2): SM2 specifics (signer ID, OIDs, prepared verifying keys);
//! - [`digest`]: SHA-256 helpers; [`hex`]: hex encoding.

pub mod alg;
pub mod digest;
pub mod hex;
pub mod key;
pub mod private;
pub mod sm2;
pub mod verify;

pub use alg::{Algorithm, Form};
pub use digest::{sha256, sha256_of};
pub use hex::{decode_hex, hex};
pub use key::{KeyType, PublicKey, MIN_RSA_BITS};
pub use private::{KeyError, PrivateKey};
pub use verify::{verify, Signature, SignatureError};
