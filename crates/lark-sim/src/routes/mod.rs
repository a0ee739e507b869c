//! The Lark routes the simulator serves, as one table: the dispatcher counts, faults, authenticates,
//! rate-limits and bills every entry the same way before calling its handler.

mod auth;
pub(crate) mod authen;
pub(crate) mod bot;
mod callback;
mod chats;
mod contacts;
mod members;
mod messages;

use crate::call::Call;
use crate::envelope::Reply;
use crate::state::State;

pub(crate) type Handler = fn(&mut State, &Call<'_>) -> Reply;

pub(crate) struct Route {
    pub(crate) method: &'static str,
    /// Spec-style pattern (`:chat_id`); also the key of `calls.by_route`.
    pub(crate) path: &'static str,
    /// Needs `Authorization: Bearer <tenant token>`.
    pub(crate) needs_token: bool,
    /// Counts against the monthly quota (Lark's "basic" APIs; not auth, contacts or bot info).
    pub(crate) billed: bool,
    pub(crate) handler: Handler,
}

const fn open(method: &'static str, path: &'static str, handler: Handler) -> Route {
    Route { method, path, needs_token: false, billed: false, handler }
}

const fn free(method: &'static str, path: &'static str, handler: Handler) -> Route {
    Route { method, path, needs_token: true, billed: false, handler }
}

const fn billed(method: &'static str, path: &'static str, handler: Handler) -> Route {
    Route { method, path, needs_token: true, billed: true, handler }
}

pub(crate) const ROUTES: &[Route] = &[
    open("POST", "/open-apis/auth/v3/tenant_access_token/internal", auth::tenant_token),
    open("POST", "/open-apis/auth/v3/app_access_token/internal", auth::app_token),
    billed("POST", "/open-apis/im/v1/messages", messages::send),
    billed("POST", "/open-apis/im/v1/messages/:message_id/reply", messages::reply),
    billed("PATCH", "/open-apis/im/v1/messages/:message_id", messages::update_card),
    billed("POST", "/open-apis/im/v1/chats", chats::create),
    billed("GET", "/open-apis/im/v1/chats/:chat_id", chats::get),
    billed("PUT", "/open-apis/im/v1/chats/:chat_id", chats::update),
    billed("DELETE", "/open-apis/im/v1/chats/:chat_id", chats::disband),
    billed("POST", "/open-apis/im/v1/chats/:chat_id/link", chats::share_link),
    billed("POST", "/open-apis/im/v1/chats/:chat_id/members", members::add),
    billed("DELETE", "/open-apis/im/v1/chats/:chat_id/members", members::remove),
    billed("GET", "/open-apis/im/v1/chats/:chat_id/members", members::list),
    billed("GET", "/open-apis/im/v1/chats/:chat_id/members/is_in_chat", members::is_in_chat),
    free("POST", "/open-apis/contact/v3/users/batch_get_id", contacts::batch_get_id),
    free("GET", "/open-apis/contact/v3/users/:user_id", contacts::get_user),
    free("GET", "/open-apis/bot/v3/info", bot::info),
    open("POST", "/callback/ws/endpoint", callback::ws_endpoint),
    // Web-app login: the authorize page (Lark serves it on the `accounts.` host), the
    // code exchange (client credentials in the body) and user_info (a user token).
    open("GET", "/open-apis/authen/v1/authorize", authen::authorize),
    open("POST", "/open-apis/authen/v2/oauth/token", authen::token),
    open("GET", "/open-apis/authen/v1/user_info", authen::user_info),
];

impl Route {
    /// `METHOD /path/:param`, the key tests read in `calls.by_route`.
    pub(crate) fn key(&self) -> String {
        format!("{} {}", self.method, self.path)
    }

    /// The pattern in actix syntax (`{chat_id}`).
    pub(crate) fn actix_path(&self) -> String {
        self.path
            .split('/')
            .map(|seg| seg.strip_prefix(':').map_or_else(|| seg.to_owned(), |name| format!("{{{name}}}")))
            .collect::<Vec<_>>()
            .join("/")
    }
}
