//! Frequency limits (per API per app, per message target) and the monthly call quota.
//!
//! Windows slide over the real monotonic clock rather than counting per calendar second, so a
//! burst is judged the same wherever it falls relative to a second boundary.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use chrono::{DateTime, Datelike as _, Utc};

const SECOND: Duration = Duration::from_secs(1);
const MINUTE: Duration = Duration::from_secs(60);

/// A bound that was hit: what to put in `x-ogw-ratelimit-limit` / `x-ogw-ratelimit-reset`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Limited {
    pub(crate) limit: u32,
    pub(crate) reset_s: u64,
}

#[derive(Debug, Default)]
pub(crate) struct RateLimits {
    per_api: HashMap<String, VecDeque<Instant>>,
    per_target: HashMap<String, VecDeque<Instant>>,
}

impl RateLimits {
    /// Records a call to `api` unless it would exceed either bound.
    pub(crate) fn admit_api(&mut self, api: &str, per_sec: u32, per_min: u32) -> Result<(), Limited> {
        let now = Instant::now();
        let hits = self.per_api.entry(api.to_owned()).or_default();
        forget_older(hits, now, MINUTE);
        if let Some(reset_s) = exceeded(hits, now, SECOND, per_sec) {
            return Err(Limited { limit: per_sec, reset_s });
        }
        if let Some(reset_s) = exceeded(hits, now, MINUTE, per_min) {
            return Err(Limited { limit: per_min, reset_s });
        }
        hits.push_back(now);
        Ok(())
    }

    /// Records a message to `target` unless it already had `qps` in the last second.
    pub(crate) fn admit_target(&mut self, target: &str, qps: u32) -> bool {
        let now = Instant::now();
        let hits = self.per_target.entry(target.to_owned()).or_default();
        forget_older(hits, now, SECOND);
        if exceeded(hits, now, SECOND, qps).is_some() {
            return false;
        }
        hits.push_back(now);
        true
    }

    pub(crate) fn clear(&mut self) {
        self.per_api.clear();
        self.per_target.clear();
    }
}

fn forget_older(hits: &mut VecDeque<Instant>, now: Instant, span: Duration) {
    while hits.front().is_some_and(|t| now.duration_since(*t) >= span) {
        hits.pop_front();
    }
}

/// Seconds until a slot frees up, if `limit` calls already fell within `span`.
fn exceeded(hits: &VecDeque<Instant>, now: Instant, span: Duration, limit: u32) -> Option<u64> {
    if limit == 0 {
        return None;
    }
    let in_window: Vec<&Instant> = hits.iter().filter(|t| now.duration_since(**t) < span).collect();
    if in_window.len() < limit as usize {
        return None;
    }
    let oldest = in_window.len() - limit as usize;
    let frees_in = span.saturating_sub(now.duration_since(*in_window[oldest]));
    let secs = frees_in.as_secs() + u64::from(frees_in.subsec_nanos() > 0);
    Some(secs.max(1))
}

/// Billed calls in the current month of the sim clock.
#[derive(Debug)]
pub(crate) struct Quota {
    month: (i32, u32),
    billed: u64,
}

impl Quota {
    pub(crate) fn new(now: DateTime<Utc>) -> Self {
        Self { month: (now.year(), now.month()), billed: 0 }
    }

    /// The count for the month `now` falls in; a new month starts from zero.
    pub(crate) fn billed(&mut self, now: DateTime<Utc>) -> u64 {
        let month = (now.year(), now.month());
        if month != self.month {
            self.month = month;
            self.billed = 0;
        }
        self.billed
    }

    pub(crate) fn record(&mut self, now: DateTime<Utc>) {
        self.billed(now);
        self.billed += 1;
    }
}
