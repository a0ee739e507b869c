//! Calling Lark for a member or binding use case: which integration (Lark app) serves it,
//! that integration's shared client, and — for the calls Lark bills — a reservation
//! against the month's budget before the call, given back when Lark refuses (refused
//! calls are not billed), exactly as the dispatcher does for its sends. Every call is
//! labelled with its purpose for the ledger, and the ledger is written after it.
//!
//! These calls answer a person waiting on a request, so they are made at once rather than
//! queued; nothing is written before Lark has answered, so a failed call changes nothing.

use std::future::Future;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use desk_core::notify::{self, NotifyClass};
use desk_core::{Integration, LarkMode, OrgId};
use desk_store::{Store, StoreError};
use lark_notify::dispatch::{LaneError, Lanes};
use lark_notify::{LarkClient, LarkError, with_purpose};

/// The integration every staff member and every organisation without an app of its own
/// is served by (the one the `DESK_LARK_*` settings make).
const DEFAULT_INTEGRATION: &str = "default";

/// Why Lark could not be asked, or what it answered instead.
#[derive(Debug, thiserror::Error)]
pub enum LarkCallError {
    /// The database.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Nothing connects this organisation (or the vendor's staff) to Lark.
    #[error("no Lark integration serves {0}: register one for the organisation, or set DESK_LARK_APP_ID")]
    NoIntegration(String),
    /// The integration is `off`: the desk does not call Lark for it.
    #[error(
        "integration {0} is off, so the desk does not call Lark for it; set its mode to webhook or long_connection"
    )]
    Off(String),
    /// The month's budget of billed calls is spent (less the emergency reserve).
    #[error("this month's Lark API budget of integration {0} is spent; raise monthly_budget or wait for the 1st")]
    BudgetSpent(String),
    /// Lark failed or refused.
    #[error("Lark: {0}")]
    Lark(#[from] LarkError),
}

impl From<LaneError> for LarkCallError {
    fn from(e: LaneError) -> Self {
        match e {
            LaneError::Store(s) => Self::Store(s),
            LaneError::Lark(l) => Self::Lark(l),
        }
    }
}

/// Lark through one integration, for one use case.
#[derive(Debug, Clone)]
pub(crate) struct LarkLane {
    pub(crate) integration: Integration,
    client: Arc<LarkClient>,
}

/// The integration named `id`, else the one serving `org` (its own app, else `default`),
/// else — for staff, who belong to no organisation — `default`; with its client.
pub(crate) async fn lane(
    store: &Store,
    lanes: &Lanes,
    id: Option<&str>,
    org: Option<OrgId>,
) -> Result<LarkLane, LarkCallError> {
    let id = match (id, org) {
        (Some(id), _) => id.to_owned(),
        (None, Some(org)) => {
            store.lark_route(org).await?.ok_or_else(|| LarkCallError::NoIntegration(format!("organisation {org}")))?
        }
        (None, None) => DEFAULT_INTEGRATION.to_owned(),
    };
    let integration = match store.integration(&id).await {
        Err(StoreError::NotFound { .. }) if id == DEFAULT_INTEGRATION => {
            return Err(LarkCallError::NoIntegration("the service team".to_owned()));
        }
        other => other?,
    };
    lane_of(lanes, integration).await
}

/// `integration` with its client; refused when it is off.
pub(crate) async fn lane_of(lanes: &Lanes, integration: Integration) -> Result<LarkLane, LarkCallError> {
    if integration.mode == LarkMode::Off {
        return Err(LarkCallError::Off(integration.id));
    }
    let client = lanes.client(&integration).await?;
    Ok(LarkLane { integration, client })
}

impl LarkLane {
    /// A call Lark bills (lark-spec.md §8.3): reserved against the month's budget first,
    /// given back if Lark refuses; the TAM is told when it crosses an alert threshold.
    pub(crate) async fn billed<T, F, Fut>(
        &self,
        store: &Store,
        lanes: &Lanes,
        purpose: &'static str,
        now: DateTime<Utc>,
        call: F,
    ) -> Result<T, LarkCallError>
    where
        F: FnOnce(Arc<LarkClient>) -> Fut,
        Fut: Future<Output = Result<T, LarkError>>,
    {
        let i = &self.integration;
        let Some(used) = store.reserve_call(&i.id, i.monthly_budget, NotifyClass::Action, now).await? else {
            tracing::warn!(integration.id = %i.id, purpose, "Lark API budget for the month is spent; call refused");
            return Err(LarkCallError::BudgetSpent(i.id.clone()));
        };
        alert_if_due(store, i, used, now).await?;
        let result = with_purpose(purpose, call(self.client.clone())).await;
        if let Err(e) = &result
            && e.is_refusal()
        {
            store.release_call(&i.id, NotifyClass::Action, now, now).await?;
        }
        lanes.flush_ledger().await?;
        Ok(result?)
    }

    /// A call Lark does not bill (contacts, lark-spec.md §8.3): no reservation.
    pub(crate) async fn unbilled<T, F, Fut>(
        &self,
        lanes: &Lanes,
        purpose: &'static str,
        call: F,
    ) -> Result<T, LarkCallError>
    where
        F: FnOnce(Arc<LarkClient>) -> Fut,
        Fut: Future<Output = Result<T, LarkError>>,
    {
        let result = with_purpose(purpose, call(self.client.clone())).await;
        lanes.flush_ledger().await?;
        Ok(result?)
    }
}

/// Tells the TAM when this reservation moved the month past 50, 80 or 95 % of the budget
/// (the dispatcher does the same for its own reservations; whichever call crosses a
/// threshold raises it, once).
async fn alert_if_due(store: &Store, i: &Integration, used: u32, now: DateTime<Utc>) -> Result<(), StoreError> {
    let budget = i.monthly_budget;
    let Some(percent) =
        notify::alert_due(used, budget, 0).filter(|p| notify::alert_due(used.saturating_sub(1), budget, 0) != Some(*p))
    else {
        return Ok(());
    };
    let level = notify::budget_status(used, budget, now).level;
    if store.raise_budget_alert(&i.id, percent, used, budget, level, now).await? {
        tracing::warn!(integration.id = %i.id, percent, used, budget, "Lark API budget threshold crossed; the TAM is told");
    }
    Ok(())
}
