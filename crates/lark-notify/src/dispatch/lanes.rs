//! One Lark client per integration, built once and shared: each client owns its app's
//! token cache and frequency limiters, so two clients for one app would mean two
//! token fetches and twice the rate. A client is rebuilt when its integration changes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use desk_core::Integration;
use desk_store::{Clock, LedgerEntry, SecretBox, Store};
use tokio::sync::RwLock;

use desk_store::StoreError;

use crate::{CallObserver, CallRecord, ClientConfig, LarkClient, LarkError};

/// Why an integration's client could not be had.
#[derive(Debug, thiserror::Error)]
pub enum LaneError {
    /// Its settings or secrets could not be read.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The client could not be built from them.
    #[error(transparent)]
    Lark(#[from] LarkError),
}

/// Calls made but not yet written to the ledger. The dispatcher flushes it after every
/// pass; the budget's hard limit does not depend on it (that is the reserved counter).
#[derive(Debug, Default)]
struct LedgerBuffer {
    entries: Mutex<Vec<LedgerEntry>>,
}

impl LedgerBuffer {
    fn take(&self) -> Vec<LedgerEntry> {
        self.entries.lock().map(|mut e| std::mem::take(&mut *e)).unwrap_or_default()
    }

    fn push(&self, entry: LedgerEntry) {
        if let Ok(mut e) = self.entries.lock() {
            e.push(entry);
        }
    }
}

/// Writes every call of one integration's client to the ledger buffer.
#[derive(Debug)]
struct LedgerObserver {
    integration: String,
    buffer: Arc<LedgerBuffer>,
    clock: Arc<dyn Clock>,
}

impl CallObserver for LedgerObserver {
    fn on_call(&self, r: &CallRecord) {
        self.buffer.push(LedgerEntry {
            integration_id: self.integration.clone(),
            at: self.clock.now(),
            api: r.route.to_owned(),
            class: r.purpose.map(str::to_owned),
            billed: r.billed,
            ok: r.ok,
            code: r.code,
            status: r.status,
        });
    }
}

#[derive(Debug, Clone)]
struct Lane {
    client: Arc<LarkClient>,
    version: DateTime<Utc>,
}

/// The Lark clients of every integration.
#[derive(Debug, Clone)]
pub struct Lanes {
    store: Store,
    secret_box: Option<SecretBox>,
    clock: Arc<dyn Clock>,
    ledger: Arc<LedgerBuffer>,
    request_timeout: Duration,
    lanes: Arc<RwLock<HashMap<String, Lane>>>,
}

impl Lanes {
    /// Clients open integration secrets with `secret_box`.
    pub fn new(store: Store, secret_box: Option<SecretBox>, clock: Arc<dyn Clock>, request_timeout: Duration) -> Self {
        Self { store, secret_box, clock, ledger: Arc::default(), request_timeout, lanes: Arc::default() }
    }

    /// Writes the calls made since the last flush to the ledger.
    pub async fn flush_ledger(&self) -> Result<(), StoreError> {
        self.store.record_calls(self.ledger.take()).await
    }

    /// The client of `integration`, built on first use and rebuilt after a change.
    pub async fn client(&self, integration: &Integration) -> Result<Arc<LarkClient>, LaneError> {
        if let Some(lane) = self.lanes.read().await.get(&integration.id)
            && lane.version == integration.updated_at
        {
            return Ok(lane.client.clone());
        }
        let mut lanes = self.lanes.write().await;
        if let Some(lane) = lanes.get(&integration.id)
            && lane.version == integration.updated_at
        {
            return Ok(lane.client.clone());
        }
        let secrets = self.store.integration_secrets(&integration.id, self.secret_box.as_ref()).await?;
        let mut config = ClientConfig::new(&integration.base_url, &integration.app_id, secrets.app_secret);
        config.request_timeout = self.request_timeout;
        let observer: Arc<dyn CallObserver> = Arc::new(LedgerObserver {
            integration: integration.id.clone(),
            buffer: self.ledger.clone(),
            clock: self.clock.clone(),
        });
        let client = Arc::new(LarkClient::new(config, Some(observer))?);
        lanes.insert(integration.id.clone(), Lane { client: client.clone(), version: integration.updated_at });
        Ok(client)
    }
}
