//! What the bot says, in English and Chinese. Placeholders `{n}`, `{title}`, … are
//! filled by [`say`].

use desk_core::Locale;
use lark_notify::cards::{self, Lang};

/// The English and Chinese of `key`.
pub(super) fn pair(key: &str) -> (&'static str, &'static str) {
    match key {
        "failed" => ("Something went wrong; please try again.", "出错了，请重试。"),
        "working" => ("Received: working on it.", "已收到，正在处理。"),
        "unknown_person" => (
            "Your Lark account is not linked to Larkdesk yet. Ask your Technical Account Manager to add you.",
            "您的 Lark 账号尚未关联 Larkdesk，请联系您的技术客户经理添加。",
        ),
        "not_yours" => ("This ticket belongs to another organisation.", "该工单属于其他组织。"),
        "no_org" => (
            "I cannot tell which organisation this is for: ask in your organisation's service group.",
            "无法确定所属组织，请在您组织的服务群中操作。",
        ),
        "created" => ("Ticket #{n} created: {title}", "工单 #{n} 已创建：{title}"),
        "escalated" => ("Ticket #{n} escalated to {level}.", "工单 #{n} 已升级至 {level}。"),
        "escalation_merged" => (
            "Ticket #{n} was escalated moments ago; your reason was added to it.",
            "工单 #{n} 刚刚已升级，您的原因已补充记录。",
        ),
        "emergency_declared" => (
            "Emergency declared on ticket #{n}: the on-call engineer is being paged.",
            "工单 #{n} 已宣布紧急事件，正在呼叫值班工程师。",
        ),
        "emergency_already" => ("Ticket #{n} is already an emergency.", "工单 #{n} 已处于紧急状态。"),
        "emergency_pick" => ("What broke on ticket #{n}?", "工单 #{n} 出了什么问题？"),
        "acknowledged" => ("You acknowledged the emergency on ticket #{n}.", "您已确认接手工单 #{n} 的紧急事件。"),
        "acknowledged_already" => {
            ("{who} already acknowledged the emergency on ticket #{n}.", "{who} 已确认接手工单 #{n} 的紧急事件。")
        }
        "staff_only" => ("Only the service team can do this.", "仅服务团队可执行此操作。"),
        "which_ticket" => (
            "Which ticket? Say it with its number, like `status #12`, or ask in the ticket's group.",
            "请指明工单编号，例如 `状态 #12`，或在工单群中发送。",
        ),
        "no_ticket" => ("There is no ticket #{n}.", "不存在工单 #{n}。"),
        "no_open_tickets" => ("You have no open tickets.", "您没有未关闭的工单。"),
        "open_tickets" => ("Your open tickets", "您的未关闭工单"),
        "invite_created" => {
            ("Invite link for ticket #{n}, valid until {until}: {url}", "工单 #{n} 的邀请链接，有效期至 {until}：{url}")
        }
        "invite_link" => (
            "Invite colleagues with this link (valid until {until}): [{url}]({url})",
            "用此链接邀请同事（有效期至 {until}）：[{url}]({url})",
        ),
        "invite_no_group" => {
            ("Ticket #{n} has no Lark group yet; try again in a minute.", "工单 #{n} 的群聊尚未创建，请稍后重试。")
        }
        "invite_group_gone" => (
            "The group of ticket #{n} was disbanded; nobody can be invited to it.",
            "工单 #{n} 的群聊已解散，无法邀请成员。",
        ),
        "invite_ticket_closed" => {
            ("Ticket #{n} is closed; reopen it to invite colleagues.", "工单 #{n} 已关闭，请重新打开后再邀请同事。")
        }
        "unknown_action" => ("This button is no longer supported.", "此按钮已不再支持。"),
        "data_loss" => ("Data loss", "数据丢失"),
        "data_corruption" => ("Data corruption", "数据损坏"),
        "service_unavailable" => ("Service unavailable", "服务不可用"),
        "default_title" => ("Request from {who}", "来自 {who} 的请求"),
        "escalated_in_lark" => ("Escalated in Lark", "在 Lark 中升级"),
        _ => ("", ""),
    }
}

/// `key` in `locale`, with `{name}` placeholders filled from `args`.
pub(super) fn say(locale: Locale, key: &str, args: &[(&str, &str)]) -> String {
    let (en, zh) = pair(key);
    if locale == Locale::Zh { fill(zh, args, Lang::Zh) } else { fill(en, args, Lang::En) }
}

/// Both languages of `key`, filled: for a toast's `i18n`.
pub(super) fn both(key: &str, args: &[(&str, &str)]) -> (String, String) {
    let (en, zh) = pair(key);
    (fill(en, args, Lang::En), fill(zh, args, Lang::Zh))
}

/// Fills placeholders; `{level}` holds a stable level name, shown in the reader's words.
fn fill(template: &str, args: &[(&str, &str)], lang: Lang) -> String {
    args.iter().fold(template.to_owned(), |t, (k, v)| {
        let shown = if *k == "level" { cards::label(lang, v) } else { v };
        t.replace(&format!("{{{k}}}"), shown)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_phrase_has_both_languages() {
        for key in ["created", "escalated", "emergency_declared", "unknown_person", "which_ticket", "data_loss"] {
            let (en, zh) = pair(key);
            assert!(!en.is_empty() && !zh.is_empty(), "{key}");
        }
    }

    #[test]
    fn placeholders_are_filled_in_the_readers_language() {
        let zh = say(Locale::Zh, "created", &[("n", "12"), ("title", "打印机着火")]);
        assert_eq!(zh, "工单 #12 已创建：打印机着火");
        let (en, _) = both("created", &[("n", "12"), ("title", "printer on fire")]);
        assert_eq!(en, "Ticket #12 created: printer on fire");
        let (en, zh) = both("escalated", &[("n", "3"), ("level", "senior_engineer")]);
        assert_eq!(
            (en.as_str(), zh.as_str()),
            ("Ticket #3 escalated to senior engineer.", "工单 #3 已升级至 高级工程师。")
        );
    }
}
