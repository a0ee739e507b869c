//! What the Lark event handlers look up (people by open_id, tickets by number) and how
//! the bot answers someone who spoke to it.

use chrono::{DateTime, Utc};
use desk_core::notify::{DeliveryState, NotifyClass, Recipient};
use desk_core::{Person, TicketId};
use sea_orm::ActiveValue::Set;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use uuid::Uuid;

use crate::entity::{delivery, external_ref, person, ticket};
use crate::notify::recipient_columns;
use crate::{Store, StoreError};

impl Store {
    /// The person bound to a Lark open_id, if anyone is.
    pub async fn person_by_open_id(&self, open_id: &str) -> Result<Option<Person>, StoreError> {
        person::Entity::find()
            .filter(person::Column::LarkOpenId.eq(open_id))
            .one(self.conn())
            .await?
            .map(crate::people::to_domain)
            .transpose()
    }

    /// The ticket with human number `number` (`#42`), if there is one.
    pub async fn ticket_id_by_number(&self, number: i64) -> Result<Option<TicketId>, StoreError> {
        Ok(ticket::Entity::find()
            .filter(ticket::Column::Number.eq(number))
            .one(self.conn())
            .await?
            .map(|m| TicketId::from_uuid(m.id)))
    }

    /// The ticket linked to `(system, external_id)`, if any: how a ticket opened from a
    /// Lark event is found again when the event is handled a second time.
    pub async fn ticket_id_by_external_ref(
        &self,
        system: &str,
        external_id: &str,
    ) -> Result<Option<TicketId>, StoreError> {
        Ok(external_ref::Entity::find()
            .filter(external_ref::Column::System.eq(system))
            .filter(external_ref::Column::ExternalId.eq(external_id))
            .one(self.conn())
            .await?
            .map(|m| TicketId::from_uuid(m.ticket_id)))
    }

    /// Queues the bot's answer to someone who spoke to it: a delivery of its own, sent by
    /// the dispatcher like any card and counted against the budget, but outside the
    /// notification window — an answer to a question cannot wait ten minutes.
    pub async fn enqueue_reply(
        &self,
        integration: &str,
        to: Recipient,
        card: &serde_json::Value,
        now: DateTime<Utc>,
    ) -> Result<Uuid, StoreError> {
        let id = Uuid::now_v7();
        let (person_id, chat_id) = recipient_columns(&to);
        let row = delivery::ActiveModel {
            id: Set(id),
            integration_id: Set(integration.to_owned()),
            recipient: Set(to.key()),
            person_id: Set(person_id),
            chat_id: Set(chat_id),
            class: Set(NotifyClass::Action.rank()),
            kind: Set("reply".to_owned()),
            card: Set(card.to_string()),
            items: Set(0),
            state: Set(DeliveryState::Ready.as_str().to_owned()),
            attempts: Set(0),
            next_attempt_at: Set(now),
            lease_until: Set(None),
            last_error: Set(None),
            message_id: Set(None),
            created_at: Set(now),
            sent_at: Set(None),
            updated_at: Set(now),
        };
        let tx = self.write().await?;
        delivery::Entity::insert(row).exec_without_returning(&*tx).await?;
        tx.commit().await?;
        Ok(id)
    }
}
