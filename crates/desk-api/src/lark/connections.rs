//! One long connection per integration in `long_connection` mode, kept in step with the
//! integrations table: started when an integration enters the mode, rebuilt when it
//! changes, shut down when it leaves.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use desk_core::{Integration, LarkMode};
use desk_store::{SecretBox, Store, StoreError, Via};
use lark_notify::events::{Delivery, Inbound as Parsed, Secrets};
use lark_notify::longconn::{Ack, ConnStatus, EventHandler, LongConnConfig, LongConnection};
use tokio::sync::Mutex;

use super::inbound::{Inbound, Ingested};

struct Live {
    conn: LongConnection,
    version: DateTime<Utc>,
}

/// The long connections of this process. Cheap to clone: one pointer.
#[derive(Clone)]
pub struct Connections(Arc<Parts>);

#[expect(missing_debug_implementations, reason = "shown through Connections's Debug")]
pub struct Parts {
    store: Store,
    secret_box: Option<SecretBox>,
    inbound: Inbound,
    request_timeout: std::time::Duration,
    live: Mutex<HashMap<String, Live>>,
}

impl std::ops::Deref for Connections {
    type Target = Parts;
    fn deref(&self) -> &Parts {
        &self.0
    }
}

impl std::fmt::Debug for Connections {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connections").finish_non_exhaustive()
    }
}

/// Hands each long-connection payload to [`Inbound::ingest`] for one integration. The
/// connection was authenticated when it was opened, so the payload is plaintext and
/// carries no signature (lark-spec.md §7.1).
struct Sink {
    inbound: Inbound,
    integration: Integration,
}

impl Sink {
    async fn take(&self, payload: Vec<u8>) -> Ack {
        let delivery = Delivery { body: &payload, timestamp: None, nonce: None, signature: None };
        let env = match delivery.parse(&Secrets::default()) {
            Ok(Parsed::Event(env)) => env,
            Ok(Parsed::UrlVerification { .. }) => return Ack::Done,
            Err(e) => {
                // Retrying the same bytes cannot help; say so once and let it go.
                tracing::warn!(error = %e, integration.id = %self.integration.id, "unreadable long-connection payload");
                return Ack::Done;
            }
        };
        match self.inbound.ingest(&self.integration, env, Via::LongConnection).await {
            Ok(Ingested::Answer(answer)) => Ack::Answer(answer.to_string().into_bytes()),
            Ok(Ingested::Accepted | Ingested::Duplicate | Ingested::Stale) => Ack::Done,
            Err(e) => {
                tracing::error!(error = %e, integration.id = %self.integration.id, "long-connection event not accepted");
                Ack::Failed
            }
        }
    }
}

impl EventHandler for Sink {
    fn handle(&self, payload: Vec<u8>) -> std::pin::Pin<Box<dyn Future<Output = Ack> + Send + '_>> {
        Box::pin(self.take(payload))
    }
}

impl Connections {
    /// No connections yet; [`Connections::reconcile`] opens them.
    pub fn new(
        store: Store,
        secret_box: Option<SecretBox>,
        inbound: Inbound,
        request_timeout: std::time::Duration,
    ) -> Self {
        Self(Arc::new(Parts { store, secret_box, inbound, request_timeout, live: Mutex::default() }))
    }

    /// Opens, rebuilds or closes connections so that each integration in
    /// `long_connection` mode has exactly one, made from its current settings.
    pub async fn reconcile(&self) -> Result<(), StoreError> {
        let wanted: Vec<Integration> =
            self.store.list_integrations().await?.into_iter().filter(|i| i.mode == LarkMode::LongConnection).collect();
        let mut live = self.live.lock().await;
        let stale: Vec<String> = live
            .iter()
            .filter(|(id, l)| !wanted.iter().any(|w| &w.id == *id && w.updated_at == l.version))
            .map(|(id, _)| id.clone())
            .collect();
        for id in stale {
            if let Some(old) = live.remove(&id) {
                old.conn.shutdown().await;
            }
        }
        for integration in wanted {
            if live.contains_key(&integration.id) {
                continue;
            }
            let secrets = self.store.integration_secrets(&integration.id, self.secret_box.as_ref()).await?;
            let mut config =
                LongConnConfig::new(integration.base_url.clone(), integration.app_id.clone(), secrets.app_secret);
            config.request_timeout = self.request_timeout;
            let version = integration.updated_at;
            let id = integration.id.clone();
            // Who the bot is tells @mentions apart and shows on the status route; one
            // unbilled call when the connection opens, not on the first group message.
            if let Err(e) = self.inbound.bot_open_id(&integration).await {
                tracing::warn!(error = %e, integration.id = %id, "could not ask Lark who the bot is; will ask again");
            }
            let sink = Sink { inbound: self.inbound.clone(), integration };
            tracing::info!(integration.id = %id, "opening the Lark long connection");
            live.insert(id, Live { conn: LongConnection::spawn(config, Arc::new(sink)), version });
        }
        Ok(())
    }

    /// The connection of `integration`, if it has one.
    pub async fn status(&self, integration: &str) -> Option<ConnStatus> {
        self.live.lock().await.get(integration).map(|l| l.conn.status())
    }

    /// Drops and re-opens the connection of `integration`. False if it has none.
    pub async fn reconnect(&self, integration: &str) -> bool {
        self.live.lock().await.get(integration).map(|l| l.conn.reconnect()).is_some()
    }

    /// Closes the connection of `integration` until a reconnect. False if it has none.
    pub async fn disconnect(&self, integration: &str) -> bool {
        self.live.lock().await.get(integration).map(|l| l.conn.disconnect()).is_some()
    }

    /// Closes every connection (at shutdown).
    pub async fn shutdown(&self) {
        let all: Vec<Live> = self.live.lock().await.drain().map(|(_, l)| l).collect();
        for l in all {
            l.conn.shutdown().await;
        }
    }
}
