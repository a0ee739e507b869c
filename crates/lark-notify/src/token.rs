//! The tenant token cache: one fetch at a time, shared by every caller of a client.

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use tokio::sync::Mutex;
use tokio::time::Instant;

/// Refresh this long before Lark's `expire` (the Go, Java and Node SDKs use 180 s).
pub(crate) const REFRESH_MARGIN: Duration = Duration::from_secs(180);

#[derive(Debug)]
struct Cached {
    token: SecretString,
    fresh_until: Instant,
}

/// A cached tenant token.
#[derive(Debug, Default)]
pub(crate) struct TokenCache {
    // A tokio mutex held across the fetch: the first caller fetches, the others wait for
    // it and then use its token instead of fetching their own.
    slot: Mutex<Option<Cached>>,
}

impl TokenCache {
    /// Returns the cached token, or fetches one with `fetch` (which answers the token and
    /// its lifetime) while every other caller waits.
    pub(crate) async fn get<F, Fut, E>(&self, fetch: F) -> Result<SecretString, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<(SecretString, Duration), E>>,
    {
        let mut slot = self.slot.lock().await;
        if let Some(cached) = slot.as_ref()
            && Instant::now() < cached.fresh_until
        {
            return Ok(cached.token.clone());
        }
        let (token, lifetime) = fetch().await?;
        let fresh_until = Instant::now() + lifetime.saturating_sub(REFRESH_MARGIN);
        *slot = Some(Cached { token: token.clone(), fresh_until });
        Ok(token)
    }

    /// Forgets `rejected` if it is still the cached token. A token that another caller has
    /// already replaced stays: evicting it would make every rejected caller fetch anew.
    pub(crate) async fn evict(&self, rejected: &SecretString) {
        let mut slot = self.slot.lock().await;
        if slot.as_ref().is_some_and(|c| c.token.expose_secret() == rejected.expose_secret()) {
            *slot = None;
        }
    }
}
