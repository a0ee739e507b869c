//! Registered ticketing systems and their secrets (sealed with `DESK_SECRET_KEY`; one, or
//! two while a secret is being rotated).

use chrono::{DateTime, Utc};
use desk_core::hooks::{HookSource, HookSourcePatch, NewHookSource, SECRETS_MAX, SecretInfo};
use desk_core::{DomainError, OrgId};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter,
    QueryOrder,
};
use secrecy::SecretString;
use uuid::Uuid;

use super::entity::{hook_source, hook_source_secret};
use crate::secrets::{SealError, SecretBox};
use crate::{Store, StoreError};

fn to_domain(m: hook_source::Model, secrets: Vec<hook_source_secret::Model>) -> Result<HookSource, StoreError> {
    Ok(HookSource {
        style: m.style.parse().map_err(|e: DomainError| StoreError::corrupt("hook_sources", e))?,
        name: m.name,
        display_name: m.display_name,
        default_org_id: m.default_org_id.map(OrgId::from_uuid),
        enabled: m.enabled,
        secrets: secrets.into_iter().map(|s| SecretInfo { id: s.id, hint: s.hint, created_at: s.created_at }).collect(),
        created_at: m.created_at,
        updated_at: m.updated_at,
    })
}

async fn secrets_of<C: ConnectionTrait>(db: &C, name: &str) -> Result<Vec<hook_source_secret::Model>, StoreError> {
    Ok(hook_source_secret::Entity::find()
        .filter(hook_source_secret::Column::Source.eq(name))
        .order_by_asc(hook_source_secret::Column::CreatedAt)
        .order_by_asc(hook_source_secret::Column::Id)
        .all(db)
        .await?)
}

async fn require<C: ConnectionTrait>(db: &C, name: &str) -> Result<hook_source::Model, StoreError> {
    hook_source::Entity::find_by_id(name.to_owned())
        .one(db)
        .await?
        .ok_or_else(|| StoreError::not_found("hook_source", name))
}

fn sealer(seal: Option<&SecretBox>) -> Result<&SecretBox, StoreError> {
    seal.ok_or(StoreError::Secret(SealError::NoKey))
}

/// A source's secrets, opened, for checking a delivery's signature.
#[derive(Debug)]
pub struct SourceKeys {
    /// The source.
    pub source: HookSource,
    /// Its secrets, oldest first.
    pub secrets: Vec<SecretString>,
}

impl Store {
    /// Registers a ticketing system with its first secret.
    pub async fn create_hook_source(
        &self,
        new: NewHookSource,
        secret: &str,
        hint: String,
        seal: Option<&SecretBox>,
        now: DateTime<Utc>,
    ) -> Result<HookSource, StoreError> {
        let seal = sealer(seal)?;
        if let Some(org) = new.default_org_id {
            self.check_org_ref_as(org, "default_org_id").await?;
        }
        let sealed = seal.seal(secret)?;
        let tx = self.write().await?;
        let source = hook_source::ActiveModel {
            name: Set(new.name.clone()),
            display_name: Set(new.display_name),
            style: Set(new.style.as_str().to_owned()),
            default_org_id: Set(new.default_org_id.map(|o| o.as_uuid())),
            enabled: Set(true),
            created_at: Set(now),
            updated_at: Set(now),
        };
        hook_source::Entity::insert(source).exec_without_returning(&*tx).await.map_err(|e| {
            StoreError::on_unique(e, "hook_source_exists", format!("a source named {} is already registered", new.name))
        })?;
        hook_source_secret::Entity::insert(hook_source_secret::ActiveModel {
            id: Set(Uuid::now_v7()),
            source: Set(new.name.clone()),
            sealed: Set(sealed),
            hint: Set(hint),
            created_at: Set(now),
        })
        .exec_without_returning(&*tx)
        .await?;
        let model = require(&*tx, &new.name).await?;
        let secrets = secrets_of(&*tx, &new.name).await?;
        tx.commit().await?;
        to_domain(model, secrets)
    }

    /// Reads one source.
    pub async fn hook_source(&self, name: &str) -> Result<HookSource, StoreError> {
        let model = require(self.conn(), name).await?;
        to_domain(model, secrets_of(self.conn(), name).await?)
    }

    /// Every source, by name.
    pub async fn list_hook_sources(&self) -> Result<Vec<HookSource>, StoreError> {
        let models = hook_source::Entity::find().order_by_asc(hook_source::Column::Name).all(self.conn()).await?;
        let mut secrets = hook_source_secret::Entity::find()
            .order_by_asc(hook_source_secret::Column::CreatedAt)
            .order_by_asc(hook_source_secret::Column::Id)
            .all(self.conn())
            .await?;
        models
            .into_iter()
            .map(|m| {
                let (mine, rest): (Vec<_>, Vec<_>) =
                    std::mem::take(&mut secrets).into_iter().partition(|s| s.source == m.name);
                secrets = rest;
                to_domain(m, mine)
            })
            .collect()
    }

    /// Changes a source.
    pub async fn update_hook_source(
        &self,
        name: &str,
        patch: HookSourcePatch,
        now: DateTime<Utc>,
    ) -> Result<HookSource, StoreError> {
        if let Some(Some(org)) = patch.default_org_id {
            self.check_org_ref_as(org, "default_org_id").await?;
        }
        let tx = self.write().await?;
        let mut model = require(&*tx, name).await?.into_active_model();
        if let Some(d) = patch.display_name {
            model.display_name = Set(d);
        }
        if let Some(s) = patch.style {
            model.style = Set(s.as_str().to_owned());
        }
        if let Some(o) = patch.default_org_id {
            model.default_org_id = Set(o.map(|o| o.as_uuid()));
        }
        if let Some(e) = patch.enabled {
            model.enabled = Set(e);
        }
        model.updated_at = Set(now);
        let model = model.update(&*tx).await?;
        let secrets = secrets_of(&*tx, name).await?;
        tx.commit().await?;
        to_domain(model, secrets)
    }

    /// Removes a source and its secrets. Its tickets keep their external references and
    /// the desk keeps their last applied versions, so registering it again carries on.
    pub async fn delete_hook_source(&self, name: &str) -> Result<(), StoreError> {
        let tx = self.write().await?;
        require(&*tx, name).await?;
        hook_source_secret::Entity::delete_many()
            .filter(hook_source_secret::Column::Source.eq(name))
            .exec(&*tx)
            .await?;
        hook_source::Entity::delete_by_id(name.to_owned()).exec(&*tx).await?;
        tx.commit().await
    }

    /// Adds a secret to a source (the next one, while rotating). A source holds two at
    /// most: remove the old one once the ticketing system signs with the new one.
    pub async fn add_hook_source_secret(
        &self,
        name: &str,
        secret: &str,
        hint: String,
        seal: Option<&SecretBox>,
        now: DateTime<Utc>,
    ) -> Result<(HookSource, SecretInfo), StoreError> {
        let sealed = sealer(seal)?.seal(secret)?;
        let tx = self.write().await?;
        let model = require(&*tx, name).await?;
        if secrets_of(&*tx, name).await?.len() >= SECRETS_MAX {
            return Err(StoreError::Conflict {
                code: "hook_source_secrets_full",
                detail: format!(
                    "source {name} already holds {SECRETS_MAX} secrets; remove the old one before adding another"
                ),
            });
        }
        let id = Uuid::now_v7();
        hook_source_secret::Entity::insert(hook_source_secret::ActiveModel {
            id: Set(id),
            source: Set(name.to_owned()),
            sealed: Set(sealed),
            hint: Set(hint.clone()),
            created_at: Set(now),
        })
        .exec_without_returning(&*tx)
        .await?;
        let secrets = secrets_of(&*tx, name).await?;
        tx.commit().await?;
        Ok((to_domain(model, secrets)?, SecretInfo { id, hint, created_at: now }))
    }

    /// Removes one of a source's secrets; the last one stays (a source without a secret
    /// could not check anything).
    pub async fn remove_hook_source_secret(&self, name: &str, id: Uuid) -> Result<HookSource, StoreError> {
        let tx = self.write().await?;
        let model = require(&*tx, name).await?;
        let secrets = secrets_of(&*tx, name).await?;
        if !secrets.iter().any(|s| s.id == id) {
            return Err(StoreError::not_found("hook_secret", id));
        }
        if secrets.len() == 1 {
            return Err(StoreError::Conflict {
                code: "hook_source_last_secret",
                detail: format!("this is source {name}'s only secret; add the new one first"),
            });
        }
        hook_source_secret::Entity::delete_by_id(id).exec(&*tx).await?;
        let secrets = secrets_of(&*tx, name).await?;
        tx.commit().await?;
        to_domain(model, secrets)
    }

    /// A source with its secrets opened, to check a delivery.
    pub async fn hook_source_keys(&self, name: &str, seal: Option<&SecretBox>) -> Result<SourceKeys, StoreError> {
        let model = require(self.conn(), name).await?;
        let rows = secrets_of(self.conn(), name).await?;
        let seal = sealer(seal)?;
        let secrets = rows.iter().map(|s| seal.open(&s.sealed)).collect::<Result<Vec<_>, _>>()?;
        Ok(SourceKeys { source: to_domain(model, rows)?, secrets })
    }

    /// Refuses a `field` that names no organisation (a 422 naming the field).
    pub(crate) async fn check_org_ref_as(&self, org: OrgId, field: &str) -> Result<(), StoreError> {
        if self.org_exists(org).await? {
            Ok(())
        } else {
            Err(DomainError::invalid(field, format!("no organisation {org}")).into())
        }
    }
}
