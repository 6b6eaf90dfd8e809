//! What every platform adapter shares: settings from the environment, secrets that
//! never print, signature helpers (constant-time), one HTTP client that turns platform
//! answers into [`SendOutcome`]s, and per-chat / per-group / global send limits.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::http::HeaderMap;
use governor::{DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota, RateLimiter};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use super::{AuthError, SendOutcome};
use crate::model::ChatAddress;

/// A platform's settings are incomplete or invalid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SettingsError(pub String);

/// Where settings come from: the process environment, or a map in tests.
///
/// Every secret `NAME` may instead be given as `NAME_FILE`, the path of a file holding
/// it (Docker/Kubernetes secrets); surrounding whitespace is trimmed.
pub struct Env {
    lookup: Lookup,
}

type Lookup = Box<dyn Fn(&str) -> Option<String> + Send + Sync>;

impl Env {
    /// Reads the process environment.
    pub fn process() -> Env {
        Env {
            lookup: Box::new(|name| std::env::var(name).ok()),
        }
    }

    /// Reads a fixed map (tests).
    pub fn from_map<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Env {
        let map: HashMap<String, String> = pairs
            .into_iter()
            .map(|(key, value)| (key.into(), value.into()))
            .collect();
        Env {
            lookup: Box::new(move |name| map.get(name).cloned()),
        }
    }

    /// Returns a plain setting; empty values count as unset.
    pub fn get(&self, name: &str) -> Option<String> {
        (self.lookup)(name).filter(|value| !value.trim().is_empty())
    }

    /// Returns a secret from `NAME` or from the file named by `NAME_FILE`.
    pub fn secret(&self, name: &str) -> Result<Option<Secret>, SettingsError> {
        if let Some(value) = self.get(name) {
            return Ok(Some(Secret::new(value.trim())));
        }
        let file_var = format!("{name}_FILE");
        let Some(path) = self.get(&file_var) else {
            return Ok(None);
        };
        let text = std::fs::read_to_string(&path)
            .map_err(|error| SettingsError(format!("{file_var}: cannot read {path}: {error}")))?;
        let text = text.trim();
        if text.is_empty() {
            return Err(SettingsError(format!("{file_var}: {path} is empty")));
        }
        Ok(Some(Secret::new(text)))
    }

    /// Returns the send limits of `platform` (upper case, e.g. `TELEGRAM`) from
    /// `FRASER_{platform}_SEND_LIMITS`, or `default` when it is unset. The value is `off`
    /// (no limits: for a local fake platform in load tests), `default`, or a comma list of
    /// `per_chat=N` (per second), `per_group_minute=N` and `global=N` (per second);
    /// keys left out have no limit.
    pub fn send_limits(
        &self,
        platform: &str,
        default: SendLimits,
    ) -> Result<SendLimits, SettingsError> {
        let name = format!("FRASER_{platform}_SEND_LIMITS");
        let Some(value) = self.get(&name) else {
            return Ok(default);
        };
        parse_send_limits(value.trim(), default)
            .map_err(|problem| SettingsError(format!("{name}: {problem}")))
    }

    /// Returns the API base URL from `name`, or `default`, without a trailing slash.
    pub fn api_url(&self, name: &str, default: &str) -> Result<String, SettingsError> {
        let url = self.get(name).unwrap_or_else(|| default.to_string());
        let url = url.trim().trim_end_matches('/').to_string();
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(SettingsError(format!(
                "{name} must be an http(s) URL, got {url:?}"
            )));
        }
        Ok(url)
    }
}

fn parse_send_limits(value: &str, default: SendLimits) -> Result<SendLimits, String> {
    match value {
        "off" | "none" => return Ok(SendLimits::default()),
        "default" => return Ok(default),
        _ => {}
    }
    let mut limits = SendLimits::default();
    for item in value
        .split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
    {
        let (key, number) = item
            .split_once('=')
            .ok_or_else(|| format!("expected key=N, got {item:?}"))?;
        let number: u32 = number
            .trim()
            .parse()
            .ok()
            .filter(|number| *number > 0)
            .ok_or_else(|| format!("{key} needs a positive whole number, got {number:?}"))?;
        match key.trim() {
            "per_chat" => limits.per_chat = Some(number),
            "per_group_minute" => limits.per_group_minute = Some(number),
            "global" => limits.global = Some(number),
            other => {
                return Err(format!(
                    "unknown key {other:?} (expected per_chat, per_group_minute, global, or \
                     the word off or default)"
                ));
            }
        }
    }
    Ok(limits)
}

/// Requires that either all of a platform's secrets are set or none: returns `Ok(None)`
/// when none is (the platform is disabled), the values when all are, and an error
/// naming the missing ones otherwise.
pub fn all_or_none<const N: usize>(
    env: &Env,
    platform: &str,
    names: [&str; N],
) -> Result<Option<[Secret; N]>, SettingsError> {
    let mut values = Vec::with_capacity(N);
    let mut missing = Vec::new();
    for name in names {
        match env.secret(name)? {
            Some(value) => values.push(value),
            None => missing.push(name),
        }
    }
    if missing.len() == N {
        return Ok(None);
    }
    if !missing.is_empty() {
        return Err(SettingsError(format!(
            "{platform} is half configured: set {} too (or unset {})",
            missing.join(", "),
            names
                .iter()
                .filter(|name| !missing.contains(name))
                .copied()
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    Ok(Some(values.try_into().unwrap_or_else(|_| unreachable!())))
}

/// A secret value: its `Debug` and `Display` print `[redacted]`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a value.
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// Returns the value (for signing or an Authorization header; never log it).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

impl std::fmt::Display for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Returns a header as text, or an [`AuthError`] naming it when missing or not text.
pub fn required_header<'a>(headers: &'a HeaderMap, name: &str) -> Result<&'a str, AuthError> {
    let value = headers
        .get(name)
        .ok_or_else(|| AuthError(format!("missing {name} header")))?;
    value
        .to_str()
        .map_err(|_| AuthError(format!("{name} header is not text")))
}

/// HMAC-SHA256 of the concatenation of `parts` under `key`.
pub fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

/// Checks, in constant time, that `expected` is the HMAC-SHA256 of `parts` under `key`.
pub fn verify_hmac_sha256(key: &[u8], parts: &[&[u8]], expected: &[u8]) -> bool {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    for part in parts {
        mac.update(part);
    }
    mac.verify_slice(expected).is_ok()
}

/// Compares two byte strings in constant time (for the length of the longer one).
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

/// Decodes lower- or upper-case hex; `None` when it is not hex.
pub fn decode_hex(text: &str) -> Option<Vec<u8>> {
    let bytes = text.as_bytes();
    if !bytes.len().is_multiple_of(2) {
        return None;
    }
    let nibble = |byte: u8| -> Option<u8> {
        match byte {
            b'0'..=b'9' => Some(byte - b'0'),
            b'a'..=b'f' => Some(byte - b'a' + 10),
            b'A'..=b'F' => Some(byte - b'A' + 10),
            _ => None,
        }
    };
    bytes
        .chunks_exact(2)
        .map(|pair| Some(nibble(pair[0])? << 4 | nibble(pair[1])?))
        .collect()
}

/// Encodes lower-case hex.
pub fn encode_hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        let _ = write!(out, "{byte:02x}");
    }
    out
}

/// The answer of a platform API call.
#[derive(Debug, Clone)]
pub struct ApiResponse {
    /// HTTP status.
    pub status: u16,
    /// The `Retry-After` header, in seconds or as an HTTP date already passed as 1 s.
    pub retry_after: Option<Duration>,
    /// The body.
    pub body: Vec<u8>,
}

impl ApiResponse {
    /// The body as JSON, if it is.
    pub fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.body).ok()
    }

    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The usual reading of an answer: 2xx sent; 429 retry after `Retry-After`
    /// (1 s when absent); 408, 409 and 5xx retryable failures; other 4xx permanent.
    pub fn outcome(&self) -> SendOutcome {
        match self.status {
            200..=299 => SendOutcome::Sent,
            429 => SendOutcome::RetryAfter(self.retry_after.unwrap_or(Duration::from_secs(1))),
            408 | 409 | 500..=599 => SendOutcome::Failed {
                permanent: false,
                reason: self.describe(),
            },
            _ => SendOutcome::Failed {
                permanent: true,
                reason: self.describe(),
            },
        }
    }

    /// `HTTP 400: <start of the body>` for logs and the outbox row.
    pub fn describe(&self) -> String {
        let body = String::from_utf8_lossy(&self.body);
        let mut text: String = body.chars().take(200).collect();
        if body.chars().count() > 200 {
            text.push('…');
        }
        format!("HTTP {}: {}", self.status, text.trim())
    }
}

/// One HTTP client per platform: base URL, timeout, JSON calls.
///
/// Transport errors are reported without the URL (Telegram puts the token in it).
#[derive(Debug, Clone)]
pub struct ApiClient {
    http: reqwest::Client,
    base: String,
}

/// How long one API call may take.
pub const API_TIMEOUT: Duration = Duration::from_secs(10);

impl ApiClient {
    /// Creates a client for `base` (no trailing slash).
    pub fn new(base: impl Into<String>) -> ApiClient {
        let http = reqwest::Client::builder()
            .timeout(API_TIMEOUT)
            .connect_timeout(Duration::from_secs(5))
            .user_agent(concat!("fraser/", env!("CARGO_PKG_VERSION")))
            .build()
            .unwrap_or_else(|_| reqwest::Client::new());
        ApiClient {
            http,
            base: base.into(),
        }
    }

    /// The base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// Returns a request builder for `method` on `base + path`.
    pub fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http.request(method, format!("{}{}", self.base, path))
    }

    /// POSTs `body` as JSON to `base + path` with extra `headers`.
    pub async fn post_json(
        &self,
        path: &str,
        headers: &[(&str, &str)],
        body: &serde_json::Value,
    ) -> Result<ApiResponse, String> {
        let mut request = self.request(reqwest::Method::POST, path).json(body);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        self.send(request).await
    }

    /// Sends a prepared request and reads the whole answer.
    pub async fn send(&self, request: reqwest::RequestBuilder) -> Result<ApiResponse, String> {
        let response = request
            .send()
            .await
            .map_err(|error| transport_error(&error))?;
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|value| value.to_str().ok())
            .map(|value| {
                value
                    .trim()
                    .parse::<f64>()
                    .ok()
                    .filter(|seconds| seconds.is_finite() && *seconds >= 0.0)
                    .map_or(Duration::from_secs(1), |seconds| {
                        Duration::from_secs_f64(seconds.min(3600.0))
                    })
            });
        let body = response
            .bytes()
            .await
            .map_err(|error| transport_error(&error))?
            .to_vec();
        Ok(ApiResponse {
            status,
            retry_after,
            body,
        })
    }
}

fn transport_error(error: &reqwest::Error) -> String {
    let kind = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "cannot connect"
    } else {
        "transport error"
    };
    // `without_url`: the URL may hold a token.
    let detail = error_chain(&error_without_url(error));
    format!("{kind}: {detail}")
}

fn error_without_url(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    if let Some(url) = error.url() {
        text = text.replace(url.as_str(), "<url>");
    }
    text
}

fn error_chain(text: &str) -> String {
    text.chars().take(300).collect()
}

/// Maps a transport failure to a retryable [`SendOutcome`].
pub fn transport_failure(reason: String) -> SendOutcome {
    SendOutcome::Failed {
        permanent: false,
        reason,
    }
}

/// A platform's documented send limits: at most `per_chat` messages per second to one
/// chat, `per_group_minute` per minute to one group, `global` per second overall.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SendLimits {
    /// Messages per second to one chat.
    pub per_chat: Option<u32>,
    /// Messages per minute to one group chat.
    pub per_group_minute: Option<u32>,
    /// Messages per second overall.
    pub global: Option<u32>,
}

/// Enforces [`SendLimits`] in this process: [`check`](Limiter::check) says how long
/// to wait instead of sending, which the sender turns into a later retry (the reply
/// keeps its place in the chat's order).
///
/// With several servers each enforces the limits for its own sends; divide the
/// limits by the number of servers when that matters.
pub struct Limiter {
    chat: Option<DefaultKeyedRateLimiter<String>>,
    group: Option<DefaultKeyedRateLimiter<String>>,
    global: Option<DefaultDirectRateLimiter>,
    checks: AtomicU64,
}

impl std::fmt::Debug for Limiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Limiter").finish_non_exhaustive()
    }
}

impl Limiter {
    /// Creates a limiter for `limits`.
    pub fn new(limits: SendLimits) -> Limiter {
        let per_second = |n: u32| NonZeroU32::new(n).map(Quota::per_second);
        Limiter {
            chat: limits.per_chat.and_then(per_second).map(RateLimiter::keyed),
            group: limits
                .per_group_minute
                .and_then(NonZeroU32::new)
                .map(|n| RateLimiter::keyed(Quota::per_minute(n))),
            global: limits.global.and_then(per_second).map(RateLimiter::direct),
            checks: AtomicU64::new(0),
        }
    }

    /// Takes one send slot for `chat`, or returns how long to wait for one.
    pub fn check(&self, chat: &ChatAddress) -> Result<(), Duration> {
        use governor::clock::{Clock, DefaultClock};
        let clock = DefaultClock::default();
        if self.checks.fetch_add(1, Ordering::Relaxed) % 4096 == 4095 {
            if let Some(limiter) = &self.chat {
                limiter.retain_recent();
            }
            if let Some(limiter) = &self.group {
                limiter.retain_recent();
            }
        }
        let key = &chat.chat_id;
        if let Some(limiter) = &self.chat {
            limiter
                .check_key(key)
                .map_err(|wait| wait.wait_time_from(clock.now()))?;
        }
        if chat.is_group
            && let Some(limiter) = &self.group
        {
            limiter
                .check_key(key)
                .map_err(|wait| wait.wait_time_from(clock.now()))?;
        }
        if let Some(limiter) = &self.global {
            limiter
                .check()
                .map_err(|wait| wait.wait_time_from(clock.now()))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chat(id: &str, is_group: bool) -> ChatAddress {
        ChatAddress {
            platform: "p".into(),
            chat_id: id.into(),
            is_group,
            reply_context: serde_json::Value::Null,
        }
    }

    #[test]
    fn hmac_matches_rfc4231_case_2() {
        let mac = hmac_sha256(b"Jefe", &[b"what do ya want ", b"for nothing?"]);
        assert_eq!(
            encode_hex(&mac),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert!(verify_hmac_sha256(
            b"Jefe",
            &[b"what do ya want for nothing?"],
            &mac
        ));
        assert!(!verify_hmac_sha256(
            b"Jeff",
            &[b"what do ya want for nothing?"],
            &mac
        ));
        assert!(!verify_hmac_sha256(
            b"Jefe",
            &[b"what do ya want for nothing?"],
            &mac[..31]
        ));
    }

    #[test]
    fn hex_round_trips_and_rejects_garbage() {
        assert_eq!(decode_hex("00ff10Ab"), Some(vec![0, 255, 16, 171]));
        assert_eq!(encode_hex(&[0, 255, 16, 171]), "00ff10ab");
        assert_eq!(decode_hex("abc"), None);
        assert_eq!(decode_hex("zz"), None);
    }

    #[test]
    fn secrets_do_not_print() {
        let secret = Secret::new("hunter2");
        assert_eq!(format!("{secret:?} {secret}"), "[redacted] [redacted]");
        assert_eq!(secret.expose(), "hunter2");
    }

    #[test]
    fn all_or_none_names_what_is_missing() {
        let env = Env::from_map([("A", "1")]);
        assert_eq!(all_or_none(&env, "x", ["B", "C"]), Ok(None));
        let error = all_or_none(&env, "x", ["A", "B"]).unwrap_err();
        assert!(error.0.contains("set B"), "{error}");
        let both = Env::from_map([("A", "1"), ("B", "2")]);
        let [a, b] = all_or_none(&both, "x", ["A", "B"]).unwrap().unwrap();
        assert_eq!((a.expose(), b.expose()), ("1", "2"));
    }

    #[test]
    fn secrets_can_come_from_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        std::fs::write(&path, "  s3cret\n").unwrap();
        let env = Env::from_map([("T_FILE", path.to_str().unwrap())]);
        assert_eq!(env.secret("T").unwrap().unwrap().expose(), "s3cret");
        let missing = Env::from_map([("T_FILE", "/nonexistent/token")]);
        assert!(missing.secret("T").is_err());
    }

    #[test]
    fn send_limits_can_be_set_or_turned_off() {
        let default = SendLimits {
            per_chat: Some(1),
            per_group_minute: Some(20),
            global: Some(30),
        };
        let env = Env::from_map([
            ("FRASER_A_SEND_LIMITS", "off"),
            ("FRASER_B_SEND_LIMITS", "global=100, per_chat=2"),
            ("FRASER_C_SEND_LIMITS", "global=fast"),
            ("FRASER_D_SEND_LIMITS", "burst=3"),
        ]);
        assert_eq!(env.send_limits("A", default), Ok(SendLimits::default()));
        assert_eq!(
            env.send_limits("B", default),
            Ok(SendLimits {
                per_chat: Some(2),
                per_group_minute: None,
                global: Some(100),
            })
        );
        assert!(
            env.send_limits("C", default)
                .unwrap_err()
                .0
                .contains("FRASER_C_SEND_LIMITS")
        );
        assert!(
            env.send_limits("D", default)
                .unwrap_err()
                .0
                .contains("unknown key")
        );
        assert_eq!(env.send_limits("UNSET", default), Ok(default));
    }

    #[test]
    fn api_urls_are_checked_and_trimmed() {
        let env = Env::from_map([("U", "http://127.0.0.1:9/"), ("BAD", "ftp://x")]);
        assert_eq!(env.api_url("U", "https://x").unwrap(), "http://127.0.0.1:9");
        assert_eq!(env.api_url("NONE", "https://x/").unwrap(), "https://x");
        assert!(env.api_url("BAD", "https://x").is_err());
    }

    #[test]
    fn outcomes_follow_the_status() {
        let response = |status, retry_after| ApiResponse {
            status,
            retry_after,
            body: b"{}".to_vec(),
        };
        assert_eq!(response(200, None).outcome(), SendOutcome::Sent);
        assert_eq!(
            response(429, Some(Duration::from_secs(7))).outcome(),
            SendOutcome::RetryAfter(Duration::from_secs(7))
        );
        assert!(matches!(
            response(503, None).outcome(),
            SendOutcome::Failed {
                permanent: false,
                ..
            }
        ));
        assert!(matches!(
            response(403, None).outcome(),
            SendOutcome::Failed {
                permanent: true,
                ..
            }
        ));
    }

    #[test]
    fn limiter_holds_back_a_busy_chat_but_not_others() {
        let limiter = Limiter::new(SendLimits {
            per_chat: Some(1),
            per_group_minute: Some(20),
            global: Some(30),
        });
        assert!(limiter.check(&chat("a", false)).is_ok());
        let wait = limiter.check(&chat("a", false)).unwrap_err();
        assert!(
            wait > Duration::ZERO && wait <= Duration::from_secs(1),
            "{wait:?}"
        );
        assert!(limiter.check(&chat("b", false)).is_ok());
    }

    #[test]
    fn limiter_caps_groups_per_minute() {
        let limiter = Limiter::new(SendLimits {
            per_chat: None,
            per_group_minute: Some(2),
            global: None,
        });
        let group = chat("g", true);
        assert!(limiter.check(&group).is_ok());
        // The quota refills one message per 30 s; the burst allows 2.
        assert!(limiter.check(&group).is_ok());
        let wait = limiter.check(&group).unwrap_err();
        assert!(wait > Duration::from_secs(20), "{wait:?}");
        // A direct chat with the same limiter is not group-limited.
        assert!(limiter.check(&chat("d", false)).is_ok());
        assert!(limiter.check(&chat("d", false)).is_ok());
        assert!(limiter.check(&chat("d", false)).is_ok());
    }
}
