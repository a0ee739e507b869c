//! Identifier shapes Lark uses, filled with random hex.

fn hex32() -> String {
    format!("{:032x}", rand::random::<u128>())
}

pub(crate) fn open_id() -> String {
    format!("ou_{}", hex32())
}

pub(crate) fn union_id() -> String {
    format!("on_{}", hex32())
}

pub(crate) fn user_id() -> String {
    format!("u{:08x}", rand::random::<u32>())
}

pub(crate) fn chat_id() -> String {
    format!("oc_{}", hex32())
}

pub(crate) fn message_id() -> String {
    format!("om_{}", hex32())
}

pub(crate) fn thread_id() -> String {
    format!("omt_{:016x}", rand::random::<u64>())
}

pub(crate) fn token() -> String {
    format!("t-g{}{:08x}", hex32(), rand::random::<u32>())
}

/// A web-app login code: Lark's are `[A-Za-z0-9-_]` and may reach 64 characters.
pub(crate) fn login_code() -> String {
    format!("{}-{}", hex32(), hex32())
}

/// A user access token (`u-…`).
pub(crate) fn user_token() -> String {
    format!("u-{}{}", hex32(), hex32())
}

/// A user refresh token (`ur-…`).
pub(crate) fn refresh_token() -> String {
    format!("ur-{}", hex32())
}

pub(crate) fn link_token() -> String {
    format!("{:08x}-{:04x}-{}", rand::random::<u32>(), rand::random::<u16>(), hex32())
}

/// Lark log ids are 34-character strings starting with the time; tests only need them unique.
pub(crate) fn log_id() -> String {
    format!("{}{:018x}", chrono::Utc::now().format("%Y%m%d%H%M%S"), rand::random::<u128>() >> 56)
}

/// Event ids are 32 hex digits (`header.event_id`).
pub(crate) fn event_id() -> String {
    hex32()
}

/// The card-update credential of a callback (`event.token`).
pub(crate) fn card_token() -> String {
    format!("c-{}{:08x}", hex32(), rand::random::<u32>())
}

/// Opaque long-connection values (ticket, device id, access key, frame message and trace ids).
pub(crate) fn opaque() -> String {
    format!("{:016x}", rand::random::<u64>())
}
