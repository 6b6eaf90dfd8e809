//! The messenger adapters against their platforms' real payloads, official schemas and
//! a fake platform API: signature checks, parsing, sending, and the whole loop
//! (signed webhook -> inbox -> game -> outbox -> fake platform) per platform.

mod support;

mod botframework;
mod discord;
mod facebook;
mod line;
mod slack;
mod telegram;
mod viber;
mod whatsapp;

/// The schema helper itself: a body that matches passes, one that does not fails.
#[test]
fn schema_check_accepts_and_rejects() {
    let spec = support::fixture_json("line", "messaging-api.json");
    let check = support::SchemaCheck::new(&spec, "#/components/schemas/PushMessageRequest");
    check.assert_valid(&serde_json::json!({
        "to": "U4af4980629",
        "messages": [{"type": "text", "text": "hello"}]
    }));
    assert!(
        !check.is_valid(&serde_json::json!({"messages": []})),
        "`to` is required"
    );
    assert!(
        !check.is_valid(&serde_json::json!({"to": 5, "messages": []})),
        "`to` is a string"
    );
}
