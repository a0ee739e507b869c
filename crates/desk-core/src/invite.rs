//! Invite links to a group: valid for exactly 24 hours from creation, revocable, and
//! optionally limited in uses. Whether a link may still be used is a pure function of
//! what is stored about it and of `now`.

use chrono::{DateTime, TimeDelta, Utc};

use crate::DomainError;

/// How long an invite link lives: exactly 24 hours from its creation.
pub const INVITE_TTL: TimeDelta = TimeDelta::hours(24);

/// The most uses a link may be limited to (a larger group wants a main-group invite, not
/// a link passed around).
pub const MAX_INVITE_USES: u32 = 1_000;

/// When a link created at `created_at` stops working.
pub fn invite_expires_at(created_at: DateTime<Utc>) -> DateTime<Utc> {
    created_at + INVITE_TTL
}

/// Checks a requested use limit: `None` (unlimited) or 1..=[`MAX_INVITE_USES`].
pub fn check_max_uses(max_uses: Option<i64>) -> Result<Option<u32>, DomainError> {
    match max_uses {
        None => Ok(None),
        Some(n) if (1..=i64::from(MAX_INVITE_USES)).contains(&n) => Ok(u32::try_from(n).ok()),
        Some(_) => Err(DomainError::invalid("max_uses", format!("must be between 1 and {MAX_INVITE_USES}"))),
    }
}

/// What is stored about a link, as far as its validity goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InviteTerms {
    /// The end of its 24 hours.
    pub expires_at: DateTime<Utc>,
    /// When it was revoked, if it was.
    pub revoked_at: Option<DateTime<Utc>>,
    /// The use limit, if any.
    pub max_uses: Option<u32>,
    /// Uses so far.
    pub uses: u32,
}

/// Whether a link can be used now, and if not, why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InviteState {
    /// It can be used.
    Live,
    /// Revoked (by staff, or because its ticket closed). Checked first: a revoked link
    /// says so even after it would have expired.
    Revoked,
    /// Its 24 hours are over.
    Expired,
    /// Every allowed use is taken.
    UsedUp,
}

impl InviteState {
    /// Stable name for the API.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Live => "live",
            Self::Revoked => "revoked",
            Self::Expired => "expired",
            Self::UsedUp => "used_up",
        }
    }
}

/// The state of a link at `now`. A link is live strictly before its expiry instant:
/// at 23:59:59.999 it works, at 24:00:00 it does not. The store's conditional update
/// counts a use under exactly these conditions, so this and the database agree.
pub fn invite_state(terms: &InviteTerms, now: DateTime<Utc>) -> InviteState {
    if terms.revoked_at.is_some() {
        InviteState::Revoked
    } else if now >= terms.expires_at {
        InviteState::Expired
    } else if terms.max_uses.is_some_and(|max| terms.uses >= max) {
        InviteState::UsedUp
    } else {
        InviteState::Live
    }
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;

    fn t0() -> DateTime<Utc> {
        "2026-11-21T09:00:00Z".parse().unwrap()
    }

    fn terms() -> InviteTerms {
        InviteTerms { expires_at: invite_expires_at(t0()), revoked_at: None, max_uses: None, uses: 0 }
    }

    #[rstest]
    #[case::at_creation(TimeDelta::zero(), InviteState::Live)]
    #[case::at_23h59m(TimeDelta::minutes(23 * 60 + 59), InviteState::Live)]
    #[case::one_ms_before(TimeDelta::hours(24) - TimeDelta::milliseconds(1), InviteState::Live)]
    #[case::at_24h00m(TimeDelta::hours(24), InviteState::Expired)]
    #[case::a_week_later(TimeDelta::days(7), InviteState::Expired)]
    fn a_link_lives_exactly_24_hours(#[case] after: TimeDelta, #[case] expected: InviteState) {
        assert_eq!(invite_state(&terms(), t0() + after), expected);
    }

    #[test]
    fn revoked_wins_over_expired_and_limits_count() {
        let revoked = InviteTerms { revoked_at: Some(t0()), ..terms() };
        assert_eq!(invite_state(&revoked, t0() + TimeDelta::days(2)), InviteState::Revoked);
        let limited = InviteTerms { max_uses: Some(2), uses: 1, ..terms() };
        assert_eq!(invite_state(&limited, t0()), InviteState::Live);
        let used_up = InviteTerms { uses: 2, ..limited };
        assert_eq!(invite_state(&used_up, t0()), InviteState::UsedUp);
    }

    #[test]
    fn use_limits_are_checked() {
        assert_eq!(check_max_uses(None), Ok(None));
        assert_eq!(check_max_uses(Some(1)), Ok(Some(1)));
        assert!(check_max_uses(Some(0)).is_err());
        assert!(check_max_uses(Some(-3)).is_err());
        assert!(check_max_uses(Some(i64::from(MAX_INVITE_USES) + 1)).is_err());
    }
}
