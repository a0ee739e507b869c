//! Notification preferences: the language a person reads, the clock they live by, and the
//! hours in which nothing should disturb them.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, MappedLocalTime, NaiveDateTime, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::{DomainError, Validation};

/// The time zone a person has until they pick one.
pub const DEFAULT_TIME_ZONE: &str = "UTC";

pub(crate) const LOCALE_REASON: &str = "must be en or zh (a region such as en-US or zh-CN is accepted)";
pub(crate) const TIME_ZONE_REASON: &str = "must be an IANA time zone name such as Asia/Shanghai or Europe/London";
const TIME_REASON: &str = "must be a time of day as HH:MM, such as 22:00";
const EMPTY_SPAN_REASON: &str = "start and end must differ (the span may cross midnight, as 22:00 to 07:00 does)";

/// The language a person's notifications are written in: the Lark cards exist in these two.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(into = "&'static str", try_from = "String")]
pub enum Locale {
    /// English.
    #[default]
    En,
    /// Simplified Chinese.
    Zh,
}

impl Locale {
    /// Stable name for the API and the database.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::En => "en",
            Self::Zh => "zh",
        }
    }
}

impl fmt::Display for Locale {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Locale {
    type Err = DomainError;

    /// Accepts `en` and `zh`, and a language tag with a region (`en-US`, `zh_cn`): clients
    /// tend to send whatever their platform reports, and only the language picks the card.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let language = match s.split_once(['-', '_']) {
            None => s,
            Some((language, region))
                if !region.is_empty()
                    && region.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_')) =>
            {
                language
            }
            Some(_) => return Err(DomainError::invalid("locale", LOCALE_REASON)),
        };
        if language.eq_ignore_ascii_case("en") {
            Ok(Self::En)
        } else if language.eq_ignore_ascii_case("zh") {
            Ok(Self::Zh)
        } else {
            Err(DomainError::invalid("locale", LOCALE_REASON))
        }
    }
}

impl From<Locale> for &'static str {
    fn from(locale: Locale) -> Self {
        locale.as_str()
    }
}

impl TryFrom<String> for Locale {
    type Error = DomainError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

/// Parses an IANA time zone name (`Asia/Shanghai`, `Europe/London`, `UTC`). Names are
/// case-sensitive, as in the tz database.
pub fn parse_time_zone(s: &str) -> Result<Tz, DomainError> {
    s.parse::<Tz>().map_err(|_| DomainError::invalid("time_zone", TIME_ZONE_REASON))
}

/// Checks a time zone name for a command being validated. Returns the name as stored.
pub(crate) fn check_time_zone(v: &mut Validation, value: &str) -> String {
    match parse_time_zone(value.trim()) {
        Ok(tz) => tz.name().to_owned(),
        Err(_) => {
            v.fail("time_zone", TIME_ZONE_REASON);
            DEFAULT_TIME_ZONE.to_owned()
        }
    }
}

/// A daily span of local time in which notifications wait: from `start` (inclusive) to
/// `end` (exclusive), to the minute. When `end` is earlier than `start` the span crosses
/// midnight (22:00–07:00).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct QuietHours {
    /// When the quiet begins, local time.
    pub start: NaiveTime,
    /// When it ends, local time.
    pub end: NaiveTime,
}

impl QuietHours {
    /// Parses `HH:MM` texts; `start == end` is refused, since it would be either no quiet
    /// at all or a whole day of it, and neither is what someone setting hours means.
    pub fn parse(start: &str, end: &str) -> Result<Self, DomainError> {
        let mut v = Validation::new();
        let hours = Self::check(&mut v, start, end);
        v.finish(hours)
    }

    /// Checks both ends for a command being validated, naming `quiet_hours.start`,
    /// `quiet_hours.end` or `quiet_hours`. Midnight stands in for a bad end.
    pub(crate) fn check(v: &mut Validation, start: &str, end: &str) -> Self {
        let start_time = parse_hh_mm(start);
        if start_time.is_none() {
            v.fail("quiet_hours.start", TIME_REASON);
        }
        let end_time = parse_hh_mm(end);
        if end_time.is_none() {
            v.fail("quiet_hours.end", TIME_REASON);
        }
        if let (Some(s), Some(e)) = (start_time, end_time)
            && s == e
        {
            v.fail("quiet_hours", EMPTY_SPAN_REASON);
        }
        Self { start: start_time.unwrap_or(NaiveTime::MIN), end: end_time.unwrap_or(NaiveTime::MIN) }
    }

    /// `start` as `HH:MM`.
    pub fn start_str(&self) -> String {
        self.start.format("%H:%M").to_string()
    }

    /// `end` as `HH:MM`.
    pub fn end_str(&self) -> String {
        self.end.format("%H:%M").to_string()
    }

    /// Whether the local time of day `t` falls inside the span.
    fn contains(&self, t: NaiveTime) -> bool {
        if self.start < self.end { self.start <= t && t < self.end } else { t >= self.start || t < self.end }
    }

    /// If `now`, read on the clock of `time_zone`, falls inside the quiet span, the instant
    /// the span ends (the next local `end`); otherwise `None`. An unknown zone name reads
    /// as UTC: a stored name the tz database has since dropped must not stop notifications.
    ///
    /// Where clocks move: an `end` skipped by a jump forward means the first instant after
    /// the jump; an `end` that happens twice (clocks going back) means the earlier one,
    /// unless `now` is already past it, in the repeated hour, and then the later one.
    pub fn hold_until(&self, time_zone: &str, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        if self.start == self.end {
            // Not a span; `parse` refuses it, but the fields are public.
            return None;
        }
        let tz = time_zone.parse::<Tz>().unwrap_or(Tz::UTC);
        let local = now.with_timezone(&tz).naive_local();
        if !self.contains(local.time()) {
            return None;
        }
        // Inside a span that crosses midnight and already past its start: it ends tomorrow.
        let end_date =
            if self.start > self.end && local.time() >= self.start { local.date().succ_opt()? } else { local.date() };
        let end = end_date.and_time(self.end);
        let until = match tz.from_local_datetime(&end) {
            MappedLocalTime::Single(t) => t.with_timezone(&Utc),
            MappedLocalTime::Ambiguous(earlier, later) => {
                let earlier = earlier.with_timezone(&Utc);
                if earlier > now { earlier } else { later.with_timezone(&Utc) }
            }
            MappedLocalTime::None => first_instant_after(tz, end)?,
        };
        (until > now).then_some(until)
    }
}

/// Parses exactly `HH:MM` (24-hour, two digits each), surrounding blanks ignored.
fn parse_hh_mm(s: &str) -> Option<NaiveTime> {
    let (h, m) = s.trim().split_once(':')?;
    let two_digits = |p: &str| p.len() == 2 && p.bytes().all(|b| b.is_ascii_digit());
    if !two_digits(h) || !two_digits(m) {
        return None;
    }
    NaiveTime::from_hms_opt(h.parse().ok()?, m.parse().ok()?, 0)
}

/// The first instant whose local time in `tz` is later than `local`. For a wall-clock time
/// that a jump forward skipped, that is the instant of the jump: the first one after the gap.
/// (Business calendars use it too.)
pub(crate) fn first_instant_after(tz: Tz, local: NaiveDateTime) -> Option<DateTime<Utc>> {
    // No zone is a day or more away from UTC, so the jump lies within a day either side
    // of `local` read as UTC; halving that window 18 times finds it to the second
    // (offsets and transitions are whole seconds).
    const DAY: i64 = 86_400;
    let is_after =
        |secs: i64| DateTime::from_timestamp(secs, 0).is_some_and(|t| t.with_timezone(&tz).naive_local() > local);
    let mut before = local.and_utc().timestamp() - DAY;
    let mut after = local.and_utc().timestamp() + DAY;
    while after - before > 1 {
        let mid = before + (after - before) / 2;
        if is_after(mid) {
            after = mid;
        } else {
            before = mid;
        }
    }
    DateTime::from_timestamp(after, 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn at(rfc3339: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(rfc3339).unwrap().with_timezone(&Utc)
    }

    fn quiet(start: &str, end: &str) -> QuietHours {
        QuietHours::parse(start, end).unwrap()
    }

    fn fields(err: DomainError) -> Vec<String> {
        let DomainError::Invalid(errors) = err else { panic!("{err:?}") };
        errors.into_iter().map(|e| e.field).collect()
    }

    #[rstest]
    #[case::en("en", Locale::En)]
    #[case::zh("zh", Locale::Zh)]
    #[case::en_us("en-US", Locale::En)]
    #[case::en_us_lower("en_us", Locale::En)]
    #[case::zh_cn("zh-CN", Locale::Zh)]
    #[case::zh_cn_lower("zh_cn", Locale::Zh)]
    #[case::upper("ZH", Locale::Zh)]
    fn locales_parse(#[case] input: &str, #[case] expected: Locale) {
        assert_eq!(input.parse::<Locale>().unwrap(), expected);
    }

    #[rstest]
    #[case::other_language("fr")]
    #[case::empty("")]
    #[case::dangling_separator("en-")]
    #[case::junk_region("en-U S")]
    fn bad_locales_are_refused(#[case] input: &str) {
        assert_eq!(fields(input.parse::<Locale>().unwrap_err()), ["locale"]);
    }

    #[test]
    fn locale_is_a_string_in_json_and_defaults_to_english() {
        assert_eq!(serde_json::to_string(&Locale::Zh).unwrap(), r#""zh""#);
        assert_eq!(serde_json::from_str::<Locale>(r#""en-GB""#).unwrap(), Locale::En);
        assert!(serde_json::from_str::<Locale>(r#""de""#).is_err());
        assert_eq!(Locale::default(), Locale::En);
    }

    #[rstest]
    #[case::shanghai("Asia/Shanghai", true)]
    #[case::london("Europe/London", true)]
    #[case::utc("UTC", true)]
    #[case::lower_case("asia/shanghai", false)]
    #[case::offset("+08:00", false)]
    #[case::nonsense("Mars/Olympus", false)]
    fn time_zones(#[case] input: &str, #[case] ok: bool) {
        assert_eq!(parse_time_zone(input).is_ok(), ok, "{input}");
    }

    #[test]
    fn quiet_hours_read_and_print_hh_mm() {
        let q = quiet("22:00", "07:30");
        assert_eq!((q.start_str(), q.end_str()), ("22:00".to_owned(), "07:30".to_owned()));
    }

    #[rstest]
    #[case::bad_start("7pm", "07:00", &["quiet_hours.start"])]
    #[case::bad_end("22:00", "24:00", &["quiet_hours.end"])]
    #[case::both_bad("22", "7:00", &["quiet_hours.start", "quiet_hours.end"])]
    #[case::seconds("22:00:00", "07:00", &["quiet_hours.start"])]
    #[case::minute_out_of_range("22:60", "07:00", &["quiet_hours.start"])]
    #[case::empty_span("08:00", "08:00", &["quiet_hours"])]
    fn bad_quiet_hours_name_the_field(#[case] start: &str, #[case] end: &str, #[case] expected: &[&str]) {
        assert_eq!(fields(QuietHours::parse(start, end).unwrap_err()), expected);
    }

    #[rstest]
    #[case::before_start("2026-01-10T21:59:59Z", None)]
    #[case::at_start("2026-01-10T22:00:00Z", Some("2026-01-11T07:00:00Z"))]
    #[case::before_midnight("2026-01-10T23:30:00Z", Some("2026-01-11T07:00:00Z"))]
    #[case::after_midnight("2026-01-11T03:00:00Z", Some("2026-01-11T07:00:00Z"))]
    #[case::last_second("2026-01-11T06:59:59Z", Some("2026-01-11T07:00:00Z"))]
    #[case::at_end("2026-01-11T07:00:00Z", None)]
    #[case::midday("2026-01-11T12:00:00Z", None)]
    fn a_span_across_midnight(#[case] now: &str, #[case] expected: Option<&str>) {
        assert_eq!(quiet("22:00", "07:00").hold_until("UTC", at(now)), expected.map(at));
    }

    #[rstest]
    #[case::before("2026-01-10T12:59:00Z", None)]
    #[case::at_start("2026-01-10T13:00:00Z", Some("2026-01-10T14:30:00Z"))]
    #[case::inside("2026-01-10T14:00:00Z", Some("2026-01-10T14:30:00Z"))]
    #[case::at_end("2026-01-10T14:30:00Z", None)]
    fn a_span_within_one_day(#[case] now: &str, #[case] expected: Option<&str>) {
        assert_eq!(quiet("13:00", "14:30").hold_until("UTC", at(now)), expected.map(at));
    }

    #[rstest]
    // 23:00 in Shanghai (UTC+8) is 15:00 UTC; the quiet ends at 07:00 there, 23:00 UTC.
    #[case::late_evening("2026-01-10T15:00:00Z", Some("2026-01-10T23:00:00Z"))]
    #[case::early_morning("2026-01-10T21:00:00Z", Some("2026-01-10T23:00:00Z"))]
    #[case::morning("2026-01-10T23:30:00Z", None)]
    // 21:59 in Shanghai: not yet quiet.
    #[case::not_yet("2026-01-10T13:59:00Z", None)]
    // 22:30 UTC is 06:30 the next morning in Shanghai: quiet until 07:00 there.
    #[case::utc_evening("2026-01-10T22:30:00Z", Some("2026-01-10T23:00:00Z"))]
    // 06:00 UTC would be quiet on a UTC clock, but it is 14:00 in Shanghai: not quiet.
    #[case::utc_morning("2026-01-11T06:00:00Z", None)]
    fn quiet_hours_are_read_on_the_persons_clock(#[case] now: &str, #[case] expected: Option<&str>) {
        assert_eq!(quiet("22:00", "07:00").hold_until("Asia/Shanghai", at(now)), expected.map(at));
    }

    #[test]
    fn an_unknown_time_zone_reads_as_utc() {
        let q = quiet("22:00", "07:00");
        let now = at("2026-01-10T23:00:00Z");
        assert_eq!(q.hold_until("Mars/Olympus", now), q.hold_until("UTC", now));
        assert_eq!(q.hold_until("Mars/Olympus", now), Some(at("2026-01-11T07:00:00Z")));
    }

    // Europe/London in 2026: 01:00 GMT on 29 March jumps to 02:00 BST; 02:00 BST on
    // 25 October falls back to 01:00 GMT.
    #[test]
    fn the_night_clocks_go_forward_ends_at_local_seven() {
        // 23:00 GMT; 07:00 the next morning is BST, 06:00 UTC.
        let until = quiet("22:00", "07:00").hold_until("Europe/London", at("2026-03-28T23:00:00Z"));
        assert_eq!(until, Some(at("2026-03-29T06:00:00Z")));
    }

    #[test]
    fn an_end_skipped_by_the_jump_means_the_first_instant_after_it() {
        // Quiet until 01:30, a time London skips on 29 March: released at 02:00 BST.
        let until = quiet("00:30", "01:30").hold_until("Europe/London", at("2026-03-29T00:45:00Z"));
        assert_eq!(until, Some(at("2026-03-29T01:00:00Z")));
    }

    #[test]
    fn an_end_that_happens_twice_means_the_next_one() {
        let q = quiet("00:00", "01:30");
        // 00:30 BST: the first 01:30 (BST) is next.
        assert_eq!(q.hold_until("Europe/London", at("2026-10-24T23:30:00Z")), Some(at("2026-10-25T00:30:00Z")));
        // 01:10 GMT, in the repeated hour: the first 01:30 has passed, the second is next.
        assert_eq!(q.hold_until("Europe/London", at("2026-10-25T01:10:00Z")), Some(at("2026-10-25T01:30:00Z")));
    }

    #[test]
    fn an_empty_span_holds_nothing() {
        let q = QuietHours { start: NaiveTime::MIN, end: NaiveTime::MIN };
        assert_eq!(q.hold_until("UTC", at("2026-01-10T00:00:00Z")), None);
    }
}
