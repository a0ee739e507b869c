//! Webhook subscriptions: a URL, the events it wants, and its signing secret (sealed; the
//! previous one keeps signing for a while after a rotation, so a subscriber can switch
//! without losing a delivery).

use std::time::Duration;

use chrono::{DateTime, Utc};
use desk_core::OrgId;
use desk_core::webhooks::{EventFilter, NewSubscription, Subscription, SubscriptionPatch};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder};
use secrecy::SecretString;
use uuid::Uuid;

use super::entity::{webhook_delivery, webhook_subscription};
use crate::secrets::{SealError, SecretBox};
use crate::{Store, StoreError};

/// The secrets a delivery is signed with: the current one, and the previous one while a
/// rotation is in its grace period.
#[derive(Debug, Clone)]
pub struct SigningKeys {
    /// The current secret (`whsec_…`).
    pub current: SecretString,
    /// The previous secret, until its grace period ends.
    pub previous: Option<SecretString>,
}

pub(crate) fn to_domain(m: webhook_subscription::Model) -> Result<Subscription, StoreError> {
    let names: Vec<String> =
        serde_json::from_str(&m.event_types).map_err(|e| StoreError::corrupt("webhook_subscriptions", e))?;
    Ok(Subscription {
        id: m.id,
        url: m.url,
        description: m.description,
        events: EventFilter::from_names(&names).map_err(|e| StoreError::corrupt("webhook_subscriptions", e))?,
        org_id: m.org_id.map(OrgId::from_uuid),
        skip_source: m.skip_source,
        enabled: m.enabled,
        disabled_reason: m.disabled_reason,
        secret_hint: m.secret_hint,
        previous_secret_until: m.previous_secret_until,
        created_at: m.created_at,
        updated_at: m.updated_at,
    })
}

/// Opens a subscription's secrets as of `now`.
pub(crate) fn keys_of(
    m: &webhook_subscription::Model,
    seal: &SecretBox,
    now: DateTime<Utc>,
) -> Result<SigningKeys, StoreError> {
    let previous = match (&m.previous_secret_sealed, m.previous_secret_until) {
        (Some(sealed), Some(until)) if until > now => Some(seal.open(sealed)?),
        _ => None,
    };
    Ok(SigningKeys { current: seal.open(&m.secret_sealed)?, previous })
}

fn events_json(events: &EventFilter) -> Result<String, StoreError> {
    serde_json::to_string(&events.names()).map_err(|e| StoreError::corrupt("webhook_subscriptions", e))
}

async fn require<C: sea_orm::ConnectionTrait>(db: &C, id: Uuid) -> Result<webhook_subscription::Model, StoreError> {
    webhook_subscription::Entity::find_by_id(id).one(db).await?.ok_or_else(|| StoreError::not_found("subscription", id))
}

impl Store {
    /// Subscribes a URL; `secret` (`whsec_…`) signs its deliveries.
    pub async fn create_subscription(
        &self,
        new: NewSubscription,
        secret: &str,
        hint: String,
        seal: Option<&SecretBox>,
        now: DateTime<Utc>,
    ) -> Result<Subscription, StoreError> {
        let seal = seal.ok_or(StoreError::Secret(SealError::NoKey))?;
        if let Some(org) = new.org_id {
            self.check_org_ref_as(org, "org_id").await?;
        }
        let model = webhook_subscription::ActiveModel {
            id: Set(Uuid::now_v7()),
            url: Set(new.url),
            description: Set(new.description),
            event_types: Set(events_json(&new.events)?),
            org_id: Set(new.org_id.map(|o| o.as_uuid())),
            skip_source: Set(new.skip_source),
            secret_sealed: Set(seal.seal(secret)?),
            secret_hint: Set(hint),
            previous_secret_sealed: Set(None),
            previous_secret_until: Set(None),
            enabled: Set(true),
            disabled_reason: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
        };
        let tx = self.write().await?;
        let model = model.insert(&*tx).await?;
        tx.commit().await?;
        to_domain(model)
    }

    /// Reads one subscription.
    pub async fn subscription(&self, id: Uuid) -> Result<Subscription, StoreError> {
        to_domain(require(self.conn(), id).await?)
    }

    /// Every subscription, oldest first.
    pub async fn list_subscriptions(&self) -> Result<Vec<Subscription>, StoreError> {
        webhook_subscription::Entity::find()
            .order_by_asc(webhook_subscription::Column::Id)
            .all(self.conn())
            .await?
            .into_iter()
            .map(to_domain)
            .collect()
    }

    /// Changes a subscription. Enabling it again clears why the desk turned it off.
    pub async fn update_subscription(
        &self,
        id: Uuid,
        patch: SubscriptionPatch,
        now: DateTime<Utc>,
    ) -> Result<Subscription, StoreError> {
        if let Some(Some(org)) = patch.org_id {
            self.check_org_ref_as(org, "org_id").await?;
        }
        let tx = self.write().await?;
        let mut model = require(&*tx, id).await?.into_active_model();
        if let Some(url) = patch.url {
            model.url = Set(url);
        }
        if let Some(d) = patch.description {
            model.description = Set(d);
        }
        if let Some(events) = &patch.events {
            model.event_types = Set(events_json(events)?);
        }
        if let Some(org) = patch.org_id {
            model.org_id = Set(org.map(|o| o.as_uuid()));
        }
        if let Some(skip) = patch.skip_source {
            model.skip_source = Set(skip);
        }
        if let Some(enabled) = patch.enabled {
            model.enabled = Set(enabled);
            if enabled {
                model.disabled_reason = Set(None);
            }
        }
        model.updated_at = Set(now);
        let model = model.update(&*tx).await?;
        tx.commit().await?;
        to_domain(model)
    }

    /// Removes a subscription with its deliveries.
    pub async fn delete_subscription(&self, id: Uuid) -> Result<(), StoreError> {
        let tx = self.write().await?;
        require(&*tx, id).await?;
        webhook_delivery::Entity::delete_many()
            .filter(webhook_delivery::Column::SubscriptionId.eq(id))
            .exec(&*tx)
            .await?;
        webhook_subscription::Entity::delete_by_id(id).exec(&*tx).await?;
        tx.commit().await
    }

    /// Gives a subscription a new secret; the old one keeps signing (beside the new one)
    /// for `grace`.
    pub async fn rotate_subscription_secret(
        &self,
        id: Uuid,
        secret: &str,
        hint: String,
        grace: Duration,
        seal: Option<&SecretBox>,
        now: DateTime<Utc>,
    ) -> Result<Subscription, StoreError> {
        let seal = seal.ok_or(StoreError::Secret(SealError::NoKey))?;
        let sealed = seal.seal(secret)?;
        let tx = self.write().await?;
        let current = require(&*tx, id).await?;
        let old = current.secret_sealed.clone();
        let mut model = current.into_active_model();
        model.previous_secret_sealed = Set(Some(old));
        model.previous_secret_until =
            Set(Some(now + chrono::Duration::from_std(grace).unwrap_or(chrono::Duration::MAX)));
        model.secret_sealed = Set(sealed);
        model.secret_hint = Set(hint);
        model.updated_at = Set(now);
        let model = model.update(&*tx).await?;
        tx.commit().await?;
        to_domain(model)
    }

    /// The keys a subscription's deliveries are signed with at `now`.
    pub async fn subscription_keys(
        &self,
        id: Uuid,
        seal: Option<&SecretBox>,
        now: DateTime<Utc>,
    ) -> Result<SigningKeys, StoreError> {
        let seal = seal.ok_or(StoreError::Secret(SealError::NoKey))?;
        keys_of(&require(self.conn(), id).await?, seal, now)
    }
}
