//! Collecting field-level validation failures, so a client sees every problem
//! with its input at once rather than one per round trip.

use std::fmt;

use crate::DomainError;

/// One problem with one input field. `field` is a JSON-pointer-like path (`title`,
/// `external_refs[0].system`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// The input field, as the client named it.
    pub field: String,
    /// Why it was refused, in words a person can act on.
    pub reason: String,
}

impl FieldError {
    /// Builds a field error.
    pub fn new(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self { field: field.into(), reason: reason.into() }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.reason)
    }
}

/// Accumulates field errors while a command is being checked.
#[derive(Debug, Default)]
pub struct Validation {
    errors: Vec<FieldError>,
}

impl Validation {
    /// Starts an empty collection.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records a failure.
    pub fn fail(&mut self, field: impl Into<String>, reason: impl Into<String>) {
        self.errors.push(FieldError::new(field, reason));
    }

    /// Checks a required single-line text: trimmed, non-empty, at most `max` characters,
    /// no control characters. Returns the trimmed text.
    pub fn required_line(&mut self, field: &str, value: &str, max: usize) -> String {
        let trimmed = value.trim();
        if trimmed.is_empty() {
            self.fail(field, "must not be empty");
        } else {
            self.check_text(field, trimmed, max, false);
        }
        trimmed.to_owned()
    }

    /// Parses an optional choice (a status, a role, a mode …); an unknown value fails with
    /// `reason`. `None` when absent or unknown.
    pub fn choice<T: std::str::FromStr>(&mut self, field: &str, value: Option<&str>, reason: &str) -> Option<T> {
        let parsed = value?.parse::<T>();
        if parsed.is_err() {
            self.fail(field, reason);
        }
        parsed.ok()
    }

    /// Checks an optional single-line text; blank becomes `None`.
    pub fn optional_line(&mut self, field: &str, value: Option<&str>, max: usize) -> Option<String> {
        let trimmed = value.map(str::trim).filter(|v| !v.is_empty())?;
        self.check_text(field, trimmed, max, false);
        Some(trimmed.to_owned())
    }

    /// Checks a multi-line text body (newlines and tabs allowed).
    pub fn body(&mut self, field: &str, value: &str, max: usize) -> String {
        self.check_text(field, value, max, true);
        value.to_owned()
    }

    fn check_text(&mut self, field: &str, value: &str, max: usize, multiline: bool) {
        let len = value.chars().count();
        if len > max {
            self.fail(field, format!("must be at most {max} characters (got {len})"));
        }
        let bad_control = value.chars().any(|c| c.is_control() && !(multiline && matches!(c, '\n' | '\r' | '\t')));
        if bad_control {
            self.fail(field, "must not contain control characters");
        }
    }

    /// Checks an e-mail address loosely: one `@` with text on both sides, no spaces.
    /// Lark is the authority on whether it exists; this only catches typos.
    pub fn email(&mut self, field: &str, value: Option<&str>) -> Option<String> {
        let email = self.optional_line(field, value, 254)?;
        let ok = match email.split_once('@') {
            Some((local, domain)) => {
                !local.is_empty()
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
                    && !domain.contains('@')
            }
            None => false,
        };
        if !ok || email.contains(char::is_whitespace) {
            self.fail(field, "must be an e-mail address like name@example.com");
        }
        Some(email.to_lowercase())
    }

    /// Checks a mobile number in international form (`+` and 6–15 digits, spaces and
    /// dashes ignored), which is what Lark's contact look-up matches on.
    pub fn mobile(&mut self, field: &str, value: Option<&str>) -> Option<String> {
        let raw = self.optional_line(field, value, 32)?;
        let digits: String = raw.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
        let ok = digits
            .strip_prefix('+')
            .is_some_and(|d| (6..=15).contains(&d.len()) && d.chars().all(|c| c.is_ascii_digit()));
        if !ok {
            self.fail(field, "must be an international number like +8613800000000");
        }
        Some(digits)
    }

    /// Whether nothing failed so far.
    pub fn is_ok(&self) -> bool {
        self.errors.is_empty()
    }

    /// Ends validation: `Ok(value)` when nothing failed, else every failure.
    pub fn finish<T>(self, value: T) -> Result<T, DomainError> {
        if self.errors.is_empty() { Ok(value) } else { Err(DomainError::Invalid(self.errors)) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case::plain("a@b.co", true)]
    #[case::upper("Ann@Example.COM", true)]
    #[case::no_at("ab.co", false)]
    #[case::no_domain_dot("a@b", false)]
    #[case::space("a b@c.de", false)]
    #[case::two_ats("a@b@c.de", false)]
    fn emails(#[case] input: &str, #[case] ok: bool) {
        let mut v = Validation::new();
        v.email("email", Some(input));
        assert_eq!(v.is_ok(), ok, "{input}");
    }

    #[rstest]
    #[case::china("+86 138 0000 0000", true)]
    #[case::dashes("+1-415-555-0100", true)]
    #[case::no_plus("13800000000", false)]
    #[case::letters("+86abc", false)]
    #[case::too_short("+123", false)]
    fn mobiles(#[case] input: &str, #[case] ok: bool) {
        let mut v = Validation::new();
        v.mobile("mobile", Some(input));
        assert_eq!(v.is_ok(), ok, "{input}");
    }

    #[test]
    fn every_failure_is_reported_at_once() {
        let mut v = Validation::new();
        v.required_line("title", "  ", 10);
        v.required_line("name", "x\u{7}", 10);
        let Err(DomainError::Invalid(errors)) = v.finish(()) else { panic!("should fail") };
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["title", "name"]);
    }
}
