//! Lark's web-app login (lark-spec.md §9.2): the browser brings back a one-time `code`;
//! the app exchanges it for a user access token (v2 token endpoint, no tenant token) and
//! asks who the user is (`authen/v1/user_info`, with the user's token). Neither call is
//! billed: Lark counts authentication among its free APIs (§8.3).

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::json;

use super::{Api, HttpMethod, LarkClient, Payload};
use crate::LarkError;

// The token endpoint answers at the top level, like the tenant-token one.
const OAUTH_TOKEN: Api =
    Api { name: "authen.oauth.token", billed: false, method: HttpMethod::Post, payload: Payload::Whole };
const USER_INFO: Api = Api { name: "authen.user_info", billed: false, method: HttpMethod::Get, payload: Payload::Data };

/// Lark's codes for a login code that cannot be exchanged: not found, expired, already
/// used, or issued to another app (§9.2). The person has to log in again.
pub const LOGIN_CODE_REJECTED: &[i64] = &[20003, 20004, 20065, 20024];
/// The `redirect_uri` of the exchange is not the one the code was issued for.
pub const LOGIN_REDIRECT_MISMATCH: i64 = 20071;
/// The PKCE `code_verifier` does not match the `code_challenge`.
pub const LOGIN_PKCE_FAILED: i64 = 20049;
/// The user may not use the app (it is not available to them in their tenant).
pub const LOGIN_NO_ACCESS: i64 = 20010;

/// The browser's way back from Lark's login page, to exchange.
#[derive(Debug, Clone, Copy)]
pub struct LoginCode<'a> {
    /// The `code` Lark handed to the redirect (valid 5 minutes, single use).
    pub code: &'a str,
    /// The `redirect_uri` of the authorize request, when it had one (the H5 flow inside
    /// the Lark client has none).
    pub redirect_uri: Option<&'a str>,
    /// The PKCE verifier, when the authorize request carried a `code_challenge`.
    pub code_verifier: Option<&'a str>,
}

/// A user access token (`u-…`). Its `Debug` never shows the secrets.
#[derive(Debug, Deserialize)]
pub struct UserAccessToken {
    /// The token, for calls as the user.
    pub access_token: SecretString,
    /// Seconds it lives (7200).
    #[serde(default)]
    pub expires_in: u64,
    /// Only with the `offline_access` scope.
    #[serde(default)]
    pub refresh_token: Option<SecretString>,
    /// `Bearer`.
    #[serde(default)]
    pub token_type: String,
    /// Space-separated scopes granted.
    #[serde(default)]
    pub scope: String,
}

/// Who logged in (`authen/v1/user_info`). `email`, `mobile` and `user_id` are there only
/// with the matching scopes.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
pub struct LoginUser {
    /// Display name.
    #[serde(default)]
    pub name: String,
    /// English name.
    #[serde(default)]
    pub en_name: String,
    /// Per-app id (`ou_…`).
    pub open_id: String,
    /// Per-developer id (`on_…`).
    #[serde(default)]
    pub union_id: Option<String>,
    /// Tenant-wide id, with its scope.
    #[serde(default)]
    pub user_id: Option<String>,
    /// E-mail, with its scope.
    #[serde(default)]
    pub email: Option<String>,
    /// Company e-mail, with its scope.
    #[serde(default)]
    pub enterprise_email: Option<String>,
    /// Mobile, with its scope.
    #[serde(default)]
    pub mobile: Option<String>,
    /// Their Lark tenant.
    #[serde(default)]
    pub tenant_key: Option<String>,
    /// Avatar.
    #[serde(default)]
    pub avatar_url: Option<String>,
}

/// Where the browser goes to log in: Lark's authorize page for `app_id`. Lark serves it
/// from `accounts.` next to `open.` (§9.1); any other base URL (lark-sim) serves it itself.
/// `state` is added by whoever sends the browser there (it must be unguessable).
pub fn authorize_url(base_url: &str, app_id: &str, redirect_uri: &str) -> String {
    let base = base_url.trim_end_matches('/');
    let base = match base.split_once("://open.") {
        Some((scheme, rest)) => format!("{scheme}://accounts.{rest}"),
        None => base.to_owned(),
    };
    let query: String = form_urlencoded_pairs(&[("client_id", app_id), ("redirect_uri", redirect_uri)]);
    format!("{base}/open-apis/authen/v1/authorize?{query}")
}

/// `k=v&…`, percent-encoded (RFC 3986 unreserved characters stay).
fn form_urlencoded_pairs(pairs: &[(&str, &str)]) -> String {
    let encode = |s: &str| {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
                _ => format!("%{b:02X}"),
            })
            .collect::<String>()
    };
    pairs.iter().map(|(k, v)| format!("{}={}", encode(k), encode(v))).collect::<Vec<_>>().join("&")
}

impl LarkClient {
    /// Exchanges a login code for a user access token (`POST /open-apis/authen/v2/oauth/token`).
    /// Refusals come back as [`LarkError::Api`] with Lark's code (see [`LOGIN_CODE_REJECTED`]).
    pub async fn exchange_login_code(&self, login: &LoginCode<'_>) -> Result<UserAccessToken, LarkError> {
        let mut body = json!({
            "grant_type": "authorization_code",
            "client_id": self.app_id,
            "client_secret": self.app_secret.expose_secret(),
            "code": login.code,
        });
        if let Some(uri) = login.redirect_uri {
            body["redirect_uri"] = json!(uri);
        }
        if let Some(verifier) = login.code_verifier {
            body["code_verifier"] = json!(verifier);
        }
        self.wait_for_turn(None).await;
        let answer = self.send(OAUTH_TOKEN, "/open-apis/authen/v2/oauth/token", &[], Some(&body), None).await?;
        OAUTH_TOKEN.payload.decode(answer)
    }

    /// Who holds `user_token` (`GET /open-apis/authen/v1/user_info`).
    pub async fn login_user_info(&self, user_token: &SecretString) -> Result<LoginUser, LarkError> {
        self.wait_for_turn(None).await;
        let answer = self.send(USER_INFO, "/open-apis/authen/v1/user_info", &[], None, Some(user_token)).await?;
        USER_INFO.payload.decode(answer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_authorize_page_is_on_the_accounts_host_of_lark_and_feishu() {
        assert_eq!(
            authorize_url("https://open.larksuite.com", "cli_1", "https://desk.example/invite/callback"),
            "https://accounts.larksuite.com/open-apis/authen/v1/authorize?client_id=cli_1&redirect_uri=https%3A%2F%2Fdesk.example%2Finvite%2Fcallback"
        );
        assert!(
            authorize_url("https://open.feishu.cn/", "cli_1", "x").starts_with("https://accounts.feishu.cn/open-apis/")
        );
        assert!(authorize_url("http://127.0.0.1:9000", "cli_1", "x").starts_with("http://127.0.0.1:9000/open-apis/"));
    }
}
