//! The documented JSON of ticketing hooks: the native delivery a source posts, and the
//! message a webhook subscriber receives. Both are components of the OpenAPI document.
//!
//! The outbound message is built in `desk_core::webhooks` (the store freezes it when an
//! event is fanned out); the structs here mirror it for the document, and a test keeps
//! the two in step.

use chrono::{DateTime, Utc};
use desk_core::OrgId;
use desk_core::hooks::{HookCommentInput, PersonRefInput, TicketHookInput};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::extract::double_option;

/// A delivery in the native format. Signed by the source (see the route), identified by
/// `webhook-id` (Standard Webhooks) or by `id` / `X-GitHub-Delivery` (GitHub style).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HookDelivery {
    /// The delivery's id, for GitHub-style sources (signed with the body; wins over the
    /// `X-GitHub-Delivery` header). Standard Webhooks sources use `webhook-id` instead.
    pub id: Option<String>,
    /// `ticket.created`, `ticket.updated`, `ticket.commented`, `ticket.resolved` or `ticket.reopened`.
    #[serde(rename = "type")]
    pub kind: String,
    /// When the source sent it: RFC 3339, or Unix seconds. Required for GitHub-style
    /// sources (it is their signed replay window: refused when more than 5 minutes off).
    #[schema(value_type = Option<String>, example = "2026-11-21T09:00:00Z")]
    pub timestamp: Option<HookTimestamp>,
    /// The ticket and what happened to it.
    pub data: HookData,
}

/// A timestamp as RFC 3339 text or Unix seconds.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(untagged)]
pub enum HookTimestamp {
    /// Unix seconds.
    Unix(i64),
    /// RFC 3339.
    Text(DateTime<Utc>),
}

impl HookTimestamp {
    /// Unix seconds.
    pub fn unix(self) -> i64 {
        match self {
            Self::Unix(s) => s,
            Self::Text(t) => t.timestamp(),
        }
    }
}

/// What the delivery is about.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HookData {
    /// The ticket as the source has it now. Fields left out are left alone.
    pub ticket: HookTicket,
    /// The comment, for `ticket.commented` (allowed on any type).
    pub comment: Option<HookCommentDto>,
}

/// A ticket as the source has it.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HookTicket {
    /// The ticket's id in the source: with the source's name, what links it to a desk
    /// ticket (the ticket's external reference).
    pub external_id: String,
    /// A link to it in the source.
    pub url: Option<String>,
    /// Its organisation; the source's `default_org_id` when absent. Only used to open a ticket.
    pub org_id: Option<Uuid>,
    /// Title (whitespace folded, cut at 200 characters). Required to open a ticket.
    pub title: Option<String>,
    /// Description (cut at 20,000 characters).
    pub description: Option<String>,
    /// `P1`–`P4`, or `urgent`, `high`, `normal`, `low`.
    pub severity: Option<String>,
    /// `open`, `in_progress`, `waiting_on_customer`, `resolved`, `closed`, or the source's
    /// `new`, `pending`, `hold`, `solved`. Reached through the desk's status machine.
    pub status: Option<String>,
    /// Who works it (a staff member, by desk id or e-mail); null unassigns.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<HookPersonRef>)]
    pub assignee: Option<Option<HookPersonRef>>,
    /// Who asked (a member of the organisation or staff); only used to open a ticket, and
    /// left empty when nobody matches.
    pub requester: Option<HookPersonRef>,
    /// The source's version of the ticket, raised with every change: deliveries that are
    /// not newer than one applied already do not change the ticket's fields.
    pub version: Option<i64>,
    /// When the source last changed the ticket: the order when there is no `version`.
    pub updated_at: Option<DateTime<Utc>>,
}

/// A person, by desk id or by e-mail.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HookPersonRef {
    /// A desk person id.
    pub person_id: Option<Uuid>,
    /// An e-mail address (matched case-insensitively).
    pub email: Option<String>,
}

impl HookPersonRef {
    fn input(&self) -> PersonRefInput<'_> {
        PersonRefInput { person_id: self.person_id.map(desk_core::PersonId::from_uuid), email: self.email.as_deref() }
    }
}

/// A comment made in the source.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HookCommentDto {
    /// Its id in the source: added once per id, whatever the order or repeats.
    pub external_id: String,
    /// The text (cut at 20,000 characters).
    pub body: String,
    /// `public` (default) or `internal`.
    pub visibility: Option<String>,
    /// Who wrote it.
    pub author: Option<HookAuthor>,
}

/// A comment's author.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HookAuthor {
    /// `customer` (default: a customer's reply reminds the assignee) or `staff`.
    pub kind: Option<String>,
    /// Their name in the source.
    pub name: Option<String>,
    /// The desk person, when they are one.
    pub person_id: Option<Uuid>,
    /// Their e-mail (matched to a desk person).
    pub email: Option<String>,
}

impl HookDelivery {
    /// The raw fields for `TicketHook::parse`.
    pub fn input(&self) -> TicketHookInput<'_> {
        let t = &self.data.ticket;
        TicketHookInput {
            kind: &self.kind,
            external_id: &t.external_id,
            url: t.url.as_deref(),
            org_id: t.org_id.map(OrgId::from_uuid),
            title: t.title.as_deref(),
            description: t.description.as_deref(),
            severity: t.severity.as_deref(),
            status: t.status.as_deref(),
            assignee: t.assignee.as_ref().map(|a| a.as_ref().map(HookPersonRef::input)),
            requester: t.requester.as_ref().map(HookPersonRef::input),
            version: t.version,
            updated_at: t.updated_at,
            comment: self.data.comment.as_ref().map(|c| HookCommentInput {
                external_id: &c.external_id,
                body: &c.body,
                visibility: c.visibility.as_deref(),
                author_kind: c.author.as_ref().and_then(|a| a.kind.as_deref()),
                author_name: c.author.as_ref().and_then(|a| a.name.as_deref()),
                author: c.author.as_ref().map(|a| PersonRefInput {
                    person_id: a.person_id.map(desk_core::PersonId::from_uuid),
                    email: a.email.as_deref(),
                }),
            }),
        }
    }
}

// ---- what subscribers receive ---------------------------------------------------------

/// The event types a subscription can name (`*` names them all, and any added later).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub enum WebhookEventType {
    /// A ticket was opened.
    #[serde(rename = "ticket.created")]
    TicketCreated,
    /// Title, description, severity, assignee or a status move other than those below.
    #[serde(rename = "ticket.updated")]
    TicketUpdated,
    /// A comment or internal note was added.
    #[serde(rename = "ticket.commented")]
    TicketCommented,
    /// A ticket was resolved.
    #[serde(rename = "ticket.resolved")]
    TicketResolved,
    /// A ticket was closed.
    #[serde(rename = "ticket.closed")]
    TicketClosed,
    /// A resolved or closed ticket was reopened.
    #[serde(rename = "ticket.reopened")]
    TicketReopened,
    /// A ticket went up an escalation level.
    #[serde(rename = "ticket.escalated")]
    TicketEscalated,
    /// An emergency was declared.
    #[serde(rename = "emergency.declared")]
    EmergencyDeclared,
    /// Staff acknowledged an emergency.
    #[serde(rename = "emergency.acknowledged")]
    EmergencyAcknowledged,
    /// An emergency's on-call chain was paged.
    #[serde(rename = "emergency.paged")]
    EmergencyPaged,
    /// A response target is close to being missed.
    #[serde(rename = "sla.warning")]
    SlaWarning,
    /// A response target was missed.
    #[serde(rename = "sla.breached")]
    SlaBreached,
    /// Someone joined a ticket's group through an invite link.
    #[serde(rename = "member.invited")]
    MemberInvited,
    /// Someone was added to a ticket's group, or joined it.
    #[serde(rename = "member.added")]
    MemberAdded,
    /// Someone was removed from a ticket's group, or left it.
    #[serde(rename = "member.removed")]
    MemberRemoved,
}

/// A webhook message, as POSTed to a subscriber with the Standard Webhooks headers
/// `webhook-id` (the delivery id, the same on every retry: de-duplicate on it),
/// `webhook-timestamp` and `webhook-signature` (`v1,<base64 HMAC-SHA256 of
/// "id.timestamp.body">` under the subscription's secret; during a rotation a second
/// `v1,…` under the previous secret).
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookMessage {
    /// The event type.
    #[serde(rename = "type")]
    pub event_type: WebhookEventType,
    /// When the message was made.
    pub timestamp: DateTime<Utc>,
    /// The event.
    pub data: WebhookMessageData,
}

/// What a webhook message carries.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookMessageData {
    /// The ticket's timeline entry this event is (time-ordered; one ticket's events reach
    /// each subscriber in this order, one at a time).
    pub event_id: Uuid,
    /// When the change happened.
    pub occurred_at: DateTime<Utc>,
    /// Who made it.
    pub actor: WebhookActor,
    /// The ticketing source whose hook made the change, if one did (a subscription's
    /// `skip_source` leaves those out).
    pub origin: Option<String>,
    /// What changed, as the ticket's timeline records it: `{"kind": "status_changed", "data": {…}}`.
    #[schema(value_type = Object)]
    pub change: serde_json::Value,
    /// The ticket as it stood when the event was dispatched (at or just after the change).
    pub ticket: WebhookTicket,
    /// On `ticket.commented`: the comment.
    pub comment: Option<WebhookComment>,
}

/// Who made a change.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookActor {
    /// `staff`, `customer`, `token` or `system`.
    pub kind: String,
    /// The person, when a person acted.
    pub person_id: Option<Uuid>,
    /// Name at the time (`hook:<source>` for a ticketing source's own changes).
    pub name: String,
}

/// A ticket in a webhook message.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookTicket {
    /// Id.
    pub id: Uuid,
    /// Number.
    pub number: i64,
    /// Organisation.
    pub org_id: Uuid,
    /// Title.
    pub title: String,
    /// Description.
    pub description: String,
    /// `P1`–`P4`.
    pub severity: String,
    /// Status.
    pub status: String,
    /// Assignee.
    pub assignee_id: Option<Uuid>,
    /// Requester.
    pub requester_id: Option<Uuid>,
    /// Escalation level (0 = not escalated).
    pub escalation_level: i32,
    /// Whether an emergency is declared.
    pub emergency: bool,
    /// Links to external ticketing systems (`system`, `external_id`, `url`).
    #[schema(value_type = Vec<Object>)]
    pub external_refs: Vec<serde_json::Value>,
    /// Opened.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

/// A comment in a webhook message.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookComment {
    /// Id.
    pub id: Uuid,
    /// The text.
    pub body: String,
    /// `public` or `internal`.
    pub visibility: String,
    /// Author's name.
    pub author_name: String,
    /// Author, when a person.
    pub author_id: Option<Uuid>,
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use desk_core::webhooks::{EventType, Message, MessageActor, MessageData, TicketSnapshot};
    use desk_core::{ActorKind, Severity, TicketStatus, TimelineEvent};
    use utoipa::PartialSchema as _;

    use super::*;

    fn keys(v: &serde_json::Value) -> BTreeSet<String> {
        v.as_object().map(|o| o.keys().cloned().collect()).unwrap_or_default()
    }

    fn schema_keys<T: utoipa::PartialSchema>() -> BTreeSet<String> {
        keys(&serde_json::to_value(T::schema()).unwrap()["properties"])
    }

    #[test]
    fn the_documented_event_types_are_the_real_ones() {
        let documented: Vec<String> = serde_json::to_value(WebhookEventType::schema()).unwrap()["enum"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect();
        let real: Vec<&str> = EventType::ALL.iter().map(|t| t.as_str()).collect();
        assert_eq!(documented, real);
    }

    #[test]
    fn the_documented_message_is_the_real_one() {
        let at: DateTime<Utc> = "2026-11-21T09:00:00Z".parse().unwrap();
        let message = Message {
            event_type: "ticket.created".into(),
            timestamp: at,
            data: MessageData {
                event_id: Uuid::nil(),
                occurred_at: at,
                actor: MessageActor { kind: ActorKind::System, person_id: None, name: "hook:zendesk".into() },
                origin: Some("zendesk".into()),
                change: TimelineEvent::Created { title: "t".into(), severity: Severity::P2 },
                ticket: TicketSnapshot {
                    id: Uuid::nil(),
                    number: 1,
                    org_id: OrgId::from_uuid(Uuid::nil()),
                    title: "t".into(),
                    description: String::new(),
                    severity: Severity::P2,
                    status: TicketStatus::Open,
                    assignee_id: None,
                    requester_id: None,
                    escalation_level: 0,
                    emergency: false,
                    external_refs: Vec::new(),
                    created_at: at,
                    updated_at: at,
                },
                comment: Some(desk_core::webhooks::MessageComment {
                    id: Uuid::nil(),
                    body: "b".into(),
                    visibility: desk_core::CommentVisibility::Public,
                    author_name: "a".into(),
                    author_id: None,
                }),
            },
        };
        let json = serde_json::to_value(&message).unwrap();
        assert_eq!(keys(&json), schema_keys::<WebhookMessage>());
        assert_eq!(keys(&json["data"]), schema_keys::<WebhookMessageData>());
        assert_eq!(keys(&json["data"]["ticket"]), schema_keys::<WebhookTicket>());
        assert_eq!(keys(&json["data"]["actor"]), schema_keys::<WebhookActor>());
        assert_eq!(keys(&json["data"]["comment"]), schema_keys::<WebhookComment>());
        assert_eq!(json["data"]["change"]["kind"], "created");
    }
}
