//! Rendering what waited for a reader into one card, in the reader's language: the
//! ticket card when it all concerns one ticket, a digest card otherwise.

use desk_core::EmergencyKind;
use desk_core::escalation::paging::PageReason;
use desk_core::notify::{Happening, NotificationBody};
use desk_core::targets::TargetKind;
use desk_store::{ComposeInput, Rendered};
use serde_json::Value;

use crate::cards::{self, EmergencyCard, Lang, TicketCard, text};

/// People's words made harmless for Lark markdown (see `cards::defang`); the lines are
/// defanged where they are made too, since they also travel as plain text.
fn defang(s: String) -> String {
    cards::defang(&s)
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
        Happening::Paged { emergency_kind, text: words, step, page, reason } => fill(
            if *reason == PageReason::NoUpdate { "paged_no_update" } else { "paged" },
            &[
                ("kind", cards::label(lang, emergency_kind.as_str())),
                ("text", words),
                ("step", &step.to_string()),
                ("page", &page.to_string()),
            ],
        ),
        Happening::EmergencyStatus { acknowledged_by, next_update_by, .. } => match (acknowledged_by, next_update_by) {
            (_, Some(next)) => fill("next_update_line", &[("next", next)]),
            (Some(who), None) => fill("emergency_acknowledged", &[("actor", who)]),
            (None, None) => text(lang, "not_acknowledged").to_owned(),
        },
        Happening::ResponseWarning { target, due } => {
            fill("response_warning", &[("target", text(lang, target_key(*target))), ("due", due)])
        }
        Happening::ResponseBreached { target, due } => {
            fill("response_breached", &[("target", text(lang, target_key(*target))), ("due", due)])
        }
    }
}

/// The card words for a response target.
fn target_key(target: TargetKind) -> &'static str {
    match target {
        TargetKind::FirstResponse => "first_response_target",
        TargetKind::Update => "update_target",
        TargetKind::Resolution => "resolution_target",
    }
}

/// An emergency as its card shows it, gathered from what waited for the reader: what
/// broke (from the newest item that says), who acknowledged and when the next update
/// is due (from the newest that says). `None` when nothing said what broke.
struct EmergencyView {
    reason: String,
    acknowledged_by: Option<String>,
    next_update_by: Option<String>,
}

fn emergency_view(items: &[NotificationBody], lang: Lang) -> Option<EmergencyView> {
    let mut broke: Option<(&EmergencyKind, &str)> = None;
    let mut acknowledged_by = None;
    let mut next_update_by = None;
    for item in items {
        match &item.happening {
            Happening::EmergencyDeclared { emergency_kind, text } | Happening::Paged { emergency_kind, text, .. } => {
                broke = Some((emergency_kind, text));
            }
            Happening::EmergencyStatus { emergency_kind, text, acknowledged_by: by, next_update_by: next } => {
                broke = Some((emergency_kind, text));
                if by.is_some() {
                    acknowledged_by.clone_from(by);
                }
                if next.is_some() {
                    next_update_by.clone_from(next);
                }
            }
            Happening::EmergencyAcknowledged => acknowledged_by = Some(item.actor.clone()),
            _ => {}
        }
    }
    let (kind, words) = broke?;
    // The newest lines matter most; the card stays well inside Lark's limits.
    let news: Vec<String> = items.iter().rev().take(10).rev().map(|i| format!("- {}", line(i, lang))).collect();
    let reason =
        format!("**{}**: {}\n{}", cards::label(lang, kind.as_str()), defang(words.to_owned()), news.join("\n"));
    Some(EmergencyView {
        reason,
        acknowledged_by: acknowledged_by.map(defang),
        next_update_by: next_update_by.map(defang),
    })
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
    let emergency = single_ticket.and_then(|_| emergency_view(&input.items, lang));
    let built: Result<(&'static str, Value), cards::CardError> = match (single_ticket, &emergency) {
        // An emergency shows as the emergency card: what broke, who took it on and when
        // the next update is due, or the Acknowledge button while nobody has.
        (Some(latest), Some(e)) => {
            let title = defang(latest.title.clone());
            cards::emergency_card(
                &EmergencyCard {
                    ticket_id: &latest.id,
                    number: latest.number,
                    title: &title,
                    reason: &e.reason,
                    acknowledged_by: e.acknowledged_by.as_deref(),
                    next_update_by: e.next_update_by.as_deref(),
                },
                lang,
            )
            .map(|c| ("card", c))
        }
        (Some(latest), None) => {
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
        (None, _) => {
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
    fn pages_warnings_and_breaches_read_in_both_languages() {
        let page = body(Happening::Paged {
            emergency_kind: EmergencyKind::ServiceUnavailable,
            text: "checkout returns 500".into(),
            step: 2,
            page: 1,
            reason: PageReason::Unacknowledged,
        });
        assert_eq!(
            line(&page, Lang::En),
            "Page 1 (step 2): nobody has acknowledged the emergency (service unavailable) yet: checkout returns 500"
        );
        assert!(line(&page, Lang::Zh).starts_with("第 2 级第 1 次呼叫"), "{}", line(&page, Lang::Zh));
        let warning = body(Happening::ResponseWarning { target: TargetKind::FirstResponse, due: "11:00 UTC".into() });
        assert_eq!(line(&warning, Lang::En), "The first response target runs out at 11:00 UTC");
        assert_eq!(line(&warning, Lang::Zh), "首次响应时限将于 11:00 UTC 到期");
        let breach =
            body(Happening::ResponseBreached { target: TargetKind::Update, due: "Mon 23 Nov 11:00 UTC".into() });
        assert_eq!(line(&breach, Lang::En), "The update target was missed at Mon 23 Nov 11:00 UTC");
    }

    fn ticket() -> desk_core::notify::TicketSummary {
        desk_core::notify::TicketSummary {
            id: "t-1".into(),
            number: 7,
            title: "Payments down".into(),
            severity: desk_core::Severity::P1,
            status: desk_core::TicketStatus::Open,
            assignee: None,
            org_id: "o-1".into(),
        }
    }

    fn render_for(items: Vec<Happening>) -> String {
        // The acknowledgement is said by whoever acknowledged.
        let items = items
            .into_iter()
            .map(|h| {
                let actor = if h == Happening::EmergencyAcknowledged { "Zhang Wei" } else { "Chen Jing" };
                NotificationBody { ticket: Some(ticket()), actor: actor.into(), ..body(h) }
            })
            .collect();
        let input = ComposeInput {
            recipient: desk_core::notify::Recipient::Chat("oc_1".into()),
            locale: "en".into(),
            items,
            class: desk_core::notify::NotifyClass::Emergency,
        };
        render(&input, "https://desk.test").card
    }

    #[test]
    fn an_emergency_renders_as_the_emergency_card_with_the_commitment_once_acknowledged() {
        let declared =
            Happening::EmergencyDeclared { emergency_kind: EmergencyKind::DataLoss, text: "orders gone".into() };
        let paging = render_for(vec![declared.clone()]);
        assert!(paging.contains("Emergency declared · #7 Payments down"), "{paging}");
        assert!(paging.contains("\"acknowledge\"") && paging.contains("orders gone"), "{paging}");
        let status = Happening::EmergencyStatus {
            emergency_kind: EmergencyKind::DataLoss,
            text: "orders gone".into(),
            acknowledged_by: Some("Zhang Wei".into()),
            next_update_by: Some("14:30 Asia/Shanghai".into()),
        };
        let committed = render_for(vec![declared, status, Happening::EmergencyAcknowledged]);
        assert!(committed.contains("Zhang Wei") && committed.contains("14:30 Asia/Shanghai"), "{committed}");
        assert!(committed.contains("Next update by"), "{committed}");
        assert!(!committed.contains("\"acknowledge\""), "no button once someone took it on: {committed}");
        // Without an emergency the ticket card stays.
        let plain = render_for(vec![Happening::Created]);
        assert!(plain.contains("Escalate"), "{plain}");
    }

    #[test]
    fn a_level_of_a_ladder_the_cards_do_not_know_reads_as_its_key() {
        let escalated = body(Happening::Escalated { level: "duty_manager".into(), reason: "r".into() });
        assert_eq!(line(&escalated, Lang::Zh), "Chen Jing 将工单升级至duty_manager：r");
    }
}
