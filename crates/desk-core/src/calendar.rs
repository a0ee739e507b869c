//! Business calendars: when an organisation's support clock runs. Working hours per
//! weekday on a time zone (a span may cross midnight), public holidays, and make-up
//! working days (a weekend day worked in exchange for a holiday, as China's 调休 does).
//!
//! The arithmetic is on instants: [`Hours::add`] answers "when will this much business
//! time have passed", [`Hours::elapsed`] "how much business time lies between these two
//! instants". Both walk the calendar's open intervals, which are computed day by day on
//! the local clock and then placed on the UTC line, so clock changes are handled where
//! they happen:
//!
//! - a working day on which the clocks jump forward inside working hours is that much
//!   shorter, one on which they fall back that much longer;
//! - a span edge that a jump skips (02:30 on a spring-forward night) means the first
//!   instant after the jump; a span start that happens twice means the earlier instant,
//!   a span end that happens twice the later one (the span covers every instant whose
//!   wall-clock time lies inside it).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use chrono::{
    DateTime, Datelike, Days, MappedLocalTime, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta, TimeZone, Utc,
};
use chrono_tz::Tz;

use crate::preferences::{TIME_ZONE_REASON, first_instant_after};
use crate::{DomainError, Validation, parse_time_zone};

/// Longest stretch the arithmetic walks looking for open time: a calendar closed for
/// longer than this (a year of holidays typed by mistake) counts as never open.
const MAX_DAYS: u64 = 3 * 366;

/// Weekday keys, Monday first, as the API names them.
pub const WEEKDAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// One span of working time on a day, in minutes after local midnight. `end` is at most
/// 24:00; an `end` at or before `start` means the span crosses midnight into the next day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Span {
    start: u16,
    end: u16,
}

const DAY_MINUTES: u16 = 24 * 60;

impl Span {
    /// A span from `start` to `end` minutes after midnight (`end` up to 1440); `None`
    /// when either is out of range or they are equal.
    pub fn new(start: u16, end: u16) -> Option<Self> {
        (start < DAY_MINUTES && (1..=DAY_MINUTES).contains(&end) && start != end).then_some(Self { start, end })
    }

    /// Parses `HH:MM` to `HH:MM` (the end may be `24:00`).
    pub fn parse(start: &str, end: &str) -> Option<Self> {
        Self::new(parse_minutes(start).filter(|m| *m < DAY_MINUTES)?, parse_minutes(end)?)
    }

    /// Whether it runs past midnight into the next day.
    pub const fn crosses_midnight(&self) -> bool {
        self.end <= self.start
    }

    /// `start` as `HH:MM`.
    pub fn start_str(&self) -> String {
        hh_mm(self.start)
    }

    /// `end` as `HH:MM` (`24:00` for a span to the end of the day).
    pub fn end_str(&self) -> String {
        hh_mm(self.end)
    }

    /// Its length.
    pub fn length(&self) -> TimeDelta {
        let minutes = if self.crosses_midnight() { DAY_MINUTES - self.start + self.end } else { self.end - self.start };
        TimeDelta::minutes(i64::from(minutes))
    }

    /// The local start and end on `date` (the end may be on the next day).
    fn on(&self, date: NaiveDate) -> Option<(NaiveDateTime, NaiveDateTime)> {
        let start = date.and_time(NaiveTime::MIN) + TimeDelta::minutes(i64::from(self.start));
        Some((start, start + self.length()))
    }
}

fn hh_mm(minutes: u16) -> String {
    format!("{:02}:{:02}", minutes / 60, minutes % 60)
}

/// Minutes after midnight of exactly `HH:MM` (`24:00` allowed).
fn parse_minutes(s: &str) -> Option<u16> {
    let (h, m) = s.trim().split_once(':')?;
    let two_digits = |p: &str| p.len() == 2 && p.bytes().all(|b| b.is_ascii_digit());
    if !two_digits(h) || !two_digits(m) {
        return None;
    }
    let (h, m): (u16, u16) = (h.parse().ok()?, m.parse().ok()?);
    let minutes = h.checked_mul(60)?.checked_add(m)?;
    (m < 60 && minutes <= DAY_MINUTES).then_some(minutes)
}

/// An organisation's working time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BusinessCalendar {
    /// The clock the hours are read on.
    pub time_zone: Tz,
    /// Working spans per weekday, Monday first.
    pub week: [Vec<Span>; 7],
    /// Local dates on which nobody works, whatever the weekday.
    pub holidays: BTreeSet<NaiveDate>,
    /// Local dates worked although the weekday is off (make-up days); they take the
    /// hours of the first weekday that has any (Monday in a usual week).
    pub workdays: BTreeSet<NaiveDate>,
}

impl BusinessCalendar {
    /// Monday to Friday, 09:00 to 18:00 on `time_zone`, no holidays: what an organisation
    /// without a calendar of its own gets.
    pub fn standard(time_zone: Tz) -> Self {
        let day = vec![Span { start: 9 * 60, end: 18 * 60 }];
        Self {
            time_zone,
            week: [day.clone(), day.clone(), day.clone(), day.clone(), day, Vec::new(), Vec::new()],
            holidays: BTreeSet::new(),
            workdays: BTreeSet::new(),
        }
    }

    /// [`BusinessCalendar::standard`] on UTC: the calendar of a policy that names none.
    pub fn default_office() -> Self {
        Self::standard(Tz::UTC)
    }

    /// The working spans of `date`: none on a holiday, the make-up hours on a make-up day,
    /// the weekday's otherwise.
    pub fn spans_on(&self, date: NaiveDate) -> &[Span] {
        if self.holidays.contains(&date) {
            &[]
        } else if self.workdays.contains(&date) {
            self.week.iter().find(|d| !d.is_empty()).map_or(&[], Vec::as_slice)
        } else {
            &self.week[date.weekday().num_days_from_monday() as usize]
        }
    }

    /// The open intervals that start on local `date`, on the UTC line (an interval of a
    /// span that crosses midnight ends on the next day). Empty intervals (a span wholly
    /// inside a skipped hour) are left out.
    fn intervals_of(&self, date: NaiveDate) -> impl Iterator<Item = (DateTime<Utc>, DateTime<Utc>)> + '_ {
        self.spans_on(date).iter().filter_map(move |span| {
            let (start, end) = span.on(date)?;
            let start = local_to_utc(self.time_zone, start, Pick::Earliest)?;
            let end = local_to_utc(self.time_zone, end, Pick::Latest)?;
            (end > start).then_some((start, end))
        })
    }

    /// Open intervals from `from` on, merged and in order, the first clipped at `from`.
    fn open_from(&self, from: DateTime<Utc>) -> OpenIntervals<'_> {
        // A span of the day before may cross midnight into `from`'s day.
        let first = from.with_timezone(&self.time_zone).date_naive().pred_opt().unwrap_or(NaiveDate::MIN);
        OpenIntervals { cal: self, floor: from, next_date: first, walked: 0, pending: Vec::new() }
    }
}

/// How the local clock time `local` maps to an instant when it maps to two or none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pick {
    /// The earlier of two; the first instant after a gap.
    Earliest,
    /// The later of two; the first instant after a gap.
    Latest,
}

/// The instant of local time `local` on `tz`. A time a jump forward skipped maps to the
/// first instant after the jump.
pub(crate) fn local_to_utc(tz: Tz, local: NaiveDateTime, pick: Pick) -> Option<DateTime<Utc>> {
    match tz.from_local_datetime(&local) {
        MappedLocalTime::Single(t) => Some(t.with_timezone(&Utc)),
        MappedLocalTime::Ambiguous(earlier, later) => {
            Some(if pick == Pick::Earliest { earlier } else { later }.with_timezone(&Utc))
        }
        MappedLocalTime::None => first_instant_after(tz, local),
    }
}

/// The open intervals of a calendar from an instant on, one day at a time.
struct OpenIntervals<'a> {
    cal: &'a BusinessCalendar,
    floor: DateTime<Utc>,
    next_date: NaiveDate,
    walked: u64,
    /// Loaded and not yet yielded, sorted by start.
    pending: Vec<(DateTime<Utc>, DateTime<Utc>)>,
}

impl OpenIntervals<'_> {
    /// Loads the intervals of the next local date. `false` once the walk is too long.
    fn load_day(&mut self) -> bool {
        if self.walked > MAX_DAYS {
            return false;
        }
        let date = self.next_date;
        self.next_date = date.checked_add_days(Days::new(1)).unwrap_or(NaiveDate::MAX);
        self.walked += 1;
        self.pending.extend(self.cal.intervals_of(date).filter(|(_, end)| *end > self.floor));
        self.pending.sort();
        true
    }

    /// The instant local midnight of the next date to load: no interval loaded later
    /// starts before it.
    fn horizon(&self) -> Option<DateTime<Utc>> {
        local_to_utc(self.cal.time_zone, self.next_date.and_time(NaiveTime::MIN), Pick::Earliest)
    }
}

impl Iterator for OpenIntervals<'_> {
    type Item = (DateTime<Utc>, DateTime<Utc>);

    fn next(&mut self) -> Option<Self::Item> {
        while self.pending.is_empty() {
            if !self.load_day() {
                return None;
            }
        }
        // Merge whatever overlaps or touches the first interval, loading further days
        // while they could still start inside it (a span crossing midnight meets the
        // next day's first span).
        let (start, mut end) = self.pending.remove(0);
        loop {
            while self.horizon().is_some_and(|h| h <= end) {
                if !self.load_day() {
                    break;
                }
            }
            match self.pending.first() {
                Some(&(s, e)) if s <= end => {
                    end = end.max(e);
                    self.pending.remove(0);
                }
                _ => break,
            }
        }
        Some((start.max(self.floor), end))
    }
}

/// The clock a response target counts on.
#[derive(Debug, Clone, Copy)]
pub enum Hours<'a> {
    /// Every second counts (targets "around the clock").
    Always,
    /// Only the calendar's working time counts.
    Business(&'a BusinessCalendar),
}

impl Hours<'_> {
    /// The instant at which `duration` of counted time has passed since `from`. `None`
    /// when the calendar has no working time for years (it will never be due).
    pub fn add(&self, from: DateTime<Utc>, duration: TimeDelta) -> Option<DateTime<Utc>> {
        if duration <= TimeDelta::zero() {
            return Some(from);
        }
        let cal = match self {
            Self::Always => return from.checked_add_signed(duration),
            Self::Business(cal) => cal,
        };
        let mut left = duration;
        for (start, end) in cal.open_from(from) {
            let open = end - start;
            if left <= open {
                return Some(start + left);
            }
            left -= open;
        }
        None
    }

    /// Counted time between `from` and `to` (zero when `to` is not after `from`).
    pub fn elapsed(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> TimeDelta {
        if to <= from {
            return TimeDelta::zero();
        }
        let cal = match self {
            Self::Always => return to - from,
            Self::Business(cal) => cal,
        };
        let mut total = TimeDelta::zero();
        for (start, end) in cal.open_from(from) {
            if start >= to {
                break;
            }
            total += end.min(to) - start;
        }
        total
    }

    /// Whether the clock runs at `at`.
    pub fn is_open(&self, at: DateTime<Utc>) -> bool {
        match self {
            Self::Always => true,
            Self::Business(cal) => cal.open_from(at).next().is_some_and(|(start, _)| start <= at),
        }
    }

    /// When the clock next runs from `at` on (`at` itself when it runs).
    pub fn next_open(&self, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match self {
            Self::Always => Some(at),
            Self::Business(cal) => cal.open_from(at).next().map(|(start, _)| start),
        }
    }
}

/// An instant on a reader's clock, for cards: `14:30 Asia/Shanghai` when it falls on the
/// reader's today (as of `now`), `Mon 23 Nov 14:30 Asia/Shanghai` otherwise. An unknown
/// zone name reads as UTC.
pub fn local_time(at: DateTime<Utc>, time_zone: &str, now: DateTime<Utc>) -> String {
    let tz = time_zone.parse::<Tz>().unwrap_or(Tz::UTC);
    let local = at.with_timezone(&tz);
    if local.date_naive() == now.with_timezone(&tz).date_naive() {
        format!("{} {}", local.format("%H:%M"), tz.name())
    } else {
        format!("{} {}", local.format("%a %d %b %H:%M"), tz.name())
    }
}

/// Raw fields of a calendar, as a client sent them.
#[derive(Debug, Clone, Default)]
pub struct CalendarInput<'a> {
    /// Display name.
    pub name: &'a str,
    /// IANA time zone name.
    pub time_zone: &'a str,
    /// Working spans by weekday key (`mon` … `sun`), each `(start, end)` as `HH:MM`.
    pub hours: BTreeMap<String, Vec<(String, String)>>,
    /// Holidays, `YYYY-MM-DD`.
    pub holidays: Vec<String>,
    /// Make-up working days, `YYYY-MM-DD`.
    pub workdays: Vec<String>,
}

/// A checked calendar with its name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCalendar {
    /// Display name.
    pub name: String,
    /// The calendar.
    pub calendar: BusinessCalendar,
}

/// Longest calendar name.
const CALENDAR_NAME_MAX: usize = 200;
/// Most dates in each of the holiday and make-up lists.
const DATES_MAX: usize = 1_000;
/// Most spans on one weekday.
const SPANS_MAX: usize = 8;

impl NewCalendar {
    /// Checks raw input, naming every field at fault: `time_zone`, `hours.mon[0]`,
    /// `holidays[3]`, … A week without working time is refused, as is a date that is
    /// both a holiday and a make-up day.
    pub fn parse(input: &CalendarInput<'_>) -> Result<Self, DomainError> {
        let mut v = Validation::new();
        let name = v.required_line("name", input.name, CALENDAR_NAME_MAX);
        let time_zone = parse_time_zone(input.time_zone).unwrap_or_else(|_| {
            v.fail("time_zone", TIME_ZONE_REASON);
            Tz::UTC
        });
        let mut week: [Vec<Span>; 7] = Default::default();
        for (day, spans) in &input.hours {
            let Some(i) = WEEKDAYS.iter().position(|d| d == day) else {
                v.fail(format!("hours.{day}"), "must be one of mon, tue, wed, thu, fri, sat, sun");
                continue;
            };
            if spans.len() > SPANS_MAX {
                v.fail(format!("hours.{day}"), format!("must hold at most {SPANS_MAX} spans"));
            }
            for (j, (start, end)) in spans.iter().enumerate() {
                match Span::parse(start, end) {
                    Some(span) => week[i].push(span),
                    None => v.fail(
                        format!("hours.{day}[{j}]"),
                        "must be a span of HH:MM times such as [\"09:00\", \"18:00\"] (the end may be 24:00; an end before the start crosses midnight)",
                    ),
                }
            }
            week[i].sort();
        }
        if v.is_ok() && week.iter().all(Vec::is_empty) {
            v.fail("hours", "must give working time on at least one weekday");
        }
        let holidays = dates(&mut v, "holidays", &input.holidays);
        let workdays = dates(&mut v, "workdays", &input.workdays);
        for (i, raw) in input.workdays.iter().enumerate() {
            if raw.parse::<NaiveDate>().is_ok_and(|d| holidays.contains(&d)) {
                v.fail(format!("workdays[{i}]"), "is also a holiday; a date is one or the other");
            }
        }
        v.finish(Self { name, calendar: BusinessCalendar { time_zone, week, holidays, workdays } })
    }
}

fn dates(v: &mut Validation, field: &str, raw: &[String]) -> BTreeSet<NaiveDate> {
    if raw.len() > DATES_MAX {
        v.fail(field, format!("must hold at most {DATES_MAX} dates"));
    }
    let mut out = BTreeSet::new();
    for (i, d) in raw.iter().enumerate() {
        match NaiveDate::parse_from_str(d.trim(), "%Y-%m-%d") {
            Ok(date) => {
                out.insert(date);
            }
            Err(_) => v.fail(format!("{field}[{i}]"), "must be a date as YYYY-MM-DD"),
        }
    }
    out
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.start_str(), self.end_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn hours(h: i64) -> TimeDelta {
        TimeDelta::hours(h)
    }

    fn date(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    /// Mon–Fri 09:00–18:00 on `tz`.
    fn office(tz: &str) -> BusinessCalendar {
        BusinessCalendar::standard(tz.parse().unwrap())
    }

    fn calendar(tz: &str, week: [&[(&str, &str)]; 7]) -> BusinessCalendar {
        let mut cal = office(tz);
        for (i, spans) in week.iter().enumerate() {
            cal.week[i] = spans.iter().map(|(s, e)| Span::parse(s, e).unwrap()).collect();
        }
        cal
    }

    // 2026-11-20 is a Friday.
    #[rstest]
    #[case::inside_one_day("2026-11-19T10:00:00Z", 4, "2026-11-19T14:00:00Z")]
    #[case::exactly_to_closing("2026-11-19T10:00:00Z", 8, "2026-11-19T18:00:00Z")]
    #[case::into_the_next_morning("2026-11-19T16:00:00Z", 4, "2026-11-20T11:00:00Z")]
    #[case::friday_evening_to_monday("2026-11-20T17:00:00Z", 4, "2026-11-23T12:00:00Z")]
    #[case::opened_at_night("2026-11-19T22:00:00Z", 2, "2026-11-20T11:00:00Z")]
    #[case::opened_on_saturday("2026-11-21T09:00:00Z", 1, "2026-11-23T10:00:00Z")]
    #[case::a_week_of_hours("2026-11-16T09:00:00Z", 45, "2026-11-20T18:00:00Z")]
    #[case::a_week_and_an_hour("2026-11-16T09:00:00Z", 46, "2026-11-23T10:00:00Z")]
    fn business_hours_skip_nights_and_weekends(#[case] from: &str, #[case] h: i64, #[case] due: &str) {
        let cal = office("UTC");
        assert_eq!(Hours::Business(&cal).add(at(from), hours(h)), Some(at(due)));
        assert_eq!(Hours::Business(&cal).elapsed(at(from), at(due)), hours(h), "elapsed undoes add");
    }

    #[test]
    fn hours_are_read_on_the_calendars_clock() {
        // 09:00–18:00 in Shanghai is 01:00–10:00 UTC.
        let cal = office("Asia/Shanghai");
        let h = Hours::Business(&cal);
        // Thursday 08:00 UTC is 16:00 in Shanghai: two hours left today, two tomorrow.
        assert_eq!(h.add(at("2026-11-19T08:00:00Z"), hours(4)), Some(at("2026-11-20T03:00:00Z")));
        // Sunday 23:00 UTC is Monday 07:00 in Shanghai: opens at 01:00 UTC Monday.
        assert_eq!(h.next_open(at("2026-11-22T23:00:00Z")), Some(at("2026-11-23T01:00:00Z")));
        assert!(!h.is_open(at("2026-11-22T23:00:00Z")));
        assert!(h.is_open(at("2026-11-23T01:00:00Z")));
        assert!(!h.is_open(at("2026-11-23T10:00:00Z")), "closing time is not open");
    }

    #[test]
    fn holidays_are_skipped_and_make_up_days_count() {
        // China, golden week 2026 as an example: 1–7 October off, Saturday 10 October worked.
        let mut cal = office("Asia/Shanghai");
        for d in 1..=7 {
            cal.holidays.insert(NaiveDate::from_ymd_opt(2026, 10, d).unwrap());
        }
        cal.workdays.insert(date("2026-10-10"));
        let h = Hours::Business(&cal);
        // Wednesday 30 September, 17:00 in Shanghai (09:00 UTC): one hour left that day.
        let from = at("2026-09-30T09:00:00Z");
        // 1 h on the 30th, then nothing until Thursday 8 October: 9 h, Friday 9 h.
        assert_eq!(h.add(from, hours(10)), Some(at("2026-10-08T10:00:00Z")), "to closing on the 8th");
        assert_eq!(h.add(from, hours(19)), Some(at("2026-10-09T10:00:00Z")));
        // Saturday the 10th is a make-up day: Monday's hours.
        assert_eq!(h.add(from, hours(20)), Some(at("2026-10-10T02:00:00Z")));
        assert_eq!(h.elapsed(at("2026-10-01T00:00:00Z"), at("2026-10-08T00:00:00Z")), TimeDelta::zero());
        assert_eq!(h.elapsed(at("2026-10-10T00:00:00Z"), at("2026-10-11T00:00:00Z")), hours(9));
    }

    #[test]
    fn a_holiday_on_a_weekend_changes_nothing_and_an_unworked_weekend_stays_off() {
        let mut cal = office("UTC");
        cal.holidays.insert(date("2026-11-21"));
        let h = Hours::Business(&cal);
        assert_eq!(h.add(at("2026-11-20T17:00:00Z"), hours(2)), Some(at("2026-11-23T10:00:00Z")));
    }

    // Europe/London in 2026: clocks go forward at 01:00 UTC on Sunday 29 March and back at
    // 01:00 UTC on Sunday 25 October.
    #[test]
    fn office_hours_follow_the_local_clock_across_a_clock_change() {
        let cal = office("Europe/London");
        let h = Hours::Business(&cal);
        // Friday 27 March 17:00 GMT (= UTC): one hour on Friday, then Monday 09:00 BST = 08:00 UTC.
        assert_eq!(h.add(at("2026-03-27T17:00:00Z"), hours(2)), Some(at("2026-03-30T09:00:00Z")));
        // Friday 23 October 17:00 BST (16:00 UTC): Monday 09:00 GMT is 09:00 UTC.
        assert_eq!(h.add(at("2026-10-23T16:00:00Z"), hours(2)), Some(at("2026-10-26T10:00:00Z")));
    }

    #[test]
    fn a_day_that_loses_or_gains_an_hour_is_that_much_shorter_or_longer() {
        // Open around the clock every day, on London's clock.
        let all_day: &[(&str, &str)] = &[("00:00", "24:00")];
        let cal = calendar("Europe/London", [all_day; 7]);
        let h = Hours::Business(&cal);
        let day = |d: &str| {
            let start = local_to_utc(cal.time_zone, date(d).and_time(NaiveTime::MIN), Pick::Earliest).unwrap();
            let next = date(d).succ_opt().unwrap().and_time(NaiveTime::MIN);
            h.elapsed(start, local_to_utc(cal.time_zone, next, Pick::Earliest).unwrap())
        };
        assert_eq!(day("2026-03-29"), hours(23));
        assert_eq!(day("2026-10-25"), hours(25));
        assert_eq!(day("2026-10-26"), hours(24));
        // And counting across it never skips or doubles an instant.
        assert_eq!(h.add(at("2026-03-28T12:00:00Z"), hours(24)), Some(at("2026-03-29T12:00:00Z")));
        assert_eq!(h.add(at("2026-10-24T12:00:00Z"), hours(24)), Some(at("2026-10-25T12:00:00Z")));
    }

    #[test]
    fn a_span_edge_in_a_skipped_hour_means_the_jump() {
        // Open 01:30–03:00 on Sundays in London: on 29 March 01:00–02:00 does not exist.
        let early: &[(&str, &str)] = &[("01:30", "03:00")];
        let cal = calendar("Europe/London", [&[], &[], &[], &[], &[], &[], early]);
        let h = Hours::Business(&cal);
        // The span runs from the jump (01:00 UTC = 02:00 BST) to 03:00 BST (02:00 UTC).
        assert_eq!(h.next_open(at("2026-03-29T00:00:00Z")), Some(at("2026-03-29T01:00:00Z")));
        assert_eq!(h.elapsed(at("2026-03-29T00:00:00Z"), at("2026-03-29T06:00:00Z")), hours(1));
        // On a normal Sunday it is an hour and a half.
        assert_eq!(h.elapsed(at("2026-03-22T00:00:00Z"), at("2026-03-22T06:00:00Z")), TimeDelta::minutes(90));
        // On 25 October 01:30 happens twice: from the first to 03:00 GMT is 2 h 30.
        assert_eq!(h.elapsed(at("2026-10-25T00:00:00Z"), at("2026-10-25T06:00:00Z")), TimeDelta::minutes(150));
    }

    #[test]
    fn a_night_shift_crosses_midnight() {
        // A night desk, 22:00–06:00 Monday to Friday nights (a Friday night ends Saturday).
        let night: &[(&str, &str)] = &[("22:00", "06:00")];
        let cal = calendar("UTC", [night, night, night, night, night, &[], &[]]);
        let h = Hours::Business(&cal);
        // Thursday 23:00 + 4 h = Friday 03:00, past midnight.
        assert_eq!(h.add(at("2026-11-19T23:00:00Z"), hours(4)), Some(at("2026-11-20T03:00:00Z")));
        // Friday 05:00 + 2 h: one hour of Thursday's night, then Friday night from 22:00.
        assert_eq!(h.add(at("2026-11-20T05:00:00Z"), hours(2)), Some(at("2026-11-20T23:00:00Z")));
        // Saturday 05:00 is still Friday's night shift; Saturday evening is not worked.
        assert!(h.is_open(at("2026-11-21T05:00:00Z")));
        assert_eq!(h.add(at("2026-11-21T05:00:00Z"), hours(2)), Some(at("2026-11-23T23:00:00Z")));
    }

    #[test]
    fn spans_that_touch_across_midnight_merge() {
        // Open 18:00–24:00 and 00:00–08:00 every day: one stretch from 18:00 to 08:00.
        let evening: &[(&str, &str)] = &[("00:00", "08:00"), ("18:00", "24:00")];
        let cal = calendar("UTC", [evening; 7]);
        let h = Hours::Business(&cal);
        assert_eq!(h.add(at("2026-11-19T20:00:00Z"), hours(6)), Some(at("2026-11-20T02:00:00Z")));
        let (start, end) = cal.open_from(at("2026-11-19T12:00:00Z")).next().unwrap();
        assert_eq!((start, end), (at("2026-11-19T18:00:00Z"), at("2026-11-20T08:00:00Z")));
    }

    #[test]
    fn around_the_clock_counts_every_second() {
        let from = at("2026-11-21T09:00:00Z");
        assert_eq!(Hours::Always.add(from, hours(30)), Some(at("2026-11-22T15:00:00Z")));
        assert_eq!(Hours::Always.elapsed(from, at("2026-11-21T09:30:00Z")), TimeDelta::minutes(30));
        assert_eq!(Hours::Always.elapsed(at("2026-11-21T09:30:00Z"), from), TimeDelta::zero());
    }

    #[test]
    fn a_calendar_closed_for_years_is_never_due() {
        let mut cal = office("UTC");
        let mut d = date("2026-11-01");
        while d < date("2030-01-01") {
            cal.holidays.insert(d);
            d = d.succ_opt().unwrap();
        }
        assert_eq!(Hours::Business(&cal).add(at("2026-11-02T10:00:00Z"), hours(1)), None);
    }

    #[test]
    fn zero_time_is_due_at_once() {
        let cal = office("UTC");
        let saturday = at("2026-11-21T09:00:00Z");
        assert_eq!(Hours::Business(&cal).add(saturday, TimeDelta::zero()), Some(saturday));
    }

    #[test]
    fn input_is_checked_field_by_field() {
        let mut hours = BTreeMap::new();
        hours.insert("mon".to_owned(), vec![("09:00".to_owned(), "18:00".to_owned())]);
        hours.insert("fri".to_owned(), vec![("9am".to_owned(), "18:00".to_owned())]);
        hours.insert("funday".to_owned(), vec![]);
        let input = CalendarInput {
            name: " ",
            time_zone: "Mars/Olympus",
            hours,
            holidays: vec!["2026-10-01".into(), "1 Oct".into()],
            workdays: vec!["2026-10-01".into()],
        };
        let DomainError::Invalid(errors) = NewCalendar::parse(&input).unwrap_err() else { panic!() };
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["name", "time_zone", "hours.fri[0]", "hours.funday", "holidays[1]", "workdays[0]"]);

        let empty = CalendarInput { name: "Closed", time_zone: "UTC", ..CalendarInput::default() };
        let DomainError::Invalid(errors) = NewCalendar::parse(&empty).unwrap_err() else { panic!() };
        assert_eq!(errors[0].field, "hours");
    }

    #[rstest]
    #[case("09:00", "18:00", true)]
    #[case("00:00", "24:00", true)]
    #[case("22:00", "06:00", true)]
    #[case("24:00", "06:00", false)]
    #[case("09:00", "09:00", false)]
    #[case("9:00", "18:00", false)]
    #[case("09:60", "18:00", false)]
    fn spans_parse(#[case] start: &str, #[case] end: &str, #[case] ok: bool) {
        assert_eq!(Span::parse(start, end).is_some(), ok, "{start}-{end}");
    }

    #[test]
    fn instants_read_on_the_readers_clock() {
        let now = at("2026-11-21T05:00:00Z");
        assert_eq!(local_time(at("2026-11-21T06:30:00Z"), "Asia/Shanghai", now), "14:30 Asia/Shanghai");
        assert_eq!(local_time(at("2026-11-21T06:30:00Z"), "UTC", now), "06:30 UTC");
        assert_eq!(local_time(at("2026-11-23T01:00:00Z"), "Asia/Shanghai", now), "Mon 23 Nov 09:00 Asia/Shanghai");
        assert_eq!(local_time(at("2026-11-21T06:30:00Z"), "Mars/Base", now), "06:30 UTC");
        // 23:30 UTC is already tomorrow in Shanghai.
        assert_eq!(local_time(at("2026-11-21T23:30:00Z"), "Asia/Shanghai", now), "Sun 22 Nov 07:30 Asia/Shanghai");
    }

    #[test]
    fn spans_print_as_they_were_given() {
        let s = Span::parse("22:00", "06:30").unwrap();
        assert!(s.crosses_midnight());
        assert_eq!((s.start_str(), s.end_str(), s.length()), ("22:00".into(), "06:30".into(), TimeDelta::minutes(510)));
        assert_eq!(Span::parse("00:00", "24:00").unwrap().to_string(), "00:00-24:00");
    }
}
