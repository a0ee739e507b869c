//! Card JSON 2.0 (lark-spec.md §5.1): a small builder that only produces valid cards, and
//! the cards Larkdesk sends, rendered in the reader's language from one template source.
//! The inputs are plain strings and numbers: this crate knows Lark, not tickets.

use serde_json::{Value, json};

/// Lark's limit on a card's JSON.
pub const CARD_MAX_BYTES: usize = 30 * 1024;
/// Lark's limit on components in one card.
pub const CARD_MAX_ELEMENTS: usize = 200;
/// Lark's limit on a button's text.
pub const BUTTON_TEXT_MAX: usize = 100;

/// Why a card was not built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CardError {
    /// Over 30 KB of JSON.
    #[error("the card is {0} bytes; Lark accepts at most 30 KB")]
    TooLarge(usize),
    /// Over 200 components.
    #[error("the card has {0} components; Lark accepts at most 200")]
    TooManyElements(usize),
}

/// The reader's language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    /// English.
    #[default]
    En,
    /// Simplified Chinese.
    Zh,
}

impl Lang {
    /// From a Lark locale or a person's preference (`zh_cn`, `zh-CN`, `en_us`, …).
    pub fn from_locale(locale: &str) -> Self {
        if locale.to_ascii_lowercase().starts_with("zh") { Self::Zh } else { Self::En }
    }
}

/// A header colour (`template`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Colour {
    /// `red`.
    Red,
    /// `orange`.
    Orange,
    /// `yellow`.
    Yellow,
    /// `blue`.
    Blue,
    /// `green`.
    Green,
    /// `grey`.
    Grey,
    /// `carmine`.
    Carmine,
}

impl Colour {
    const fn as_str(self) -> &'static str {
        match self {
            Self::Red => "red",
            Self::Orange => "orange",
            Self::Yellow => "yellow",
            Self::Blue => "blue",
            Self::Green => "green",
            Self::Grey => "grey",
            Self::Carmine => "carmine",
        }
    }

    /// The colour of a severity (`P1` red … `P4` blue).
    pub fn of_severity(severity: &str) -> Self {
        match severity {
            "P1" => Self::Red,
            "P2" => Self::Orange,
            "P3" => Self::Yellow,
            _ => Self::Blue,
        }
    }
}

/// A button's look.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ButtonStyle {
    /// `default`.
    Default,
    /// `primary_filled`.
    Primary,
    /// `danger_filled`.
    Danger,
}

impl ButtonStyle {
    const fn as_str(self) -> &'static str {
        match self {
            Self::Default => "default",
            Self::Primary => "primary_filled",
            Self::Danger => "danger_filled",
        }
    }
}

fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_owned()
    } else {
        let mut cut: String = text.chars().take(max.saturating_sub(1)).collect();
        cut.push('…');
        cut
    }
}

/// Lark markdown turns `<at user_id="all">` and friends into mentions and markup, and the
/// spec names no escape; the words on a card (titles, comments, names: people's words)
/// must not be able to @everyone, so angle brackets become look-alikes that Lark prints
/// as they are. Every markdown element goes through here; the cards use no markup of
/// their own that needs `<`.
pub(crate) fn defang(s: &str) -> String {
    s.replace('<', "‹").replace('>', "›")
}

/// Builds a shared (`update_multi`) card JSON 2.0.
#[derive(Debug, Clone)]
pub struct CardBuilder {
    header: Value,
    elements: Vec<Value>,
}

impl CardBuilder {
    /// A card with a coloured header.
    pub fn new(title: &str, colour: Colour) -> Self {
        Self {
            header: json!({ "template": colour.as_str(), "title": { "tag": "plain_text", "content": truncate(title, 200) } }),
            elements: Vec::new(),
        }
    }

    /// A subtitle under the title.
    #[must_use]
    pub fn subtitle(mut self, text: &str) -> Self {
        self.header["subtitle"] = json!({ "tag": "plain_text", "content": truncate(text, 200) });
        self
    }

    /// A markdown block.
    #[must_use]
    pub fn markdown(mut self, content: &str) -> Self {
        self.elements.push(json!({ "tag": "markdown", "content": defang(content) }));
        self
    }

    /// Label/value pairs, two to a row.
    #[must_use]
    pub fn fields(mut self, pairs: &[(&str, &str)]) -> Self {
        for row in pairs.chunks(2) {
            let columns: Vec<Value> = row
                .iter()
                .map(|(label, value)| {
                    json!({ "tag": "column", "width": "weighted", "weight": 1, "elements": [
                        { "tag": "markdown", "content": format!("**{label}**\n{}", defang(value)) }
                    ]})
                })
                .collect();
            self.elements.push(json!({ "tag": "column_set", "columns": columns }));
        }
        self
    }

    /// A divider.
    #[must_use]
    pub fn divider(mut self) -> Self {
        self.elements.push(json!({ "tag": "hr" }));
        self
    }

    /// A button that calls back with `value` (`card.action.trigger`).
    #[must_use]
    pub fn callback_button(mut self, text: &str, style: ButtonStyle, value: Value) -> Self {
        self.elements.push(json!({
            "tag": "button",
            "text": { "tag": "plain_text", "content": truncate(text, BUTTON_TEXT_MAX) },
            "type": style.as_str(),
            "behaviors": [{ "type": "callback", "value": value }],
        }));
        self
    }

    /// A button that opens a URL.
    #[must_use]
    pub fn link_button(mut self, text: &str, url: &str) -> Self {
        self.elements.push(json!({
            "tag": "button",
            "text": { "tag": "plain_text", "content": truncate(text, BUTTON_TEXT_MAX) },
            "type": ButtonStyle::Default.as_str(),
            "behaviors": [{ "type": "open_url", "default_url": url }],
        }));
        self
    }

    /// The card JSON, checked against Lark's limits.
    pub fn build(self) -> Result<Value, CardError> {
        let count = count_components(&self.elements);
        if count > CARD_MAX_ELEMENTS {
            return Err(CardError::TooManyElements(count));
        }
        let card = json!({
            "schema": "2.0",
            "config": { "update_multi": true },
            "header": self.header,
            "body": { "elements": self.elements },
        });
        let size = card.to_string().len();
        if size > CARD_MAX_BYTES { Err(CardError::TooLarge(size)) } else { Ok(card) }
    }
}

fn count_components(elements: &[Value]) -> usize {
    elements
        .iter()
        .map(|e| {
            let nested = e["columns"].as_array().map_or(0, |cols| {
                cols.iter().map(|c| 1 + c["elements"].as_array().map_or(0, |els| count_components(els))).sum()
            });
            1 + nested
        })
        .sum()
}

/// Every fixed text on the cards, in each language: the one template source.
pub(crate) fn text(lang: Lang, key: &str) -> &'static str {
    let (en, zh) = match key {
        "severity" => ("Severity", "严重程度"),
        "status" => ("Status", "状态"),
        "assignee" => ("Assignee", "处理人"),
        "unassigned" => ("Unassigned", "未分配"),
        "escalate" => ("Escalate", "升级"),
        "emergency" => ("Emergency", "紧急事件"),
        "add_members" => ("Add members", "添加成员"),
        "service_desk" => ("Service Desk", "服务台"),
        "create_ticket" => ("Create Ticket", "创建工单"),
        "acknowledge" => ("Acknowledge", "确认接手"),
        "open" => ("Open", "待处理"),
        "in_progress" => ("In progress", "处理中"),
        "waiting_on_customer" => ("Waiting on you", "等待客户回复"),
        "resolved" => ("Resolved", "已解决"),
        "closed" => ("Closed", "已关闭"),
        "updates" => ("updates while you were away", "条更新"),
        "update" => ("update while you were away", "条更新"),
        "main_group_intro" => (
            "Your support desk: open a ticket or see every ticket of your organisation.",
            "您的技术支持服务台：创建工单，或查看本组织的全部工单。",
        ),
        "emergency_declared" => ("Emergency declared", "已宣布紧急事件"),
        "acknowledged_by" => ("Acknowledged by", "已由以下人员接手"),
        "next_update_by" => ("Next update by", "下次更新不晚于"),
        "not_acknowledged" => ("Not yet acknowledged: paging on-call", "尚未接手：正在呼叫值班工程师"),
        "created" => ("{actor} opened the ticket", "{actor} 创建了工单"),
        "assigned" => ("{actor} assigned it to {to}", "{actor} 将工单分配给 {to}"),
        "status_changed" => ("{actor} moved it from {from} to {to}", "{actor} 将状态从「{from}」改为「{to}」"),
        "commented" => ("{actor} commented: {text}", "{actor} 评论：{text}"),
        "internal_note" => ("{actor} left an internal note: {text}", "{actor} 添加了内部备注：{text}"),
        "escalated" => ("{actor} escalated it to {level}: {reason}", "{actor} 将工单升级至{level}：{reason}"),
        "emergency_line" => {
            ("{actor} declared an emergency ({kind}): {text}", "{actor} 宣布紧急事件（{kind}）：{text}")
        }
        "emergency_acknowledged" => ("{actor} acknowledged the emergency", "{actor} 已确认接手紧急事件"),
        "engineer" => ("engineer", "工程师"),
        "senior_engineer" => ("senior engineer", "高级工程师"),
        "tam_lead" => ("TAM lead", "TAM 负责人"),
        "data_loss" => ("data loss", "数据丢失"),
        "data_corruption" => ("data corruption", "数据损坏"),
        "service_unavailable" => ("service unavailable", "服务不可用"),
        "budget_alert" => (
            "{pct}% of this month's Lark API budget is used ({used} of {budget} calls). Delivery now: {level}.",
            "本月 Lark API 调用额度已用 {pct}%（{used}/{budget} 次）。当前投递方式：{level}。",
        ),
        "normal" => ("normal", "正常"),
        "merge_edits" => ("card edits merged", "合并卡片更新"),
        "digests_only" => ("digests only", "仅发送摘要"),
        "emergencies_only" => ("emergencies only", "仅发送紧急通知"),
        "chat_disbanded" => (
            "The Lark group \"{chat}\" was disbanded; the desk no longer posts there.",
            "Lark 群「{chat}」已解散，服务台将不再向其发送消息。",
        ),
        "digest_heading" => ("Larkdesk: what you missed", "Larkdesk：您错过的更新"),
        "budget_heading" => ("Larkdesk: Lark API budget", "Larkdesk：Lark API 调用额度"),
        "paged" => (
            "Page {page} (step {step}): nobody has acknowledged the emergency ({kind}) yet: {text}",
            "第 {step} 级第 {page} 次呼叫：紧急事件（{kind}）尚无人接手：{text}",
        ),
        "paged_no_update" => (
            "Page {page} (step {step}): the emergency ({kind}) was acknowledged but has had no update in time: {text}",
            "第 {step} 级第 {page} 次呼叫：紧急事件（{kind}）已有人接手，但未按时更新进展：{text}",
        ),
        "next_update_line" => ("Next update by {next}", "下次更新不晚于 {next}"),
        "response_warning" => ("The {target} target runs out at {due}", "{target}时限将于 {due} 到期"),
        "response_breached" => ("The {target} target was missed at {due}", "{target}时限已于 {due} 超时"),
        "first_response_target" => ("first response", "首次响应"),
        "update_target" => ("update", "进展更新"),
        "resolution_target" => ("resolution", "解决"),
        _ => ("", ""),
    };
    match lang {
        Lang::En => en,
        Lang::Zh => zh,
    }
}

/// The words for a stable name (`senior_engineer`, `in_progress`, …) in `lang`; the name
/// itself when there are none.
pub fn label(lang: Lang, key: &str) -> &str {
    match text(lang, key) {
        "" => key,
        known => known,
    }
}

/// What the ticket card shows.
#[derive(Debug, Clone)]
pub struct TicketCard<'a> {
    /// The ticket's id (carried in button callbacks).
    pub ticket_id: &'a str,
    /// The human number.
    pub number: i64,
    /// Title.
    pub title: &'a str,
    /// `P1`–`P4`.
    pub severity: &'a str,
    /// Status name (`open`, `in_progress`, …).
    pub status: &'a str,
    /// Assignee's name.
    pub assignee: Option<&'a str>,
    /// The Service Desk page.
    pub desk_url: &'a str,
    /// What just happened to the ticket, one line each, oldest first.
    pub news: &'a [String],
}

/// The ticket card: title, severity colour, status, assignee, and the actions.
pub fn ticket_card(t: &TicketCard<'_>, lang: Lang) -> Result<Value, CardError> {
    let closed = matches!(t.status, "resolved" | "closed");
    let colour = if closed { Colour::Grey } else { Colour::of_severity(t.severity) };
    let action = |name: &str| json!({ "action": name, "ticket_id": t.ticket_id });
    let mut card = CardBuilder::new(&format!("#{} {}", t.number, t.title), colour);
    if !t.news.is_empty() {
        // The newest lines matter most; keep the card well inside Lark's limits.
        let shown: Vec<String> =
            t.news.iter().rev().take(20).rev().map(|l| format!("- {}", truncate(l, 300))).collect();
        card = card.markdown(&shown.join("\n"));
    }
    card = card.fields(&[
        (text(lang, "severity"), t.severity),
        (text(lang, "status"), label(lang, t.status)),
        (text(lang, "assignee"), t.assignee.unwrap_or(text(lang, "unassigned"))),
    ]);
    if !closed {
        card = card
            .callback_button(text(lang, "escalate"), ButtonStyle::Primary, action("escalate"))
            .callback_button(text(lang, "emergency"), ButtonStyle::Danger, action("emergency"))
            .callback_button(text(lang, "add_members"), ButtonStyle::Default, action("add_members"));
    }
    card.link_button(text(lang, "service_desk"), t.desk_url).build()
}

/// The digest card: what happened while the reader's window was closed, merged into one.
pub fn digest_card(heading: &str, lines: &[String], lang: Lang) -> Result<Value, CardError> {
    let noun = if lines.len() == 1 { "update" } else { "updates" };
    let subtitle = format!("{} {}", lines.len(), text(lang, noun));
    // Keep well inside 30 KB whatever piled up: the newest lines matter most.
    let shown: Vec<String> = lines.iter().rev().take(50).rev().map(|l| format!("- {}", truncate(l, 300))).collect();
    CardBuilder::new(heading, Colour::Blue).subtitle(&subtitle).markdown(&shown.join("\n")).build()
}

/// What the emergency card shows.
#[derive(Debug, Clone)]
pub struct EmergencyCard<'a> {
    /// The ticket's id.
    pub ticket_id: &'a str,
    /// The human number.
    pub number: i64,
    /// Title.
    pub title: &'a str,
    /// What broke (data loss, corruption, unavailable) and the reporter's words.
    pub reason: &'a str,
    /// Who acknowledged, once someone did.
    pub acknowledged_by: Option<&'a str>,
    /// The committed time of the next update, in the reader's time zone.
    pub next_update_by: Option<&'a str>,
}

/// The emergency card: posted in the ticket and main groups, and sent as a page.
pub fn emergency_card(e: &EmergencyCard<'_>, lang: Lang) -> Result<Value, CardError> {
    let title = format!("{} · #{} {}", text(lang, "emergency_declared"), e.number, e.title);
    let card = CardBuilder::new(&title, Colour::Carmine).markdown(e.reason);
    let card = match e.acknowledged_by {
        Some(who) => {
            let mut pairs = vec![(text(lang, "acknowledged_by"), who)];
            if let Some(next) = e.next_update_by {
                pairs.push((text(lang, "next_update_by"), next));
            }
            card.fields(&pairs)
        }
        None => card.markdown(&format!("**{}**", text(lang, "not_acknowledged"))).callback_button(
            text(lang, "acknowledge"),
            ButtonStyle::Danger,
            json!({ "action": "acknowledge", "ticket_id": e.ticket_id }),
        ),
    };
    card.build()
}

/// The main service group's card: Service Desk and Create Ticket.
pub fn main_group_card(org_name: &str, org_id: &str, desk_url: &str, lang: Lang) -> Result<Value, CardError> {
    CardBuilder::new(org_name, Colour::Blue)
        .markdown(text(lang, "main_group_intro"))
        .callback_button(
            text(lang, "create_ticket"),
            ButtonStyle::Primary,
            json!({ "action": "create_ticket", "org_id": org_id }),
        )
        .link_button(text(lang, "service_desk"), desk_url)
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEMPLATES: &[&str] = &[
        "blue",
        "wathet",
        "turquoise",
        "green",
        "yellow",
        "orange",
        "red",
        "carmine",
        "violet",
        "purple",
        "indigo",
        "grey",
        "default",
    ];

    /// The rules of lark-spec.md §5.1 that every card we send must satisfy.
    fn assert_valid(card: &Value) {
        assert_eq!(card["schema"], "2.0");
        assert_eq!(card["config"]["update_multi"], true);
        assert!(TEMPLATES.contains(&card["header"]["template"].as_str().unwrap()));
        assert_eq!(card["header"]["title"]["tag"], "plain_text");
        assert!(card.get("elements").is_none(), "2.0 cards keep elements under body");
        for e in card["body"]["elements"].as_array().unwrap() {
            assert_ne!(e["tag"], "action", "2.0 has no action module");
            if e["tag"] == "button" {
                assert!(e["text"]["content"].as_str().unwrap().chars().count() <= BUTTON_TEXT_MAX);
                assert!(matches!(e["behaviors"][0]["type"].as_str(), Some("callback" | "open_url")));
            }
        }
        assert!(card.to_string().len() <= CARD_MAX_BYTES);
    }

    fn ticket(status: &'static str) -> TicketCard<'static> {
        TicketCard {
            ticket_id: "t-1",
            number: 42,
            title: "Gateway drops data",
            severity: "P1",
            status,
            assignee: None,
            desk_url: "https://desk.example/orgs/1",
            news: &[],
        }
    }

    #[test]
    fn the_ticket_card_is_valid_coloured_by_severity_and_offers_the_actions() {
        let card = ticket_card(&ticket("open"), Lang::En).unwrap();
        assert_valid(&card);
        assert_eq!(card["header"]["template"], "red");
        let actions: Vec<&str> = card["body"]["elements"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|e| e["behaviors"][0]["value"]["action"].as_str())
            .collect();
        assert_eq!(actions, ["escalate", "emergency", "add_members"]);
        assert!(card.to_string().contains("Unassigned"));
    }

    #[test]
    fn a_closed_ticket_card_is_grey_and_offers_no_actions() {
        let card = ticket_card(&ticket("closed"), Lang::En).unwrap();
        assert_valid(&card);
        assert_eq!(card["header"]["template"], "grey");
        assert!(!card.to_string().contains("\"callback\""));
    }

    #[test]
    fn cards_speak_the_readers_language() {
        let zh = ticket_card(&ticket("in_progress"), Lang::from_locale("zh_CN")).unwrap().to_string();
        assert!(zh.contains("处理中") && zh.contains("升级") && !zh.contains("Escalate"));
        let en = ticket_card(&ticket("in_progress"), Lang::from_locale("en_us")).unwrap().to_string();
        assert!(en.contains("In progress") && !en.contains("处理中"));
    }

    #[test]
    fn digests_stay_within_lark_limits_however_much_piled_up() {
        let lines: Vec<String> =
            (0..5_000).map(|i| format!("ticket #{i} changed status {}", "x".repeat(200))).collect();
        let card = digest_card("Larkdesk", &lines, Lang::En).unwrap();
        assert_valid(&card);
        assert!(card.to_string().contains("5000 updates"));
        assert!(card.to_string().contains("ticket #4999"), "the newest lines are kept");
    }

    #[test]
    fn the_emergency_card_shows_the_commitment_once_acknowledged() {
        let mut e = EmergencyCard {
            ticket_id: "t-1",
            number: 7,
            title: "Orders lost",
            reason: "data loss: orders since 09:00 are gone",
            acknowledged_by: None,
            next_update_by: None,
        };
        let paging = emergency_card(&e, Lang::En).unwrap();
        assert_valid(&paging);
        assert!(paging.to_string().contains("\"acknowledge\""));
        e.acknowledged_by = Some("Zhang Wei");
        e.next_update_by = Some("14:30");
        let committed = emergency_card(&e, Lang::En).unwrap().to_string();
        assert!(
            committed.contains("Zhang Wei") && committed.contains("14:30") && !committed.contains("\"acknowledge\"")
        );
    }

    #[test]
    fn the_main_group_card_offers_create_ticket_and_the_desk() {
        let card = main_group_card("Acme", "org-1", "https://desk.example/orgs/1", Lang::En).unwrap();
        assert_valid(&card);
        assert!(card.to_string().contains("create_ticket"));
    }

    #[test]
    fn oversize_cards_are_refused_not_sent() {
        let big = "y".repeat(CARD_MAX_BYTES);
        assert!(matches!(CardBuilder::new("t", Colour::Blue).markdown(&big).build(), Err(CardError::TooLarge(_))));
    }
}
