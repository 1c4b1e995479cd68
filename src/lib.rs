//! tongban (通办): the gateway of the Wuhan metropolitan area's cross-city government services
//! (一圈通办). It verifies electronic licences (电子证照) issued by any of the nine cities against
//! each city's trust anchors, and enforces per-item data-sharing policies between departments.
//!
//! # Layout
//! - [`catalog`]: cities, department kinds and the 100 licence types (`policies/catalog/`);
//! - [`checkdigit`], [`lid`]: GB/T 36904 licence ids and the USCC / resident-ID check digits;
//! - [`crypto`]: public and private keys, the signature algorithms (SM2 included), the one
//!   signature check, SHA-256 and hex;
//! - [`trust`]: the trust directory: certificates, keys, CRLs, chain building;
//! - [`licence`]: the licence format, the [`Verifier`] and licence issuing;
//! - [`recognition`]: which city recognises which type from which city;
//! - [`policy`]: the data-sharing policies: model, loading, decision, filtering and masks, rate
//!   limits, and the security teams' tools (test cases, lint, diff, signing);
//! - [`pki`]: the demo and test PKI in every algorithm, made by code (x509-cert);
//! - [`audit`]: the hash-chained audit log: records, writer, verification, and the [`audit::Sink`]
//!   the gateway writes through;
//! - [`cluster`]: several gateways on one PostgreSQL: the audit chains in the database (group
//!   commit, a lease per node), global rate limits, the cluster's figures, migrations;
//! - [`stats`]: the statistics centre's figures (today's exchanges and verifications), fed by
//!   audit records live and rebuilt from the day's log at start;
//! - [`qr`]: licences as QR codes (byte mode, error correction M; SVG and PNG);
//! - [`server`]: the gateway: TLS and client certificates, the HTTP API (licence verification and
//!   the data exchange), the window desk, the statistics centre and hall screen, upstreams, cache,
//!   metrics, reload, the demo;
//! - [`cli`]: the `tongban` command line;
//! - [`time`]: Unix time and the injectable clock;
//! - [`toml_file`]: TOML files into serde structs, every unknown key reported with its line.
#![forbid(unsafe_code)]

pub mod audit;
pub mod catalog;
pub mod checkdigit;
pub mod cli;
pub mod cluster;
pub mod crypto;
pub mod licence;
pub mod lid;
pub mod pki;
pub mod policy;
pub mod qr;
pub mod recognition;
pub mod server;
pub mod stats;
pub mod time;
pub mod toml_file;
pub mod trust;

pub use licence::{Code, Verdict, Verifier};
