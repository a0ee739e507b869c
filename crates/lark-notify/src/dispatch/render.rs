//! Rendering what waited for a reader into one card, in the reader's language: the
//! ticket card when it all concerns one ticket, a digest card otherwise.

use desk_core::notify::{Happening, NotificationBody};
use desk_store::{ComposeInput, Rendered};
use serde_json::Value;

use crate::cards::{self, Lang, TicketCard, text};

/// Lark markdown turns `<at user_id="all">` and friends into mentions and markup, and
/// the spec names no escape; people's words (titles, comments, names) must not be able
/// to @everyone, so angle brackets become look-alikes that Lark prints as they are.
fn defang(s: String) -> String {
    s.replace('<', "‹").replace('>', "›")
}

/// One line saying what happened, in `lang`.
pub(crate) fn line(body: &NotificationBody, lang: Lang) -> String {
    defang(raw_line(body, lang))
}

fn raw_line(body: &NotificationBody, lang: Lang) -> String {
    let fill = |key: &str, pairs: &[(&str, &str)]| {
        pairs.iter().fold(text(lang, key).to_owned(), |s, (k, v)| s.replace(&format!("{{{k}}}"), v))
    };
    let actor = body.actor.as_str();
    match &body.happening {
        Happening::Created => fill("created", &[("actor", actor)]),
        Happening::Assigned { to } => {
            fill("assigned", &[("actor", actor), ("to", to.as_deref().unwrap_or(text(lang, "unassigned")))])
        }
        Happening::StatusChanged { from, to, reason } => {
            let mut s = fill(
                "status_changed",
                &[
                    ("actor", actor),
                    ("from", cards::label(lang, from.as_str())),
                    ("to", cards::label(lang, to.as_str())),
                ],
            );
            if let Some(reason) = reason {
                s.push_str(&format!(" ({reason})"));
            }
            s
        }
        Happening::Commented { excerpt, internal } => {
            fill(if *internal { "internal_note" } else { "commented" }, &[("actor", actor), ("text", excerpt)])
        }
        Happening::Escalated { level, reason } => {
            fill("escalated", &[("actor", actor), ("level", cards::label(lang, level)), ("reason", reason)])
        }
        Happening::EmergencyDeclared { emergency_kind, text } => fill(
            "emergency_line",
            &[("actor", actor), ("kind", cards::label(lang, emergency_kind.as_str())), ("text", text)],
        ),
        Happening::EmergencyAcknowledged => fill("emergency_acknowledged", &[("actor", actor)]),
        Happening::BudgetAlert { percent, used, budget, level } => fill(
            "budget_alert",
            &[
                ("pct", &percent.to_string()),
                ("used", &used.to_string()),
                ("budget", &budget.to_string()),
                ("level", text(lang, level.as_str())),
            ],
        ),
        Happening::ChatDisbanded { chat } => fill("chat_disbanded", &[("actor", actor), ("chat", chat)]),
    }
}

/// A digest line: which ticket, then what happened.
fn digest_line(body: &NotificationBody, lang: Lang) -> String {
    match &body.ticket {
        Some(t) => format!("#{} {}: {}", t.number, defang(t.title.clone()), line(body, lang)),
        None => line(body, lang),
    }
}

/// Renders `input` for its reader. `desk_url` is the Service Desk page of the ticket's
/// organisation (`{public_url}/desk/orgs/{org_id}`).
pub(crate) fn render(input: &ComposeInput, public_url: &str) -> Rendered {
    let lang = Lang::from_locale(&input.locale);
    // The newest summary, when everything concerns one ticket: the card shows the ticket
    // as it is now, and lists what happened to it.
    let latest = input.items.iter().rev().find_map(|i| i.ticket.as_ref());
    let single_ticket = latest.filter(|l| input.items.iter().all(|i| i.ticket.as_ref().is_some_and(|t| t.id == l.id)));
    let built: Result<(&'static str, Value), cards::CardError> = match single_ticket {
        Some(latest) => {
            let desk_url = format!("{public_url}/desk/orgs/{}", latest.org_id);
            let news: Vec<String> = input.items.iter().map(|i| line(i, lang)).collect();
            let title = defang(latest.title.clone());
            cards::ticket_card(
                &TicketCard {
                    ticket_id: &latest.id,
                    number: latest.number,
                    title: &title,
                    severity: latest.severity.as_str(),
                    status: latest.status.as_str(),
                    assignee: latest.assignee.as_deref(),
                    desk_url: &desk_url,
                    news: &news,
                },
                lang,
            )
            .map(|c| ("card", c))
        }
        None => {
            let lines: Vec<String> = input.items.iter().map(|i| digest_line(i, lang)).collect();
            let heading =
                if input.items.iter().all(|i| i.ticket.is_none()) { "budget_heading" } else { "digest_heading" };
            cards::digest_card(text(lang, heading), &lines, lang).map(|c| ("digest", c))
        }
    };
    let (kind, card) = built.unwrap_or_else(|_| {
        // Cards are kept inside Lark's limits by construction; should one still not
        // build, the reader gets a short notice rather than nothing.
        let fallback = [format!("{} {}", input.items.len(), text(lang, "updates"))];
        ("digest", cards::digest_card(text(lang, "digest_heading"), &fallback, lang).unwrap_or(Value::Null))
    });
    Rendered { kind, card: card.to_string() }
}

#[cfg(test)]
mod tests {
    use desk_core::EmergencyKind;

    use super::*;

    fn body(happening: Happening) -> NotificationBody {
        NotificationBody { ticket: None, happening, actor: "Chen Jing".into(), at: chrono::Utc::now() }
    }

    #[test]
    fn escalations_and_emergencies_read_in_both_languages() {
        let escalated = body(Happening::Escalated { level: "senior_engineer".into(), reason: "line stopped".into() });
        assert_eq!(line(&escalated, Lang::En), "Chen Jing escalated it to senior engineer: line stopped");
        assert_eq!(line(&escalated, Lang::Zh), "Chen Jing 将工单升级至高级工程师：line stopped");
        let declared = body(Happening::EmergencyDeclared {
            emergency_kind: EmergencyKind::DataLoss,
            text: "orders <at user_id=\"all\"></at> gone".into(),
        });
        assert_eq!(
            line(&declared, Lang::En),
            "Chen Jing declared an emergency (data loss): orders ‹at user_id=\"all\"›‹/at› gone"
        );
        assert!(line(&declared, Lang::Zh).contains("数据丢失"));
        let acknowledged = body(Happening::EmergencyAcknowledged);
        assert_eq!(line(&acknowledged, Lang::En), "Chen Jing acknowledged the emergency");
        assert_eq!(line(&acknowledged, Lang::Zh), "Chen Jing 已确认接手紧急事件");
    }

    #[test]
    fn a_level_of_a_ladder_the_cards_do_not_know_reads_as_its_key() {
        let escalated = body(Happening::Escalated { level: "duty_manager".into(), reason: "r".into() });
        assert_eq!(line(&escalated, Lang::Zh), "Chen Jing 将工单升级至duty_manager：r");
    }
}
