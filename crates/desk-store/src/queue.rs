//! What every durable queue in the store shares: how a claim takes rows and leases them.
//!
//! A claim runs in the caller's write transaction (`Store::write`): it locks the due rows
//! that no other transaction holds (`FOR UPDATE SKIP LOCKED`, so concurrent PostgreSQL
//! workers take disjoint rows; SQLite has one writer, and the transaction is it), then
//! leases them and counts the attempt. What is due, its order and what a claimed row
//! becomes stay with each queue; so does how an attempt ends, whose columns differ.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, LockBehavior, LockType};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, ModelTrait, QueryFilter, QuerySelect, Select};

use crate::StoreError;

/// A table whose rows are claimed under a lease: the columns a claim writes.
pub(crate) trait Leased: EntityTrait {
    /// The primary key.
    const ID: Self::Column;
    /// Until when the claim holds the row; a lapsed lease means its holder died.
    const LEASE_UNTIL: Self::Column;
    /// How many times the row was claimed (less the attempts handed back untried).
    const ATTEMPTS: Self::Column;
    /// A column, if any, that records when the row was last claimed or changed.
    const TOUCHED_AT: Option<Self::Column> = None;
}

/// When a lease taken at `now` runs out (never, for a lease too long to represent).
pub(crate) fn lease_end(now: DateTime<Utc>, lease: Duration) -> DateTime<Utc> {
    now + chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::MAX)
}

/// The rows of `due` that no other transaction holds, locked for `tx`.
pub(crate) async fn lock_due<E: EntityTrait, C: ConnectionTrait>(
    tx: &C,
    due: Select<E>,
) -> Result<Vec<E::Model>, StoreError> {
    Ok(due.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked).all(tx).await?)
}

/// Leases `rows` (locked by [`lock_due`] in `tx`) from `now` for `lease`, and counts one
/// attempt on each. The rows keep the attempt count they were read with.
pub(crate) async fn lease<E: Leased, C: ConnectionTrait>(
    tx: &C,
    rows: &[E::Model],
    now: DateTime<Utc>,
    lease: Duration,
) -> Result<(), StoreError> {
    if rows.is_empty() {
        return Ok(());
    }
    let mut update = E::update_many()
        .col_expr(E::LEASE_UNTIL, Expr::value(lease_end(now, lease)))
        .col_expr(E::ATTEMPTS, Expr::col(E::ATTEMPTS).add(1));
    if let Some(touched) = E::TOUCHED_AT {
        update = update.col_expr(touched, Expr::value(now));
    }
    update.filter(E::ID.is_in(rows.iter().map(|r| r.get(E::ID)))).exec(tx).await?;
    Ok(())
}

/// Claims the rows of `due` (filtered, ordered and limited by the caller) that nobody
/// holds: locks them, then leases them from `now` for `lease` with one more attempt each.
pub(crate) async fn claim<E: Leased, C: ConnectionTrait>(
    tx: &C,
    due: Select<E>,
    now: DateTime<Utc>,
    lease: Duration,
) -> Result<Vec<E::Model>, StoreError> {
    let rows = lock_due(tx, due).await?;
    self::lease::<E, C>(tx, &rows, now, lease).await?;
    Ok(rows)
}
