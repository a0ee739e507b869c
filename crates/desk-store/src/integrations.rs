//! Integrations (one Lark app per customer organisation) and their sealed secrets.

use chrono::{DateTime, Utc};
use desk_core::{Integration, IntegrationPatch, LarkMode, NewIntegration, OrgId};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, DbErr, EntityTrait, IntoActiveModel, Order, QueryOrder};
use secrecy::SecretString;

use crate::entity::integration;
use crate::secrets::{SealError, SecretBox};
use crate::{Store, StoreError};

/// An integration's secrets, opened for use by the Lark client. Never logged.
#[derive(Debug)]
pub struct IntegrationSecrets {
    /// App secret.
    pub app_secret: SecretString,
    /// Verification token, if set.
    pub verification_token: Option<SecretString>,
    /// Encrypt key, if set.
    pub encrypt_key: Option<SecretString>,
}

fn to_domain(m: integration::Model) -> Result<Integration, StoreError> {
    Ok(Integration {
        mode: m.mode.parse::<LarkMode>().map_err(|e| StoreError::corrupt("integrations", e))?,
        monthly_budget: u32::try_from(m.monthly_budget).unwrap_or(u32::MAX),
        has_verification_token: m.verification_token_sealed.is_some(),
        has_encrypt_key: m.encrypt_key_sealed.is_some(),
        id: m.id,
        org_id: m.org_id.map(OrgId::from_uuid),
        name: m.name,
        base_url: m.base_url,
        app_id: m.app_id,
        created_at: m.created_at,
        updated_at: m.updated_at,
    })
}

fn sealer(seal: Option<&SecretBox>) -> Result<&SecretBox, StoreError> {
    seal.ok_or(StoreError::Secret(SealError::NoKey))
}

fn seal_opt(seal: &SecretBox, value: Option<&str>) -> Result<Option<String>, StoreError> {
    value.map(|v| seal.seal(v)).transpose().map_err(StoreError::Secret)
}

fn conflict(e: DbErr) -> StoreError {
    StoreError::on_unique(e, "app_id_taken", "another integration already uses this App ID")
}

impl Store {
    /// Registers an integration; its secrets are sealed with `seal` (DESK_SECRET_KEY).
    pub async fn create_integration(
        &self,
        new: NewIntegration,
        seal: Option<&SecretBox>,
        now: DateTime<Utc>,
    ) -> Result<Integration, StoreError> {
        let seal = sealer(seal)?;
        if let Some(org) = new.org_id {
            self.check_org_ref(org).await?;
        }
        let tx = self.write().await?;
        if integration::Entity::find_by_id(new.id.clone()).one(&*tx).await?.is_some() {
            return Err(StoreError::Conflict {
                code: "integration_exists",
                detail: format!("an integration named {} already exists", new.id),
            });
        }
        let model = integration::ActiveModel {
            id: Set(new.id),
            org_id: Set(new.org_id.map(|o| o.as_uuid())),
            name: Set(new.name),
            base_url: Set(new.base_url),
            app_id: Set(new.app_id),
            app_secret_sealed: Set(seal.seal(&new.app_secret).map_err(StoreError::Secret)?),
            verification_token_sealed: Set(seal_opt(seal, new.verification_token.as_deref())?),
            encrypt_key_sealed: Set(seal_opt(seal, new.encrypt_key.as_deref())?),
            mode: Set(new.mode.as_str().to_owned()),
            monthly_budget: Set(i64::from(new.monthly_budget)),
            created_at: Set(now),
            updated_at: Set(now),
        }
        .insert(&*tx)
        .await
        .map_err(conflict)?;
        tx.commit().await?;
        to_domain(model)
    }

    /// Creates the integration, or brings an existing one with the same id in line with
    /// `new` (the `DESK_LARK_*` default integration at every start).
    pub async fn upsert_integration(
        &self,
        new: NewIntegration,
        seal: Option<&SecretBox>,
        now: DateTime<Utc>,
    ) -> Result<Integration, StoreError> {
        let exists = integration::Entity::find_by_id(new.id.clone()).one(self.conn()).await?.is_some();
        if !exists {
            return self.create_integration(new, seal, now).await;
        }
        let patch = IntegrationPatch {
            org_id: None,
            name: None,
            base_url: Some(new.base_url),
            app_id: Some(new.app_id),
            app_secret: Some(new.app_secret),
            verification_token: new.verification_token,
            encrypt_key: new.encrypt_key,
            mode: Some(new.mode),
            monthly_budget: Some(new.monthly_budget),
        };
        self.update_integration(&new.id, patch, seal, now).await
    }

    /// Reads one integration.
    pub async fn integration(&self, id: &str) -> Result<Integration, StoreError> {
        let model = integration::Entity::find_by_id(id.to_owned())
            .one(self.conn())
            .await?
            .ok_or_else(|| StoreError::not_found("integration", id))?;
        to_domain(model)
    }

    /// Every integration, by id.
    pub async fn list_integrations(&self) -> Result<Vec<Integration>, StoreError> {
        integration::Entity::find()
            .order_by(integration::Column::Id, Order::Asc)
            .all(self.conn())
            .await?
            .into_iter()
            .map(to_domain)
            .collect()
    }

    /// Changes an integration; given secrets replace the stored ones.
    pub async fn update_integration(
        &self,
        id: &str,
        patch: IntegrationPatch,
        seal: Option<&SecretBox>,
        now: DateTime<Utc>,
    ) -> Result<Integration, StoreError> {
        let rotating = patch.app_secret.is_some() || patch.verification_token.is_some() || patch.encrypt_key.is_some();
        let seal = if rotating { Some(sealer(seal)?) } else { None };
        if let Some(org) = patch.org_id {
            self.check_org_ref(org).await?;
        }
        let tx = self.write().await?;
        let mut model = integration::Entity::find_by_id(id.to_owned())
            .one(&*tx)
            .await?
            .ok_or_else(|| StoreError::not_found("integration", id))?
            .into_active_model();
        if let Some(org) = patch.org_id {
            model.org_id = Set(Some(org.as_uuid()));
        }
        if let Some(name) = patch.name {
            model.name = Set(name);
        }
        if let Some(url) = patch.base_url {
            model.base_url = Set(url);
        }
        if let Some(app_id) = patch.app_id {
            model.app_id = Set(app_id);
        }
        if let Some(seal) = seal {
            if let Some(s) = patch.app_secret.as_deref() {
                model.app_secret_sealed = Set(seal.seal(s).map_err(StoreError::Secret)?);
            }
            if let Some(v) = patch.verification_token.as_deref() {
                model.verification_token_sealed = Set(Some(seal.seal(v).map_err(StoreError::Secret)?));
            }
            if let Some(k) = patch.encrypt_key.as_deref() {
                model.encrypt_key_sealed = Set(Some(seal.seal(k).map_err(StoreError::Secret)?));
            }
        }
        if let Some(mode) = patch.mode {
            model.mode = Set(mode.as_str().to_owned());
        }
        if let Some(budget) = patch.monthly_budget {
            model.monthly_budget = Set(i64::from(budget));
        }
        model.updated_at = Set(now);
        let model = model.update(&*tx).await.map_err(conflict)?;
        tx.commit().await?;
        to_domain(model)
    }

    /// Opens an integration's secrets for the Lark client.
    pub async fn integration_secrets(
        &self,
        id: &str,
        seal: Option<&SecretBox>,
    ) -> Result<IntegrationSecrets, StoreError> {
        let seal = sealer(seal)?;
        let m = integration::Entity::find_by_id(id.to_owned())
            .one(self.conn())
            .await?
            .ok_or_else(|| StoreError::not_found("integration", id))?;
        let open = |v: &str| seal.open(v).map_err(StoreError::Secret);
        Ok(IntegrationSecrets {
            app_secret: open(&m.app_secret_sealed)?,
            verification_token: m.verification_token_sealed.as_deref().map(open).transpose()?,
            encrypt_key: m.encrypt_key_sealed.as_deref().map(open).transpose()?,
        })
    }
}
