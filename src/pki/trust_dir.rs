//! Writes a per-city trust directory:
//! `<dir>/<city>/roots.pem`, `intermediates/<name>.pem`, `signers/<name>.pem`,
//! `crls/<name>.pem` and `revoked-licences.json`.

use std::fs::{self, OpenOptions};
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::UnixTime;

/// One entry of `revoked-licences.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevokedLicence {
    /// Licence id.
    pub lid: String,
    /// RFC 3339, UTC.
    pub revoked_at: String,
    /// Free-form reason.
    pub reason: String,
}

/// Writes trust material for tests and the demo generator.
#[derive(Debug, Clone)]
pub struct TrustDirWriter {
    root: PathBuf,
}

impl TrustDirWriter {
    /// Writer rooted at `dir` (created lazily).
    pub fn new(dir: &Path) -> Self {
        TrustDirWriter {
            root: dir.to_path_buf(),
        }
    }

    /// The directory this writes into.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Appends a root certificate PEM to `<city>/roots.pem`.
    pub fn add_root(&self, city: &str, cert_pem: &str) -> io::Result<()> {
        let dir = self.city_dir(city)?;
        let mut f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("roots.pem"))?;
        f.write_all(ensure_newline(cert_pem).as_bytes())
    }

    /// Writes `<city>/intermediates/<name>.pem`.
    pub fn add_intermediate(&self, city: &str, name: &str, cert_pem: &str) -> io::Result<()> {
        self.write_named(city, "intermediates", name, cert_pem)
    }

    /// Writes `<city>/signers/<name>.pem`.
    pub fn add_signer(&self, city: &str, name: &str, cert_pem: &str) -> io::Result<()> {
        self.write_named(city, "signers", name, cert_pem)
    }

    /// Writes `<city>/crls/<name>.pem`.
    pub fn add_crl(&self, city: &str, name: &str, crl_pem: &str) -> io::Result<()> {
        self.write_named(city, "crls", name, crl_pem)
    }

    /// Adds `{"lid","revoked_at","reason"}` to the JSON array in `<city>/revoked-licences.json`.
    pub fn add_revoked_licence(
        &self,
        city: &str,
        lid: &str,
        revoked_at: UnixTime,
        reason: &str,
    ) -> io::Result<()> {
        let path = self.city_dir(city)?.join("revoked-licences.json");
        let mut entries: Vec<RevokedLicence> = match fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(e),
        };
        let revoked_at = OffsetDateTime::from_unix_timestamp(revoked_at)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?
            .format(&Rfc3339)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        entries.push(RevokedLicence {
            lid: lid.to_owned(),
            revoked_at,
            reason: reason.to_owned(),
        });
        let mut json = serde_json::to_vec_pretty(&entries)?;
        json.push(b'\n');
        fs::write(path, json)
    }

    fn city_dir(&self, city: &str) -> io::Result<PathBuf> {
        check_component(city)?;
        let dir = self.root.join(city);
        fs::create_dir_all(&dir)?;
        Ok(dir)
    }

    fn write_named(&self, city: &str, sub: &str, name: &str, pem: &str) -> io::Result<()> {
        check_component(name)?;
        let dir = self.city_dir(city)?.join(sub);
        fs::create_dir_all(&dir)?;
        fs::write(dir.join(format!("{name}.pem")), ensure_newline(pem))
    }
}

/// Rejects names that would escape the directory.
fn check_component(s: &str) -> io::Result<()> {
    if s.is_empty() || s == "." || s == ".." || s.contains(['/', '\\', '\0']) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("invalid path component {s:?}"),
        ));
    }
    Ok(())
}

fn ensure_newline(s: &str) -> String {
    if s.ends_with('\n') {
        s.to_owned()
    } else {
        format!("{s}\n")
    }
}
