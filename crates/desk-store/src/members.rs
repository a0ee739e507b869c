//! Who is in a group, and every change to it on the ticket's timeline.
//!
//! Lark tells of a change twice when the desk made it (the REST call, then Lark's
//! membership event), and a person may join in Lark while staff add them over REST. A
//! change is recorded, and put on the timeline, only by whichever writer actually changed
//! the member list: an insert that met an existing row, or a delete that found none,
//! changed nothing and says so. So each join or leave is on the timeline exactly once.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use desk_core::{Actor, MembershipVia, Person, PersonId, TicketId, TimelineEvent};
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use uuid::Uuid;

use crate::entity::{lark_chat_member, person};
use crate::tickets::timeline_rows;
use crate::{ChatMember, MemberChange, Store, StoreError, people};

/// Most ids per `IN (…)` list: well inside every database's bound-parameter limit.
const IN_CHUNK: usize = 500;

/// One member of a group with the desk person bound to their open_id now (a binding made
/// or undone after they joined counts).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RosterEntry {
    /// The member as Lark named them.
    pub member: ChatMember,
    /// The desk person bound to their open_id, if any.
    pub person: Option<Person>,
}

/// The desk people bound to `open_ids`, by open_id.
pub(crate) async fn bound_to<C: ConnectionTrait>(
    db: &C,
    open_ids: &[String],
) -> Result<HashMap<String, Person>, StoreError> {
    let mut bound = HashMap::new();
    for chunk in open_ids.chunks(IN_CHUNK) {
        for m in person::Entity::find().filter(person::Column::LarkOpenId.is_in(chunk.to_vec())).all(db).await? {
            let p = people::to_domain(m)?;
            if let Some(open_id) = p.lark_open_id.clone() {
                bound.insert(open_id, p);
            }
        }
    }
    Ok(bound)
}

pub(crate) fn member_of(m: lark_chat_member::Model) -> ChatMember {
    ChatMember {
        open_id: m.open_id,
        person_id: m.person_id.map(PersonId::from_uuid),
        name: m.name,
        tenant_key: m.tenant_key,
    }
}

impl Store {
    /// Everyone in group `chat` as far as the desk knows, by name, each with the person
    /// bound to them now.
    pub async fn group_roster(&self, chat: Uuid) -> Result<Vec<RosterEntry>, StoreError> {
        let members = self.chat_members(chat).await?;
        let open_ids: Vec<String> = members.iter().map(|m| m.open_id.clone()).collect();
        let mut bound = bound_to(self.conn(), &open_ids).await?;
        Ok(members
            .into_iter()
            .map(|member| {
                let person = bound.remove(&member.open_id);
                RosterEntry { member, person }
            })
            .collect())
    }

    /// Member `open_id` of group `chat`, if they are in it.
    pub async fn group_member(&self, chat: Uuid, open_id: &str) -> Result<Option<ChatMember>, StoreError> {
        Ok(lark_chat_member::Entity::find_by_id((chat, open_id.to_owned())).one(self.conn()).await?.map(member_of))
    }

    /// Records that `members` joined or left group `chat`, and returns those for whom that
    /// changed the list (someone already in, or already gone, is left out). For a ticket
    /// group each real change goes on the ticket's timeline as `member_added` /
    /// `member_removed` by `actor`, in the same transaction. A name Lark did not give is
    /// kept from before (or is the open_id).
    #[expect(clippy::too_many_arguments, reason = "one membership change, described in full")]
    pub async fn record_membership(
        &self,
        chat: Uuid,
        ticket: Option<TicketId>,
        change: MemberChange,
        members: &[ChatMember],
        actor: &Actor,
        via: MembershipVia,
        now: DateTime<Utc>,
    ) -> Result<Vec<ChatMember>, StoreError> {
        let mut seen = HashSet::new();
        let members: Vec<&ChatMember> = members.iter().filter(|m| seen.insert(m.open_id.clone())).collect();
        let tx = self.write().await?;
        let open_ids: Vec<String> = members.iter().map(|m| m.open_id.clone()).collect();
        let bound = bound_to(&*tx, &open_ids).await?;
        let person_of = |m: &ChatMember| m.person_id.or_else(|| bound.get(&m.open_id).map(|p| p.id));
        let mut changed = Vec::new();
        match change {
            MemberChange::Added => {
                for m in members {
                    let name = if m.name.trim().is_empty() { m.open_id.clone() } else { m.name.clone() };
                    let row = lark_chat_member::ActiveModel {
                        chat_row_id: Set(chat),
                        open_id: Set(m.open_id.clone()),
                        person_id: Set(person_of(m).map(|p| p.as_uuid())),
                        name: Set(name.clone()),
                        tenant_key: Set(m.tenant_key.clone()),
                        joined_at: Set(now),
                    };
                    // DO NOTHING reports no row on a conflict, on both databases: the
                    // database, not a read before, decides who added them.
                    let inserted = lark_chat_member::Entity::insert(row)
                        .on_conflict(
                            OnConflict::columns([
                                lark_chat_member::Column::ChatRowId,
                                lark_chat_member::Column::OpenId,
                            ])
                            .do_nothing()
                            .to_owned(),
                        )
                        .exec_without_returning(&*tx)
                        .await?;
                    if inserted == 1 {
                        changed.push(ChatMember { name, person_id: person_of(m), ..m.clone() });
                    } else if !m.name.trim().is_empty() || m.tenant_key.is_some() {
                        // Already in: what Lark says now (an event's name and tenant) is fresher.
                        let mut update = lark_chat_member::Entity::update_many()
                            .filter(lark_chat_member::Column::ChatRowId.eq(chat))
                            .filter(lark_chat_member::Column::OpenId.eq(m.open_id.clone()));
                        if !m.name.trim().is_empty() {
                            update = update.col_expr(lark_chat_member::Column::Name, Expr::value(m.name.clone()));
                        }
                        if let Some(tenant) = &m.tenant_key {
                            update = update.col_expr(lark_chat_member::Column::TenantKey, Expr::value(tenant.clone()));
                        }
                        update.exec(&*tx).await?;
                    }
                }
            }
            MemberChange::Removed => {
                for m in members {
                    let Some(row) = lark_chat_member::Entity::find_by_id((chat, m.open_id.clone())).one(&*tx).await?
                    else {
                        continue;
                    };
                    let deleted = lark_chat_member::Entity::delete_many()
                        .filter(lark_chat_member::Column::ChatRowId.eq(chat))
                        .filter(lark_chat_member::Column::OpenId.eq(m.open_id.clone()))
                        .exec(&*tx)
                        .await?
                        .rows_affected;
                    if deleted == 1 {
                        let person_id = person_of(m).or(row.person_id.map(PersonId::from_uuid));
                        changed.push(ChatMember { person_id, ..member_of(row) });
                    }
                }
            }
        }
        if let Some(ticket) = ticket
            && !changed.is_empty()
        {
            let events: Vec<TimelineEvent> = changed
                .iter()
                .map(|m| {
                    let (name, open_id, person_id) = (m.name.clone(), m.open_id.clone(), m.person_id);
                    match change {
                        MemberChange::Added => TimelineEvent::MemberAdded { name, open_id, person_id, via },
                        MemberChange::Removed => TimelineEvent::MemberRemoved { name, open_id, person_id, via },
                    }
                })
                .collect();
            timeline_rows(ticket.as_uuid(), actor, &events, now)?.insert(&*tx).await?;
        }
        tx.commit().await?;
        Ok(changed)
    }
}
