//! Chats the desk serves, and who is in them. Lark's membership events keep the member
//! lists in step; a disbanded chat is marked gone, never deleted (its history matters).

use chrono::{DateTime, Utc};
use desk_core::{OrgId, PersonId, TicketId};
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};
use uuid::Uuid;

use crate::entity::{lark_chat, lark_chat_member, org, person};
use crate::{Store, StoreError};

/// What a chat is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChatKind {
    /// An organisation's main service group.
    Main,
    /// One ticket's group.
    Ticket,
}

impl ChatKind {
    /// Stable name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Main => "main",
            Self::Ticket => "ticket",
        }
    }

    /// From its stable name.
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Main, Self::Ticket].into_iter().find(|k| k.as_str() == s)
    }
}

/// Where a chat stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChatState {
    /// Asked for; Lark has not made it yet.
    Requested,
    /// In use.
    Active,
    /// Disbanded in Lark.
    Gone,
    /// Lark refused to make it in a way that retrying cannot fix (the row says why).
    Failed,
}

impl ChatState {
    /// Stable name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Requested => "requested",
            Self::Active => "active",
            Self::Gone => "gone",
            Self::Failed => "failed",
        }
    }

    /// From its stable name.
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Requested, Self::Active, Self::Gone, Self::Failed].into_iter().find(|k| k.as_str() == s)
    }
}

/// A chat the desk knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownChat {
    /// Its row.
    pub row_id: Uuid,
    /// Lark's `oc_…`, once it exists.
    pub chat_id: Option<String>,
    /// The integration (Lark app) it lives in.
    pub integration_id: Option<String>,
    /// The organisation it serves.
    pub org_id: OrgId,
    /// The ticket, for a ticket group.
    pub ticket_id: Option<TicketId>,
    /// Main or ticket group.
    pub kind: ChatKind,
    /// Requested, active or gone.
    pub state: ChatState,
    /// Its name.
    pub name: String,
}

/// One member as Lark names them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatMember {
    /// Their open_id in the chat's app.
    pub open_id: String,
    /// The desk person bound to that open_id, if any.
    pub person_id: Option<PersonId>,
    /// Display name.
    pub name: String,
    /// Their Lark tenant (another tenant = an external member).
    pub tenant_key: Option<String>,
}

/// Joined or left.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberChange {
    /// Joined (`im.chat.member.user.added_v1`).
    Added,
    /// Left or was removed (`…deleted_v1`).
    Removed,
}

fn to_domain(m: lark_chat::Model) -> Result<KnownChat, StoreError> {
    Ok(KnownChat {
        row_id: m.id,
        kind: ChatKind::parse(&m.kind).ok_or_else(|| StoreError::corrupt("lark_chats", format!("kind {}", m.kind)))?,
        state: ChatState::parse(&m.state)
            .ok_or_else(|| StoreError::corrupt("lark_chats", format!("state {}", m.state)))?,
        chat_id: m.chat_id,
        integration_id: m.integration_id,
        org_id: OrgId::from_uuid(m.org_id),
        ticket_id: m.ticket_id.map(TicketId::from_uuid),
        name: m.name,
    })
}

impl Store {
    /// The chat with Lark id `chat_id`, if the desk serves it. An organisation's main
    /// group set by `main_chat_id` gets its row the first time Lark mentions it.
    pub async fn chat_by_lark_id(
        &self,
        integration: &str,
        chat_id: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<KnownChat>, StoreError> {
        if let Some(m) =
            lark_chat::Entity::find().filter(lark_chat::Column::ChatId.eq(chat_id)).one(self.conn()).await?
        {
            return to_domain(m).map(Some);
        }
        let Some(o) = org::Entity::find()
            .filter(org::Column::MainChatId.eq(chat_id))
            .order_by_asc(org::Column::Id)
            .one(self.conn())
            .await?
        else {
            return Ok(None);
        };
        let row = lark_chat::ActiveModel {
            id: Set(Uuid::now_v7()),
            integration_id: Set(Some(integration.to_owned())),
            chat_id: Set(Some(chat_id.to_owned())),
            org_id: Set(o.id),
            ticket_id: Set(None),
            kind: Set(ChatKind::Main.as_str().to_owned()),
            state: Set(ChatState::Active.as_str().to_owned()),
            name: Set(o.name),
            created_at: Set(now),
            updated_at: Set(now),
            gone_at: Set(None),
            ..crate::lark::groups::fresh_row()
        };
        let tx = self.write().await?;
        // Two events for a new main group may race; the unique chat id keeps one row.
        lark_chat::Entity::insert(row)
            .on_conflict(OnConflict::column(lark_chat::Column::ChatId).do_nothing().to_owned())
            .exec_without_returning(&*tx)
            .await?;
        let m = lark_chat::Entity::find().filter(lark_chat::Column::ChatId.eq(chat_id)).one(&*tx).await?;
        tx.commit().await?;
        m.map(to_domain).transpose()
    }

    /// The group of a ticket, if it has one (or one is requested).
    pub async fn ticket_chat(&self, ticket: TicketId) -> Result<Option<KnownChat>, StoreError> {
        lark_chat::Entity::find()
            .filter(lark_chat::Column::TicketId.eq(ticket.as_uuid()))
            .one(self.conn())
            .await?
            .map(to_domain)
            .transpose()
    }

    /// Asks for a ticket's group: a `requested` row that the group manager turns into a
    /// Lark chat. Asking twice keeps one row (one group per ticket, whatever retries).
    pub async fn request_ticket_group(
        &self,
        ticket: TicketId,
        org: OrgId,
        integration: Option<&str>,
        name: &str,
        now: DateTime<Utc>,
    ) -> Result<KnownChat, StoreError> {
        let row = lark_chat::ActiveModel {
            id: Set(Uuid::now_v7()),
            integration_id: Set(integration.map(str::to_owned)),
            chat_id: Set(None),
            org_id: Set(org.as_uuid()),
            ticket_id: Set(Some(ticket.as_uuid())),
            kind: Set(ChatKind::Ticket.as_str().to_owned()),
            state: Set(ChatState::Requested.as_str().to_owned()),
            name: Set(name.to_owned()),
            created_at: Set(now),
            updated_at: Set(now),
            gone_at: Set(None),
            ..crate::lark::groups::fresh_row()
        };
        let tx = self.write().await?;
        lark_chat::Entity::insert(row)
            .on_conflict(OnConflict::column(lark_chat::Column::TicketId).do_nothing().to_owned())
            .exec_without_returning(&*tx)
            .await?;
        let m = lark_chat::Entity::find()
            .filter(lark_chat::Column::TicketId.eq(ticket.as_uuid()))
            .one(&*tx)
            .await?
            .ok_or_else(|| StoreError::not_found("ticket group", ticket))?;
        tx.commit().await?;
        to_domain(m)
    }

    /// A requested group now exists in Lark as `chat_id`.
    pub async fn activate_chat(&self, row: Uuid, chat_id: &str, now: DateTime<Utc>) -> Result<(), StoreError> {
        let tx = self.write().await?;
        let changed = lark_chat::Entity::update_many()
            .col_expr(lark_chat::Column::ChatId, Expr::value(chat_id))
            .col_expr(lark_chat::Column::State, Expr::value(ChatState::Active.as_str()))
            .col_expr(lark_chat::Column::UpdatedAt, Expr::value(now))
            .filter(lark_chat::Column::Id.eq(row))
            .filter(lark_chat::Column::State.eq(ChatState::Requested.as_str()))
            .exec(&*tx)
            .await
            .map_err(|e| {
                StoreError::on_unique(e, "chat_taken", format!("chat {chat_id} already serves another group"))
            })?
            .rows_affected;
        if changed == 0 {
            return Err(StoreError::Conflict {
                code: "not_requested",
                detail: format!("group {row} is not waiting for a chat"),
            });
        }
        tx.commit().await
    }

    /// Records who joined or left a chat. Members are matched to desk people by open_id.
    pub async fn apply_member_change(
        &self,
        chat: Uuid,
        change: MemberChange,
        members: &[ChatMember],
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let tx = self.write().await?;
        match change {
            MemberChange::Added => {
                let bound = bound_people(&*tx, members.iter().map(|m| m.open_id.clone())).await?;
                for m in members {
                    let row = lark_chat_member::ActiveModel {
                        chat_row_id: Set(chat),
                        open_id: Set(m.open_id.clone()),
                        person_id: Set(m.person_id.map(|p| p.as_uuid()).or_else(|| bound.get(&m.open_id).copied())),
                        name: Set(m.name.clone()),
                        tenant_key: Set(m.tenant_key.clone()),
                        joined_at: Set(now),
                    };
                    lark_chat_member::Entity::insert(row)
                        .on_conflict(
                            OnConflict::columns([
                                lark_chat_member::Column::ChatRowId,
                                lark_chat_member::Column::OpenId,
                            ])
                            .update_columns([lark_chat_member::Column::Name, lark_chat_member::Column::PersonId])
                            .to_owned(),
                        )
                        .exec_without_returning(&*tx)
                        .await?;
                }
            }
            MemberChange::Removed => {
                lark_chat_member::Entity::delete_many()
                    .filter(lark_chat_member::Column::ChatRowId.eq(chat))
                    .filter(lark_chat_member::Column::OpenId.is_in(members.iter().map(|m| m.open_id.clone())))
                    .exec(&*tx)
                    .await?;
            }
        }
        tx.commit().await
    }

    /// Everyone in a chat, by name.
    pub async fn chat_members(&self, chat: Uuid) -> Result<Vec<ChatMember>, StoreError> {
        Ok(lark_chat_member::Entity::find()
            .filter(lark_chat_member::Column::ChatRowId.eq(chat))
            .order_by_asc(lark_chat_member::Column::Name)
            .order_by_asc(lark_chat_member::Column::OpenId)
            .all(self.conn())
            .await?
            .into_iter()
            .map(crate::members::member_of)
            .collect())
    }

    /// Marks a chat disbanded. Returns whether it was live until now (a second
    /// disband event changes nothing).
    pub async fn mark_chat_gone(&self, chat: Uuid, now: DateTime<Utc>) -> Result<bool, StoreError> {
        let tx = self.write().await?;
        let changed = lark_chat::Entity::update_many()
            .col_expr(lark_chat::Column::State, Expr::value(ChatState::Gone.as_str()))
            .col_expr(lark_chat::Column::GoneAt, Expr::value(now))
            .col_expr(lark_chat::Column::UpdatedAt, Expr::value(now))
            .filter(lark_chat::Column::Id.eq(chat))
            .filter(lark_chat::Column::State.ne(ChatState::Gone.as_str()))
            .exec(&*tx)
            .await?
            .rows_affected;
        tx.commit().await?;
        Ok(changed == 1)
    }
}

/// Desk people bound to these open_ids.
async fn bound_people<C: ConnectionTrait>(
    db: &C,
    open_ids: impl Iterator<Item = String>,
) -> Result<std::collections::HashMap<String, Uuid>, StoreError> {
    Ok(person::Entity::find()
        .filter(person::Column::LarkOpenId.is_in(open_ids))
        .all(db)
        .await?
        .into_iter()
        .filter_map(|p| p.lark_open_id.map(|o| (o, p.id)))
        .collect())
}
