//! The group manager: turns requested groups into Lark chats and keeps live groups in step
//! (people to add, the card to post or update), through each integration's shared client
//! and under its monthly budget.
//!
//! [`GroupManager::run_once`] is one pass with time from the injected clock: tests drive it
//! with a manual clock, and `desk serve` loops over it. Every Lark side effect is driven by
//! a durable row (the group itself, or a queued piece of work) claimed under a lease, and
//! every create and send carries a `uuid` derived from the row, so a retry after a timeout
//! or a crash finds what the first call made instead of making a second one.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use desk_core::notify::{self, NotifyClass};
use desk_core::{Actor, ActorKind, Integration, LarkMode, MembershipVia, OrgId, Person, PersonId};
use desk_store::{
    ChatKind, ChatMember, ChatState, Clock, Group, GroupRequest, GroupTask, GroupTaskKind, MemberChange, Store,
    StoreError,
};
use lark_notify::cards::{self, Lang, TicketCard};
use lark_notify::dispatch::{LaneError, Lanes};
use lark_notify::wire::{Content, CreateChat, ReceiveId, UpdateChat};
use lark_notify::{LarkClient, LarkError, with_purpose};
use rand::Rng as _;
use uuid::Uuid;

use crate::external::{self, Refusal, UNUSABLE_IDS};

/// Longest group name the desk asks Lark for, in characters. lark-spec.md names no limit
/// for `name`; 60 is a conservative choice (an assumption, L) that keeps `#N` and the start
/// of the title readable in Lark's chat list. Longer names are cut with an ellipsis.
pub const CHAT_NAME_MAX: usize = 60;
/// Most users in one create or add-members call (lark-spec.md §3.1, §3.3).
const USERS_PER_CALL: usize = 50;
/// How long work the budget refused waits before asking again.
const BUDGET_RECHECK: Duration = Duration::from_secs(300);
/// What the ledger says these calls were for.
const PURPOSE: &str = "group";

/// How the group manager works.
#[derive(Debug, Clone)]
pub struct GroupSettings {
    /// How people reach the desk (the card's Service Desk link).
    pub public_url: String,
    /// How long a claimed row is held before another worker may try it.
    pub lease: Duration,
    /// Most rows taken per query.
    pub batch: u64,
}

impl GroupSettings {
    /// Defaults around the public URL.
    pub fn new(public_url: impl Into<String>) -> Self {
        Self { public_url: public_url.into(), lease: Duration::from_secs(60), batch: 50 }
    }
}

/// What one pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GroupReport {
    /// Groups made in Lark.
    pub created: usize,
    /// Attempts that failed and will be retried.
    pub retried: usize,
    /// Groups or work held back by the budget.
    pub deferred: usize,
    /// Groups Lark refused for good (until someone fixes the cause and retries).
    pub failed: usize,
    /// Pieces of work done (people added, cards posted or updated).
    pub work_done: usize,
    /// Pieces of work that failed and will be retried.
    pub work_retried: usize,
    /// Pieces of work given up on.
    pub work_parked: usize,
}

impl GroupReport {
    /// Whether the pass did anything.
    pub fn is_idle(&self) -> bool {
        *self == Self::default()
    }
}

impl std::ops::AddAssign for GroupReport {
    fn add_assign(&mut self, o: Self) {
        self.created += o.created;
        self.retried += o.retried;
        self.deferred += o.deferred;
        self.failed += o.failed;
        self.work_done += o.work_done;
        self.work_retried += o.work_retried;
        self.work_parked += o.work_parked;
    }
}

/// Why a pass or a request stopped.
#[derive(Debug, thiserror::Error)]
pub enum GroupError {
    /// The database refused.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Lark refused to make the group, for a reason someone has to fix; `detail` says what.
    #[error("{detail}")]
    Refused {
        /// Stable code (`lark_external_chat_disabled`, …; see [`external::CODES`]).
        code: &'static str,
        /// What happened and what to do.
        detail: String,
    },
}

/// How one attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Done,
    Retried,
    Deferred,
    Failed,
}

/// Makes and tends groups. Cheap to clone (one pointer: it sits in the application state,
/// which many futures hold).
#[derive(Debug, Clone)]
pub struct GroupManager {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    store: Store,
    clock: Arc<dyn Clock>,
    lanes: Lanes,
    settings: GroupSettings,
}

/// The integrations work may go through now: every one not in mode `off`.
type Usable = HashMap<String, Integration>;

impl GroupManager {
    /// A group manager over `store`, calling Lark through `lanes`.
    pub fn new(store: Store, clock: Arc<dyn Clock>, lanes: Lanes, settings: GroupSettings) -> Self {
        Self { inner: Arc::new(Inner { store, clock, lanes, settings }) }
    }

    /// The clients it calls through.
    pub fn lanes(&self) -> &Lanes {
        &self.inner.lanes
    }

    async fn usable(&self) -> Result<Usable, StoreError> {
        Ok(self
            .inner
            .store
            .list_integrations()
            .await?
            .into_iter()
            .filter(|i| i.mode != LarkMode::Off)
            .map(|i| (i.id.clone(), i))
            .collect())
    }

    /// One pass: make the groups that wait, then do the work queued on live ones.
    pub async fn run_once(&self) -> Result<GroupReport, GroupError> {
        let mut report = GroupReport::default();
        let result = self.pass(&mut report).await;
        // Whatever happened, the calls that were made go to the ledger.
        self.inner.lanes.flush_ledger().await?;
        result.map(|()| report)
    }

    async fn pass(&self, report: &mut GroupReport) -> Result<(), GroupError> {
        let usable = self.usable().await?;
        let ids: Vec<String> = usable.keys().cloned().collect();
        let full = |n: usize| n == usize::try_from(self.inner.settings.batch).unwrap_or(usize::MAX);
        loop {
            let now = self.inner.clock.now();
            let batch = self
                .inner
                .store
                .claim_group_requests(&ids, now, self.inner.settings.lease, self.inner.settings.batch)
                .await?;
            for request in &batch {
                match self.make(&usable, request).await? {
                    Outcome::Done => report.created += 1,
                    Outcome::Retried => report.retried += 1,
                    Outcome::Deferred => report.deferred += 1,
                    Outcome::Failed => report.failed += 1,
                }
            }
            if !full(batch.len()) {
                break;
            }
        }
        loop {
            let now = self.inner.clock.now();
            let batch = self
                .inner
                .store
                .claim_group_tasks(&ids, now, self.inner.settings.lease, self.inner.settings.batch)
                .await?;
            for task in &batch {
                match self.work(&usable, task).await? {
                    Outcome::Done => report.work_done += 1,
                    Outcome::Retried => report.work_retried += 1,
                    Outcome::Deferred => report.deferred += 1,
                    Outcome::Failed => report.work_parked += 1,
                }
            }
            if !full(batch.len()) {
                return Ok(());
            }
        }
    }

    /// Asks for `org`'s main service group and tries to make it at once, so the caller
    /// hears how it went: active, still requested (Lark did not answer, or the integration
    /// is `off`: the worker carries on), or refused with what to fix.
    pub async fn create_main_group(&self, org: OrgId) -> Result<Group, GroupError> {
        let group = self.inner.store.request_main_group(org, self.inner.clock.now()).await?;
        let usable = self.usable().await?;
        let ids: Vec<String> = usable.keys().cloned().collect();
        let claimed = self
            .inner
            .store
            .claim_group_request(group.id, &ids, self.inner.clock.now(), self.inner.settings.lease)
            .await?;
        if let Some(request) = claimed {
            let made = self.make(&usable, &request).await;
            self.inner.lanes.flush_ledger().await?;
            made?;
        }
        let group = self.inner.store.group(group.id).await?;
        match (group.state, &group.error_code) {
            (ChatState::Failed, Some(code)) => Err(GroupError::Refused {
                code: external::known_code(code),
                detail: group.last_error.clone().unwrap_or_else(|| "Lark refused to make the group".into()),
            }),
            _ => Ok(group),
        }
    }

    /// Binds an existing chat as `org`'s main group; its card goes up on the next pass.
    pub async fn bind_main_group(&self, org: OrgId, chat_id: &str) -> Result<Group, GroupError> {
        Ok(self.inner.store.bind_main_group(org, chat_id, self.inner.clock.now()).await?)
    }

    /// Tries a failed group again.
    pub async fn retry(&self, id: Uuid) -> Result<Group, GroupError> {
        Ok(self.inner.store.retry_group(id, self.inner.clock.now()).await?)
    }

    /// The client of a usable integration, or why there is none.
    async fn client(&self, usable: &Usable, id: Option<&str>) -> Result<(Integration, Arc<LarkClient>), String> {
        let integration = id
            .and_then(|id| usable.get(id))
            .cloned()
            .ok_or_else(|| format!("integration {} is off or gone", id.unwrap_or("?")))?;
        match self.inner.lanes.client(&integration).await {
            Ok(client) => Ok((integration, client)),
            Err(LaneError::Store(e)) => Err(format!("cannot read the integration's secrets: {e}")),
            Err(LaneError::Lark(e)) => Err(format!("cannot build the Lark client: {e}")),
        }
    }

    /// Reserves one billed call; `false` when the month's budget is spent.
    async fn reserve(&self, integration: &Integration, class: NotifyClass) -> Result<bool, StoreError> {
        let now = self.inner.clock.now();
        let reserved = self.inner.store.reserve_call(&integration.id, integration.monthly_budget, class, now).await?;
        if reserved.is_none() {
            tracing::warn!(
                integration.id = %integration.id,
                "Lark API budget for the month is spent; group work waits until it resets or is raised"
            );
        }
        Ok(reserved.is_some())
    }

    /// After a failed call: a refused call is not billed, so its slot goes back.
    async fn settle(&self, integration: &Integration, class: NotifyClass, e: &LarkError) -> Result<(), StoreError> {
        if e.is_refusal() {
            let now = self.inner.clock.now();
            self.inner.store.release_call(&integration.id, class, now, now).await?;
        }
        Ok(())
    }

    /// When to try again after failed attempt `attempt`, with jitter.
    fn retry_at(&self, e: &LarkError, attempt: u32) -> DateTime<Utc> {
        let attempt = i32::try_from(attempt).unwrap_or(i32::MAX);
        let wait = e.retry_after().unwrap_or_else(|| notify::retry_backoff(attempt));
        let jitter = Duration::from_millis(rand::rng().random_range(0..=wait.as_millis().min(5_000) as u64 / 4));
        self.inner.clock.now() + chrono::Duration::from_std(wait + jitter).unwrap_or(chrono::Duration::zero())
    }

    fn later(&self, wait: Duration) -> DateTime<Utc> {
        self.inner.clock.now() + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::zero())
    }

    // ---- making a group ------------------------------------------------------------------

    /// One attempt at making a requested group in Lark.
    #[tracing::instrument(name = "make group", skip_all, fields(group.id = %req.id, group.kind = req.kind.as_str(), attempt = req.attempt))]
    async fn make(&self, usable: &Usable, req: &GroupRequest) -> Result<Outcome, GroupError> {
        let (integration, client) = match self.client(usable, Some(&req.integration_id)).await {
            Ok(c) => c,
            Err(why) => {
                self.inner.store.group_defer(req.id, &why, self.later(BUDGET_RECHECK), self.inner.clock.now()).await?;
                return Ok(Outcome::Deferred);
            }
        };
        let audience = self.inner.store.group_audience(req.id).await?;
        let app = external::app_tenant(audience.app_org);
        // Only people bound to Lark can be put in a chat; the rest join when bound (or by invite).
        let members: Vec<&Person> = audience.people.iter().filter(|p| p.lark_open_id.is_some()).collect();
        let external = external::is_external(app, members.iter().map(|p| external::tenant_of(p, &audience.org, app)));
        let open_ids: Vec<String> = members.iter().filter_map(|p| p.lark_open_id.clone()).collect();
        let mut in_create = open_ids.len().min(USERS_PER_CALL);
        let name = chat_name(&req.name);
        loop {
            if !self.reserve(&integration, NotifyClass::Action).await? {
                let until = self.later(BUDGET_RECHECK);
                let reason = "waiting for the monthly Lark API budget";
                self.inner.store.group_defer(req.id, reason, until, self.inner.clock.now()).await?;
                return Ok(Outcome::Deferred);
            }
            let body = CreateChat {
                name: Some(name.clone()),
                user_id_list: open_ids[..in_create].to_vec(),
                external: external.then_some(true),
                ..CreateChat::default()
            };
            // The row id is Lark's `uuid`: however often this is retried (a timeout, a crash,
            // two workers), Lark makes one chat for it within its 10-hour window. The owner is
            // the bot (omitted), so the key stays the same whoever the assignee is by then.
            let created = with_purpose(PURPOSE, client.create_chat(&body, &req.id.to_string(), true)).await;
            let now = self.inner.clock.now();
            match created {
                Ok(chat) => {
                    let Some(chat_id) = chat.chat_id else {
                        let e = LarkError::Decode { status: 200, detail: "no chat_id in the answer".into() };
                        return self.make_failed(&integration, req, &e, external).await;
                    };
                    let later: Vec<PersonId> = members[in_create..].iter().map(|p| p.id).collect();
                    self.inner.store.group_made(req.id, &chat_id, external, &later, now).await?;
                    let joined: Vec<ChatMember> = members[..in_create].iter().map(|p| member_of(p)).collect();
                    self.record_joined(req.id, req.ticket_id, &joined).await?;
                    tracing::info!(lark.chat_id = %chat_id, external, members = joined.len(), "group made in Lark");
                    return Ok(Outcome::Done);
                }
                Err(e) => {
                    self.settle(&integration, NotifyClass::Action, &e).await?;
                    // Lark refuses the whole call when one user id is of no use to the app;
                    // make the chat without them and add everyone afterwards, where Lark
                    // adds who it can and names the rest.
                    if in_create > 0 && e.code().is_some_and(|c| UNUSABLE_IDS.contains(&c)) {
                        tracing::info!(error = %e, "Lark refused a member of the new group; making it empty first");
                        in_create = 0;
                        continue;
                    }
                    return self.make_failed(&integration, req, &e, external).await;
                }
            }
        }
    }

    async fn make_failed(
        &self,
        integration: &Integration,
        req: &GroupRequest,
        e: &LarkError,
        external: bool,
    ) -> Result<Outcome, GroupError> {
        let now = self.inner.clock.now();
        if let LarkError::QuotaExhausted { .. } = e {
            tracing::error!(integration.id = %integration.id, "Lark says this month's API quota is exhausted");
            let (_, next_month) = notify::month_bounds(now);
            self.inner.store.group_defer(req.id, &e.to_string(), next_month, now).await?;
            return Ok(Outcome::Deferred);
        }
        let attempts = i32::try_from(req.attempt).unwrap_or(i32::MAX);
        if e.is_retryable() && attempts < notify::MAX_ATTEMPTS {
            tracing::info!(error = %e, "Lark did not make the group; will retry with the same uuid");
            self.inner.store.group_retry_at(req.id, &e.to_string(), self.retry_at(e, req.attempt), now).await?;
            return Ok(Outcome::Retried);
        }
        let refusal = if e.is_retryable() {
            // Gave up well inside Lark's 10-hour uuid window: a retry later reuses the uuid.
            Refusal {
                code: "lark_unavailable",
                message: format!(
                    "Lark did not make the group after {} attempts (last: {e}); retry it later",
                    req.attempt
                ),
            }
        } else {
            external::explain(e, &integration.app_id, external).unwrap_or_else(|| Refusal {
                code: "lark_refused",
                message: format!("Lark refused to make the group: {e}"),
            })
        };
        tracing::warn!(error = %e, code = refusal.code, "group failed: {}", refusal.message);
        self.inner.store.group_failed(req.id, refusal.code, &refusal.message, now).await?;
        Ok(Outcome::Failed)
    }

    /// Records who the desk put into a group, and (for a ticket group) puts each on the
    /// ticket's timeline as the desk's doing; Lark's echo of it then changes nothing.
    async fn record_joined(
        &self,
        group: Uuid,
        ticket: Option<desk_core::TicketId>,
        joined: &[ChatMember],
    ) -> Result<(), StoreError> {
        if joined.is_empty() {
            return Ok(());
        }
        let actor = Actor { kind: ActorKind::System, person_id: None, name: "Larkdesk".to_owned() };
        let now = self.inner.clock.now();
        self.inner
            .store
            .record_membership(group, ticket, MemberChange::Added, joined, &actor, MembershipVia::Desk, now)
            .await
            .map(|_| ())
    }

    // ---- work on live groups -------------------------------------------------------------

    /// One attempt at a piece of work on a live group.
    #[tracing::instrument(name = "group work", skip_all, fields(group.id = %task.group.id, task.kind = task.kind.as_str(), attempt = task.attempt))]
    async fn work(&self, usable: &Usable, task: &GroupTask) -> Result<Outcome, GroupError> {
        let (integration, client) = match self.client(usable, task.group.integration_id.as_deref()).await {
            Ok(c) => c,
            Err(why) => {
                self.inner
                    .store
                    .group_task_defer(task, &why, self.later(BUDGET_RECHECK), self.inner.clock.now())
                    .await?;
                return Ok(Outcome::Deferred);
            }
        };
        let Some(chat_id) = task.group.chat_id.clone() else {
            self.inner.store.group_task_parked(task, "the group has no Lark chat", self.inner.clock.now()).await?;
            return Ok(Outcome::Failed);
        };
        let result = match task.kind {
            GroupTaskKind::AddMembers => self.add_members(&integration, &client, task, &chat_id).await?,
            GroupTaskKind::Card => self.card(&integration, &client, task, &chat_id).await?,
            GroupTaskKind::Rename => self.rename(&integration, &client, task, &chat_id).await?,
            GroupTaskKind::SyncMembers => self.sync_members(&integration, &client, task, &chat_id).await?,
        };
        let now = self.inner.clock.now();
        match result {
            Step::Done => {
                self.inner.store.group_task_done(task.id).await?;
                Ok(Outcome::Done)
            }
            Step::NoBudget => {
                let reason = "waiting for the monthly Lark API budget";
                self.inner.store.group_task_defer(task, reason, self.later(BUDGET_RECHECK), now).await?;
                Ok(Outcome::Deferred)
            }
            Step::Failed(e, class) => {
                self.settle(&integration, class, &e).await?;
                let attempts = i32::try_from(task.attempt).unwrap_or(i32::MAX);
                if let LarkError::QuotaExhausted { .. } = e {
                    let (_, next_month) = notify::month_bounds(now);
                    self.inner.store.group_task_defer(task, &e.to_string(), next_month, now).await?;
                    Ok(Outcome::Deferred)
                } else if e.is_retryable() && attempts < notify::MAX_ATTEMPTS {
                    self.inner
                        .store
                        .group_task_retry_at(task, &e.to_string(), self.retry_at(&e, task.attempt), now)
                        .await?;
                    Ok(Outcome::Retried)
                } else {
                    let words = external::explain(&e, &integration.app_id, task.group.external)
                        .map_or_else(|| format!("Lark refused: {e}"), |r| r.message);
                    tracing::warn!(error = %e, "group work parked: {words}");
                    self.inner.store.group_task_parked(task, &words, now).await?;
                    Ok(Outcome::Failed)
                }
            }
        }
    }

    /// Brings the task's people into the chat: those bound to Lark and not in it already.
    async fn add_members(
        &self,
        integration: &Integration,
        client: &LarkClient,
        task: &GroupTask,
        chat_id: &str,
    ) -> Result<Step, GroupError> {
        let present: std::collections::HashSet<String> =
            self.inner.store.chat_members(task.group.id).await?.into_iter().map(|m| m.open_id).collect();
        let mut people = Vec::new();
        for id in &task.people {
            match self.inner.store.person(*id).await {
                Ok(p) if p.active && p.lark_open_id.as_ref().is_some_and(|o| !present.contains(o)) => people.push(p),
                Ok(_) | Err(StoreError::NotFound { .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
        for chunk in people.chunks(USERS_PER_CALL) {
            if !self.reserve(integration, NotifyClass::Action).await? {
                return Ok(Step::NoBudget);
            }
            let ids: Vec<String> = chunk.iter().filter_map(|p| p.lark_open_id.clone()).collect();
            let answer = match with_purpose(PURPOSE, client.add_members(chat_id, &ids)).await {
                Ok(a) => a,
                Err(e) => return Ok(Step::Failed(e, NotifyClass::Action)),
            };
            let refused: Vec<&String> = answer
                .invalid_id_list
                .iter()
                .chain(&answer.not_existed_id_list)
                .chain(&answer.pending_approval_id_list)
                .collect();
            let joined: Vec<ChatMember> = chunk
                .iter()
                .filter(|p| p.lark_open_id.as_ref().is_some_and(|o| !refused.contains(&o)))
                .map(member_of)
                .collect();
            if !refused.is_empty() {
                tracing::warn!(?refused, "Lark did not add everyone to the group (unusable ids or awaiting approval)");
            }
            self.record_joined(task.group.id, task.group.ticket_id, &joined).await?;
        }
        Ok(Step::Done)
    }

    /// Posts the group's card, or updates the one posted before to show things as they are.
    async fn card(
        &self,
        integration: &Integration,
        client: &LarkClient,
        task: &GroupTask,
        chat_id: &str,
    ) -> Result<Step, GroupError> {
        let card = self.card_json(&task.group).await?;
        let now = self.inner.clock.now();
        match &task.group.card_message_id {
            None => {
                if !self.reserve(integration, NotifyClass::Action).await? {
                    return Ok(Step::NoBudget);
                }
                // One card per group: Lark de-duplicates this uuid for an hour.
                let uuid = format!("card-{}", task.group.id);
                let to = ReceiveId::chat(chat_id);
                match with_purpose(PURPOSE, client.send_message(&to, &Content::Card(card), &uuid)).await {
                    Ok(message) => {
                        self.inner.store.set_group_card(task.group.id, &message.message_id, now).await?;
                        Ok(Step::Done)
                    }
                    Err(e) => Ok(Step::Failed(e, NotifyClass::Action)),
                }
            }
            Some(message_id) => {
                if !self.reserve(integration, NotifyClass::StateChange).await? {
                    return Ok(Step::NoBudget);
                }
                match with_purpose(PURPOSE, client.update_card(message_id, &card)).await {
                    Ok(()) => Ok(Step::Done),
                    Err(e) => Ok(Step::Failed(e, NotifyClass::StateChange)),
                }
            }
        }
    }

    /// Reads the chat's members from Lark (billed, one call per 100) and makes the desk's
    /// list the same: who is there is added, who is gone is removed. Nothing goes on a
    /// timeline: this is catching up, not something that happened now.
    async fn sync_members(
        &self,
        integration: &Integration,
        client: &LarkClient,
        task: &GroupTask,
        chat_id: &str,
    ) -> Result<Step, GroupError> {
        let mut in_lark: Vec<ChatMember> = Vec::new();
        let mut page_token: Option<String> = None;
        loop {
            if !self.reserve(integration, NotifyClass::Cosmetic).await? {
                return Ok(Step::NoBudget);
            }
            let page = match with_purpose(PURPOSE, client.list_members(chat_id, page_token.as_deref(), 100)).await {
                Ok(page) => page,
                Err(e) => return Ok(Step::Failed(e, NotifyClass::Cosmetic)),
            };
            in_lark.extend(page.items.into_iter().map(|m| ChatMember {
                name: m.name.unwrap_or_else(|| m.member_id.clone()),
                open_id: m.member_id,
                person_id: None,
                tenant_key: m.tenant_key,
            }));
            match page.page_token.filter(|t| page.has_more && !t.is_empty()) {
                Some(next) => page_token = Some(next),
                None => break,
            }
        }
        let known = self.inner.store.chat_members(task.group.id).await?;
        let now = self.inner.clock.now();
        let gone: Vec<ChatMember> =
            known.into_iter().filter(|k| !in_lark.iter().any(|m| m.open_id == k.open_id)).collect();
        self.inner.store.apply_member_change(task.group.id, MemberChange::Added, &in_lark, now).await?;
        if !gone.is_empty() {
            self.inner.store.apply_member_change(task.group.id, MemberChange::Removed, &gone, now).await?;
        }
        Ok(Step::Done)
    }

    /// Gives the chat the group's name as it is now (a billed chat update).
    async fn rename(
        &self,
        integration: &Integration,
        client: &LarkClient,
        task: &GroupTask,
        chat_id: &str,
    ) -> Result<Step, GroupError> {
        let current = self.inner.store.group(task.group.id).await?;
        if !self.reserve(integration, NotifyClass::Cosmetic).await? {
            return Ok(Step::NoBudget);
        }
        let update = UpdateChat { name: Some(chat_name(&current.name)), description: None, owner_id: None };
        match with_purpose(PURPOSE, client.update_chat(chat_id, &update)).await {
            Ok(()) => Ok(Step::Done),
            Err(e) => Ok(Step::Failed(e, NotifyClass::Cosmetic)),
        }
    }

    /// The card of a group now: the ticket card for a ticket group, the main-group card
    /// (Create Ticket, Service Desk) for a main group.
    async fn card_json(&self, group: &Group) -> Result<serde_json::Value, GroupError> {
        let base = self.inner.settings.public_url.trim_end_matches('/');
        let desk_url = format!("{base}/desk/orgs/{}", group.org_id);
        let built = match (group.kind, group.ticket_id) {
            (ChatKind::Ticket, Some(ticket_id)) => {
                let ticket = self.inner.store.ticket(ticket_id).await?;
                let assignee = match ticket.assignee_id {
                    Some(a) => Some(self.inner.store.person(a).await?.name),
                    None => None,
                };
                let lang = match ticket.requester_id {
                    Some(r) => Lang::from_locale(self.inner.store.person(r).await?.locale.as_str()),
                    None => Lang::En,
                };
                let id = ticket.id.to_string();
                let card = TicketCard {
                    ticket_id: &id,
                    number: ticket.number,
                    title: &ticket.title,
                    severity: ticket.severity.as_str(),
                    status: ticket.status.as_str(),
                    assignee: assignee.as_deref(),
                    desk_url: &desk_url,
                    news: &[],
                };
                cards::ticket_card(&card, lang)
            }
            _ => {
                let org = self.inner.store.org(group.org_id).await?;
                cards::main_group_card(&org.name, &org.id.to_string(), &desk_url, Lang::En)
            }
        };
        built.map_err(|e| StoreError::Corrupt { table: "lark_chats", detail: format!("card: {e}") }.into())
    }
}

/// How a piece of work's Lark calls ended.
enum Step {
    Done,
    NoBudget,
    Failed(LarkError, NotifyClass),
}

/// A person as a chat member.
fn member_of(p: &Person) -> ChatMember {
    ChatMember {
        open_id: p.lark_open_id.clone().unwrap_or_default(),
        person_id: Some(p.id),
        name: p.name.clone(),
        tenant_key: None,
    }
}

/// A group name within Lark's limit, cut with an ellipsis.
pub fn chat_name(name: &str) -> String {
    if name.chars().count() <= CHAT_NAME_MAX {
        name.to_owned()
    } else {
        let mut cut: String = name.chars().take(CHAT_NAME_MAX - 1).collect();
        cut.push('…');
        cut
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_names_are_cut_to_lark_s_limit() {
        assert_eq!(chat_name("#7 VPN down"), "#7 VPN down");
        let long = format!("#12 {}", "数据".repeat(50));
        let cut = chat_name(&long);
        assert_eq!(cut.chars().count(), CHAT_NAME_MAX);
        assert!(cut.starts_with("#12 ") && cut.ends_with('…'));
    }
}
