//! Helpers of the differential tests against the `openssl` command
//! (`tests/openssl_differential.rs`, `tests/openssl_sm2_differential.rs`): a seeded generator,
//! the frame of a case (Wuhan, its licence issued at `IAT`, judged at `NOW`), running openssl and
//! reading its `verify` errors, our code for each error, environment overrides, and running the
//! cases on worker threads.
#![allow(dead_code)]

use std::ffi::OsStr;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use tongban::licence::issue::Draft;
use tongban::pki::demo::demo_org_id;
use tongban::pki::{CertSpec, Crl, Issued, RevokedCert, UnixTime};
use tongban::Code;

/// 2025-06-15T15:06:40Z: every generated licence is issued then.
pub const IAT: UnixTime = 1_750_000_000;
pub const DAY: i64 = 86_400;
/// The verifying "today": later than every revocation date generated.
pub const NOW: UnixTime = IAT + 200 * DAY;
/// Every generated chain is Wuhan's.
pub const CITY: &str = "420100";

/// Small deterministic generator (xorshift64*).
pub struct Rng(pub u64);

impl Rng {
    /// A generator for `seed` (0 is replaced: xorshift stays at 0).
    pub fn new(seed: u64) -> Self {
        Rng(seed.max(1))
    }
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    pub fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
    pub fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }
    /// A value in `lo..hi`.
    pub fn span(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next() % (hi - lo) as u64) as i64
    }
}

/// A case's validity window around `IAT`: (notBefore, notAfter), each 30 days to 8 years away.
pub fn window(rng: &mut Rng) -> (UnixTime, UnixTime) {
    let nb = IAT - rng.span(30, 3000) * DAY;
    let na = IAT + rng.span(30, 3000) * DAY;
    (nb, na)
}

/// The case's licence signer, Wuhan's market regulator, within the window (`nb`, `na`).
pub fn signer_spec(nb: UnixTime, na: UnixTime, rng: &mut Rng) -> CertSpec {
    CertSpec::signer(
        CITY,
        "MARKET_REG",
        "武汉市市场监督管理局",
        &demo_org_id(CITY, 7),
        nb + rng.span(0, 20) * DAY,
        na - rng.span(0, 20) * DAY,
    )
}

/// Makes `spec` expire before `IAT`.
pub fn expire_before_iat(spec: &mut CertSpec, rng: &mut Rng) {
    spec.not_after = IAT - rng.span(1, 400 * DAY);
    spec.not_before = spec.not_before.min(spec.not_after - DAY);
}

/// Makes `spec` start after `IAT`.
pub fn start_after_iat(spec: &mut CertSpec, rng: &mut Rng) {
    spec.not_before = IAT + rng.span(1, 400 * DAY);
    spec.not_after = spec.not_after.max(spec.not_before + DAY);
}

/// Case `id`'s licence: a business licence issued at `IAT`, valid in every other respect.
pub fn case_draft(id: usize) -> Draft {
    Draft {
        ltype: "BUSINESS_LICENCE".into(),
        serial: format!("2025{id:06}"),
        holder_name: "湖北示例科技有限公司".into(),
        holder_id: demo_org_id(CITY, 5000 + id),
        holder_id_type: "USCC".into(),
        iat: IAT,
        nbf: None,
        exp: None,
        fields: serde_json::Map::new(),
    }
}

/// A CRL signed by `ca`, valid until 30 days after `NOW`; also when `ca`'s keyUsage lacks cRLSign.
pub fn crl_by(ca: &Issued, entries: &[RevokedCert], this_update: UnixTime, number: u64) -> Crl {
    let next_update = NOW + 30 * DAY;
    ca.crl(entries, this_update, next_update, number)
        .or_else(|_| ca.crl_unchecked(entries, this_update, next_update, number))
        .expect("crl signs")
}

/// `openssl version`; panics with what to install when the command is missing.
pub fn openssl_version() -> String {
    match Command::new("openssl").arg("version").output() {
        Ok(out) if out.status.success() => String::from_utf8_lossy(&out.stdout).trim().to_owned(),
        Ok(out) => panic!(
            "`openssl version` failed ({}): the differential tests need the openssl command \
             (Debian package `openssl`, listed in .ci/apt-packages)",
            out.status
        ),
        Err(e) => panic!(
            "cannot run `openssl` ({e}): the differential tests need the openssl command \
             (Debian package `openssl`, listed in .ci/apt-packages)"
        ),
    }
}

/// Runs `openssl ARGS…` in `dir`.
pub fn openssl<S: AsRef<OsStr>>(dir: &Path, args: &[S]) -> Output {
    Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl runs")
}

/// `error N at D depth lookup: message` lines of `openssl verify`.
pub fn parse_openssl_errors(stderr: &str) -> Vec<(u32, usize, String)> {
    stderr
        .lines()
        .filter_map(|line| {
            let rest = line.split("error ").nth(1)?;
            let (code, rest) = rest.split_once(" at ")?;
            let (depth, rest) = rest.split_once(" depth lookup: ")?;
            Some((
                code.parse().ok()?,
                depth.parse().ok()?,
                rest.trim().to_owned(),
            ))
        })
        .collect()
}

/// Our chain code for an `openssl verify` error (`None`: a CRL-availability error with no
/// counterpart). Error 26 (unsuitable purpose) at depth 0 is the signing profile's keyUsage rule.
pub fn our_code_for(code: u32, depth: usize) -> Option<Code> {
    match code {
        9 | 10 => Some(Code::CertNotValidAtIssuance),
        23 => Some(Code::CertRevoked),
        26 if depth == 0 => Some(Code::SignerNotEligible),
        3 | 11 | 12 => None,
        _ => Some(Code::ChainUntrusted),
    }
}

/// The environment variable `name` parsed, else `default`.
pub fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// `TONGBAN_DIFF_VERBOSE` is set: print every case.
pub fn verbose() -> bool {
    std::env::var_os("TONGBAN_DIFF_VERBOSE").is_some()
}

/// Runs `run` over `cases` on up to four worker threads (openssl process spawns dominate);
/// the outcomes come back in case order.
pub fn run_on_workers<C: Sync, O: Send>(cases: &[C], run: impl Fn(&C) -> O + Sync) -> Vec<O> {
    let next = AtomicUsize::new(0);
    let outcomes = Mutex::new(Vec::with_capacity(cases.len()));
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get().min(4));
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(case) = cases.get(i) else { break };
                let outcome = run(case);
                outcomes.lock().expect("lock").push((i, outcome));
            });
        }
    });
    let mut outcomes = outcomes.into_inner().expect("lock");
    outcomes.sort_by_key(|(i, _)| *i);
    outcomes.into_iter().map(|(_, o)| o).collect()
}
