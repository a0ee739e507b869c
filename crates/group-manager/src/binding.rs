//! Binding Lark people to desk accounts: automatically by e-mail and mobile through
//! Lark's contact look-up (in batches, with a report), and by creating the account from a
//! Lark profile. Manual binding is a plain person update (`lark_open_id`).
//!
//! Contact calls are not billed (lark-spec.md §8.3), so they need no budget reservation;
//! they still go through the integration's shared client, its rate limits and the ledger.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use desk_core::binding::{Answers, BindingPlan, Conflict, Contact, FromLark, LarkProfile, Matcher, Miss};
use desk_core::{DomainError, Integration, OrgId, Person, PersonId, PersonKind};
use desk_store::{Clock, Store, StoreError};
use lark_notify::dispatch::Lanes;

use crate::lark_call::{self, LarkCallError, LarkLane};

/// Lark's codes for a user id that names nobody (lark-spec.md §4.2).
const NO_SUCH_USER: &[i64] = &[99_992_351, 99_992_360, 99_992_364];

/// Why binding was refused.
#[derive(Debug, thiserror::Error)]
pub enum BindingError {
    /// The database (or an organisation or integration that does not exist).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Lark could not be asked, or failed.
    #[error(transparent)]
    Lark(#[from] LarkCallError),
    /// The request breaks a rule.
    #[error(transparent)]
    Invalid(#[from] DomainError),
    /// Lark has no user with this open_id (in this integration's app).
    #[error("Lark has no user {0} in this integration's app")]
    LarkUserNotFound(String),
    /// Someone is bound to this open_id already.
    #[error("person {person} is already bound to Lark user {open_id}")]
    AlreadyBound {
        /// The open_id.
        open_id: String,
        /// Who holds it.
        person: PersonId,
    },
    /// The Lark profile's e-mail or mobile belongs to desk people already: they should
    /// be bound, not doubled.
    #[error(
        "the Lark profile's e-mail or mobile already belongs to desk person {}; bind them instead (PATCH /api/v1/people/{{id}} with lark_open_id, or POST /api/v1/people/bind)",
        people.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
    )]
    ProfileMatchesPeople {
        /// Who.
        people: Vec<PersonId>,
    },
}

/// What to bind automatically.
#[derive(Debug, Clone, Default)]
pub struct AutoBind {
    /// Ask this integration's app (else each person's: their organisation's own app,
    /// else `default`).
    pub integration_id: Option<String>,
    /// These people (else everyone active and unbound with an e-mail or mobile).
    pub person_ids: Option<Vec<PersonId>>,
}

/// A request to create a person from a Lark profile.
#[derive(Debug, Clone)]
pub struct CreateFromLark {
    /// The Lark user.
    pub open_id: String,
    /// `staff` or `customer`.
    pub kind: String,
    /// Staff role.
    pub role: Option<String>,
    /// Customer organisation.
    pub org_id: Option<OrgId>,
    /// Ask this integration's app (else the organisation's, else `default`).
    pub integration_id: Option<String>,
}

/// Binds Lark people to desk accounts.
#[derive(Debug, Clone)]
pub struct Binder {
    store: Store,
    lanes: Lanes,
    clock: Arc<dyn Clock>,
}

impl Binder {
    /// A binder over `store`, asking Lark through `lanes`.
    pub fn new(store: Store, lanes: Lanes, clock: Arc<dyn Clock>) -> Self {
        Self { store, lanes, clock }
    }

    /// Matches people to Lark users by e-mail and by mobile and binds those matched,
    /// all in one transaction; reports who matched, who did not and why, and what is
    /// ambiguous. A person given by id that does not exist refuses the whole request
    /// (`person_ids[i]`) before Lark is asked.
    #[tracing::instrument(name = "bind people", skip_all)]
    pub async fn auto(&self, req: AutoBind) -> Result<BindingPlan, BindingError> {
        let mut report = BindingPlan::default();
        let people = match &req.person_ids {
            Some(ids) => self.chosen(ids, &mut report).await?,
            None => self.store.unbound_people().await?,
        };
        // Which app to ask for whom: open_ids are per app.
        let mut by_lane: BTreeMap<String, (LarkLane, Vec<Contact>)> = BTreeMap::new();
        let explicit = match &req.integration_id {
            Some(id) => Some(lark_call::lane_of(&self.lanes, self.store.integration(id).await?).await?),
            None => None,
        };
        let mut routes: HashMap<Option<OrgId>, Result<Integration, String>> = HashMap::new();
        for p in people {
            let contact = Contact { person_id: p.id, email: p.email.clone(), mobile: p.mobile.clone() };
            let lane = match &explicit {
                Some(lane) => lane.clone(),
                None => {
                    let org = (p.kind == PersonKind::Customer).then_some(p.org_id).flatten();
                    let route = match routes.get(&org) {
                        Some(r) => r.clone(),
                        None => {
                            let r = self.route(org).await?;
                            routes.insert(org, r.clone());
                            r
                        }
                    };
                    match route {
                        Ok(integration) => match by_lane.get(&integration.id) {
                            Some((lane, _)) => lane.clone(),
                            None => match lark_call::lane_of(&self.lanes, integration).await {
                                Ok(lane) => lane,
                                Err(LarkCallError::Off(id)) => {
                                    report.unmatched.push(Miss {
                                        person_id: p.id,
                                        reason: format!("integration {id} is off: Lark is not asked"),
                                    });
                                    continue;
                                }
                                Err(e) => return Err(e.into()),
                            },
                        },
                        Err(reason) => {
                            report.unmatched.push(Miss { person_id: p.id, reason });
                            continue;
                        }
                    }
                }
            };
            let id = lane.integration.id.clone();
            by_lane.entry(id).or_insert_with(|| (lane, Vec::new())).1.push(contact);
        }
        for (lane, candidates) in by_lane.into_values() {
            let plan = self.match_in(&lane, candidates).await?;
            report.matched.extend(plan.matched);
            report.unmatched.extend(plan.unmatched);
            report.conflicts.extend(plan.conflicts);
        }
        let pairs: Vec<(PersonId, String)> = report.matched.iter().map(|m| (m.person_id, m.open_id.clone())).collect();
        let skipped: HashSet<PersonId> = self.store.bind_people(&pairs, self.clock.now()).await?.into_iter().collect();
        if !skipped.is_empty() {
            let (bound, raced): (Vec<_>, Vec<_>) =
                std::mem::take(&mut report.matched).into_iter().partition(|m| !skipped.contains(&m.person_id));
            report.matched = bound;
            report.conflicts.extend(raced.into_iter().map(|m| Conflict {
                open_id: Some(m.open_id),
                email: None,
                mobile: None,
                person_ids: vec![m.person_id],
                reason: "the person was bound to a Lark user by someone else meanwhile; left as it is".to_owned(),
            }));
        }
        tracing::info!(
            matched = report.matched.len(),
            unmatched = report.unmatched.len(),
            conflicts = report.conflicts.len(),
            "Lark binding done"
        );
        Ok(report)
    }

    /// Creates a desk person from Lark user `open_id`'s profile (name, e-mail, mobile).
    #[tracing::instrument(name = "create person from Lark", skip_all)]
    pub async fn create_from_lark(&self, req: CreateFromLark) -> Result<Person, BindingError> {
        let request =
            FromLark { open_id: &req.open_id, kind: &req.kind, role: req.role.as_deref(), org_id: req.org_id };
        request.check()?;
        let open_id = req.open_id.trim().to_owned();
        if let Some(org) = req.org_id {
            self.store.org(org).await?;
        }
        if let Some(holder) = self.store.person_by_open_id(&open_id).await? {
            return Err(BindingError::AlreadyBound { open_id, person: holder.id });
        }
        let org = if req.kind == PersonKind::Customer.as_str() { req.org_id } else { None };
        let lane = lark_call::lane(&self.store, &self.lanes, req.integration_id.as_deref(), org).await?;
        let asked = open_id.clone();
        let user = match lane.unbilled(&self.lanes, "binding", |c| async move { c.get_user(&asked).await }).await {
            Err(LarkCallError::Lark(e)) if e.code().is_some_and(|c| NO_SUCH_USER.contains(&c)) => {
                return Err(BindingError::LarkUserNotFound(open_id));
            }
            other => other?,
        };
        let profile = LarkProfile {
            name: user.name.as_deref(),
            email: user.email.as_deref(),
            mobile: user.mobile.as_deref(),
            union_id: user.union_id.as_deref(),
            time_zone: user.time_zone.as_deref(),
        };
        let request = FromLark { open_id: &open_id, ..request };
        let new = request.person(&profile)?;
        let namesakes = self
            .store
            .people_with_contacts(
                &new.email.iter().cloned().collect::<Vec<_>>(),
                &new.mobile.iter().cloned().collect::<Vec<_>>(),
            )
            .await?;
        if !namesakes.is_empty() {
            return Err(BindingError::ProfileMatchesPeople { people: namesakes.into_iter().map(|p| p.id).collect() });
        }
        Ok(self.store.create_person(new, self.clock.now()).await?)
    }

    /// The people named by `ids`, in order, once each; those who cannot be bound go to the
    /// report's unmatched with why.
    async fn chosen(&self, ids: &[PersonId], report: &mut BindingPlan) -> Result<Vec<Person>, BindingError> {
        let mut found = self.store.people_by_ids(ids).await?;
        let missing: Vec<_> = ids
            .iter()
            .enumerate()
            .filter(|(_, id)| !found.contains_key(id))
            .map(|(i, _)| desk_core::FieldError::new(format!("person_ids[{i}]"), "no such person"))
            .collect();
        if !missing.is_empty() {
            return Err(DomainError::Invalid(missing).into());
        }
        let mut people = Vec::new();
        for id in ids {
            let Some(p) = found.remove(id) else { continue };
            let why = if let Some(open_id) = &p.lark_open_id {
                Some(format!("already bound to Lark user {open_id}"))
            } else if !p.active {
                Some("deactivated".to_owned())
            } else if p.email.is_none() && p.mobile.is_none() {
                Some("no e-mail or mobile to match by".to_owned())
            } else {
                None
            };
            match why {
                Some(reason) => report.unmatched.push(Miss { person_id: p.id, reason }),
                None => people.push(p),
            }
        }
        Ok(people)
    }

    /// The integration serving `org` (`None`: the service team), or why there is none.
    async fn route(&self, org: Option<OrgId>) -> Result<Result<Integration, String>, BindingError> {
        let id = match org {
            Some(org) => self.store.lark_route(org).await?,
            None => Some("default".to_owned()),
        };
        let missing =
            || "no Lark integration serves them: register one for their organisation, or set DESK_LARK_APP_ID";
        match id {
            None => Ok(Err(missing().to_owned())),
            Some(id) => match self.store.integration(&id).await {
                Ok(i) => Ok(Ok(i)),
                Err(StoreError::NotFound { .. }) => Ok(Err(missing().to_owned())),
                Err(e) => Err(e.into()),
            },
        }
    }

    /// Looks `candidates` up in one app, in batches, and decides.
    async fn match_in(&self, lane: &LarkLane, candidates: Vec<Contact>) -> Result<BindingPlan, BindingError> {
        let emails: Vec<String> = candidates.iter().filter_map(|c| c.email.clone()).collect();
        let mobiles: Vec<String> = candidates.iter().filter_map(|c| c.mobile.clone()).collect();
        let namesakes: Vec<Contact> = self
            .store
            .people_with_contacts(&emails, &mobiles)
            .await?
            .into_iter()
            .map(|p| Contact { person_id: p.id, email: p.email, mobile: p.mobile })
            .collect();
        let matcher = Matcher::new(candidates, &namesakes);
        let mut answers = Answers::default();
        for lookup in matcher.lookups() {
            let found =
                lane.unbilled(&self.lanes, "binding", |c| async move {
                    c.batch_get_ids(&lookup.emails, &lookup.mobiles).await
                })
                .await?;
            for entry in found {
                let Some(open_id) = entry.user_id.filter(|id| !id.is_empty()) else { continue };
                if entry.status.as_ref().is_some_and(|s| s.is_resigned || s.is_frozen) {
                    continue;
                }
                if let Some(email) = entry.email {
                    answers.by_email.insert(email, open_id.clone());
                }
                if let Some(mobile) = entry.mobile {
                    answers.by_mobile.insert(mobile, open_id);
                }
            }
        }
        let open_ids: Vec<String> = answers
            .by_email
            .values()
            .chain(answers.by_mobile.values())
            .cloned()
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        let bound = self.store.people_bound_to(&open_ids).await?;
        Ok(matcher.decide(&answers, &bound))
    }
}
