//! A real headless Chromium for the page tests, driven over WebDriver: `chromedriver` on
//! loopback speaks plain HTTP, so a small client over hyper does (no browser-driving crate, no
//! second TLS stack).
//!
//! The browser presents a client certificate itself: the certificate and key go into an NSS
//! database in a temporary `HOME` (`certutil`, `pk12util`; the PKCS#12 file made by `openssl`),
//! the gateway's CA is trusted there, and the profile's `auto_select_certificate` content
//! setting (what Chromium's `AutoSelectCertificateForUrls` policy sets) picks it for the
//! gateway's origin without a dialog. Nothing outside the temporary folder is touched.
//! Everything ends when the [`Browser`] is dropped: the session is deleted (Chromium quits) and
//! chromedriver is killed by its PID.
#![allow(dead_code)]

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::Request;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::{json, Value};

pub const CHROMIUM: &str = "/usr/bin/chromium";
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// How long a condition may take on a busy two-core machine.
pub const PATIENCE: Duration = Duration::from_secs(30);
/// The W3C element reference key.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// How to start the browser.
pub struct Launch<'a> {
    /// Client certificate chain and key (PEM) to present to `origin`.
    pub client: Option<(&'a Path, &'a Path)>,
    /// The origin (`https://127.0.0.1:PORT`) the certificate is chosen for.
    pub origin: Option<String>,
    /// A CA certificate (PEM) to trust for TLS servers.
    pub trust_ca: Option<&'a Path>,
    /// A Y4M video the fake camera shows.
    pub camera: Option<&'a Path>,
    pub window: (u32, u32),
}

/// One Chromium under chromedriver, with one session.
pub struct Browser {
    driver: Child,
    port: u16,
    session: String,
    client: Client<HttpConnector, Full<Bytes>>,
    _home: tempfile::TempDir,
}

/// The tools the browser tests need, or which is missing (CI installs them from
/// `.ci/apt-packages`: chromium, chromium-driver, libnss3-tools, openssl).
pub fn missing_tools() -> Option<String> {
    for (tool, package) in [
        (CHROMIUM, "chromium"),
        (CHROMEDRIVER, "chromium-driver"),
        ("certutil", "libnss3-tools"),
        ("pk12util", "libnss3-tools"),
        ("openssl", "openssl"),
    ] {
        let found = if tool.starts_with('/') {
            Path::new(tool).exists()
        } else {
            Command::new(tool)
                .arg("-h")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok()
        };
        if !found {
            return Some(format!("`{tool}` (Debian package {package})"));
        }
    }
    None
}

fn run(cmd: &mut Command) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Browser {
    /// Prepares the NSS database and profile, starts chromedriver and opens a session.
    pub async fn launch(launch: Launch<'_>) -> Browser {
        if let Some(missing) = missing_tools() {
            panic!("the browser tests need {missing}; `.ci/run` installs it");
        }
        let home = tempfile::tempdir().unwrap();
        let nss = home.path().join(".pki/nssdb");
        std::fs::create_dir_all(&nss).unwrap();
        let db = format!("sql:{}", nss.display());
        run(Command::new("certutil").args(["-N", "-d", &db, "--empty-password"]));
        if let Some(ca) = launch.trust_ca {
            run(Command::new("certutil")
                .args(["-A", "-d", &db, "-n", "tongban-test-ca", "-t", "C,,", "-i"])
                .arg(ca));
        }
        if let Some((cert, key)) = launch.client {
            let p12 = home.path().join("client.p12");
            run(Command::new("openssl")
                .args([
                    "pkcs12", "-export", "-passout", "pass:", "-name", "desk", "-in",
                ])
                .arg(cert)
                .arg("-inkey")
                .arg(key)
                .arg("-out")
                .arg(&p12));
            run(Command::new("pk12util")
                .args(["-d", &db, "-W", "", "-i"])
                .arg(&p12));
        }
        let profile = home.path().join("profile");
        std::fs::create_dir_all(profile.join("Default")).unwrap();
        if let Some(origin) = &launch.origin {
            let prefs = json!({"profile": {"content_settings": {"exceptions": {
                "auto_select_certificate": {
                    format!("{origin},*"): {"setting": {"filters": [{}]}}
                }
            }}}});
            std::fs::write(profile.join("Default/Preferences"), prefs.to_string()).unwrap();
        }
        let port = free_port();
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .env("HOME", home.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let client = Client::builder(TokioExecutor::new()).build_http();
        let mut browser = Browser {
            driver,
            port,
            session: String::new(),
            client,
            _home: home,
        };
        browser.wait_ready().await;
        let mut args = vec![
            "--headless".to_owned(),
            "--no-sandbox".into(),
            "--disable-gpu".into(),
            "--disable-quic".into(),
            "--no-first-run".into(),
            "--no-default-browser-check".into(),
            "--disable-background-networking".into(),
            "--disable-component-update".into(),
            "--disable-sync".into(),
            "--disable-dev-shm-usage".into(),
            "--password-store=basic".into(),
            "--force-device-scale-factor=1".into(),
            "--lang=zh-CN".into(),
            format!("--user-data-dir={}", profile.display()),
            format!("--window-size={},{}", launch.window.0, launch.window.1),
        ];
        if let Some(video) = launch.camera {
            args.push("--use-fake-device-for-media-stream".into());
            args.push("--use-fake-ui-for-media-stream".into());
            args.push(format!(
                "--use-file-for-fake-video-capture={}",
                video.display()
            ));
        }
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": CHROMIUM, "args": args},
            "goog:loggingPrefs": {"browser": "ALL"},
            "timeouts": {"pageLoad": 60_000, "script": 30_000},
        }}});
        let value = browser.call("POST", "/session", Some(caps)).await;
        browser.session = value["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {value}"))
            .to_owned();
        browser
    }

    async fn wait_ready(&self) {
        let started = Instant::now();
        loop {
            if let Ok(v) = self.try_call("GET", "/status", None).await {
                if v["ready"] == true {
                    return;
                }
            }
            assert!(started.elapsed() < PATIENCE, "chromedriver did not start");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn try_call(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, String> {
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let req = Request::builder()
            .method(method)
            .uri(format!("http://127.0.0.1:{}{path}", self.port))
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| e.to_string())?;
        let response = self.client.request(req).await.map_err(|e| e.to_string())?;
        let bytes = response
            .into_body()
            .collect()
            .await
            .map_err(|e| e.to_string())?
            .to_bytes();
        let value: Value = serde_json::from_slice(&bytes).map_err(|e| e.to_string())?;
        if let Some(error) = value["value"]["error"].as_str() {
            return Err(format!("{error}: {}", value["value"]["message"]));
        }
        Ok(value["value"].clone())
    }

    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        self.try_call(method, path, body)
            .await
            .unwrap_or_else(|e| panic!("WebDriver {method} {path}: {e}"))
    }

    async fn session_call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        self.call(method, &format!("/session/{}{path}", self.session), body)
            .await
    }

    pub async fn goto(&self, url: &str) {
        self.session_call("POST", "/url", Some(json!({"url": url})))
            .await;
    }

    /// Runs `script` (a function body; `arguments` are `args`) and returns its value.
    pub async fn script(&self, script: &str, args: Value) -> Value {
        self.session_call(
            "POST",
            "/execute/sync",
            Some(json!({"script": script, "args": args})),
        )
        .await
    }

    /// Waits (at most [`PATIENCE`]) until `script` returns something other than null, false or
    /// an empty string, and returns it; polling, never a fixed sleep.
    pub async fn wait_for(&self, what: &str, script: &str) -> Value {
        let started = Instant::now();
        loop {
            let v = self.script(script, json!([])).await;
            if !(v.is_null() || v == false || v == "") {
                return v;
            }
            if started.elapsed() > PATIENCE {
                let text = self
                    .script(
                        "return document.body ? document.body.innerText : ''",
                        json!([]),
                    )
                    .await;
                let errors = self.console_errors().await;
                panic!(
                    "waited {PATIENCE:?} for {what}; the page says: {text}; console: {errors:?}"
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The element matching the CSS selector.
    pub async fn find(&self, css: &str) -> String {
        let v = self
            .session_call(
                "POST",
                "/element",
                Some(json!({"using": "css selector", "value": css})),
            )
            .await;
        v[ELEMENT]
            .as_str()
            .unwrap_or_else(|| panic!("no element `{css}`: {v}"))
            .to_owned()
    }

    /// Types `text` into the element, as a keyboard (or a handheld scanner) would.
    pub async fn type_into(&self, element: &str, text: &str) {
        self.session_call(
            "POST",
            &format!("/element/{element}/value"),
            Some(json!({"text": text})),
        )
        .await;
    }

    /// Key presses to whatever has the focus (`\u{E004}` is Tab, `\u{E007}` Enter).
    pub async fn keys(&self, text: &str) {
        let actions: Vec<Value> = text
            .chars()
            .flat_map(|c| {
                [
                    json!({"type": "keyDown", "value": c.to_string()}),
                    json!({"type": "keyUp", "value": c.to_string()}),
                ]
            })
            .collect();
        self.session_call(
            "POST",
            "/actions",
            Some(json!({"actions": [{"type": "key", "id": "keyboard", "actions": actions}]})),
        )
        .await;
    }

    pub async fn click(&self, element: &str) {
        self.session_call(
            "POST",
            &format!("/element/{element}/click"),
            Some(json!({})),
        )
        .await;
    }

    /// The page's HTML as the browser holds it now.
    pub async fn source(&self) -> String {
        self.session_call("GET", "/source", None)
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// A PNG of the viewport.
    pub async fn screenshot(&self) -> Vec<u8> {
        use base64::Engine;
        let v = self.session_call("GET", "/screenshot", None).await;
        base64::engine::general_purpose::STANDARD
            .decode(v.as_str().unwrap_or_default())
            .expect("a base64 PNG")
    }

    /// Errors the page logged since the last call (failed loads, CSP violations, exceptions).
    pub async fn console_errors(&self) -> Vec<String> {
        let log = self
            .session_call("POST", "/se/log", Some(json!({"type": "browser"})))
            .await;
        log.as_array()
            .into_iter()
            .flatten()
            .filter(|e| e["level"] == "SEVERE")
            .map(|e| e["message"].as_str().unwrap_or_default().to_owned())
            .collect()
    }

    /// Sizes the window so that the page itself (the viewport) is `width` × `height`.
    pub async fn set_viewport(&self, width: u32, height: u32) {
        let inner = self
            .script("return [window.innerWidth, window.innerHeight]", json!([]))
            .await;
        let rect = self.session_call("GET", "/window/rect", None).await;
        let extra = |outer: &str, i: usize| {
            rect[outer].as_u64().unwrap_or(0) as i64 - inner[i].as_u64().unwrap_or(0) as i64
        };
        let (w, h) = (
            i64::from(width) + extra("width", 0),
            i64::from(height) + extra("height", 1),
        );
        self.session_call(
            "POST",
            "/window/rect",
            Some(json!({"width": w, "height": h})),
        )
        .await;
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // blocking on purpose: this also runs when a test panics
        if !self.session.is_empty() {
            let _ = delete_session(self.port, &self.session);
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// `DELETE /session/ID` over a plain socket (Chromium quits).
fn delete_session(port: u16, session: &str) -> std::io::Result<()> {
    let mut s = TcpStream::connect(SocketAddr::from(([127, 0, 0, 1], port)))?;
    s.set_read_timeout(Some(Duration::from_secs(20)))?;
    write!(
        s,
        "DELETE /session/{session} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 0\r\n\
         Connection: close\r\n\r\n"
    )?;
    let mut answer = Vec::new();
    let _ = s.read_to_end(&mut answer);
    Ok(())
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A Y4M video (`C420jpeg`, two identical frames, looped by Chromium) of a grey-scale image
/// centred on white: what the fake camera shows.
pub fn write_y4m(path: &Path, width: usize, height: usize, image: (usize, &[u8])) -> PathBuf {
    let (side, pixels) = image;
    assert!(side <= width && side <= height, "the image fits the frame");
    let mut luma = vec![255u8; width * height];
    let (left, top) = ((width - side) / 2, (height - side) / 2);
    for (y, row) in pixels.chunks_exact(side).enumerate() {
        let start = (top + y) * width + left;
        luma[start..start + side].copy_from_slice(row);
    }
    let chroma = vec![128u8; (width / 2) * (height / 2)];
    let mut out = format!("YUV4MPEG2 W{width} H{height} F10:1 Ip A1:1 C420jpeg\n").into_bytes();
    for _ in 0..2 {
        out.extend_from_slice(b"FRAME\n");
        out.extend_from_slice(&luma);
        out.extend_from_slice(&chroma);
        out.extend_from_slice(&chroma);
    }
    std::fs::write(path, out).unwrap();
    path.to_path_buf()
}
