//! A private PostgreSQL (15 or newer, Debian package `postgresql`, installed by `.ci/run`; the
//! newest version under `/usr/lib/postgresql/*/bin`): `initdb` in a temporary folder, a free
//! loopback port, no Unix socket; run as `nobody` through `setpriv` when the tests run as root
//! (PostgreSQL refuses to), with the data folder given to it; stopped by its PID (fast
//! shutdown) when dropped.
#![allow(dead_code)]

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Where Debian puts each PostgreSQL version's programs.
const PG_LIB: &str = "/usr/lib/postgresql";
/// The role and database the gateways use.
pub const ROLE: &str = "tongban";
/// The unprivileged account the server runs as under root.
const NOBODY: u32 = 65534;

pub struct Postgres {
    pub port: u16,
    dir: tempfile::TempDir,
    settings: Vec<String>,
    child: Option<Child>,
}

impl Postgres {
    /// A new cluster, started, with the role and database `tongban`.
    pub fn start() -> Postgres {
        Self::start_with(&[])
    }

    /// As [`Postgres::start`], with `key = value` server settings (`-c`).
    pub fn start_with(settings: &[(&str, &str)]) -> Postgres {
        // nobody must be able to reach it: under /tmp whatever TMPDIR says
        let dir = if is_root() {
            tempfile::tempdir_in("/tmp")
        } else {
            tempfile::tempdir()
        }
        .expect("temporary folder");
        let data = dir.path().join("data");
        std::fs::create_dir(&data).unwrap();
        if is_root() {
            // nobody must reach the data folder, and own it
            set_mode(dir.path(), 0o755);
            chown(&data);
        }
        set_mode(&data, 0o700);
        let out = as_server_user(Command::new(bin("initdb")))
            .args(["-D"])
            .arg(&data)
            .args([
                "-U",
                ROLE,
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-locale",
                "--no-sync",
            ])
            .output()
            .unwrap_or_else(|e| panic!("initdb (Debian package postgresql): {e}"));
        assert!(
            out.status.success(),
            "initdb failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let mut pg = Postgres {
            port: free_port(),
            dir,
            settings: settings.iter().map(|(k, v)| format!("{k}={v}")).collect(),
            child: None,
        };
        pg.run();
        pg.psql("postgres", &format!("CREATE DATABASE {ROLE}"));
        pg
    }

    /// The folder the tests may put files in for the server (readable by it).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// A file in [`Postgres::dir`] owned by the server's user with `mode` (TLS keys).
    pub fn server_file(&self, name: &str, bytes: &[u8], mode: u32) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        if is_root() {
            chown(&path);
        }
        set_mode(&path, mode);
        path
    }

    /// The gateways' connection string.
    pub fn conn(&self) -> String {
        format!(
            "host=127.0.0.1 port={} user={ROLE} dbname={ROLE}",
            self.port
        )
    }

    /// The server's PID while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Starts the server on its port and waits until it takes connections.
    fn run(&mut self) {
        let log = File::options()
            .create(true)
            .append(true)
            .open(self.dir.path().join("postgres.log"))
            .unwrap();
        let mut cmd = as_server_user(Command::new(bin("postgres")));
        cmd.arg("-D")
            .arg(self.dir.path().join("data"))
            .args(["-p", &self.port.to_string()])
            .args(["-c", "listen_addresses=127.0.0.1"])
            .args(["-c", "unix_socket_directories="])
            // the tests kill gateways, not the database: durability of the disk is not tested
            .args(["-c", "fsync=off"])
            .args(["-c", "max_connections=200"]);
        for s in &self.settings {
            cmd.args(["-c", s]);
        }
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::from(log.try_clone().unwrap()))
            .stderr(Stdio::from(log))
            .spawn()
            .expect("postgres starts");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let ready = Command::new(bin("pg_isready"))
                .args(["-h", "127.0.0.1", "-p", &self.port.to_string(), "-U", ROLE])
                .stdout(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            if ready {
                return;
            }
            if let Some(Ok(Some(status))) = self.child.as_mut().map(Child::try_wait) {
                panic!("postgres exited ({status}):\n{}", self.log());
            }
            assert!(
                Instant::now() < deadline,
                "postgres not ready:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Fast shutdown (SIGINT to its PID: sessions are ended, then it stops) and wait.
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let _ = Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(30);
        while child.try_wait().ok().flatten().is_none() {
            if Instant::now() > deadline {
                let _ = child.kill();
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.wait();
    }

    /// Starts it again after [`Postgres::stop`], on the same port and data.
    pub fn restart(&mut self) {
        self.stop();
        self.run();
    }

    /// Runs `sql` with `psql` as the superuser in `dbname`; the unaligned output.
    pub fn psql(&self, dbname: &str, sql: &str) -> String {
        let out = Command::new(bin("psql"))
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string(), "-U", ROLE])
            .args(["-d", dbname, "-v", "ON_ERROR_STOP=1", "-At", "-c", sql])
            .output()
            .expect("psql runs");
        assert!(
            out.status.success(),
            "psql `{sql}`:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("postgres.log")).unwrap_or_default()
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A program of the newest PostgreSQL from 15 on.
pub fn bin(name: &str) -> PathBuf {
    let newest = std::fs::read_dir(PG_LIB)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|v| {
            *v >= 15
                && Path::new(PG_LIB)
                    .join(v.to_string())
                    .join("bin/postgres")
                    .exists()
        })
        .max()
        .unwrap_or_else(|| {
            panic!("no PostgreSQL 15 or newer under {PG_LIB} (Debian package postgresql)")
        });
    Path::new(PG_LIB)
        .join(newest.to_string())
        .join("bin")
        .join(name)
}

/// `cmd` as `nobody` when we are root (`setpriv`, which execs: the PID stays the server's).
fn as_server_user(cmd: Command) -> Command {
    if !is_root() {
        return cmd;
    }
    let mut wrapped = Command::new("setpriv");
    wrapped
        .args([
            &format!("--reuid={NOBODY}"),
            &format!("--regid={NOBODY}"),
            "--clear-groups",
            "--",
        ])
        .arg(cmd.get_program())
        .args(cmd.get_args());
    wrapped
}

pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|l| l.split_whitespace().nth(1).map(|e| e == "0"))
        })
        .unwrap_or(false)
}

fn chown(path: &Path) {
    std::os::unix::fs::chown(path, Some(NOBODY), Some(NOBODY)).unwrap();
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// A loopback port free now (the server binds it a moment later).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap()
}
