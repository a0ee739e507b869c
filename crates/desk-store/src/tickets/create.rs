//! Opening tickets, batched.
//!
//! Every create goes through one writer task per process. It takes whatever requests
//! are waiting (up to [`BATCH_MAX`]) and writes them in one transaction: one counter
//! bump, one multi-row insert per table, one commit. On SQLite, where writes are
//! serialised, the round trips per transaction, not the rows, set the pace; batching
//! is what lets one file take thousands of tickets a second. If a batch fails (a
//! duplicate external reference, say), each request is retried on its own, so only the
//! offending request sees the error. Nothing is written before its transaction commits,
//! and a caller who gives up waiting still gets its ticket stored.

use chrono::{DateTime, Utc};
use desk_core::{Actor, NewTicket, Ticket, TicketStatus, TimelineEvent};
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{ConnectionTrait, EntityTrait, IntoActiveModel};
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use super::{TimelineRows, timeline_rows, to_domain};
use crate::StoreError;
use crate::db::Db;
use crate::entity::{counter, external_ref, ticket};

/// Most tickets written in one transaction.
const BATCH_MAX: usize = 64;
/// Requests waiting for the writer before callers wait to enqueue.
const QUEUE_MAX: usize = 1024;

/// One checked request to open a ticket.
#[derive(Debug)]
pub(crate) struct CreateRequest {
    pub(crate) new: NewTicket,
    pub(crate) actor: Actor,
    pub(crate) now: DateTime<Utc>,
    pub(crate) assignee_name: Option<String>,
}

type Job = (CreateRequest, oneshot::Sender<Result<Ticket, StoreError>>);

/// The handle to the writer task; the task ends when the last handle is dropped.
#[derive(Debug, Clone)]
pub(crate) struct TicketWriter {
    queue: mpsc::Sender<Job>,
}

impl TicketWriter {
    /// Starts the writer on the current tokio runtime.
    pub(crate) fn spawn(db: Db) -> Self {
        let (queue, rx) = mpsc::channel(QUEUE_MAX);
        tokio::spawn(run(db, rx));
        Self { queue }
    }

    /// Writes one ticket (with whatever else is waiting) and returns it.
    pub(crate) async fn create(&self, request: CreateRequest) -> Result<Ticket, StoreError> {
        let (reply, answer) = oneshot::channel();
        let gone = || StoreError::Unavailable(sea_orm::DbErr::Custom("the ticket writer has stopped".into()));
        self.queue.send((request, reply)).await.map_err(|_| gone())?;
        answer.await.map_err(|_| gone())?
    }
}

async fn run(db: Db, mut rx: mpsc::Receiver<Job>) {
    let mut jobs = Vec::with_capacity(BATCH_MAX);
    while rx.recv_many(&mut jobs, BATCH_MAX).await > 0 {
        let (requests, replies): (Vec<_>, Vec<_>) = std::mem::take(&mut jobs).into_iter().unzip();
        match write_batch(&db, &requests).await {
            Ok(tickets) => {
                for (reply, ticket) in replies.into_iter().zip(tickets) {
                    // The caller may have gone; its ticket is stored all the same.
                    let _ = reply.send(Ok(ticket));
                }
            }
            Err(e) if requests.len() == 1 => {
                if let Some(reply) = replies.into_iter().next() {
                    let _ = reply.send(Err(e));
                }
            }
            Err(_) => {
                for (request, reply) in requests.iter().zip(replies) {
                    let result = write_batch(&db, std::slice::from_ref(request)).await;
                    let _ = reply.send(result.map(|mut t| t.remove(0)));
                }
            }
        }
    }
}

/// Adds `n` to the ticket counter and returns the first of the `n` numbers. The row stays
/// locked until commit, so numbers are unique and gap-free across instances.
async fn take_numbers<C: ConnectionTrait>(db: &C, n: usize) -> Result<i64, StoreError> {
    let n = i64::try_from(n).unwrap_or(i64::MAX);
    let stmt = Query::update()
        .table(counter::Entity)
        .value(counter::Column::Value, Expr::col(counter::Column::Value).add(n))
        .and_where(Expr::col(counter::Column::Name).eq("ticket_number"))
        .returning_col(counter::Column::Value)
        .to_owned();
    let row = db.query_one(&stmt).await?.ok_or_else(|| StoreError::corrupt("counters", "ticket_number missing"))?;
    Ok(row.try_get::<i64>("", "value")? - n + 1)
}

async fn write_batch(db: &Db, requests: &[CreateRequest]) -> Result<Vec<Ticket>, StoreError> {
    let tx = db.write().await?;
    let first = take_numbers(&*tx, requests.len()).await?;
    let mut models = Vec::with_capacity(requests.len());
    let mut refs = Vec::new();
    let mut entries = TimelineRows::default();
    for (number, r) in (first..).zip(requests) {
        let id = Uuid::now_v7();
        models.push(ticket::Model {
            id,
            number,
            org_id: r.new.org_id.as_uuid(),
            requester_id: r.new.requester_id.map(|p| p.as_uuid()),
            title: r.new.title.clone(),
            description: r.new.description.clone(),
            severity: r.new.severity.as_str().to_owned(),
            status: TicketStatus::Open.as_str().to_owned(),
            assignee_id: r.new.assignee_id.map(|p| p.as_uuid()),
            escalation_level: 0,
            emergency: false,
            created_at: r.now,
            updated_at: r.now,
            resolved_at: None,
            closed_at: None,
            escalated_at: None,
            emergency_kind: None,
            emergency_text: None,
            emergency_declared_at: None,
            emergency_declared_by: None,
            emergency_declared_by_name: None,
            acknowledged_by: None,
            acknowledged_by_name: None,
            acknowledged_at: None,
        });
        for x in &r.new.external_refs {
            refs.push(external_ref::ActiveModel {
                ticket_id: Set(id),
                system: Set(x.system.clone()),
                external_id: Set(x.external_id.clone()),
                url: Set(x.url.clone()),
            });
        }
        let mut events = vec![TimelineEvent::Created { title: r.new.title.clone(), severity: r.new.severity }];
        if let Some(to) = r.new.assignee_id {
            events.push(TimelineEvent::Assigned { from: None, to: Some(to), to_name: r.assignee_name.clone() });
        }
        entries.extend(timeline_rows(id, &r.actor, &events, r.now)?);
    }
    ticket::Entity::insert_many(models.iter().cloned().map(IntoActiveModel::into_active_model))
        .exec_without_returning(&*tx)
        .await?;
    if !refs.is_empty() {
        external_ref::Entity::insert_many(refs).exec_without_returning(&*tx).await.map_err(|e| {
            let detail = match requests {
                [one] => one
                    .new
                    .external_refs
                    .iter()
                    .map(|r| format!("{} ticket {}", r.system, r.external_id))
                    .collect::<Vec<_>>()
                    .join(", "),
                _ => "an external ticket".to_owned(),
            };
            StoreError::on_unique(e, "external_ref_taken", format!("{detail} is already linked to another ticket"))
        })?;
    }
    entries.insert(&*tx).await?;
    // Each ticket asks for its Lark group in its own transaction (when its organisation
    // has a way to Lark), so no ticket is ever without its request.
    let groups: Vec<_> =
        models.iter().map(|m| (m.id, m.org_id, format!("#{} {}", m.number, m.title), m.created_at)).collect();
    crate::lark::groups::request_ticket_groups(&*tx, &groups).await?;
    tx.commit().await?;
    models.into_iter().zip(requests).map(|(m, r)| to_domain(m, r.new.external_refs.clone())).collect()
}

#[cfg(test)]
mod tests {
    use desk_core::{ActorKind, ExternalRef, NewOrg, Severity};

    use super::*;
    use crate::{ConnectSettings, Store};

    fn request(org: desk_core::OrgId, title: &str, jira: Option<&str>) -> CreateRequest {
        CreateRequest {
            new: NewTicket {
                org_id: org,
                requester_id: None,
                title: title.into(),
                description: String::new(),
                severity: Severity::P3,
                assignee_id: None,
                external_refs: jira
                    .map(|id| vec![ExternalRef { system: "jira".into(), external_id: id.into(), url: None }])
                    .unwrap_or_default(),
            },
            actor: Actor { kind: ActorKind::System, person_id: None, name: "test".into() },
            now: Utc::now(),
            assignee_name: None,
        }
    }

    #[tokio::test]
    async fn a_bad_request_in_a_batch_fails_alone() {
        let path = std::env::temp_dir().join(format!("desk-writer-{}.db", Uuid::now_v7().simple()));
        let store =
            Store::connect(&ConnectSettings::new(format!("sqlite://{}?mode=rwc", path.display()))).await.unwrap();
        store.migrate().await.unwrap();
        let org = store.create_org(NewOrg::parse("Org", None, None, None, None).unwrap(), Utc::now()).await.unwrap();

        // Three requests waiting at once are one batch; the middle one repeats an
        // external reference of the first.
        let (tx, rx) = mpsc::channel(8);
        let mut answers = Vec::new();
        for (title, jira) in [("a", Some("J-1")), ("b", Some("J-1")), ("c", None)] {
            let (reply, answer) = oneshot::channel();
            tx.send((request(org.id, title, jira), reply)).await.unwrap();
            answers.push(answer);
        }
        drop(tx);
        run(store.db.clone(), rx).await;

        let a = answers.remove(0).await.unwrap().unwrap();
        let b = answers.remove(0).await.unwrap();
        let c = answers.remove(0).await.unwrap().unwrap();
        assert!(matches!(b, Err(StoreError::Conflict { code: "external_ref_taken", .. })), "{b:?}");
        assert_eq!((a.number, c.number), (1, 2), "the failed request takes no number");
        assert_eq!(store.ticket(a.id).await.unwrap().external_refs.len(), 1);
    }
}
