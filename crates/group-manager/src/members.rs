//! Group members: the list split into the customer's colleagues, the service team and
//! those the desk cannot place; adding and removing people through Lark; and what Lark's
//! membership events say. Every real change to a ticket group's members goes on the
//! ticket's timeline once, whoever made it and however often Lark repeats it.

use std::sync::Arc;

use desk_core::membership::{self, AddRefusal, Placement};
use desk_core::{Actor, ActorKind, MembershipVia, Org, PersonId, Role};
use desk_store::{ChatMember, ChatState, Clock, Group, KnownChat, MemberChange, Store, StoreError};
use lark_notify::dispatch::Lanes;
use uuid::Uuid;

use crate::lark_call::{self, LarkCallError};

/// Lark's codes for an open_id that names nobody (lark-spec.md §3.3, §4.2).
const NO_SUCH_USER: &[i64] = &[99_992_351, 99_992_360, 99_992_364];

/// Why a member change was refused.
#[derive(Debug, thiserror::Error)]
pub enum MembersError {
    /// The database (or a group, person or integration that does not exist).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Lark could not be asked, or failed.
    #[error(transparent)]
    Lark(#[from] LarkCallError),
    /// The group has no Lark chat yet (or making it failed).
    #[error("group {group} is {} and has no Lark chat yet; its members can change once it is active", state.as_str())]
    NotReady {
        /// The group.
        group: Uuid,
        /// Where it stands.
        state: ChatState,
    },
    /// The group's chat was disbanded.
    #[error("group {0} was disbanded in Lark")]
    Gone(Uuid),
    /// The person may not be brought into this group.
    #[error("{}", refusal_text(*person, *why))]
    PersonRefused {
        /// Who.
        person: PersonId,
        /// Why.
        why: AddRefusal,
    },
    /// They are not in the group (as far as the desk knows).
    #[error("{0} is not a member of this group")]
    NotMember(String),
    /// Lark would not make the change for this person.
    #[error("Lark would not {action} {open_id}: {why}")]
    LarkRefusedMember {
        /// Add or remove.
        action: &'static str,
        /// Who.
        open_id: String,
        /// What Lark said, in words.
        why: &'static str,
    },
}

fn refusal_text(person: PersonId, why: AddRefusal) -> String {
    match why {
        AddRefusal::Inactive => format!("person {person} is deactivated"),
        AddRefusal::NotBound => {
            format!(
                "person {person} is not bound to a Lark user; bind them first (PATCH lark_open_id, or POST /people/bind)"
            )
        }
        AddRefusal::OtherOrganisation => {
            format!("person {person} is a customer of another organisation and may not join this organisation's groups")
        }
    }
}

/// Who to add: a desk person (bound to Lark), or a Lark user by open_id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MemberTarget {
    /// A desk person.
    Person(PersonId),
    /// A Lark user of the group's app.
    OpenId(String),
}

/// A member, placed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlacedMember {
    /// Their open_id in the group's app.
    pub open_id: String,
    /// The desk person bound to them now, if any.
    pub person_id: Option<PersonId>,
    /// Their name (the desk person's, else Lark's).
    pub name: String,
    /// Their Lark tenant, when Lark said.
    pub tenant_key: Option<String>,
    /// Colleague, service team (with role) or unknown (with why).
    pub placement: Placement,
}

impl PlacedMember {
    /// The staff role, for the service team.
    pub fn role(&self) -> Option<Role> {
        match self.placement {
            Placement::ServiceTeam(role) => Some(role),
            Placement::Colleague | Placement::Unknown(_) => None,
        }
    }
}

/// A group's members in three parts, each by name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Roster {
    /// The customer organisation's own people.
    pub colleagues: Vec<PlacedMember>,
    /// Vendor staff.
    pub service_team: Vec<PlacedMember>,
    /// Members the desk cannot place; each says why.
    pub unknown: Vec<PlacedMember>,
}

/// What an add did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AddOutcome {
    /// They are in the group now.
    Added(PlacedMember),
    /// They were in it already; nothing was asked of Lark.
    AlreadyMember(PlacedMember),
    /// The group needs an admin's approval; Lark holds the request (nothing recorded yet:
    /// the membership event records them once approved).
    PendingApproval(PlacedMember),
}

/// Members of the desk's groups, through Lark.
#[derive(Debug, Clone)]
pub struct Members {
    store: Store,
    lanes: Lanes,
    clock: Arc<dyn Clock>,
}

impl Members {
    /// Members over `store`, calling Lark through `lanes` (one client per integration).
    pub fn new(store: Store, lanes: Lanes, clock: Arc<dyn Clock>) -> Self {
        Self { store, lanes, clock }
    }

    /// Who is in group `id`, split into colleagues, service team and unknown.
    #[tracing::instrument(name = "list group members", skip_all, fields(group.id = %id))]
    pub async fn list(&self, id: Uuid) -> Result<Roster, MembersError> {
        let group = self.store.group(id).await?;
        let org = self.store.org(group.org_id).await?;
        let mut roster = Roster::default();
        for entry in self.store.group_roster(group.id).await? {
            let member = place(&org, entry.member, entry.person.as_ref());
            match member.placement {
                Placement::Colleague => roster.colleagues.push(member),
                Placement::ServiceTeam(_) => roster.service_team.push(member),
                Placement::Unknown(_) => roster.unknown.push(member),
            }
        }
        Ok(roster)
    }

    /// Adds `target` to group `id` through Lark (a billed call, reserved against the
    /// budget) and records it; on a ticket group it goes on the timeline as `actor`'s.
    #[tracing::instrument(name = "add group member", skip_all, fields(group.id = %id))]
    pub async fn add(&self, id: Uuid, target: MemberTarget, actor: &Actor) -> Result<AddOutcome, MembersError> {
        let group = self.store.group(id).await?;
        let chat_id = live_chat(&group)?;
        let org = self.store.org(group.org_id).await?;
        let (open_id, person) = match target {
            MemberTarget::Person(person_id) => {
                let person = self.store.person(person_id).await?;
                membership::check_addable(&org, &person)
                    .map_err(|why| MembersError::PersonRefused { person: person_id, why })?;
                (person.lark_open_id.clone().unwrap_or_default(), Some(person))
            }
            MemberTarget::OpenId(open_id) => {
                let person = self.store.person_by_open_id(&open_id).await?;
                if let Some(p) = &person {
                    membership::check_addable(&org, p)
                        .map_err(|why| MembersError::PersonRefused { person: p.id, why })?;
                }
                (open_id, person)
            }
        };
        if let Some(member) = self.store.group_member(group.id, &open_id).await? {
            return Ok(AddOutcome::AlreadyMember(place(&org, member, person.as_ref())));
        }
        let lane =
            lark_call::lane(&self.store, &self.lanes, group.integration_id.as_deref(), Some(group.org_id)).await?;
        let name = match &person {
            Some(p) => p.name.clone(),
            // Not a desk person: Lark knows their name (a contact call, not billed).
            None => {
                let asked = open_id.clone();
                let found = lane.unbilled(&self.lanes, "members", |c| async move { c.get_user(&asked).await }).await;
                match found {
                    Ok(user) => user.name.filter(|n| !n.trim().is_empty()).unwrap_or_else(|| open_id.clone()),
                    Err(LarkCallError::Lark(e)) if e.code().is_some_and(|c| NO_SUCH_USER.contains(&c)) => {
                        return Err(no_such_user("add", open_id));
                    }
                    Err(e) => return Err(e.into()),
                }
            }
        };
        let now = self.clock.now();
        let ids = vec![open_id.clone()];
        let answer = lane
            .billed(&self.store, &self.lanes, "members", now, |c| async move { c.add_members(&chat_id, &ids).await })
            .await;
        let answer = match answer {
            Err(LarkCallError::Lark(e)) if e.code().is_some_and(|c| NO_SUCH_USER.contains(&c)) => {
                return Err(no_such_user("add", open_id));
            }
            other => other?,
        };
        let member =
            ChatMember { open_id: open_id.clone(), person_id: person.as_ref().map(|p| p.id), name, tenant_key: None };
        if answer.not_existed_id_list.contains(&open_id) {
            return Err(no_such_user("add", open_id));
        }
        if answer.invalid_id_list.contains(&open_id) {
            return Err(MembersError::LarkRefusedMember {
                action: "add",
                open_id,
                why: "the user cannot join (resigned, not visible to the app, or the app is not activated for them)",
            });
        }
        if answer.pending_approval_id_list.contains(&open_id) {
            return Ok(AddOutcome::PendingApproval(place(&org, member, person.as_ref())));
        }
        let now = self.clock.now();
        let changed = self
            .store
            .record_membership(
                group.id,
                group.ticket_id,
                MemberChange::Added,
                std::slice::from_ref(&member),
                actor,
                MembershipVia::Desk,
                now,
            )
            .await?;
        // Not recorded when Lark's event about it was handled first: it recorded them.
        tracing::info!(recorded = !changed.is_empty(), "member added");
        Ok(AddOutcome::Added(place(&org, member, person.as_ref())))
    }

    /// Removes member `open_id` from group `id` through Lark (billed, reserved) and
    /// records it; on a ticket group it goes on the timeline as `actor`'s.
    #[tracing::instrument(name = "remove group member", skip_all, fields(group.id = %id))]
    pub async fn remove(&self, id: Uuid, open_id: &str, actor: &Actor) -> Result<PlacedMember, MembersError> {
        let group = self.store.group(id).await?;
        let chat_id = live_chat(&group)?;
        let org = self.store.org(group.org_id).await?;
        let member = self
            .store
            .group_member(group.id, open_id)
            .await?
            .ok_or_else(|| MembersError::NotMember(open_id.to_owned()))?;
        let lane =
            lark_call::lane(&self.store, &self.lanes, group.integration_id.as_deref(), Some(group.org_id)).await?;
        let now = self.clock.now();
        let ids = vec![open_id.to_owned()];
        let answer = lane
            .billed(&self.store, &self.lanes, "members", now, |c| async move { c.remove_members(&chat_id, &ids).await })
            .await?;
        if answer.invalid_id_list.iter().any(|i| i == open_id) {
            return Err(MembersError::LarkRefusedMember {
                action: "remove",
                open_id: open_id.to_owned(),
                why: "they own the group (ownership has to be handed over first), or they are no longer in it",
            });
        }
        let now = self.clock.now();
        self.store
            .record_membership(
                group.id,
                group.ticket_id,
                MemberChange::Removed,
                std::slice::from_ref(&member),
                actor,
                MembershipVia::Desk,
                now,
            )
            .await?;
        let person = self.store.person_by_open_id(open_id).await?;
        Ok(place(&org, member, person.as_ref()))
    }
}

/// Records what a Lark membership event says about `chat`: who joined or left, and — on
/// a ticket group — the change on the timeline, with the event's operator as the actor
/// (the bot's own adds and removes were recorded by the desk when it made them, so their
/// echo changes nothing). Returns who actually joined or left.
pub async fn record_lark_change(
    store: &Store,
    chat: &KnownChat,
    change: MemberChange,
    members: &[ChatMember],
    operator: Option<&str>,
    bot_open_id: Option<&str>,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Vec<ChatMember>, StoreError> {
    let actor = match operator {
        None => Actor { kind: ActorKind::System, person_id: None, name: "Lark".to_owned() },
        Some(op) if Some(op) == bot_open_id => {
            Actor { kind: ActorKind::System, person_id: None, name: "Larkdesk".to_owned() }
        }
        Some(op) => match store.person_by_open_id(op).await? {
            Some(p) => Actor {
                kind: if p.is_staff() { ActorKind::Staff } else { ActorKind::Customer },
                person_id: Some(p.id),
                name: p.name,
            },
            // Someone the desk does not know: they joined or left themselves (their
            // name is in the event), or someone in Lark moved them.
            None => {
                let name = members
                    .iter()
                    .find(|m| m.open_id == op && !m.name.trim().is_empty())
                    .map_or_else(|| format!("Lark user {op}"), |m| m.name.clone());
                Actor { kind: ActorKind::Customer, person_id: None, name }
            }
        },
    };
    store.record_membership(chat.row_id, chat.ticket_id, change, members, &actor, MembershipVia::Lark, now).await
}

/// The Lark chat of a group that can take member changes.
fn live_chat(group: &Group) -> Result<String, MembersError> {
    match (group.state, &group.chat_id) {
        (ChatState::Active, Some(chat_id)) => Ok(chat_id.clone()),
        (ChatState::Gone, _) => Err(MembersError::Gone(group.id)),
        (state, _) => Err(MembersError::NotReady { group: group.id, state }),
    }
}

fn no_such_user(action: &'static str, open_id: String) -> MembersError {
    MembersError::LarkRefusedMember { action, open_id, why: "no Lark user of the group's app has this open_id" }
}

/// A member with their place; a desk person's name wins over Lark's.
fn place(org: &Org, member: ChatMember, person: Option<&desk_core::Person>) -> PlacedMember {
    let placement = membership::place(org, member.tenant_key.as_deref(), person);
    PlacedMember {
        person_id: person.map(|p| p.id),
        name: person.map_or(member.name, |p| p.name.clone()),
        open_id: member.open_id,
        tenant_key: member.tenant_key,
        placement,
    }
}
