//! API tokens. The secret is shown once at creation; only its SHA-256 is stored, so a
//! copy of the database does not hand out access.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use desk_core::{Actor, ActorKind, DomainError, PersonId, Role, TokenId};
use rand::RngCore as _;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::entity::api_token;
use crate::pagination::{Page, PageRequest, oldest_first};
use crate::{Store, StoreError, people};

/// Every token starts with this, so a leaked one is recognisable in logs and scanners.
const TOKEN_PREFIX: &str = "ldk_";

/// A request for a new token.
#[derive(Debug, Clone)]
pub struct NewToken {
    /// What it is for.
    pub name: String,
    /// Its role; when bound to a person, defaults to theirs and may not exceed it.
    pub role: Option<Role>,
    /// The staff member it acts as (their name goes on the timeline).
    pub person_id: Option<PersonId>,
}

/// A token's metadata (never its secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenInfo {
    /// Id.
    pub id: TokenId,
    /// Name.
    pub name: String,
    /// Role.
    pub role: Role,
    /// Bound person.
    pub person_id: Option<PersonId>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Revoked, if it was.
    pub revoked_at: Option<DateTime<Utc>>,
}

/// A freshly created token: the only time the secret exists outside the client.
#[derive(Debug)]
pub struct TokenIssued {
    /// Metadata.
    pub info: TokenInfo,
    /// The bearer secret.
    pub secret: String,
}

/// Who a valid bearer token speaks for.
#[derive(Debug, Clone)]
pub struct TokenOwner {
    /// The token.
    pub token_id: TokenId,
    /// Its role.
    pub role: Role,
    /// The actor recorded on timelines.
    pub actor: Actor,
}

fn rank(role: Role) -> u8 {
    match role {
        Role::Engineer => 0,
        Role::Tam => 1,
        Role::Admin => 2,
    }
}

/// SHA-256 of the secret, hex. Tokens carry 256 random bits, so a plain hash (no salt,
/// no slow KDF) is enough: there is nothing to brute-force.
fn hash(secret: &str) -> String {
    let digest = Sha256::digest(secret.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

fn to_info(m: api_token::Model) -> Result<TokenInfo, StoreError> {
    Ok(TokenInfo {
        id: TokenId::from_uuid(m.id),
        name: m.name,
        role: m.role.parse().map_err(|e: DomainError| StoreError::corrupt("api_tokens", e))?,
        person_id: m.person_id.map(PersonId::from_uuid),
        created_at: m.created_at,
        revoked_at: m.revoked_at,
    })
}

impl Store {
    /// Creates a token and returns its secret, once.
    pub async fn create_token(&self, new: NewToken, now: DateTime<Utc>) -> Result<TokenIssued, StoreError> {
        let tx = self.write().await?;
        let role = match new.person_id {
            Some(pid) => {
                let person = people::find(&*tx, pid)
                    .await?
                    .ok_or_else(|| DomainError::invalid("person_id", format!("no person {pid}")))?;
                let Some(person_role) = person.role.filter(|_| person.is_staff() && person.active) else {
                    return Err(DomainError::invalid("person_id", "must be an active staff member").into());
                };
                match new.role {
                    Some(r) if rank(r) > rank(person_role) => {
                        return Err(DomainError::invalid(
                            "role",
                            format!("may not exceed the person's own role ({person_role})"),
                        )
                        .into());
                    }
                    Some(r) => r,
                    None => person_role,
                }
            }
            None => new.role.ok_or_else(|| DomainError::invalid("role", "is required when no person_id is given"))?,
        };
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        let secret = format!("{TOKEN_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes));
        let model = api_token::ActiveModel {
            id: Set(Uuid::now_v7()),
            name: Set(new.name),
            role: Set(role.as_str().to_owned()),
            person_id: Set(new.person_id.map(|p| p.as_uuid())),
            token_hash: Set(hash(&secret)),
            created_at: Set(now),
            revoked_at: Set(None),
        }
        .insert(&*tx)
        .await?;
        tx.commit().await?;
        Ok(TokenIssued { info: to_info(model)?, secret })
    }

    /// Resolves a bearer secret to its owner: `None` for unknown, revoked, or bound to a
    /// person who is no longer active staff.
    pub async fn authenticate(&self, secret: &str) -> Result<Option<TokenOwner>, StoreError> {
        if !secret.starts_with(TOKEN_PREFIX) {
            return Ok(None);
        }
        let Some(token) = api_token::Entity::find()
            .filter(api_token::Column::TokenHash.eq(hash(secret)))
            .filter(api_token::Column::RevokedAt.is_null())
            .one(self.conn())
            .await?
        else {
            return Ok(None);
        };
        let info = to_info(token)?;
        let actor = match info.person_id {
            Some(pid) => match people::find(self.conn(), pid).await? {
                Some(p) if p.active && p.is_staff() => {
                    Actor { kind: ActorKind::Staff, person_id: Some(pid), name: p.name }
                }
                _ => return Ok(None),
            },
            None => Actor { kind: ActorKind::Token, person_id: None, name: format!("token:{}", info.name) },
        };
        Ok(Some(TokenOwner { token_id: info.id, role: info.role, actor }))
    }

    /// Lists tokens, oldest first.
    pub async fn list_tokens(&self, page: &PageRequest) -> Result<Page<TokenInfo>, StoreError> {
        let rows = oldest_first(api_token::Entity::find(), api_token::Column::Id, page).all(self.conn()).await?;
        Page::by_id(rows, page, "tokens", |m| m.id, to_info)
    }

    /// Revokes a token; revoking twice keeps the first time.
    pub async fn revoke_token(&self, id: TokenId, now: DateTime<Utc>) -> Result<TokenInfo, StoreError> {
        let tx = self.write().await?;
        let model = api_token::Entity::find_by_id(id.as_uuid())
            .one(&*tx)
            .await?
            .ok_or_else(|| StoreError::not_found("token", id))?;
        let model = if model.revoked_at.is_some() {
            model
        } else {
            let mut active = model.into_active_model();
            active.revoked_at = Set(Some(now));
            active.update(&*tx).await?
        };
        tx.commit().await?;
        to_info(model)
    }
}
