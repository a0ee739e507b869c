//! Invite links to groups. The store sees only the SHA-256 of a link's token, never the
//! token. A use is counted by one conditional UPDATE, so whether a link is still valid is
//! decided by the database at the instant the use is taken: never a join after expiry,
//! never one use too many, however many people redeem at once.

use chrono::{DateTime, Utc};
use desk_core::invite::{InviteState, InviteTerms, invite_expires_at, invite_state};
use desk_core::{Actor, ActorKind, DomainError, InviteId, OrgId, PersonId, PersonKind, TicketId, TicketStatus};
use sea_orm::sea_query::{Condition, Expr, ExprTrait, OnConflict};
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect};
use uuid::Uuid;

use crate::entity::{invite, invite_redemption, lark_chat, lark_chat_member, org, person, ticket};
use crate::pagination::{Page, PageRequest, oldest_first};
use crate::tickets::timeline_rows;
use crate::{ChatKind, ChatState, KnownChat, Store, StoreError};

/// Why a link was revoked when its ticket closed.
pub const REVOKED_TICKET_CLOSED: &str = "ticket_closed";
/// Why a link was revoked when staff revoked it.
pub const REVOKED_BY_STAFF: &str = "revoked";

/// A link to create. The token itself stays with the caller.
#[derive(Debug, Clone)]
pub struct NewInvite {
    /// The group (`lark_chats` row) it lets people into.
    pub group: Uuid,
    /// SHA-256 of the token, hex.
    pub token_hash: String,
    /// At most this many people may use it.
    pub max_uses: Option<u32>,
    /// Who made it.
    pub created_by: Actor,
}

/// A link's metadata (never its token).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invite {
    /// Id.
    pub id: InviteId,
    /// The group it lets people into.
    pub group_id: Uuid,
    /// The organisation of that group.
    pub org_id: OrgId,
    /// The use limit, if any.
    pub max_uses: Option<u32>,
    /// Uses so far.
    pub uses: u32,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// The end of its 24 hours.
    pub expires_at: DateTime<Utc>,
    /// The staff member or customer who made it, if a person did.
    pub created_by: Option<PersonId>,
    /// Their name at the time.
    pub created_by_name: String,
    /// When revoked, if it was.
    pub revoked_at: Option<DateTime<Utc>>,
    /// Why (`revoked`, `ticket_closed`).
    pub revoked_reason: Option<String>,
}

impl Invite {
    /// What decides whether it can be used.
    pub fn terms(&self) -> InviteTerms {
        InviteTerms {
            expires_at: self.expires_at,
            revoked_at: self.revoked_at,
            max_uses: self.max_uses,
            uses: self.uses,
        }
    }

    /// Whether it can be used at `now`.
    pub fn state(&self, now: DateTime<Utc>) -> InviteState {
        invite_state(&self.terms(), now)
    }
}

/// A link with what it is for: its group, organisation and ticket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InviteTarget {
    /// The link.
    pub invite: Invite,
    /// Its group.
    pub group: KnownChat,
    /// The organisation's name.
    pub org_name: String,
    /// For a ticket group: the ticket's number and title.
    pub ticket: Option<(i64, String)>,
}

/// Someone who joined a group through a link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InviteJoin {
    /// The link.
    pub invite: InviteId,
    /// The group.
    pub group: Uuid,
    /// Their open_id in the group's app.
    pub open_id: String,
    /// Their name in Lark.
    pub name: String,
    /// Their Lark tenant.
    pub tenant_key: Option<String>,
    /// Lark holds the add for an administrator's approval: not a member yet (Lark's
    /// membership event records them once approved).
    pub pending_approval: bool,
}

fn to_domain(m: invite::Model) -> Result<Invite, StoreError> {
    let count = |n: i32, what: &str| {
        u32::try_from(n).map_err(|_| StoreError::corrupt("invites", format!("{what} {n} on invite {}", m.id)))
    };
    Ok(Invite {
        id: InviteId::from_uuid(m.id),
        group_id: m.chat_row_id,
        org_id: OrgId::from_uuid(m.org_id),
        max_uses: m.max_uses.map(|n| count(n, "max_uses")).transpose()?,
        uses: count(m.uses, "uses")?,
        created_at: m.created_at,
        expires_at: m.expires_at,
        created_by: m.created_by.map(PersonId::from_uuid),
        created_by_name: m.created_by_name,
        revoked_at: m.revoked_at,
        revoked_reason: m.revoked_reason,
    })
}

/// A `lark_chats` row as the domain sees it.
fn group_of(m: lark_chat::Model) -> Result<KnownChat, StoreError> {
    let kind = ChatKind::parse(&m.kind).ok_or_else(|| StoreError::corrupt("lark_chats", format!("kind {}", m.kind)))?;
    let state =
        ChatState::parse(&m.state).ok_or_else(|| StoreError::corrupt("lark_chats", format!("state {}", m.state)))?;
    Ok(KnownChat {
        row_id: m.id,
        chat_id: m.chat_id,
        integration_id: m.integration_id,
        org_id: OrgId::from_uuid(m.org_id),
        ticket_id: m.ticket_id.map(TicketId::from_uuid),
        kind,
        state,
        name: m.name,
    })
}

async fn find_group<C: ConnectionTrait>(db: &C, id: Uuid) -> Result<KnownChat, StoreError> {
    lark_chat::Entity::find_by_id(id)
        .one(db)
        .await?
        .map(group_of)
        .transpose()?
        .ok_or_else(|| StoreError::not_found("group", id))
}

/// The conditions under which a link may be used at `now`: the same as
/// [`desk_core::invite::invite_state`] says `Live`.
fn usable_at(now: DateTime<Utc>) -> Condition {
    Condition::all().add(invite::Column::RevokedAt.is_null()).add(invite::Column::ExpiresAt.gt(now)).add(
        Condition::any()
            .add(invite::Column::MaxUses.is_null())
            .add(Expr::col(invite::Column::Uses).lt(Expr::col(invite::Column::MaxUses))),
    )
}

/// Revokes the live links of `ticket`'s group, inside the caller's transaction (closing
/// a ticket calls it, so a closed ticket never has a usable link).
pub(crate) async fn revoke_ticket_invites<C: ConnectionTrait>(
    db: &C,
    ticket: TicketId,
    now: DateTime<Utc>,
) -> Result<u64, StoreError> {
    let groups: Vec<Uuid> = lark_chat::Entity::find()
        .select_only()
        .column(lark_chat::Column::Id)
        .filter(lark_chat::Column::TicketId.eq(ticket.as_uuid()))
        .into_tuple()
        .all(db)
        .await?;
    if groups.is_empty() {
        return Ok(0);
    }
    Ok(invite::Entity::update_many()
        .col_expr(invite::Column::RevokedAt, Expr::value(now))
        .col_expr(invite::Column::RevokedReason, Expr::value(REVOKED_TICKET_CLOSED))
        .filter(invite::Column::ChatRowId.is_in(groups))
        .filter(invite::Column::RevokedAt.is_null())
        .filter(invite::Column::ExpiresAt.gt(now))
        .exec(db)
        .await?
        .rows_affected)
}

impl Store {
    /// The cursor scope of a group's invite list.
    pub fn invites_scope(group: Uuid) -> String {
        format!("invites:{group}")
    }

    /// Creates a link to `new.group`, valid for 24 hours from `now`. The group must exist
    /// and not be gone, and a ticket group's ticket must not be closed.
    pub async fn create_invite(&self, new: NewInvite, now: DateTime<Utc>) -> Result<(Invite, KnownChat), StoreError> {
        let tx = self.write().await?;
        let group = find_group(&*tx, new.group).await?;
        if group.state == ChatState::Gone {
            return Err(StoreError::Conflict {
                code: "group_gone",
                detail: format!("group {} was disbanded in Lark; nobody can be invited to it", group.row_id),
            });
        }
        if let Some(t) = group.ticket_id {
            // Locked, so that a concurrent close (which revokes the group's links) comes
            // either before this check or after this link exists.
            let status = ticket::Entity::find_by_id(t.as_uuid())
                .lock_exclusive()
                .one(&*tx)
                .await?
                .ok_or_else(|| StoreError::not_found("ticket", t))?
                .status;
            let status: TicketStatus = status.parse().map_err(|e| StoreError::corrupt("tickets", e))?;
            if status == TicketStatus::Closed {
                return Err(DomainError::TicketClosed { status }.into());
            }
        }
        let model = invite::ActiveModel {
            id: Set(Uuid::now_v7()),
            chat_row_id: Set(group.row_id),
            org_id: Set(group.org_id.as_uuid()),
            token_hash: Set(new.token_hash),
            max_uses: Set(new.max_uses.map(|n| i32::try_from(n).unwrap_or(i32::MAX))),
            uses: Set(0),
            created_at: Set(now),
            expires_at: Set(invite_expires_at(now)),
            created_by: Set(new.created_by.person_id.map(|p| p.as_uuid())),
            created_by_name: Set(new.created_by.name),
            revoked_at: Set(None),
            revoked_reason: Set(None),
        };
        let model = invite::Entity::insert(model).exec_with_returning(&*tx).await?;
        tx.commit().await?;
        Ok((to_domain(model)?, group))
    }

    /// The group (`lark_chats` row) `id`.
    pub async fn invite_group(&self, id: Uuid) -> Result<KnownChat, StoreError> {
        find_group(self.conn(), id).await
    }

    /// A group's live links (usable at `now`), oldest first.
    pub async fn live_invites(
        &self,
        group: Uuid,
        page: &PageRequest,
        now: DateTime<Utc>,
    ) -> Result<Page<Invite>, StoreError> {
        find_group(self.conn(), group).await?;
        let query = invite::Entity::find().filter(invite::Column::ChatRowId.eq(group)).filter(usable_at(now));
        let rows = oldest_first(query, invite::Column::Id, page).all(self.conn()).await?;
        Page::by_id(rows, page, &Self::invites_scope(group), |m| m.id, to_domain)
    }

    /// Revokes a link; revoking twice keeps the first time and reason.
    pub async fn revoke_invite(&self, id: InviteId, now: DateTime<Utc>) -> Result<Invite, StoreError> {
        let tx = self.write().await?;
        invite::Entity::update_many()
            .col_expr(invite::Column::RevokedAt, Expr::value(now))
            .col_expr(invite::Column::RevokedReason, Expr::value(REVOKED_BY_STAFF))
            .filter(invite::Column::Id.eq(id.as_uuid()))
            .filter(invite::Column::RevokedAt.is_null())
            .exec(&*tx)
            .await?;
        let model = invite::Entity::find_by_id(id.as_uuid())
            .one(&*tx)
            .await?
            .ok_or_else(|| StoreError::not_found("invite", id))?;
        tx.commit().await?;
        to_domain(model)
    }

    /// The link whose token hashes to `token_hash`, with what it is for.
    pub async fn invite_by_token_hash(&self, token_hash: &str) -> Result<Option<InviteTarget>, StoreError> {
        let db = self.conn();
        let Some(model) = invite::Entity::find().filter(invite::Column::TokenHash.eq(token_hash)).one(db).await? else {
            return Ok(None);
        };
        let invite = to_domain(model)?;
        let group = find_group(db, invite.group_id).await?;
        let org_name = org::Entity::find_by_id(invite.org_id.as_uuid())
            .one(db)
            .await?
            .map(|o| o.name)
            .ok_or_else(|| StoreError::corrupt("invites", format!("invite {} names no organisation", invite.id)))?;
        let ticket = match group.ticket_id {
            Some(t) => ticket::Entity::find_by_id(t.as_uuid()).one(db).await?.map(|m| (m.number, m.title)),
            None => None,
        };
        Ok(Some(InviteTarget { invite, group, org_name, ticket }))
    }

    /// Takes one use of a link, if it can be used at `now`, in one conditional UPDATE.
    /// Returns `Live` when the use was taken, otherwise why not.
    pub async fn take_invite_use(&self, id: InviteId, now: DateTime<Utc>) -> Result<InviteState, StoreError> {
        let tx = self.write().await?;
        let taken = invite::Entity::update_many()
            .col_expr(invite::Column::Uses, Expr::col(invite::Column::Uses).add(1))
            .filter(invite::Column::Id.eq(id.as_uuid()))
            .filter(usable_at(now))
            .exec(&*tx)
            .await?
            .rows_affected;
        let state = if taken == 1 {
            InviteState::Live
        } else {
            let model = invite::Entity::find_by_id(id.as_uuid())
                .one(&*tx)
                .await?
                .ok_or_else(|| StoreError::not_found("invite", id))?;
            match to_domain(model)?.state(now) {
                // Refused by the database yet live by the policy: they disagree about
                // `now` only if a use was taken between the two statements, which on
                // PostgreSQL can happen; the database's answer stands.
                InviteState::Live => InviteState::UsedUp,
                refused => refused,
            }
        };
        tx.commit().await?;
        Ok(state)
    }

    /// Gives a use back (Lark refused the add it was taken for).
    pub async fn give_back_invite_use(&self, id: InviteId) -> Result<(), StoreError> {
        let tx = self.write().await?;
        invite::Entity::update_many()
            .col_expr(invite::Column::Uses, Expr::col(invite::Column::Uses).sub(1))
            .filter(invite::Column::Id.eq(id.as_uuid()))
            .filter(invite::Column::Uses.gt(0))
            .exec(&*tx)
            .await?;
        tx.commit().await
    }

    /// Whether `open_id` is a member of `group`, as far as the desk knows.
    pub async fn has_chat_member(&self, group: Uuid, open_id: &str) -> Result<bool, StoreError> {
        Ok(lark_chat_member::Entity::find_by_id((group, open_id.to_owned())).one(self.conn()).await?.is_some())
    }

    /// Records that someone joined a group through a link, in one transaction: the
    /// member, the redemption, and for a ticket group the ticket's timeline entry (the
    /// actor is who joined: their desk person when their open_id is bound to one).
    pub async fn record_invite_join(&self, join: &InviteJoin, now: DateTime<Utc>) -> Result<(), StoreError> {
        let tx = self.write().await?;
        let group = find_group(&*tx, join.group).await?;
        let bound = person::Entity::find().filter(person::Column::LarkOpenId.eq(&join.open_id)).one(&*tx).await?;
        let person_id = bound.as_ref().map(|p| p.id);
        if !join.pending_approval {
            lark_chat_member::Entity::insert(lark_chat_member::ActiveModel {
                chat_row_id: Set(group.row_id),
                open_id: Set(join.open_id.clone()),
                person_id: Set(person_id),
                name: Set(join.name.clone()),
                tenant_key: Set(join.tenant_key.clone()),
                joined_at: Set(now),
            })
            .on_conflict(
                OnConflict::columns([lark_chat_member::Column::ChatRowId, lark_chat_member::Column::OpenId])
                    .update_columns([lark_chat_member::Column::Name, lark_chat_member::Column::PersonId])
                    .to_owned(),
            )
            .exec_without_returning(&*tx)
            .await?;
        }
        invite_redemption::Entity::insert(invite_redemption::ActiveModel {
            id: Set(Uuid::now_v7()),
            invite_id: Set(join.invite.as_uuid()),
            open_id: Set(join.open_id.clone()),
            name: Set(join.name.clone()),
            person_id: Set(person_id),
            redeemed_at: Set(now),
        })
        .exec_without_returning(&*tx)
        .await?;
        if let Some(ticket) = group.ticket_id {
            let kind = match &bound {
                Some(p) if p.kind == PersonKind::Staff.as_str() => ActorKind::Staff,
                _ => ActorKind::Customer,
            };
            let name = bound.as_ref().map_or_else(|| join.name.clone(), |p| p.name.clone());
            let actor = Actor { kind, person_id: person_id.map(PersonId::from_uuid), name };
            let event = desk_core::TimelineEvent::MemberInvited {
                name: join.name.clone(),
                via: "invite".to_owned(),
                invite_id: Some(join.invite),
            };
            timeline_rows(ticket.as_uuid(), &actor, &[event], now)?.insert(&*tx).await?;
        }
        tx.commit().await
    }
}
