//! tongban (通办): the gateway of the Wuhan metropolitan area's cross-city government services.
#![forbid(unsafe_code)]
pub mod pki;
