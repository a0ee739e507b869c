//! What people say to the bot in Lark, parsed into commands. Pure: the caller has already
//! removed the bot's `@_user_N` mention; what the bot then does is up to the caller.
//!
//! A command is a keyword, English or Chinese, in any case, optionally after a `/`, then
//! a separator (a space, a colon, or `#` before a ticket number), then its arguments.
//! Full-width spaces, colons, `＃` and digits are read as their ASCII twins, while the
//! title and reason keep the person's own characters. A keyword glued to the following
//! text (`升级了吗`) is not a command: requests to the bot read as ordinary messages
//! unless they clearly are one.

use crate::{EmergencyKind, Locale};

/// What a message to the bot asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Open a ticket.
    New {
        /// Its title, as typed (lines joined by spaces).
        title: String,
    },
    /// Where a ticket stands.
    Status {
        /// `#N`; `None` means "this ticket group's ticket" (or, in a chat with the bot, the
        /// person's open tickets).
        ticket: Option<i64>,
    },
    /// Raise a ticket one escalation level.
    Escalate {
        /// `#N`, when named.
        ticket: Option<i64>,
        /// Why, when said.
        reason: Option<String>,
    },
    /// Declare an emergency.
    Emergency {
        /// `#N`, when named.
        ticket: Option<i64>,
        /// What broke, when the words say it; `None`: ask.
        kind: Option<EmergencyKind>,
        /// What broke, as typed.
        text: String,
    },
    /// The list of commands.
    Help,
    /// A command without something it needs: answer with how to use it.
    Incomplete {
        /// Which command.
        command: CommandKind,
        /// What is missing, to tell the person.
        hint: Hint,
    },
    /// Not a command: in a ticket group an ordinary message for the timeline; in a chat
    /// with the bot, answer with help.
    NotACommand,
}

/// The commands, by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CommandKind {
    /// `new`, `新建`.
    New,
    /// `status`, `状态`.
    Status,
    /// `escalate`, `升级`.
    Escalate,
    /// `emergency`, `紧急`.
    Emergency,
    /// `help`, `帮助`.
    Help,
}

/// What an incomplete command lacks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Hint {
    /// `new` needs a title.
    TitleRequired,
    /// `emergency` needs to say what broke.
    WhatBrokeRequired,
}

impl Hint {
    /// What to tell the person, in their language.
    pub const fn text(self, locale: Locale) -> &'static str {
        match (self, locale) {
            (Self::TitleRequired, Locale::En) => "Say what the ticket is about: new <title>, e.g. new VPN drops hourly",
            (Self::TitleRequired, Locale::Zh) => "请写明工单标题：新建 <标题>，例如：新建 VPN 每小时断线",
            (Self::WhatBrokeRequired, Locale::En) => {
                "Say what broke: emergency <what broke>, e.g. emergency orders since 09:00 are lost"
            }
            (Self::WhatBrokeRequired, Locale::Zh) => {
                "请说明故障情况：紧急 <故障描述>，例如：紧急 9 点以后的订单数据丢失"
            }
        }
    }
}

/// The keywords, lower case. Longer Chinese phrases are listed so that `新建工单 标题`
/// reads as one keyword, not `新建` with the title `工单 标题`.
const KEYWORDS: &[(&str, CommandKind)] = &[
    ("new", CommandKind::New),
    ("ticket", CommandKind::New),
    ("新建", CommandKind::New),
    ("工单", CommandKind::New),
    ("新工单", CommandKind::New),
    ("新建工单", CommandKind::New),
    ("创建工单", CommandKind::New),
    ("status", CommandKind::Status),
    ("状态", CommandKind::Status),
    ("escalate", CommandKind::Escalate),
    ("升级", CommandKind::Escalate),
    ("emergency", CommandKind::Emergency),
    ("紧急", CommandKind::Emergency),
    ("紧急事件", CommandKind::Emergency),
    ("help", CommandKind::Help),
    ("帮助", CommandKind::Help),
    ("?", CommandKind::Help),
];

/// Reads a full-width form (U+FF01–U+FF5E) as its ASCII twin, and the ideographic space
/// as a space, for the structure of a command; arguments keep what was typed.
fn fold(c: char) -> char {
    match c {
        '\u{3000}' => ' ',
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(u32::from(c) - 0xFEE0).unwrap_or(c),
        _ => c,
    }
}

/// Whether `c` ends a keyword.
fn is_separator(c: char) -> bool {
    let c = fold(c);
    c.is_whitespace() || matches!(c, ':' | '#')
}

/// Parses a message said to the bot.
pub fn parse_command(text: &str) -> Command {
    let text = text.trim();
    let text = text.strip_prefix(['/', '／']).map_or(text, str::trim_start);
    let end = text.find(is_separator).unwrap_or(text.len());
    let (word, rest) = text.split_at(end);
    let word: String = word.chars().map(fold).flat_map(char::to_lowercase).collect();
    let Some(kind) = KEYWORDS.iter().find(|(k, _)| *k == word).map(|(_, kind)| *kind) else {
        return Command::NotACommand;
    };
    let rest = skip_colon(rest);
    match kind {
        CommandKind::Help => Command::Help,
        CommandKind::New if rest.is_empty() => {
            Command::Incomplete { command: CommandKind::New, hint: Hint::TitleRequired }
        }
        CommandKind::New => Command::New { title: one_line(rest) },
        CommandKind::Status => Command::Status { ticket: ticket_ref(rest).0 },
        CommandKind::Escalate => {
            let (ticket, reason) = ticket_ref(rest);
            Command::Escalate { ticket, reason: (!reason.is_empty()).then(|| one_line(reason)) }
        }
        CommandKind::Emergency => match ticket_ref(rest) {
            (_, "") => Command::Incomplete { command: CommandKind::Emergency, hint: Hint::WhatBrokeRequired },
            (ticket, text) => Command::Emergency { ticket, kind: infer_kind(text), text: text.to_owned() },
        },
    }
}

/// Titles and reasons are one line: a message typed over several keeps every word,
/// its lines joined by spaces.
fn one_line(s: &str) -> String {
    s.lines().map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join(" ")
}

/// Skips the spaces and at most one colon after a keyword.
fn skip_colon(s: &str) -> &str {
    let s = s.trim_start();
    s.strip_prefix([':', '：']).unwrap_or(s).trim()
}

/// A leading `#N` (or `＃Ｎ`), and what follows it.
fn ticket_ref(s: &str) -> (Option<i64>, &str) {
    let Some(after_hash) = s.strip_prefix(['#', '＃']) else { return (None, s) };
    let end = after_hash.find(|c: char| !fold(c).is_ascii_digit()).unwrap_or(after_hash.len());
    if end == 0 {
        return (None, s);
    }
    let digits: String = after_hash[..end].chars().map(fold).collect();
    match digits.parse::<i64>() {
        Ok(n) => (Some(n), skip_colon(&after_hash[end..])),
        Err(_) => (None, s),
    }
}

/// The words that say what broke, for one kind.
struct KindWords {
    kind: EmergencyKind,
    /// Chinese phrases, found anywhere in the text.
    phrases: &'static [&'static str],
    /// English words, matched whole (`down` is not `download`).
    words: &'static [&'static str],
    /// English word starts (`corrupt` covers `corrupted`, `corruption`).
    stems: &'static [&'static str],
}

/// Most severe kind first: when the words name several, the worst wins.
const KIND_WORDS: &[KindWords] = &[
    KindWords {
        kind: EmergencyKind::DataLoss,
        phrases: &["丢失", "丢数据", "数据丢"],
        words: &["lost", "loss", "lose", "losing"],
        stems: &[],
    },
    KindWords { kind: EmergencyKind::DataCorruption, phrases: &["损坏", "错乱"], words: &[], stems: &["corrupt"] },
    KindWords {
        kind: EmergencyKind::ServiceUnavailable,
        phrases: &["无法访问", "不可用", "宕机", "挂了", "打不开"],
        words: &["down", "unavailable", "outage", "offline", "unreachable"],
        stems: &[],
    },
];

/// What broke, as far as the words say; `None` when they do not.
fn infer_kind(text: &str) -> Option<EmergencyKind> {
    let lower: String = text.chars().map(fold).flat_map(char::to_lowercase).collect();
    let words: Vec<&str> = lower.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).collect();
    KIND_WORDS.iter().find_map(|k| {
        let said = k.phrases.iter().any(|p| lower.contains(p))
            || words.iter().any(|w| k.words.contains(w) || k.stems.iter().any(|s| w.starts_with(s)));
        said.then_some(k.kind)
    })
}

/// The list of commands, in `locale`.
pub fn help_text(locale: Locale) -> String {
    let lines: &[&str] = match locale {
        Locale::En => &[
            "Send me one of these:",
            "• new <title>: open a ticket",
            "• status [#N]: where a ticket stands",
            "• escalate [#N] [reason]: raise a ticket one level (engineer → senior engineer → TAM lead)",
            "• emergency [#N] <what broke>: data loss, data corruption or service unavailable; on-call is paged at once",
            "• help: this list",
            "In a ticket group, #N can be left out.",
        ],
        Locale::Zh => &[
            "请发送以下指令：",
            "• 新建 <标题>：创建工单",
            "• 状态 [#编号]：查看工单进度",
            "• 升级 [#编号] [原因]：将工单升级一级（工程师 → 高级工程师 → TAM 负责人）",
            "• 紧急 [#编号] <故障描述>：数据丢失、数据损坏或服务不可用，立即呼叫值班工程师",
            "• 帮助：显示本列表",
            "在工单群中可以省略 #编号。",
        ],
    };
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use EmergencyKind::*;
    use rstest::rstest;

    fn new(title: &str) -> Command {
        Command::New { title: title.into() }
    }

    fn escalate(ticket: Option<i64>, reason: Option<&str>) -> Command {
        Command::Escalate { ticket, reason: reason.map(Into::into) }
    }

    fn emergency(ticket: Option<i64>, kind: Option<EmergencyKind>, text: &str) -> Command {
        Command::Emergency { ticket, kind, text: text.into() }
    }

    #[rstest]
    #[case::english("new VPN drops hourly", new("VPN drops hourly"))]
    #[case::ticket_keyword("ticket Printer on fire", new("Printer on fire"))]
    #[case::slash_and_case("/NEW  Gateway <at> drops ", new("Gateway <at> drops"))]
    #[case::colon("new: Line 3 down", new("Line 3 down"))]
    #[case::chinese("新建 打印机无法连接", new("打印机无法连接"))]
    #[case::full_width_colon("新建：打印机无法连接", new("打印机无法连接"))]
    #[case::full_width_space("工单\u{3000}网关每小时掉线", new("网关每小时掉线"))]
    #[case::new_ticket("新工单 数据同步慢", new("数据同步慢"))]
    #[case::new_ticket_phrase("新建工单 数据同步慢", new("数据同步慢"))]
    #[case::keeps_full_width_in_title("新建 网关掉线！", new("网关掉线！"))]
    #[case::full_width_keyword("ｎｅｗ Printer", new("Printer"))]
    #[case::several_lines("new Gateway drops\n  since the 2.4 upgrade ", new("Gateway drops since the 2.4 upgrade"))]
    fn new_tickets(#[case] input: &str, #[case] expected: Command) {
        assert_eq!(parse_command(input), expected);
    }

    #[rstest]
    #[case("new")]
    #[case("/new   ")]
    #[case("新建")]
    #[case("新建：")]
    #[case("ticket:")]
    fn a_new_ticket_needs_a_title(#[case] input: &str) {
        assert_eq!(parse_command(input), Command::Incomplete { command: CommandKind::New, hint: Hint::TitleRequired });
    }

    #[rstest]
    #[case("status", None)]
    #[case("Status #12", Some(12))]
    #[case("/status#12", Some(12))]
    #[case("状态", None)]
    #[case("状态 #12", Some(12))]
    #[case("状态：＃１２", Some(12))]
    #[case("status please", None)]
    #[case("status #12 please", Some(12))]
    #[case("status #abc", None)]
    fn status(#[case] input: &str, #[case] ticket: Option<i64>) {
        assert_eq!(parse_command(input), Command::Status { ticket });
    }

    #[rstest]
    #[case::bare("escalate", escalate(None, None))]
    #[case::number_only("escalate #12", escalate(Some(12), None))]
    #[case::reason_only(
        "Escalate customer waiting since Monday",
        escalate(None, Some("customer waiting since Monday"))
    )]
    #[case::both("escalate #12 line stopped", escalate(Some(12), Some("line stopped")))]
    #[case::number_colon("escalate #12: line stopped", escalate(Some(12), Some("line stopped")))]
    #[case::chinese("升级 #12 客户生产线停工", escalate(Some(12), Some("客户生产线停工")))]
    #[case::chinese_glued_number("升级#12", escalate(Some(12), None))]
    #[case::chinese_reason("升级：两天没有回复", escalate(None, Some("两天没有回复")))]
    #[case::reason_lines("escalate #4 stopped\nagain", escalate(Some(4), Some("stopped again")))]
    #[case::bare_number_is_reason("escalate 2 hours without answer", escalate(None, Some("2 hours without answer")))]
    fn escalations(#[case] input: &str, #[case] expected: Command) {
        assert_eq!(parse_command(input), expected);
    }

    #[rstest]
    #[case::lost(
        "emergency orders since 09:00 are lost",
        emergency(None, Some(DataLoss), "orders since 09:00 are lost")
    )]
    #[case::data_loss("emergency #7 data loss on shard 3", emergency(Some(7), Some(DataLoss), "data loss on shard 3"))]
    #[case::corrupt("emergency #7 ledger corrupted", emergency(Some(7), Some(DataCorruption), "ledger corrupted"))]
    #[case::corruption(
        "EMERGENCY Corruption in backups",
        emergency(None, Some(DataCorruption), "Corruption in backups")
    )]
    #[case::down("emergency site is down", emergency(None, Some(ServiceUnavailable), "site is down"))]
    #[case::outage("emergency total outage", emergency(None, Some(ServiceUnavailable), "total outage"))]
    #[case::unavailable("emergency API unavailable", emergency(None, Some(ServiceUnavailable), "API unavailable"))]
    #[case::download_is_not_down("emergency download slow", emergency(None, None, "download slow"))]
    #[case::unknown("emergency something weird", emergency(None, None, "something weird"))]
    #[case::zh_lost("紧急 订单数据丢失", emergency(None, Some(DataLoss), "订单数据丢失"))]
    #[case::zh_lost_short("紧急 #3 丢数据了", emergency(Some(3), Some(DataLoss), "丢数据了"))]
    #[case::zh_corrupt("紧急事件：库存数据错乱", emergency(None, Some(DataCorruption), "库存数据错乱"))]
    #[case::zh_damaged("紧急 数据库文件损坏", emergency(None, Some(DataCorruption), "数据库文件损坏"))]
    #[case::zh_unreachable("紧急 系统无法访问", emergency(None, Some(ServiceUnavailable), "系统无法访问"))]
    #[case::zh_down("紧急：服务器宕机", emergency(None, Some(ServiceUnavailable), "服务器宕机"))]
    #[case::zh_unavailable("/紧急 支付不可用", emergency(None, Some(ServiceUnavailable), "支付不可用"))]
    #[case::worst_wins(
        "emergency site down and orders lost",
        emergency(None, Some(DataLoss), "site down and orders lost")
    )]
    fn emergencies(#[case] input: &str, #[case] expected: Command) {
        assert_eq!(parse_command(input), expected);
    }

    #[rstest]
    #[case("emergency")]
    #[case("emergency #12")]
    #[case("紧急")]
    #[case("紧急事件：")]
    fn an_emergency_says_what_broke(#[case] input: &str) {
        assert_eq!(
            parse_command(input),
            Command::Incomplete { command: CommandKind::Emergency, hint: Hint::WhatBrokeRequired }
        );
    }

    #[rstest]
    #[case("help")]
    #[case("/HELP")]
    #[case("help me")]
    #[case("帮助")]
    #[case("?")]
    #[case("？")]
    #[case("  /help  ")]
    fn help(#[case] input: &str) {
        assert_eq!(parse_command(input), Command::Help);
    }

    #[rstest]
    #[case::empty("")]
    #[case::spaces(" \u{3000} ")]
    #[case::chatter("thanks, that fixed it")]
    #[case::keyword_later("please escalate this")]
    #[case::glued_english("newton's law")]
    #[case::glued_chinese("升级了吗？")]
    #[case::glued_chinese_emergency("紧急吗")]
    #[case::slash_only("/")]
    #[case::other_mention("@_user_2 can you look")]
    fn everything_else_is_not_a_command(#[case] input: &str) {
        assert_eq!(parse_command(input), Command::NotACommand);
    }

    #[test]
    fn a_huge_ticket_number_is_not_a_number() {
        assert_eq!(parse_command("status #99999999999999999999"), Command::Status { ticket: None });
    }

    #[test]
    fn help_lists_every_command_in_each_language() {
        let en = help_text(Locale::En);
        for word in ["new", "status", "escalate", "emergency", "help"] {
            assert!(en.contains(&format!("• {word}")), "{word} missing: {en}");
        }
        let zh = help_text(Locale::Zh);
        for word in ["新建", "状态", "升级", "紧急", "帮助"] {
            assert!(zh.contains(&format!("• {word}")), "{word} missing: {zh}");
        }
        assert!(!zh.contains("escalate"));
    }

    #[test]
    fn every_keyword_in_the_help_parses_as_its_command() {
        for (word, kind) in KEYWORDS {
            let parsed = parse_command(&format!("{word} #1 x"));
            let got = match parsed {
                Command::New { .. } => CommandKind::New,
                Command::Status { .. } => CommandKind::Status,
                Command::Escalate { .. } => CommandKind::Escalate,
                Command::Emergency { .. } => CommandKind::Emergency,
                Command::Help => CommandKind::Help,
                other => panic!("{word}: {other:?}"),
            };
            assert_eq!(got, *kind, "{word}");
        }
    }

    #[test]
    fn hints_speak_both_languages() {
        for hint in [Hint::TitleRequired, Hint::WhatBrokeRequired] {
            assert!(hint.text(Locale::En).is_ascii());
            assert!(!hint.text(Locale::Zh).is_ascii());
        }
    }
}
