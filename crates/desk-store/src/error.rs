//! `StoreError`: the only place a `DbErr` is classified.

use desk_core::DomainError;
use sea_orm::{DbErr, SqlErr};

/// What went wrong below the API, in terms a caller can act on.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The thing asked for does not exist.
    #[error("{entity} {id} not found")]
    NotFound {
        /// What kind of thing (`ticket`, `org`, …).
        entity: &'static str,
        /// The id the caller gave.
        id: String,
    },
    /// A uniqueness rule refused the write.
    #[error("conflict: {detail}")]
    Conflict {
        /// A stable code for clients (`lark_open_id_taken`, …).
        code: &'static str,
        /// Words for people.
        detail: String,
    },
    /// The domain refused the change (a forbidden move, a person of the wrong kind, …).
    #[error(transparent)]
    Domain(#[from] DomainError),
    /// The database cannot be reached or the pool is exhausted.
    #[error("database unavailable")]
    Unavailable(#[source] DbErr),
    /// Anything else the database said.
    #[error("database error")]
    Db(#[source] DbErr),
    /// A secret could not be sealed or opened (no or wrong DESK_SECRET_KEY).
    #[error(transparent)]
    Secret(#[from] crate::secrets::SealError),
    /// A stored value that the code cannot read (a status name it does not know, bad JSON).
    #[error("corrupt row in {table}: {detail}")]
    Corrupt {
        /// Table.
        table: &'static str,
        /// What was wrong.
        detail: String,
    },
}

impl StoreError {
    /// Builds a not-found error.
    pub fn not_found(entity: &'static str, id: impl ToString) -> Self {
        Self::NotFound { entity, id: id.to_string() }
    }

    /// Builds a corrupt-row error.
    pub(crate) fn corrupt(table: &'static str, detail: impl ToString) -> Self {
        Self::Corrupt { table, detail: detail.to_string() }
    }

    /// Classifies a unique violation as `Conflict { code }`, anything else as usual.
    pub(crate) fn on_unique(e: DbErr, code: &'static str, detail: impl Into<String>) -> Self {
        match e.sql_err() {
            Some(SqlErr::UniqueConstraintViolation(_)) => Self::Conflict { code, detail: detail.into() },
            _ => Self::from(e),
        }
    }
}

impl From<DbErr> for StoreError {
    fn from(e: DbErr) -> Self {
        match e {
            DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => Self::Unavailable(e),
            other => Self::Db(other),
        }
    }
}
