//! `fraser webhook`: list the configured messenger platforms, register a webhook URL.

use std::process::ExitCode;

use anyhow::{Context, bail};
use server::messenger::common::Env;
use server::messenger::{PLATFORMS, PlatformAdapter};

use crate::args::{WebhookAction, WebhookArgs};

/// Runs `fraser webhook ...` with the settings of the process environment.
pub fn run(args: &WebhookArgs) -> anyhow::Result<ExitCode> {
    let adapters =
        server::messenger::from_env(&Env::process()).context("invalid messenger settings")?;
    match &args.action {
        WebhookAction::List => {
            print!("{}", list(&adapters));
            Ok(ExitCode::SUCCESS)
        }
        WebhookAction::Register { platform, url } => {
            let adapter = find(&adapters, platform)?;
            check_url(url)?;
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .context("failed to start the async runtime")?;
            let done = runtime
                .block_on(adapter.inbound.register_webhook(url))
                .with_context(|| format!("registering the {platform} webhook failed"))?;
            println!("{platform}: {done}");
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// One line per platform: enabled or not, and the webhook path.
pub fn list(adapters: &[PlatformAdapter]) -> String {
    let mut out = String::new();
    for name in PLATFORMS {
        let enabled = adapters.iter().any(|adapter| adapter.platform() == name);
        let state = if enabled { "enabled " } else { "disabled" };
        out.push_str(&format!("{name:<13} {state}  POST /webhooks/{name}\n"));
    }
    out
}

fn find<'a>(
    adapters: &'a [PlatformAdapter],
    platform: &str,
) -> anyhow::Result<&'a PlatformAdapter> {
    if !PLATFORMS.contains(&platform) {
        bail!(
            "unknown platform {platform:?}: expected one of {}",
            PLATFORMS.join(", ")
        );
    }
    adapters
        .iter()
        .find(|adapter| adapter.platform() == platform)
        .with_context(|| {
            format!(
                "{platform} is not configured: set its FRASER_{}_* variables (see the README)",
                platform.to_uppercase()
            )
        })
}

fn check_url(url: &str) -> anyhow::Result<()> {
    let loopback = url.starts_with("http://127.0.0.1") || url.starts_with("http://localhost");
    if !(url.starts_with("https://") || loopback) {
        bail!("the webhook URL must be https:// (platforms refuse plain http), got {url:?}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_shows_every_platform() {
        let text = list(&[]);
        assert_eq!(text.lines().count(), PLATFORMS.len());
        assert!(text.contains("telegram      disabled  POST /webhooks/telegram"));
    }

    #[test]
    fn register_needs_a_known_configured_platform_and_https() {
        let error = find(&[], "icq").unwrap_err().to_string();
        assert!(error.contains("unknown platform"), "{error}");
        let error = find(&[], "telegram").unwrap_err().to_string();
        assert!(error.contains("FRASER_TELEGRAM_"), "{error}");
        assert!(check_url("http://example.org/webhooks/telegram").is_err());
        assert!(check_url("https://example.org/webhooks/telegram").is_ok());
    }
}
