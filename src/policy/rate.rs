//! Token buckets per calling organisation and item (contract section 4).

use std::collections::HashMap;
use std::sync::Mutex;

use super::model::Rate;

/// Most buckets kept before idle ones are dropped: bounds memory whatever callers do.
const MAX_BUCKETS: usize = 100_000;

#[derive(Clone, Copy, Debug)]
struct Bucket {
    tokens: f64,
    updated: f64,
}

/// Rate limiter; time is given in seconds by the caller: the gateway reads tokio's monotonic
/// clock ([`crate::server::State::started`]), which tests pause and move on.
#[derive(Debug, Default)]
pub struct RateLimiter {
    buckets: Mutex<HashMap<(String, String), Bucket>>,
}

impl RateLimiter {
    /// Takes one token for (`org`, `item`) at `now`; `Err(retry_after_secs)` when none is left.
    pub fn take(&self, org: &str, item: &str, rate: Rate, now: f64) -> Result<(), u64> {
        let capacity = f64::from(rate.count);
        let per_sec = rate.per_second();
        let Ok(mut buckets) = self.buckets.lock() else {
            return Ok(()); // a poisoned lock never blocks traffic; it cannot happen without a panic
        };
        if buckets.len() >= MAX_BUCKETS {
            buckets.retain(|_, b| now - b.updated < 3600.0);
        }
        let bucket = buckets
            .entry((org.to_owned(), item.to_owned()))
            .or_insert(Bucket {
                tokens: capacity,
                updated: now,
            });
        bucket.tokens = (bucket.tokens + (now - bucket.updated).max(0.0) * per_sec).min(capacity);
        bucket.updated = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - bucket.tokens) / per_sec).ceil().max(1.0) as u64)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_of_n_refills_at_the_rate() {
        let limiter = RateLimiter::default();
        let rate = Rate {
            count: 3,
            period_secs: 60,
        };
        for _ in 0..3 {
            assert!(limiter.take("org", "ITEM", rate, 0.0).is_ok());
        }
        assert_eq!(limiter.take("org", "ITEM", rate, 0.0), Err(20));
        assert!(
            limiter.take("other", "ITEM", rate, 0.0).is_ok(),
            "per organisation"
        );
        assert!(
            limiter.take("org", "ITEM", rate, 20.0).is_ok(),
            "one token back after 20 s"
        );
        assert!(limiter.take("org", "ITEM", rate, 20.0).is_err());
    }

    #[tokio::test(start_paused = true)]
    async fn refills_as_the_paused_clock_moves_on() {
        let limiter = RateLimiter::default();
        let started = tokio::time::Instant::now();
        let now = || started.elapsed().as_secs_f64();
        let rate = Rate {
            count: 2,
            period_secs: 1,
        };
        assert!(limiter.take("org", "ITEM", rate, now()).is_ok());
        assert!(limiter.take("org", "ITEM", rate, now()).is_ok());
        assert_eq!(limiter.take("org", "ITEM", rate, now()), Err(1));
        tokio::time::advance(std::time::Duration::from_millis(499)).await;
        assert!(limiter.take("org", "ITEM", rate, now()).is_err());
        tokio::time::advance(std::time::Duration::from_millis(1)).await;
        assert!(
            limiter.take("org", "ITEM", rate, now()).is_ok(),
            "a token every 500 ms"
        );
    }
}
