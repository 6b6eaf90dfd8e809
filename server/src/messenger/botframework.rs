//! Microsoft Bot Framework (Azure Bot Service: Teams, Web Chat and the other channels of
//! an Azure Bot resource).
//!
//! - Inbound: the Bot Connector POSTs an Activity with `Authorization: Bearer <JWT>`. The
//!   token is an RS256 JWT from the Bot Framework's OpenID keys: issuer
//!   `https://api.botframework.com`, audience = the bot's app id, exp/nbf with 5 minutes
//!   leeway, and its `serviceurl` claim equal to the activity's `serviceUrl`. The token is
//!   not bound to the body, so the claim check is what ties the two together.
//! - Keys: OpenID metadata -> `jwks_uri` -> JWK set, kept in a shared cache that a
//!   background task refreshes every 24 h, and at once (at most once a minute) when a
//!   token names a key it does not know. `verify` itself never waits on the network.
//! - Outbound: an app token (client credentials, cached until shortly before it
//!   expires), then `POST {serviceUrl}/v3/conversations/{id}/activities/{replyToId}` with
//!   a plain-text message activity; buttons are `suggestedActions` of type `imBack`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, PoisonError, RwLock, Weak};
use std::time::{Duration, Instant};

use axum::http::HeaderMap;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use tokio::sync::Notify;

use super::common::{
    ApiClient, ApiResponse, Env, Limiter, Secret, SendLimits, SettingsError, all_or_none,
    required_header, transport_failure,
};
use super::{AuthError, Inbound, Messenger, ParseError, PlatformAdapter, SendOutcome};
use crate::model::{ChatAddress, InboundMessage, Reply, Timestamp};
use crate::store::BoxFuture;

/// The platform name (`/webhooks/botframework`).
pub const PLATFORM: &str = "botframework";
/// The bot's Microsoft App ID (the token audience and the client id).
pub const APP_ID_VAR: &str = "FRASER_BOTFRAMEWORK_APP_ID";
/// The bot's client secret (app password).
pub const APP_PASSWORD_VAR: &str = "FRASER_BOTFRAMEWORK_APP_PASSWORD";
/// Where the Bot Framework's OpenID metadata is.
pub const OPENID_URL_VAR: &str = "FRASER_BOTFRAMEWORK_OPENID_URL";
/// Where app tokens are requested.
pub const TOKEN_URL_VAR: &str = "FRASER_BOTFRAMEWORK_TOKEN_URL";
/// The issuer inbound tokens must carry.
pub const ISSUER_VAR: &str = "FRASER_BOTFRAMEWORK_ISSUER";
/// The Bot Framework's OpenID metadata (for tokens from the Bot Connector).
pub const DEFAULT_OPENID_URL: &str =
    "https://login.botframework.com/v1/.well-known/openidconfiguration";
/// The token endpoint of multi-tenant bots.
pub const DEFAULT_TOKEN_URL: &str =
    "https://login.microsoftonline.com/botframework.com/oauth2/v2.0/token";
/// The issuer of Bot Connector tokens.
pub const DEFAULT_ISSUER: &str = "https://api.botframework.com";
/// The scope of the app token that the Bot Connector accepts.
pub const TOKEN_SCOPE: &str = "https://api.botframework.com/.default";
/// The longest reply sent as one message, in characters. Teams rejects activities over
/// about 28 KB; this counts characters, so it holds for mostly-ASCII text.
pub const MAX_LEN: usize = 28_000;
/// Clock skew allowed on `exp` and `nbf` of inbound tokens (the SDKs' 5 minutes).
pub const TOKEN_LEEWAY: Duration = Duration::from_secs(300);
/// Teams' documented limits, as far as [`SendLimits`] can express them: 60 messages per
/// 30 s per conversation (2/s), 1,800 per hour per conversation (30/min, applied to
/// group chats) and about 50 requests per second per app and tenant (applied overall).
pub const DEFAULT_LIMITS: SendLimits = SendLimits {
    per_chat: Some(2),
    per_group_minute: Some(30),
    global: Some(50),
};

/// The adapter's settings.
#[derive(Debug, Clone)]
pub struct BotFrameworkSettings {
    /// The Microsoft App ID.
    pub app_id: Secret,
    /// The app's client secret.
    pub app_password: Secret,
    /// The OpenID metadata URL whose `jwks_uri` lists the signing keys.
    pub openid_url: String,
    /// The OAuth token endpoint (client credentials).
    pub token_url: String,
    /// The `iss` inbound tokens must carry.
    pub issuer: String,
    /// Send limits ([`DEFAULT_LIMITS`]; `SendLimits::default()` switches them off).
    pub limits: SendLimits,
    /// How often the signing keys are fetched again (24 h).
    pub key_refresh: Duration,
    /// The shortest time between two key fetches (1 min), also when tokens name unknown
    /// keys.
    pub key_refresh_min: Duration,
}

impl BotFrameworkSettings {
    /// Settings for `app_id` with the documented defaults.
    pub fn new(app_id: Secret, app_password: Secret) -> BotFrameworkSettings {
        BotFrameworkSettings {
            app_id,
            app_password,
            openid_url: DEFAULT_OPENID_URL.to_string(),
            token_url: DEFAULT_TOKEN_URL.to_string(),
            issuer: DEFAULT_ISSUER.to_string(),
            limits: DEFAULT_LIMITS,
            key_refresh: Duration::from_secs(24 * 3600),
            key_refresh_min: Duration::from_secs(60),
        }
    }
}

/// Reads the settings; `Ok(None)` when neither the app id nor the password is set.
fn settings_from_env(env: &Env) -> Result<Option<BotFrameworkSettings>, SettingsError> {
    let Some([app_id, app_password]) = all_or_none(env, PLATFORM, [APP_ID_VAR, APP_PASSWORD_VAR])?
    else {
        return Ok(None);
    };
    Ok(Some(BotFrameworkSettings {
        openid_url: env.api_url(OPENID_URL_VAR, DEFAULT_OPENID_URL)?,
        token_url: env.api_url(TOKEN_URL_VAR, DEFAULT_TOKEN_URL)?,
        issuer: env.get(ISSUER_VAR).map_or_else(
            || DEFAULT_ISSUER.to_string(),
            |issuer| issuer.trim().to_string(),
        ),
        ..BotFrameworkSettings::new(app_id, app_password)
    }))
}

/// Builds the Bot Framework adapter when `FRASER_BOTFRAMEWORK_APP_ID` and
/// `FRASER_BOTFRAMEWORK_APP_PASSWORD` are set.
pub fn from_env(env: &Env) -> Result<Option<PlatformAdapter>, SettingsError> {
    let Some(mut settings) = settings_from_env(env)? else {
        return Ok(None);
    };
    settings.limits = env.send_limits("BOTFRAMEWORK", settings.limits)?;
    Ok(Some(PlatformAdapter::new(BotFramework::new(settings))))
}

/// The Bot Framework adapter: verifies and parses Activities, sends replies through the
/// Bot Connector.
pub struct BotFramework {
    app_id: String,
    app_password: Secret,
    token_url: String,
    http: ApiClient,
    limiter: Limiter,
    validation: Validation,
    keys: Arc<KeyCache>,
    token: tokio::sync::Mutex<Option<AppToken>>,
}

impl std::fmt::Debug for BotFramework {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BotFramework")
            .field("app_id", &self.app_id)
            .field("token_url", &self.token_url)
            .finish_non_exhaustive()
    }
}

impl BotFramework {
    /// Creates the adapter. Signing keys are fetched in the background from the first
    /// webhook on (the first requests get 401 until they are in, and the platform
    /// retries them).
    pub fn new(settings: BotFrameworkSettings) -> BotFramework {
        let app_id = settings.app_id.expose().to_string();
        let mut validation = Validation::new(Algorithm::RS256);
        validation.leeway = TOKEN_LEEWAY.as_secs();
        validation.validate_nbf = true;
        validation.set_issuer(&[settings.issuer.as_str()]);
        validation.set_audience(&[app_id.as_str()]);
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        // Every URL is absolute: the service URL comes with each activity.
        let http = ApiClient::new("");
        BotFramework {
            app_id,
            app_password: settings.app_password,
            token_url: settings.token_url,
            limiter: Limiter::new(settings.limits),
            validation,
            keys: Arc::new(KeyCache {
                openid_url: settings.openid_url,
                http: http.clone(),
                keys: RwLock::new(None),
                wanted: Arc::new(Notify::new()),
                started: AtomicBool::new(false),
                refresh: settings.key_refresh,
                refresh_min: settings.key_refresh_min,
            }),
            http,
            token: tokio::sync::Mutex::new(None),
        }
    }

    /// Trusts the keys of `jwks` (a JWK set) as if they had been fetched: for tests, or to
    /// start without waiting for the first fetch. The background refresh replaces them.
    /// Returns how many keys were usable.
    pub fn install_keys(&self, jwks: &Value) -> Result<usize, SettingsError> {
        let keys = parse_jwks(jwks).map_err(SettingsError)?;
        let count = keys.len();
        self.keys.install(keys);
        Ok(count)
    }

    /// Returns a valid app token: the cached one unless it is about to expire or is
    /// `stale` (the connector just refused it).
    async fn app_token(&self, stale: Option<&Secret>) -> Result<Secret, SendOutcome> {
        let mut cached = self.token.lock().await;
        if let Some(token) = cached.as_ref()
            && Some(&token.value) != stale
            && Instant::now() < token.refresh_at
        {
            return Ok(token.value.clone());
        }
        *cached = None;
        let form = [
            ("grant_type", "client_credentials"),
            ("client_id", self.app_id.as_str()),
            ("client_secret", self.app_password.expose()),
            ("scope", TOKEN_SCOPE),
        ];
        let request = self
            .http
            .request(reqwest::Method::POST, &self.token_url)
            .form(&form);
        let response = self.http.send(request).await.map_err(transport_failure)?;
        let token = parse_token_response(&response, Instant::now())?;
        let value = token.value.clone();
        *cached = Some(token);
        Ok(value)
    }

    async fn send_reply(&self, chat: &ChatAddress, reply: &Reply) -> SendOutcome {
        if let Err(wait) = self.limiter.check(chat) {
            return SendOutcome::RetryAfter(wait);
        }
        let target = match ReplyTarget::from_context(&chat.reply_context) {
            Ok(target) => target,
            Err(reason) => {
                return SendOutcome::Failed {
                    permanent: true,
                    reason,
                };
            }
        };
        let url = target.url();
        let body = render_activity(&target, reply);
        let mut stale = None;
        loop {
            let token = match self.app_token(stale.as_ref()).await {
                Ok(token) => token,
                Err(outcome) => return outcome,
            };
            let request = self
                .http
                .request(reqwest::Method::POST, &url)
                .bearer_auth(token.expose())
                .json(&body);
            let response = match self.http.send(request).await {
                Ok(response) => response,
                Err(reason) => return transport_failure(reason),
            };
            // A token the connector refuses (revoked, rotated secret): fetch a new one
            // and try once more.
            if response.status == 401 && stale.is_none() {
                tracing::info!(platform = PLATFORM, "connector refused the app token");
                stale = Some(token);
                continue;
            }
            return send_outcome(&response);
        }
    }
}

impl Messenger for BotFramework {
    fn platform(&self) -> &str {
        PLATFORM
    }

    fn max_len(&self) -> usize {
        MAX_LEN
    }

    fn send<'a>(&'a self, chat: &'a ChatAddress, reply: &'a Reply) -> BoxFuture<'a, SendOutcome> {
        Box::pin(self.send_reply(chat, reply))
    }
}

impl Inbound for BotFramework {
    fn platform(&self) -> &str {
        PLATFORM
    }

    fn verify(&self, headers: &HeaderMap, raw_body: &[u8]) -> Result<(), AuthError> {
        self.keys.ensure_refreshing();
        let header = required_header(headers, "authorization")?;
        let token = bearer_token(header)?;
        let jwt_header = jsonwebtoken::decode_header(token)
            .map_err(|_| AuthError("the bearer token is not a JWT".into()))?;
        let kid = jwt_header
            .kid
            .ok_or_else(|| AuthError("the token names no signing key (kid)".into()))?;
        let activity = ActivityOrigin::read(raw_body);
        let claims = {
            let keys = self
                .keys
                .keys
                .read()
                .unwrap_or_else(PoisonError::into_inner);
            let Some(keys) = keys.as_ref() else {
                self.keys.wanted.notify_one();
                return Err(AuthError("the signing keys are not loaded yet".into()));
            };
            let Some(key) = keys.get(&kid) else {
                self.keys.wanted.notify_one();
                return Err(AuthError(format!("unknown signing key {:?}", short(&kid))));
            };
            if !key.endorses(activity.channel_id.as_deref()) {
                return Err(AuthError(format!(
                    "signing key {:?} is not endorsed for channel {:?}",
                    short(&kid),
                    short(activity.channel_id.as_deref().unwrap_or(""))
                )));
            }
            jsonwebtoken::decode::<Claims>(token, &key.key, &self.validation)
                .map_err(|error| AuthError(format!("invalid token: {error}")))?
                .claims
        };
        check_service_url(claims.service_url.as_deref(), &activity)
    }

    fn parse(
        &self,
        _headers: &HeaderMap,
        raw_body: &[u8],
    ) -> Result<Vec<InboundMessage>, ParseError> {
        Ok(parse_activity(raw_body)?.into_iter().collect())
    }
}

// ---------------------------------------------------------------------------------------
// Inbound tokens

/// The claims checked beyond what [`Validation`] does.
#[derive(Debug, Deserialize)]
struct Claims {
    /// The service URL the token was issued for (the SDKs' `serviceurl` claim).
    #[serde(rename = "serviceurl", alias = "serviceUrl", default)]
    service_url: Option<String>,
}

/// What `verify` needs from the body: the activity's service URL and channel.
#[derive(Debug, Default)]
struct ActivityOrigin {
    service_url: Option<String>,
    channel_id: Option<String>,
    /// Whether the body is JSON at all (if not, `parse` answers 400 and stores nothing).
    readable: bool,
}

impl ActivityOrigin {
    fn read(raw_body: &[u8]) -> ActivityOrigin {
        let Ok(activity) = serde_json::from_slice::<Value>(raw_body) else {
            return ActivityOrigin::default();
        };
        let text = |name: &str| {
            activity
                .get(name)
                .and_then(Value::as_str)
                .map(str::to_string)
        };
        ActivityOrigin {
            service_url: text("serviceUrl"),
            channel_id: text("channelId"),
            readable: true,
        }
    }
}

/// The token's `serviceurl` claim, when present, must name the activity's service URL
/// (a trailing slash aside). A body that is not an activity is left to `parse` (400).
fn check_service_url(claim: Option<&str>, activity: &ActivityOrigin) -> Result<(), AuthError> {
    let (Some(claim), true) = (claim, activity.readable) else {
        return Ok(());
    };
    let same = activity
        .service_url
        .as_deref()
        .is_some_and(|url| url.trim_end_matches('/') == claim.trim_end_matches('/'));
    if same {
        Ok(())
    } else {
        Err(AuthError(
            "the activity's serviceUrl is not the token's serviceurl claim".into(),
        ))
    }
}

/// The start of a value the sender chose, for a log line.
fn short(text: &str) -> String {
    text.chars().take(64).collect()
}

fn bearer_token(header: &str) -> Result<&str, AuthError> {
    let header = header.trim();
    let (scheme, token) = header
        .split_once(' ')
        .ok_or_else(|| AuthError("authorization is not a bearer token".into()))?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(AuthError("authorization is not a bearer token".into()));
    }
    Ok(token.trim())
}

/// One trusted signing key.
struct SigningKey {
    key: DecodingKey,
    /// The channels the key is endorsed for, when the JWK set says (Bot Framework keys
    /// carry `endorsements`).
    endorsements: Option<Vec<String>>,
}

impl SigningKey {
    fn endorses(&self, channel_id: Option<&str>) -> bool {
        match (&self.endorsements, channel_id) {
            (None, _) => true,
            (Some(endorsed), Some(channel)) => endorsed.iter().any(|name| name == channel),
            (Some(_), None) => false,
        }
    }
}

/// Reads the RSA keys of a JWK set, by `kid`; keys of other types are skipped.
fn parse_jwks(jwks: &Value) -> Result<HashMap<String, SigningKey>, String> {
    let keys = jwks
        .get("keys")
        .and_then(Value::as_array)
        .ok_or("the JWK set has no keys array")?;
    let mut out = HashMap::new();
    for jwk in keys {
        let text = |name: &str| jwk.get(name).and_then(Value::as_str);
        let (Some("RSA"), Some(kid), Some(n), Some(e)) =
            (text("kty"), text("kid"), text("n"), text("e"))
        else {
            continue;
        };
        if text("use").is_some_and(|usage| usage != "sig") {
            continue;
        }
        let Ok(key) = DecodingKey::from_rsa_components(n, e) else {
            continue;
        };
        let endorsements = jwk
            .get("endorsements")
            .and_then(Value::as_array)
            .map(|list| {
                list.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            });
        out.insert(kid.to_string(), SigningKey { key, endorsements });
    }
    if out.is_empty() {
        return Err("the JWK set has no usable RSA signing key".into());
    }
    Ok(out)
}

/// The trusted keys, shared with the task that refreshes them.
struct KeyCache {
    openid_url: String,
    http: ApiClient,
    /// `None` until the first fetch (or [`BotFramework::install_keys`]).
    keys: RwLock<Option<HashMap<String, SigningKey>>>,
    /// Asks the refresh task for a fetch (a token named an unknown key).
    wanted: Arc<Notify>,
    started: AtomicBool,
    refresh: Duration,
    refresh_min: Duration,
}

impl KeyCache {
    fn install(&self, keys: HashMap<String, SigningKey>) {
        *self.keys.write().unwrap_or_else(PoisonError::into_inner) = Some(keys);
    }

    /// Starts the refresh task on the current tokio runtime, once (not before a
    /// runtime exists: `from_env` runs before it).
    fn ensure_refreshing(self: &Arc<Self>) {
        if self.started.load(Ordering::Acquire) {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        if !self.started.swap(true, Ordering::AcqRel) {
            runtime.spawn(refresh_keys(Arc::downgrade(self)));
        }
    }
}

/// Fetches the keys now, then again every `refresh`, or when asked, never more than once
/// per `refresh_min`; ends when the adapter is dropped.
async fn refresh_keys(cache: Weak<KeyCache>) {
    loop {
        let Some(strong) = cache.upgrade() else {
            return;
        };
        let fetched = match fetch_keys(&strong.http, &strong.openid_url).await {
            Ok(keys) => {
                tracing::info!(
                    platform = PLATFORM,
                    keys = keys.len(),
                    "signing keys loaded"
                );
                strong.install(keys);
                true
            }
            Err(error) => {
                tracing::warn!(platform = PLATFORM, %error, "cannot fetch the signing keys");
                false
            }
        };
        let (wanted, refresh, refresh_min) = (
            Arc::clone(&strong.wanted),
            strong.refresh,
            strong.refresh_min,
        );
        drop(strong);
        tokio::time::sleep(refresh_min).await;
        // After a failure, try again as soon as allowed.
        if fetched {
            tokio::select! {
                () = wanted.notified() => {}
                () = tokio::time::sleep(refresh.saturating_sub(refresh_min)) => {}
            }
        }
    }
}

async fn fetch_keys(
    http: &ApiClient,
    openid_url: &str,
) -> Result<HashMap<String, SigningKey>, String> {
    let metadata = get_json(http, openid_url).await?;
    let jwks_uri = metadata
        .get("jwks_uri")
        .and_then(Value::as_str)
        .ok_or("the OpenID metadata has no jwks_uri")?;
    if !(jwks_uri.starts_with("https://") || jwks_uri.starts_with("http://")) {
        return Err("the OpenID metadata's jwks_uri is not an http(s) URL".into());
    }
    parse_jwks(&get_json(http, jwks_uri).await?)
}

async fn get_json(http: &ApiClient, url: &str) -> Result<Value, String> {
    let response = http.send(http.request(reqwest::Method::GET, url)).await?;
    if !response.is_success() {
        return Err(response.describe());
    }
    response
        .json()
        .ok_or_else(|| format!("{url} did not answer JSON"))
}

// ---------------------------------------------------------------------------------------
// Parsing

/// Turns one Activity into the message it carries, if any: a `message` with text (Teams
/// `<at>` mentions removed) or a button value, or `/start` when a `conversationUpdate`
/// adds the bot. Other activities (typing, reactions, updates, deletes, invokes...) and
/// messages without text give `None`.
pub fn parse_activity(raw_body: &[u8]) -> Result<Option<InboundMessage>, ParseError> {
    let activity: Value = serde_json::from_slice(raw_body)
        .map_err(|error| ParseError(format!("not JSON: {error}")))?;
    if !activity.is_object() {
        return Err(ParseError("an activity is a JSON object".into()));
    }
    let text = match str_at(&activity, "/type") {
        Some("message") => command_text(&activity),
        Some("conversationUpdate") if bot_was_added(&activity) => Some("/start".to_string()),
        Some(_) => None,
        None => return Err(ParseError("the activity has no type".into())),
    };
    let Some(text) = text else {
        return Ok(None);
    };
    let required = |pointer: &str| {
        str_at(&activity, pointer)
            .filter(|value| !value.is_empty())
            .ok_or_else(|| {
                ParseError(format!(
                    "the activity has no {}",
                    pointer.trim_start_matches('/')
                ))
            })
    };
    let activity_id = required("/id")?;
    let conversation_id = required("/conversation/id")?;
    let service_url = required("/serviceUrl")?;
    let sender_id = required("/from/id")?;
    let sender_name = str_at(&activity, "/from/name").unwrap_or(sender_id);
    let conversation_type = str_at(&activity, "/conversation/conversationType");
    let is_group = activity
        .pointer("/conversation/isGroup")
        .and_then(Value::as_bool)
        .unwrap_or(false)
        || matches!(conversation_type, Some("channel" | "groupChat"));
    let greeting = str_at(&activity, "/type") != Some("message");
    let mut context = Map::new();
    context.insert("serviceUrl".into(), service_url.into());
    context.insert("conversationId".into(), conversation_id.into());
    // A greeting is posted to the conversation; a reply answers its message.
    if !greeting {
        context.insert("activityId".into(), activity_id.into());
    }
    if let Some(channel) = str_at(&activity, "/channelId") {
        context.insert("channelId".into(), channel.into());
    }
    if let Some(bot) = account(activity.get("recipient")) {
        context.insert("bot".into(), bot);
    }
    if let Some(user) = account(activity.get("from")) {
        context.insert("user".into(), user);
    }
    Ok(Some(InboundMessage {
        platform: PLATFORM.to_string(),
        chat_id: conversation_id.to_string(),
        sender_id: sender_id.to_string(),
        sender_name: sender_name.to_string(),
        text,
        // Activity ids are only unique within a conversation.
        message_id: format!("{conversation_id}|{activity_id}"),
        is_group,
        reply_context: Value::Object(context),
        received_at: Timestamp(0),
    }))
}

fn str_at<'a>(value: &'a Value, pointer: &str) -> Option<&'a str> {
    value.pointer(pointer).and_then(Value::as_str)
}

/// `{id, name}` of a ChannelAccount, when it has an id.
fn account(value: Option<&Value>) -> Option<Value> {
    let value = value?;
    let id = str_at(value, "/id")?;
    let mut out = Map::new();
    out.insert("id".into(), id.into());
    if let Some(name) = str_at(value, "/name") {
        out.insert("name".into(), name.into());
    }
    Some(Value::Object(out))
}

/// The text of a message: its text without mentions, else a button's value (a string,
/// or an object's `command`, as Adaptive Card submits send).
fn command_text(activity: &Value) -> Option<String> {
    let text = strip_mentions(str_at(activity, "/text").unwrap_or(""));
    if !text.is_empty() {
        return Some(text);
    }
    let value = activity.get("value")?;
    let command = value.as_str().or_else(|| str_at(value, "/command"))?.trim();
    (!command.is_empty()).then(|| command.to_string())
}

/// Removes Teams mentions (`<at>Name</at>`) and collapses the whitespace left.
pub fn strip_mentions(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some((before, after)) = rest.split_once("<at") {
        out.push_str(before);
        if (after.starts_with('>') || after.starts_with(' '))
            && let Some((_, tail)) = after.split_once("</at>")
        {
            out.push(' ');
            rest = tail;
            continue;
        }
        out.push_str("<at");
        rest = after;
    }
    out.push_str(rest);
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Whether the bot (the activity's recipient) is among `membersAdded`.
fn bot_was_added(activity: &Value) -> bool {
    let Some(bot) = str_at(activity, "/recipient/id") else {
        return false;
    };
    activity
        .get("membersAdded")
        .and_then(Value::as_array)
        .is_some_and(|members| {
            members
                .iter()
                .any(|member| str_at(member, "/id") == Some(bot))
        })
}

// ---------------------------------------------------------------------------------------
// Sending

/// Where a reply goes, read back from a message's reply context.
#[derive(Debug, Clone, PartialEq)]
pub struct ReplyTarget {
    /// The checked service URL, without a trailing slash.
    pub service_url: String,
    /// The conversation.
    pub conversation_id: String,
    /// The activity answered (`None`: post to the conversation).
    pub activity_id: Option<String>,
    /// The channel (`msteams`, `webchat`...).
    pub channel_id: Option<String>,
    /// The bot's account in the conversation (`from` of the reply).
    pub bot: Option<Value>,
    /// The user answered (`recipient` of the reply).
    pub user: Option<Value>,
}

impl ReplyTarget {
    /// Reads a reply context written by [`parse_activity`]; refuses service URLs that
    /// are neither https nor http on a loopback address, so that a forged context cannot
    /// make the bot send its token elsewhere.
    pub fn from_context(context: &Value) -> Result<ReplyTarget, String> {
        let text = |name: &str| context.get(name).and_then(Value::as_str);
        let service_url = text("serviceUrl").ok_or("reply context without serviceUrl")?;
        let conversation_id = text("conversationId")
            .filter(|id| !id.is_empty())
            .ok_or("reply context without conversationId")?;
        Ok(ReplyTarget {
            service_url: checked_service_url(service_url)?,
            conversation_id: conversation_id.to_string(),
            activity_id: text("activityId").map(str::to_string),
            channel_id: text("channelId").map(str::to_string),
            bot: context.get("bot").filter(|bot| bot.is_object()).cloned(),
            user: context.get("user").filter(|user| user.is_object()).cloned(),
        })
    }

    /// `{serviceUrl}/v3/conversations/{conversationId}/activities[/{activityId}]`, the ids
    /// percent-encoded.
    pub fn url(&self) -> String {
        let mut url = format!(
            "{}/v3/conversations/{}/activities",
            self.service_url,
            encode_segment(&self.conversation_id)
        );
        if let Some(id) = &self.activity_id {
            url.push('/');
            url.push_str(&encode_segment(id));
        }
        url
    }
}

/// Accepts `https://` URLs, and `http://` ones on loopback hosts (tests); returns the URL
/// without a trailing slash.
pub fn checked_service_url(url: &str) -> Result<String, String> {
    let parsed = reqwest::Url::parse(url).map_err(|_| "serviceUrl is not a URL".to_string())?;
    let host = parsed.host_str().unwrap_or("");
    let loopback = host.eq_ignore_ascii_case("localhost")
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    let allowed = match parsed.scheme() {
        "https" => !host.is_empty(),
        "http" => loopback,
        _ => false,
    };
    if !allowed
        || !parsed.username().is_empty()
        || parsed.password().is_some()
        || parsed.query().is_some()
        || parsed.fragment().is_some()
    {
        return Err(format!(
            "refusing serviceUrl {:?}: only https (or http on loopback) service URLs are used",
            parsed.origin().ascii_serialization()
        ));
    }
    Ok(parsed.as_str().trim_end_matches('/').to_string())
}

/// Percent-encodes everything but RFC 3986 unreserved characters (as the SDKs'
/// `encodeURIComponent`/`EscapeDataString` do with conversation ids like `19:x@thread`).
fn encode_segment(segment: &str) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(segment.len());
    for byte in segment.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
    out
}

/// The message activity of one reply: plain text, and the buttons as `imBack`
/// suggested actions (pressing one posts its command as the user's message).
pub fn render_activity(target: &ReplyTarget, reply: &Reply) -> Value {
    let mut activity = Map::new();
    activity.insert("type".into(), "message".into());
    activity.insert("text".into(), reply.text.clone().into());
    activity.insert("textFormat".into(), "plain".into());
    if let Some(channel) = &target.channel_id {
        activity.insert("channelId".into(), channel.clone().into());
    }
    if let Some(bot) = &target.bot {
        activity.insert("from".into(), bot.clone());
    }
    if let Some(user) = &target.user {
        activity.insert("recipient".into(), user.clone());
    }
    activity.insert(
        "conversation".into(),
        json!({ "id": target.conversation_id }),
    );
    if let Some(id) = &target.activity_id {
        activity.insert("replyToId".into(), id.clone().into());
    }
    if !reply.buttons.is_empty() {
        let actions: Vec<Value> = reply
            .buttons
            .iter()
            .map(|button| json!({"type": "imBack", "title": button.label, "value": button.command}))
            .collect();
        let to: Vec<Value> = target
            .user
            .as_ref()
            .and_then(|user| user.get("id"))
            .cloned()
            .into_iter()
            .collect();
        activity.insert(
            "suggestedActions".into(),
            json!({ "to": to, "actions": actions }),
        );
    }
    Value::Object(activity)
}

/// The connector's answer as a send outcome: 412 is retryable for Teams, the rest as
/// usual (429 waits for `Retry-After`).
fn send_outcome(response: &ApiResponse) -> SendOutcome {
    if response.status == 412 {
        return SendOutcome::Failed {
            permanent: false,
            reason: response.describe(),
        };
    }
    response.outcome()
}

/// An app token and when to fetch the next one.
struct AppToken {
    value: Secret,
    refresh_at: Instant,
}

/// Reads a token endpoint answer; failures keep the endpoint's status (429 waits,
/// 5xx retries, a refused secret is permanent).
fn parse_token_response(response: &ApiResponse, now: Instant) -> Result<AppToken, SendOutcome> {
    let failed = |reason: String| SendOutcome::Failed {
        permanent: false,
        reason: format!("token request: {reason}"),
    };
    if !response.is_success() {
        return Err(match response.outcome() {
            SendOutcome::Failed { permanent, reason } => SendOutcome::Failed {
                permanent,
                reason: format!("token request: {reason}"),
            },
            other => other,
        });
    }
    let body = response
        .json()
        .ok_or_else(|| failed("the answer is not JSON".into()))?;
    let value = str_at(&body, "/access_token")
        .filter(|token| !token.is_empty())
        .ok_or_else(|| failed("the answer has no access_token".into()))?;
    let lifetime = match body.get("expires_in") {
        Some(Value::Number(seconds)) => seconds.as_u64(),
        Some(Value::String(seconds)) => seconds.parse().ok(),
        _ => None,
    }
    .unwrap_or(3600);
    // Renew 5 minutes before expiry (halfway for short-lived tokens).
    let keep = lifetime.saturating_sub(300).max(lifetime / 2);
    Ok(AppToken {
        value: Secret::new(value),
        refresh_at: now + Duration::from_secs(keep),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Button;

    fn fixture(name: &str) -> Vec<u8> {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data/messengers/botframework")
            .join(name);
        std::fs::read(path).unwrap()
    }

    fn activity(value: Value) -> Vec<u8> {
        serde_json::to_vec(&value).unwrap()
    }

    fn group_message(text: &str) -> Value {
        json!({
            "type": "message",
            "id": "1632474074231",
            "channelId": "msteams",
            "serviceUrl": "https://smba.trafficmanager.net/emea/",
            "from": {"id": "29:user", "name": "Ana"},
            "recipient": {"id": "28:bot", "name": "Fraser"},
            "conversation": {
                "id": "19:abc@thread.tacv2;messageid=1632474074231",
                "conversationType": "channel",
                "isGroup": true
            },
            "text": text
        })
    }

    #[test]
    fn parses_the_teams_personal_message() {
        let message = parse_activity(&fixture("activity-teams-personal-message.json"))
            .unwrap()
            .unwrap();
        assert_eq!(message.platform, "botframework");
        assert!(
            message
                .chat_id
                .starts_with("a:17I0kl9EkpE1O9PH5TWrzrLNwnWWcfrU7QZjKR0WSfOpzbfcAg2")
        );
        assert_eq!(message.sender_name, "Megan Bowen");
        assert!(
            message
                .sender_id
                .starts_with("29:1XJKJMvc5GBtc2JwZq0oj8tHZmzrQgFmB39ATiQWA85g")
        );
        assert_eq!(
            message.text,
            "Hello Teams TestBot.Sending bold-italic rich text"
        );
        assert_eq!(
            message.message_id,
            format!("{}|1485983408511", message.chat_id)
        );
        assert!(!message.is_group);
        let target = ReplyTarget::from_context(&message.reply_context).unwrap();
        assert_eq!(target.service_url, "https://smba.trafficmanager.net/amer");
        assert_eq!(target.activity_id.as_deref(), Some("1485983408511"));
        assert_eq!(target.channel_id.as_deref(), Some("msteams"));
        assert_eq!(
            target.bot,
            Some(json!({"id": "28:c9e8c047-2a74-40a2-b28a-b162d5f5327c", "name": "Teams TestBot"}))
        );
    }

    #[test]
    fn group_mentions_are_stripped() {
        let body = activity(group_message("<at>Fraser</at> hint"));
        let message = parse_activity(&body).unwrap().unwrap();
        assert_eq!(message.text, "hint");
        assert!(message.is_group);
        assert_eq!(
            message.chat_id,
            "19:abc@thread.tacv2;messageid=1632474074231"
        );
        assert_eq!(
            strip_mentions("a <at id=\"0\">Bot</at>  b <atom>"),
            "a b <atom>"
        );
        assert_eq!(strip_mentions("<at>Fraser</at>"), "");
        assert_eq!(strip_mentions("x <at>unclosed"), "x <at>unclosed");
        // A message that only mentions the bot carries no command.
        let body = activity(group_message("<at>Fraser</at> "));
        assert_eq!(parse_activity(&body).unwrap(), None);
    }

    #[test]
    fn button_values_are_commands() {
        let mut press = group_message("");
        press["value"] = json!("skip");
        assert_eq!(
            parse_activity(&activity(press)).unwrap().unwrap().text,
            "skip"
        );
        let mut submit = group_message("");
        submit["value"] = json!({"command": "hint"});
        assert_eq!(
            parse_activity(&activity(submit)).unwrap().unwrap().text,
            "hint"
        );
        let mut other = group_message("");
        other["value"] = json!({"rating": 5});
        assert_eq!(parse_activity(&activity(other)).unwrap(), None);
    }

    #[test]
    fn the_bot_added_to_a_group_greets_it() {
        let mut update = group_message("");
        update["type"] = json!("conversationUpdate");
        update["id"] = json!("f:1234");
        update["membersAdded"] = json!([{"id": "28:bot"}]);
        let message = parse_activity(&activity(update.clone())).unwrap().unwrap();
        assert_eq!(message.text, "/start");
        assert_eq!(message.message_id, format!("{}|f:1234", message.chat_id));
        assert!(message.is_group);
        let target = ReplyTarget::from_context(&message.reply_context).unwrap();
        assert_eq!(target.activity_id, None, "a greeting starts a new post");
        assert!(target.url().ends_with("/activities"));
        // Someone else joining is not a turn.
        update["membersAdded"] = json!([{"id": "29:someone"}]);
        assert_eq!(parse_activity(&activity(update)).unwrap(), None);
    }

    #[test]
    fn activities_without_text_are_no_turn() {
        for kind in [
            "typing",
            "messageReaction",
            "messageUpdate",
            "messageDelete",
            "invoke",
        ] {
            let mut other = group_message("hint");
            other["type"] = json!(kind);
            assert_eq!(parse_activity(&activity(other)).unwrap(), None, "{kind}");
        }
        let mut attachment_only = group_message("");
        attachment_only.as_object_mut().unwrap().remove("text");
        assert_eq!(parse_activity(&activity(attachment_only)).unwrap(), None);
    }

    #[test]
    fn malformed_activities_are_errors() {
        assert!(parse_activity(b"{not json").is_err());
        assert!(parse_activity(b"[1]").is_err());
        assert!(parse_activity(b"{}").is_err(), "no type");
        for field in ["id", "serviceUrl", "conversation", "from"] {
            let mut broken = group_message("hint");
            broken.as_object_mut().unwrap().remove(field);
            let error = parse_activity(&activity(broken)).unwrap_err();
            assert!(error.0.contains(field), "{error:?}");
        }
    }

    #[test]
    fn service_urls_must_be_https_or_loopback() {
        assert_eq!(
            checked_service_url("https://smba.trafficmanager.net/amer/").unwrap(),
            "https://smba.trafficmanager.net/amer"
        );
        assert!(checked_service_url("http://127.0.0.1:8080/").is_ok());
        assert!(checked_service_url("http://localhost:1").is_ok());
        assert!(checked_service_url("http://[::1]:1").is_ok());
        for bad in [
            "http://evil.example/",
            "http://10.0.0.1/",
            "ftp://x/",
            "https://user:pw@evil.example/",
            "https://x.example/?a=1",
            "not a url",
        ] {
            assert!(checked_service_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn urls_encode_the_ids() {
        let target = ReplyTarget {
            service_url: "https://slack.botframework.com".into(),
            conversation_id: "19:a b@thread;messageid=1".into(),
            activity_id: Some("1562094708.004900".into()),
            channel_id: None,
            bot: None,
            user: None,
        };
        assert_eq!(
            target.url(),
            "https://slack.botframework.com/v3/conversations/19%3Aa%20b%40thread%3Bmessageid%3D1/activities/1562094708.004900"
        );
    }

    #[test]
    fn replies_are_plain_text_with_imback_buttons() {
        let message = parse_activity(&activity(group_message("hi")))
            .unwrap()
            .unwrap();
        let target = ReplyTarget::from_context(&message.reply_context).unwrap();
        let reply = Reply {
            text: "*not bold* <b>".into(),
            buttons: vec![Button {
                label: "Hint".into(),
                command: "hint".into(),
            }],
        };
        assert_eq!(
            render_activity(&target, &reply),
            json!({
                "type": "message",
                "text": "*not bold* <b>",
                "textFormat": "plain",
                "channelId": "msteams",
                "from": {"id": "28:bot", "name": "Fraser"},
                "recipient": {"id": "29:user", "name": "Ana"},
                "conversation": {"id": "19:abc@thread.tacv2;messageid=1632474074231"},
                "replyToId": "1632474074231",
                "suggestedActions": {
                    "to": ["29:user"],
                    "actions": [{"type": "imBack", "title": "Hint", "value": "hint"}]
                }
            })
        );
        let plain = render_activity(&target, &Reply::text("x"));
        assert!(plain.get("suggestedActions").is_none());
    }

    #[test]
    fn token_answers_are_read_and_kept_until_shortly_before_expiry() {
        let now = Instant::now();
        let answer = |status: u16, body: Value| ApiResponse {
            status,
            retry_after: None,
            body: body.to_string().into_bytes(),
        };
        let token = parse_token_response(
            &answer(
                200,
                json!({"token_type": "Bearer", "expires_in": 3599, "access_token": "t1"}),
            ),
            now,
        )
        .ok()
        .unwrap();
        assert_eq!(token.value.expose(), "t1");
        assert_eq!(token.refresh_at, now + Duration::from_secs(3299));
        let refused = parse_token_response(&answer(401, json!({"error": "invalid_client"})), now);
        assert!(matches!(
            refused,
            Err(SendOutcome::Failed { permanent: true, ref reason }) if reason.starts_with("token request")
        ));
        assert!(matches!(
            parse_token_response(&answer(503, json!({})), now),
            Err(SendOutcome::Failed {
                permanent: false,
                ..
            })
        ));
        assert!(parse_token_response(&answer(200, json!({"expires_in": 10})), now).is_err());
    }

    #[test]
    fn jwks_keys_are_read_by_kid() {
        let jwks: Value = serde_json::from_slice(&fixture("test-keys/jwks.json")).unwrap();
        let keys = parse_jwks(&jwks).unwrap();
        assert!(keys.contains_key("fraser-test-key-1"));
        assert!(
            keys.get("fraser-test-key-1")
                .unwrap()
                .endorses(Some("msteams"))
        );
        let mut endorsed = jwks.clone();
        endorsed["keys"][0]["endorsements"] = json!(["msteams", "webchat"]);
        let keys = parse_jwks(&endorsed).unwrap();
        let key = keys.get("fraser-test-key-1").unwrap();
        assert!(key.endorses(Some("webchat")));
        assert!(!key.endorses(Some("slack")));
        assert!(!key.endorses(None));
        assert!(parse_jwks(&json!({"keys": [{"kty": "EC", "kid": "x"}]})).is_err());
        assert!(parse_jwks(&json!({})).is_err());
    }

    #[test]
    fn bearer_tokens_are_read() {
        assert_eq!(bearer_token("Bearer abc").unwrap(), "abc");
        assert_eq!(bearer_token("bearer  abc ").unwrap(), "abc");
        assert!(bearer_token("Basic abc").is_err());
        assert!(bearer_token("Bearer").is_err());
        assert!(bearer_token("Bearer ").is_err());
    }

    #[test]
    fn service_url_claims_must_match_the_activity() {
        let origin = ActivityOrigin::read(br#"{"serviceUrl": "https://a.example/x/"}"#);
        assert!(check_service_url(Some("https://a.example/x"), &origin).is_ok());
        assert!(check_service_url(None, &origin).is_ok());
        assert!(check_service_url(Some("https://b.example/x"), &origin).is_err());
        let missing = ActivityOrigin::read(br#"{"type": "message"}"#);
        assert!(check_service_url(Some("https://a.example/x"), &missing).is_err());
        // A field of another type does not skip the check.
        let odd = ActivityOrigin::read(br#"{"serviceUrl": "https://b.example/x", "channelId": 1}"#);
        assert!(check_service_url(Some("https://a.example/x"), &odd).is_err());
        // Not JSON: parse answers 400 and stores nothing.
        assert!(check_service_url(Some("https://a"), &ActivityOrigin::read(b"{x")).is_ok());
    }

    #[test]
    fn from_env_is_all_or_none() {
        assert!(
            settings_from_env(&Env::from_map([("OTHER", "1")]))
                .unwrap()
                .is_none()
        );
        assert!(
            from_env(&Env::from_map([("OTHER", "1")]))
                .unwrap()
                .is_none()
        );
        let half = settings_from_env(&Env::from_map([(APP_ID_VAR, "app")])).unwrap_err();
        assert!(half.0.contains(APP_PASSWORD_VAR), "{half}");
        let half = settings_from_env(&Env::from_map([(APP_PASSWORD_VAR, "pw")])).unwrap_err();
        assert!(half.0.contains(APP_ID_VAR), "{half}");
        let settings = settings_from_env(&Env::from_map([
            (APP_ID_VAR, "app"),
            (APP_PASSWORD_VAR, "pw"),
        ]))
        .unwrap()
        .unwrap();
        assert_eq!(settings.app_id.expose(), "app");
        assert_eq!(settings.openid_url, DEFAULT_OPENID_URL);
        assert_eq!(settings.token_url, DEFAULT_TOKEN_URL);
        assert_eq!(settings.issuer, DEFAULT_ISSUER);
        assert_eq!(settings.limits, DEFAULT_LIMITS);
        let custom = settings_from_env(&Env::from_map([
            (APP_ID_VAR, "app"),
            (APP_PASSWORD_VAR, "pw"),
            (OPENID_URL_VAR, "http://127.0.0.1:1/openid/"),
            (TOKEN_URL_VAR, "http://127.0.0.1:1/token"),
            (ISSUER_VAR, "https://issuer.example"),
        ]))
        .unwrap()
        .unwrap();
        assert_eq!(custom.openid_url, "http://127.0.0.1:1/openid");
        assert_eq!(custom.token_url, "http://127.0.0.1:1/token");
        assert_eq!(custom.issuer, "https://issuer.example");
        assert!(format!("{custom:?}").contains("[redacted]"));
        assert!(!format!("{custom:?}").contains("pw"));
        let adapter = from_env(&Env::from_map([
            (APP_ID_VAR, "app"),
            (APP_PASSWORD_VAR, "pw"),
        ]))
        .unwrap()
        .unwrap();
        assert_eq!(adapter.platform(), "botframework");
        assert_eq!(adapter.messenger.max_len(), MAX_LEN);
        let bad_url = Env::from_map([
            (APP_ID_VAR, "app"),
            (APP_PASSWORD_VAR, "pw"),
            (TOKEN_URL_VAR, "ftp://x"),
        ]);
        assert!(from_env(&bad_url).is_err());
    }
}
