//! Connecting to the cluster's database: the connection string, TLS (rustls on ring, with the
//! roots of `[cluster] ca`, the host name verified), the pool, and the dedicated connections of
//! the audit writer.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use tokio::task::JoinHandle;
use tokio_postgres::config::{Host, SslMode};
use tokio_postgres::tls::{MakeTlsConnect, TlsConnect};
use tokio_postgres::{CancelToken, Client, NoTls, Socket};
use tokio_postgres_rustls::MakeRustlsConnect;

use super::ClusterError;
use crate::server::config::ClusterConfig;

/// Dead peers are noticed after this long without an acknowledgement of sent data (Linux
/// `TCP_USER_TIMEOUT`), unless the connection string sets `tcp_user_timeout`.
const TCP_USER_TIMEOUT: Duration = Duration::from_secs(10);
/// Idle connections are probed after this long (TCP keepalive), unless the string says.
const KEEPALIVES_IDLE: Duration = Duration::from_secs(30);

/// The database of a cluster: where it is and how to reach it. The password never leaves it.
pub struct Database {
    config: tokio_postgres::Config,
    tls: Tls,
    label: String,
}

#[derive(Clone)]
enum Tls {
    Plain,
    Rustls(MakeRustlsConnect),
}

/// A dedicated connection: its client and the task that drives it (it ends when the connection
/// does).
pub struct Connection {
    pub client: Client,
    pub task: JoinHandle<()>,
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Database {
    /// The database of `[cluster]`: the connection string, the password file, the TLS roots.
    pub fn open(config: &ClusterConfig) -> Result<Database, ClusterError> {
        Self::new(
            &config.database,
            config.ca.as_deref(),
            config.password_file.as_deref(),
            config.timeout,
        )
    }

    /// Every problem of `[cluster]`'s files and TLS settings at once (`config check`), each
    /// naming its file; no connection is made.
    pub fn problems(config: &ClusterConfig) -> Vec<ClusterError> {
        let mut found = Vec::new();
        if let Some(Err(e)) = config.ca.as_deref().map(client_tls) {
            found.push(e);
        }
        if let Some(Err(e)) = config.password_file.as_deref().map(read_password) {
            found.push(e);
        }
        // the TLS settings against the connection string (whose syntax the file's check names)
        if found.is_empty() && super::check_database(&config.database).is_ok() {
            if let Err(e) = Self::open(config) {
                found.push(e);
            }
        }
        found
    }

    /// A database from a connection string, optional PEM roots (TLS required and verified) and
    /// an optional password file; `timeout` bounds connecting.
    pub fn new(
        text: &str,
        ca: Option<&Path>,
        password_file: Option<&Path>,
        timeout: Duration,
    ) -> Result<Database, ClusterError> {
        let mut config: tokio_postgres::Config = text.parse().map_err(|e| {
            ClusterError::Config(format!(
                "the database connection string: {}",
                super::with_source(&e)
            ))
        })?;
        if let Some(file) = password_file {
            config.password(read_password(file)?);
        }
        let explicit_mode = text.contains("sslmode");
        let tls = match ca {
            Some(ca) => {
                if config.get_ssl_mode() == SslMode::Disable && explicit_mode {
                    return Err(ClusterError::Config(
                        "the database connection string says `sslmode=disable` but `[cluster] ca` \
                         asks for TLS"
                            .into(),
                    ));
                }
                config.ssl_mode(SslMode::Require);
                Tls::Rustls(MakeRustlsConnect::new(client_tls(ca)?))
            }
            None => {
                if config.get_ssl_mode() == SslMode::Require {
                    return Err(ClusterError::Config(
                        "the database connection string asks for TLS (`sslmode=require`): name \
                         the PEM roots of the database's certificate in `[cluster] ca`"
                            .into(),
                    ));
                }
                config.ssl_mode(SslMode::Disable);
                Tls::Plain
            }
        };
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(timeout);
        }
        if config.get_tcp_user_timeout().is_none() {
            config.tcp_user_timeout(TCP_USER_TIMEOUT);
        }
        config.keepalives(true);
        if !text.contains("keepalives_idle") {
            config.keepalives_idle(KEEPALIVES_IDLE);
        }
        let label = label(&config);
        Ok(Database { config, tls, label })
    }

    /// `user@host:port/dbname`, for messages (never the password).
    pub fn label(&self) -> &str {
        &self.label
    }

    /// Whether connections are TLS.
    pub fn uses_tls(&self) -> bool {
        matches!(self.tls, Tls::Rustls(_))
    }

    /// A new connection named `application` (`pg_stat_activity.application_name`).
    pub async fn connect(&self, application: &str) -> Result<Connection, tokio_postgres::Error> {
        let mut config = self.config.clone();
        config.application_name(application);
        match &self.tls {
            Tls::Plain => connect_with(&config, NoTls).await,
            Tls::Rustls(tls) => connect_with(&config, tls.clone()).await,
        }
    }

    /// Asks the server to cancel what the connection of `token` is running.
    pub async fn cancel(&self, token: &CancelToken) -> Result<(), tokio_postgres::Error> {
        match &self.tls {
            Tls::Plain => token.cancel_query(NoTls).await,
            Tls::Rustls(tls) => token.cancel_query(tls.clone()).await,
        }
    }

    /// A pool of `size` connections named after `node`; waiting for, creating and recycling a
    /// connection each take at most `timeout`.
    pub fn pool(&self, size: usize, timeout: Duration, node: &str) -> Result<Pool, ClusterError> {
        let mut config = self.config.clone();
        config.application_name(format!("tongban {node}"));
        let manager_config = ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        };
        let manager = match &self.tls {
            Tls::Plain => Manager::from_config(config, NoTls, manager_config),
            Tls::Rustls(tls) => Manager::from_config(config, tls.clone(), manager_config),
        };
        Pool::builder(manager)
            .max_size(size)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(timeout))
            .create_timeout(Some(timeout))
            .recycle_timeout(Some(timeout))
            .build()
            .map_err(|e| ClusterError::Config(format!("the database pool: {e}")))
    }
}

async fn connect_with<T>(
    config: &tokio_postgres::Config,
    tls: T,
) -> Result<Connection, tokio_postgres::Error>
where
    T: MakeTlsConnect<Socket>,
    T::Stream: Send + 'static,
    T::TlsConnect: Send,
    <T::TlsConnect as TlsConnect<Socket>>::Future: Send,
{
    let (client, connection) = config.connect(tls).await?;
    let task = tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!(error = %super::with_source(&e), "cluster database connection ended");
        }
    });
    Ok(Connection { client, task })
}

/// Longest password file read: a password is a line.
const PASSWORD_FILE_MAX_BYTES: u64 = 4096;

/// The first line of `file`, without its line end.
fn read_password(file: &Path) -> Result<Vec<u8>, ClusterError> {
    let what = |reason: String| {
        ClusterError::Config(format!(
            "{}: the database password: {reason}",
            file.display()
        ))
    };
    let len = std::fs::metadata(file)
        .map_err(|e| what(e.to_string()))?
        .len();
    if len > PASSWORD_FILE_MAX_BYTES {
        return Err(what(format!("more than {PASSWORD_FILE_MAX_BYTES} bytes")));
    }
    let bytes = std::fs::read(file).map_err(|e| what(e.to_string()))?;
    let line = bytes.split(|&b| b == b'\n').next().unwrap_or_default();
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if line.is_empty() {
        return Err(what("empty".into()));
    }
    Ok(line.to_vec())
}

/// rustls on ring, TLS 1.2 and 1.3, trusting only the PEM roots in `ca`.
fn client_tls(ca: &Path) -> Result<rustls::ClientConfig, ClusterError> {
    let what = |reason: String| {
        ClusterError::Config(format!(
            "{}: the database's TLS roots: {reason}",
            ca.display()
        ))
    };
    let mut roots = rustls::RootCertStore::empty();
    let certs = CertificateDer::pem_file_iter(ca).map_err(|e| what(e.to_string()))?;
    for cert in certs {
        let cert = cert.map_err(|e| what(e.to_string()))?;
        roots.add(cert).map_err(|e| what(e.to_string()))?;
    }
    if roots.is_empty() {
        return Err(what("no certificate".into()));
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| what(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

fn label(config: &tokio_postgres::Config) -> String {
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .map(|h| match h {
            Host::Tcp(name) => name.clone(),
            #[cfg(unix)]
            Host::Unix(path) => path.display().to_string(),
        })
        .collect();
    let ports: Vec<String> = config.get_ports().iter().map(u16::to_string).collect();
    format!(
        "`{}@{}:{}/{}`",
        config.get_user().unwrap_or("-"),
        if hosts.is_empty() {
            "localhost".to_owned()
        } else {
            hosts.join(",")
        },
        if ports.is_empty() {
            "5432".to_owned()
        } else {
            ports.join(",")
        },
        config
            .get_dbname()
            .or(config.get_user())
            .unwrap_or("postgres"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Duration = Duration::from_secs(2);

    #[test]
    fn the_label_never_shows_the_password() {
        let db = Database::new(
            "host=db.example port=6432 user=tongban password=hunter2 dbname=audit",
            None,
            None,
            T,
        )
        .unwrap();
        assert_eq!(db.label(), "`tongban@db.example:6432/audit`");
        assert!(!db.uses_tls());
    }

    #[test]
    fn tls_needs_roots_and_roots_need_tls() {
        let err = |r: Result<Database, ClusterError>| r.err().unwrap().to_string();
        assert!(
            err(Database::new("host=x sslmode=require", None, None, T)).contains("[cluster] ca")
        );
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("ca.pem");
        std::fs::write(&empty, "").unwrap();
        assert!(err(Database::new("host=x", Some(&empty), None, T)).contains("no certificate"));
        let ca = crate::pki::Issued::self_signed(&crate::pki::CertSpec::root(
            "420100",
            "db root",
            0,
            4_000_000_000,
        ))
        .unwrap();
        std::fs::write(&empty, ca.cert_pem()).unwrap();
        assert!(err(Database::new(
            "host=x sslmode=disable",
            Some(&empty),
            None,
            T
        ))
        .contains("sslmode=disable"));
        assert!(Database::new("host=x", Some(&empty), None, T)
            .unwrap()
            .uses_tls());
    }

    #[test]
    fn the_password_comes_from_its_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pw");
        std::fs::write(&file, "s3cret\n").unwrap();
        let db = Database::new("host=x user=u", None, Some(&file), T).unwrap();
        assert_eq!(db.config.get_password(), Some(&b"s3cret"[..]));
    }
}
