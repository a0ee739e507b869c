//! People: the vendor's staff and the customers' members.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::org::{LARK_ID_MAX, NAME_MAX};
use crate::preferences::{LOCALE_REASON, check_time_zone};
use crate::{DEFAULT_TIME_ZONE, DomainError, Locale, OrgId, PersonId, QuietHours, Role, Validation};

/// Which side of the support relationship a person is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PersonKind {
    /// The vendor's people: admins, TAMs, engineers.
    Staff,
    /// A member of a customer organisation.
    Customer,
}

impl PersonKind {
    /// Stable name for the API and the database.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Staff => "staff",
            Self::Customer => "customer",
        }
    }
}

impl fmt::Display for PersonKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for PersonKind {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "staff" => Ok(Self::Staff),
            "customer" => Ok(Self::Customer),
            _ => Err(DomainError::invalid("kind", "must be staff or customer")),
        }
    }
}

/// A person as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    /// Its id.
    pub id: PersonId,
    /// Staff or customer.
    pub kind: PersonKind,
    /// Staff role; `None` for customers.
    pub role: Option<Role>,
    /// The customer's organisation; `None` for staff.
    pub org_id: Option<OrgId>,
    /// Display name.
    pub name: String,
    /// E-mail, lower-cased.
    pub email: Option<String>,
    /// Mobile in international form.
    pub mobile: Option<String>,
    /// Lark open_id (per app).
    pub lark_open_id: Option<String>,
    /// Lark union_id (per developer account).
    pub lark_union_id: Option<String>,
    /// Whether the person may still act and be assigned.
    pub active: bool,
    /// The language their notifications are written in.
    pub locale: Locale,
    /// IANA time zone name (`Asia/Shanghai`): the clock their quiet hours are read on.
    pub time_zone: String,
    /// When notifications to them wait, if ever.
    pub quiet_hours: Option<QuietHours>,
    /// When created.
    pub created_at: DateTime<Utc>,
    /// When last changed.
    pub updated_at: DateTime<Utc>,
}

impl Person {
    /// Whether this person is a staff member (any role).
    pub fn is_staff(&self) -> bool {
        self.kind == PersonKind::Staff
    }
}

/// A checked request to create a person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPerson {
    /// Staff or customer.
    pub kind: PersonKind,
    /// Staff role.
    pub role: Option<Role>,
    /// Customer org.
    pub org_id: Option<OrgId>,
    /// Name.
    pub name: String,
    /// E-mail.
    pub email: Option<String>,
    /// Mobile.
    pub mobile: Option<String>,
    /// Lark open_id.
    pub lark_open_id: Option<String>,
    /// Lark union_id.
    pub lark_union_id: Option<String>,
    /// Notification language.
    pub locale: Locale,
    /// IANA time zone name.
    pub time_zone: String,
    /// Quiet hours.
    pub quiet_hours: Option<QuietHours>,
}

/// Raw fields of a person, as a client sent them.
#[derive(Debug, Clone, Copy, Default)]
pub struct PersonInput<'a> {
    /// `staff` or `customer`.
    pub kind: &'a str,
    /// Staff role name.
    pub role: Option<&'a str>,
    /// Customer org.
    pub org_id: Option<OrgId>,
    /// Name.
    pub name: &'a str,
    /// E-mail.
    pub email: Option<&'a str>,
    /// Mobile.
    pub mobile: Option<&'a str>,
    /// Lark open_id.
    pub lark_open_id: Option<&'a str>,
    /// Lark union_id.
    pub lark_union_id: Option<&'a str>,
    /// `en` or `zh` (a region such as `zh-CN` is accepted); `en` when absent.
    pub locale: Option<&'a str>,
    /// IANA time zone name; `UTC` when absent.
    pub time_zone: Option<&'a str>,
    /// Quiet hours as `(start, end)`, each `HH:MM`.
    pub quiet_hours: Option<(&'a str, &'a str)>,
}

impl NewPerson {
    /// Checks raw input: staff need a role and no org; customers need an org and no role.
    pub fn parse(input: PersonInput<'_>) -> Result<Self, DomainError> {
        let mut v = Validation::new();
        let kind = v.choice::<PersonKind>("kind", Some(input.kind), "must be staff or customer");
        let role = v.choice::<Role>("role", input.role, "must be one of admin, tam, engineer");
        match kind {
            Some(PersonKind::Staff) => {
                if input.role.is_none() {
                    v.fail("role", "is required for staff");
                }
                if input.org_id.is_some() {
                    v.fail("org_id", "must be absent for staff (staff serve every organisation)");
                }
            }
            Some(PersonKind::Customer) => {
                if input.role.is_some() {
                    v.fail("role", "must be absent for customers");
                }
                if input.org_id.is_none() {
                    v.fail("org_id", "is required for customers");
                }
            }
            None => {}
        }
        let name = v.required_line("name", input.name, NAME_MAX);
        let email = v.email("email", input.email);
        let mobile = v.mobile("mobile", input.mobile);
        let lark_open_id = v.optional_line("lark_open_id", input.lark_open_id, LARK_ID_MAX);
        let lark_union_id = v.optional_line("lark_union_id", input.lark_union_id, LARK_ID_MAX);
        let locale = v.choice::<Locale>("locale", input.locale, LOCALE_REASON).unwrap_or_default();
        let time_zone = input.time_zone.map_or_else(|| DEFAULT_TIME_ZONE.to_owned(), |tz| check_time_zone(&mut v, tz));
        let quiet_hours = input.quiet_hours.map(|(start, end)| QuietHours::check(&mut v, start, end));
        let kind = kind.unwrap_or(PersonKind::Customer);
        v.finish(Self {
            kind,
            role,
            org_id: input.org_id,
            name,
            email,
            mobile,
            lark_open_id,
            lark_union_id,
            locale,
            time_zone,
            quiet_hours,
        })
    }
}

/// A checked partial update of a person. `Some(None)` clears a field.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PersonPatch {
    /// New name.
    pub name: Option<String>,
    /// New staff role (staff only).
    pub role: Option<Role>,
    /// New or cleared e-mail.
    pub email: Option<Option<String>>,
    /// New or cleared mobile.
    pub mobile: Option<Option<String>>,
    /// New or cleared open_id.
    pub lark_open_id: Option<Option<String>>,
    /// New or cleared union_id.
    pub lark_union_id: Option<Option<String>>,
    /// Activate or deactivate.
    pub active: Option<bool>,
    /// New notification language.
    pub locale: Option<Locale>,
    /// New IANA time zone name.
    pub time_zone: Option<String>,
    /// New or cleared quiet hours.
    pub quiet_hours: Option<Option<QuietHours>>,
}

/// Raw fields of a person update; outer `None` means "not sent".
#[derive(Debug, Clone, Copy, Default)]
pub struct PersonPatchInput<'a> {
    /// Name.
    pub name: Option<&'a str>,
    /// Role.
    pub role: Option<&'a str>,
    /// E-mail.
    pub email: Option<Option<&'a str>>,
    /// Mobile.
    pub mobile: Option<Option<&'a str>>,
    /// open_id.
    pub lark_open_id: Option<Option<&'a str>>,
    /// union_id.
    pub lark_union_id: Option<Option<&'a str>>,
    /// Active flag.
    pub active: Option<bool>,
    /// Notification language.
    pub locale: Option<&'a str>,
    /// IANA time zone name.
    pub time_zone: Option<&'a str>,
    /// Quiet hours as `(start, end)`; `Some(None)` clears them.
    pub quiet_hours: Option<Option<(&'a str, &'a str)>>,
}

impl PersonPatch {
    /// Checks raw input.
    pub fn parse(input: PersonPatchInput<'_>) -> Result<Self, DomainError> {
        let mut v = Validation::new();
        let name = input.name.map(|n| v.required_line("name", n, NAME_MAX));
        let role = v.choice::<Role>("role", input.role, "must be one of admin, tam, engineer");
        let email = input.email.map(|e| v.email("email", e));
        let mobile = input.mobile.map(|m| v.mobile("mobile", m));
        let lark_open_id = input.lark_open_id.map(|x| v.optional_line("lark_open_id", x, LARK_ID_MAX));
        let lark_union_id = input.lark_union_id.map(|x| v.optional_line("lark_union_id", x, LARK_ID_MAX));
        let locale = v.choice::<Locale>("locale", input.locale, LOCALE_REASON);
        let time_zone = input.time_zone.map(|tz| check_time_zone(&mut v, tz));
        let quiet_hours = input.quiet_hours.map(|q| q.map(|(start, end)| QuietHours::check(&mut v, start, end)));
        let patch = Self {
            name,
            role,
            email,
            mobile,
            lark_open_id,
            lark_union_id,
            active: input.active,
            locale,
            time_zone,
            quiet_hours,
        };
        if patch == Self::default() {
            v.fail("", "name at least one field to change");
        }
        v.finish(patch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn staff<'a>() -> PersonInput<'a> {
        PersonInput { kind: "staff", role: Some("tam"), name: "Wang Fang", ..Default::default() }
    }

    #[test]
    fn staff_need_a_role_and_no_org() {
        assert!(NewPerson::parse(staff()).is_ok());
        let err =
            NewPerson::parse(PersonInput { role: None, org_id: Some(OrgId::from_uuid(uuid::Uuid::nil())), ..staff() })
                .unwrap_err();
        let DomainError::Invalid(errors) = err else { panic!() };
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["role", "org_id"]);
    }

    #[test]
    fn customers_need_an_org_and_no_role() {
        let input = PersonInput { kind: "customer", role: Some("admin"), ..staff() };
        let DomainError::Invalid(errors) = NewPerson::parse(input).unwrap_err() else { panic!() };
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["role", "org_id"]);
    }

    #[test]
    fn preferences_default_to_english_utc_and_no_quiet_hours() {
        let p = NewPerson::parse(staff()).unwrap();
        assert_eq!((p.locale, p.time_zone.as_str(), p.quiet_hours), (Locale::En, "UTC", None));
    }

    #[test]
    fn preferences_are_checked_and_kept() {
        let input = PersonInput {
            locale: Some("zh-CN"),
            time_zone: Some("Asia/Shanghai"),
            quiet_hours: Some(("22:00", "07:00")),
            ..staff()
        };
        let p = NewPerson::parse(input).unwrap();
        assert_eq!(p.locale, Locale::Zh);
        assert_eq!(p.time_zone, "Asia/Shanghai");
        assert_eq!(p.quiet_hours, Some(QuietHours::parse("22:00", "07:00").unwrap()));
    }

    #[test]
    fn every_bad_preference_is_named_at_once() {
        let input = PersonInput {
            locale: Some("fr"),
            time_zone: Some("Moon/Base"),
            quiet_hours: Some(("25:00", "7")),
            ..staff()
        };
        let DomainError::Invalid(errors) = NewPerson::parse(input).unwrap_err() else { panic!() };
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["locale", "time_zone", "quiet_hours.start", "quiet_hours.end"]);
    }

    #[test]
    fn a_patch_of_preferences_alone_is_a_patch() {
        let only_time_zone = PersonPatchInput { time_zone: Some("Europe/London"), ..Default::default() };
        assert_eq!(PersonPatch::parse(only_time_zone).unwrap().time_zone.as_deref(), Some("Europe/London"));
        let clear = PersonPatch::parse(PersonPatchInput { quiet_hours: Some(None), ..Default::default() }).unwrap();
        assert_eq!(clear.quiet_hours, Some(None));
        let locale = PersonPatch::parse(PersonPatchInput { locale: Some("en"), ..Default::default() }).unwrap();
        assert_eq!(locale.locale, Some(Locale::En));
        let same = PersonPatchInput { quiet_hours: Some(Some(("08:00", "08:00"))), ..Default::default() };
        let DomainError::Invalid(errors) = PersonPatch::parse(same).unwrap_err() else { panic!() };
        assert_eq!(errors[0].field, "quiet_hours");
    }

    #[test]
    fn email_is_normalised_to_lower_case() {
        let p = NewPerson::parse(PersonInput { email: Some(" Wang@Example.com "), ..staff() }).unwrap();
        assert_eq!(p.email.as_deref(), Some("wang@example.com"));
    }
}
