//! The demo licences in `kid` form and their QR codes (亮证): the demo writes a few, so that a
//! newcomer can show one on a phone to the window desk's camera.
//!
//! A demo licence names its signer by `x5c` (too large for a QR code); [`KidSigners`] signs the
//! same payload again with the same department's key, naming the signer by `kid`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;

use crate::licence::issue::{LicenceSigner, SignerHeader};
use crate::licence::jws;
use crate::qr;

/// Demo licences the demo shows as QR codes: three valid ones and an expired one.
pub const DEMO_QR_LICENCES: [&str; 4] = [
    "BUSINESS_LICENCE",
    "ID_CARD",
    "DRIVING_LICENCE",
    "invalid/expired",
];

/// Why a licence could not be put in `kid` form.
#[derive(Debug, thiserror::Error)]
pub enum KidError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0}")]
    Licence(String),
    #[error("{0}: no demo signer holds this licence's signing certificate")]
    UnknownSigner(String),
    #[error(transparent)]
    Qr(#[from] qr::QrError),
}

/// The signing keys of a demo PKI (`<dir>/signers/*.pem` and `.key`), by signer certificate.
pub struct KidSigners {
    /// Signer certificate DER → its chain PEM file.
    by_cert: HashMap<Vec<u8>, PathBuf>,
}

impl KidSigners {
    /// Indexes the signers of the demo PKI in `dir`.
    pub fn load(dir: &Path) -> Result<Self, KidError> {
        let signers = dir.join("signers");
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| KidError::Io { path, source }
        };
        let mut by_cert = HashMap::new();
        for entry in std::fs::read_dir(&signers).map_err(io(&signers))? {
            let path = entry.map_err(io(&signers))?.path();
            if path.extension().is_some_and(|e| e == "pem") {
                let chain = crate::cli::read_pem_chain(&path).map_err(KidError::Licence)?;
                if let Some(leaf) = chain.into_iter().next() {
                    by_cert.insert(leaf, path);
                }
            }
        }
        Ok(Self { by_cert })
    }

    /// The same licence (same payload bytes) signed again by the same key, naming the signer by
    /// `kid`; a licence already in that form is returned as it is.
    pub fn kid_form(&self, licence: &str) -> Result<String, KidError> {
        let bad = |why: String| KidError::Licence(why);
        let compact = jws::split(licence.as_bytes()).map_err(bad)?;
        let header = jws::decode_json_object(compact.header_b64, "header").map_err(bad)?;
        if !header.contains_key("x5c") && header.contains_key("kid") {
            return Ok(licence.to_owned());
        }
        let leaf = header
            .get("x5c")
            .and_then(|x| x.as_array())
            .and_then(|x| x.first())
            .and_then(|c| c.as_str())
            .and_then(|c| STANDARD.decode(c).ok())
            .ok_or_else(|| bad("the licence has no x5c certificate".into()))?;
        let pem = self
            .by_cert
            .get(&leaf)
            .ok_or_else(|| KidError::UnknownSigner(truncated(licence)))?;
        let chain = crate::cli::read_pem_chain(pem).map_err(KidError::Licence)?;
        let key_path = pem.with_extension("key");
        let key = std::fs::read_to_string(&key_path).map_err(|source| KidError::Io {
            path: key_path.clone(),
            source,
        })?;
        let signer = LicenceSigner::new(&key, &chain, None, SignerHeader::Kid)
            .map_err(|e| bad(e.to_string()))?;
        let payload = URL_SAFE_NO_PAD
            .decode(compact.payload_b64)
            .map_err(|e| bad(e.to_string()))?;
        let payload: serde_json::Value =
            serde_json::from_slice(&payload).map_err(|e| bad(e.to_string()))?;
        signer.sign(&payload).map_err(|e| bad(e.to_string()))
    }
}

/// Writes `<dir>/qr/<name>.jws` (the `kid` form), `.svg` and `.png` for each of
/// [`DEMO_QR_LICENCES`]; returns the PNG paths.
pub fn write_demo_codes(dir: &Path) -> Result<Vec<PathBuf>, KidError> {
    let signers = KidSigners::load(dir)?;
    let out = dir.join("qr");
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| KidError::Io { path, source }
    };
    std::fs::create_dir_all(&out).map_err(io(&out))?;
    let mut written = Vec::new();
    for name in DEMO_QR_LICENCES {
        let path = dir.join("licences").join(format!("{name}.jws"));
        let licence = std::fs::read_to_string(&path).map_err(io(&path))?;
        let kid = signers.kid_form(licence.trim())?;
        let code = qr::encode(kid.as_bytes())?;
        let base = out.join(name.replace('/', "-"));
        let (jws_path, svg, png) = (
            base.with_extension("jws"),
            base.with_extension("svg"),
            base.with_extension("png"),
        );
        std::fs::write(&jws_path, &kid).map_err(io(&jws_path))?;
        std::fs::write(&svg, code.svg()).map_err(io(&svg))?;
        std::fs::write(&png, code.png()?).map_err(io(&png))?;
        written.push(png);
    }
    Ok(written)
}

fn truncated(licence: &str) -> String {
    format!(
        "licence `{}…`",
        licence.chars().take(24).collect::<String>()
    )
}
