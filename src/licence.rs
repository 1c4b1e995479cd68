//! Electronic licences (电子证照): the compact-JWS format, the verifier and the issuer.
//!
//! - [`jws`]: splitting, limits and the protected header;
//! - [`claims`]: the payload claims;
//! - [`verify`]: the [`Verifier`] running every check of the contract;
//! - [`verdict`]: the verdict and its stable codes;
//! - [`issue`]: signing licences (demo data, tests, `tongban licence issue`).
//!
//! Signature algorithms and keys, SM2 included, are [`crate::crypto`]'s.

pub mod claims;
pub mod issue;
pub mod jws;
pub mod verdict;
pub mod verify;

pub use verdict::{Code, Finding, Judgement, Verdict};
pub use verify::Verifier;
