//! The connection, migrations and the SQLite write gate.

use std::ops::Deref;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use migrations::{Migrator, MigratorTrait};
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DatabaseTransaction, DbErr, SqliteTransactionMode,
    TransactionOptions, TransactionTrait,
};
use tokio::sync::{Mutex, OwnedMutexGuard};

use crate::StoreError;
use crate::tickets::TicketWriter;

/// Which database is behind the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// The embedded default.
    Sqlite,
    /// For scale-out.
    Postgres,
}

/// How to connect.
#[derive(Debug, Clone)]
pub struct ConnectSettings {
    /// `sqlite://…` or `postgres://…`.
    pub url: String,
    /// Pool size.
    pub max_connections: u32,
    /// PostgreSQL only: the schema to use (tests give each run its own).
    pub pg_schema: Option<String>,
}

impl ConnectSettings {
    /// Defaults for a URL.
    pub fn new(url: impl Into<String>) -> Self {
        Self { url: url.into(), max_connections: 10, pg_schema: None }
    }
}

/// The database handle every repository function hangs off. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Store {
    pub(crate) db: Db,
    tickets: TicketWriter,
    /// Organisations known to exist. Organisations are never deleted (no route deletes
    /// one, and tickets reference them with ON DELETE RESTRICT), so a positive answer
    /// never goes stale; it saves a query on every ticket created. Whoever adds org
    /// deletion must remove the id here.
    pub(crate) known_orgs: Arc<std::sync::RwLock<std::collections::HashSet<uuid::Uuid>>>,
}

/// The pool and the write gate, without the background writers (which hold one).
#[derive(Debug, Clone)]
pub(crate) struct Db {
    pub(crate) conn: DatabaseConnection,
    backend: Backend,
    /// SQLite allows one writer at a time. Transactions that read and then write would
    /// otherwise fail with SQLITE_BUSY when another writer got in between; queueing them
    /// here in the process is both correct and much faster than SQLite's sleep-and-retry.
    write_gate: Option<Arc<Mutex<()>>>,
}

impl Db {
    /// Begins a write transaction (behind the gate on SQLite).
    pub(crate) async fn write(&self) -> Result<WriteTx, StoreError> {
        let gate = match &self.write_gate {
            Some(gate) => Some(gate.clone().lock_owned().await),
            None => None,
        };
        let options = TransactionOptions {
            sqlite_transaction_mode: (self.backend == Backend::Sqlite).then_some(SqliteTransactionMode::Immediate),
            ..TransactionOptions::default()
        };
        let txn = self.conn.begin_with_options(options).await?;
        Ok(WriteTx { txn, _gate: gate })
    }
}

/// A write transaction; on SQLite it also holds the write gate until commit or drop.
#[derive(Debug)]
pub(crate) struct WriteTx {
    txn: DatabaseTransaction,
    _gate: Option<OwnedMutexGuard<()>>,
}

impl WriteTx {
    pub(crate) async fn commit(self) -> Result<(), StoreError> {
        self.txn.commit().await.map_err(StoreError::from)
    }
}

impl Deref for WriteTx {
    type Target = DatabaseTransaction;
    fn deref(&self) -> &Self::Target {
        &self.txn
    }
}

impl Store {
    /// Connects. For SQLite it creates the file's directory, turns on WAL, foreign keys
    /// and a busy timeout.
    pub async fn connect(settings: &ConnectSettings) -> Result<Self, StoreError> {
        let backend = if settings.url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if settings.url.starts_with("postgres://") || settings.url.starts_with("postgresql://") {
            Backend::Postgres
        } else {
            return Err(StoreError::Unavailable(DbErr::Custom(
                "DESK_DATABASE_URL must start with sqlite:// or postgres://".into(),
            )));
        };
        let mut opts = ConnectOptions::new(settings.url.clone());
        opts.max_connections(settings.max_connections)
            .min_connections(1)
            .connect_timeout(Duration::from_secs(10))
            .acquire_timeout(Duration::from_secs(10))
            .sqlx_logging(false);
        if backend == Backend::Sqlite {
            create_parent_dir(&settings.url)?;
            opts.map_sqlx_sqlite_opts(|o| {
                o.journal_mode(SqliteJournalMode::Wal)
                    // WAL + NORMAL is durable across application crashes; only an OS crash
                    // can lose the last transactions. That is SQLite's recommended pairing.
                    .synchronous(SqliteSynchronous::Normal)
                    .foreign_keys(true)
                    .busy_timeout(Duration::from_secs(10))
                    .create_if_missing(true)
                    // Reads through a memory map and a larger page cache: at 100k tickets
                    // the default 2 MB cache turns most index reads into pread syscalls.
                    .pragma("mmap_size", "268435456")
                    .pragma("cache_size", "-16384")
                    .pragma("temp_store", "memory")
            });
        }
        if let Some(schema) = &settings.pg_schema {
            create_schema(&settings.url, schema).await?;
            opts.set_schema_search_path(schema.clone());
        }
        let conn = Database::connect(opts).await.map_err(StoreError::Unavailable)?;
        let write_gate = (backend == Backend::Sqlite).then(|| Arc::new(Mutex::new(())));
        let db = Db { conn, backend, write_gate };
        let tickets = TicketWriter::spawn(db.clone());
        Ok(Self { db, tickets, known_orgs: Arc::default() })
    }

    /// Applies pending migrations.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        Migrator::up(&self.db.conn, None).await.map_err(StoreError::from)
    }

    /// Reverts every migration (used by the up/down/up check).
    pub async fn migrate_down_all(&self) -> Result<(), StoreError> {
        Migrator::down(&self.db.conn, None).await.map_err(StoreError::from)
    }

    /// Whether the database answers.
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.db.conn.execute_unprepared("SELECT 1").await.map(|_| ()).map_err(StoreError::Unavailable)
    }

    /// Refreshes the query planner's statistics (`ANALYZE`). PostgreSQL's autovacuum does
    /// this on its own when it is enabled; SQLite never does. Worth running after a bulk
    /// load or an import, so the planner knows the table has grown.
    pub async fn refresh_statistics(&self) -> Result<(), StoreError> {
        // SQLite writes the statistics to a table, so this is a write like any other.
        let tx = self.write().await?;
        tx.execute_unprepared("ANALYZE").await?;
        tx.commit().await
    }

    /// Which database this is.
    pub fn backend(&self) -> Backend {
        self.db.backend
    }

    /// Closes the pool.
    pub async fn close(self) -> Result<(), StoreError> {
        self.db.conn.close().await.map_err(StoreError::from)
    }

    pub(crate) fn conn(&self) -> &DatabaseConnection {
        &self.db.conn
    }

    pub(crate) fn ticket_writer(&self) -> &TicketWriter {
        &self.tickets
    }

    /// Begins a write transaction (behind the gate on SQLite).
    pub(crate) async fn write(&self) -> Result<WriteTx, StoreError> {
        self.db.write().await
    }
}

/// Creates the PostgreSQL schema named by `DESK_DATABASE_SCHEMA` if it is missing, so a
/// fresh schema (a test run, a second deployment in one database) needs no manual step.
async fn create_schema(url: &str, schema: &str) -> Result<(), StoreError> {
    let valid = !schema.is_empty()
        && schema.len() <= 63
        && schema.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && !schema.starts_with(|c: char| c.is_ascii_digit());
    if !valid {
        return Err(StoreError::Unavailable(DbErr::Custom(
            "DESK_DATABASE_SCHEMA must be lower-case letters, digits and _".into(),
        )));
    }
    let mut opts = ConnectOptions::new(url.to_owned());
    opts.max_connections(1).sqlx_logging(false);
    let db = Database::connect(opts).await.map_err(StoreError::Unavailable)?;
    db.execute_unprepared(&format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\"")).await?;
    db.close().await?;
    Ok(())
}

fn create_parent_dir(url: &str) -> Result<(), StoreError> {
    let path = url.trim_start_matches("sqlite://").trim_start_matches("sqlite:");
    let path = path.split('?').next().unwrap_or_default();
    if path.is_empty() || path == ":memory:" {
        return Ok(());
    }
    if let Some(parent) = Path::new(path).parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .map_err(|e| StoreError::Unavailable(DbErr::Custom(format!("cannot create {}: {e}", parent.display()))))?;
    }
    Ok(())
}
