//! `bot/v3/info`: the bot's own identity, in a top-level `bot` object rather than `data`.

use actix_web::http::StatusCode;
use serde_json::json;

use crate::call::Call;
use crate::envelope::Reply;
use crate::state::State;

/// The bot's display name, also used when people @-mention it.
pub(crate) const BOT_NAME: &str = "Larkdesk (sim)";

pub(crate) fn info(st: &mut State, _call: &Call<'_>) -> Reply {
    Reply::top_level(
        StatusCode::OK,
        json!({
            "code": 0,
            "msg": "ok",
            "bot": {
                "activate_status": 2,
                "app_name": BOT_NAME,
                "avatar_url": "https://sim.invalid/avatar/bot.png",
                "ip_white_list": [],
                "open_id": st.bot_open_id,
            }
        }),
    )
}
