//! Binding Lark people to desk accounts.
//!
//! Automatically, by e-mail and mobile: [`Matcher`] says which look-ups to ask Lark for
//! (in batches of Lark's limit) and what the answers mean. Anything ambiguous is a
//! [`Conflict`] — two desk people with one e-mail or mobile, a Lark user already bound to
//! someone else, an e-mail and a mobile that name different Lark users, one Lark user for
//! two desk people — and is reported, never guessed.
//!
//! From a Lark profile: [`FromLark`] checks the request before Lark is asked, then turns
//! the profile into a [`NewPerson`].

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::org::LARK_ID_MAX;
use crate::{DomainError, NewPerson, OrgId, PersonId, PersonInput, Validation};

/// Lark's `batch_get_id` takes at most this many e-mails, and as many mobiles, per call
/// (lark-spec.md §4.1).
pub const LOOKUP_BATCH: usize = 50;

/// Nobody in Lark has the person's e-mail or mobile (or the app may not see them).
pub const NO_LARK_USER: &str =
    "no Lark user has this e-mail or mobile (or the app cannot see them: check its contact scope)";

/// A desk person's contact keys: a candidate for binding, or someone who shares a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contact {
    /// The person.
    pub person_id: PersonId,
    /// E-mail, lower case.
    pub email: Option<String>,
    /// Mobile, international form.
    pub mobile: Option<String>,
}

/// One `batch_get_id` call: at most [`LOOKUP_BATCH`] of each.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Lookup {
    /// E-mails to look up.
    pub emails: Vec<String>,
    /// Mobiles to look up.
    pub mobiles: Vec<String>,
}

/// What Lark answered: the open_id of each e-mail and mobile it knew.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Answers {
    /// E-mail → open_id.
    pub by_email: HashMap<String, String>,
    /// Mobile → open_id.
    pub by_mobile: HashMap<String, String>,
}

/// Which key found the Lark user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MatchedBy {
    /// The e-mail (preferred when both agree).
    Email,
    /// The mobile.
    Mobile,
}

impl MatchedBy {
    /// Stable name for the API.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Email => "email",
            Self::Mobile => "mobile",
        }
    }
}

/// A person to bind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Match {
    /// The person.
    pub person_id: PersonId,
    /// Their open_id.
    pub open_id: String,
    /// Found by e-mail or by mobile.
    pub by: MatchedBy,
}

/// A person left unbound, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Miss {
    /// The person.
    pub person_id: PersonId,
    /// Why.
    pub reason: String,
}

/// Something ambiguous, reported for a person to settle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    /// The Lark user concerned, when one is.
    pub open_id: Option<String>,
    /// The e-mail concerned, when one is.
    pub email: Option<String>,
    /// The mobile concerned, when one is.
    pub mobile: Option<String>,
    /// The desk people concerned.
    pub person_ids: Vec<PersonId>,
    /// What is wrong.
    pub reason: String,
}

/// The outcome of matching: who to bind, who not, what to settle.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BindingPlan {
    /// Bind these.
    pub matched: Vec<Match>,
    /// These found nobody.
    pub unmatched: Vec<Miss>,
    /// These need a person.
    pub conflicts: Vec<Conflict>,
}

/// Matches candidates to Lark users by e-mail and mobile.
#[derive(Debug, Clone)]
pub struct Matcher {
    candidates: Vec<Contact>,
    /// Keys held by more than one desk person, with those people.
    shared_emails: BTreeMap<String, BTreeSet<PersonId>>,
    shared_mobiles: BTreeMap<String, BTreeSet<PersonId>>,
}

impl Matcher {
    /// `namesakes` are every desk person (bound or not, candidates included) holding one
    /// of the candidates' e-mails or mobiles: a key two of them hold identifies nobody.
    pub fn new(candidates: Vec<Contact>, namesakes: &[Contact]) -> Self {
        let mut emails: BTreeMap<String, BTreeSet<PersonId>> = BTreeMap::new();
        let mut mobiles: BTreeMap<String, BTreeSet<PersonId>> = BTreeMap::new();
        for c in candidates.iter().chain(namesakes) {
            if let Some(e) = &c.email {
                emails.entry(e.clone()).or_default().insert(c.person_id);
            }
            if let Some(m) = &c.mobile {
                mobiles.entry(m.clone()).or_default().insert(c.person_id);
            }
        }
        let asked_emails: BTreeSet<String> = candidates.iter().filter_map(|c| c.email.clone()).collect();
        let asked_mobiles: BTreeSet<String> = candidates.iter().filter_map(|c| c.mobile.clone()).collect();
        emails.retain(|k, ids| ids.len() > 1 && asked_emails.contains(k));
        mobiles.retain(|k, ids| ids.len() > 1 && asked_mobiles.contains(k));
        Self { candidates, shared_emails: emails, shared_mobiles: mobiles }
    }

    /// The look-ups to make: every candidate's key that no one else holds, once, in
    /// batches of Lark's limit.
    pub fn lookups(&self) -> Vec<Lookup> {
        let emails: BTreeSet<&String> = self
            .candidates
            .iter()
            .filter_map(|c| c.email.as_ref())
            .filter(|e| !self.shared_emails.contains_key(*e))
            .collect();
        let mobiles: BTreeSet<&String> = self
            .candidates
            .iter()
            .filter_map(|c| c.mobile.as_ref())
            .filter(|m| !self.shared_mobiles.contains_key(*m))
            .collect();
        let emails: Vec<String> = emails.into_iter().cloned().collect();
        let mobiles: Vec<String> = mobiles.into_iter().cloned().collect();
        let calls = emails.len().div_ceil(LOOKUP_BATCH).max(mobiles.len().div_ceil(LOOKUP_BATCH));
        (0..calls)
            .map(|i| {
                let part = |keys: &[String]| {
                    keys.iter().skip(i * LOOKUP_BATCH).take(LOOKUP_BATCH).cloned().collect::<Vec<_>>()
                };
                Lookup { emails: part(&emails), mobiles: part(&mobiles) }
            })
            .collect()
    }

    /// Decides from Lark's answers. `bound` maps the open_ids Lark answered with to the
    /// desk people already bound to them.
    pub fn decide(self, answers: &Answers, bound: &HashMap<String, PersonId>) -> BindingPlan {
        let mut plan = BindingPlan::default();
        let mut excluded: BTreeSet<PersonId> = BTreeSet::new();
        for (email, ids) in &self.shared_emails {
            excluded.extend(ids.iter().copied());
            plan.conflicts.push(Conflict {
                open_id: None,
                email: Some(email.clone()),
                mobile: None,
                person_ids: ids.iter().copied().collect(),
                reason: format!("{} desk people share this e-mail; give each their own, then bind again", ids.len()),
            });
        }
        for (mobile, ids) in &self.shared_mobiles {
            excluded.extend(ids.iter().copied());
            plan.conflicts.push(Conflict {
                open_id: None,
                email: None,
                mobile: Some(mobile.clone()),
                person_ids: ids.iter().copied().collect(),
                reason: format!("{} desk people share this mobile; give each their own, then bind again", ids.len()),
            });
        }
        // open_id → the candidates it would go to, in candidate order.
        let mut chosen: BTreeMap<String, Vec<(PersonId, MatchedBy)>> = BTreeMap::new();
        for c in &self.candidates {
            if excluded.contains(&c.person_id) {
                continue;
            }
            let by_email = c.email.as_ref().and_then(|e| answers.by_email.get(e));
            let by_mobile = c.mobile.as_ref().and_then(|m| answers.by_mobile.get(m));
            let (open_id, by) = match (by_email, by_mobile) {
                (Some(a), Some(b)) if a != b => {
                    plan.conflicts.push(Conflict {
                        open_id: None,
                        email: c.email.clone(),
                        mobile: c.mobile.clone(),
                        person_ids: vec![c.person_id],
                        reason: format!("the e-mail belongs to Lark user {a} and the mobile to Lark user {b}"),
                    });
                    continue;
                }
                (Some(a), _) => (a, MatchedBy::Email),
                (None, Some(b)) => (b, MatchedBy::Mobile),
                (None, None) => {
                    plan.unmatched.push(Miss { person_id: c.person_id, reason: NO_LARK_USER.to_owned() });
                    continue;
                }
            };
            match bound.get(open_id) {
                Some(owner) if *owner != c.person_id => plan.conflicts.push(Conflict {
                    open_id: Some(open_id.clone()),
                    email: None,
                    mobile: None,
                    person_ids: vec![c.person_id, *owner],
                    reason: "this Lark user is already bound to another desk person".to_owned(),
                }),
                _ => chosen.entry(open_id.clone()).or_default().push((c.person_id, by)),
            }
        }
        for (open_id, takers) in chosen {
            match takers.as_slice() {
                [(person_id, by)] => plan.matched.push(Match { person_id: *person_id, open_id, by: *by }),
                _ => plan.conflicts.push(Conflict {
                    open_id: Some(open_id),
                    email: None,
                    mobile: None,
                    person_ids: takers.iter().map(|(p, _)| *p).collect(),
                    reason: "one Lark user matches several desk people (one by e-mail, another by mobile)".to_owned(),
                }),
            }
        }
        plan
    }
}

/// A request to create a desk person from a Lark user's profile.
#[derive(Debug, Clone, Copy)]
pub struct FromLark<'a> {
    /// The Lark user.
    pub open_id: &'a str,
    /// `staff` or `customer`.
    pub kind: &'a str,
    /// Staff role.
    pub role: Option<&'a str>,
    /// Customer organisation.
    pub org_id: Option<OrgId>,
}

/// The parts of a Lark profile a person is made from.
#[derive(Debug, Clone, Copy, Default)]
pub struct LarkProfile<'a> {
    /// Name.
    pub name: Option<&'a str>,
    /// E-mail.
    pub email: Option<&'a str>,
    /// Mobile.
    pub mobile: Option<&'a str>,
    /// union_id.
    pub union_id: Option<&'a str>,
    /// IANA time zone.
    pub time_zone: Option<&'a str>,
}

impl FromLark<'_> {
    /// Checks the request (open_id; kind, role and organisation as for any new person)
    /// before Lark is asked for the profile.
    pub fn check(&self) -> Result<(), DomainError> {
        let mut v = Validation::new();
        v.required_line("open_id", self.open_id, LARK_ID_MAX);
        let mut errors = match v.finish(()) {
            Ok(()) => Vec::new(),
            Err(DomainError::Invalid(errors)) => errors,
            Err(other) => return Err(other),
        };
        match NewPerson::parse(self.input(self.open_id)) {
            Ok(_) => {}
            // The open_id was judged above, under the name this request gives it.
            Err(DomainError::Invalid(more)) => errors.extend(more.into_iter().filter(|e| e.field != "lark_open_id")),
            Err(other) => return Err(other),
        }
        if errors.is_empty() { Ok(()) } else { Err(DomainError::Invalid(errors)) }
    }

    /// The person the profile makes. Lark is the authority on its own data: an e-mail,
    /// mobile or time zone the desk would not accept from a client is left out rather
    /// than refusing the whole profile; a profile without a name is named by its open_id.
    pub fn person(&self, profile: &LarkProfile<'_>) -> Result<NewPerson, DomainError> {
        let name = profile.name.map(str::trim).filter(|n| !n.is_empty()).unwrap_or(self.open_id);
        let input = PersonInput {
            email: acceptable(profile.email, |v, e| {
                v.email("email", e);
            }),
            mobile: acceptable(profile.mobile, |v, m| {
                v.mobile("mobile", m);
            }),
            lark_union_id: profile.union_id.map(str::trim).filter(|u| !u.is_empty()),
            time_zone: profile.time_zone.map(str::trim).filter(|tz| crate::parse_time_zone(tz).is_ok()),
            ..self.input(name)
        };
        NewPerson::parse(input)
    }

    fn input<'n>(&'n self, name: &'n str) -> PersonInput<'n> {
        PersonInput {
            kind: self.kind,
            role: self.role,
            org_id: self.org_id,
            name,
            lark_open_id: Some(self.open_id),
            ..PersonInput::default()
        }
    }
}

/// `value`, trimmed, if `check` accepts it.
fn acceptable(value: Option<&str>, check: fn(&mut Validation, Option<&str>)) -> Option<&str> {
    let value = value.map(str::trim).filter(|v| !v.is_empty())?;
    let mut v = Validation::new();
    check(&mut v, Some(value));
    v.is_ok().then_some(value)
}

#[cfg(test)]
mod tests {
    use uuid::Uuid;

    use super::*;

    fn id(n: u128) -> PersonId {
        PersonId::from_uuid(Uuid::from_u128(n))
    }

    fn contact(n: u128, email: Option<&str>, mobile: Option<&str>) -> Contact {
        Contact { person_id: id(n), email: email.map(str::to_owned), mobile: mobile.map(str::to_owned) }
    }

    fn answers(emails: &[(&str, &str)], mobiles: &[(&str, &str)]) -> Answers {
        let map = |pairs: &[(&str, &str)]| pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        Answers { by_email: map(emails), by_mobile: map(mobiles) }
    }

    #[test]
    fn lookups_come_in_batches_of_fifty_each() {
        let candidates: Vec<Contact> = (0..120)
            .map(|i| contact(i, Some(&format!("p{i}@acme.test")), (i < 60).then(|| format!("+86138{i:08}")).as_deref()))
            .collect();
        let lookups = Matcher::new(candidates, &[]).lookups();
        let sizes: Vec<(usize, usize)> = lookups.iter().map(|l| (l.emails.len(), l.mobiles.len())).collect();
        assert_eq!(sizes, [(50, 50), (50, 10), (20, 0)]);
        assert!(Matcher::new(Vec::new(), &[]).lookups().is_empty());
    }

    #[test]
    fn email_and_mobile_each_find_people() {
        let m = Matcher::new(vec![contact(1, Some("a@x.test"), None), contact(2, None, Some("+8613800000002"))], &[]);
        let plan = m.decide(&answers(&[("a@x.test", "ou_a")], &[("+8613800000002", "ou_b")]), &HashMap::new());
        assert_eq!(
            plan.matched,
            [
                Match { person_id: id(1), open_id: "ou_a".into(), by: MatchedBy::Email },
                Match { person_id: id(2), open_id: "ou_b".into(), by: MatchedBy::Mobile },
            ]
        );
        assert!(plan.unmatched.is_empty() && plan.conflicts.is_empty());
    }

    #[test]
    fn a_shared_email_is_a_conflict_and_is_not_looked_up() {
        let candidates = vec![contact(1, Some("same@x.test"), None), contact(2, Some("same@x.test"), None)];
        let m = Matcher::new(candidates, &[contact(3, Some("solo@x.test"), None)]);
        assert!(m.lookups().is_empty());
        let plan = m.decide(&answers(&[("same@x.test", "ou_a")], &[]), &HashMap::new());
        assert!(plan.matched.is_empty());
        assert_eq!(plan.conflicts.len(), 1);
        assert_eq!(plan.conflicts[0].email.as_deref(), Some("same@x.test"));
        assert_eq!(plan.conflicts[0].person_ids, [id(1), id(2)]);
    }

    #[test]
    fn a_namesake_outside_the_candidates_makes_the_key_ambiguous_too() {
        let m = Matcher::new(vec![contact(1, Some("same@x.test"), None)], &[contact(9, Some("same@x.test"), None)]);
        let plan = m.decide(&answers(&[("same@x.test", "ou_a")], &[]), &HashMap::new());
        assert_eq!(plan.conflicts[0].person_ids, [id(1), id(9)]);
        assert!(plan.matched.is_empty());
    }

    #[test]
    fn misses_disagreements_and_taken_users_are_reported() {
        let candidates = vec![
            contact(1, Some("nobody@x.test"), None),
            contact(2, Some("a@x.test"), Some("+8613800000002")),
            contact(3, Some("taken@x.test"), None),
        ];
        let bound = HashMap::from([("ou_t".to_owned(), id(7))]);
        let plan = Matcher::new(candidates, &[])
            .decide(&answers(&[("a@x.test", "ou_a"), ("taken@x.test", "ou_t")], &[("+8613800000002", "ou_b")]), &bound);
        assert!(plan.matched.is_empty());
        assert_eq!(plan.unmatched, [Miss { person_id: id(1), reason: NO_LARK_USER.into() }]);
        assert_eq!(plan.conflicts.len(), 2);
        assert!(plan.conflicts[0].reason.contains("ou_a") && plan.conflicts[0].reason.contains("ou_b"));
        assert_eq!(plan.conflicts[1].open_id.as_deref(), Some("ou_t"));
        assert_eq!(plan.conflicts[1].person_ids, [id(3), id(7)]);
    }

    #[test]
    fn one_lark_user_for_two_people_binds_neither() {
        let candidates = vec![contact(1, Some("a@x.test"), None), contact(2, None, Some("+8613800000002"))];
        let plan = Matcher::new(candidates, &[])
            .decide(&answers(&[("a@x.test", "ou_a")], &[("+8613800000002", "ou_a")]), &HashMap::new());
        assert!(plan.matched.is_empty());
        assert_eq!(plan.conflicts[0].person_ids, [id(1), id(2)]);
    }

    #[test]
    fn agreeing_keys_match_by_email() {
        let plan = Matcher::new(vec![contact(1, Some("a@x.test"), Some("+8613800000001"))], &[])
            .decide(&answers(&[("a@x.test", "ou_a")], &[("+8613800000001", "ou_a")]), &HashMap::new());
        assert_eq!(plan.matched[0].by, MatchedBy::Email);
    }

    #[test]
    fn a_profile_makes_a_person_and_bad_lark_data_is_left_out() {
        let req =
            FromLark { open_id: "ou_1", kind: "customer", role: None, org_id: Some(OrgId::from_uuid(Uuid::nil())) };
        req.check().unwrap();
        let profile = LarkProfile {
            name: Some("Li Lei"),
            email: Some("Li.Lei@Acme.test"),
            mobile: Some("13800000000"),
            union_id: Some("on_1"),
            time_zone: Some("Mars/Base"),
        };
        let p = req.person(&profile).unwrap();
        assert_eq!(p.name, "Li Lei");
        assert_eq!(p.email.as_deref(), Some("li.lei@acme.test"));
        assert_eq!(p.mobile, None, "a number without a country code is ambiguous");
        assert_eq!(p.time_zone, "UTC");
        assert_eq!((p.lark_open_id.as_deref(), p.lark_union_id.as_deref()), (Some("ou_1"), Some("on_1")));
        let nameless = req.person(&LarkProfile::default()).unwrap();
        assert_eq!(nameless.name, "ou_1");
    }

    #[test]
    fn a_bad_request_is_refused_before_lark_is_asked() {
        let staff_without_role = FromLark { open_id: "ou_1", kind: "staff", role: None, org_id: None };
        assert!(staff_without_role.check().is_err());
        let no_open_id = FromLark { open_id: " ", kind: "staff", role: Some("tam"), org_id: None };
        assert!(no_open_id.check().is_err());
    }
}
