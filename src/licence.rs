//! Electronic licences (电子证照): the compact-JWS format, the verifier and the issuer.
//!
//! - [`jws`]: splitting, limits and the protected header;
//! - [`claims`]: the payload claims;
//! - [`signature`]: JWS algorithms and the licence signature check (ring);
//! - [`verify`]: the [`Verifier`] running every check of the contract;
//! - [`verdict`]: the verdict and its stable codes;
//! - [`issue`]: signing licences (demo data, tests, `tongban licence issue`).

pub mod claims;
pub mod issue;
pub mod jws;
pub mod signature;
pub mod verdict;
pub mod verify;

pub use signature::JwsAlg;
pub use verdict::{Code, Finding, Judgement, Verdict};
pub use verify::Verifier;
