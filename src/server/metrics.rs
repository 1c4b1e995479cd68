//! Prometheus metrics (contract section 7), in the server's own registry. Labels are bounded:
//! licence types come from the catalog (else `unknown`), codes from [`crate::licence::Code::ALL`].

use prometheus::{
    Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
    TextEncoder,
};

use crate::catalog::Catalog;
use crate::licence::Verdict;
use crate::time::UnixTime;
use crate::trust::TrustStore;

/// Every metric of the gateway.
#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    pub verifications: IntCounterVec,
    pub verification_errors: IntCounterVec,
    pub cache_hits: IntCounter,
    pub cache_misses: IntCounter,
    pub reloads: IntCounterVec,
    pub tls_handshake_failures: IntCounter,
    /// Our extension: open connections on the public listener.
    pub open_connections: IntGauge,
    /// Our extension: verdicts in the cache, set when `/metrics` is read.
    pub cache_entries: IntGauge,
    /// The data exchange (contract section 7).
    pub exchange_requests: IntCounterVec,
    pub exchange_request_duration: Histogram,
    pub upstream_errors: IntCounterVec,
    /// Our extension: audit records that could not be written (the request was refused).
    pub audit_write_failures: IntCounter,
    /// Our extension: CRLs of the trust directory past their nextUpdate, set when `/metrics` is
    /// read (verdicts that relied on one carry `CRL_STALE`).
    pub stale_crls: IntGauge,
    /// Our extension: per city (9 at most), the earliest nextUpdate of its CRLs (Unix seconds),
    /// set when `/metrics` is read; alert before it passes.
    pub crl_next_update: IntGaugeVec,
}

/// The `what` label of `tongban_reloads_total`.
pub const RELOAD_TRUST_POLICIES: &str = "trust_policies";

impl Metrics {
    /// A fresh registry with every metric registered.
    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new();
        let verifications = IntCounterVec::new(
            Opts::new(
                "tongban_licence_verifications_total",
                "Licences verified, by licence type and result (valid, invalid)",
            ),
            &["ltype", "result"],
        )?;
        let verification_errors = IntCounterVec::new(
            Opts::new(
                "tongban_licence_verification_errors_total",
                "Errors found in verified licences, by code",
            ),
            &["code"],
        )?;
        let cache_hits = IntCounter::new(
            "tongban_licence_cache_hits_total",
            "Verdicts served from the verdict cache",
        )?;
        let cache_misses = IntCounter::new(
            "tongban_licence_cache_misses_total",
            "Verdicts computed because the cache had none",
        )?;
        let reloads = IntCounterVec::new(
            Opts::new("tongban_reloads_total", "Reloads, by what and result"),
            &["what", "result"],
        )?;
        let tls_handshake_failures = IntCounter::new(
            "tongban_tls_handshake_failures_total",
            "TLS handshakes on the public listener that failed or timed out",
        )?;
        let open_connections = IntGauge::new(
            "tongban_open_connections",
            "Open connections on the public listener",
        )?;
        let cache_entries = IntGauge::new(
            "tongban_licence_cache_entries",
            "Verdicts held in the verdict cache",
        )?;
        let exchange_requests = IntCounterVec::new(
            Opts::new(
                "tongban_exchange_requests_total",
                "Data exchange requests, by item, caller city and decision",
            ),
            &["item", "caller_city", "decision"],
        )?;
        let exchange_request_duration = Histogram::with_opts(HistogramOpts::new(
            "tongban_exchange_request_duration_seconds",
            "Duration of data exchange requests",
        ))?;
        let upstream_errors = IntCounterVec::new(
            Opts::new(
                "tongban_upstream_errors_total",
                "Upstream failures, by item and kind",
            ),
            &["item", "kind"],
        )?;
        let audit_write_failures = IntCounter::new(
            "tongban_audit_write_failures_total",
            "Audit records that could not be written; each refused its request",
        )?;
        let stale_crls = IntGauge::new(
            "tongban_trust_stale_crls",
            "CRLs in the trust directory past their nextUpdate",
        )?;
        let crl_next_update = IntGaugeVec::new(
            Opts::new(
                "tongban_trust_crl_next_update_seconds",
                "Earliest nextUpdate among the CRLs of a city's trust directory (Unix seconds)",
            ),
            &["city"],
        )?;
        registry.register(Box::new(crl_next_update.clone()))?;
        registry.register(Box::new(verifications.clone()))?;
        registry.register(Box::new(verification_errors.clone()))?;
        registry.register(Box::new(cache_hits.clone()))?;
        registry.register(Box::new(cache_misses.clone()))?;
        registry.register(Box::new(reloads.clone()))?;
        registry.register(Box::new(tls_handshake_failures.clone()))?;
        registry.register(Box::new(open_connections.clone()))?;
        registry.register(Box::new(cache_entries.clone()))?;
        registry.register(Box::new(exchange_requests.clone()))?;
        registry.register(Box::new(exchange_request_duration.clone()))?;
        registry.register(Box::new(upstream_errors.clone()))?;
        registry.register(Box::new(audit_write_failures.clone()))?;
        registry.register(Box::new(stale_crls.clone()))?;
        // make the counters visible at zero so alerts can be written against them
        for what_result in ["ok", "error"] {
            reloads.with_label_values(&[RELOAD_TRUST_POLICIES, what_result]);
        }
        Ok(Self {
            registry,
            verifications,
            verification_errors,
            cache_hits,
            cache_misses,
            reloads,
            tls_handshake_failures,
            open_connections,
            cache_entries,
            exchange_requests,
            exchange_request_duration,
            upstream_errors,
            audit_write_failures,
            stale_crls,
            crl_next_update,
        })
    }

    /// Counts one verdict served (computed or cached).
    pub fn record_verdict(&self, verdict: &Verdict, catalog: &Catalog) {
        let ltype = verdict
            .ltype
            .as_deref()
            .and_then(|t| catalog.licence_type(t))
            .map_or("unknown", |t| t.code.as_str());
        let result = if verdict.valid { "valid" } else { "invalid" };
        self.verifications.with_label_values(&[ltype, result]).inc();
        for f in &verdict.errors {
            self.verification_errors
                .with_label_values(&[f.code.as_str()])
                .inc();
        }
    }

    /// Sets the CRL gauges: how many are past their nextUpdate at `now`, and each city's
    /// earliest nextUpdate (cities without a dated CRL have no series).
    pub fn observe_crls(&self, trust: &TrustStore, now: UnixTime) {
        let mut stale = 0usize;
        self.crl_next_update.reset();
        for code in trust.city_codes() {
            let Some(city) = trust.city(code) else {
                continue;
            };
            stale += city.crls.iter().filter(|c| c.crl.is_stale(now)).count();
            if let Some(next) = city.crls.iter().filter_map(|c| c.crl.next_update()).min() {
                self.crl_next_update.with_label_values(&[code]).set(next);
            }
        }
        self.stale_crls
            .set(i64::try_from(stale).unwrap_or(i64::MAX));
    }

    /// The registry, for metrics registered elsewhere (the cluster's database metrics).
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Counts one reload attempt.
    pub fn record_reload(&self, what: &str, ok: bool) {
        self.reloads
            .with_label_values(&[what, if ok { "ok" } else { "error" }])
            .inc();
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        TextEncoder::new()
            .encode_to_string(&self.registry.gather())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contract_names_are_exposed() {
        let m = Metrics::new().unwrap();
        m.cache_hits.inc();
        m.verifications
            .with_label_values(&["ID_CARD", "valid"])
            .inc();
        m.verification_errors
            .with_label_values(&["MALFORMED"])
            .inc();
        m.exchange_requests
            .with_label_values(&["x", "420100", "permit"])
            .inc();
        m.upstream_errors.with_label_values(&["x", "timeout"]).inc();
        m.exchange_request_duration.observe(0.1);
        let text = m.render();
        for name in [
            "tongban_licence_verifications_total{ltype=\"ID_CARD\",result=\"valid\"} 1",
            "tongban_licence_verification_errors_total{code=\"MALFORMED\"} 1",
            "tongban_licence_cache_hits_total 1",
            "tongban_licence_cache_misses_total 0",
            "tongban_reloads_total{result=\"error\",what=\"trust_policies\"} 0",
            "tongban_tls_handshake_failures_total 0",
            "tongban_exchange_requests_total",
            "tongban_exchange_request_duration_seconds_bucket",
            "tongban_upstream_errors_total",
            "tongban_audit_write_failures_total 0",
            "tongban_trust_stale_crls 0",
        ] {
            assert!(text.contains(name), "missing {name} in\n{text}");
        }
    }
}
