//! `im.message.receive_v1`: commands said to the bot (in a p2p chat, or with an
//! @mention in a group), and ordinary messages in a ticket group, which become the
//! ticket's timeline.

use desk_core::commands::{Command, help_text, parse_command};
use desk_core::notify::Recipient;
use desk_core::{Actor, ActorKind, Integration, Locale, NewComment, Ticket, TicketId, TicketStatus};
use desk_store::{ChatKind, ChatState, KnownChat, PageRequest, StoreError, TicketFilter, TicketOrder};
use lark_notify::cards::{self, CardBuilder, Colour, Lang};
use lark_notify::event_bodies::MessageReceived;
use serde_json::Value;

use super::actions::{self, Done, Operator};
use super::handle::HandleError;
use super::inbound::Inbound;
use super::text;

/// How often someone the desk does not know is told how to get linked.
const STRANGER_ANSWER_EVERY: std::time::Duration = std::time::Duration::from_secs(3600);

/// Where a message was said, and to whom the bot answers.
struct Conversation<'a> {
    inbound: &'a Inbound,
    integration: &'a Integration,
    chat_id: String,
    /// The event's id: a ticket opened from it keeps it as its `lark` reference.
    origin: &'a str,
    /// The chat, when the desk serves it (a main or ticket group).
    chat: Option<KnownChat>,
}

impl Conversation<'_> {
    /// The ticket of this ticket group, if it is one.
    fn group_ticket(&self) -> Option<TicketId> {
        self.chat.as_ref().filter(|c| c.kind == ChatKind::Ticket && c.state != ChatState::Gone)?.ticket_id
    }

    /// Queues the bot's answer in this chat.
    async fn reply(&self, card: Value) -> Result<(), HandleError> {
        let to = Recipient::Chat(self.chat_id.clone());
        self.inbound.store.enqueue_reply(&self.integration.id, to, &card, self.inbound.clock.now()).await?;
        Ok(())
    }

    async fn say(&self, locale: Locale, key: &str, args: &[(&str, &str)]) -> Result<(), HandleError> {
        self.reply(note(&text::say(locale, key, args))?).await
    }
}

/// A card with just words.
fn note(words: &str) -> Result<Value, HandleError> {
    CardBuilder::new("Larkdesk", Colour::Blue)
        .markdown(words)
        .build()
        .map_err(|e| HandleError::Malformed(format!("card could not be built: {e}")))
}

/// Handles one received message.
pub(super) async fn on_message(
    inbound: &Inbound,
    integration: &Integration,
    origin: &str,
    e: MessageReceived,
) -> Result<String, HandleError> {
    let msg = &e.message;
    let Some(sender) = e.sender.sender_id.open_id.clone() else {
        return Ok("ignored: the sender has no open_id".to_owned());
    };
    if e.sender.sender_type.as_deref().is_some_and(|t| t != "user") {
        return Ok("ignored: not from a person".to_owned());
    }
    let now = inbound.clock.now();
    let p2p = msg.is_p2p();
    let (addressed, words) = if p2p {
        (true, msg.words(None))
    } else {
        let bot = inbound.bot_open_id(integration).await?;
        (msg.mentions(&bot), msg.words(Some(&bot)))
    };
    let chat = if p2p { None } else { inbound.store.chat_by_lark_id(&integration.id, &msg.chat_id, now).await? };
    let here = Conversation { inbound, integration, chat_id: msg.chat_id.clone(), origin, chat };
    let operator = Operator::find(inbound, &sender).await?;
    let command = match (&words, addressed) {
        (Some(w), true) => parse_command(w),
        _ => Command::NotACommand,
    };
    if command == Command::NotACommand {
        if let Some(ticket) = here.group_ticket() {
            let said = words.unwrap_or_else(|| format!("[{}]", msg.message_type));
            return comment(&here, ticket, operator.as_ref(), &sender, &said).await;
        }
        if !p2p {
            return Ok("ignored: an ordinary message outside a ticket group".to_owned());
        }
    }
    let Some(op) = operator else {
        // Anyone in the tenant can write to the bot, and every answer is a billed call:
        // someone the desk does not know is told how to get linked once an hour, not once
        // a message.
        let key = format!("answer:{}:{sender}", integration.id);
        if !inbound.store.claim_quiet_window(&key, now, STRANGER_ANSWER_EVERY).await? {
            return Ok("ignored: the sender is not linked and was answered within the hour".to_owned());
        }
        here.say(Locale::En, "unknown_person", &[]).await?;
        return Ok("answered: the sender is not linked to a desk person".to_owned());
    };
    run(&here, &op, command).await
}

/// An ordinary message in a ticket group: a public comment by whoever wrote it.
async fn comment(
    here: &Conversation<'_>,
    ticket: TicketId,
    op: Option<&Operator>,
    open_id: &str,
    said: &str,
) -> Result<String, HandleError> {
    let actor = match op {
        Some(op) => op.actor.clone(),
        // Someone in the group the desk does not know yet: keep what they said anyway.
        None => Actor { kind: ActorKind::Customer, person_id: None, name: format!("Lark user {open_id}") },
    };
    let new = match NewComment::parse(said, None) {
        Ok(new) => new.in_group().keyed(format!("lark:{}", here.origin)),
        Err(e) => return Ok(format!("ignored: not a comment ({e})")),
    };
    let inbound = here.inbound;
    inbound.store.add_comment(ticket, new, &actor, inbound.clock.now()).await?;
    Ok(format!("comment on ticket {ticket}"))
}

/// Runs a command for `op` and answers in the chat.
async fn run(here: &Conversation<'_>, op: &Operator, command: Command) -> Result<String, HandleError> {
    let locale = op.locale();
    let lang = Lang::from_locale(locale.as_str());
    match command {
        Command::Help | Command::NotACommand => {
            here.reply(note(&help_text(locale))?).await?;
            Ok("answered: help".to_owned())
        }
        Command::Incomplete { hint, .. } => {
            here.reply(note(hint.text(locale))?).await?;
            Ok("answered: how to use a command".to_owned())
        }
        Command::New { title } => {
            let Some(org) = here.chat.as_ref().map(|c| c.org_id).or(op.person.org_id) else {
                here.say(locale, "no_org", &[]).await?;
                return Ok("answered: no organisation".to_owned());
            };
            let result = actions::open_ticket(here.inbound, here.integration, op, org, &title, here.origin).await;
            answer(here, op, "new", result).await
        }
        Command::Status { ticket } => {
            if ticket.is_none() && here.group_ticket().is_none() {
                return list_open(here, op, lang).await;
            }
            let Some(ticket) = resolve(here, op, ticket).await? else { return Ok("answered: which ticket".to_owned()) };
            let card = actions::card_of(here.inbound, &ticket, lang, &[]).await?;
            here.reply(card).await?;
            Ok(format!("answered: status of #{}", ticket.number))
        }
        Command::Escalate { ticket, reason } => {
            let Some(ticket) = resolve(here, op, ticket).await? else { return Ok("answered: which ticket".to_owned()) };
            let reason = reason.unwrap_or_else(|| text::say(locale, "escalated_in_lark", &[]));
            let result = actions::escalate(here.inbound, op, ticket.id, &reason).await;
            answer(here, op, "escalate", result).await
        }
        Command::Emergency { ticket, kind, text: words } => {
            let target = match ticket {
                Some(_) => resolve(here, op, ticket).await?,
                None => match here.group_ticket() {
                    Some(id) => Some(here.inbound.store.ticket(id).await?),
                    // Not about a ticket yet: the emergency is its own new ticket.
                    None => {
                        let Some(org) = here.chat.as_ref().map(|c| c.org_id).or(op.person.org_id) else {
                            here.say(locale, "no_org", &[]).await?;
                            return Ok("answered: no organisation".to_owned());
                        };
                        match actions::open_ticket(here.inbound, here.integration, op, org, &words, here.origin).await {
                            Ok(done) => Some(done.ticket),
                            Err(e) => return answer(here, op, "emergency", Err(e)).await,
                        }
                    }
                },
            };
            let Some(ticket) = target else { return Ok("answered: which ticket".to_owned()) };
            match kind {
                Some(kind) => {
                    let result = actions::declare(here.inbound, op, ticket.id, kind, &words).await;
                    answer(here, op, "emergency", result).await
                }
                None => {
                    here.reply(actions::emergency_choice(&ticket, lang, &words)?).await?;
                    Ok(format!("answered: asked what broke on #{}", ticket.number))
                }
            }
        }
    }
}

/// The ticket a command is about: `#N` if said (and theirs to see), else this ticket
/// group's. Answers in the chat when there is none.
async fn resolve(here: &Conversation<'_>, op: &Operator, number: Option<i64>) -> Result<Option<Ticket>, HandleError> {
    let locale = op.locale();
    let id = match number {
        Some(n) => match here.inbound.store.ticket_id_by_number(n).await? {
            Some(id) => id,
            None => {
                here.say(locale, "no_ticket", &[("n", &n.to_string())]).await?;
                return Ok(None);
            }
        },
        None => match here.group_ticket() {
            Some(id) => id,
            None => {
                here.say(locale, "which_ticket", &[]).await?;
                return Ok(None);
            }
        },
    };
    let ticket = here.inbound.store.ticket(id).await?;
    if !op.serves(ticket.org_id) {
        // Same answer as for a number that does not exist: numbers of other
        // organisations' tickets are not theirs to learn.
        here.say(locale, "no_ticket", &[("n", &ticket.number.to_string())]).await?;
        return Ok(None);
    }
    Ok(Some(ticket))
}

/// The person's open tickets, as one card.
async fn list_open(here: &Conversation<'_>, op: &Operator, lang: Lang) -> Result<String, HandleError> {
    let filter = TicketFilter {
        requester_id: Some(op.person.id),
        statuses: vec![TicketStatus::Open, TicketStatus::InProgress, TicketStatus::WaitingOnCustomer],
        ..TicketFilter::default()
    };
    let page =
        here.inbound.store.list_tickets(&filter, TicketOrder::Newest, &PageRequest { limit: 20, after: None }).await?;
    if page.items.is_empty() {
        here.say(op.locale(), "no_open_tickets", &[]).await?;
        return Ok("answered: no open tickets".to_owned());
    }
    let lines: Vec<String> =
        page.items.iter().map(|t| format!("#{} {} · {} · {}", t.number, t.title, t.severity, t.status)).collect();
    let heading = text::say(op.locale(), "open_tickets", &[]);
    let card = cards::digest_card(&heading, &lines, lang)
        .map_err(|e| HandleError::Malformed(format!("card could not be built: {e}")))?;
    here.reply(card).await?;
    Ok(format!("answered: {} open tickets", lines.len()))
}

/// Answers an operation in the chat: the ticket's card with what happened, or why not.
async fn answer(
    here: &Conversation<'_>,
    op: &Operator,
    command: &str,
    result: Result<Done, StoreError>,
) -> Result<String, HandleError> {
    match result {
        Ok(done) => {
            // One card, saying what happened on top: every message costs a Lark call.
            let words = text::say(op.locale(), done.key, &done.args());
            let lang = Lang::from_locale(op.locale().as_str());
            here.reply(actions::card_of(here.inbound, &done.ticket, lang, &[words]).await?).await?;
            Ok(format!("{command}: {} on #{}", done.key, done.ticket.number))
        }
        Err(e) => match actions::refusal(&e) {
            Some(words) => {
                here.reply(note(&words)?).await?;
                Ok(format!("{command}: refused ({words})"))
            }
            None => Err(e.into()),
        },
    }
}
