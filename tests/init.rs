//! `tongban init DIR`: the folder it writes starts a real `tongban serve` with no edits, and a
//! real mTLS request as the trial client goes through the exchange into `sample-upstream`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test code: a failure here is a failed test"
)]

#[path = "common/cli.rs"]
mod cli;
#[path = "common/gateway.rs"]
mod gateway;

use std::path::Path;
use std::time::Duration;

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::{Request, StatusCode};

use cli::{status, stderr, stdout, tongban, tongban_in};
use gateway::{connector, send, spawn_serve, ClientId};

/// A loopback port free now (for `sample-upstream`, whose address init writes down).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn init(dir: &Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec!["init", dir.to_str().unwrap()];
    args.extend(extra);
    tongban(&args)
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_starts_from_the_folder_as_it_is_and_answers_the_trial_client() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("gateway");
    let sample = format!("127.0.0.1:{}", free_port());
    let out = init(
        &dir,
        &[
            "--city",
            "420100",
            "--public",
            "127.0.0.1:0",
            "--admin",
            "127.0.0.1:0",
            "--sample-upstream",
            &sample,
        ],
    );
    assert_eq!(status(&out), 0, "{}", stderr(&out));
    let shown = format!("{}{}", stdout(&out), stderr(&out));

    // the three commands to run next, ready to paste
    let d = dir.display();
    for command in [
        format!("  tongban config check {d}/tongban.toml\n"),
        format!("  tongban sample-upstream --policies {d}/policies --listen {sample} &\n"),
        format!("  tongban serve --config {d}/tongban.toml\n"),
    ] {
        assert!(stdout(&out).contains(&command), "{command:?} in {shown}");
    }

    // fresh secrets, owner-only, never printed
    for key in ["mask.key", "audit.key"] {
        let text = std::fs::read_to_string(dir.join(key)).unwrap();
        let hex = text.trim();
        assert_eq!(hex.len(), 64, "{key}");
        assert!(hex.bytes().all(|b| b.is_ascii_hexdigit()), "{key}");
        assert!(!shown.contains(hex), "{key} was printed");
        #[cfg(unix)]
        assert_eq!(mode(&dir.join(key)), 0o600, "{key}");
    }
    #[cfg(unix)]
    {
        assert_eq!(mode(&dir.join("server/server.key")), 0o600);
        assert_eq!(mode(&dir.join("trial/420100-GOV_SERVICE.key")), 0o600);
    }
    let a = std::fs::read_to_string(dir.join("mask.key")).unwrap();
    let b = std::fs::read_to_string(dir.join("audit.key")).unwrap();
    assert_ne!(a, b, "two different secrets");

    // the trust directory says what goes where; the configuration is commented
    let readme = std::fs::read_to_string(dir.join("trust/README.md")).unwrap();
    assert!(
        readme.contains("roots.pem") && readme.contains("TRIAL"),
        "{readme}"
    );
    let config = std::fs::read_to_string(dir.join("tongban.toml")).unwrap();
    assert!(config.contains("# "), "commented");
    assert!(
        config.contains(&format!(
            "[upstreams.civil-tianmen]\nurl = \"http://{sample}/u/civil-tianmen\""
        )),
        "{config}"
    );

    // config check: ok, with the trial material noticed
    let check = tongban(&[
        "config",
        "check",
        dir.join("tongban.toml").to_str().unwrap(),
    ]);
    assert_eq!(status(&check), 0, "{}", stderr(&check));
    assert!(
        stderr(&check).contains("a trial root made by `tongban init`"),
        "{}",
        stderr(&check)
    );

    // the sample upstreams, then the gateway, as real processes
    let mut upstream = tokio::process::Command::new(env!("CARGO_BIN_EXE_tongban"))
        .args(["sample-upstream", "--listen", &sample, "--policies"])
        .arg(dir.join("policies"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    {
        use tokio::io::AsyncBufReadExt;
        let mut lines = tokio::io::BufReader::new(upstream.stdout.take().unwrap()).lines();
        // it prints its configuration once it listens
        let first = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
            .await
            .expect("sample-upstream starts")
            .unwrap();
        assert_eq!(first.as_deref(), Some("[policies]"));
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    }
    let server = spawn_serve(&dir.join("tongban.toml")).await;
    let trial = ClientId {
        cert: dir.join("trial/420100-GOV_SERVICE.pem"),
        key: dir.join("trial/420100-GOV_SERVICE.key"),
    };
    let exchange = |purpose: &str| {
        Request::get("/v1/exchange/ID-CARD-APPLICATION-HG/records")
            .header("host", "localhost")
            .header("x-purpose", purpose)
            .body(Full::new(Bytes::new()))
            .unwrap()
    };
    let reply = send(
        &connector(&dir, Some(&trial)),
        server.public,
        exchange("ONE_NETWORK_SERVICE"),
    )
    .await
    .unwrap();
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    assert!(reply.json().is_object(), "{:?}", reply.body);
    // without a client certificate: refused
    let reply = send(
        &connector(&dir, None),
        server.public,
        exchange("ONE_NETWORK_SERVICE"),
    )
    .await
    .unwrap();
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);

    for pid in [server.pid.clone(), upstream.id().unwrap().to_string()] {
        std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap();
    }
    let mut child = server.child;
    let exit = tokio::time::timeout(Duration::from_secs(20), child.wait())
        .await
        .expect("serve stops on SIGTERM")
        .unwrap();
    assert!(exit.success(), "{exit:?}");
    let _ = upstream.wait().await;
    // the audit log of the exchange is intact
    let audit = tongban(&["audit", "verify", dir.join("audit.jsonl").to_str().unwrap()]);
    assert_eq!(status(&audit), 0, "{}", stderr(&audit));
}

#[test]
fn without_a_terminal_the_city_must_be_given() {
    let temp = tempfile::tempdir().unwrap();
    let out = init(&temp.path().join("d"), &[]);
    assert_eq!(status(&out), 2);
    assert!(
        stderr(&out).starts_with(
            "tongban: --city CODE is required when standard input is not a terminal; one of 420100 武汉市 Wuhan, 420200 黄石市 Huangshi,"
        ),
        "{}",
        stderr(&out)
    );
    assert!(stdout(&out).is_empty());
}

#[test]
fn a_city_by_name_and_an_unknown_city() {
    let temp = tempfile::tempdir().unwrap();
    let out = init(&temp.path().join("a"), &["--city", "Tianmen"]);
    assert_eq!(status(&out), 0, "{}", stderr(&out));
    assert!(temp.path().join("a/trust/429006/roots.pem").is_file());
    let out = init(&temp.path().join("b"), &["--city", "wuhan2"]);
    assert_eq!(status(&out), 2);
    assert!(
        stderr(&out).starts_with(
            "tongban: `wuhan2` is not a city of the catalog; one of 420100 武汉市 Wuhan,"
        ),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_non_empty_folder_needs_force_which_keeps_the_secrets() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("d");
    assert_eq!(status(&init(&dir, &["--city", "420100"])), 0);
    let key = std::fs::read_to_string(dir.join("audit.key")).unwrap();
    let out = init(&dir, &["--city", "420100"]);
    assert_eq!(status(&out), 2);
    assert_eq!(
        stderr(&out),
        format!(
            "tongban: `{}` is not empty: choose a new folder, or pass --force to write into it \
             (the files init writes are replaced; an existing mask.key and audit.key are kept)\n",
            dir.display()
        )
    );
    let out = init(&dir, &["--city", "420100", "--force"]);
    assert_eq!(status(&out), 0, "{}", stderr(&out));
    assert!(stderr(&out).contains("kept the existing audit.key"));
    assert_eq!(std::fs::read_to_string(dir.join("audit.key")).unwrap(), key);
}

#[test]
fn outside_the_repository_it_writes_the_built_in_catalog_and_still_starts() {
    let temp = tempfile::tempdir().unwrap();
    let out = tongban_in(temp.path(), &["init", "d", "--city", "420200"]);
    assert_eq!(status(&out), 0, "{}", stderr(&out));
    assert!(stderr(&out).contains("has the built-in catalog and no items"));
    let check = tongban_in(temp.path(), &["config", "check", "d/tongban.toml"]);
    assert_eq!(status(&check), 0, "{}", stderr(&check));
    assert!(stderr(&check).ends_with("d/tongban.toml: ok (0 item(s), 0 upstream(s))\n"));
}
