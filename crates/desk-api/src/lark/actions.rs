//! Card buttons, and the ticket operations that buttons and chat commands share. Every
//! operation runs as the Lark person who asked, so the timeline says who did it and the
//! store refuses what they may not do.

use desk_core::escalation::{EmergencyKind, NewEmergency, NewEscalation};
use desk_core::{
    Actor, ActorKind, DomainError, Integration, Locale, NewTicket, NewTicketInput, OrgId, Person, PersonKind, Ticket,
    TicketId,
};
use desk_store::StoreError;
use group_manager::invites::{InviteError, Invites};
use lark_notify::cards::{self, ButtonStyle, CardBuilder, Colour, EmergencyCard, Lang, TicketCard};
use lark_notify::event_bodies::{CardAction, ToastKind, card_answer};
use serde_json::{Value, json};

use super::handle::HandleError;
use super::inbound::Inbound;
use super::text;

/// The external-reference system of tickets opened from Lark: the id is the event's.
const LARK_REF: &str = "lark";

/// The Lark person behind a click or a message, as the desk knows them.
pub(super) struct Operator {
    pub(super) person: Person,
    pub(super) actor: Actor,
}

impl Operator {
    /// The desk person bound to `open_id`, if any.
    pub(super) async fn find(inbound: &Inbound, open_id: &str) -> Result<Option<Self>, HandleError> {
        let Some(person) = inbound.store.person_by_open_id(open_id).await? else { return Ok(None) };
        let kind = if person.kind == PersonKind::Staff { ActorKind::Staff } else { ActorKind::Customer };
        let actor = Actor { kind, person_id: Some(person.id), name: person.name.clone() };
        Ok(Some(Self { person, actor }))
    }

    pub(super) fn locale(&self) -> Locale {
        self.person.locale
    }

    fn lang(&self) -> Lang {
        Lang::from_locale(self.person.locale.as_str())
    }

    pub(super) fn is_staff(&self) -> bool {
        self.person.kind == PersonKind::Staff
    }

    /// Whether they may act on `org`'s tickets: staff on any, customers on their own.
    pub(super) fn serves(&self, org: OrgId) -> bool {
        self.is_staff() || self.person.org_id == Some(org)
    }
}

/// What an operation did, to say in a toast or a chat answer.
pub(super) struct Done {
    /// The phrase (see `text`) and its placeholders.
    pub(super) key: &'static str,
    pub(super) args: Vec<(&'static str, String)>,
    /// The ticket afterwards.
    pub(super) ticket: Ticket,
    /// Whether anything changed (a repeat changes nothing).
    pub(super) changed: bool,
}

impl Done {
    fn new(key: &'static str, ticket: Ticket, changed: bool) -> Self {
        let args = vec![("n", ticket.number.to_string()), ("title", ticket.title.clone())];
        Self { key, args, ticket, changed }
    }

    fn with(mut self, name: &'static str, value: String) -> Self {
        self.args.push((name, value));
        self
    }

    pub(super) fn args(&self) -> Vec<(&str, &str)> {
        self.args.iter().map(|(k, v)| (*k, v.as_str())).collect()
    }
}

/// A refusal the person should read (not a failure of the desk).
pub(super) fn refusal(e: &StoreError) -> Option<String> {
    match e {
        StoreError::Domain(d) => Some(domain_words(d)),
        StoreError::Conflict { detail, .. } => Some(detail.clone()),
        StoreError::NotFound { .. } => Some(e.to_string()),
        _ => None,
    }
}

fn domain_words(d: &DomainError) -> String {
    match d {
        DomainError::Invalid(errors) => errors.iter().map(|e| e.reason.clone()).collect::<Vec<_>>().join("; "),
        other => other.to_string(),
    }
}

// ---- the operations -------------------------------------------------------------------

/// Opens a ticket in `org` for the operator, and asks for its group. `origin` (the Lark
/// event that asked) is kept on the ticket as its `lark` reference, so handling the same
/// event again finds this ticket instead of opening a second one.
pub(super) async fn open_ticket(
    inbound: &Inbound,
    integration: &Integration,
    op: &Operator,
    org: OrgId,
    title: &str,
    origin: &str,
) -> Result<Done, StoreError> {
    let new = NewTicket::parse(
        NewTicketInput {
            org_id: org,
            requester_id: Some(op.person.id),
            title,
            description: None,
            severity: None,
            assignee_id: None,
        },
        &[(LARK_REF, origin, None)],
    )?;
    let now = inbound.clock.now();
    let ticket = match inbound.store.create_ticket(new, &op.actor, now).await {
        Ok(ticket) => ticket,
        Err(StoreError::Conflict { code: "external_ref_taken", detail }) => {
            match inbound.store.ticket_id_by_external_ref(LARK_REF, origin).await? {
                Some(id) => inbound.store.ticket(id).await?,
                None => return Err(StoreError::Conflict { code: "external_ref_taken", detail }),
            }
        }
        Err(e) => return Err(e),
    };
    let name = format!("#{} {}", ticket.number, ticket.title);
    inbound.store.request_ticket_group(ticket.id, org, Some(&integration.id), &name, now).await?;
    Ok(Done::new("created", ticket, true))
}

/// Raises the ticket one level.
pub(super) async fn escalate(
    inbound: &Inbound,
    op: &Operator,
    ticket: TicketId,
    reason: &str,
) -> Result<Done, StoreError> {
    let new = NewEscalation::parse(reason)?;
    let done = inbound.store.escalate_ticket(ticket, new, &op.actor, inbound.clock.now()).await?;
    let key = if done.merged { "escalation_merged" } else { "escalated" };
    // The name on the organisation's own ladder.
    let level = done.level_name;
    Ok(Done::new(key, done.ticket, !done.merged).with("level", level))
}

/// Declares an emergency.
pub(super) async fn declare(
    inbound: &Inbound,
    op: &Operator,
    ticket: TicketId,
    kind: EmergencyKind,
    words: &str,
) -> Result<Done, StoreError> {
    let new = NewEmergency::new(kind, words)?;
    let done = inbound.store.declare_emergency(ticket, new, &op.actor, inbound.clock.now()).await?;
    let key = if done.already { "emergency_already" } else { "emergency_declared" };
    Ok(Done::new(key, done.ticket, !done.already))
}

/// Acknowledges an emergency (staff).
pub(super) async fn acknowledge(inbound: &Inbound, op: &Operator, ticket: TicketId) -> Result<Done, StoreError> {
    let done = inbound.store.acknowledge_emergency(ticket, &op.actor, inbound.clock.now()).await?;
    let who = done.ticket.emergency.as_ref().and_then(|e| e.acknowledged.as_ref()).map(|a| a.by_name.clone());
    let key = if done.already { "acknowledged_already" } else { "acknowledged" };
    Ok(Done::new(key, done.ticket, !done.already).with("who", who.unwrap_or_default()))
}

// ---- cards ----------------------------------------------------------------------------

/// The card that shows `ticket` now: the emergency card while an emergency is on (its
/// header says what happened), otherwise the ticket card with `news` on top.
pub(super) async fn card_of(
    inbound: &Inbound,
    ticket: &Ticket,
    lang: Lang,
    news: &[String],
) -> Result<Value, HandleError> {
    let id = ticket.id.to_string();
    let built = match &ticket.emergency {
        Some(e) => {
            let (kind_en, kind_zh) = text::pair(e.kind.as_str());
            let kind = if lang == Lang::Zh { kind_zh } else { kind_en };
            let reason = format!("**{kind}**: {}", e.text);
            let acknowledged_by = e.acknowledged.as_ref().map(|a| a.by_name.as_str());
            // Once taken on, the card (everyone in the group sees it) says when the next
            // update is due, on the organisation's clock.
            let next_update_by = match acknowledged_by {
                Some(_) => next_update_by(inbound, ticket).await?,
                None => None,
            };
            let card = EmergencyCard {
                ticket_id: &id,
                number: ticket.number,
                title: &ticket.title,
                reason: &reason,
                acknowledged_by,
                next_update_by: next_update_by.as_deref(),
            };
            cards::emergency_card(&card, lang)
        }
        None => {
            let assignee = match ticket.assignee_id {
                Some(a) => Some(inbound.store.person(a).await?.name),
                None => None,
            };
            let desk_url = format!("{}/desk/orgs/{}", inbound.settings.public_url, ticket.org_id);
            let card = TicketCard {
                ticket_id: &id,
                number: ticket.number,
                title: &ticket.title,
                severity: ticket.severity.as_str(),
                status: ticket.status.as_str(),
                assignee: assignee.as_deref(),
                desk_url: &desk_url,
                news,
            };
            cards::ticket_card(&card, lang)
        }
    };
    built.map_err(|e| HandleError::Malformed(format!("card could not be built: {e}")))
}

/// When the next update of `ticket` is due, on its organisation's clock, while that clock runs.
async fn next_update_by(inbound: &Inbound, ticket: &Ticket) -> Result<Option<String>, HandleError> {
    let now = inbound.clock.now();
    let view = inbound.store.ticket_escalation(ticket.id, now).await?;
    let due = view
        .targets
        .iter()
        .find(|t| t.target == desk_core::targets::TargetKind::Update && t.state == "running")
        .and_then(|t| t.due_at);
    Ok(due.map(|due| desk_core::calendar::local_time(due, &view.time_zone, now)))
}

/// Asks what broke: one button per kind of emergency.
pub(super) fn emergency_choice(ticket: &Ticket, lang: Lang, words: &str) -> Result<Value, HandleError> {
    let locale = if lang == Lang::Zh { Locale::Zh } else { Locale::En };
    let title = text::say(locale, "emergency_pick", &[("n", &ticket.number.to_string())]);
    let mut card = CardBuilder::new(&title, Colour::Carmine).markdown(&ticket.title);
    for kind in EmergencyKind::ALL {
        let (en, zh) = text::pair(kind.as_str());
        let value =
            json!({ "action": "emergency", "ticket_id": ticket.id.to_string(), "kind": kind.as_str(), "text": words });
        card = card.callback_button(if lang == Lang::Zh { zh } else { en }, ButtonStyle::Danger, value);
    }
    card.build().map_err(|e| HandleError::Malformed(format!("card could not be built: {e}")))
}

// ---- card callbacks -------------------------------------------------------------------

fn toast(kind: ToastKind, key: &str, args: &[(&str, &str)], locale: Locale, card: Option<Value>) -> Value {
    let (en, zh) = text::both(key, args);
    let shown = if locale == Locale::Zh { zh.clone() } else { en.clone() };
    card_answer(kind, &en, &zh, &shown, card)
}

fn refused(words: &str) -> Value {
    card_answer(ToastKind::Error, words, words, words, None)
}

/// Answers a click: a toast, and the changed card when something changed.
pub(super) async fn answer(
    inbound: &Inbound,
    integration: &Integration,
    origin: &str,
    click: &CardAction,
) -> Result<(Value, String), HandleError> {
    let value = &click.action.value;
    let action = value["action"].as_str().unwrap_or_default().to_owned();
    let operator = match click.operator.open_id.as_deref() {
        Some(open_id) => Operator::find(inbound, open_id).await?,
        None => None,
    };
    let Some(op) = operator else {
        let answer = toast(ToastKind::Error, "unknown_person", &[], Locale::En, None);
        return Ok((answer, format!("{action}: refused, the operator is not linked to a desk person")));
    };
    let locale = op.locale();
    if action == "create_ticket" {
        let Some(org) = value["org_id"].as_str().and_then(|o| o.parse::<OrgId>().ok()) else {
            return Ok((toast(ToastKind::Error, "no_org", &[], locale, None), "create_ticket: no org".to_owned()));
        };
        if !op.serves(org) {
            return Ok((toast(ToastKind::Error, "not_yours", &[], locale, None), "create_ticket: refused".to_owned()));
        }
        let typed = click
            .action
            .form_value
            .as_ref()
            .and_then(|f| f["title"].as_str())
            .or(click.action.input_value.as_deref())
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_owned);
        let title = typed.unwrap_or_else(|| text::say(locale, "default_title", &[("who", &op.person.name)]));
        return finish(
            inbound,
            &op,
            "create_ticket",
            open_ticket(inbound, integration, &op, org, &title, origin).await,
            false,
        )
        .await;
    }
    let Some(ticket_id) = value["ticket_id"].as_str().and_then(|t| t.parse::<TicketId>().ok()) else {
        return Ok((toast(ToastKind::Error, "unknown_action", &[], locale, None), format!("{action}: no ticket")));
    };
    let ticket = match inbound.store.ticket(ticket_id).await {
        Ok(t) => t,
        Err(StoreError::NotFound { .. }) => {
            return Ok((toast(ToastKind::Error, "unknown_action", &[], locale, None), format!("{action}: gone")));
        }
        Err(e) => return Err(e.into()),
    };
    if !op.serves(ticket.org_id) {
        return Ok((toast(ToastKind::Error, "not_yours", &[], locale, None), format!("{action}: refused")));
    }
    let result = match action.as_str() {
        "escalate" => {
            let typed = click.action.form_value.as_ref().and_then(|f| f["reason"].as_str()).map(str::to_owned);
            let reason = typed.unwrap_or_else(|| text::say(locale, "escalated_in_lark", &[]));
            escalate(inbound, &op, ticket.id, &reason).await
        }
        "emergency" => match value["kind"].as_str().and_then(|k| k.parse::<EmergencyKind>().ok()) {
            Some(kind) => {
                let words = value["text"].as_str().filter(|t| !t.trim().is_empty()).unwrap_or(&ticket.title);
                declare(inbound, &op, ticket.id, kind, words).await
            }
            // First click: ask what broke, on the card itself.
            None => {
                let card = emergency_choice(&ticket, op.lang(), "")?;
                let args = [("n", ticket.number.to_string())];
                let args: Vec<(&str, &str)> = args.iter().map(|(k, v)| (*k, v.as_str())).collect();
                let answer = toast(ToastKind::Info, "emergency_pick", &args, locale, Some(card));
                return Ok((answer, "emergency: asked what broke".to_owned()));
            }
        },
        "acknowledge" if !op.is_staff() => {
            return Ok((toast(ToastKind::Error, "staff_only", &[], locale, None), "acknowledge: refused".to_owned()));
        }
        "acknowledge" => acknowledge(inbound, &op, ticket.id).await,
        // Customers of the organisation and staff may invite (checked above).
        "add_members" => return invite_link(inbound, &op, &ticket).await,
        _ => return Ok((toast(ToastKind::Error, "unknown_action", &[], locale, None), format!("{action}: unknown"))),
    };
    finish(inbound, &op, &action, result, true).await
}

/// Answers *Add members*: a new 24-hour invite link to the ticket's group, in the toast and
/// on the ticket's card (the card everyone in the group sees keeps its buttons).
async fn invite_link(inbound: &Inbound, op: &Operator, ticket: &Ticket) -> Result<(Value, String), HandleError> {
    let invites =
        Invites::new(inbound.store.clone(), inbound.clock.clone(), inbound.lanes.clone(), &inbound.settings.public_url);
    let locale = op.locale();
    let n = ticket.number.to_string();
    let refusal = |key: &str, outcome: &str| {
        let answer = toast(ToastKind::Error, key, &[("n", &n)], locale, None);
        Ok((answer, format!("add_members: {outcome} on #{n}")))
    };
    match invites.create_for_ticket(ticket.id, &op.actor).await {
        Ok(issued) => {
            let until = issued.invite.expires_at.format("%Y-%m-%d %H:%M UTC").to_string();
            let args = [("n", n.as_str()), ("url", issued.url.as_str()), ("until", until.as_str())];
            let news = [text::say(locale, "invite_link", &args)];
            let card = card_of(inbound, ticket, op.lang(), &news).await?;
            let answer = toast(ToastKind::Success, "invite_created", &args, locale, Some(card));
            Ok((answer, format!("add_members: invite link {} for #{n}", issued.invite.id)))
        }
        Err(InviteError::NoGroup(_) | InviteError::GroupNotReady) => refusal("invite_no_group", "no group yet"),
        Err(InviteError::GroupGone) => refusal("invite_group_gone", "group gone"),
        Err(InviteError::Store(StoreError::Domain(DomainError::TicketClosed { .. }))) => {
            refusal("invite_ticket_closed", "ticket closed")
        }
        Err(InviteError::Store(e)) => Err(e.into()),
        Err(e) => {
            let words = e.to_string();
            Ok((refused(&words), format!("add_members: refused ({words})")))
        }
    }
}

/// Turns an operation's result into the answer: a toast, plus the ticket's new card
/// when something changed and `show_card`.
async fn finish(
    inbound: &Inbound,
    op: &Operator,
    action: &str,
    result: Result<Done, StoreError>,
    show_card: bool,
) -> Result<(Value, String), HandleError> {
    match result {
        Ok(done) => {
            let card = if show_card {
                let news = [text::say(op.locale(), done.key, &done.args())];
                Some(card_of(inbound, &done.ticket, op.lang(), &news).await?)
            } else {
                None
            };
            let kind = if done.changed { ToastKind::Success } else { ToastKind::Info };
            let answer = toast(kind, done.key, &done.args(), op.locale(), card);
            Ok((answer, format!("{action}: {} on #{}", done.key, done.ticket.number)))
        }
        Err(e) => match refusal(&e) {
            Some(words) => Ok((refused(&words), format!("{action}: refused ({words})"))),
            None => Err(e.into()),
        },
    }
}
