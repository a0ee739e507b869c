//! The monthly Lark budget of each integration and the ledger of calls.
//!
//! A billed call is *reserved* before it is made, by one conditional update that only
//! succeeds below the limit; the call is *released* when Lark refuses it (refused calls
//! are not billed). So however many senders race, the count never passes the budget:
//! call 101 of a budget of 100 is never made. Calls whose fate is unknown (a timeout)
//! stay counted: erring high keeps the month inside the quota.

use chrono::{DateTime, Utc};
use desk_core::PersonId;
use desk_core::notify::{self, Happening, NotificationBody, NotifyClass, PacingLevel, Recipient};
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict, Query};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QuerySelect};
use uuid::Uuid;

use super::{NewNotification, NotificationState, Routes, insert_notifications};
use crate::entity::{delivery, lark_budget, lark_call, notification, org};
use crate::{Store, StoreError};

/// A month's counters for one integration.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BudgetUsage {
    /// Billed calls reserved or made.
    pub used: u32,
    /// Of which emergencies.
    pub emergency_used: u32,
    /// The highest alert threshold the TAM was told of.
    pub alerted: u8,
    /// Since when work has been waiting on the budget, if it is.
    pub blocked_since: Option<DateTime<Utc>>,
    /// Notifications waiting for a window or the budget.
    pub waiting_notifications: u64,
    /// Deliveries composed and not yet sent (or parked).
    pub queued_deliveries: u64,
}

/// One Lark call for the ledger.
#[derive(Debug, Clone)]
pub struct LedgerEntry {
    /// The integration whose app made it.
    pub integration_id: String,
    /// When.
    pub at: DateTime<Utc>,
    /// Which API (`im.message.create`, …).
    pub api: String,
    /// What it was for (a notification class, `group`, …), if known.
    pub class: Option<String>,
    /// Whether Lark bills it on the free plan (and it succeeded).
    pub billed: bool,
    /// Whether it succeeded.
    pub ok: bool,
    /// Lark's code on failure.
    pub code: Option<i64>,
    /// The HTTP status, if an answer came.
    pub status: Option<u16>,
}

/// The ledger's view of a month.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LedgerSummary {
    /// Every call recorded.
    pub calls: u64,
    /// Calls Lark bills (succeeded, billed API).
    pub billed: u64,
    /// Calls that failed.
    pub failed: u64,
}

/// Most TAMs one budget alert goes to (the default integration may serve many orgs).
const ALERT_TAMS_MAX: u64 = 20;

fn to_u32(v: i64) -> u32 {
    u32::try_from(std::cmp::max(v, 0)).unwrap_or(u32::MAX)
}

impl Store {
    /// Reserves one billed call of `class` against `integration`'s budget for the month
    /// of `now`. Returns the month's count including this call, or `None` when the
    /// budget (less the emergency reserve, for anything but an emergency) is spent.
    pub async fn reserve_call(
        &self,
        integration: &str,
        budget: u32,
        class: NotifyClass,
        now: DateTime<Utc>,
    ) -> Result<Option<u32>, StoreError> {
        let month = notify::month_key(now);
        let limit = i64::from(notify::budget_limit(budget, class));
        let emergency = i64::from(class == NotifyClass::Emergency);
        let bump = || {
            lark_budget::Entity::update_many()
                .col_expr(lark_budget::Column::Used, Expr::col(lark_budget::Column::Used).add(1))
                .col_expr(
                    lark_budget::Column::EmergencyUsed,
                    Expr::col(lark_budget::Column::EmergencyUsed).add(emergency),
                )
                .col_expr(lark_budget::Column::BlockedSince, Expr::value(Option::<DateTime<Utc>>::None))
                .col_expr(lark_budget::Column::UpdatedAt, Expr::value(now))
                .filter(lark_budget::Column::IntegrationId.eq(integration))
                .filter(lark_budget::Column::Month.eq(&month))
                .filter(lark_budget::Column::Used.lt(limit))
        };
        let tx = self.write().await?;
        // One statement on the common path: the bump reports the new count itself.
        let mut row = bump().exec_with_returning(&*tx).await?.pop();
        if row.is_none() {
            // Either the month is spent or this is its first call and the row does not
            // exist yet. Creating it (a no-op when it exists) and bumping again decides;
            // a look for the row instead would race a concurrent first call.
            ensure_month(&*tx, integration, &month, now).await?;
            row = bump().exec_with_returning(&*tx).await?.pop();
        }
        if row.is_none() {
            lark_budget::Entity::update_many()
                .col_expr(lark_budget::Column::BlockedSince, Expr::value(now))
                .filter(lark_budget::Column::IntegrationId.eq(integration))
                .filter(lark_budget::Column::Month.eq(&month))
                .filter(lark_budget::Column::BlockedSince.is_null())
                .exec(&*tx)
                .await?;
        }
        tx.commit().await?;
        Ok(row.map(|r| to_u32(r.used)))
    }

    async fn budget_row<C: ConnectionTrait>(
        &self,
        db: &C,
        integration: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<lark_budget::Model>, StoreError> {
        Ok(lark_budget::Entity::find_by_id((integration.to_owned(), notify::month_key(now))).one(db).await?)
    }

    /// Billed calls reserved or made by `integration` in the month of `now`: what pacing
    /// decides from, in one read.
    pub async fn budget_used(&self, integration: &str, now: DateTime<Utc>) -> Result<u32, StoreError> {
        Ok(self.budget_row(self.conn(), integration, now).await?.map_or(0, |r| to_u32(r.used)))
    }

    /// Gives back a reserved call that Lark refused (refused calls are not billed).
    pub async fn release_call(
        &self,
        integration: &str,
        class: NotifyClass,
        reserved_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let emergency = i64::from(class == NotifyClass::Emergency);
        let tx = self.write().await?;
        lark_budget::Entity::update_many()
            .col_expr(lark_budget::Column::Used, Expr::col(lark_budget::Column::Used).sub(1))
            .col_expr(lark_budget::Column::EmergencyUsed, Expr::col(lark_budget::Column::EmergencyUsed).sub(emergency))
            .col_expr(lark_budget::Column::UpdatedAt, Expr::value(now))
            .filter(lark_budget::Column::IntegrationId.eq(integration))
            .filter(lark_budget::Column::Month.eq(notify::month_key(reserved_at)))
            .filter(lark_budget::Column::Used.gt(0))
            .exec(&*tx)
            .await?;
        tx.commit().await
    }

    /// The month of `now` for `integration`: counters and what is queued.
    pub async fn budget_usage(&self, integration: &str, now: DateTime<Utc>) -> Result<BudgetUsage, StoreError> {
        let db = self.conn();
        let row = self.budget_row(db, integration, now).await?;
        let waiting_notifications = notification::Entity::find()
            .filter(notification::Column::IntegrationId.eq(integration))
            .filter(notification::Column::State.eq(NotificationState::Waiting.as_str()))
            .count(db)
            .await?;
        let queued_deliveries = delivery::Entity::find()
            .filter(delivery::Column::IntegrationId.eq(integration))
            .filter(delivery::Column::State.eq(notify::DeliveryState::Ready.as_str()))
            .count(db)
            .await?;
        Ok(match row {
            Some(r) => BudgetUsage {
                used: to_u32(r.used),
                emergency_used: to_u32(r.emergency_used),
                alerted: u8::try_from(std::cmp::max(r.alerted, 0)).unwrap_or(u8::MAX),
                blocked_since: r.blocked_since,
                waiting_notifications,
                queued_deliveries,
            },
            None => BudgetUsage { waiting_notifications, queued_deliveries, ..BudgetUsage::default() },
        })
    }

    /// Records that `integration` crossed `percent` of its budget, once per threshold
    /// per month, and queues a notification to its organisation's TAM in the same
    /// transaction. Returns whether this call was the one that recorded it.
    pub async fn raise_budget_alert(
        &self,
        integration: &str,
        percent: u8,
        used: u32,
        budget: u32,
        level: PacingLevel,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let month = notify::month_key(now);
        // The alert follows a reservation, so the month's row exists.
        let tx = self.write().await?;
        let first = lark_budget::Entity::update_many()
            .col_expr(lark_budget::Column::Alerted, Expr::value(i16::from(percent)))
            .filter(lark_budget::Column::IntegrationId.eq(integration))
            .filter(lark_budget::Column::Month.eq(&month))
            .filter(lark_budget::Column::Alerted.lt(i16::from(percent)))
            .exec(&*tx)
            .await?
            .rows_affected
            == 1;
        if !first {
            return Ok(false);
        }
        // The TAMs the integration serves: its organisation's, or, for the single-tenant
        // default, those of every organisation without an app of its own.
        let routes = Routes::load(&*tx).await?;
        let own_org = routes.owned().find(|(_, i)| *i == integration).map(|(org, _)| org);
        let orgs = match own_org {
            Some(org_id) => org::Entity::find_by_id(org_id).all(&*tx).await?,
            None if routes.default_integration() == Some(integration) => {
                let with_app: Vec<Uuid> = routes.owned().map(|(org, _)| org).collect();
                org::Entity::find()
                    .filter(org::Column::TamId.is_not_null())
                    .filter(org::Column::Id.is_not_in(with_app))
                    .limit(ALERT_TAMS_MAX)
                    .all(&*tx)
                    .await?
            }
            None => Vec::new(),
        };
        let mut told = std::collections::BTreeSet::new();
        let mut rows = Vec::new();
        for o in &orgs {
            let Some(tam) = o.tam_id.filter(|t| told.insert(*t)) else { continue };
            let body = NotificationBody {
                ticket: None,
                happening: Happening::BudgetAlert { percent, used, budget, level },
                actor: "Larkdesk".to_owned(),
                at: now,
            };
            rows.push(NewNotification {
                event_id: None,
                ticket_id: None,
                org_id: Some(o.id),
                integration_id: Some(integration.to_owned()),
                recipient: Recipient::Person(PersonId::from_uuid(tam)),
                // From 95 % on, only emergencies go out, and the TAM must still hear of
                // it: the last alerts spend the emergency reserve.
                class: if percent >= 95 { NotifyClass::Emergency } else { NotifyClass::Action },
                body: serde_json::to_string(&body).map_err(|e| StoreError::corrupt("notifications", e))?,
                not_before: now,
                created_at: now,
            });
        }
        insert_notifications(&*tx, rows, NotificationState::Waiting).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Appends calls to the ledger.
    pub async fn record_calls(&self, entries: Vec<LedgerEntry>) -> Result<(), StoreError> {
        if entries.is_empty() {
            return Ok(());
        }
        let rows: Vec<lark_call::ActiveModel> = entries
            .into_iter()
            .map(|e| lark_call::ActiveModel {
                id: Set(Uuid::now_v7()),
                integration_id: Set(e.integration_id),
                at: Set(e.at),
                api: Set(e.api),
                class: Set(e.class),
                billed: Set(e.billed),
                ok: Set(e.ok),
                code: Set(e.code),
                status: Set(e.status.map(i32::from)),
            })
            .collect();
        let tx = self.write().await?;
        let mut rows = rows.into_iter().peekable();
        while rows.peek().is_some() {
            let chunk: Vec<_> = rows.by_ref().take(500).collect();
            lark_call::Entity::insert_many(chunk).exec_without_returning(&*tx).await?;
        }
        tx.commit().await
    }

    /// The ledger's counts for `integration` in the month of `now`.
    pub async fn ledger_summary(&self, integration: &str, now: DateTime<Utc>) -> Result<LedgerSummary, StoreError> {
        let (start, end) = notify::month_bounds(now);
        let base = || {
            lark_call::Entity::find()
                .filter(lark_call::Column::IntegrationId.eq(integration))
                .filter(lark_call::Column::At.gte(start))
                .filter(lark_call::Column::At.lt(end))
        };
        let db = self.conn();
        Ok(LedgerSummary {
            calls: base().count(db).await?,
            billed: base().filter(lark_call::Column::Billed.eq(true)).count(db).await?,
            failed: base().filter(lark_call::Column::Ok.eq(false)).count(db).await?,
        })
    }
}

/// Makes sure the month's row exists (a no-op when it does).
async fn ensure_month<C: ConnectionTrait>(
    db: &C,
    integration: &str,
    month: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let mut q = Query::insert();
    q.into_table(lark_budget::Entity)
        .columns([
            lark_budget::Column::IntegrationId,
            lark_budget::Column::Month,
            lark_budget::Column::Used,
            lark_budget::Column::EmergencyUsed,
            lark_budget::Column::Alerted,
            lark_budget::Column::UpdatedAt,
        ])
        .values([integration.into(), month.into(), 0i64.into(), 0i64.into(), 0i16.into(), now.into()])
        .map_err(|e| StoreError::corrupt("lark_budgets", e))?
        .on_conflict(
            OnConflict::columns([lark_budget::Column::IntegrationId, lark_budget::Column::Month])
                .do_nothing()
                .to_owned(),
        );
    db.execute(&q).await?;
    Ok(())
}
