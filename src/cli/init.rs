//! `tongban init DIR`: a ready deployment folder for one city, from which `tongban serve` starts
//! as it is: a commented `tongban.toml`, fresh secrets (`mask.key`, `audit.key`, mode 0600), a
//! trial server certificate, a trust directory with a trial root of the city and a trial client
//! certificate under it, and the shipped policies with every upstream pointing at
//! `tongban sample-upstream`. Everything trial is named so ([`TRIAL_MARK`]) and listed in the
//! folder's README as what to replace; `tongban config check` notices it while it is in use.
//!
//! The templates are in `src/cli/init/`; the written configuration is checked
//! ([`check`](crate::server::config::check)) before the command succeeds.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::io::{BufRead, IsTerminal, Write as _};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use ring::rand::{SecureRandom, SystemRandom};

use super::{city_list, fail, find_city, policies_dir, reject};
use crate::catalog::{self, Catalog, City};
use crate::pki::{CertSpec, Issued, PkiError};
use crate::policy::{today_cst, PolicySet};
use crate::recognition;
use crate::server::config::check::{check, TRIAL_MARK};
use crate::server::demo::{find_exchange, shell_quote};
use crate::time::{format_rfc3339, Clock, SystemClock, UnixTime};

/// The department kind of the trial client certificate.
const TRIAL_DEPARTMENT: &str = "GOV_SERVICE";
/// Trial certificates are valid this long (from a day ago: clocks differ).
const TRIAL_DAYS: i64 = 365;
const DAY: i64 = 86_400;

const CONFIG_TEMPLATE: &str = include_str!("init/tongban.toml");
const README_TEMPLATE: &str = include_str!("init/README.md");
const TRUST_README_TEMPLATE: &str = include_str!("init/trust-README.md");
const TRIAL_README_TEMPLATE: &str = include_str!("init/trial-README.md");

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The deployment folder to write; created when missing, and must be empty unless --force.
    #[arg(value_name = "DIR")]
    dir: PathBuf,
    /// The city of this gateway: its 6-digit division code (420100) or its name (武汉, Wuhan).
    /// Asked when standard input is a terminal; required otherwise.
    #[arg(long, value_name = "CODE")]
    city: Option<String>,
    /// Write into a non-empty DIR, replacing the files init writes; an existing `mask.key` and
    /// `audit.key` are kept (a new key would change every hash already made with it).
    #[arg(long)]
    force: bool,
    /// The policies to copy into DIR/policies; default `./policies`, else the catalog and
    /// recognition table built into the binary, without items.
    #[arg(long, value_name = "DIR")]
    policies: Option<PathBuf>,
    /// The TLS listener written to the configuration.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8443")]
    public: SocketAddr,
    /// The admin listener (metrics, health) written to the configuration.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:9100")]
    admin: SocketAddr,
    /// Where `tongban sample-upstream` will listen: every upstream points at it until replaced.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:18080")]
    sample_upstream: SocketAddr,
    /// A further DNS name of the trial server certificate (it always has localhost, 127.0.0.1
    /// and ::1); repeatable.
    #[arg(long = "server-name", value_name = "NAME")]
    server_names: Vec<String>,
}

/// Why no deployment folder was written (exit 2) or the written one does not check (exit 1).
#[derive(Debug, thiserror::Error)]
enum InitError {
    #[error("{0}")]
    Usage(String),
    #[error("{}: {source}", .path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0}")]
    Catalog(String),
    #[error("cannot make the trial certificates: {0}")]
    Pki(#[from] PkiError),
    #[error("no randomness for the secrets")]
    Random,
    /// A bug: what was written does not pass `config check`.
    #[error("the written configuration does not check:\n{0}")]
    Check(String),
}

pub fn run(args: &Args) -> ExitCode {
    match init(args) {
        Ok(done) => {
            for line in &done.notices {
                eprintln!("tongban: {line}");
            }
            print!("{}", done.next_steps);
            ExitCode::SUCCESS
        }
        Err(e @ InitError::Check(_)) => reject(e),
        Err(e) => fail(e),
    }
}

/// What was written: the notices for standard error and the next steps for standard output.
struct Done {
    notices: Vec<String>,
    next_steps: String,
}

fn init(args: &Args) -> Result<Done, InitError> {
    let dir = &args.dir;
    refuse_non_empty(dir, args.force)?;
    let source = policies_dir(args.policies.clone());
    let catalog = match &source {
        Some(p) => Catalog::load(p),
        None => Catalog::embedded(),
    }
    .map_err(|e| InitError::Catalog(e.to_string()))?;
    let city = match &args.city {
        Some(text) => find_city(&catalog, text).map_err(InitError::Usage)?,
        None => ask_city(&catalog)?,
    };
    let mut notices = Vec::new();
    let policies = dir.join("policies");
    match &source {
        Some(from) => copy_dir(from, &policies)?,
        None => {
            for (name, text) in catalog::EMBEDDED_FILES {
                write(&policies.join("catalog").join(name), text)?;
            }
            write(
                &policies.join("recognition.toml"),
                recognition::EMBEDDED_TEXT,
            )?;
            create_dir(&policies.join("items"))?;
            notices.push(format!(
                "no ./policies here and no --policies: {} has the built-in catalog and no items",
                policies.display()
            ));
        }
    }
    let set = PolicySet::load(&policies, &catalog, None)
        .map_err(|e| InitError::Catalog(e.to_string()))?;
    let upstreams: BTreeSet<&str> = set.items().iter().map(|i| i.upstream.as_str()).collect();

    for name in ["mask.key", "audit.key"] {
        if !write_secret(&dir.join(name))? {
            notices.push(format!("kept the existing {name}"));
        }
    }
    let now = SystemClock.now();
    write_server(dir, city, &args.server_names, now)?;
    write_trust(dir, &catalog, city, now)?;

    let vars = Vars::new(args, city, now, &upstreams);
    write(&dir.join("tongban.toml"), &vars.fill(CONFIG_TEMPLATE))?;
    write(&dir.join("README.md"), &vars.fill(README_TEMPLATE))?;
    write(
        &dir.join("trust/README.md"),
        &vars.fill(TRUST_README_TEMPLATE),
    )?;
    write(
        &dir.join("trial/README.md"),
        &vars.fill(TRIAL_README_TEMPLATE),
    )?;

    // what was written must start as it is
    check(&dir.join("tongban.toml")).map_err(|e| InitError::Check(e.to_string()))?;
    notices.push(format!(
        "wrote a deployment of {} {} {} to {}: {} item(s), {} upstream(s) pointing at \
         sample-upstream; trial certificates to replace are listed in {}",
        city.code,
        city.name_zh,
        city.name_en,
        dir.display(),
        set.items().len(),
        upstreams.len(),
        dir.join("README.md").display()
    ));
    Ok(Done {
        notices,
        next_steps: next_steps(args, city, &set, now),
    })
}

/// An existing DIR must be empty, unless `force`.
fn refuse_non_empty(dir: &Path, force: bool) -> Result<(), InitError> {
    let io = |source| InitError::Io {
        path: dir.to_path_buf(),
        source,
    };
    if !dir.exists() {
        return create_dir(dir);
    }
    if !dir.is_dir() {
        return Err(InitError::Usage(format!(
            "`{}` exists and is not a folder",
            dir.display()
        )));
    }
    let empty = std::fs::read_dir(dir).map_err(io)?.next().is_none();
    if !empty && !force {
        return Err(InitError::Usage(format!(
            "`{}` is not empty: choose a new folder, or pass --force to write into it (the files \
             init writes are replaced; an existing mask.key and audit.key are kept)",
            dir.display()
        )));
    }
    Ok(())
}

/// Asks for the city on a terminal; a non-terminal without `--city` is a usage error.
fn ask_city(catalog: &Catalog) -> Result<&City, InitError> {
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        return Err(InitError::Usage(format!(
            "--city CODE is required when standard input is not a terminal; one of {}",
            city_list(catalog)
        )));
    }
    let mut err = std::io::stderr();
    let _ = writeln!(err, "Which city is this gateway for?");
    for city in catalog.cities() {
        let _ = writeln!(err, "  {} {} {}", city.code, city.name_zh, city.name_en);
    }
    let mut lines = stdin.lock().lines();
    loop {
        let _ = write!(err, "city (code or name): ");
        let _ = err.flush();
        let Some(Ok(line)) = lines.next() else {
            return Err(InitError::Usage("no city given".into()));
        };
        match find_city(catalog, line.trim()) {
            Ok(city) => return Ok(city),
            Err(why) => {
                let _ = writeln!(err, "{why}");
            }
        }
    }
}

/// The trial server CA (kept only as `server/ca.pem`, for clients to trust) and the server
/// certificate under it.
fn write_server(dir: &Path, city: &City, names: &[String], now: UnixTime) -> Result<(), InitError> {
    let (nb, na) = (now - DAY, now + TRIAL_DAYS * DAY);
    let ca = Issued::self_signed(&CertSpec::root(
        &city.code,
        &format!("{} server CA ({TRIAL_MARK})", city.code),
        nb,
        na,
    ))?;
    let mut dns = vec!["localhost"];
    dns.extend(names.iter().map(String::as_str));
    let ips = [
        IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(Ipv6Addr::LOCALHOST),
    ];
    let server = ca.issue(&CertSpec::server(&dns, &ips, nb, na))?;
    let server_dir = dir.join("server");
    write(&server_dir.join("ca.pem"), &ca.cert_pem())?;
    write(
        &server_dir.join("server-chain.pem"),
        &format!("{}{}", server.cert_pem(), ca.cert_pem()),
    )?;
    write_private(&server_dir.join("server.key"), &server.key_pem())
}

/// The trial root of the city in `trust/<city>/roots.pem` and a client certificate under it in
/// `trial/`; the root's key is not kept.
fn write_trust(dir: &Path, catalog: &Catalog, city: &City, now: UnixTime) -> Result<(), InitError> {
    let (nb, na) = (now - DAY, now + TRIAL_DAYS * DAY);
    let root = Issued::self_signed(&CertSpec::root(
        &city.code,
        &format!("{} {} root ({TRIAL_MARK})", city.code, city.name_en),
        nb,
        na,
    ))?;
    let department = catalog
        .department(TRIAL_DEPARTMENT)
        .map_or(TRIAL_DEPARTMENT, |d| d.name_zh.as_str());
    let client = root.issue(&CertSpec::client(
        &city.code,
        TRIAL_DEPARTMENT,
        &format!("{}{department} ({TRIAL_MARK})", city.name_zh),
        None,
        nb,
        na,
    ))?;
    write(
        &dir.join("trust").join(&city.code).join("roots.pem"),
        &root.cert_pem(),
    )?;
    let name = format!("{}-{TRIAL_DEPARTMENT}", city.code);
    let trial = dir.join("trial");
    write(&trial.join(format!("{name}.pem")), &client.cert_pem())?;
    write_private(&trial.join(format!("{name}.key")), &client.key_pem())
}

/// The template variables.
struct Vars(Vec<(&'static str, String)>);

impl Vars {
    fn new(args: &Args, city: &City, now: UnixTime, upstreams: &BTreeSet<&str>) -> Self {
        let dir = &args.dir;
        let mut tables = String::new();
        for name in upstreams {
            let _ = write!(
                tables,
                "\n[upstreams.{}]\nurl = \"http://{}/u/{name}\"\ntimeout_ms = 5000\n",
                toml_key(name),
                args.sample_upstream
            );
        }
        if upstreams.is_empty() {
            tables.push_str("# (the policies have no items, so no upstreams)\n");
        }
        let mut server_names = String::from(", 127.0.0.1, ::1");
        for name in &args.server_names {
            let _ = write!(server_names, ", {name}");
        }
        Vars(vec![
            ("CITY_CODE", city.code.clone()),
            ("CITY_ZH", city.name_zh.clone()),
            ("CITY_EN", city.name_en.clone()),
            ("DATE", format_rfc3339(now).chars().take(10).collect()),
            ("CONFIG", dir.join("tongban.toml").display().to_string()),
            ("POLICIES", dir.join("policies").display().to_string()),
            ("PUBLIC", args.public.to_string()),
            ("ADMIN", args.admin.to_string()),
            ("SERVER_NAMES", server_names),
            ("UPSTREAMS", tables),
        ])
    }

    fn fill(&self, template: &str) -> String {
        self.0
            .iter()
            .fold(template.to_owned(), |text, (name, value)| {
                text.replace(&format!("{{{name}}}"), value)
            })
    }
}

/// A TOML key: bare when it can be, else quoted.
fn toml_key(name: &str) -> String {
    if !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        name.to_owned()
    } else {
        format!("{name:?}")
    }
}

/// The three commands to run next, and one request to try.
fn next_steps(args: &Args, city: &City, set: &PolicySet, now: UnixTime) -> String {
    let q = |p: PathBuf| shell_quote(&p.display().to_string());
    let config = q(args.dir.join("tongban.toml"));
    let listen = if args.sample_upstream.to_string() == "127.0.0.1:18080" {
        String::new()
    } else {
        format!(" --listen {}", args.sample_upstream)
    };
    let mut s = String::new();
    let _ = writeln!(
        s,
        "Next: check the folder, start the sample upstreams (in the background, until the real \
         ones are connected), start the gateway:"
    );
    let _ = writeln!(s, "  tongban config check {config}");
    let _ = writeln!(
        s,
        "  tongban sample-upstream --policies {}{listen} &",
        q(args.dir.join("policies"))
    );
    let _ = writeln!(s, "  tongban serve --config {config}");
    let trial = format!("{}-{TRIAL_DEPARTMENT}", city.code);
    let tls = format!(
        "--cert {} --key {} --cacert {}",
        q(args.dir.join(format!("trial/{trial}.pem"))),
        q(args.dir.join(format!("trial/{trial}.key"))),
        q(args.dir.join("server/ca.pem"))
    );
    let base = format!("https://{}", args.public);
    let today = today_cst(now);
    match find_exchange(set, &city.code, &[TRIAL_DEPARTMENT], None, today) {
        Some((item, permit, _)) => {
            let purpose = permit.purposes.first().cloned().unwrap_or_default();
            let _ = writeln!(
                s,
                "Then try, as the trial client {trial}: {} ({})\n  curl -sS {tls} -H 'X-Purpose: {purpose}' {base}/v1/exchange/{}/records",
                item.id, item.name, item.id
            );
        }
        None => {
            let _ = writeln!(
                s,
                "Then try, as the trial client {trial}:\n  curl -sS {tls} -H 'Content-Type: application/jose' --data-binary @LICENCE.jws {base}/v1/licences/verify"
            );
        }
    }
    let _ = writeln!(
        s,
        "Before production, replace the TRIAL material listed in {}.",
        q(args.dir.join("README.md"))
    );
    s
}

/// A fresh secret: 32 random bytes as hex, mode 0600. An existing file is kept (`false`).
fn write_secret(path: &Path) -> Result<bool, InitError> {
    if path.exists() {
        return Ok(false);
    }
    let mut bytes = [0u8; 32];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| InitError::Random)?;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    write_private(path, &format!("{hex}\n"))?;
    Ok(true)
}

/// Writes a file only its owner may read (keys).
fn write_private(path: &Path, text: &str) -> Result<(), InitError> {
    let io = |source| InitError::Io {
        path: path.to_path_buf(),
        source,
    };
    if let Some(parent) = path.parent() {
        create_dir(parent)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).map_err(io)?;
    // an existing file keeps its mode on open: narrow it too
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))
            .map_err(io)?;
    }
    file.write_all(text.as_bytes()).map_err(io)
}

fn write(path: &Path, text: &str) -> Result<(), InitError> {
    if let Some(parent) = path.parent() {
        create_dir(parent)?;
    }
    std::fs::write(path, text).map_err(|source| InitError::Io {
        path: path.to_path_buf(),
        source,
    })
}

fn create_dir(path: &Path) -> Result<(), InitError> {
    std::fs::create_dir_all(path).map_err(|source| InitError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// Copies the folder `from` to `to`, files replaced, subfolders followed.
fn copy_dir(from: &Path, to: &Path) -> Result<(), InitError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| InitError::Io { path, source }
    };
    create_dir(to)?;
    for entry in std::fs::read_dir(from).map_err(io(from))? {
        let entry = entry.map_err(io(from))?;
        let (source, target) = (entry.path(), to.join(entry.file_name()));
        if entry.file_type().map_err(io(&source))?.is_dir() {
            copy_dir(&source, &target)?;
        } else {
            std::fs::copy(&source, &target).map_err(io(&source))?;
        }
    }
    Ok(())
}
