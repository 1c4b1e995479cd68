//! `tongban demo`: the gateway on the demo PKI, with ready-to-run `curl` commands.
//!
//! The demo PKI is always generated afresh (a few hundred milliseconds) into a new folder under
//! the system's temporary directory, removed on exit, or into `--dir` (kept). It never reuses
//! `./certs/demo`, so the printed commands always match the keys the server was started with
//! and the repository's committed files are never touched.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

pub mod qr;
mod samples;

use super::config::{AuditConfig, CacheConfig, Config, Limits};
use super::{start, ServerError};
use crate::catalog::Catalog;
use crate::pki::demo::{self as pki_demo, DemoError as PkiDemoError};
use crate::policy::model::{Day, Party, Permit};
use crate::policy::{today_cst, Item, PolicySet};
use crate::time::{Clock, SystemClock};

/// The demo's preferred ports; when busy, free ones are taken and printed.
pub const DEMO_PUBLIC: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 8443);
pub const DEMO_ADMIN: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 9100);
/// The demo caller: Wuhan's government-service centre.
pub const DEMO_CLIENT: &str = "420100-GOV_SERVICE";
/// Licences put in the demo batch, in order (the last is invalid).
const DEMO_BATCH: [&str; 3] = [
    "licences/BUSINESS_LICENCE.jws",
    "licences/BIRTH_MEDICAL_CERT.jws",
    "licences/invalid/expired.jws",
];

/// The demo's last line on standard output, after every command.
pub const STOP_LINE: &str = "Stop with Ctrl-C (the demo files are removed unless --dir was given).";

/// What `tongban demo` was asked for.
#[derive(Clone, Debug)]
pub struct DemoOptions {
    /// Where to write the demo PKI (kept); `None`: a fresh temporary folder, removed on exit.
    pub dir: Option<PathBuf>,
    pub public: SocketAddr,
    pub admin: SocketAddr,
    /// The catalog and recognition table; `None`: the ones compiled in.
    pub policies: Option<PathBuf>,
}

/// Why the demo could not run.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("cannot load the catalog: {0}")]
    Catalog(String),
    #[error("cannot write the demo PKI: {0}")]
    Pki(#[from] PkiDemoError),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot listen on {addr} (sample upstreams): {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error(transparent)]
    Server(#[from] ServerError),
    #[error("cannot write the demo QR codes: {0}")]
    Qr(#[from] qr::KidError),
}

/// Generates the PKI, starts the gateway, prints the commands and serves until SIGTERM/SIGINT.
pub async fn run(options: DemoOptions) -> Result<(), DemoError> {
    let (dir, temporary) = match &options.dir {
        // `pki::demo::generate` replaces only an empty folder or an earlier demo PKI
        Some(d) => (d.clone(), false),
        None => (
            std::env::temp_dir().join(format!("tongban-demo-{}", std::process::id())),
            true,
        ),
    };
    let result = run_in(&dir, &options).await;
    if temporary {
        let _ = std::fs::remove_dir_all(&dir);
    }
    result
}

async fn run_in(dir: &Path, options: &DemoOptions) -> Result<(), DemoError> {
    // the shipped policies (items and samples) when run from the repository
    let policies_dir = options.policies.clone().or_else(|| {
        let local = PathBuf::from("policies");
        local.join("items").is_dir().then_some(local)
    });
    let catalog = match &policies_dir {
        Some(p) => Catalog::load(p),
        None => Catalog::embedded(),
    }
    .map_err(|e| DemoError::Catalog(e.to_string()))?;
    let policies = match &policies_dir {
        Some(p) => {
            PolicySet::load(p, &catalog, None).map_err(|e| DemoError::Catalog(e.to_string()))?
        }
        None => PolicySet::default(),
    };
    eprintln!("tongban: writing the demo PKI to {} …", dir.display());
    let out = dir.to_path_buf();
    tokio::task::spawn_blocking(move || pki_demo::generate(&out, &catalog))
        .await
        .map_err(|e| DemoError::Catalog(e.to_string()))??;
    write_batch(dir)?;
    let codes = qr::write_demo_codes(dir)?;
    let mut notes = String::new();
    let public = free_or_any(options.public, "public", &mut notes);
    let admin = free_or_any(options.admin, "admin", &mut notes);
    let upstreams = match &policies_dir {
        Some(p) => {
            let addr = SocketAddr::from(([127, 0, 0, 1], 0));
            samples::start(&policies, &p.join("samples"), addr)
                .await
                .map_err(|source| DemoError::Bind { addr, source })?
        }
        None => Default::default(),
    };
    let config = Config {
        public,
        admin,
        tls_cert: dir.join("server/server-chain.pem"),
        tls_key: dir.join("server/server.key"),
        tls_session_resumption: true,
        stale_crls: Default::default(),
        trust_dir: dir.join("trust"),
        policies_dir: policies_dir.clone(),
        require_signed_policies: false,
        policy_signers: vec!["GOV_SERVICE".into()],
        mask_key_file: None,
        audit: AuditConfig::at(dir.join("audit.jsonl")),
        upstreams,
        limits: Limits::default(),
        cache: CacheConfig::default(),
        cluster: None,
    };
    let running = start(config).await?;
    // Ctrl-C works from the moment the commands are shown
    tokio::spawn(super::signals(running.handle())?);
    eprint!("{notes}");
    println!(
        "{}",
        commands(dir, running.public_addr(), running.admin_addr())
    );
    println!(
        "{}",
        exchange_commands(dir, running.public_addr(), &policies)
    );
    println!(
        "{}",
        desk_notes(dir, running.public_addr(), running.admin_addr(), &codes)
    );
    println!("{STOP_LINE}");
    running.wait().await;
    Ok(())
}

/// The ready-to-run commands for a server on `public`/`admin` with the demo PKI in `dir`.
pub fn commands(dir: &Path, public: SocketAddr, admin: SocketAddr) -> String {
    let p = |rel: &str| shell_quote(&dir.join(rel).display().to_string());
    let tls = format!(
        "--cert {} --key {} --cacert {}",
        p(&format!("clients/{DEMO_CLIENT}.pem")),
        p(&format!("clients/{DEMO_CLIENT}.key")),
        p("server/ca.pem"),
    );
    let base = format!("https://{public}");
    let mut s = String::new();
    let _ = writeln!(
        s,
        "\ntongban demo: the gateway listens on https://{public} (client certificates) and \
         http://{admin} (metrics).\nThe caller is {DEMO_CLIENT} (Wuhan); try:\n"
    );
    let _ = writeln!(s, "# verify one demo licence (a business licence)");
    let _ = writeln!(
        s,
        "curl -sS {tls} -H 'Content-Type: application/jose' --data-binary @{} {base}/v1/licences/verify\n",
        p("licences/BUSINESS_LICENCE.jws")
    );
    let _ = writeln!(s, "# verify a batch of three (the last one is expired)");
    let _ = writeln!(
        s,
        "curl -sS {tls} -H 'Content-Type: application/json' --data-binary @{} {base}/v1/licences/verify-batch\n",
        p("batch.json")
    );
    let _ = writeln!(
        s,
        "# an invalid licence: the holder's name was changed after signing"
    );
    let _ = writeln!(
        s,
        "curl -sS {tls} -H 'Content-Type: application/jose' --data-binary @{} {base}/v1/licences/verify\n",
        p("licences/invalid/tampered.jws")
    );
    let _ = writeln!(s, "# no client certificate: 401 NO_CLIENT_CERT");
    let _ = writeln!(
        s,
        "curl -sS --cacert {} --data-binary @{} {base}/v1/licences/verify\n",
        p("server/ca.pem"),
        p("licences/BUSINESS_LICENCE.jws")
    );
    let _ = writeln!(s, "# the metrics");
    let _ = writeln!(
        s,
        "curl -sS http://{admin}/metrics | grep '^tongban_licence'\n"
    );
    s
}

/// Where the window desk, the hall screen and the demo's QR codes are.
pub fn desk_notes(dir: &Path, public: SocketAddr, admin: SocketAddr, codes: &[PathBuf]) -> String {
    let p = |rel: &str| shell_quote(&dir.join(rel).display().to_string());
    let mut s = String::new();
    let _ = writeln!(
        s,
        "# the window desk (核验台) in a browser: https://{public}/desk/ — import the client \
         certificate first (password `demo`), and trust the demo CA {}",
        p("server/ca.pem")
    );
    let _ = writeln!(
        s,
        "openssl pkcs12 -export -in {} -inkey {} -out desk-client.p12 -passout pass:demo\n",
        p(&format!("clients/{DEMO_CLIENT}.pem")),
        p(&format!("clients/{DEMO_CLIENT}.key")),
    );
    let _ = writeln!(
        s,
        "# licences as QR codes (kid form; the last one is expired): show one to the desk's camera"
    );
    for code in codes {
        let _ = writeln!(s, "#   {}", shell_quote(&code.display().to_string()));
    }
    let _ = writeln!(
        s,
        "\n# the hall screen (电子屏) and today's figures: http://{admin}/screen and http://{admin}/stats"
    );
    s
}

/// `tongban sample-upstream`: the sample upstreams alone; prints the configuration that points a
/// gateway at them and serves until SIGTERM/SIGINT.
pub async fn sample_upstream(policies_dir: &Path, listen: SocketAddr) -> Result<(), DemoError> {
    let catalog = Catalog::load(policies_dir).map_err(|e| DemoError::Catalog(e.to_string()))?;
    let policies = PolicySet::load(policies_dir, &catalog, None)
        .map_err(|e| DemoError::Catalog(e.to_string()))?;
    let upstreams = samples::start(&policies, &policies_dir.join("samples"), listen)
        .await
        .map_err(|source| DemoError::Bind {
            addr: listen,
            source,
        })?;
    let dir = std::fs::canonicalize(policies_dir).map_err(|source| DemoError::Io {
        path: policies_dir.to_path_buf(),
        source,
    })?;
    let mut toml = format!("[policies]\ndir = {:?}\n", dir.display().to_string());
    for (name, u) in &upstreams {
        let _ = write!(toml, "\n[upstreams.{name}]\nurl = {:?}\n", u.url);
    }
    print!("{toml}");
    use std::io::Write as _;
    let _ = std::io::stdout().flush();
    eprintln!(
        "tongban: {} sample upstream(s) for {} item(s) on http://{listen}; stop with Ctrl-C",
        upstreams.len(),
        policies.items().len()
    );
    let _ = tokio::signal::ctrl_c().await;
    Ok(())
}

/// Data-exchange commands for shipped items that a demo client may call today: one without and
/// one with a subject licence (`X-Subject-Licence`).
pub fn exchange_commands(dir: &Path, public: SocketAddr, policies: &PolicySet) -> String {
    let today = today_cst(SystemClock.now());
    let mut s = String::new();
    if policies.items().is_empty() {
        let _ = writeln!(
            s,
            "# (no data-exchange items: run the demo from the repository, or pass --policies DIR)"
        );
        return s;
    }
    let p = |rel: &str| shell_quote(&dir.join(rel).display().to_string());
    for with_licence in [false, true] {
        let found = find_exchange(
            policies,
            "420100",
            &pki_demo::DEMO_CLIENT_DEPTS,
            with_licence.then_some("ID_CARD"),
            today,
        );
        let Some((item, permit, dept)) = found else {
            continue;
        };
        let client = format!("420100-{dept}");
        let purpose = permit.purposes.first().cloned().unwrap_or_default();
        let _ = writeln!(
            s,
            "# data exchange: {} ({}), provided by {}/{}, as {client} for {purpose}",
            item.id, item.name, item.provider.city, item.provider.department
        );
        let licence = if with_licence {
            format!(
                " -H \"X-Subject-Licence: $(cat {})\"",
                p("licences/ID_CARD.jws")
            )
        } else {
            String::new()
        };
        let _ = writeln!(
            s,
            "curl -sS --cert {} --key {} --cacert {} -H 'X-Purpose: {purpose}'{licence} https://{public}/v1/exchange/{}/records\n",
            p(&format!("clients/{client}.pem")),
            p(&format!("clients/{client}.key")),
            p("server/ca.pem"),
            item.id
        );
    }
    let _ = writeln!(
        s,
        "# the audit log of every decision (hash-chained): cargo run --release -- audit verify {}",
        p("audit.jsonl")
    );
    s
}

/// An item, permit and department among `departments` of `city` that the permit lets call the
/// item with GET today, with a subject licence of type `licence` or without any (no forbid in
/// the way): what the printed commands use.
pub fn find_exchange<'a>(
    policies: &'a PolicySet,
    city: &str,
    departments: &[&str],
    licence: Option<&str>,
    today: Day,
) -> Option<(&'a Item, &'a Permit, String)> {
    policies.items().iter().find_map(|item| {
        item.permits.iter().find_map(|permit| {
            let licence_ok = permit.require_licence.as_deref() == licence;
            let window_ok = permit.valid_from.is_none_or(|f| f <= today)
                && permit.valid_until.is_none_or(|u| today <= u);
            let caller = |dept: &str| Party {
                city: city.into(),
                department: dept.to_string(),
            };
            let dept = departments
                .iter()
                .find(|d| permit.callers.iter().any(|c| c.matches(&caller(d))))?;
            let blocked = item
                .forbids
                .iter()
                .any(|f| f.callers.iter().any(|c| c.matches(&caller(dept))));
            (licence_ok && window_ok && !blocked && item.methods.iter().any(|m| m == "GET"))
                .then(|| (item, permit, dept.to_string()))
        })
    })
}

/// `want` when it can be bound now, else port 0 on the same IP (noted for the user).
fn free_or_any(want: SocketAddr, what: &str, notes: &mut String) -> SocketAddr {
    match std::net::TcpListener::bind(want) {
        Ok(_) => want,
        Err(e) => {
            let _ = writeln!(
                notes,
                "tongban: {want} ({what}) is not available ({e}); using a free port instead"
            );
            SocketAddr::new(want.ip(), 0)
        }
    }
}

/// `batch.json`: the licences of [`DEMO_BATCH`] as one JSON array.
fn write_batch(dir: &Path) -> Result<(), DemoError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| DemoError::Io { path, source }
    };
    let mut licences = Vec::new();
    for rel in DEMO_BATCH {
        let path = dir.join(rel);
        let text = std::fs::read_to_string(&path).map_err(io(&path))?;
        licences.push(text.trim().to_owned());
    }
    let path = dir.join("batch.json");
    let json = serde_json::to_string_pretty(&licences).unwrap_or_default();
    std::fs::write(&path, json).map_err(io(&path))
}

pub(crate) fn shell_quote(text: &str) -> String {
    if text
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"/._-+:@".contains(&b))
    {
        text.to_owned()
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_quoted_for_the_shell() {
        assert_eq!(shell_quote("/tmp/a-b/c.pem"), "/tmp/a-b/c.pem");
        assert_eq!(shell_quote("/tmp/a b/it's"), r"'/tmp/a b/it'\''s'");
    }
}
