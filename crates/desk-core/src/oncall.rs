//! On-call schedules: rotations (people taking turns, a shift length, a hand-off time on
//! a time zone) layered in order, and overrides (one person covering a stretch). Who is
//! on call at an instant is a pure function of the schedule and that instant.
//!
//! Shifts are measured on the rotation's wall clock: a daily rotation hands off at 09:00
//! local every day, so across a clock change the shift that contains it is an hour
//! shorter or longer, and the hand-off stays at 09:00 local.

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta, Utc};
use chrono_tz::Tz;
use uuid::Uuid;

use crate::calendar::{Pick, local_to_utc};
use crate::{DomainError, PersonId, Validation};

/// Longest shift: four weeks.
pub const SHIFT_HOURS_MAX: u32 = 28 * 24;
/// Most people in one rotation.
pub const ROTATION_PEOPLE_MAX: usize = 100;
/// Most rotations (layers) in one schedule.
pub const ROTATIONS_MAX: usize = 10;
/// Longest override: 90 days.
pub const OVERRIDE_MAX: TimeDelta = TimeDelta::days(90);

/// People taking turns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rotation {
    /// Who, in turn order.
    pub people: Vec<PersonId>,
    /// How long each turn lasts, in wall-clock hours.
    pub shift_hours: u32,
    /// The local time turns change hands.
    pub handoff: NaiveTime,
    /// The first turn (the first person's) starts at `handoff` on this local date.
    pub start_date: NaiveDate,
    /// The rotation stops at `handoff` on this local date, if it ever does.
    pub end_date: Option<NaiveDate>,
    /// The clock `handoff` and the dates are read on.
    pub time_zone: Tz,
}

/// One turn: who, from when until when.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Turn {
    /// Who.
    pub person_id: PersonId,
    /// When it began.
    pub starts_at: DateTime<Utc>,
    /// When it ends.
    pub ends_at: DateTime<Utc>,
}

impl Rotation {
    fn anchor(&self) -> NaiveDateTime {
        self.start_date.and_time(self.handoff)
    }

    fn shift(&self) -> TimeDelta {
        TimeDelta::hours(i64::from(self.shift_hours.max(1)))
    }

    /// The instant turn `k` begins (turn 0 at the anchor).
    fn boundary(&self, k: i64) -> Option<DateTime<Utc>> {
        let local = self.anchor().checked_add_signed(self.shift().checked_mul(i32::try_from(k).ok()?)?)?;
        local_to_utc(self.time_zone, local, Pick::Earliest)
    }

    /// Whose turn it is at `at`, if the rotation runs then.
    pub fn turn_at(&self, at: DateTime<Utc>) -> Option<Turn> {
        if self.people.is_empty() {
            return None;
        }
        let start = local_to_utc(self.time_zone, self.anchor(), Pick::Earliest)?;
        if at < start {
            return None;
        }
        if let Some(end) =
            self.end_date.and_then(|d| local_to_utc(self.time_zone, d.and_time(self.handoff), Pick::Earliest))
            && at >= end
        {
            return None;
        }
        // A first guess from the wall clock, then settled against the real boundaries
        // (which a clock change may have moved by an hour).
        let local = at.with_timezone(&self.time_zone).naive_local();
        let shift_minutes = self.shift().num_minutes();
        let mut k = (local - self.anchor()).num_minutes().div_euclid(shift_minutes).max(0);
        while k > 0 && self.boundary(k)? > at {
            k -= 1;
        }
        while self.boundary(k + 1)? <= at {
            k += 1;
        }
        let n = i64::try_from(self.people.len()).ok()?;
        let person_id = self.people[usize::try_from(k.rem_euclid(n)).ok()?];
        Some(Turn { person_id, starts_at: self.boundary(k)?, ends_at: self.boundary(k + 1)? })
    }
}

/// Someone covering a stretch in place of the rotation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Override {
    /// Its id.
    pub id: Uuid,
    /// Who covers.
    pub person_id: PersonId,
    /// From.
    pub starts_at: DateTime<Utc>,
    /// Until.
    pub ends_at: DateTime<Utc>,
}

/// Where an on-call answer came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnCallSource {
    /// A rotation (its index in the schedule: later layers win).
    Rotation(usize),
    /// An override.
    Override(Uuid),
}

/// Who is on call at an instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OnCall {
    /// The person.
    pub person_id: PersonId,
    /// Why them.
    pub source: OnCallSource,
    /// When their turn (or override) began.
    pub since: DateTime<Utc>,
    /// When it ends (an override may end before the turn it covers).
    pub until: DateTime<Utc>,
}

/// Who is on call at `at`: an override covering it (the one that began last, when
/// several do), else the last rotation with a turn then (later layers win).
pub fn on_call_at(rotations: &[Rotation], overrides: &[Override], at: DateTime<Utc>) -> Option<OnCall> {
    let covering = overrides.iter().filter(|o| o.starts_at <= at && at < o.ends_at).max_by_key(|o| (o.starts_at, o.id));
    if let Some(o) = covering {
        return Some(OnCall {
            person_id: o.person_id,
            source: OnCallSource::Override(o.id),
            since: o.starts_at,
            until: o.ends_at,
        });
    }
    rotations.iter().enumerate().rev().find_map(|(i, r)| {
        r.turn_at(at).map(|t| OnCall {
            person_id: t.person_id,
            source: OnCallSource::Rotation(i),
            since: t.starts_at,
            until: t.ends_at,
        })
    })
}

/// Raw fields of a rotation.
#[derive(Debug, Clone, Default)]
pub struct RotationInput<'a> {
    /// Who, in turn order.
    pub people: Vec<PersonId>,
    /// Shift length, `12h`, `1d`, `1w`-less humane form (`168h`, `7d`).
    pub shift: &'a str,
    /// Hand-off, `HH:MM`.
    pub handoff: &'a str,
    /// First turn's date, `YYYY-MM-DD`.
    pub start_date: &'a str,
    /// Optional end date.
    pub end_date: Option<&'a str>,
    /// IANA zone.
    pub time_zone: &'a str,
}

/// Checks rotations, naming fields as `rotations[i].shift` and so on.
pub fn parse_rotations(inputs: &[RotationInput<'_>]) -> Result<Vec<Rotation>, DomainError> {
    let mut v = Validation::new();
    if inputs.is_empty() {
        v.fail("rotations", "must hold at least one rotation");
    }
    if inputs.len() > ROTATIONS_MAX {
        v.fail("rotations", format!("must hold at most {ROTATIONS_MAX} rotations"));
    }
    let mut out = Vec::with_capacity(inputs.len());
    for (i, r) in inputs.iter().enumerate() {
        let field = |name: &str| format!("rotations[{i}].{name}");
        if r.people.is_empty() {
            v.fail(field("people"), "must name at least one person");
        }
        if r.people.len() > ROTATION_PEOPLE_MAX {
            v.fail(field("people"), format!("must name at most {ROTATION_PEOPLE_MAX} people"));
        }
        let shift = crate::targets::parse_duration(r.shift)
            .filter(|d| d.num_seconds() % 3_600 == 0)
            .and_then(|d| u32::try_from(d.num_hours()).ok())
            .filter(|h| (1..=SHIFT_HOURS_MAX).contains(h));
        if shift.is_none() {
            v.fail(field("shift"), "must be whole hours between 1h and 28d, like 12h, 1d or 7d");
        }
        let handoff = NaiveTime::parse_from_str(r.handoff.trim(), "%H:%M").ok();
        if handoff.is_none() {
            v.fail(field("handoff"), "must be a time of day as HH:MM, such as 09:00");
        }
        let start_date = NaiveDate::parse_from_str(r.start_date.trim(), "%Y-%m-%d").ok();
        if start_date.is_none() {
            v.fail(field("start_date"), "must be a date as YYYY-MM-DD");
        }
        let end_date = match r.end_date {
            None => None,
            Some(d) => match NaiveDate::parse_from_str(d.trim(), "%Y-%m-%d") {
                Ok(end) if start_date.is_none_or(|s| end > s) => Some(end),
                Ok(_) => {
                    v.fail(field("end_date"), "must be after start_date");
                    None
                }
                Err(_) => {
                    v.fail(field("end_date"), "must be a date as YYYY-MM-DD");
                    None
                }
            },
        };
        let time_zone = r.time_zone.parse::<Tz>().ok();
        if time_zone.is_none() {
            v.fail(field("time_zone"), "must be an IANA time zone name such as Asia/Shanghai or Europe/London");
        }
        if let (Some(shift_hours), Some(handoff), Some(start_date), Some(time_zone)) =
            (shift, handoff, start_date, time_zone)
        {
            out.push(Rotation { people: r.people.clone(), shift_hours, handoff, start_date, end_date, time_zone });
        }
    }
    v.finish(out)
}

/// A checked schedule: a name and its rotations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSchedule {
    /// Display name (unique).
    pub name: String,
    /// Rotations, layered (later ones win).
    pub rotations: Vec<Rotation>,
}

impl NewSchedule {
    /// Checks raw input.
    pub fn parse(name: &str, rotations: &[RotationInput<'_>]) -> Result<Self, DomainError> {
        let mut v = Validation::new();
        let name = v.required_line("name", name, 200);
        let rotations = match parse_rotations(rotations) {
            Ok(r) => r,
            Err(DomainError::Invalid(errors)) => {
                for e in errors {
                    v.fail(e.field, e.reason);
                }
                Vec::new()
            }
            Err(other) => return Err(other),
        };
        v.finish(Self { name, rotations })
    }
}

/// A checked override.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewOverride {
    /// Who covers (must be active staff; the store checks).
    pub person_id: PersonId,
    /// From.
    pub starts_at: DateTime<Utc>,
    /// Until.
    pub ends_at: DateTime<Utc>,
    /// Why, if said.
    pub note: Option<String>,
}

impl NewOverride {
    /// Checks raw input.
    pub fn parse(
        person_id: PersonId,
        starts_at: DateTime<Utc>,
        ends_at: DateTime<Utc>,
        note: Option<&str>,
    ) -> Result<Self, DomainError> {
        let mut v = Validation::new();
        let note = v.optional_line("note", note, 500);
        if let Err(DomainError::Invalid(errors)) = check_override(starts_at, ends_at) {
            for e in errors {
                v.fail(e.field, e.reason);
            }
        }
        v.finish(Self { person_id, starts_at, ends_at, note })
    }
}

/// Checks an override's stretch.
pub fn check_override(starts_at: DateTime<Utc>, ends_at: DateTime<Utc>) -> Result<(), DomainError> {
    let mut v = Validation::new();
    if ends_at <= starts_at {
        v.fail("ends_at", "must be after starts_at");
    } else if ends_at - starts_at > OVERRIDE_MAX {
        v.fail("ends_at", "an override lasts at most 90 days; change the rotation instead");
    }
    v.finish(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn person(n: u128) -> PersonId {
        PersonId::from_uuid(Uuid::from_u128(n))
    }

    fn rotation(tz: &str, shift_hours: u32, handoff: &str, start: &str, people: &[u128]) -> Rotation {
        Rotation {
            people: people.iter().map(|n| person(*n)).collect(),
            shift_hours,
            handoff: NaiveTime::parse_from_str(handoff, "%H:%M").unwrap(),
            start_date: start.parse().unwrap(),
            end_date: None,
            time_zone: tz.parse().unwrap(),
        }
    }

    fn who(r: &Rotation, s: &str) -> Option<u128> {
        r.turn_at(at(s)).map(|t| t.person_id.as_uuid().as_u128())
    }

    #[rstest]
    // Daily, 09:00 in Shanghai (01:00 UTC), from Monday 16 November: 1, 2, 3, 1, …
    #[case::before_the_first_turn("2026-11-16T00:59:59Z", None)]
    #[case::the_first_turn("2026-11-16T01:00:00Z", Some(1))]
    #[case::late_in_the_first_turn("2026-11-17T00:59:59Z", Some(1))]
    #[case::handed_to_the_second("2026-11-17T01:00:00Z", Some(2))]
    // 23:30 UTC on the 17th is already 07:30 on the 18th in Shanghai: still person 2.
    #[case::the_date_has_turned_locally("2026-11-17T23:30:00Z", Some(2))]
    #[case::the_third("2026-11-18T01:00:00Z", Some(3))]
    #[case::round_again("2026-11-19T01:00:00Z", Some(1))]
    // 45 days in: turn 45, and 45 is a multiple of three.
    #[case::weeks_later("2026-12-31T12:00:00Z", Some(1))]
    fn a_daily_rotation_hands_off_at_nine_shanghai_time(#[case] now: &str, #[case] expected: Option<u128>) {
        let r = rotation("Asia/Shanghai", 24, "09:00", "2026-11-16", &[1, 2, 3]);
        assert_eq!(who(&r, now), expected);
    }

    #[test]
    fn the_hand_off_stays_at_local_nine_across_a_clock_change() {
        // Weekly from Monday 23 March in London, 09:00 local: GMT until the 29th, then BST.
        let r = rotation("Europe/London", 7 * 24, "09:00", "2026-03-23", &[1, 2]);
        assert_eq!(who(&r, "2026-03-23T09:00:00Z"), Some(1), "09:00 GMT");
        // Monday 30 March, 09:00 BST is 08:00 UTC.
        assert_eq!(who(&r, "2026-03-30T07:59:59Z"), Some(1));
        assert_eq!(who(&r, "2026-03-30T08:00:00Z"), Some(2));
        let turn = r.turn_at(at("2026-03-25T12:00:00Z")).unwrap();
        assert_eq!((turn.starts_at, turn.ends_at), (at("2026-03-23T09:00:00Z"), at("2026-03-30T08:00:00Z")));
        assert_eq!(turn.ends_at - turn.starts_at, TimeDelta::hours(167), "the week with the change is an hour short");
        // And back in October: Monday 26 October 09:00 GMT is 09:00 UTC again.
        let r = rotation("Europe/London", 7 * 24, "09:00", "2026-10-19", &[1, 2]);
        assert_eq!(who(&r, "2026-10-26T08:59:59Z"), Some(1));
        assert_eq!(who(&r, "2026-10-26T09:00:00Z"), Some(2));
    }

    #[test]
    fn twelve_hour_shifts_alternate_day_and_night() {
        let r = rotation("America/New_York", 12, "07:00", "2026-11-16", &[1, 2]);
        // 07:00 EST is 12:00 UTC; 19:00 EST is 00:00 UTC.
        assert_eq!(who(&r, "2026-11-16T12:00:00Z"), Some(1));
        assert_eq!(who(&r, "2026-11-16T23:59:59Z"), Some(1));
        assert_eq!(who(&r, "2026-11-17T00:00:00Z"), Some(2));
        assert_eq!(who(&r, "2026-11-17T12:00:00Z"), Some(1));
    }

    #[test]
    fn a_rotation_ends_on_its_end_date() {
        let mut r = rotation("UTC", 24, "09:00", "2026-11-16", &[1, 2]);
        r.end_date = Some("2026-11-18".parse().unwrap());
        assert_eq!(who(&r, "2026-11-18T08:59:59Z"), Some(2));
        assert_eq!(who(&r, "2026-11-18T09:00:00Z"), None);
    }

    #[test]
    fn overrides_win_and_later_layers_win() {
        let base = rotation("UTC", 24, "09:00", "2026-11-01", &[1, 2]);
        let mut weekend = rotation("UTC", 48, "09:00", "2026-11-21", &[3]);
        weekend.end_date = Some("2026-11-23".parse().unwrap());
        let rotations = [base, weekend];
        let o = Override {
            id: Uuid::from_u128(9),
            person_id: person(4),
            starts_at: at("2026-11-21T12:00:00Z"),
            ends_at: at("2026-11-21T18:00:00Z"),
        };
        let pick = |s: &str| on_call_at(&rotations, &[o], at(s)).map(|c| (c.person_id.as_uuid().as_u128(), c.source));
        assert_eq!(pick("2026-11-20T10:00:00Z"), Some((2, OnCallSource::Rotation(0))));
        assert_eq!(pick("2026-11-21T10:00:00Z"), Some((3, OnCallSource::Rotation(1))), "the weekend layer");
        assert_eq!(pick("2026-11-21T12:00:00Z"), Some((4, OnCallSource::Override(o.id))));
        assert_eq!(pick("2026-11-21T18:00:00Z"), Some((3, OnCallSource::Rotation(1))), "the override has ended");
        assert_eq!(pick("2026-11-23T09:00:00Z").map(|p| p.1), Some(OnCallSource::Rotation(0)), "the layer ended");
        assert_eq!(on_call_at(&[], &[], at("2026-11-21T12:00:00Z")), None);
    }

    #[test]
    fn rotations_are_checked_field_by_field() {
        let good = RotationInput {
            people: vec![person(1)],
            shift: "1d",
            handoff: "09:00",
            start_date: "2026-11-16",
            end_date: None,
            time_zone: "Asia/Shanghai",
        };
        let parsed = parse_rotations(std::slice::from_ref(&good)).unwrap();
        assert_eq!(parsed[0].shift_hours, 24);
        let bad = RotationInput {
            people: vec![],
            shift: "90m",
            handoff: "9am",
            start_date: "16/11/2026",
            end_date: Some("soon"),
            time_zone: "Moon/Base",
        };
        let DomainError::Invalid(errors) = parse_rotations(&[good, bad]).unwrap_err() else { panic!() };
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "rotations[1].people",
                "rotations[1].shift",
                "rotations[1].handoff",
                "rotations[1].start_date",
                "rotations[1].end_date",
                "rotations[1].time_zone"
            ]
        );
        assert!(parse_rotations(&[]).is_err());
        assert!(check_override(at("2026-11-21T12:00:00Z"), at("2026-11-21T12:00:00Z")).is_err());
        assert!(check_override(at("2026-11-21T12:00:00Z"), at("2027-11-21T12:00:00Z")).is_err());
        assert!(check_override(at("2026-11-21T12:00:00Z"), at("2026-11-22T12:00:00Z")).is_ok());
    }
}
