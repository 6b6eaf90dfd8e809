//! The discord adapter.

use super::PlatformAdapter;
use super::common::{Env, SettingsError};

/// Builds the discord adapter when its settings are in `env`.
pub fn from_env(_env: &Env) -> Result<Option<PlatformAdapter>, SettingsError> {
    Ok(None)
}
