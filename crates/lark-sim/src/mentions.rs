//! `<at user_id="…">Name</at>` in message text: Lark stores each as an `@_user_N` key plus a
//! mention entry, and `<at user_id="all"></at>` as `@_all` (spec §6.6, §10.3).

/// One mentioned person, numbered in order of appearance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Mention {
    /// `@_user_N`.
    pub(crate) key: String,
    /// The id written in the tag (an open_id, or a user_id for messages the API sent).
    pub(crate) id: String,
    /// The text between the tags.
    pub(crate) name: String,
}

/// The text with tags replaced by keys, and the people mentioned (`@_all` gets no entry and no
/// number). A tag without an id stays as it was; an unclosed one ends the scan.
pub(crate) fn extract(text: &str) -> (String, Vec<Mention>) {
    let mut out = String::with_capacity(text.len());
    let mut mentions = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("<at ") {
        let Some(len) = rest[start..].find("</at>") else { break };
        let tag = &rest[start + 4..start + len];
        out.push_str(&rest[..start]);
        let (attrs, name) = tag.split_once('>').unwrap_or((tag, ""));
        match attr(attrs, "user_id").or_else(|| attr(attrs, "id")) {
            Some("all") => out.push_str("@_all"),
            Some(id) => {
                let key = format!("@_user_{}", mentions.len() + 1);
                out.push_str(&key);
                mentions.push(Mention { key, id: id.to_owned(), name: name.to_owned() });
            }
            None => out.push_str(&rest[start..start + len + 5]),
        }
        rest = &rest[start + len + 5..];
    }
    out.push_str(rest);
    (out, mentions)
}

fn attr<'t>(attrs: &'t str, name: &str) -> Option<&'t str> {
    let start = attrs.find(&format!("{name}=\""))? + name.len() + 2;
    let len = attrs[start..].find('"')?;
    Some(&attrs[start..start + len])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_become_numbered_keys() {
        let (text, mentions) =
            extract(r#"<at user_id="ou_a">Al</at> and <at user_id="all"></at> and <at id="ou_b">B</at>"#);
        assert_eq!(text, "@_user_1 and @_all and @_user_2");
        assert_eq!(
            mentions.iter().map(|m| (m.key.as_str(), m.id.as_str(), m.name.as_str())).collect::<Vec<_>>(),
            [("@_user_1", "ou_a", "Al"), ("@_user_2", "ou_b", "B")]
        );
        assert_eq!(extract("<at x>y</at> <at user_id=\"ou\">open").0, "<at x>y</at> <at user_id=\"ou\">open");
    }
}
