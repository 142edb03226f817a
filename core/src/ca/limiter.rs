//! Server-side limits on leaf signing (`CSRMaxPerSecond`, `CSRMaxConcurrent`): after a root
//! rotation every proxy asks for a new leaf at once, and the limit keeps servers responsive
//! while agents retry with jitter.

use std::time::Duration;

use super::ProviderConfig;
use crate::time::Instant;

/// A request was refused by the limit; retry after `retry_after` (agents add jitter).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("rate limit reached, try again later (retry in {}ms)", retry_after.as_millis())]
pub struct RateLimited {
    /// How long until a slot frees up at the earliest.
    pub retry_after: Duration,
}

/// Token bucket for `CSRMaxPerSecond` (burst of one second's worth), or a concurrency cap
/// for `CSRMaxConcurrent` when that is set, as Consul does. Time is an argument.
#[derive(Debug, Clone)]
pub struct CsrLimiter {
    per_second: f64,
    max_concurrent: u32,
    tokens: f64,
    last: Instant,
    in_flight: u32,
}

impl CsrLimiter {
    /// A limiter for `config`, full at `now`.
    pub fn new(config: &ProviderConfig, now: Instant) -> Self {
        CsrLimiter {
            per_second: config.csr_max_per_second,
            max_concurrent: config.csr_max_concurrent,
            tokens: config.csr_max_per_second.max(1.0),
            last: now,
            in_flight: 0,
        }
    }

    /// Takes a slot for one signing. With a concurrency cap, call
    /// [`CsrLimiter::release`] when the signing finishes.
    pub fn try_acquire(&mut self, now: Instant) -> Result<(), RateLimited> {
        if self.max_concurrent > 0 {
            if self.in_flight >= self.max_concurrent {
                return Err(RateLimited { retry_after: Duration::from_millis(100) });
            }
            self.in_flight += 1;
            return Ok(());
        }
        if self.per_second <= 0.0 {
            return Ok(());
        }
        let elapsed = now.since(self.last).as_secs_f64();
        self.last = self.last.max(now);
        self.tokens = (self.tokens + elapsed * self.per_second).min(self.per_second.max(1.0));
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            let wait = (1.0 - self.tokens) / self.per_second;
            Err(RateLimited { retry_after: Duration::from_secs_f64(wait) })
        }
    }

    /// Frees a concurrency slot taken by [`CsrLimiter::try_acquire`].
    pub fn release(&mut self) {
        self.in_flight = self.in_flight.saturating_sub(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(per_second: f64, concurrent: u32) -> ProviderConfig {
        ProviderConfig {
            csr_max_per_second: per_second,
            csr_max_concurrent: concurrent,
            ..Default::default()
        }
    }

    #[test]
    fn rate_limit_allows_the_configured_rate_and_says_when_to_retry() {
        let mut l = CsrLimiter::new(&config(50.0, 0), Instant::ZERO);
        let granted = (0..100).filter(|_| l.try_acquire(Instant::ZERO).is_ok()).count();
        assert_eq!(granted, 50, "a burst of one second's worth");
        let err = l.try_acquire(Instant::ZERO).unwrap_err();
        assert_eq!(err.retry_after, Duration::from_millis(20));
        assert!(err.to_string().starts_with("rate limit reached, try again later"));
        let later = Instant::ZERO.plus(Duration::from_millis(100));
        let granted = (0..100).filter(|_| l.try_acquire(later).is_ok()).count();
        assert_eq!(granted, 5, "refills at 50/s");
    }

    #[test]
    fn concurrency_cap_wins_over_the_rate_and_frees_on_release() {
        let mut l = CsrLimiter::new(&config(50.0, 2), Instant::ZERO);
        assert!(l.try_acquire(Instant::ZERO).is_ok());
        assert!(l.try_acquire(Instant::ZERO).is_ok());
        assert!(l.try_acquire(Instant::ZERO).is_err());
        l.release();
        assert!(l.try_acquire(Instant::ZERO).is_ok());
    }

    #[test]
    fn zero_means_unlimited() {
        let mut l = CsrLimiter::new(&config(0.0, 0), Instant::ZERO);
        assert!((0..10_000).all(|_| l.try_acquire(Instant::ZERO).is_ok()));
    }
}
