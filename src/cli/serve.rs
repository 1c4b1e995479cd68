//! `tongban serve` and `tongban demo`: parse, start a runtime, call into [`crate::server`].

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use super::{fail, log, policies_dir, reject};
use crate::server::config::ConfigError;
use crate::server::{self, demo, ServerError};

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The server configuration (TOML); relative paths in it are relative to the file.
    #[arg(long, value_name = "FILE")]
    config: PathBuf,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Write the demo PKI here and keep it (default: a temporary folder removed on exit).
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
    /// TLS listener; a free port is used when it is busy.
    #[arg(long, value_name = "ADDR", default_value_t = demo::DEMO_PUBLIC)]
    public: SocketAddr,
    /// Admin (metrics) listener; a free port is used when it is busy.
    #[arg(long, value_name = "ADDR", default_value_t = demo::DEMO_ADMIN)]
    admin: SocketAddr,
    /// Policies directory for the catalog; default `./policies`, else built-in.
    #[arg(long, value_name = "DIR")]
    policies: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct SampleUpstreamArgs {
    /// Policies directory (items and samples).
    #[arg(long, value_name = "DIR", default_value = "policies")]
    policies: PathBuf,
    /// Where to listen (plain HTTP, loopback).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:18080")]
    listen: SocketAddr,
}

pub fn sample_upstream(args: &SampleUpstreamArgs) -> ExitCode {
    let log = log::init();
    let result =
        runtime().map(|rt| rt.block_on(demo::sample_upstream(&args.policies, args.listen)));
    drop(log);
    match result {
        Ok(Ok(())) => ExitCode::SUCCESS,
        Ok(Err(e)) => fail(e),
        Err(e) => fail(e),
    }
}

/// Exit 0 after SIGTERM/SIGINT; 1 when the configuration or a file it names has problems (all
/// listed), or when its cluster node is already running; 2 when the configuration cannot be
/// read, a listener cannot be opened or the cluster's database cannot be used.
pub fn serve(args: &ServeArgs) -> ExitCode {
    let log = log::init();
    let result = runtime().map(|rt| rt.block_on(server::serve(&args.config)));
    drop(log);
    match result {
        Ok(Ok(())) => ExitCode::SUCCESS,
        Ok(Err(ServerError::Config(ConfigError::Invalid(problems)))) => reject(format!(
            "{}\n{}: {} problem(s); nothing started (`tongban config check` lists them too)",
            server::config::Problems(&problems),
            args.config.display(),
            problems.len()
        )),
        // a node that is already running elsewhere: not accepted to run twice
        Ok(Err(ServerError::Cluster(e))) if e.is_refusal() => reject(e),
        Ok(Err(e)) => fail(e),
        Err(e) => fail(e),
    }
}

pub fn demo(args: DemoArgs) -> ExitCode {
    let log = log::init();
    let options = demo::DemoOptions {
        dir: args.dir,
        public: args.public,
        admin: args.admin,
        policies: policies_dir(args.policies),
    };
    let result = runtime().map(|rt| rt.block_on(demo::run(options)));
    drop(log);
    match result {
        Ok(Ok(())) => ExitCode::SUCCESS,
        Ok(Err(e)) => fail(e),
        Err(e) => fail(e),
    }
}

fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
}
