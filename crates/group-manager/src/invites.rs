//! 24-hour invite links: create one for a group, show what it is for, and redeem it as a
//! Lark user identified through Lark's web-app login (lark-spec.md §9.2), which adds that
//! person to the group's chat.
//!
//! The token carries 256 bits from the operating system's RNG and exists only in the
//! answer to whoever created it; the database keeps its SHA-256. Redeeming checks the
//! link before spending the login code, then counts the use in one conditional UPDATE
//! (so a link is never used after its 24 hours, nor once too often), and gives the use
//! back when Lark refuses the add.

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use desk_core::invite::InviteState;
use desk_core::{Actor, InviteId, TicketId};
use desk_store::{
    ChatKind, ChatState, Clock, Invite, InviteJoin, InviteTarget, KnownChat, NewInvite, Page, PageRequest, Store,
    StoreError,
};
use lark_notify::dispatch::Lanes;
use lark_notify::{LOGIN_CODE_REJECTED, LOGIN_NO_ACCESS, LOGIN_REDIRECT_MISMATCH, LarkError, LoginCode};
use rand::TryRngCore as _;
use rand::rngs::OsRng;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::LarkCallError;
use crate::lark_call::{LarkLane, lane_of};

/// Every invite token starts with this, so a leaked one is recognisable (and a string
/// that does not is refused without a database look-up).
pub const TOKEN_PREFIX: &str = "ldi_";
/// 32 random bytes, base64url without padding.
const TOKEN_CHARS: usize = 43;
/// What the ledger says the Lark calls of a redemption were for.
const PURPOSE: &str = "invite";
/// Where Lark's login page sends the browser back to (relative to `DESK_PUBLIC_URL`).
pub const CALLBACK_PATH: &str = "/invite/callback";

/// Why an invite operation did not happen.
#[derive(Debug, thiserror::Error)]
pub enum InviteError {
    /// No link has this token (or it is not a token at all).
    #[error("no invite link matches this URL")]
    NotFound,
    /// Its 24 hours are over.
    #[error("this invite link expired at {0}; ask for a new one")]
    Expired(chrono::DateTime<chrono::Utc>),
    /// Revoked by staff, or because its ticket was closed.
    #[error("this invite link was revoked{}; ask for a new one", match .0.as_deref() {
        Some(desk_store::REVOKED_TICKET_CLOSED) => " when its ticket was closed",
        _ => "",
    })]
    Revoked(Option<String>),
    /// Every allowed use is taken.
    #[error("this invite link has been used as many times as it allows; ask for a new one")]
    UsedUp,
    /// The group was disbanded in Lark.
    #[error("the group of this invite was disbanded in Lark")]
    GroupGone,
    /// The group does not exist in Lark yet (or Lark refused to make it).
    #[error("the group of this invite does not exist in Lark yet; try again in a minute")]
    GroupNotReady,
    /// A ticket without a group.
    #[error("ticket {0} has no group yet")]
    NoGroup(TicketId),
    /// The group is not tied to a working Lark app, so nobody can log in for it.
    #[error("the group of this invite is not connected to a working Lark app: {0}")]
    NoLarkApp(String),
    /// Lark did not accept the login code: not found, expired (5 minutes), already used,
    /// or from another app.
    #[error("Lark did not accept the login code (Lark code {code}: {msg}); log in again")]
    LoginRejected {
        /// Lark's code.
        code: i64,
        /// Lark's words.
        msg: String,
    },
    /// The `redirect_uri` is not the one the login started with.
    #[error("redirect_uri is not the one the Lark login was started with")]
    RedirectMismatch,
    /// The person may not use this organisation's Lark app.
    #[error("your Lark account may not use this organisation's Lark app; ask its administrator")]
    NoAppAccess,
    /// Lark refused to add the person to the chat.
    #[error("Lark refused to add you to the group (Lark code {code}): {msg}")]
    AddRefused {
        /// Lark's code (0 when Lark answered success but listed the person as unusable).
        code: i64,
        /// Lark's words.
        msg: String,
    },
    /// The integration's monthly Lark API budget is spent.
    #[error("this month's Lark API budget of the organisation is spent; try again next month or ask staff")]
    BudgetSpent,
    /// Lark could not be reached or answered in a way that retrying may fix.
    #[error("Lark is not answering right now; try again in a moment")]
    LarkUnavailable(#[source] LarkError),
    /// Lark answered something the desk cannot work with.
    #[error("Lark refused the request")]
    Lark(#[source] LarkError),
    /// The operating system's random number generator failed (no token can be made).
    #[error("the operating system's random number generator failed: {0}")]
    Rng(String),
    /// The database.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl InviteError {
    /// A failed Lark call; `lark` says what a Lark answer means for this call.
    fn call(e: LarkCallError, lark: impl FnOnce(LarkError) -> Self) -> Self {
        match e {
            LarkCallError::Store(s) => Self::Store(s),
            e @ (LarkCallError::NoIntegration(_) | LarkCallError::Off(_)) => Self::NoLarkApp(e.to_string()),
            LarkCallError::BudgetSpent(_) => Self::BudgetSpent,
            LarkCallError::Lark(l) => lark(l),
        }
    }
}

impl InviteError {
    fn from_state(state: InviteState, invite: &Invite) -> Option<Self> {
        match state {
            InviteState::Live => None,
            InviteState::Expired => Some(Self::Expired(invite.expires_at)),
            InviteState::Revoked => Some(Self::Revoked(invite.revoked_reason.clone())),
            InviteState::UsedUp => Some(Self::UsedUp),
        }
    }

    /// A Lark failure of a call that is not about the person (user info, add members).
    fn lark(e: LarkError) -> Self {
        if e.is_retryable() || matches!(e, LarkError::QuotaExhausted { .. }) {
            Self::LarkUnavailable(e)
        } else {
            Self::Lark(e)
        }
    }

    fn login(e: LarkError) -> Self {
        match &e {
            LarkError::Api { code, msg, .. } if LOGIN_CODE_REJECTED.contains(code) => {
                Self::LoginRejected { code: *code, msg: msg.clone() }
            }
            LarkError::Api { code, .. } if *code == LOGIN_REDIRECT_MISMATCH => Self::RedirectMismatch,
            LarkError::Api { code, .. } if *code == LOGIN_NO_ACCESS => Self::NoAppAccess,
            _ => Self::lark(e),
        }
    }
}

/// A freshly created link: the only time its token exists outside the person who asked.
pub struct IssuedInvite {
    /// Its metadata.
    pub invite: Invite,
    /// The token (`ldi_…`).
    pub token: String,
    /// `{DESK_PUBLIC_URL}/invite/{token}`.
    pub url: String,
    /// The group it lets people into.
    pub group: KnownChat,
}

impl std::fmt::Debug for IssuedInvite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedInvite").field("invite", &self.invite).field("token", &"[redacted]").finish()
    }
}

/// How a browser logs in to redeem: Lark's authorize page and where it returns to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginStart {
    /// Lark's authorize page for the group's app, without `state` (the browser adds its own).
    pub authorize_url: String,
    /// Where Lark sends the browser back: `{DESK_PUBLIC_URL}/invite/callback`.
    pub redirect_uri: String,
    /// The app (`cli_…`), for the H5 login inside the Lark client (`tt.requestAccess`).
    pub app_id: String,
}

/// What a link is for, as the person who opens it sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InviteView {
    /// The link (live).
    pub invite: Invite,
    /// The organisation's name.
    pub org_name: String,
    /// The group's name.
    pub group_name: String,
    /// Main service group or ticket group.
    pub group_kind: ChatKind,
    /// For a ticket group: its ticket's number and title.
    pub ticket: Option<(i64, String)>,
    /// How to log in, when the group is connected to a Lark app.
    pub login: Option<LoginStart>,
}

/// What redeeming did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Redeemed {
    /// The person is now in the chat.
    Joined {
        /// The chat (`oc_…`).
        chat_id: String,
        /// Their name in Lark.
        name: String,
        /// Lark holds the add for an administrator's approval.
        pending_approval: bool,
    },
    /// They were in it already; no use was taken.
    AlreadyMember {
        /// The chat.
        chat_id: String,
        /// Their name in Lark.
        name: String,
    },
}

/// The invite-link use cases. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Invites {
    store: Store,
    clock: Arc<dyn Clock>,
    lanes: Lanes,
    public_url: Arc<str>,
}

/// A new token: `ldi_` and 256 bits from the operating system's RNG, base64url.
fn new_token() -> Result<String, InviteError> {
    let mut bytes = [0u8; 32];
    OsRng.try_fill_bytes(&mut bytes).map_err(|e| InviteError::Rng(e.to_string()))?;
    Ok(format!("{TOKEN_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes)))
}

/// SHA-256 of a token, hex: what the database keeps. The token carries 256 random bits,
/// so a plain hash is enough (there is nothing to brute-force).
pub fn token_hash(token: &str) -> String {
    Sha256::digest(token.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether `s` has the shape of a token this desk issues.
fn well_formed(s: &str) -> bool {
    s.strip_prefix(TOKEN_PREFIX).is_some_and(|rest| {
        rest.len() == TOKEN_CHARS && rest.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    })
}

impl Invites {
    /// The use cases over the store, the clock and the Lark clients; links live under
    /// `public_url` (`DESK_PUBLIC_URL`).
    pub fn new(store: Store, clock: Arc<dyn Clock>, lanes: Lanes, public_url: &str) -> Self {
        Self { store, clock, lanes, public_url: Arc::from(public_url.trim_end_matches('/')) }
    }

    /// `{public_url}/invite/{token}`.
    pub fn url_of(&self, token: &str) -> String {
        format!("{}/invite/{token}", self.public_url)
    }

    /// Creates a link to `group`, valid for 24 hours, limited to `max_uses` when given.
    pub async fn create(&self, group: Uuid, max_uses: Option<u32>, by: &Actor) -> Result<IssuedInvite, InviteError> {
        let token = new_token()?;
        let new = NewInvite { group, token_hash: token_hash(&token), max_uses, created_by: by.clone() };
        let (invite, group) = self.store.create_invite(new, self.clock.now()).await?;
        Ok(IssuedInvite { url: self.url_of(&token), invite, token, group })
    }

    /// Creates a link to `ticket`'s group (the card's *Add members* button). The group
    /// must exist in Lark.
    pub async fn create_for_ticket(&self, ticket: TicketId, by: &Actor) -> Result<IssuedInvite, InviteError> {
        let group = self.store.ticket_chat(ticket).await?.ok_or(InviteError::NoGroup(ticket))?;
        match group.state {
            ChatState::Active => self.create(group.row_id, None, by).await,
            ChatState::Gone => Err(InviteError::GroupGone),
            _ => Err(InviteError::GroupNotReady),
        }
    }

    /// A group's live links, oldest first.
    pub async fn list(&self, group: Uuid, page: &PageRequest) -> Result<Page<Invite>, InviteError> {
        Ok(self.store.live_invites(group, page, self.clock.now()).await?)
    }

    /// Revokes a link (again: no change).
    pub async fn revoke(&self, id: InviteId) -> Result<Invite, InviteError> {
        Ok(self.store.revoke_invite(id, self.clock.now()).await?)
    }

    /// The link a token names, if it is live.
    async fn live(&self, token: &str) -> Result<InviteTarget, InviteError> {
        if !well_formed(token) {
            return Err(InviteError::NotFound);
        }
        let target = self.store.invite_by_token_hash(&token_hash(token)).await?.ok_or(InviteError::NotFound)?;
        // Bound to its group and that group's organisation: a link whose group moved to
        // another organisation names nothing.
        if target.invite.org_id != target.group.org_id {
            return Err(InviteError::NotFound);
        }
        match InviteError::from_state(target.invite.state(self.clock.now()), &target.invite) {
            Some(refused) => Err(refused),
            None => Ok(target),
        }
    }

    /// Checks that `token` names a live link (404, 410 otherwise), without telling more.
    pub async fn check(&self, token: &str) -> Result<(), InviteError> {
        self.live(token).await.map(|_| ())
    }

    /// What a live link is for, and how to log in to use it.
    pub async fn look(&self, token: &str) -> Result<InviteView, InviteError> {
        let target = self.live(token).await?;
        let login = match &target.group.integration_id {
            Some(id) => {
                let integration = self.store.integration(id).await?;
                let redirect_uri = format!("{}{CALLBACK_PATH}", self.public_url);
                Some(LoginStart {
                    authorize_url: lark_notify::authorize_url(
                        &integration.base_url,
                        &integration.app_id,
                        &redirect_uri,
                    ),
                    redirect_uri,
                    app_id: integration.app_id,
                })
            }
            None => None,
        };
        Ok(InviteView {
            org_name: target.org_name,
            group_name: target.group.name,
            group_kind: target.group.kind,
            ticket: target.ticket,
            invite: target.invite,
            login,
        })
    }

    /// Redeems a link as the Lark user who logged in with `code`: adds them to the chat.
    pub async fn redeem(&self, token: &str, code: &str, redirect_uri: Option<&str>) -> Result<Redeemed, InviteError> {
        let target = self.live(token).await?;
        let group = &target.group;
        let chat_id = match (group.state, &group.chat_id) {
            (ChatState::Gone, _) => return Err(InviteError::GroupGone),
            (ChatState::Active, Some(chat_id)) => chat_id.clone(),
            _ => return Err(InviteError::GroupNotReady),
        };
        let integration_id = group
            .integration_id
            .as_deref()
            .ok_or_else(|| InviteError::NoLarkApp(format!("group {} has no Lark app", group.row_id)))?;
        let integration = self.store.integration(integration_id).await?;
        let lane = lane_of(&self.lanes, integration).await.map_err(|e| InviteError::call(e, InviteError::lark))?;

        // Who is this? The code is spent here, so the link was checked first.
        let login = LoginCode { code, redirect_uri, code_verifier: None };
        let user_token = lane
            .unbilled(&self.lanes, PURPOSE, |c| async move { c.exchange_login_code(&login).await })
            .await
            .map_err(|e| InviteError::call(e, InviteError::login))?;
        let user = lane
            .unbilled(&self.lanes, PURPOSE, |c| async move { c.login_user_info(&user_token.access_token).await })
            .await
            .map_err(|e| InviteError::call(e, InviteError::lark))?;
        let name = if user.name.is_empty() { user.open_id.clone() } else { user.name.clone() };
        if self.store.has_chat_member(group.row_id, &user.open_id).await? {
            return Ok(Redeemed::AlreadyMember { chat_id, name });
        }

        // Count the use at this instant, atomically; refuse if the link died meanwhile.
        let invite = &target.invite;
        let state = self.store.take_invite_use(invite.id, self.clock.now()).await?;
        if let Some(refused) = InviteError::from_state(state, invite) {
            return Err(refused);
        }
        match self.add(&lane, &chat_id, &user.open_id).await {
            Ok(pending_approval) => {
                let join = InviteJoin {
                    invite: invite.id,
                    group: group.row_id,
                    open_id: user.open_id.clone(),
                    name: name.clone(),
                    tenant_key: user.tenant_key.clone(),
                    pending_approval,
                };
                self.store.record_invite_join(&join, self.clock.now()).await?;
                tracing::info!(invite.id = %invite.id, group.id = %group.row_id, lark.chat_id = %chat_id, "joined through an invite link");
                Ok(Redeemed::Joined { chat_id, name, pending_approval })
            }
            Err((error, keep_use)) => {
                if !keep_use {
                    self.store.give_back_invite_use(invite.id).await?;
                }
                Err(error)
            }
        }
    }

    /// Adds one person to a chat, a billed call reserved against the budget. Returns
    /// whether Lark holds the add for approval; on failure, the error and whether the use
    /// must be kept (Lark did not answer, so the add may have happened).
    async fn add(&self, lane: &LarkLane, chat_id: &str, open_id: &str) -> Result<bool, (InviteError, bool)> {
        let ids = [open_id.to_owned()];
        let added = lane
            .billed(&self.store, &self.lanes, PURPOSE, self.clock.now(), |c| async move {
                c.add_members(chat_id, &ids).await
            })
            .await;
        match added {
            Ok(added) => {
                let unusable = added.invalid_id_list.iter().chain(&added.not_existed_id_list).any(|id| id == open_id);
                if unusable {
                    let msg = "Lark cannot add this account (resigned, invisible to the app, or unknown)";
                    return Err((InviteError::AddRefused { code: 0, msg: msg.into() }, false));
                }
                Ok(added.pending_approval_id_list.iter().any(|id| id == open_id))
            }
            Err(e) => {
                let keep_use = matches!(&e, LarkCallError::Lark(LarkError::Timeout | LarkError::Transport(_)));
                let error = InviteError::call(e, |l| match l {
                    l if l.is_retryable() => InviteError::lark(l),
                    // 232009: the chat was disbanded.
                    LarkError::Api { code: 232_009, .. } => InviteError::GroupGone,
                    LarkError::Api { code, msg, .. } => InviteError::AddRefused { code, msg },
                    other => InviteError::lark(other),
                });
                Err((error, keep_use))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_carry_256_bits_and_are_told_apart_from_junk() {
        let a = new_token().unwrap();
        let b = new_token().unwrap();
        assert_ne!(a, b);
        assert!(well_formed(&a), "{a}");
        assert_eq!(URL_SAFE_NO_PAD.decode(a.trim_start_matches(TOKEN_PREFIX)).unwrap().len(), 32);
        assert!(!well_formed("ldi_short"));
        assert!(!well_formed(&a.replacen(TOKEN_PREFIX, "ldk_", 1)));
        assert!(!well_formed(&format!("{a}x")));
        assert_eq!(token_hash(&a).len(), 64);
        assert_ne!(token_hash(&a), token_hash(&b));
    }
}
