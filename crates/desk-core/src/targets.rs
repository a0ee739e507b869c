//! Response targets: how soon a ticket must get its first response, how often it must
//! hear an update, and how soon it must be resolved, by support plan and severity; and
//! the pure clock every target runs on (counted in business hours or around the clock,
//! paused while the ticket waits on the customer, tightened by escalation).

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use crate::calendar::Hours;
use crate::{DomainError, Severity, SupportPlan};

/// Which promise a target is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TargetKind {
    /// Staff answer the customer for the first time (an emergency: someone acknowledges).
    FirstResponse,
    /// Staff tell the customer where things stand, again and again.
    Update,
    /// The ticket is resolved.
    Resolution,
}

impl TargetKind {
    /// Every kind, in the order a ticket meets them.
    pub const ALL: [Self; 3] = [Self::FirstResponse, Self::Update, Self::Resolution];

    /// Stable name for the API and the database.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::FirstResponse => "first_response",
            Self::Update => "update",
            Self::Resolution => "resolution",
        }
    }
}

impl fmt::Display for TargetKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for TargetKind {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| DomainError::invalid("target", "must be one of first_response, update, resolution"))
    }
}

/// The targets of one severity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TargetSet {
    /// Until the first response.
    pub first_response: TimeDelta,
    /// Between updates.
    pub update: TimeDelta,
    /// Until resolution.
    pub resolution: TimeDelta,
    /// Counted on every hour, not only the calendar's working hours.
    pub around_the_clock: bool,
}

impl TargetSet {
    /// The allowance of `kind`.
    pub const fn of(&self, kind: TargetKind) -> TimeDelta {
        match kind {
            TargetKind::FirstResponse => self.first_response,
            TargetKind::Update => self.update,
            TargetKind::Resolution => self.resolution,
        }
    }
}

const fn set(first_minutes: i64, update_minutes: i64, resolution_hours: i64, around_the_clock: bool) -> TargetSet {
    TargetSet {
        first_response: TimeDelta::minutes(first_minutes),
        update: TimeDelta::minutes(update_minutes),
        resolution: TimeDelta::hours(resolution_hours),
        around_the_clock,
    }
}

/// The targets a plan promises for a severity, before any organisation changes them.
/// Standard counts business hours only; Premium runs P1 around the clock; Enterprise
/// P1 and P2.
pub const fn default_targets(plan: SupportPlan, severity: Severity) -> TargetSet {
    match (plan, severity) {
        (SupportPlan::Standard, Severity::P1) => set(60, 120, 16, false),
        (SupportPlan::Standard, Severity::P2) => set(4 * 60, 8 * 60, 40, false),
        (SupportPlan::Standard, Severity::P3) => set(8 * 60, 24 * 60, 80, false),
        (SupportPlan::Standard, Severity::P4) => set(16 * 60, 40 * 60, 160, false),
        (SupportPlan::Premium, Severity::P1) => set(30, 60, 8, true),
        (SupportPlan::Premium, Severity::P2) => set(2 * 60, 4 * 60, 24, false),
        (SupportPlan::Premium, Severity::P3) => set(4 * 60, 16 * 60, 40, false),
        (SupportPlan::Premium, Severity::P4) => set(8 * 60, 40 * 60, 80, false),
        (SupportPlan::Enterprise, Severity::P1) => set(15, 30, 4, true),
        (SupportPlan::Enterprise, Severity::P2) => set(60, 2 * 60, 12, true),
        (SupportPlan::Enterprise, Severity::P3) => set(2 * 60, 8 * 60, 24, false),
        (SupportPlan::Enterprise, Severity::P4) => set(4 * 60, 24 * 60, 40, false),
    }
}

/// The clock of one target: an allowance, what of it is used, and since when it runs.
/// Paused (`running_since: None`) while the ticket waits on the customer. The counting
/// mode (business hours or every hour) is the caller's: it passes the same [`Hours`]
/// to every call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TargetClock {
    /// The allowance, in counted seconds.
    pub budget_secs: i64,
    /// Counted seconds used before `running_since`.
    pub consumed_secs: i64,
    /// When the current running stretch began; `None` while paused.
    pub running_since: Option<DateTime<Utc>>,
}

impl TargetClock {
    /// A clock with `budget` that starts running at `now`.
    pub fn start(budget: TimeDelta, now: DateTime<Utc>) -> Self {
        Self { budget_secs: budget.num_seconds(), consumed_secs: 0, running_since: Some(now) }
    }

    /// Counted seconds used by `now`.
    pub fn consumed_at(&self, hours: Hours<'_>, now: DateTime<Utc>) -> i64 {
        self.consumed_secs + self.running_since.map_or(0, |since| hours.elapsed(since, now).num_seconds())
    }

    /// When the allowance runs out, if the clock runs (and the calendar ever opens).
    pub fn due_at(&self, hours: Hours<'_>) -> Option<DateTime<Utc>> {
        let since = self.running_since?;
        hours.add(since, TimeDelta::seconds(self.budget_secs - self.consumed_secs))
    }

    /// When `percent` of the allowance is used, if the clock runs.
    pub fn warn_at(&self, hours: Hours<'_>, percent: u8) -> Option<DateTime<Utc>> {
        let since = self.running_since?;
        let mark = self.budget_secs * i64::from(percent.min(100)) / 100;
        hours.add(since, TimeDelta::seconds(mark - self.consumed_secs))
    }

    /// Stops the clock at `now`, keeping what was used.
    pub fn pause(&mut self, hours: Hours<'_>, now: DateTime<Utc>) {
        self.consumed_secs = self.consumed_at(hours, now);
        self.running_since = None;
    }

    /// Starts a paused clock again at `now`.
    pub fn resume(&mut self, now: DateTime<Utc>) {
        if self.running_since.is_none() {
            self.running_since = Some(now);
        }
    }

    /// Scales what is left of the allowance at `now` by `to_percent / from_percent` (an
    /// escalation from a level at `from_percent` to one at `to_percent`): the due moves
    /// closer, never into the past.
    pub fn rescale(&mut self, hours: Hours<'_>, now: DateTime<Utc>, from_percent: u32, to_percent: u32) {
        if from_percent == 0 || from_percent == to_percent {
            return;
        }
        let used = self.consumed_at(hours, now);
        let left = (self.budget_secs - used).max(0);
        let scaled =
            i64::try_from(i128::from(left) * i128::from(to_percent) / i128::from(from_percent)).unwrap_or(i64::MAX);
        self.budget_secs = used + scaled;
    }
}

/// Scales an allowance to a level's share (`percent` of it).
pub fn scaled(allowance: TimeDelta, percent: u32) -> TimeDelta {
    TimeDelta::seconds(
        i64::try_from(i128::from(allowance.num_seconds()) * i128::from(percent) / 100).unwrap_or(i64::MAX),
    )
}

/// What a running target's timer should do at `now`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetStep {
    /// Nothing yet; look again at `next` (none: paused, or never due).
    Wait {
        /// When something next happens.
        next: Option<DateTime<Utc>>,
    },
    /// Warn that the target is close: it is due at `due`.
    Warn {
        /// When it runs out.
        due: DateTime<Utc>,
    },
    /// The target is missed: it was due at `due`.
    Breach {
        /// When it ran out.
        due: DateTime<Utc>,
    },
}

/// Decides a target timer at `now`, given whether it already warned and breached. A
/// warning that was never sent before the breach (the desk was down) is not sent late:
/// the breach says more.
pub fn decide_target(
    clock: &TargetClock,
    warned: bool,
    breached: bool,
    hours: Hours<'_>,
    warn_percent: u8,
    now: DateTime<Utc>,
) -> TargetStep {
    if breached || clock.running_since.is_none() {
        return TargetStep::Wait { next: None };
    }
    let Some(due) = clock.due_at(hours) else { return TargetStep::Wait { next: None } };
    if due <= now {
        return TargetStep::Breach { due };
    }
    match clock.warn_at(hours, warn_percent) {
        Some(warn) if !warned && warn <= now => TargetStep::Warn { due },
        Some(warn) if !warned => TargetStep::Wait { next: Some(warn) },
        _ => TargetStep::Wait { next: Some(due) },
    }
}

/// Parses a humane duration: whole numbers with `d`, `h`, `m` or `s`, in that order,
/// as `90m`, `1h30m`, `2d`. At least one second.
pub fn parse_duration(s: &str) -> Option<TimeDelta> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    let mut total: i64 = 0;
    let mut number = String::new();
    let mut last_unit = 0u8;
    for c in s.chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let (rank, secs) = match c {
            'd' => (1, 86_400),
            'h' => (2, 3_600),
            'm' => (3, 60),
            's' => (4, 1),
            _ => return None,
        };
        if number.is_empty() || rank <= last_unit {
            return None;
        }
        total = total.checked_add(number.parse::<i64>().ok()?.checked_mul(secs)?)?;
        number.clear();
        last_unit = rank;
    }
    (number.is_empty() && total > 0).then(|| TimeDelta::seconds(total))
}

/// Prints a duration the way [`parse_duration`] reads it (`1h30m`, `2d`, `45s`).
pub fn format_duration(d: TimeDelta) -> String {
    let mut secs = d.num_seconds().max(0);
    if secs == 0 {
        return "0s".to_owned();
    }
    let mut out = String::new();
    for (unit, size) in [('d', 86_400), ('h', 3_600), ('m', 60), ('s', 1)] {
        if secs >= size {
            out.push_str(&format!("{}{unit}", secs / size));
            secs %= size;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::BusinessCalendar;
    use rstest::rstest;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn office() -> BusinessCalendar {
        BusinessCalendar::standard(chrono_tz::Tz::UTC)
    }

    #[test]
    fn a_running_clock_warns_then_breaches() {
        let cal = office();
        let hours = Hours::Business(&cal);
        // A P2 on Standard opened Thursday 10:00: 4 business hours, warned at 80 %.
        let clock = TargetClock::start(TimeDelta::hours(4), at("2026-11-19T10:00:00Z"));
        let warn = at("2026-11-19T13:12:00Z");
        let due = at("2026-11-19T14:00:00Z");
        assert_eq!(
            decide_target(&clock, false, false, hours, 80, at("2026-11-19T11:00:00Z")),
            TargetStep::Wait { next: Some(warn) }
        );
        assert_eq!(decide_target(&clock, false, false, hours, 80, warn), TargetStep::Warn { due });
        assert_eq!(decide_target(&clock, true, false, hours, 80, warn), TargetStep::Wait { next: Some(due) });
        assert_eq!(decide_target(&clock, true, false, hours, 80, due), TargetStep::Breach { due });
        assert_eq!(decide_target(&clock, true, true, hours, 80, due), TargetStep::Wait { next: None }, "once");
        // Down through the warning: the breach alone.
        assert_eq!(
            decide_target(&clock, false, false, hours, 80, at("2026-11-20T09:00:00Z")),
            TargetStep::Breach { due }
        );
    }

    #[test]
    fn waiting_on_the_customer_pauses_the_clock() {
        let cal = office();
        let hours = Hours::Business(&cal);
        let mut clock = TargetClock::start(TimeDelta::hours(4), at("2026-11-19T10:00:00Z"));
        // One hour used, then the customer is asked something and answers a day later.
        clock.pause(hours, at("2026-11-19T11:00:00Z"));
        assert_eq!(clock.consumed_secs, 3_600);
        assert_eq!(clock.due_at(hours), None);
        assert_eq!(
            decide_target(&clock, false, false, hours, 80, at("2026-11-25T00:00:00Z")),
            TargetStep::Wait { next: None }
        );
        clock.resume(at("2026-11-20T11:00:00Z"));
        assert_eq!(clock.due_at(hours), Some(at("2026-11-20T14:00:00Z")), "three hours left");
        clock.resume(at("2026-11-20T12:00:00Z"));
        assert_eq!(clock.due_at(hours), Some(at("2026-11-20T14:00:00Z")), "resuming a running clock changes nothing");
    }

    #[test]
    fn escalation_shrinks_what_is_left() {
        let hours = Hours::Always;
        let mut clock = TargetClock::start(TimeDelta::hours(4), at("2026-11-21T09:00:00Z"));
        // An hour in, escalated from a level at 100 % to one at 50 %: 3 h left become 1 h 30.
        clock.rescale(hours, at("2026-11-21T10:00:00Z"), 100, 50);
        assert_eq!(clock.due_at(hours), Some(at("2026-11-21T11:30:00Z")));
        // From 50 % to 25 %: 1 h left at 10:30 becomes 30 min.
        clock.rescale(hours, at("2026-11-21T10:30:00Z"), 50, 25);
        assert_eq!(clock.due_at(hours), Some(at("2026-11-21T11:00:00Z")));
        // Past due, it stays past due rather than moving.
        clock.rescale(hours, at("2026-11-21T12:00:00Z"), 25, 10);
        assert_eq!(clock.due_at(hours), Some(at("2026-11-21T12:00:00Z")));
    }

    #[rstest]
    #[case::standard_p1(SupportPlan::Standard, Severity::P1, 60, false)]
    #[case::premium_p1(SupportPlan::Premium, Severity::P1, 30, true)]
    #[case::premium_p2(SupportPlan::Premium, Severity::P2, 120, false)]
    #[case::enterprise_p2(SupportPlan::Enterprise, Severity::P2, 60, true)]
    fn plans_promise_more_as_they_cost_more(
        #[case] plan: SupportPlan,
        #[case] severity: Severity,
        #[case] first_minutes: i64,
        #[case] around: bool,
    ) {
        let t = default_targets(plan, severity);
        assert_eq!((t.first_response.num_minutes(), t.around_the_clock), (first_minutes, around));
    }

    #[test]
    fn every_plan_is_faster_for_worse_severities() {
        for plan in SupportPlan::ALL {
            for pair in Severity::ALL.windows(2) {
                let (worse, better) = (default_targets(plan, pair[0]), default_targets(plan, pair[1]));
                for kind in TargetKind::ALL {
                    assert!(worse.of(kind) <= better.of(kind), "{plan} {kind} {:?}", pair);
                }
            }
        }
    }

    #[rstest]
    #[case("30m", Some(1_800))]
    #[case("1h30m", Some(5_400))]
    #[case("2d", Some(172_800))]
    #[case("45s", Some(45))]
    #[case("1d2h3m4s", Some(93_784))]
    #[case("30", None)]
    #[case("m", None)]
    #[case("1m1h", None)]
    #[case("0m", None)]
    #[case("", None)]
    #[case("1.5h", None)]
    fn durations_parse(#[case] input: &str, #[case] secs: Option<i64>) {
        assert_eq!(parse_duration(input).map(|d| d.num_seconds()), secs, "{input}");
    }

    #[test]
    fn durations_print_the_way_they_parse() {
        for s in ["30m", "1h30m", "2d", "45s", "1d2h3m4s"] {
            assert_eq!(format_duration(parse_duration(s).unwrap()), s);
        }
    }

    #[test]
    fn scaling_keeps_whole_seconds() {
        assert_eq!(scaled(TimeDelta::hours(4), 50), TimeDelta::hours(2));
        assert_eq!(scaled(TimeDelta::minutes(15), 25), TimeDelta::seconds(225));
    }
}
