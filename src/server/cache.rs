//! The verdict cache: key = SHA-256 of (verifying city, exact licence bytes), value = the
//! verdict's [`Judgement`] (issuer and findings). A hit gives the whole verdict back by reading
//! the licence's own text again ([`Verifier::reassemble`](crate::licence::Verifier::reassemble)),
//! so an entry costs about 500 bytes (most of it moka's own bookkeeping) whatever the licence's
//! size: with 100,000 cached verdicts the whole gateway peaks at about 62 MiB (`benches/compare`).
//!
//! An entry never outlives the configured TTL nor the next instant at which the verdict could
//! change by the passing of time alone (`exp`, `nbf`, or `iat` coming within the clock skew).
//! Everything else a verdict depends on (trust, CRLs, revocation lists, policies) changes only
//! on reload, which empties the cache.
//!
//! `[cache] max_entries = 0` disables the cache: nothing is looked up or kept, every request is
//! verified (and counted as a miss). The load harness measures that way.

use std::time::{Duration, Instant};

use moka::sync::Cache;

use super::config::CacheConfig;
use crate::crypto::sha256_of;
use crate::licence::verify::MAX_ISSUE_SKEW_SECS;
use crate::licence::{Judgement, Verdict};
use crate::time::UnixTime;

/// Licences longer than this are verified every time (a real licence is 1–4 KiB): hashing the
/// key stays cheap.
pub const MAX_CACHED_LICENCE_BYTES: usize = 16 * 1024;

/// SHA-256 over the city, a separator and the licence: equal keys mean equal inputs.
type Key = [u8; 32];

fn key(licence: &[u8], city: &str) -> Key {
    sha256_of([city.as_bytes(), &[0], licence])
}

/// A cached judgement and until when it holds, decided at insertion.
#[derive(Clone)]
struct Entry {
    /// The state generation (trust + policies) the verdict was computed under.
    generation: u64,
    judgement: Judgement,
    /// Checked on every hit: cheaper in memory than a per-entry timer (moka's `expire_after`);
    /// the cache's time-to-live (`ttl`) removes entries in any case.
    expires: Instant,
}

/// Bounded, time-aware verdict cache.
pub struct VerdictCache {
    /// `None` when disabled (`max_entries = 0`).
    cache: Option<Cache<Key, Entry>>,
    ttl: Duration,
}

impl VerdictCache {
    pub fn new(config: &CacheConfig) -> Self {
        let cache = (config.max_entries > 0).then(|| {
            Cache::builder()
                .max_capacity(config.max_entries)
                .time_to_live(config.ttl.max(Duration::from_secs(1)))
                .build()
        });
        Self {
            cache,
            ttl: config.ttl,
        }
    }

    /// False when configured with `max_entries = 0`.
    pub fn is_enabled(&self) -> bool {
        self.cache.is_some()
    }

    /// The judgement cached for `licence` verified for `city`; never one of an older
    /// `generation`.
    pub fn get(&self, licence: &[u8], city: &str, generation: u64) -> Option<Judgement> {
        let cache = self.cache.as_ref()?;
        if licence.len() > MAX_CACHED_LICENCE_BYTES || self.ttl.is_zero() {
            return None;
        }
        let key = key(licence, city);
        let entry = cache.get(&key)?;
        if entry.expires <= Instant::now() {
            cache.invalidate(&key);
            return None;
        }
        (entry.generation == generation).then_some(entry.judgement)
    }

    /// Keeps `verdict`, computed at `now`, unless it could change before a second has passed.
    pub fn insert(
        &self,
        licence: &[u8],
        city: &str,
        generation: u64,
        verdict: &Verdict,
        now: UnixTime,
    ) {
        let Some(cache) = &self.cache else {
            return;
        };
        if licence.len() > MAX_CACHED_LICENCE_BYTES {
            return;
        }
        let lifetime = lifetime(verdict, now, self.ttl);
        if lifetime < Duration::from_secs(1) {
            return;
        }
        cache.insert(
            key(licence, city),
            Entry {
                generation,
                judgement: verdict.judgement(),
                expires: Instant::now() + lifetime,
            },
        );
    }

    /// Forgets everything (on reload).
    pub fn clear(&self) {
        if let Some(cache) = &self.cache {
            cache.invalidate_all();
        }
    }

    /// Entries currently held (approximate; for tests and logs).
    pub fn len(&self) -> u64 {
        self.cache.as_ref().map_or(0, |cache| {
            cache.run_pending_tasks();
            cache.entry_count()
        })
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// How long `verdict`, computed at `now`, stays true: until the first future time boundary of
/// the licence, capped by `ttl`.
pub fn lifetime(verdict: &Verdict, now: UnixTime, ttl: Duration) -> Duration {
    let boundaries = [
        verdict.exp,
        verdict.nbf,
        verdict
            .iat
            .map(|iat| iat.saturating_sub(MAX_ISSUE_SKEW_SECS)),
    ];
    boundaries
        .into_iter()
        .flatten()
        .filter(|&t| t > now)
        .map(|t| Duration::from_secs(u64::try_from(t - now).unwrap_or(0)))
        .fold(ttl, Duration::min)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verdict(iat: Option<i64>, nbf: Option<i64>, exp: Option<i64>) -> Verdict {
        Verdict {
            valid: true,
            lid: None,
            ltype: None,
            ltype_name: None,
            issuer: None,
            holder: None,
            errors: vec![],
            warnings: vec![],
            verified_for_city: "420100".into(),
            cached: false,
            iat,
            nbf,
            exp,
        }
    }

    const HOUR: Duration = Duration::from_secs(3600);

    #[test]
    fn lifetime_is_capped_by_exp_nbf_iat_and_ttl() {
        let now = 1_000_000;
        assert_eq!(lifetime(&verdict(Some(0), None, None), now, HOUR), HOUR);
        assert_eq!(
            lifetime(&verdict(Some(0), None, Some(now + 10)), now, HOUR),
            Duration::from_secs(10)
        );
        // already expired: the verdict will not change any more
        assert_eq!(
            lifetime(&verdict(Some(0), None, Some(now - 10)), now, HOUR),
            HOUR
        );
        assert_eq!(
            lifetime(&verdict(Some(0), Some(now + 20), None), now, HOUR),
            Duration::from_secs(20)
        );
        let future_iat = now + MAX_ISSUE_SKEW_SECS + 30;
        assert_eq!(
            lifetime(&verdict(Some(future_iat), None, None), now, HOUR),
            Duration::from_secs(30)
        );
    }

    #[test]
    fn hits_are_keyed_by_licence_city_and_generation() {
        let cache = VerdictCache::new(&CacheConfig::default());
        let v = verdict(Some(0), None, None);
        assert!(cache.get(b"jws", "420100", 1).is_none());
        cache.insert(b"jws", "420100", 1, &v, 100);
        assert_eq!(cache.get(b"jws", "420100", 1), Some(v.judgement()));
        assert!(cache.get(b"jws", "420200", 1).is_none());
        assert!(cache.get(b"jws2", "420100", 1).is_none());
        assert!(cache.get(b"jws", "420100", 2).is_none(), "older generation");
        cache.clear();
        assert!(cache.get(b"jws", "420100", 1).is_none());
    }

    #[test]
    fn zero_max_entries_disables_the_cache() {
        let cache = VerdictCache::new(&CacheConfig {
            max_entries: 0,
            ..CacheConfig::default()
        });
        assert!(!cache.is_enabled());
        cache.insert(b"jws", "420100", 1, &verdict(Some(0), None, None), 100);
        assert!(cache.get(b"jws", "420100", 1).is_none());
        assert!(cache.is_empty());
        cache.clear();
        assert!(VerdictCache::new(&CacheConfig::default()).is_enabled());
    }

    #[test]
    fn a_verdict_true_for_a_second_is_kept_a_briefer_one_or_a_huge_licence_is_not() {
        let cache = VerdictCache::new(&CacheConfig::default());
        // expires one second after `now`: kept for that second
        cache.insert(b"b", "420100", 1, &verdict(None, None, Some(100)), 99);
        let big = vec![b'x'; MAX_CACHED_LICENCE_BYTES + 1];
        cache.insert(&big, "420100", 1, &verdict(None, None, None), 0);
        assert!(cache.get(b"b", "420100", 1).is_some());
        assert!(cache.get(&big, "420100", 1).is_none());
        // under a second (here a sub-second ttl): not worth keeping
        let brief = VerdictCache::new(&CacheConfig {
            ttl: Duration::from_millis(500),
            ..CacheConfig::default()
        });
        brief.insert(b"c", "420100", 1, &verdict(None, None, None), 0);
        assert!(brief.is_empty());
    }

    #[test]
    fn entries_expire_at_exp() {
        let cache = VerdictCache::new(&CacheConfig::default());
        let now = crate::time::Clock::now(&crate::time::SystemClock);
        cache.insert(b"a", "420100", 1, &verdict(None, None, Some(now + 1)), now);
        assert!(cache.get(b"a", "420100", 1).is_some());
        std::thread::sleep(Duration::from_millis(1100));
        assert!(cache.get(b"a", "420100", 1).is_none());
    }
}
