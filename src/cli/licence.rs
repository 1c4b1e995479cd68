//! `tongban licence issue`: sign licences with a department's key (one, or a numbered series
//! for load tests); `tongban licence qr` ([`qr`]): a licence as a QR code.

mod qr;

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;
use serde_json::{json, Map};

use super::{fail, policies_dir};
use crate::catalog::Catalog;
use crate::checkdigit;
use crate::crypto::alg::JWS_NAMES;
use crate::crypto::Algorithm;
use crate::licence::issue::{Draft, LicenceSigner, SignerHeader};
use crate::time::{parse_rfc3339, Clock, SystemClock};

#[derive(Debug, Subcommand)]
#[allow(
    clippy::large_enum_variant,
    reason = "parsed once per process: the size of the larger variant does not matter"
)]
pub enum Command {
    /// Issue a licence (or `--count N`); prints each compact JWS on its own line.
    Issue(IssueArgs),
    /// A licence as a QR code (SVG to standard output, or `--out` .svg/.png); refuses one too
    /// large for a QR code, saying by how many bytes (exit 1).
    Qr(qr::QrArgs),
}

#[derive(Debug, clap::Args)]
pub struct IssueArgs {
    /// Signer chain PEM: the signing certificate first, then intermediates.
    #[arg(long, value_name = "PEM")]
    cert: PathBuf,
    /// The signer's PKCS#8 private key (PEM `PRIVATE KEY`, as `openssl genpkey` writes it; SM2 keys
    /// included).
    #[arg(long, value_name = "PEM")]
    key: PathBuf,
    /// Licence type code from the catalog, e.g. BUSINESS_LICENCE.
    #[arg(long = "type", value_name = "CODE")]
    ltype: String,
    /// Serial of the lid: 1–32 characters 0-9A-Z. With `--count`, the prefix of each serial.
    #[arg(long)]
    serial: String,
    /// Issue this many licences, serials SERIAL0, SERIAL1, … (the number zero-padded to the
    /// width of COUNT-1: `--serial B --count 1000` gives B000 … B999), one JWS per line.
    #[arg(long, value_name = "N", default_value_t = 1,
          value_parser = clap::value_parser!(u32).range(1..=i64::from(MAX_COUNT)))]
    count: u32,
    /// The holder's name: a person's or an organisation's (`holder.name`).
    #[arg(long, value_name = "NAME")]
    holder_name: String,
    /// The holder's identifier (`holder.id`): a resident ID number or a USCC; a failed check
    /// digit is warned about, as verifiers will (`HOLDER_ID_CHECK`).
    #[arg(long, value_name = "ID")]
    holder_id: String,
    /// What `--holder-id` is: USCC, ID_NUMBER or OTHER.
    #[arg(long, value_name = "TYPE", default_value = "ID_NUMBER",
          value_parser = ["USCC", "ID_NUMBER", "OTHER"])]
    holder_id_type: String,
    /// A field of the licence, `名称=值`; repeatable. Every required field of the type must be
    /// given (the error names those missing), unless --placeholders.
    #[arg(long = "field", value_name = "KEY=VALUE")]
    fields: Vec<String>,
    /// Fill required fields left out with `示例<name>` (trying and testing only; a notice names
    /// them).
    #[arg(long)]
    placeholders: bool,
    /// Issuance time (RFC 3339); default now.
    #[arg(long, value_name = "RFC3339")]
    iat: Option<String>,
    /// Expiry (RFC 3339); default none.
    #[arg(long, value_name = "RFC3339")]
    exp: Option<String>,
    /// Name the signer by `kid` instead of `x5c` (shorter: the form for QR codes).
    #[arg(long)]
    kid: bool,
    /// Signature algorithm: ES256, ES384, EdDSA, RS256, PS256 or SM2 (国密 SM2 with SM3); default
    /// the key's own (RSA: RS256; an SM2 key: SM2).
    #[arg(long, value_name = "ALG")]
    alg: Option<String>,
    /// Policies directory for the catalog; default `./policies`, else built-in.
    #[arg(long, value_name = "DIR")]
    policies: Option<PathBuf>,
}

/// Most licences one `--count` issues: a million is minutes of signing and ~2 GB of output.
const MAX_COUNT: u32 = 1_000_000;

pub fn run(command: Command) -> ExitCode {
    match command {
        Command::Issue(args) => match issue(&args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => fail(e),
        },
        Command::Qr(args) => qr::run(&args),
    }
}

/// Every required field of the type given, or (with `--placeholders`) a notice naming those
/// that `Draft::claims` will fill.
fn check_fields(
    catalog: &Catalog,
    args: &IssueArgs,
    fields: &Map<String, serde_json::Value>,
) -> Result<(), String> {
    let Some(ltype) = catalog.licence_type(&args.ltype) else {
        return Err(format!(
            "--type `{}` is not a licence type of the catalog",
            args.ltype
        ));
    };
    let missing: Vec<&str> = ltype
        .required_fields
        .iter()
        .filter(|f| !fields.contains_key(f.as_str()))
        .map(String::as_str)
        .collect();
    match (missing.is_empty(), args.placeholders) {
        (true, _) => Ok(()),
        (false, true) => {
            eprintln!(
                "tongban: notice: placeholders for {} (for testing only)",
                missing.join(", ")
            );
            Ok(())
        }
        (false, false) => Err(format!(
            "--type {} needs the field(s) {}: add `--field NAME=VALUE` for each (or \
             --placeholders to fill them with `示例…` for testing)",
            ltype.code,
            missing.join(", ")
        )),
    }
}

/// A warning when the holder id fails its check digit (never the id itself: personal data).
fn warn_holder_id(args: &IssueArgs) {
    let failed = match args.holder_id_type.as_str() {
        "USCC" => (!checkdigit::uscc_valid(&args.holder_id))
            .then_some("unified social credit code (GB 32100)"),
        "ID_NUMBER" => (!checkdigit::resident_id_valid(&args.holder_id))
            .then_some("resident identity number (GB 11643)"),
        _ => None,
    };
    if let Some(what) = failed {
        eprintln!(
            "tongban: warning: --holder-id fails the check digit of a {what}; verifiers will \
             warn HOLDER_ID_CHECK (signed anyway: some legal codes fail it)"
        );
    }
}

/// Signs the licences and writes them to standard output as they are made.
fn issue(args: &IssueArgs) -> Result<(), String> {
    let catalog = match policies_dir(args.policies.clone()) {
        Some(dir) => Catalog::load(&dir),
        None => Catalog::embedded(),
    }
    .map_err(|e| e.to_string())?;
    let chain = super::read_pem_chain(&args.cert)?;
    let key =
        std::fs::read_to_string(&args.key).map_err(|e| format!("{}: {e}", args.key.display()))?;
    let alg = match args.alg.as_deref() {
        Some(name) => Some(
            Algorithm::from_jws(name)
                .ok_or_else(|| format!("--alg `{name}` is not one of {}", JWS_NAMES.join(", ")))?,
        ),
        None => None,
    };
    let header = if args.kid {
        SignerHeader::Kid
    } else {
        SignerHeader::X5c
    };
    let signer = LicenceSigner::new(&key, &chain, alg, header).map_err(|e| e.to_string())?;
    let mut fields = Map::new();
    for f in &args.fields {
        let (k, v) = f
            .split_once('=')
            .ok_or_else(|| format!("--field `{f}` is not KEY=VALUE"))?;
        fields.insert(k.to_owned(), json!(v));
    }
    check_fields(&catalog, args, &fields)?;
    warn_holder_id(args);
    let time = |t: &Option<String>| t.as_deref().map(parse_rfc3339).transpose();
    let mut draft = Draft {
        ltype: args.ltype.clone(),
        serial: args.serial.clone(),
        holder_name: args.holder_name.clone(),
        holder_id: args.holder_id.clone(),
        holder_id_type: args.holder_id_type.clone(),
        iat: time(&args.iat)?.unwrap_or_else(|| SystemClock.now()),
        nbf: None,
        exp: time(&args.exp)?,
        fields,
    };
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let width = (args.count - 1).to_string().len();
    for n in 0..args.count {
        if args.count > 1 {
            draft.serial = format!("{}{n:0width$}", args.serial);
        }
        let jws = draft.issue(&catalog, &signer).map_err(|e| e.to_string())?;
        writeln!(out, "{jws}").map_err(|e| format!("standard output: {e}"))?;
    }
    out.flush().map_err(|e| format!("standard output: {e}"))
}
