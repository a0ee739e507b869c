//! Paging an emergency: who is paged next and when. Pages repeat every page interval
//! until someone acknowledges; after `pages_per_step` pages to one step of the chain the
//! next step is paged; the last step keeps being paged. Nothing here pages faster than
//! the interval, whatever the caller asks.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use crate::DomainError;

/// Why an emergency is being paged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PageReason {
    /// Declared and nobody has acknowledged it.
    Unacknowledged,
    /// Acknowledged, then no update within the update cadence.
    NoUpdate,
}

impl PageReason {
    /// Stable name for the API and the database.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Unacknowledged => "unacknowledged",
            Self::NoUpdate => "no_update",
        }
    }
}

impl fmt::Display for PageReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for PageReason {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [Self::Unacknowledged, Self::NoUpdate]
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| DomainError::invalid("reason", "must be unacknowledged or no_update"))
    }
}

/// Where paging of one emergency stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PageState {
    /// The chain step being paged (0 = the first).
    pub step: u32,
    /// Pages sent to that step so far.
    pub sent_in_step: u32,
    /// When the last page went out.
    pub last_at: Option<DateTime<Utc>>,
}

/// What to do about paging at `now`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageStep {
    /// Too soon after the last page: wait until then.
    Wait {
        /// The earliest the next page may go.
        until: DateTime<Utc>,
    },
    /// Page step `step`; it is that step's page number `page` (1-based).
    Page {
        /// The chain step (0-based).
        step: u32,
        /// The page's number within the step (1-based).
        page: u32,
    },
}

/// Decides the next page on a chain of `chain_len` steps paged `pages_per_step` times
/// each, at most once per `interval`.
pub fn next_page(
    state: PageState,
    chain_len: u32,
    pages_per_step: u32,
    interval: TimeDelta,
    now: DateTime<Utc>,
) -> PageStep {
    if let Some(last) = state.last_at
        && last + interval > now
    {
        return PageStep::Wait { until: last + interval };
    }
    let last_step = chain_len.saturating_sub(1);
    if state.sent_in_step < pages_per_step.max(1) || state.step >= last_step {
        let step = state.step.min(last_step);
        let page = if state.step > last_step { 1 } else { state.sent_in_step + 1 };
        PageStep::Page { step, page }
    } else {
        PageStep::Page { step: state.step + 1, page: 1 }
    }
}

/// The state after a page to `step` went out at `now` as page `page` of that step.
pub fn after_page(step: u32, page: u32, now: DateTime<Utc>) -> PageState {
    PageState { step, sent_in_step: page, last_at: Some(now) }
}

/// When step `step`, page `page` would go, for a paging that starts at `start` and is
/// never acknowledged (every step answering): `start + n × interval` where `n` counts the
/// pages before it.
pub fn page_time(
    start: DateTime<Utc>,
    step: u32,
    page: u32,
    pages_per_step: u32,
    interval: TimeDelta,
) -> DateTime<Utc> {
    let n = i32::try_from(step.saturating_mul(pages_per_step.max(1)) + page.saturating_sub(1)).unwrap_or(i32::MAX);
    start + interval * n
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn pages_repeat_then_climb_then_stay_at_the_top() {
        let interval = TimeDelta::minutes(5);
        let t0 = at("2026-11-21T09:00:00Z");
        let mut state = PageState::default();
        let mut seen = Vec::new();
        let mut now = t0;
        for _ in 0..8 {
            let PageStep::Page { step, page } = next_page(state, 2, 3, interval, now) else { panic!("due") };
            seen.push((step, page, (now - t0).num_minutes()));
            state = after_page(step, page, now);
            now += interval;
        }
        assert_eq!(
            seen,
            [(0, 1, 0), (0, 2, 5), (0, 3, 10), (1, 1, 15), (1, 2, 20), (1, 3, 25), (1, 4, 30), (1, 5, 35)]
        );
        assert_eq!(page_time(t0, 1, 1, 3, interval), at("2026-11-21T09:15:00Z"));
    }

    #[test]
    fn never_faster_than_the_interval() {
        let interval = TimeDelta::minutes(5);
        let t0 = at("2026-11-21T09:00:00Z");
        let state = after_page(0, 1, t0);
        let early = t0 + TimeDelta::minutes(4);
        assert_eq!(next_page(state, 2, 3, interval, early), PageStep::Wait { until: t0 + interval });
        assert_eq!(next_page(state, 2, 3, interval, t0 + interval), PageStep::Page { step: 0, page: 2 });
    }

    #[test]
    fn a_chain_of_one_keeps_paging_its_only_step() {
        let t0 = at("2026-11-21T09:00:00Z");
        let state = after_page(0, 3, t0);
        assert_eq!(
            next_page(state, 1, 3, TimeDelta::minutes(5), t0 + TimeDelta::hours(1)),
            PageStep::Page { step: 0, page: 4 }
        );
    }

    #[test]
    fn a_chain_that_shrank_pages_its_new_last_step() {
        let t0 = at("2026-11-21T09:00:00Z");
        let state = after_page(4, 1, t0);
        assert_eq!(
            next_page(state, 2, 3, TimeDelta::minutes(5), t0 + TimeDelta::hours(1)),
            PageStep::Page { step: 1, page: 1 }
        );
    }
}
